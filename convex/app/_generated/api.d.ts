/**
 * Typed references to the app's functions and to its mounted components (hand-written
 * stand-in for codegen output; see dataModel.d.ts).
 */
import type { ApiFromModules, FilterApi, FunctionReference } from 'convex/server'

import type * as storageLib from '../../component/lib.js'
import type * as taskExecutionsStorage from '../taskExecutionsStorage.js'

type FullApi = ApiFromModules<{ taskExecutionsStorage: typeof taskExecutionsStorage }>

export declare const api: FilterApi<FullApi, FunctionReference<any, 'public'>>
export declare const internal: FilterApi<FullApi, FunctionReference<any, 'internal'>>

/** The component's functions as the app sees them (its public ones only). */
type StorageComponentApi = FilterApi<
  ApiFromModules<{ lib: typeof storageLib }>,
  FunctionReference<any, 'public'>
>

export declare const components: {
  taskExecutionsStorage: StorageComponentApi
}
