/**
 * Values and calls the suite uses: execution builders, and the 17 public functions called
 * through the official `ConvexHttpClient` with the `{authSecret, args}` envelope.
 *
 * The suite talks to servers only through these string function references, exactly as an
 * outside client would. Of our code it imports only the operation list (definitions/operations.ts:
 * names, kinds, lock keys, busy answers), which test/operations.test.ts checks against the
 * component and the public module.
 */
import { ConvexHttpClient } from 'convex/browser'
import { makeFunctionReference } from 'convex/server'

import {
  OPERATION_NAMES,
  OPERATIONS,
  type FunctionKind,
  type OperationName,
} from '../definitions/operations'

/** A stored execution as the public API returns it (loosely typed: it is what we check). */
export type Doc = Record<string, unknown> & {
  _id: string
  _creationTime: number
  executionId: string
  shard: number
  status: string
  acc: number
  updatedAt: number
  createdAt: number
  startAt: number
}

export type Kind = FunctionKind

/** The kind of every public function, from the one operation list. */
export const FUNCTION_KINDS = Object.fromEntries(
  OPERATION_NAMES.map((name) => [name, OPERATIONS[name].kind]),
) as Record<OperationName, Kind>

/** The public module's name. */
export const MODULE = 'taskExecutionsStorage'

/** Calls public functions with a fixed secret. */
export class Storage {
  readonly client: ConvexHttpClient

  constructor(
    readonly url: string,
    readonly authSecret: string,
  ) {
    this.client = new ConvexHttpClient(url, { logger: false })
  }

  /** Calls `name` as `kind` with a raw envelope (for auth and validation tests). */
  async raw(kind: Kind, name: string, envelope: unknown): Promise<unknown> {
    const reference = makeFunctionReference<Kind>(`${MODULE}:${name}`)
    const client = this.client as unknown as Record<Kind, (ref: unknown, args: unknown) => Promise<unknown>>
    return await client[kind](reference, envelope)
  }

  /** Calls `name` with its own kind and `args` inside a correct envelope. */
  async call<T = unknown>(name: keyof typeof FUNCTION_KINDS, args?: unknown): Promise<T> {
    const envelope = args === undefined ? { authSecret: this.authSecret } : { authSecret: this.authSecret, args }
    return (await this.raw(FUNCTION_KINDS[name]!, name, envelope)) as T
  }

  insertMany(executions: unknown[]): Promise<null> {
    return this.call('insertMany', { executions })
  }

  async getById(executionId: string): Promise<Doc | null> {
    const [doc] = await this.call<Array<Doc | null>>('getManyById', { requests: [{ executionId }] })
    return doc ?? null
  }

  /** The documents of `executionIds`, failing when one is missing. */
  async mustGetAll(executionIds: string[]): Promise<Doc[]> {
    const docs = await this.call<Array<Doc | null>>('getManyById', {
      requests: executionIds.map((executionId) => ({ executionId })),
    })
    return docs.map((doc, i) => {
      if (doc === null) {
        throw new Error(`execution ${executionIds[i]} is missing`)
      }
      return doc
    })
  }

  deleteAll(): Promise<null> {
    return this.call('deleteAll')
  }
}

/** A minimal valid insert value; `fields` override or add fields. */
export function execution(executionId: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    shard: 0,
    taskId: 'task',
    executionId,
    isSleepingTask: false,
    retryOptions: { maxAttempts: 1 },
    sleepMsBeforeRun: 0,
    timeoutMs: 1_000,
    areChildrenSequential: false,
    input: 'input',
    status: 'ready',
    isFinished: false,
    retryAttempts: 0,
    startAt: 0,
    acc: 0,
    ocfpStatus: 'idle',
    closeStatus: 'idle',
    npc: false,
    createdAt: 0,
    updatedAt: 0,
    ...fields,
  }
}

/** Ids unique to one test run, so leftovers from another test never collide. */
export function idFactory(prefix: string): (name: string) => string {
  const run = Math.random().toString(36).slice(2, 8)
  return (name) => `${prefix}-${run}-${name}`
}

/**
 * How long to wait before a selector that picks "stale" rows (`updatedAt < clock`) can see a
 * row written just now. Writes stamp `updatedAt` 50 ms ahead of the server clock, and server
 * and test share this machine's clock, so any wait above 50 ms is enough; the margin only
 * absorbs clock granularity.
 */
export const STALE_AFTER_WRITE_MS = 120

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The text after the `[Request ID: ...] Server Error` line of a function error. */
export function errorDetail(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const match = /^\[Request ID: [0-9a-f]{16}\] Server Error\n([\s\S]*)$/.exec(message)
  if (match === null) {
    throw new Error(`not a Convex function error: ${JSON.stringify(message)}`)
  }
  return match[1]!
}

/** Runs `fn`, which must fail; returns the detail of its function error. */
export async function failure(fn: () => Promise<unknown>): Promise<string> {
  let result: unknown
  try {
    result = await fn()
  } catch (error) {
    return errorDetail(error)
  }
  throw new Error(`expected a function error, got ${JSON.stringify(result)}`)
}
