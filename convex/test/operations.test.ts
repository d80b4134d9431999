/**
 * The one operation list (definitions/operations.ts) against the code that must follow it, and
 * the lock table's behaviour, both run in process under convex-test:
 *
 * - the component exports exactly the 17 operations plus its three helpers, each of the
 *   listed kind; the public module exports exactly the 17, each public and of the listed kind;
 * - each locked selector takes the lock its key names: with that lock held, it answers the
 *   listed busy value at once, whatever the secret and without touching any row; with the
 *   lock free it runs;
 * - the lock rows: takeover of an expired lock patches the same row, a late release by the
 *   former holder deletes the new holder's row, a second release throws.
 *
 * The clock is the test's: `Date.now` is replaced while a test runs, as convex-test reads it.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'

import { anyApi, makeFunctionReference } from 'convex/server'

import { components } from '../app/_generated/api'
import * as publicModule from '../app/taskExecutionsStorage'
import * as componentModule from '../component/lib'
import type { Id } from '../component/_generated/dataModel'
import { LOCK_EXPIRY_MS } from '../component/lib'
import { referenceConvexTest } from '../reference/backend'
import {
  COMPONENT_HELPERS,
  OPERATION_NAMES,
  OPERATIONS,
  type FunctionKind,
  type OperationName,
} from '../definitions/operations'
import { execution } from './fixtures'

const SECRET = 'operations-test-secret'
const lib = components.taskExecutionsStorage.lib

type Flags = { isPublic?: boolean; isInternal?: boolean; isQuery?: boolean; isMutation?: boolean; isAction?: boolean }

/** The kind of a registered Convex function, or null for anything else a module exports. */
function kindOf(value: unknown): FunctionKind | null {
  if ((typeof value !== 'function' && typeof value !== 'object') || value === null) {
    return null
  }
  const flags = value as Flags
  return flags.isQuery ? 'query' : flags.isMutation ? 'mutation' : flags.isAction ? 'action' : null
}

/** The registered functions a module exports, by name. */
function functionsOf(module: Record<string, unknown>): Record<string, FunctionKind> {
  const found: Record<string, FunctionKind> = {}
  for (const [name, value] of Object.entries(module)) {
    const kind = kindOf(value)
    if (kind !== null) {
      found[name] = kind
    }
  }
  return found
}

describe('the operation list', () => {
  it('names 17 operations, 8 of them locked', () => {
    assert.equal(OPERATION_NAMES.length, 17)
    assert.equal(OPERATION_NAMES.filter((name) => OPERATIONS[name].lock !== null).length, 8)
  })

  it('matches the component module: the 17 operations plus its helpers, of the listed kinds', () => {
    const expected: Record<string, FunctionKind> = { ...COMPONENT_HELPERS }
    for (const name of OPERATION_NAMES) {
      expected[name] = OPERATIONS[name].component
    }
    assert.deepEqual(functionsOf(componentModule), expected)
  })

  it('matches the public module: the 17 operations, public, of the listed kinds', () => {
    const expected = Object.fromEntries(OPERATION_NAMES.map((name) => [name, OPERATIONS[name].kind]))
    assert.deepEqual(functionsOf(publicModule), expected)
    for (const name of OPERATION_NAMES) {
      assert.equal((publicModule[name] as Flags).isPublic, true, name)
    }
  })
})

/** A lock id that must have been granted. */
function granted(id: Id<'locks'> | null): Id<'locks'> {
  assert.notEqual(id, null, 'the lock was granted')
  return id!
}

/** A stand-in clock: `Date.now` returns `now` while a test runs. */
function fakeClock() {
  const realNow = Date.now
  const clock = { now: realNow() }
  beforeEach(() => {
    clock.now = realNow()
    Date.now = () => clock.now
  })
  afterEach(() => {
    Date.now = realNow
  })
  return clock
}

/** Inner args that select every row of `execution(..., {shard: 0, ...})` for each selector. */
function selectorArgs(name: OperationName, now: number): Record<string, unknown> {
  const update = { updatedAt: 0 }
  const far = now + 10 * LOCK_EXPIRY_MS
  switch (name) {
    case 'updateByStatusAndStartAtLessThanAndReturn':
      return { shard: 0, status: 'ready', startAtLessThan: far, update, updateExpiresAtWithStartedAt: far, limit: 10 }
    case 'updateByStatusAndOCFPStatusAndACCZeroAndReturn':
      return { shard: 0, status: 'ready', ocfpStatus: 'idle', update, limit: 10 }
    case 'updateByCloseStatusAndReturn':
      return { shard: 0, closeStatus: 'idle', update, limit: 10 }
    case 'updateByStatusAndIsSleepingTaskAndExpiresAtLessThan':
      return { status: 'ready', isSleepingTask: false, expiresAtLessThan: far, update, limit: 10 }
    case 'updateByOCFPExpiresAt':
      return { ocfpExpiresAtLessThan: far, update, limit: 10 }
    case 'updateByCloseExpiresAt':
      return { closeExpiresAtLessThan: far, update, limit: 10 }
    case 'updateByExecutorIdAndNPCAndReturn':
      return { shard: 0, executorId: 'ex', npc: false, update, limit: 10 }
    case 'updateAndDecrementParentACCByIsFinishedAndCloseStatus':
      return { shard: 0, isFinished: false, closeStatus: 'idle', update, limit: 10 }
    default:
      throw new Error(`${name} is not a locked selector`)
  }
}

describe('locked selectors take the lock the list names', () => {
  const clock = fakeClock()

  for (const name of OPERATION_NAMES) {
    const lock = OPERATIONS[name].lock
    if (lock === null) {
      continue
    }
    it(`${name}: busy answers ${JSON.stringify(lock.whenBusy)} whatever the secret; free, it runs`, async () => {
      const t = referenceConvexTest(SECRET)
      const fn = makeFunctionReference<'action'>(`taskExecutionsStorage:${name}`)
      const soon = clock.now + 1_000
      // One row every selector picks once time has passed its stamps.
      const row = execution('row', {
        executorId: 'ex',
        expiresAt: soon,
        ocfpExpiresAt: soon,
        closeExpiresAt: soon,
      })
      await t.mutation(anyApi.taskExecutionsStorage!.insertMany!, { authSecret: SECRET, args: { executions: [row] } })
      clock.now += 5_000
      const args = selectorArgs(name, clock.now)
      const key = lock.key(args)
      const lockId = granted(await t.action(async (ctx) => await ctx.runMutation(lib.acquireLock, { key })))

      const before = await t.query(anyApi.taskExecutionsStorage!.getManyById!, {
        authSecret: SECRET,
        args: { requests: [{ executionId: 'row' }] },
      })
      for (const authSecret of [SECRET, 'wrong']) {
        assert.deepEqual(await t.action(fn, { authSecret, args }), lock.whenBusy, `busy, secret ${authSecret}`)
      }
      const after = await t.query(anyApi.taskExecutionsStorage!.getManyById!, {
        authSecret: SECRET,
        args: { requests: [{ executionId: 'row' }] },
      })
      assert.deepEqual(after, before, 'a busy call touches no row')

      await t.action(async (ctx) => await ctx.runMutation(lib.releaseLock, { id: lockId }))
      const ran = (await t.action(fn, { authSecret: SECRET, args })) as unknown
      const picked = Array.isArray(ran) ? ran.length : ran
      assert.equal(picked, 1, 'with the lock free the selector picks the row')
    })
  }
})

describe('lock rows', () => {
  const clock = fakeClock()

  it('takeover of an expired lock patches the same row; the former holder then frees it', async () => {
    const t = referenceConvexTest(SECRET)
    const acquire = () => t.action(async (ctx) => await ctx.runMutation(lib.acquireLock, { key: 'k' }))
    const release = (id: Id<'locks'>) => t.action(async (ctx) => await ctx.runMutation(lib.releaseLock, { id }))

    const first = granted(await acquire())
    assert.equal(await acquire(), null, 'held')
    clock.now += LOCK_EXPIRY_MS - 1
    assert.equal(await acquire(), null, 'still held 1 ms before expiry')
    clock.now += 1
    const second = granted(await acquire())
    assert.equal(second, first, 'the expired row is taken over, keeping its id')
    // The first holder's late release deletes the row the second holder now owns,
    await release(first)
    // so a third caller gets the lock (a new row) while the second still thinks it holds it,
    const third = await acquire()
    assert.notEqual(third, null, 'the second holder lost its lock')
    assert.notEqual(third, first)
    // and the second holder's own release, naming the deleted row, fails.
    await assert.rejects(release(second), { message: `Delete on nonexistent document ID ${first}` })
    assert.equal(await acquire(), null, "the third holder's lock stays")
  })

  it('a release of a row that is gone throws the deployment text', async () => {
    const t = referenceConvexTest(SECRET)
    const id = granted(await t.action(async (ctx) => await ctx.runMutation(lib.acquireLock, { key: 'k' })))
    await t.action(async (ctx) => await ctx.runMutation(lib.releaseLock, { id }))
    await assert.rejects(
      t.action(async (ctx) => await ctx.runMutation(lib.releaseLock, { id })),
      { message: `Delete on nonexistent document ID ${id}` },
    )
  })
})
