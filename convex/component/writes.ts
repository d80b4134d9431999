/**
 * How the component writes an execution: the server clock, the clamping rules of docs/SPEC.md
 * section 3, and turning an update request into a patch (section 4).
 *
 * The pure functions (`clampInsert`, `clampUpdate`, `patchFromUpdate`) hold every rule and
 * are unit-tested on their own; `insertExecution` and `updateExecution` only add the
 * database reads and writes.
 *
 * Upstream writes its clamps as `if (x && x < now)`, so a timestamp of exactly 0 is *not*
 * clamped, while insert's `startAt` (and `updatedAt` everywhere) are clamped unconditionally.
 * We follow upstream there, and in the order of the checks.
 */
import type { Doc, Id } from './_generated/dataModel'
import type { DatabaseWriter, MutationCtx } from './_generated/server'
import type { ExecutionInsert, Update } from '../definitions/validators'

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

/** An update request with the server's timestamps applied (a clamped copy). */
export function clampUpdate(update: Update, now: number): Update {
  const copy = { ...update }
  clampUpdateInPlace(copy, now)
  return copy
}

/**
 * Clamps an update request's timestamps in place. The component calls this on the request
 * it was given, as upstream does, so when one request is applied to several documents the
 * later ones (and the decrement sweep's parent writes, which reuse `update.updatedAt`) see
 * the clamped values.
 *
 * The checks run in upstream's order and with its truthiness: `updatedAt` always, the others
 * only when truthy (0, absent and NaN stay). The locked selectors do not validate their
 * arguments, so `update` may be anything: a null `update` throws a TypeError at the first
 * read, and a non-numeric `updatedAt` is left alone because `x < now` is false for it.
 */
export function clampUpdateInPlace(update: Update, now: number): void {
  if (update.updatedAt < now) update.updatedAt = now
  if (update.startAt && update.startAt < now) update.startAt = now
  if (update.startedAt && update.startedAt < now) update.startedAt = now
  if (update.expiresAt && update.expiresAt < now) update.expiresAt = now + PAST_EXPIRY_GRACE_MS
  if (update.finishedAt && update.finishedAt < now) update.finishedAt = now
  if (update.ocfpExpiresAt && update.ocfpExpiresAt < now) {
    update.ocfpExpiresAt = now + PAST_EXPIRY_GRACE_MS
  }
  if (update.ocfpFinishedAt && update.ocfpFinishedAt < now) update.ocfpFinishedAt = now
  if (update.closeExpiresAt && update.closeExpiresAt < now) {
    update.closeExpiresAt = now + PAST_EXPIRY_GRACE_MS
  }
  if (update.closedAt && update.closedAt < now) update.closedAt = now
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
    if (flag) {
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

/** Applies one update request to one stored execution, clamping `update` in place first. */
export async function updateExecution(
  ctx: MutationCtx,
  doc: Doc<'taskExecutions'>,
  update: Update,
  now: number,
): Promise<void> {
  clampUpdateInPlace(update, now)
  await ctx.db.patch(doc._id, patchFromUpdate(update))
}

/**
 * `db.patch` of a document that must exist. A deployment's `db.patch` of a missing document
 * throws `Update on nonexistent document ID <id>`, failing the whole mutation; convex-test
 * throws with other words, so we look first and throw the deployment's text ourselves. On a
 * deployment the outcome is the same (one extra read of the same document).
 */
export async function patchExisting(
  db: DatabaseWriter,
  id: Id<'taskExecutions'>,
  patch: Partial<ExecutionInsert>,
): Promise<void> {
  if ((await db.get(id)) === null) {
    throw new Error(`Update on nonexistent document ID ${id}`)
  }
  await db.patch(id, patch)
}

/**
 * `db.delete` of a lock row that must exist, with the deployment's
 * `Delete on nonexistent document ID <id>` (convex-test says `Delete on non-existent doc`).
 */
export async function deleteExistingLock(db: DatabaseWriter, id: Id<'locks'>): Promise<void> {
  if ((await db.get(id)) === null) {
    throw new Error(`Delete on nonexistent document ID ${id}`)
  }
  await db.delete(id)
}

/** A past expiry becomes `now + PAST_EXPIRY_GRACE_MS`; 0 and absent stay. */
function clampExpiry(value: number | undefined, now: number): number | undefined {
  return value && value < now ? now + PAST_EXPIRY_GRACE_MS : value
}

/** Drops `undefined` fields so that an optional field is absent, never present-but-undefined. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
