//! Test fixtures: the one set of time margins and the one set of execution values that every
//! Rust test of a store uses (this crate's unit tests, the conformance suite).
//!
//! Compiled for this crate's own tests and, with the `fixtures` feature, for other crates
//! (the conformance suite, and the bench, which takes its time margins from here); it is no
//! part of the storage API. The values are typed, so they live here, next to
//! the types, where every crate that names a [`TaskExecutionStorageValue`] can reach them; the
//! JSON documents of the emulator's wire-level tests live in `convex-storage-testkit`.
//!
//! # Time
//!
//! A store rewrites timestamps with its own clock (docs/SPEC.md section 3), so a test that
//! shares the store's clock picks its timestamps from two bands that never meet a clock:
//! the past band (non-zero values are always clamped up to now, `0` never is) and the future
//! band (never clamped, never stale). The margins below are the only waits tests make on a
//! wall clock; on a manual clock they are how far the clock is moved instead.

use crate::storage::*;
use crate::types::*;

/// Timestamps a test supplies in the past band stay below this (1970-01-01T00:16:40Z), in ms:
/// far below any clock reading, so any non-zero one is clamped up to the store's now.
pub const PAST_BAND_END_MS: i64 = 1_000_000;
/// A past-band timestamp that is not `0`: every store clamps it up to its now (`0` is kept
/// where upstream guards with `x && x < now`).
pub const PAST_MS: i64 = 7;
/// Timestamps a test supplies in the future band start here (2096-10-02), in ms: seventy years
/// past any clock this code runs on, so never clamped and never stale.
pub const FUTURE_BAND_START_MS: i64 = 4_000_000_000_000;

/// How long after a write's answer every row it wrote is stale (`updatedAt < clock`), in ms.
///
/// A write stamps `updatedAt` with its clock reading plus 50 ms; 10 ms more covers rounding of
/// the two clocks to whole milliseconds. Tests on a manual clock move the clock this far.
pub const STALE_AFTER_WRITE_MS: u64 = 60;
/// The least time between a write's answer and the next write, in ms: two writes in the same
/// millisecond would store equal clock values and fall back to creation order in the indexes.
pub const WRITE_GAP_MS: u64 = 2;
/// The longest an insert and the claim right after it may take together, on a wall clock, for
/// the "a fresh row is not stale yet" check to count, in ms: it must stay below the 50 ms a
/// write adds to `now`, or the row may be stale by the time the claim reads the clock.
pub const FRESH_ROW_CHECK_MAX_MS: u64 = 40;

/// A future-band timestamp.
pub const F0: i64 = FUTURE_BAND_START_MS;
/// A later future-band timestamp.
pub const F1: i64 = FUTURE_BAND_START_MS + 1_000;
/// A still later future-band timestamp.
pub const F2: i64 = FUTURE_BAND_START_MS + 2_000;

/// An execution with no optional field, as durable-execution creates a ready root: every
/// timestamp 0 (an insert clamps `startAt` 0 to now).
pub fn minimal_execution(execution_id: &str) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue::create(NewTaskExecution {
        timeout_ms: 1_000,
        ..NewTaskExecution::new("task", execution_id, "input")
    })
}

/// An execution with every optional field set and distinct values everywhere (so a field
/// mapped to the wrong name shows up), every timestamp in the future band (so a store keeps
/// them all). Its sleeping task unique id is derived from `execution_id`, so several can be
/// inserted together.
pub fn full_execution(execution_id: &str) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue {
        root: Some(TaskExecutionSummary {
            task_id: "rootTask".into(),
            execution_id: "rootExec".into(),
        }),
        parent: Some(ParentTaskExecutionSummary {
            task_id: "parentTask".into(),
            execution_id: "parentExec".into(),
            index_in_parent_children: 3,
            is_only_child_of_parent: true,
            is_finalize_of_parent: false,
        }),
        task_id: "task".into(),
        execution_id: execution_id.into(),
        is_sleeping_task: true,
        sleeping_task_unique_id: Some(format!("{execution_id}-sleep")),
        retry_options: TaskRetryOptions {
            max_attempts: 5,
            base_delay_ms: Some(100),
            max_delay_ms: Some(2_000),
            delay_multiplier: Some(1.5),
        },
        sleep_ms_before_run: 10,
        timeout_ms: 20,
        are_children_sequential: true,
        input: "{\"in\":[1,2],\"s\":\"ü\"}".into(),
        executor_id: Some("executor".into()),
        status: TaskExecutionStatus::WaitingForChildren,
        is_finished: false,
        run_output: Some("run".into()),
        output: Some("out".into()),
        error: Some(DurableExecutionErrorStorageValue {
            error_type: DurableExecutionErrorType::NotFound,
            message: "missing".into(),
            is_retryable: true,
            is_internal: false,
        }),
        retry_attempts: 2,
        start_at: F0,
        started_at: Some(F0 + 1),
        expires_at: Some(F0 + 2),
        waiting_for_children_started_at: Some(F0 + 3),
        waiting_for_finalize_started_at: Some(F0 + 4),
        finished_at: Some(F0 + 5),
        children: Some(vec![
            TaskExecutionSummary {
                task_id: "c1".into(),
                execution_id: "ce1".into(),
            },
            TaskExecutionSummary {
                task_id: "c2".into(),
                execution_id: "ce2".into(),
            },
        ]),
        active_children_count: 2,
        on_children_finished_processing_status: OnChildrenFinishedProcessingStatus::Processing,
        on_children_finished_processing_expires_at: Some(F0 + 6),
        on_children_finished_processing_finished_at: Some(F0 + 7),
        finalize: Some(TaskExecutionSummary {
            task_id: "fin".into(),
            execution_id: "finExec".into(),
        }),
        close_status: TaskExecutionCloseStatus::Closing,
        close_expires_at: Some(F0 + 8),
        closed_at: Some(F0 + 9),
        needs_promise_cancellation: true,
        created_at: F0 + 10,
        updated_at: F0 + 11,
    }
}

/// A ready child of `parent_id` at `index`, with the parent flags given, as durable-execution
/// creates one.
pub fn child_execution(
    execution_id: &str,
    parent_id: &str,
    index: i64,
    only: bool,
    finalize: bool,
) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue {
        parent: Some(ParentTaskExecutionSummary {
            task_id: "task".into(),
            execution_id: parent_id.into(),
            index_in_parent_children: index,
            is_only_child_of_parent: only,
            is_finalize_of_parent: finalize,
        }),
        ..minimal_execution(execution_id)
    }
}

/// An update with every field set to a value unlike [`full_execution`]'s (timestamps in the
/// future band), every unset flag off, and `updatedAt` [`F1`].
pub fn full_update() -> TaskExecutionStorageUpdate {
    TaskExecutionStorageUpdate {
        executor_id: Some("ex2".into()),
        status: Some(TaskExecutionStatus::Completed),
        is_finished: Some(true),
        run_output: Some("run2".into()),
        output: Some("out2".into()),
        error: Some(DurableExecutionErrorStorageValue {
            error_type: DurableExecutionErrorType::TimedOut,
            message: "late".into(),
            is_retryable: false,
            is_internal: true,
        }),
        retry_attempts: Some(7),
        start_at: Some(F0 + 20),
        started_at: Some(F0 + 21),
        expires_at: Some(F0 + 22),
        waiting_for_children_started_at: Some(F0 + 23),
        waiting_for_finalize_started_at: Some(F0 + 24),
        finished_at: Some(F0 + 25),
        children: Some(vec![TaskExecutionSummary {
            task_id: "c3".into(),
            execution_id: "ce3".into(),
        }]),
        active_children_count: Some(9),
        on_children_finished_processing_status: Some(OnChildrenFinishedProcessingStatus::Processed),
        on_children_finished_processing_expires_at: Some(F0 + 26),
        on_children_finished_processing_finished_at: Some(F0 + 27),
        finalize: Some(TaskExecutionSummary {
            task_id: "fin2".into(),
            execution_id: "finExec2".into(),
        }),
        close_status: Some(TaskExecutionCloseStatus::Closed),
        close_expires_at: Some(F0 + 28),
        closed_at: Some(F0 + 29),
        needs_promise_cancellation: Some(false),
        updated_at: F1,
        unset: None,
    }
}

/// An update that changes nothing but asks for `updatedAt` = `updated_at`.
pub fn touch(updated_at: i64) -> TaskExecutionStorageUpdate {
    TaskExecutionStorageUpdate {
        updated_at,
        ..TaskExecutionStorageUpdate::default()
    }
}

/// Every unset flag on.
pub fn unset_all() -> TaskExecutionStorageUnset {
    TaskExecutionStorageUnset {
        executor_id: true,
        run_output: true,
        error: true,
        started_at: true,
        expires_at: true,
        on_children_finished_processing_expires_at: true,
        close_expires_at: true,
    }
}

/// Calls `operation` once on `storage` with small valid arguments, and says what it answered
/// as a number: how many rows it returned or counted (0 for operations that answer nothing).
///
/// It is the one place a test reaches every operation by its registry entry: the endpoint
/// test and the fault tests run it over `Operation::ALL`, so a new operation fails to compile
/// here until it has a call, instead of being left out of a hand-kept list. It inserts
/// [`minimal_execution`]`("inserted")`; the other calls name the execution `"a"` (with `"x"`
/// as the executor) and have a limit of 10.
pub async fn call_once(
    storage: &dyn crate::TaskExecutionsStorage,
    operation: convex_storage_operations::Operation,
) -> Result<u64, crate::StorageError> {
    use convex_storage_operations::Operation as Op;
    use TaskExecutionCloseStatus as Close;
    use TaskExecutionStatus as Status;
    const LIMIT: u32 = 10;
    const NOT_YET: i64 = i64::MAX / 2;
    let s = storage;
    let update = || touch(0);
    let found = |rows: Vec<Option<TaskExecutionStorageValue>>| rows.iter().flatten().count() as u64;
    let len = |rows: Vec<TaskExecutionStorageValue>| rows.len() as u64;
    match operation {
        Op::InsertMany => s
            .insert_many(vec![minimal_execution("inserted")])
            .await
            .map(|_| 0),
        Op::GetManyById => s
            .get_many_by_id(vec![GetByIdRequest {
                execution_id: "a".into(),
                filters: None,
            }])
            .await
            .map(found),
        Op::GetManyBySleepingTaskUniqueId => s
            .get_many_by_sleeping_task_unique_id(vec!["s".into()])
            .await
            .map(found),
        Op::UpdateManyById => s
            .update_many_by_id(vec![UpdateByIdRequest {
                execution_id: "a".into(),
                filters: None,
                update: update(),
            }])
            .await
            .map(|_| 0),
        Op::UpdateManyByIdAndInsertChildrenIfUpdated => s
            .update_many_by_id_and_insert_children_if_updated(vec![
                UpdateByIdAndInsertChildrenRequest {
                    execution_id: "a".into(),
                    filters: None,
                    update: update(),
                    children_task_executions_to_insert_if_any_updated: vec![],
                },
            ])
            .await
            .map(|_| 0),
        Op::UpdateByStatusAndStartAtLessThanAndReturn => s
            .update_by_status_and_start_at_less_than_and_return(
                UpdateByStatusAndStartAtLessThanRequest {
                    status: Status::Ready,
                    start_at_less_than: NOT_YET,
                    update: update(),
                    update_expires_at_with_started_at: 0,
                    limit: LIMIT,
                },
            )
            .await
            .map(len),
        Op::UpdateByStatusAndOCFPStatusAndACCZeroAndReturn => s
            .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
                UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
                    status: Status::WaitingForChildren,
                    on_children_finished_processing_status: OnChildrenFinishedProcessingStatus::Idle,
                    update: update(),
                    limit: LIMIT,
                },
            )
            .await
            .map(len),
        Op::UpdateByCloseStatusAndReturn => s
            .update_by_close_status_and_return(UpdateByCloseStatusRequest {
                close_status: Close::Ready,
                update: update(),
                limit: LIMIT,
            })
            .await
            .map(len),
        Op::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan => {
            s.update_by_status_and_is_sleeping_task_and_expires_at_less_than(
                UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
                    status: Status::Running,
                    is_sleeping_task: false,
                    expires_at_less_than: NOT_YET,
                    update: update(),
                    limit: LIMIT,
                },
            )
            .await
        }
        Op::UpdateByOCFPExpiresAt => {
            s.update_by_on_children_finished_processing_expires_at_less_than(
                UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
                    on_children_finished_processing_expires_at_less_than: NOT_YET,
                    update: update(),
                    limit: LIMIT,
                },
            )
            .await
        }
        Op::UpdateByCloseExpiresAt => {
            s.update_by_close_expires_at_less_than(UpdateByCloseExpiresAtLessThanRequest {
                close_expires_at_less_than: NOT_YET,
                update: update(),
                limit: LIMIT,
            })
            .await
        }
        Op::UpdateByExecutorIdAndNPCAndReturn => s
            .update_by_executor_id_and_needs_promise_cancellation_and_return(
                UpdateByExecutorIdAndNeedsPromiseCancellationRequest {
                    executor_id: "x".into(),
                    needs_promise_cancellation: true,
                    update: update(),
                    limit: LIMIT,
                },
            )
            .await
            .map(len),
        Op::GetManyByParentExecutionId => s
            .get_many_by_parent_execution_id(vec!["a".into()])
            .await
            .map(|children| children.iter().map(Vec::len).sum::<usize>() as u64),
        Op::UpdateManyByParentExecutionIdAndIsFinished => s
            .update_many_by_parent_execution_id_and_is_finished(vec![
                UpdateByParentExecutionIdAndIsFinishedRequest {
                    parent_execution_id: "a".into(),
                    is_finished: false,
                    update: update(),
                },
            ])
            .await
            .map(|_| 0),
        Op::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus => {
            s.update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                UpdateAndDecrementParentActiveChildrenCountRequest {
                    is_finished: true,
                    close_status: Close::Ready,
                    update: update(),
                    limit: LIMIT,
                },
            )
            .await
        }
        Op::DeleteById => s.delete_by_id("a").await.map(|_| 0),
        Op::DeleteAll => s.delete_all().await.map(|_| 0),
    }
}
