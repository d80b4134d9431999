/**
 * The value shapes of the task-executions storage, as Convex validators.
 *
 * One module holds them so that the component's schema, the component's function arguments
 * and the app's pre-validation of the public `{authSecret, args}` envelope can never drift
 * apart: a field added here is added to all three at once. Field names are the stored
 * (database) names of docs/SPEC.md section 2; the client renames them.
 */
import { v, type Infer } from 'convex/values'

/** Where an execution is in its life; `isFinished` is true for the terminal ones. */
export const vStatus = v.union(
  v.literal('ready'),
  v.literal('running'),
  v.literal('failed'),
  v.literal('timed_out'),
  v.literal('waiting_for_children'),
  v.literal('waiting_for_finalize'),
  v.literal('finalize_failed'),
  v.literal('completed'),
  v.literal('cancelled'),
)
export type Status = Infer<typeof vStatus>

/** On-children-finished processing status (`ocfpStatus`). */
export const vOcfpStatus = v.union(v.literal('idle'), v.literal('processing'), v.literal('processed'))
export type OcfpStatus = Infer<typeof vOcfpStatus>

/** Progress of closing an execution (releasing its resources once finished). */
export const vCloseStatus = v.union(
  v.literal('idle'),
  v.literal('ready'),
  v.literal('closing'),
  v.literal('closed'),
)
export type CloseStatus = Infer<typeof vCloseStatus>

/** The error an execution failed with, as the executor serialized it. */
export const vExecutionError = v.object({
  errorType: v.union(
    v.literal('generic'),
    v.literal('not_found'),
    v.literal('timed_out'),
    v.literal('cancelled'),
  ),
  message: v.string(),
  isRetryable: v.boolean(),
  isInternal: v.boolean(),
})

/** A reference to another execution (a child, or the finalize execution). */
export const vExecutionSummary = v.object({
  taskId: v.string(),
  executionId: v.string(),
})

/** How often and how fast a failed run is retried. */
export const vRetryOptions = v.object({
  maxAttempts: v.number(),
  baseDelayMs: v.optional(v.number()),
  maxDelayMs: v.optional(v.number()),
  delayMultiplier: v.optional(v.number()),
})

/**
 * Every field of a stored execution; also what `insertMany` accepts.
 *
 * `createdAt` and `updatedAt` are required on insert even though the server overwrites them
 * with its own clock: the public contract (docs/SPEC.md section 3) keeps them in the value.
 */
export const executionFields = {
  shard: v.number(),
  rootTaskId: v.optional(v.string()),
  rootExecutionId: v.optional(v.string()),
  parentTaskId: v.optional(v.string()),
  parentExecutionId: v.optional(v.string()),
  parentExecutionDocId: v.optional(v.id('taskExecutions')),
  indexInParentChildren: v.optional(v.number()),
  isOnlyChildOfParent: v.optional(v.boolean()),
  isFinalizeOfParent: v.optional(v.boolean()),

  taskId: v.string(),
  executionId: v.string(),
  isSleepingTask: v.boolean(),
  sleepingTaskUniqueId: v.optional(v.string()),
  retryOptions: vRetryOptions,
  sleepMsBeforeRun: v.number(),
  timeoutMs: v.number(),
  areChildrenSequential: v.boolean(),
  input: v.string(),

  executorId: v.optional(v.string()),
  status: vStatus,
  isFinished: v.boolean(),
  runOutput: v.optional(v.string()),
  output: v.optional(v.string()),
  error: v.optional(vExecutionError),
  retryAttempts: v.number(),
  startAt: v.number(),
  startedAt: v.optional(v.number()),
  expiresAt: v.optional(v.number()),
  waitingForChildrenStartedAt: v.optional(v.number()),
  waitingForFinalizeStartedAt: v.optional(v.number()),
  finishedAt: v.optional(v.number()),

  children: v.optional(v.array(vExecutionSummary)),
  acc: v.number(),
  ocfpStatus: vOcfpStatus,
  ocfpExpiresAt: v.optional(v.number()),
  ocfpFinishedAt: v.optional(v.number()),

  finalize: v.optional(vExecutionSummary),

  closeStatus: vCloseStatus,
  closeExpiresAt: v.optional(v.number()),
  closedAt: v.optional(v.number()),

  npc: v.boolean(),

  createdAt: v.number(),
  updatedAt: v.number(),
}

export const vExecutionInsert = v.object(executionFields)
export type ExecutionInsert = Infer<typeof vExecutionInsert>

/** A stored execution as functions return it: the fields plus Convex's system fields. */
export const vExecutionDoc = v.object({
  ...executionFields,
  _id: v.id('taskExecutions'),
  _creationTime: v.number(),
})
export type ExecutionDoc = Infer<typeof vExecutionDoc>

/** Flags naming the optional fields an update removes; a true flag beats a value. */
export const vUpdateUnset = v.object({
  executorId: v.optional(v.boolean()),
  runOutput: v.optional(v.boolean()),
  error: v.optional(v.boolean()),
  startedAt: v.optional(v.boolean()),
  expiresAt: v.optional(v.boolean()),
  ocfpExpiresAt: v.optional(v.boolean()),
  closeExpiresAt: v.optional(v.boolean()),
})
export type UpdateUnset = Infer<typeof vUpdateUnset>

/** An update request (docs/SPEC.md section 4): any subset of the mutable fields, `updatedAt` required. */
export const vUpdate = v.object({
  executorId: v.optional(v.string()),
  status: v.optional(vStatus),
  isFinished: v.optional(v.boolean()),
  runOutput: v.optional(v.string()),
  output: v.optional(v.string()),
  error: v.optional(vExecutionError),
  retryAttempts: v.optional(v.number()),
  startAt: v.optional(v.number()),
  startedAt: v.optional(v.number()),
  expiresAt: v.optional(v.number()),
  waitingForChildrenStartedAt: v.optional(v.number()),
  waitingForFinalizeStartedAt: v.optional(v.number()),
  finishedAt: v.optional(v.number()),
  children: v.optional(v.array(vExecutionSummary)),
  acc: v.optional(v.number()),
  ocfpStatus: v.optional(vOcfpStatus),
  ocfpExpiresAt: v.optional(v.number()),
  ocfpFinishedAt: v.optional(v.number()),
  finalize: v.optional(vExecutionSummary),
  closeStatus: v.optional(vCloseStatus),
  closeExpiresAt: v.optional(v.number()),
  closedAt: v.optional(v.number()),
  npc: v.optional(v.boolean()),
  updatedAt: v.number(),
  unset: v.optional(vUpdateUnset),
})
export type Update = Infer<typeof vUpdate>

/** Optional equality filters of the by-id functions; a given filter that differs hides the row. */
export const vByIdFilters = v.object({
  isSleepingTask: v.optional(v.boolean()),
  status: v.optional(vStatus),
  isFinished: v.optional(v.boolean()),
})
export type ByIdFilters = Infer<typeof vByIdFilters>
