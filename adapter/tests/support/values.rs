//! Builders for the values the integration checks insert.

#![allow(dead_code)] // Each test crate that includes this uses a different part of it.

use durable_execution_storage_convex::*;

/// A timestamp in the future band: never clamped by a store, never stale. Around year 2128.
pub const FUTURE_MS: i64 = 5_000_000_000_000;

/// How long to wait before a stale-row selector so every row written so far is stale:
/// writes stamp `updatedAt = clock + 50`, selectors want `updatedAt < clock`.
pub const STALE_WAIT_MS: u64 = 120;

/// Waits until every row written so far is stale for the stale-row selectors.
pub async fn wait_until_stale() {
    tokio::time::sleep(std::time::Duration::from_millis(STALE_WAIT_MS)).await;
}

/// The system clock, in ms since the epoch.
pub fn clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// A ready root execution with no optional field, as durable-execution creates one.
pub fn ready(execution_id: &str) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue::create(NewTaskExecution {
        timeout_ms: 1_000,
        ..NewTaskExecution::new("task", execution_id, "input")
    })
}

/// An execution with every optional field set, every timestamp in the future band.
pub fn full(execution_id: &str) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue {
        root: Some(TaskExecutionSummary {
            task_id: "rootTask".into(),
            execution_id: "rootExec".into(),
        }),
        parent: Some(ParentTaskExecutionSummary {
            task_id: "parentTask".into(),
            execution_id: format!("{execution_id}-parent"),
            index_in_parent_children: 3,
            is_only_child_of_parent: true,
            is_finalize_of_parent: false,
        }),
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
        input: "{\"in\":[1,2]}".into(),
        executor_id: Some("executor".into()),
        status: TaskExecutionStatus::WaitingForChildren,
        run_output: Some("run".into()),
        output: Some("out".into()),
        error: Some(DurableExecutionErrorStorageValue {
            error_type: DurableExecutionErrorType::NotFound,
            message: "missing".into(),
            is_retryable: true,
            is_internal: false,
        }),
        retry_attempts: 2,
        start_at: FUTURE_MS,
        started_at: Some(FUTURE_MS + 1),
        expires_at: Some(FUTURE_MS + 2),
        waiting_for_children_started_at: Some(FUTURE_MS + 3),
        waiting_for_finalize_started_at: Some(FUTURE_MS + 4),
        finished_at: Some(FUTURE_MS + 5),
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
        on_children_finished_processing_expires_at: Some(FUTURE_MS + 6),
        on_children_finished_processing_finished_at: Some(FUTURE_MS + 7),
        finalize: Some(TaskExecutionSummary {
            task_id: "fin".into(),
            execution_id: "finExec".into(),
        }),
        close_status: TaskExecutionCloseStatus::Closing,
        close_expires_at: Some(FUTURE_MS + 8),
        closed_at: Some(FUTURE_MS + 9),
        needs_promise_cancellation: true,
        ..ready(execution_id)
    }
}

/// A child of `parent`, as durable-execution creates one.
pub fn child(
    parent: &str,
    execution_id: &str,
    index: i64,
    only_child: bool,
    finalize: bool,
) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue {
        root: Some(TaskExecutionSummary {
            task_id: "task".into(),
            execution_id: parent.into(),
        }),
        parent: Some(ParentTaskExecutionSummary {
            task_id: "task".into(),
            execution_id: parent.into(),
            index_in_parent_children: index,
            is_only_child_of_parent: only_child,
            is_finalize_of_parent: finalize,
        }),
        ..ready(execution_id)
    }
}

/// An update that changes nothing but `updatedAt`.
pub fn touch() -> TaskExecutionStorageUpdate {
    TaskExecutionStorageUpdate {
        updated_at: 0,
        ..Default::default()
    }
}

/// A get-by-id request without filters.
pub fn by_id(execution_id: &str) -> GetByIdRequest {
    GetByIdRequest {
        execution_id: execution_id.into(),
        filters: None,
    }
}

/// The execution ids of `values`, in order.
pub fn ids(values: &[TaskExecutionStorageValue]) -> Vec<&str> {
    values.iter().map(|v| v.execution_id.as_str()).collect()
}
