//! The executions the workloads insert, built in durable-execution's own shape.

use std::time::{SystemTime, UNIX_EPOCH};

use durable_execution_storage_convex::{
    OnChildrenFinishedProcessingStatus, ParentTaskExecutionSummary, TaskExecutionCloseStatus,
    TaskExecutionStatus, TaskExecutionStorageUpdate, TaskExecutionStorageValue,
    TaskExecutionSummary, TaskRetryOptions,
};

/// Far enough ahead that no clamp touches it and no `< now` bound selects it (year 2096).
pub const FAR_FUTURE_MS: i64 = 4_000_000_000_000;
/// A start time in the past: the store raises it to its own `now`, so it is claimable at once.
pub const PAST_MS: i64 = 1;

/// The wall clock in milliseconds since the epoch, as an executor would pass it.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A fresh root execution, ready to run, with an input of `input_bytes` bytes.
pub fn ready_execution(execution_id: String, input_bytes: usize) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue {
        root: None,
        parent: None,
        task_id: "bench-task".to_string(),
        execution_id,
        is_sleeping_task: false,
        sleeping_task_unique_id: None,
        retry_options: TaskRetryOptions {
            max_attempts: 3,
            base_delay_ms: Some(100),
            max_delay_ms: Some(1_000),
            delay_multiplier: Some(1.5),
        },
        sleep_ms_before_run: 0,
        timeout_ms: 60_000,
        are_children_sequential: false,
        input: "x".repeat(input_bytes),
        executor_id: None,
        status: TaskExecutionStatus::Ready,
        is_finished: false,
        run_output: None,
        output: None,
        error: None,
        retry_attempts: 0,
        start_at: PAST_MS,
        started_at: None,
        expires_at: None,
        waiting_for_children_started_at: None,
        waiting_for_finalize_started_at: None,
        finished_at: None,
        children: None,
        active_children_count: 0,
        on_children_finished_processing_status: OnChildrenFinishedProcessingStatus::Idle,
        on_children_finished_processing_expires_at: None,
        on_children_finished_processing_finished_at: None,
        finalize: None,
        close_status: TaskExecutionCloseStatus::Idle,
        close_expires_at: None,
        closed_at: None,
        needs_promise_cancellation: false,
        created_at: 0,
        updated_at: 0,
    }
}

/// A child of `parent`, ready to run.
pub fn child_execution(
    parent: &TaskExecutionStorageValue,
    execution_id: String,
    index: i64,
) -> TaskExecutionStorageValue {
    let mut child = ready_execution(execution_id, 16);
    child.root = Some(TaskExecutionSummary {
        task_id: parent.task_id.clone(),
        execution_id: parent.execution_id.clone(),
    });
    child.parent = Some(ParentTaskExecutionSummary {
        task_id: parent.task_id.clone(),
        execution_id: parent.execution_id.clone(),
        index_in_parent_children: index,
        is_only_child_of_parent: false,
        is_finalize_of_parent: false,
    });
    child
}

/// An update that only touches `updatedAt` (so a selector's rows stay selectable later).
pub fn touch(now: i64) -> TaskExecutionStorageUpdate {
    TaskExecutionStorageUpdate {
        updated_at: now,
        ..Default::default()
    }
}
