/**
 * The one list of the 17 storage operations, in the order the storage interface declares
 * them, with their inner arguments (docs/SPEC.md section 5). The public module builds its locked selectors from it, the test suite derives its
 * function kinds from it, and `test/operations.test.ts` fails when the component or the
 * public module disagrees with it (a missing function, a wrong kind, a lock that is not
 * taken, a wrong answer when busy).
 *
 * Per operation:
 * - `kind`: what the public function is (`taskExecutionsStorage:<name>`);
 * - `component`: what the component function of the same name is (`lib:<name>`); the public
 *   actions that are not `deleteAll` each run one component mutation;
 * - `args`: for the nine functions that validate, the validator of the inner `args`: the
 *   component declares it as its function's `args`, and the public function checks the inner
 *   `args` of the `{authSecret, args}` envelope against it right after the secret. null for
 *   the eight locked selectors, which validate nothing, as upstream (neither the public action
 *   nor the component mutation declares validators); their `*SelectorArgs` types below say
 *   what a well-behaved caller sends, not what the functions can rely on;
 * - `lock`: for the eight locked selectors, the lock key built from the inner `args` (read
 *   with plain property access, so inner args that are absent or null throw a TypeError
 *   here, as upstream's client does) and what the public function answers at once when that
 *   lock is busy; null for the other nine.
 *
 * Invariant: pure data, validators and key builders; this module knows no database, auth or
 * HTTP.
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

export type FunctionKind = 'query' | 'mutation' | 'action'

/** What a busy locked selector answers: an empty list (selectors that return rows) or 0. */
export type WhenBusy = readonly [] | 0

/**
 * Inner args as a locked selector receives them: never validated, so any field may be
 * missing or of any type. Reading a field of `undefined`/`null` args throws a TypeError.
 */
export type UncheckedArgs = Record<string, unknown>

export type SelectorLock = {
  key: (args: UncheckedArgs) => string
  whenBusy: WhenBusy
}

export type Operation = {
  kind: FunctionKind
  component: FunctionKind
  args: PropertyValidators | null
  lock: SelectorLock | null
}

const EMPTY: readonly [] = Object.freeze([]) as readonly []

export const OPERATIONS = {
  insertMany: {
    kind: 'mutation',
    component: 'mutation',
    args: {
      executions: v.array(vExecutionInsert),
    },
    lock: null,
  },
  getManyById: {
    kind: 'query',
    component: 'query',
    args: {
      requests: v.array(v.object({ executionId: v.string(), filters: v.optional(vByIdFilters) })),
    },
    lock: null,
  },
  getManyBySleepingTaskUniqueId: {
    kind: 'query',
    component: 'query',
    args: {
      requests: v.array(v.object({ sleepingTaskUniqueId: v.string() })),
    },
    lock: null,
  },
  updateManyById: {
    kind: 'action',
    component: 'mutation',
    args: {
      requests: v.array(
        v.object({ executionId: v.string(), filters: v.optional(vByIdFilters), update: vUpdate }),
      ),
    },
    lock: null,
  },
  updateManyByIdAndInsertChildrenIfUpdated: {
    kind: 'action',
    component: 'mutation',
    args: {
      requests: v.array(
        v.object({
          executionId: v.string(),
          filters: v.optional(vByIdFilters),
          update: vUpdate,
          childrenTaskExecutionsToInsertIfAnyUpdated: v.array(vExecutionInsert),
        }),
      ),
    },
    lock: null,
  },
  updateByStatusAndStartAtLessThanAndReturn: {
    kind: 'action',
    component: 'mutation',
    args: null,
    lock: {
      key: (a) => `updateByStatusAndStartAtLessThanAndReturn_${a.shard}_${a.status}`,
      whenBusy: EMPTY,
    },
  },
  updateByStatusAndOCFPStatusAndACCZeroAndReturn: {
    kind: 'action',
    component: 'mutation',
    args: null,
    lock: {
      key: (a) =>
        `updateByStatusAndOCFPStatusAndACCZeroAndReturn_${a.shard}_${a.status}_${a.ocfpStatus}`,
      whenBusy: EMPTY,
    },
  },
  updateByCloseStatusAndReturn: {
    kind: 'action',
    component: 'mutation',
    args: null,
    lock: {
      key: (a) => `updateByCloseStatusAndReturn_${a.shard}_${a.closeStatus}`,
      whenBusy: EMPTY,
    },
  },
  updateByStatusAndIsSleepingTaskAndExpiresAtLessThan: {
    kind: 'action',
    component: 'mutation',
    args: null,
    lock: {
      key: (a) =>
        `updateByStatusAndIsSleepingTaskAndExpiresAtLessThan_${a.status}_${a.isSleepingTask}`,
      whenBusy: 0,
    },
  },
  // These two keys are constants: their inner args are not read before the lock is taken.
  updateByOCFPExpiresAt: {
    kind: 'action',
    component: 'mutation',
    args: null,
    lock: { key: () => 'updateByOCFPExpiresAt', whenBusy: 0 },
  },
  updateByCloseExpiresAt: {
    kind: 'action',
    component: 'mutation',
    args: null,
    lock: { key: () => 'updateByCloseExpiresAt', whenBusy: 0 },
  },
  updateByExecutorIdAndNPCAndReturn: {
    kind: 'action',
    component: 'mutation',
    args: null,
    lock: {
      key: (a) => `updateByExecutorIdAndNPCAndReturn_${a.shard}_${a.executorId}_${a.npc}`,
      whenBusy: EMPTY,
    },
  },
  getManyByParentExecutionId: {
    kind: 'query',
    component: 'query',
    args: {
      requests: v.array(v.object({ parentExecutionId: v.string() })),
    },
    lock: null,
  },
  updateManyByParentExecutionIdAndIsFinished: {
    kind: 'action',
    component: 'mutation',
    args: {
      requests: v.array(
        v.object({ parentExecutionId: v.string(), isFinished: v.boolean(), update: vUpdate }),
      ),
    },
    lock: null,
  },
  updateAndDecrementParentACCByIsFinishedAndCloseStatus: {
    kind: 'action',
    component: 'mutation',
    args: null,
    lock: {
      key: (a) =>
        `updateAndDecrementParentACCByIsFinishedAndCloseStatus_${a.shard}_${a.isFinished}_${a.closeStatus}`,
      whenBusy: 0,
    },
  },
  deleteById: {
    kind: 'mutation',
    component: 'mutation',
    args: {
      executionId: v.string(),
    },
    lock: null,
  },
  deleteAll: {
    kind: 'action',
    component: 'action',
    args: {},
    lock: null,
  },
} as const satisfies Record<string, Operation>

export type OperationName = keyof typeof OPERATIONS

/** The names of the eight operations that run under a selector lock. */
export type LockedOperationName = {
  [Name in OperationName]: (typeof OPERATIONS)[Name]['lock'] extends null ? never : Name
}[OperationName]

export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[]

/** The component's functions that are not storage operations (the lock pair, deleteAll's batch). */
export const COMPONENT_HELPERS = {
  acquireLock: 'mutation',
  releaseLock: 'mutation',
  deleteMany: 'mutation',
} as const satisfies Record<string, FunctionKind>

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
