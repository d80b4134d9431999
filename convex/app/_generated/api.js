/**
 * References to the app's functions and to its mounted components (hand-written stand-in for
 * codegen output; see dataModel.d.ts). At run time these are untyped path proxies.
 */
import { anyApi, componentsGeneric } from 'convex/server'

export const api = anyApi
export const internal = anyApi
export const components = componentsGeneric()
