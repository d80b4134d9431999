/**
 * Data model of the app (hand-written stand-in for Convex codegen output, which needs a
 * deployment for apps with components; `npx convex dev` overwrites this folder with
 * equivalent generated files). The app has no tables of its own: all data lives in the
 * component.
 */
import type { AnyDataModel } from 'convex/server'

export type DataModel = AnyDataModel
