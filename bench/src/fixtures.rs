//! The executions the workloads insert, built in durable-execution's own shape.

use std::time::{SystemTime, UNIX_EPOCH};

use durable_execution_storage_convex::{
    NewTaskExecution, ParentTaskExecutionSummary, TaskExecutionStorageValue, TaskExecutionSummary,
    TaskRetryOptions,
};

/// The shared time margins of the adapter's `fixtures` module: `FAR_FUTURE_MS` is far enough
/// ahead that no clamp touches it and no `< now` bound selects it; `PAST_MS` is a start time in
/// the past that a store raises to its own `now`, so the row is claimable at once. `touch`
/// is an update that only moves `updatedAt`.
pub use durable_execution_storage_convex::fixtures::{
    touch, FUTURE_BAND_START_MS as FAR_FUTURE_MS, PAST_MS,
};

/// The wall clock in milliseconds since the epoch, as an executor would pass it.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A fresh root execution, ready to run, with an input of `input_bytes` bytes.
pub fn ready_execution(execution_id: String, input_bytes: usize) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue::create(NewTaskExecution {
        now: PAST_MS,
        retry_options: TaskRetryOptions {
            max_attempts: 3,
            base_delay_ms: Some(100),
            max_delay_ms: Some(1_000),
            delay_multiplier: Some(1.5),
        },
        timeout_ms: 60_000,
        ..NewTaskExecution::new("bench-task", execution_id, "x".repeat(input_bytes))
    })
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
