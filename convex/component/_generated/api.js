/**
 * References to the component's own functions (hand-written stand-in for codegen output; see
 * dataModel.d.ts). At run time these are untyped path proxies.
 */
import { anyApi } from 'convex/server'

export const api = anyApi
export const internal = anyApi
