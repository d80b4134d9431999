/**
 * The storage functions of the component (`lib:*`), docs/SPEC.md section 5.
 *
 * Each function here is one Convex transaction, written to behave as upstream's component
 * (durable-execution-storage-convex 0.32.0), warts included. The app's public API wraps
 * them: the nine unlocked functions check the secret and the arguments; the eight locked
 * selectors bracket their one mutation with `acquireLock` / `releaseLock` (three separate
 * transactions, as in upstream) and check nothing but the secret.
 *
 * Reading order: locks, then the by-id functions, then the selectors (indexed range + update
 * of the first `limit` rows), then the parent/children functions, then deletes.
 *
 * Invariant: this module knows nothing of auth secrets or of the HTTP API.
 */
import { v } from 'convex/values'

import { internal } from './_generated/api'
import type { Doc, Id } from './_generated/dataModel'
import {
  action,
  internalMutation,
  mutation,
  query,
  type DatabaseReader,
  type MutationCtx,
} from './_generated/server'
import {
  OPERATIONS,
  type CloseExpirySelectorArgs,
  type CloseStatusSelectorArgs,
  type ExecutorSelectorArgs,
  type ExpirySelectorArgs,
  type OcfpExpirySelectorArgs,
  type OcfpSelectorArgs,
  type StartAtSelectorArgs,
  type SweepArgs,
} from '../definitions/operations'
import { vExecutionDoc, type ByIdFilters, type Update } from '../definitions/validators'
import {
  deleteExistingLock,
  insertExecution,
  patchExisting,
  updateExecution,
  writeNow,
} from './writes'

/** How long a selector lock blocks its key if its holder never releases it (a crash). */
export const LOCK_EXPIRY_MS = 60_000

/** How many executions `deleteAll` deletes per transaction, staying far below write limits. */
export const DELETE_BATCH_SIZE = 100

type Execution = Doc<'taskExecutions'>

const vExecutionDocs = v.array(vExecutionDoc)

// ---------------------------------------------------------------------------------------
// Locks

/**
 * Takes the lock named `key`: inserts its row, or takes over an expired row by patching its
 * `expiresAt` (the row keeps its id). Returns the row's id, or null when the lock is held
 * (the caller then does nothing).
 *
 * Lock expiry compares with the plain clock (no write lead): a lock row is expired when
 * `expiresAt <= now`.
 */
export const acquireLock = mutation({
  args: { key: v.string() },
  returns: v.union(v.id('locks'), v.null()),
  handler: async (ctx, { key }) => {
    const now = Date.now()
    const lock = await ctx.db
      .query('locks')
      .withIndex('by_key', (q) => q.eq('key', key))
      .first()
    if (lock === null) {
      return await ctx.db.insert('locks', { key, expiresAt: now + LOCK_EXPIRY_MS })
    }
    if (lock.expiresAt <= now) {
      await ctx.db.patch(lock._id, { expiresAt: now + LOCK_EXPIRY_MS })
      return lock._id
    }
    return null
  },
})

/**
 * Releases a lock by the id `acquireLock` returned. It deletes that row whoever holds it now:
 * a holder whose lock expired and was taken over (the same row, patched) deletes the new
 * holder's lock. A row that is already gone fails the release with
 * `Delete on nonexistent document ID <id>`, and with it the public action, although that
 * action's storage mutation has committed. Both as upstream.
 */
export const releaseLock = mutation({
  args: { id: v.id('locks') },
  returns: v.null(),
  handler: async (ctx, { id }) => {
    await deleteExistingLock(ctx.db, id)
    return null
  },
})

// ---------------------------------------------------------------------------------------
// Inserts and by-id access

/** Inserts all executions or none: the first duplicate fails the whole mutation. */
export const insertMany = mutation({
  args: OPERATIONS.insertMany.args,
  returns: v.null(),
  handler: async (ctx, { executions }) => {
    const now = writeNow()
    for (const execution of executions) {
      await insertExecution(ctx, execution, now)
    }
    return null
  },
})

export const getManyById = query({
  args: OPERATIONS.getManyById.args,
  returns: v.array(v.union(vExecutionDoc, v.null())),
  handler: async (ctx, { requests }) => {
    const results: Array<Execution | null> = []
    for (const { executionId, filters } of requests) {
      const execution = await findByExecutionId(ctx.db, executionId)
      results.push(execution !== null && matchesFilters(execution, filters) ? execution : null)
    }
    return results
  },
})

export const getManyBySleepingTaskUniqueId = query({
  args: OPERATIONS.getManyBySleepingTaskUniqueId.args,
  returns: v.array(v.union(vExecutionDoc, v.null())),
  handler: async (ctx, { requests }) => {
    const results: Array<Execution | null> = []
    for (const { sleepingTaskUniqueId } of requests) {
      results.push(
        await ctx.db
          .query('taskExecutions')
          .withIndex('by_sleepingTaskUniqueId', (q) =>
            q.eq('sleepingTaskUniqueId', sleepingTaskUniqueId),
          )
          .first(),
      )
    }
    return results
  },
})

/** Updates each matching execution; a missing or filtered-out one is skipped. */
export const updateManyById = mutation({
  args: OPERATIONS.updateManyById.args,
  returns: v.null(),
  handler: async (ctx, { requests }) => {
    const now = writeNow()
    for (const { executionId, filters, update } of requests) {
      const execution = await findByExecutionId(ctx.db, executionId)
      if (execution !== null && matchesFilters(execution, filters)) {
        await updateExecution(ctx, execution, update, now)
      }
    }
    return null
  },
})

/**
 * Like `updateManyById`, and after each update inserts that request's children, pointing
 * them at the updated document. A duplicate child fails the whole mutation.
 */
export const updateManyByIdAndInsertChildrenIfUpdated = mutation({
  args: OPERATIONS.updateManyByIdAndInsertChildrenIfUpdated.args,
  returns: v.null(),
  handler: async (ctx, { requests }) => {
    const now = writeNow()
    for (const request of requests) {
      const execution = await findByExecutionId(ctx.db, request.executionId)
      if (execution === null || !matchesFilters(execution, request.filters)) {
        continue
      }
      await updateExecution(ctx, execution, request.update, now)
      for (const child of request.childrenTaskExecutionsToInsertIfAnyUpdated) {
        await insertExecution(ctx, { ...child, parentExecutionDocId: execution._id }, now)
      }
    }
    return null
  },
})

// ---------------------------------------------------------------------------------------
// Selectors: an index range, ascending, the first `limit` rows, each updated.
//
// These eight run under a lock taken by the public action, and, as upstream, declare no
// argument validators: they receive whatever inner args the caller sent. A missing or
// wrongly typed field then matches nothing (an index equality on `undefined` or on a value of
// another type), fails in Convex's own `take()` check (`limit`), or fails the write on the
// schema (an `update` the schema refuses). convex/README.md lists what each case answers.
// Those that select "stale" rows compare `updatedAt` with the plain clock (no write lead).

/** Ready-to-run executions whose `startAt` has come; each also gets its new `expiresAt`. */
export const updateByStatusAndStartAtLessThanAndReturn = mutation(
  async (ctx, args: StartAtSelectorArgs): Promise<Execution[]> => {
    const { shard, status, startAtLessThan, update, updateExpiresAtWithStartedAt, limit } = args
    const now = writeNow()
    const executions = await ctx.db
      .query('taskExecutions')
      .withIndex('by_shard_status_startAt', (q) =>
        q.eq('shard', shard).eq('status', status).lt('startAt', startAtLessThan),
      )
      .take(limit)
    for (const execution of executions) {
      // A fresh request per row: `update` itself is never clamped here.
      const expiresAt = updateExpiresAtWithStartedAt + execution.timeoutMs
      await updateExecution(ctx, execution, { ...update, expiresAt }, now)
    }
    return executions
  },
)

export const updateByStatusAndOCFPStatusAndACCZeroAndReturn = mutation(
  async (ctx, args: OcfpSelectorArgs): Promise<Execution[]> => {
    const { shard, status, ocfpStatus, update, limit } = args
    const executions = await ctx.db
      .query('taskExecutions')
      .withIndex('by_shard_status_ocfpStatus_acc_updatedAt', (q) =>
        q
          .eq('shard', shard)
          .eq('status', status)
          .eq('ocfpStatus', ocfpStatus)
          .eq('acc', 0)
          .lt('updatedAt', Date.now()),
      )
      .take(limit)
    await updateAll(ctx, executions, update)
    return executions
  },
)

export const updateByCloseStatusAndReturn = mutation(
  async (ctx, args: CloseStatusSelectorArgs): Promise<Execution[]> => {
    const { shard, closeStatus, update, limit } = args
    const executions = await ctx.db
      .query('taskExecutions')
      .withIndex('by_shard_closeStatus_updatedAt', (q) =>
        q.eq('shard', shard).eq('closeStatus', closeStatus).lt('updatedAt', Date.now()),
      )
      .take(limit)
    await updateAll(ctx, executions, update)
    return executions
  },
)

/** Expired executions; `gte(0)` skips rows without an `expiresAt`. Returns the count. */
export const updateByStatusAndIsSleepingTaskAndExpiresAtLessThan = mutation(
  async (ctx, args: ExpirySelectorArgs): Promise<number> => {
    const { status, isSleepingTask, expiresAtLessThan, update, limit } = args
    const executions = await ctx.db
      .query('taskExecutions')
      .withIndex('by_status_isSleepingTask_expiresAt', (q) =>
        q
          .eq('status', status)
          .eq('isSleepingTask', isSleepingTask)
          .gte('expiresAt', 0)
          .lt('expiresAt', expiresAtLessThan),
      )
      .take(limit)
    await updateAll(ctx, executions, update)
    return executions.length
  },
)

export const updateByOCFPExpiresAt = mutation(
  async (ctx, args: OcfpExpirySelectorArgs): Promise<number> => {
    const { ocfpExpiresAtLessThan, update, limit } = args
    const executions = await ctx.db
      .query('taskExecutions')
      .withIndex('by_ocfpExpiresAt', (q) =>
        q.gte('ocfpExpiresAt', 0).lt('ocfpExpiresAt', ocfpExpiresAtLessThan),
      )
      .take(limit)
    await updateAll(ctx, executions, update)
    return executions.length
  },
)

export const updateByCloseExpiresAt = mutation(
  async (ctx, args: CloseExpirySelectorArgs): Promise<number> => {
    const { closeExpiresAtLessThan, update, limit } = args
    const executions = await ctx.db
      .query('taskExecutions')
      .withIndex('by_closeExpiresAt', (q) =>
        q.gte('closeExpiresAt', 0).lt('closeExpiresAt', closeExpiresAtLessThan),
      )
      .take(limit)
    await updateAll(ctx, executions, update)
    return executions.length
  },
)

export const updateByExecutorIdAndNPCAndReturn = mutation(
  async (ctx, args: ExecutorSelectorArgs): Promise<Execution[]> => {
    const { shard, executorId, npc, update, limit } = args
    const executions = await ctx.db
      .query('taskExecutions')
      .withIndex('by_shard_executorId_npc_updatedAt', (q) =>
        q.eq('shard', shard).eq('executorId', executorId).eq('npc', npc).lt('updatedAt', Date.now()),
      )
      .take(limit)
    await updateAll(ctx, executions, update)
    return executions
  },
)

// ---------------------------------------------------------------------------------------
// Parents and children

/** All children of each parent, unfinished first, then oldest first (index order). */
export const getManyByParentExecutionId = query({
  args: OPERATIONS.getManyByParentExecutionId.args,
  returns: v.array(vExecutionDocs),
  handler: async (ctx, { requests }) => {
    const results: Array<Array<Execution>> = []
    for (const { parentExecutionId } of requests) {
      results.push(
        await ctx.db
          .query('taskExecutions')
          .withIndex('by_parentExecutionId_isFinished', (q) =>
            q.eq('parentExecutionId', parentExecutionId),
          )
          .collect(),
      )
    }
    return results
  },
})

export const updateManyByParentExecutionIdAndIsFinished = mutation({
  args: OPERATIONS.updateManyByParentExecutionIdAndIsFinished.args,
  returns: v.null(),
  handler: async (ctx, { requests }) => {
    for (const { parentExecutionId, isFinished, update } of requests) {
      const children = await ctx.db
        .query('taskExecutions')
        .withIndex('by_parentExecutionId_isFinished', (q) =>
          q.eq('parentExecutionId', parentExecutionId).eq('isFinished', isFinished),
        )
        .collect()
      await updateAll(ctx, children, update)
    }
    return null
  },
})

/**
 * Closes finished children and tells their parents, atomically.
 *
 * Selects stale rows by (shard, isFinished, closeStatus) and applies `update` to each (which
 * clamps `update` in place). Then, for each selected child that has a parent document and is
 * not the parent's finalize execution: an only child (`isOnlyChildOfParent`) sets its
 * parent's `acc` to 0 and `updatedAt` to the clamped `update.updatedAt`, by a plain patch,
 * parents in the order their children were selected; other children decrement their parent's
 * `acc` by how many of them were selected, parents in ascending document-id order (string
 * sort), each read first and written as an update request.
 *
 * A missing parent: the only-child patch throws `Update on nonexistent document ID <id>`,
 * which fails the whole mutation (the children's updates too); the decrement branch skips it.
 * Both as upstream. Returns how many children were selected.
 */
export const updateAndDecrementParentACCByIsFinishedAndCloseStatus = mutation(
  async (ctx, args: SweepArgs): Promise<number> => {
    const { shard, isFinished, closeStatus, update, limit } = args
    const children = await ctx.db
      .query('taskExecutions')
      .withIndex('by_shard_isFinished_closeStatus_updatedAt', (q) =>
        q
          .eq('shard', shard)
          .eq('isFinished', isFinished)
          .eq('closeStatus', closeStatus)
          .lt('updatedAt', Date.now()),
      )
      .take(limit)
    if (children.length === 0) {
      return 0
    }
    await updateAll(ctx, children, update)

    const onlyChildParents = new Set<Id<'taskExecutions'>>()
    const decrements = new Map<Id<'taskExecutions'>, number>()
    for (const child of children) {
      const parentId = child.parentExecutionDocId
      if (parentId == null || child.isFinalizeOfParent) {
        continue
      }
      if (child.isOnlyChildOfParent) {
        onlyChildParents.add(parentId)
      } else {
        decrements.set(parentId, (decrements.get(parentId) ?? 0) + 1)
      }
    }

    for (const parentId of onlyChildParents) {
      await patchExisting(ctx.db, parentId, { acc: 0, updatedAt: update.updatedAt })
    }
    const now = writeNow()
    for (const parentId of [...decrements.keys()].sort()) {
      const parent = await ctx.db.get(parentId)
      if (parent !== null) {
        const acc = parent.acc - (decrements.get(parentId) ?? 0)
        await updateExecution(ctx, parent, { acc, updatedAt: update.updatedAt }, now)
      }
    }
    return children.length
  },
)

// ---------------------------------------------------------------------------------------
// Deletes

export const deleteById = mutation({
  args: OPERATIONS.deleteById.args,
  returns: v.null(),
  handler: async (ctx, { executionId }) => {
    const execution = await findByExecutionId(ctx.db, executionId)
    if (execution !== null) {
      await ctx.db.delete(execution._id)
    }
    return null
  },
})

/** Deletes up to `batchSize` executions (oldest first); returns how many it deleted. */
export const deleteMany = internalMutation({
  args: { batchSize: v.number() },
  returns: v.number(),
  handler: async (ctx, { batchSize }) => {
    const executions = await ctx.db.query('taskExecutions').take(batchSize)
    for (const execution of executions) {
      await ctx.db.delete(execution._id)
    }
    return executions.length
  },
})

/**
 * Deletes every execution, one bounded transaction at a time, until a batch comes back
 * short. Not atomic: concurrent inserts may survive it.
 */
export const deleteAll = action({
  args: OPERATIONS.deleteAll.args,
  returns: v.null(),
  handler: async (ctx): Promise<null> => {
    for (;;) {
      const deleted: number = await ctx.runMutation(internal.lib.deleteMany, {
        batchSize: DELETE_BATCH_SIZE,
      })
      if (deleted < DELETE_BATCH_SIZE) {
        return null
      }
    }
  },
})

// ---------------------------------------------------------------------------------------
// Helpers

async function findByExecutionId(db: DatabaseReader, executionId: string): Promise<Execution | null> {
  return await db
    .query('taskExecutions')
    .withIndex('by_executionId', (q) => q.eq('executionId', executionId))
    .first()
}

/** Whether every given filter equals the execution's field. */
function matchesFilters(execution: Execution, filters: ByIdFilters | undefined): boolean {
  return (
    (filters?.isSleepingTask === undefined || execution.isSleepingTask === filters.isSleepingTask) &&
    (filters?.status === undefined || execution.status === filters.status) &&
    (filters?.isFinished === undefined || execution.isFinished === filters.isFinished)
  )
}

/**
 * Applies the same update request to every execution, with one write clock. The request is
 * clamped in place by the first write; the later ones see it clamped (no change: the clamps
 * are idempotent for one clock).
 */
async function updateAll(
  ctx: MutationCtx,
  executions: ReadonlyArray<Execution>,
  update: Update,
): Promise<void> {
  const now = writeNow()
  for (const execution of executions) {
    await updateExecution(ctx, execution, update, now)
  }
}
