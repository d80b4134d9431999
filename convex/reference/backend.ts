/**
 * Our Convex code (`app/` + `component/`) running inside `convex-test`, callable by path.
 *
 * `convex-test` wants a map from module file names to loaders (normally made by Vite's
 * `import.meta.glob`); the maps below are written by hand. Every key set must contain a
 * `_generated` file: convex-test finds the functions root from it.
 *
 * What differs from a deployment: ids are convex-test's own strings (a counter plus the table
 * name, not real Convex ids), transaction limits are not enforced, and calls are serialized
 * (see `SerialQueue`).
 */
import { convexTest } from 'convex-test'
import { makeFunctionReference } from 'convex/server'
import type { Value } from 'convex/values'

import componentSchema from '../component/schema'
import * as publicStorage from '../app/taskExecutionsStorage'
import { AUTH_SECRET_ENV } from '../app/taskExecutionsStorage'
import { setIdTableResolver } from '../definitions/argumentValidation'
import { describeThrown } from './errors'
import { canonicalPath, strippedPath, type FunctionPath } from './functionPath'
import { SerialQueue } from './serialQueue'

/** The name the app mounts the component under (app/convex.config.ts). */
const COMPONENT_NAME = 'taskExecutionsStorage'

const APP_MODULES = {
  './app/_generated/api.js': () => import('../app/_generated/api.js'),
  './app/_generated/server.js': () => import('../app/_generated/server.js'),
  './app/taskExecutionsStorage.ts': () => import('../app/taskExecutionsStorage'),
}

const COMPONENT_MODULES = {
  './component/_generated/api.js': () => import('../component/_generated/api.js'),
  './component/_generated/server.js': () => import('../component/_generated/server.js'),
  './component/lib.ts': () => import('../component/lib'),
}

/** The app's public modules by module path, to tell kinds and unknown paths apart. */
const PUBLIC_MODULES: Record<string, Record<string, unknown>> = {
  taskExecutionsStorage: publicStorage,
}

/** What kind of Convex function a path names. */
export type FunctionKind = 'query' | 'mutation' | 'action'

/** The result of one call: a value, or the detail line of a function error. */
export type CallOutcome = { ok: true; value: Value } | { ok: false; detail: string }

export class ReferenceBackend {
  private readonly queue = new SerialQueue()

  private constructor(private readonly t: ReturnType<typeof convexTest>) {}

  /**
   * A fresh, empty backend whose functions accept `authSecret`. The secret goes into the
   * process environment, where the public functions read it as a deployment would.
   */
  static create(authSecret: string): ReferenceBackend {
    return new ReferenceBackend(referenceConvexTest(authSecret))
  }

  /**
   * Runs the public function at `path` with `args`. With `expected` set, a function of
   * another kind is refused with the backend's wrong-kind message (the `/api/query|mutation|
   * action` routes); without it any kind runs (`/api/run/...`).
   */
  call(path: FunctionPath, args: Value, expected?: FunctionKind): Promise<CallOutcome> {
    return this.queue.run(() => this.callNow(path, args, expected))
  }

  private async callNow(
    path: FunctionPath,
    args: Value,
    expected: FunctionKind | undefined,
  ): Promise<CallOutcome> {
    const actual = publicFunctionKind(path)
    if (actual === null) {
      return { ok: false, detail: `Could not find public function for '${strippedPath(path)}'.` }
    }
    if (expected !== undefined && expected !== actual) {
      return {
        ok: false,
        detail: `Trying to execute ${canonicalPath(path)} as ${title(expected)}, but it is defined as ${title(actual)}.`,
      }
    }
    const reference = makeFunctionReference<FunctionKind>(strippedPath(path))
    try {
      const value = await this.run(actual, reference, args)
      return { ok: true, value: value === undefined ? null : value }
    } catch (error) {
      return { ok: false, detail: describeThrown(error) }
    }
  }

  private async run(kind: FunctionKind, reference: unknown, args: Value): Promise<Value> {
    // convex-test's typed signatures want generated references; ours are built from strings.
    const t = this.t as unknown as Record<FunctionKind, (ref: unknown, args: Value) => Promise<Value>>
    return await t[kind](reference, args)
  }
}

/**
 * A fresh convex-test instance of the app with the component mounted, whose public functions
 * accept `authSecret` (set in the process environment, where they read it as a deployment
 * would). Per-call transaction limits stay off (`transactionLimits` is convex-test's opt-in,
 * off by default; see README "Transaction limits").
 */
export function referenceConvexTest(authSecret: string): ReturnType<typeof convexTest> {
  process.env[AUTH_SECRET_ENV] = authSecret
  setIdTableResolver(convexTestIdTable)
  const t = convexTest({ modules: APP_MODULES })
  t.registerComponent(COMPONENT_NAME, componentSchema, COMPONENT_MODULES)
  return t
}

/** The kind of a public function, or null when no public function has that path. */
function publicFunctionKind(path: FunctionPath): FunctionKind | null {
  const module = Object.hasOwn(PUBLIC_MODULES, path.module) ? PUBLIC_MODULES[path.module] : undefined
  const fn = module !== undefined && Object.hasOwn(module, path.name) ? module[path.name] : undefined
  if (typeof fn !== 'function' && (typeof fn !== 'object' || fn === null)) {
    return null
  }
  const flags = fn as { isPublic?: boolean; isQuery?: boolean; isMutation?: boolean; isAction?: boolean }
  if (flags.isPublic !== true) {
    return null
  }
  return flags.isQuery ? 'query' : flags.isMutation ? 'mutation' : flags.isAction ? 'action' : null
}

/** The component's tables: an id naming any other table is no id here. */
const COMPONENT_TABLES = new Set(Object.keys(componentSchema.tables))

/**
 * The table of a convex-test id (a decimal counter followed by the table name), or null when
 * the string is not an id of one of the component's tables.
 */
function convexTestIdTable(id: string): string | null {
  const match = /^[0-9]+(.+)$/.exec(id)
  return match !== null && COMPONENT_TABLES.has(match[1]!) ? match[1]! : null
}

function title(kind: FunctionKind): string {
  return kind.charAt(0).toUpperCase() + kind.slice(1)
}
