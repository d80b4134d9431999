/**
 * The inner arguments of the 17 storage functions (SPEC.md section 5).
 *
 * The component uses these as its functions' `args` validators, and the app checks the
 * `args` of every public `{authSecret, args}` envelope against the same objects *after* the
 * auth secret and *before* taking any lock. Upstream leaves the eight locked selectors
 * unvalidated; we validate them too (common.md), so a malformed selector call fails with an
 * `ArgumentValidationError` instead of running with `undefined` fields.
 */
import { v, type PropertyValidators } from 'convex/values'

import {
  vByIdFilters,
  vCloseStatus,
  vExecutionInsert,
  vOcfpStatus,
  vStatus,
  vUpdate,
} from './validators'

export const insertManyArgs = {
  executions: v.array(vExecutionInsert),
} satisfies PropertyValidators

export const getManyByIdArgs = {
  requests: v.array(v.object({ executionId: v.string(), filters: v.optional(vByIdFilters) })),
} satisfies PropertyValidators

export const getManyBySleepingTaskUniqueIdArgs = {
  requests: v.array(v.object({ sleepingTaskUniqueId: v.string() })),
} satisfies PropertyValidators

export const updateManyByIdArgs = {
  requests: v.array(
    v.object({ executionId: v.string(), filters: v.optional(vByIdFilters), update: vUpdate }),
  ),
} satisfies PropertyValidators

export const updateManyByIdAndInsertChildrenIfUpdatedArgs = {
  requests: v.array(
    v.object({
      executionId: v.string(),
      filters: v.optional(vByIdFilters),
      update: vUpdate,
      childrenTaskExecutionsToInsertIfAnyUpdated: v.array(vExecutionInsert),
    }),
  ),
} satisfies PropertyValidators

export const updateByStatusAndStartAtLessThanAndReturnArgs = {
  shard: v.number(),
  status: vStatus,
  startAtLessThan: v.number(),
  update: vUpdate,
  updateExpiresAtWithStartedAt: v.number(),
  limit: v.number(),
} satisfies PropertyValidators

export const updateByStatusAndOCFPStatusAndACCZeroAndReturnArgs = {
  shard: v.number(),
  status: vStatus,
  ocfpStatus: vOcfpStatus,
  update: vUpdate,
  limit: v.number(),
} satisfies PropertyValidators

export const updateByCloseStatusAndReturnArgs = {
  shard: v.number(),
  closeStatus: vCloseStatus,
  update: vUpdate,
  limit: v.number(),
} satisfies PropertyValidators

export const updateByStatusAndIsSleepingTaskAndExpiresAtLessThanArgs = {
  status: vStatus,
  isSleepingTask: v.boolean(),
  expiresAtLessThan: v.number(),
  update: vUpdate,
  limit: v.number(),
} satisfies PropertyValidators

export const updateByOCFPExpiresAtArgs = {
  ocfpExpiresAtLessThan: v.number(),
  update: vUpdate,
  limit: v.number(),
} satisfies PropertyValidators

export const updateByCloseExpiresAtArgs = {
  closeExpiresAtLessThan: v.number(),
  update: vUpdate,
  limit: v.number(),
} satisfies PropertyValidators

export const updateByExecutorIdAndNPCAndReturnArgs = {
  shard: v.number(),
  executorId: v.string(),
  npc: v.boolean(),
  update: vUpdate,
  limit: v.number(),
} satisfies PropertyValidators

export const getManyByParentExecutionIdArgs = {
  requests: v.array(v.object({ parentExecutionId: v.string() })),
} satisfies PropertyValidators

export const updateManyByParentExecutionIdAndIsFinishedArgs = {
  requests: v.array(
    v.object({ parentExecutionId: v.string(), isFinished: v.boolean(), update: vUpdate }),
  ),
} satisfies PropertyValidators

export const updateAndDecrementParentACCByIsFinishedAndCloseStatusArgs = {
  shard: v.number(),
  isFinished: v.boolean(),
  closeStatus: vCloseStatus,
  update: vUpdate,
  limit: v.number(),
} satisfies PropertyValidators

export const deleteByIdArgs = {
  executionId: v.string(),
} satisfies PropertyValidators

export const deleteAllArgs = {} satisfies PropertyValidators
