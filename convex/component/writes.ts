/**
 * How the component writes an execution: the server clock, the clamping rules of SPEC.md
 * section 3, and turning an update request into a patch (section 4).
 *
 * The pure functions (`clampInsert`, `clampUpdate`, `patchFromUpdate`) hold every rule and
 * are unit-tested on their own; `insertExecution` and `updateExecution` only add the
 * database reads and writes.
 *
 * Upstream writes its clamps as `if (x && x < now)`, so a timestamp of exactly 0 is *not*
 * clamped, while insert's `startAt` (and `updatedAt` everywhere) are clamped unconditionally.
 * We follow upstream there (common.md).
 */
import type { Doc, Id } from './_generated/dataModel'
import type { MutationCtx } from './_generated/server'
import type { ExecutionInsert, Update } from '../shared/validators'

/**
 * How far ahead of its clock reading a mutation stamps what it writes. Rows written now are
 * thus not "stale" (`updatedAt < clock`) for the next ~50 ms, which keeps the executor's
 * background loops from picking up a row they have just written.
 */
export const WRITE_CLOCK_LEAD_MS = 50

/** How far past `now` an expiry that lies in the past is pushed, so it cannot fire at once. */
export const PAST_EXPIRY_GRACE_MS = 1000

/** Thrown messages that the public contract fixes. */
export const EXECUTION_ID_EXISTS = 'Execution id already exists'
export const SLEEPING_TASK_UNIQUE_ID_EXISTS = 'Sleeping task unique id already exists'

/**
 * The write clock of the current mutation. Convex freezes `Date.now()` for a whole query or
 * mutation, so every write of one mutation sees the same value.
 */
export function writeNow(): number {
  return Date.now() + WRITE_CLOCK_LEAD_MS
}

/** An insert value with the server's timestamps applied. */
export function clampInsert(value: ExecutionInsert, now: number): ExecutionInsert {
  return {
    ...value,
    createdAt: now,
    updatedAt: now,
    startAt: value.startAt < now ? now : value.startAt,
    expiresAt: clampExpiry(value.expiresAt, now),
    ocfpExpiresAt: clampExpiry(value.ocfpExpiresAt, now),
    closeExpiresAt: clampExpiry(value.closeExpiresAt, now),
  }
}

/** An update request with the server's timestamps applied. */
export function clampUpdate(update: Update, now: number): Update {
  return {
    ...update,
    updatedAt: update.updatedAt < now ? now : update.updatedAt,
    startAt: clampInstant(update.startAt, now),
    startedAt: clampInstant(update.startedAt, now),
    finishedAt: clampInstant(update.finishedAt, now),
    ocfpFinishedAt: clampInstant(update.ocfpFinishedAt, now),
    closedAt: clampInstant(update.closedAt, now),
    expiresAt: clampExpiry(update.expiresAt, now),
    ocfpExpiresAt: clampExpiry(update.ocfpExpiresAt, now),
    closeExpiresAt: clampExpiry(update.closeExpiresAt, now),
  }
}

/**
 * The `db.patch` value of an (already clamped) update: every given field is set, then every
 * field whose unset flag is true becomes `undefined`, which removes it. So an unset flag wins
 * over a value given in the same request.
 */
export function patchFromUpdate(update: Update): Partial<ExecutionInsert> {
  const { unset, ...fields } = update
  const patch: Partial<ExecutionInsert> = {}
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) {
      ;(patch as Record<string, unknown>)[name] = value
    }
  }
  for (const [name, flag] of Object.entries(unset ?? {})) {
    if (flag === true) {
      ;(patch as Record<string, unknown>)[name] = undefined
    }
  }
  return patch
}

/**
 * Inserts one execution after the uniqueness checks; earlier inserts of the same mutation
 * count, because they are visible to its later reads.
 */
export async function insertExecution(
  ctx: MutationCtx,
  value: ExecutionInsert,
  now: number,
): Promise<Id<'taskExecutions'>> {
  const sameExecutionId = await ctx.db
    .query('taskExecutions')
    .withIndex('by_executionId', (q) => q.eq('executionId', value.executionId))
    .first()
  if (sameExecutionId !== null) {
    throw new Error(EXECUTION_ID_EXISTS)
  }
  const uniqueId = value.sleepingTaskUniqueId
  if (uniqueId !== undefined && uniqueId !== '') {
    const sameUniqueId = await ctx.db
      .query('taskExecutions')
      .withIndex('by_sleepingTaskUniqueId', (q) => q.eq('sleepingTaskUniqueId', uniqueId))
      .first()
    if (sameUniqueId !== null) {
      throw new Error(SLEEPING_TASK_UNIQUE_ID_EXISTS)
    }
  }
  return await ctx.db.insert('taskExecutions', withoutUndefined(clampInsert(value, now)))
}

/** Applies one update request to one stored execution. */
export async function updateExecution(
  ctx: MutationCtx,
  doc: Doc<'taskExecutions'>,
  update: Update,
  now: number,
): Promise<void> {
  await ctx.db.patch(doc._id, patchFromUpdate(clampUpdate(update, now)))
}

/** A past instant (`startedAt`, `finishedAt`, ...) becomes `now`; 0 and absent stay. */
function clampInstant(value: number | undefined, now: number): number | undefined {
  return value !== undefined && value !== 0 && value < now ? now : value
}

/** A past expiry becomes `now + PAST_EXPIRY_GRACE_MS`; 0 and absent stay. */
function clampExpiry(value: number | undefined, now: number): number | undefined {
  return value !== undefined && value !== 0 && value < now ? now + PAST_EXPIRY_GRACE_MS : value
}

/** Drops `undefined` fields so that an optional field is absent, never present-but-undefined. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
