/**
 * The component's two tables (docs/SPEC.md section 2).
 *
 * Every index below serves exactly one storage function; field order matters because each
 * query fixes a prefix with equalities and ranges over the next field. Convex appends
 * `_creationTime` to every index, so equal keys come back oldest first.
 */
import { defineSchema, defineTable } from 'convex/server'
import { v } from 'convex/values'

import { executionFields } from '../definitions/validators'

export default defineSchema({
  taskExecutions: defineTable(executionFields)
    // getManyById, updates by id, the uniqueness check of insertMany.
    .index('by_executionId', ['executionId'])
    // getManyBySleepingTaskUniqueId and its uniqueness check.
    .index('by_sleepingTaskUniqueId', ['sleepingTaskUniqueId'])
    // updateByStatusAndStartAtLessThanAndReturn.
    .index('by_shard_status_startAt', ['shard', 'status', 'startAt'])
    // updateByStatusAndOCFPStatusAndACCZeroAndReturn.
    .index('by_shard_status_ocfpStatus_acc_updatedAt', [
      'shard',
      'status',
      'ocfpStatus',
      'acc',
      'updatedAt',
    ])
    // updateByCloseStatusAndReturn.
    .index('by_shard_closeStatus_updatedAt', ['shard', 'closeStatus', 'updatedAt'])
    // updateByStatusAndIsSleepingTaskAndExpiresAtLessThan.
    .index('by_status_isSleepingTask_expiresAt', ['status', 'isSleepingTask', 'expiresAt'])
    // updateByOCFPExpiresAt.
    .index('by_ocfpExpiresAt', ['ocfpExpiresAt'])
    // updateByCloseExpiresAt.
    .index('by_closeExpiresAt', ['closeExpiresAt'])
    // updateByExecutorIdAndNPCAndReturn.
    .index('by_shard_executorId_npc_updatedAt', ['shard', 'executorId', 'npc', 'updatedAt'])
    // getManyByParentExecutionId, updateManyByParentExecutionIdAndIsFinished.
    .index('by_parentExecutionId_isFinished', ['parentExecutionId', 'isFinished'])
    // updateAndDecrementParentACCByIsFinishedAndCloseStatus.
    .index('by_shard_isFinished_closeStatus_updatedAt', [
      'shard',
      'isFinished',
      'closeStatus',
      'updatedAt',
    ]),

  /** One row per held selector lock; see lib.ts `acquireLock`. */
  locks: defineTable({
    key: v.string(),
    expiresAt: v.number(),
  })
    .index('by_key', ['key'])
    .index('by_key_expiresAt', ['key', 'expiresAt']),
})
