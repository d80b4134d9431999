/**
 * Typed references to the component's own functions (hand-written stand-in for codegen
 * output; see dataModel.d.ts).
 */
import type { ApiFromModules, FilterApi, FunctionReference } from 'convex/server'

import type * as lib from '../lib.js'

type FullApi = ApiFromModules<{ lib: typeof lib }>

export declare const api: FilterApi<FullApi, FunctionReference<any, 'public'>>
export declare const internal: FilterApi<FullApi, FunctionReference<any, 'internal'>>
