//! Values for the unit tests: one with every optional field set, one with none.

use crate::types::*;

/// An execution with every optional field set and distinct values everywhere, so a field
/// mapped to the wrong name shows up.
pub(crate) fn full_value() -> TaskExecutionStorageValue {
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
        execution_id: "exec".into(),
        is_sleeping_task: true,
        sleeping_task_unique_id: Some("sleepy".into()),
        retry_options: TaskRetryOptions {
            max_attempts: 5,
            base_delay_ms: Some(100),
            max_delay_ms: Some(2_000),
            delay_multiplier: Some(1.5),
        },
        sleep_ms_before_run: 10,
        timeout_ms: 20,
        are_children_sequential: true,
        input: "{\"in\":1}".into(),
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
        start_at: 1_000,
        started_at: Some(1_001),
        expires_at: Some(1_002),
        waiting_for_children_started_at: Some(1_003),
        waiting_for_finalize_started_at: Some(1_004),
        finished_at: Some(1_005),
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
        on_children_finished_processing_expires_at: Some(1_006),
        on_children_finished_processing_finished_at: Some(1_007),
        finalize: Some(TaskExecutionSummary {
            task_id: "fin".into(),
            execution_id: "finExec".into(),
        }),
        close_status: TaskExecutionCloseStatus::Closing,
        close_expires_at: Some(1_008),
        closed_at: Some(1_009),
        needs_promise_cancellation: true,
        created_at: 900,
        updated_at: 950,
    }
}

/// An execution with no optional field, as durable-execution creates a ready root.
pub(crate) fn minimal_value(execution_id: &str) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue::create(NewTaskExecution {
        timeout_ms: 1_000,
        ..NewTaskExecution::new("task", execution_id, "input")
    })
}

/// An update with every field set and every unset flag off.
pub(crate) fn full_update() -> TaskExecutionStorageUpdate {
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
        start_at: Some(2_000),
        started_at: Some(2_001),
        expires_at: Some(2_002),
        waiting_for_children_started_at: Some(2_003),
        waiting_for_finalize_started_at: Some(2_004),
        finished_at: Some(2_005),
        children: Some(vec![TaskExecutionSummary {
            task_id: "c3".into(),
            execution_id: "ce3".into(),
        }]),
        active_children_count: Some(9),
        on_children_finished_processing_status: Some(OnChildrenFinishedProcessingStatus::Processed),
        on_children_finished_processing_expires_at: Some(2_006),
        on_children_finished_processing_finished_at: Some(2_007),
        finalize: Some(TaskExecutionSummary {
            task_id: "fin2".into(),
            execution_id: "finExec2".into(),
        }),
        close_status: Some(TaskExecutionCloseStatus::Closed),
        close_expires_at: Some(2_008),
        closed_at: Some(2_009),
        needs_promise_cancellation: Some(false),
        updated_at: 2_010,
        unset: None,
    }
}

/// Every unset flag on.
pub(crate) fn unset_all() -> TaskExecutionStorageUnset {
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
