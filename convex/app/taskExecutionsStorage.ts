/**
 * The public API: 17 functions, each taking `{authSecret, args}` (docs/SPEC.md section 5).
 * Kinds, locks and busy answers come from the one operation list, definitions/operations.ts.
 *
 * The nine unlocked functions:
 * 1. check `authSecret` against the deployment env var `CONVEX_STORAGE_AUTH_SECRET`
 *    (missing, non-string, empty or different fails with `Invalid auth secret`; when the
 *    variable is unset or empty, *every* call fails that way);
 * 2. check the inner `args`: absent counts as `{}`, a non-object fails as Convex's own
 *    nested call refuses it, then strictly against the component's argument validator
 *    (`ArgumentValidationError`), which upstream's component declares too;
 * 3. call their one component query, mutation or action.
 *
 * The eight locked selectors do what upstream's public actions do, in this order:
 * 1. build the lock key from the inner `args` (absent or null inner args throw a TypeError
 *    here, before anything else, whatever the secret);
 * 2. take the lock (a component mutation); when it is busy, answer `[]` or `0` at once,
 *    whatever the secret;
 * 3. inside the lock: check the secret, run the component mutation with the inner `args`
 *    unchecked, and release the lock (a component mutation) in `finally`, also when the
 *    secret or the mutation failed. A failed release fails the action, even after the
 *    mutation committed.
 *
 * The functions declare no Convex `args` validators: the secret must be checked before the
 * inner args, extra envelope fields are ignored, and upstream's locked selectors have none.
 */
import type { FunctionReference } from 'convex/server'
import type { ObjectType, PropertyValidators } from 'convex/values'

import { components } from './_generated/api'
import { action, mutation, query, type ActionCtx } from './_generated/server'
import { checkArgs, functionArgs } from '../definitions/argumentValidation'
import { OPERATIONS, type LockedOperationName, type UncheckedArgs } from '../definitions/operations'

/** The deployment environment variable holding the shared secret. */
export const AUTH_SECRET_ENV = 'CONVEX_STORAGE_AUTH_SECRET'

/** The one message every auth failure throws, whatever was wrong. */
export const INVALID_AUTH_SECRET = 'Invalid auth secret'

const storage = components.taskExecutionsStorage.lib

/** What a caller sends; its shape is checked by `open`, not by Convex. */
type Envelope = Record<string, unknown>

/**
 * What a caller of a locked selector sends. Nothing checks `args`: it is read as it comes,
 * so reading a field of absent inner args throws a TypeError, as in upstream's client.
 */
type LockedEnvelope = { authSecret?: unknown; args: UncheckedArgs }

export const insertMany = mutation(async (ctx, envelope: Envelope) => {
  return await ctx.runMutation(storage.insertMany, open(envelope, OPERATIONS.insertMany.args))
})

export const getManyById = query(async (ctx, envelope: Envelope) => {
  return await ctx.runQuery(storage.getManyById, open(envelope, OPERATIONS.getManyById.args))
})

export const getManyBySleepingTaskUniqueId = query(async (ctx, envelope: Envelope) => {
  const args = open(envelope, OPERATIONS.getManyBySleepingTaskUniqueId.args)
  return await ctx.runQuery(storage.getManyBySleepingTaskUniqueId, args)
})

export const updateManyById = action(async (ctx, envelope: Envelope) => {
  return await ctx.runMutation(storage.updateManyById, open(envelope, OPERATIONS.updateManyById.args))
})

export const updateManyByIdAndInsertChildrenIfUpdated = action(
  async (ctx, envelope: Envelope) => {
    const args = open(envelope, OPERATIONS.updateManyByIdAndInsertChildrenIfUpdated.args)
    return await ctx.runMutation(storage.updateManyByIdAndInsertChildrenIfUpdated, args)
  },
)

export const updateByStatusAndStartAtLessThanAndReturn = lockedSelector(
  'updateByStatusAndStartAtLessThanAndReturn',
  storage.updateByStatusAndStartAtLessThanAndReturn,
)

export const updateByStatusAndOCFPStatusAndACCZeroAndReturn = lockedSelector(
  'updateByStatusAndOCFPStatusAndACCZeroAndReturn',
  storage.updateByStatusAndOCFPStatusAndACCZeroAndReturn,
)

export const updateByCloseStatusAndReturn = lockedSelector(
  'updateByCloseStatusAndReturn',
  storage.updateByCloseStatusAndReturn,
)

export const updateByStatusAndIsSleepingTaskAndExpiresAtLessThan = lockedSelector(
  'updateByStatusAndIsSleepingTaskAndExpiresAtLessThan',
  storage.updateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
)

export const updateByOCFPExpiresAt = lockedSelector(
  'updateByOCFPExpiresAt',
  storage.updateByOCFPExpiresAt,
)

export const updateByCloseExpiresAt = lockedSelector(
  'updateByCloseExpiresAt',
  storage.updateByCloseExpiresAt,
)

export const updateByExecutorIdAndNPCAndReturn = lockedSelector(
  'updateByExecutorIdAndNPCAndReturn',
  storage.updateByExecutorIdAndNPCAndReturn,
)

export const getManyByParentExecutionId = query(async (ctx, envelope: Envelope) => {
  const args = open(envelope, OPERATIONS.getManyByParentExecutionId.args)
  return await ctx.runQuery(storage.getManyByParentExecutionId, args)
})

export const updateManyByParentExecutionIdAndIsFinished = action(
  async (ctx, envelope: Envelope) => {
    const args = open(envelope, OPERATIONS.updateManyByParentExecutionIdAndIsFinished.args)
    return await ctx.runMutation(storage.updateManyByParentExecutionIdAndIsFinished, args)
  },
)

export const updateAndDecrementParentACCByIsFinishedAndCloseStatus = lockedSelector(
  'updateAndDecrementParentACCByIsFinishedAndCloseStatus',
  storage.updateAndDecrementParentACCByIsFinishedAndCloseStatus,
)

export const deleteById = mutation(async (ctx, envelope: Envelope) => {
  return await ctx.runMutation(storage.deleteById, open(envelope, OPERATIONS.deleteById.args))
})

/** Deletes everything; `args` may be absent or `{}`. */
export const deleteAll = action(async (ctx, envelope: Envelope) => {
  return await ctx.runAction(storage.deleteAll, open(envelope, OPERATIONS.deleteAll.args))
})

/**
 * Checks the secret, then the inner arguments; returns the arguments typed by `fields`.
 */
function open<Fields extends PropertyValidators>(
  envelope: Envelope,
  fields: Fields,
): ObjectType<Fields> {
  checkSecret(envelope)
  const args = functionArgs(envelope.args)
  checkArgs(fields, args)
  return args as ObjectType<Fields>
}

/**
 * Throws `Invalid auth secret` unless the envelope carries the deployment's secret. The
 * secret is read at call time, so changing the env var takes effect without a deploy.
 */
function checkSecret(envelope: Envelope | LockedEnvelope): void {
  const expected = process.env[AUTH_SECRET_ENV]
  const given = envelope?.authSecret
  if (!expected || typeof given !== 'string' || given === '' || given !== expected) {
    throw new Error(INVALID_AUTH_SECRET)
  }
}

/**
 * The public action of a locked selector: key from the inner args, lock, then (inside the
 * lock) the secret and the one component mutation with the inner args as they came.
 */
function lockedSelector<Name extends LockedOperationName>(
  name: Name,
  selector: FunctionReference<'mutation', 'public'>,
) {
  const lock = OPERATIONS[name].lock
  return action(async (ctx, envelope: LockedEnvelope): Promise<unknown> => {
    const key = lock.key(envelope.args)
    return await withLock(ctx, key, lock.whenBusy, async () => {
      checkSecret(envelope)
      return await ctx.runMutation(selector, envelope.args as never)
    })
  })
}

/**
 * Runs `body` under the lock named `key`, or answers `whenBusy` at once when that lock is
 * held. The lock is released in `finally`, also when `body` throws; a release that throws
 * replaces whatever `body` threw or returned.
 */
async function withLock<T>(
  ctx: ActionCtx,
  key: string,
  whenBusy: T,
  body: () => Promise<T>,
): Promise<T> {
  const lockId = await ctx.runMutation(storage.acquireLock, { key })
  if (lockId === null) {
    return whenBusy
  }
  try {
    return await body()
  } finally {
    await ctx.runMutation(storage.releaseLock, { id: lockId })
  }
}
