/**
 * The inner arguments of the 17 storage functions (docs/SPEC.md section 5).
 *
 * For the nine functions that validate, the component uses these as its functions' `args`
 * validators, and the app checks the inner `args` of the public `{authSecret, args}`
 * envelope against the same objects right after the auth secret.
 *
 * The eight locked selectors validate nothing, as upstream (neither the public action nor
 * the component mutation declares validators). For them this module only gives TypeScript
 * types: what a well-behaved caller sends, not what the functions can rely on.
 */
import { v, type PropertyValidators } from 'convex/values'

import {
  vByIdFilters,
  vExecutionInsert,
  vUpdate,
  type CloseStatus,
  type OcfpStatus,
  type Status,
  type Update,
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

export const getManyByParentExecutionIdArgs = {
  requests: v.array(v.object({ parentExecutionId: v.string() })),
} satisfies PropertyValidators

export const updateManyByParentExecutionIdAndIsFinishedArgs = {
  requests: v.array(
    v.object({ parentExecutionId: v.string(), isFinished: v.boolean(), update: vUpdate }),
  ),
} satisfies PropertyValidators

export const deleteByIdArgs = {
  executionId: v.string(),
} satisfies PropertyValidators

export const deleteAllArgs = {} satisfies PropertyValidators

// ---------------------------------------------------------------------------------------
// The locked selectors' inner args: types only, never checked.

export type StartAtSelectorArgs = {
  shard: number
  status: Status
  startAtLessThan: number
  update: Update
  updateExpiresAtWithStartedAt: number
  limit: number
}

export type OcfpSelectorArgs = {
  shard: number
  status: Status
  ocfpStatus: OcfpStatus
  update: Update
  limit: number
}

export type CloseStatusSelectorArgs = {
  shard: number
  closeStatus: CloseStatus
  update: Update
  limit: number
}

export type ExpirySelectorArgs = {
  status: Status
  isSleepingTask: boolean
  expiresAtLessThan: number
  update: Update
  limit: number
}

export type OcfpExpirySelectorArgs = {
  ocfpExpiresAtLessThan: number
  update: Update
  limit: number
}

export type CloseExpirySelectorArgs = {
  closeExpiresAtLessThan: number
  update: Update
  limit: number
}

export type ExecutorSelectorArgs = {
  shard: number
  executorId: string
  npc: boolean
  update: Update
  limit: number
}

export type SweepArgs = {
  shard: number
  isFinished: boolean
  closeStatus: CloseStatus
  update: Update
  limit: number
}
