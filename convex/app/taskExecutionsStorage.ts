/**
 * The public API: 17 functions, each taking `{authSecret, args}` (SPEC.md section 5).
 *
 * Every function does the same three things in the same order:
 * 1. checks `authSecret` against the deployment env var `CONVEX_STORAGE_AUTH_SECRET`
 *    (missing, non-string, empty or different fails with `Invalid auth secret`; when the
 *    variable is unset or empty, *every* call fails that way);
 * 2. checks the inner `args` strictly against the component's argument validator
 *    (`ArgumentValidationError`), before any lock is taken;
 * 3. calls the component: queries and mutations call their one component function; the
 *    eight locked selectors take a lock (a mutation), run their one component mutation and
 *    release the lock (a mutation), returning `[]` or `0` at once when the lock is busy.
 *
 * The functions declare no Convex `args` validators on purpose: the secret must be checked
 * before anything else, and extra envelope fields are ignored.
 */
import type { FunctionReference, FunctionReturnType } from 'convex/server'
import type { ObjectType, PropertyValidators } from 'convex/values'

import { components } from './_generated/api'
import { action, mutation, query, type ActionCtx } from './_generated/server'
import * as inner from '../shared/args'
import { checkArgs } from '../shared/argumentValidation'

/** The deployment environment variable holding the shared secret. */
export const AUTH_SECRET_ENV = 'CONVEX_STORAGE_AUTH_SECRET'

/** The one message every auth failure throws, whatever was wrong. */
export const INVALID_AUTH_SECRET = 'Invalid auth secret'

const storage = components.taskExecutionsStorage.lib

/** What a caller sends; its shape is checked by `open`, not by Convex. */
type Envelope = Record<string, unknown>

export const insertMany = mutation(async (ctx, envelope: Envelope) => {
  return await ctx.runMutation(storage.insertMany, open(envelope, inner.insertManyArgs))
})

export const getManyById = query(async (ctx, envelope: Envelope) => {
  return await ctx.runQuery(storage.getManyById, open(envelope, inner.getManyByIdArgs))
})

export const getManyBySleepingTaskUniqueId = query(async (ctx, envelope: Envelope) => {
  const args = open(envelope, inner.getManyBySleepingTaskUniqueIdArgs)
  return await ctx.runQuery(storage.getManyBySleepingTaskUniqueId, args)
})

export const updateManyById = action(async (ctx, envelope: Envelope) => {
  return await ctx.runMutation(storage.updateManyById, open(envelope, inner.updateManyByIdArgs))
})

export const updateManyByIdAndInsertChildrenIfUpdated = action(
  async (ctx, envelope: Envelope) => {
    const args = open(envelope, inner.updateManyByIdAndInsertChildrenIfUpdatedArgs)
    return await ctx.runMutation(storage.updateManyByIdAndInsertChildrenIfUpdated, args)
  },
)

export const updateByStatusAndStartAtLessThanAndReturn = action(
  async (ctx, envelope: Envelope) => {
    const args = open(envelope, inner.updateByStatusAndStartAtLessThanAndReturnArgs)
    const key = `updateByStatusAndStartAtLessThanAndReturn_${args.shard}_${args.status}`
    return await withLock(ctx, key, [], storage.updateByStatusAndStartAtLessThanAndReturn, args)
  },
)

export const updateByStatusAndOCFPStatusAndACCZeroAndReturn = action(
  async (ctx, envelope: Envelope) => {
    const args = open(envelope, inner.updateByStatusAndOCFPStatusAndACCZeroAndReturnArgs)
    const key = `updateByStatusAndOCFPStatusAndACCZeroAndReturn_${args.shard}_${args.status}_${args.ocfpStatus}`
    return await withLock(
      ctx,
      key,
      [],
      storage.updateByStatusAndOCFPStatusAndACCZeroAndReturn,
      args,
    )
  },
)

export const updateByCloseStatusAndReturn = action(async (ctx, envelope: Envelope) => {
  const args = open(envelope, inner.updateByCloseStatusAndReturnArgs)
  const key = `updateByCloseStatusAndReturn_${args.shard}_${args.closeStatus}`
  return await withLock(ctx, key, [], storage.updateByCloseStatusAndReturn, args)
})

export const updateByStatusAndIsSleepingTaskAndExpiresAtLessThan = action(
  async (ctx, envelope: Envelope) => {
    const args = open(envelope, inner.updateByStatusAndIsSleepingTaskAndExpiresAtLessThanArgs)
    const key = `updateByStatusAndIsSleepingTaskAndExpiresAtLessThan_${args.status}_${args.isSleepingTask}`
    return await withLock(
      ctx,
      key,
      0,
      storage.updateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
      args,
    )
  },
)

export const updateByOCFPExpiresAt = action(async (ctx, envelope: Envelope) => {
  const args = open(envelope, inner.updateByOCFPExpiresAtArgs)
  return await withLock(ctx, 'updateByOCFPExpiresAt', 0, storage.updateByOCFPExpiresAt, args)
})

export const updateByCloseExpiresAt = action(async (ctx, envelope: Envelope) => {
  const args = open(envelope, inner.updateByCloseExpiresAtArgs)
  return await withLock(ctx, 'updateByCloseExpiresAt', 0, storage.updateByCloseExpiresAt, args)
})

export const updateByExecutorIdAndNPCAndReturn = action(async (ctx, envelope: Envelope) => {
  const args = open(envelope, inner.updateByExecutorIdAndNPCAndReturnArgs)
  const key = `updateByExecutorIdAndNPCAndReturn_${args.shard}_${args.executorId}_${args.npc}`
  return await withLock(ctx, key, [], storage.updateByExecutorIdAndNPCAndReturn, args)
})

export const getManyByParentExecutionId = query(async (ctx, envelope: Envelope) => {
  const args = open(envelope, inner.getManyByParentExecutionIdArgs)
  return await ctx.runQuery(storage.getManyByParentExecutionId, args)
})

export const updateManyByParentExecutionIdAndIsFinished = action(
  async (ctx, envelope: Envelope) => {
    const args = open(envelope, inner.updateManyByParentExecutionIdAndIsFinishedArgs)
    return await ctx.runMutation(storage.updateManyByParentExecutionIdAndIsFinished, args)
  },
)

export const updateAndDecrementParentACCByIsFinishedAndCloseStatus = action(
  async (ctx, envelope: Envelope) => {
    const args = open(envelope, inner.updateAndDecrementParentACCByIsFinishedAndCloseStatusArgs)
    const key = `updateAndDecrementParentACCByIsFinishedAndCloseStatus_${args.shard}_${args.isFinished}_${args.closeStatus}`
    return await withLock(
      ctx,
      key,
      0,
      storage.updateAndDecrementParentACCByIsFinishedAndCloseStatus,
      args,
    )
  },
)

export const deleteById = mutation(async (ctx, envelope: Envelope) => {
  return await ctx.runMutation(storage.deleteById, open(envelope, inner.deleteByIdArgs))
})

/** Deletes everything; `args` may be absent or `{}`. */
export const deleteAll = action(async (ctx, envelope: Envelope) => {
  return await ctx.runAction(storage.deleteAll, open(envelope, inner.deleteAllArgs))
})

/**
 * Checks the secret, then the inner arguments; returns the arguments typed by `fields`.
 *
 * The secret is read at call time, so changing the env var takes effect without a deploy.
 */
function open<Fields extends PropertyValidators>(
  envelope: Envelope,
  fields: Fields,
): ObjectType<Fields> {
  const expected = process.env[AUTH_SECRET_ENV]
  const given = envelope?.authSecret
  if (!expected || typeof given !== 'string' || given === '' || given !== expected) {
    throw new Error(INVALID_AUTH_SECRET)
  }
  checkArgs(fields, envelope.args)
  return (envelope.args ?? {}) as ObjectType<Fields>
}

/**
 * Runs one component mutation under the lock named `key`, or returns `idle` at once when
 * someone holds that lock. The lock is released even when the mutation throws.
 */
async function withLock<Mutation extends FunctionReference<'mutation', 'public'>>(
  ctx: ActionCtx,
  key: string,
  idle: FunctionReturnType<Mutation>,
  fn: Mutation,
  args: Mutation['_args'],
): Promise<FunctionReturnType<Mutation>> {
  const lockId = await ctx.runMutation(storage.acquireLock, { key })
  if (lockId === null) {
    return idle
  }
  try {
    return await ctx.runMutation(fn, args)
  } finally {
    await ctx.runMutation(storage.releaseLock, { id: lockId })
  }
}
