//! The storage value, the update request and their parts, in durable-execution's own names.
//!
//! These are the types a Rust service works with; the Convex field names (`acc`, `ocfpStatus`,
//! `npc`, flattened `root*`/`parent*` fields) never appear here. All timestamps are
//! milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};

/// The lifecycle state of one task execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskExecutionStatus {
    /// Waiting to be claimed by an executor once `start_at` has passed.
    Ready,
    /// Claimed and running on an executor (or, for a sleeping task, waiting to be woken).
    Running,
    /// The run failed and will not be retried.
    Failed,
    /// The run did not finish within `timeout_ms`.
    TimedOut,
    /// The run finished and its children are still running.
    WaitingForChildren,
    /// The children finished and the finalize task is running.
    WaitingForFinalize,
    /// The finalize task failed.
    FinalizeFailed,
    /// Finished successfully.
    Completed,
    /// Cancelled by a user or by a failing parent.
    Cancelled,
}

impl TaskExecutionStatus {
    /// Every status, in declaration order; handy for generators and tables.
    pub const ALL: [TaskExecutionStatus; 9] = [
        Self::Ready,
        Self::Running,
        Self::Failed,
        Self::TimedOut,
        Self::WaitingForChildren,
        Self::WaitingForFinalize,
        Self::FinalizeFailed,
        Self::Completed,
        Self::Cancelled,
    ];

    /// The wire string, exactly as SPEC.md spells it (`"waiting_for_children"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Running => "running",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::WaitingForChildren => "waiting_for_children",
            Self::WaitingForFinalize => "waiting_for_finalize",
            Self::FinalizeFailed => "finalize_failed",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Where a parent stands in processing the end of its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnChildrenFinishedProcessingStatus {
    /// Nothing to do yet.
    Idle,
    /// An executor is processing the finished children.
    Processing,
    /// Done.
    Processed,
}

impl OnChildrenFinishedProcessingStatus {
    /// Every status, in declaration order.
    pub const ALL: [OnChildrenFinishedProcessingStatus; 3] =
        [Self::Idle, Self::Processing, Self::Processed];

    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Processing => "processing",
            Self::Processed => "processed",
        }
    }
}

/// Where an execution stands in being closed (its parent told, its promise settled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskExecutionCloseStatus {
    /// Not finished yet.
    Idle,
    /// Finished and waiting to be closed.
    Ready,
    /// A closer is working on it.
    Closing,
    /// Closed.
    Closed,
}

impl TaskExecutionCloseStatus {
    /// Every status, in declaration order.
    pub const ALL: [TaskExecutionCloseStatus; 4] =
        [Self::Idle, Self::Ready, Self::Closing, Self::Closed];

    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Ready => "ready",
            Self::Closing => "closing",
            Self::Closed => "closed",
        }
    }
}

/// The kind of a stored execution error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurableExecutionErrorType {
    /// Any other error.
    Generic,
    /// The task or execution was not found.
    NotFound,
    /// The run timed out.
    TimedOut,
    /// The execution was cancelled.
    Cancelled,
}

/// An error as durable-execution stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DurableExecutionErrorStorageValue {
    /// What kind of error this is.
    pub error_type: DurableExecutionErrorType,
    /// The human-readable message.
    pub message: String,
    /// Whether the executor may retry the run.
    pub is_retryable: bool,
    /// Whether the error came from durable-execution itself rather than user code.
    pub is_internal: bool,
}

/// How a task is retried. Plain numbers, as the TypeScript side stores them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRetryOptions {
    /// The total number of attempts, the first one included.
    pub max_attempts: i64,
    /// The delay before the first retry, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_delay_ms: Option<i64>,
    /// The cap on any one delay, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay_ms: Option<i64>,
    /// The factor each delay grows by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_multiplier: Option<f64>,
}

/// A pointer to one execution of one task.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecutionSummary {
    /// The task's id.
    pub task_id: String,
    /// The execution's id (unique in the store).
    pub execution_id: String,
}

/// A pointer to the parent execution, with where this child sits among its siblings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentTaskExecutionSummary {
    /// The parent task's id.
    pub task_id: String,
    /// The parent execution's id.
    pub execution_id: String,
    /// This child's position in the parent's `children`.
    pub index_in_parent_children: i64,
    /// Whether this is the parent's only (non-finalize) child.
    pub is_only_child_of_parent: bool,
    /// Whether this is the parent's finalize task rather than a child.
    pub is_finalize_of_parent: bool,
}

/// One stored task execution, as durable-execution's `TaskExecutionStorageValue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecutionStorageValue {
    /// The root execution of the tree this one belongs to; absent for a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<TaskExecutionSummary>,
    /// The parent execution; absent for a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentTaskExecutionSummary>,
    /// The task's id.
    pub task_id: String,
    /// The execution's id, unique in the store.
    pub execution_id: String,
    /// Whether this is a sleeping task, woken from outside rather than run.
    pub is_sleeping_task: bool,
    /// The id a sleeping task is woken by; unique in the store when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleeping_task_unique_id: Option<String>,
    /// How the task is retried.
    pub retry_options: TaskRetryOptions,
    /// The delay between enqueueing and the first run, in milliseconds.
    pub sleep_ms_before_run: i64,
    /// How long one run may take, in milliseconds.
    pub timeout_ms: i64,
    /// Whether the children run one after another.
    pub are_children_sequential: bool,
    /// The serialized input.
    pub input: String,
    /// The executor that holds the execution while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<String>,
    /// The lifecycle state.
    pub status: TaskExecutionStatus,
    /// Whether the status is a final one.
    pub is_finished: bool,
    /// The serialized output of the run function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_output: Option<String>,
    /// The serialized final output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DurableExecutionErrorStorageValue>,
    /// How many retries have been made.
    pub retry_attempts: i64,
    /// When the execution may be claimed.
    pub start_at: i64,
    /// When the current run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When the current run times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// When the execution started waiting for its children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_children_started_at: Option<i64>,
    /// When the execution started waiting for its finalize task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_finalize_started_at: Option<i64>,
    /// When the execution finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// The children spawned by the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<TaskExecutionSummary>>,
    /// How many children are still active (stored as `acc`).
    pub active_children_count: i64,
    /// Stored as `ocfpStatus`.
    pub on_children_finished_processing_status: OnChildrenFinishedProcessingStatus,
    /// Stored as `ocfpExpiresAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_children_finished_processing_expires_at: Option<i64>,
    /// Stored as `ocfpFinishedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_children_finished_processing_finished_at: Option<i64>,
    /// The finalize task spawned once the children finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalize: Option<TaskExecutionSummary>,
    /// Where the execution stands in being closed.
    pub close_status: TaskExecutionCloseStatus,
    /// When the current closer's claim expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_expires_at: Option<i64>,
    /// When the execution was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    /// Whether the executor holding it must cancel its promise (stored as `npc`).
    pub needs_promise_cancellation: bool,
    /// Set by the store at insert.
    pub created_at: i64,
    /// Set by the store at every write.
    pub updated_at: i64,
}

/// What an executor knows when it enqueues an execution: the input of
/// [`TaskExecutionStorageValue::create`], as durable-execution's `createTaskExecutionStorageValue`.
///
/// Start from [`NewTaskExecution::new`] and override what differs:
/// `NewTaskExecution { timeout_ms: 5_000, ..NewTaskExecution::new("task", "exec-1", "{}") }`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTaskExecution {
    /// The caller's clock in milliseconds; the store raises times in the past to its own now.
    pub now: i64,
    /// The root of the tree, for a child.
    pub root: Option<TaskExecutionSummary>,
    /// The parent, for a child.
    pub parent: Option<ParentTaskExecutionSummary>,
    /// The task's id.
    pub task_id: String,
    /// The execution's id, unique in the store.
    pub execution_id: String,
    /// Makes it a sleeping task, woken by this id.
    pub sleeping_task_unique_id: Option<String>,
    /// How the task is retried.
    pub retry_options: TaskRetryOptions,
    /// The delay before the first run, in milliseconds.
    pub sleep_ms_before_run: i64,
    /// How long one run may take, in milliseconds.
    pub timeout_ms: i64,
    /// Whether the children run one after another.
    pub are_children_sequential: bool,
    /// The serialized input.
    pub input: String,
}

impl NewTaskExecution {
    /// A root execution at time 0, one attempt, no delay, a zero timeout: override the rest.
    pub fn new(
        task_id: impl Into<String>,
        execution_id: impl Into<String>,
        input: impl Into<String>,
    ) -> Self {
        Self {
            now: 0,
            root: None,
            parent: None,
            task_id: task_id.into(),
            execution_id: execution_id.into(),
            sleeping_task_unique_id: None,
            retry_options: TaskRetryOptions {
                max_attempts: 1,
                base_delay_ms: None,
                max_delay_ms: None,
                delay_multiplier: None,
            },
            sleep_ms_before_run: 0,
            timeout_ms: 0,
            are_children_sequential: false,
            input: input.into(),
        }
    }
}

impl TaskExecutionStorageValue {
    /// The stored value of a newly enqueued execution, with durable-execution's initial state:
    /// `ready` (a sleeping task: `running`, started now and expiring after its sleep and
    /// timeout), nothing finished, no children, every status `idle`, `start_at = now + sleep`.
    pub fn create(new: NewTaskExecution) -> Self {
        let is_sleeping_task = new.sleeping_task_unique_id.is_some();
        let (status, started_at, expires_at) = if is_sleeping_task {
            (
                TaskExecutionStatus::Running,
                Some(new.now),
                Some(new.now + new.sleep_ms_before_run + new.timeout_ms),
            )
        } else {
            (TaskExecutionStatus::Ready, None, None)
        };
        Self {
            root: new.root,
            parent: new.parent,
            task_id: new.task_id,
            execution_id: new.execution_id,
            is_sleeping_task,
            sleeping_task_unique_id: new.sleeping_task_unique_id,
            retry_options: new.retry_options,
            sleep_ms_before_run: new.sleep_ms_before_run,
            timeout_ms: new.timeout_ms,
            are_children_sequential: new.are_children_sequential,
            input: new.input,
            executor_id: None,
            status,
            is_finished: false,
            run_output: None,
            output: None,
            error: None,
            retry_attempts: 0,
            start_at: new.now + new.sleep_ms_before_run,
            started_at,
            expires_at,
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
            created_at: new.now,
            updated_at: new.now,
        }
    }
}

/// Filters of the get-by-id family: a document matches when every given filter is equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecutionStorageGetByIdFilters {
    /// Match only sleeping (or only non-sleeping) tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_sleeping_task: Option<bool>,
    /// Match only this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskExecutionStatus>,
    /// Match only finished (or only unfinished) executions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_finished: Option<bool>,
}

impl TaskExecutionStorageGetByIdFilters {
    /// Whether `value` passes every given filter.
    pub fn matches(&self, value: &TaskExecutionStorageValue) -> bool {
        self.is_sleeping_task
            .is_none_or(|v| v == value.is_sleeping_task)
            && self.status.is_none_or(|v| v == value.status)
            && self.is_finished.is_none_or(|v| v == value.is_finished)
    }
}

/// Which optional fields an update removes. Unset wins over a value set in the same update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecutionStorageUnset {
    /// Remove `executor_id`.
    #[serde(default)]
    pub executor_id: bool,
    /// Remove `run_output`.
    #[serde(default)]
    pub run_output: bool,
    /// Remove `error`.
    #[serde(default)]
    pub error: bool,
    /// Remove `started_at`.
    #[serde(default)]
    pub started_at: bool,
    /// Remove `expires_at`.
    #[serde(default)]
    pub expires_at: bool,
    /// Remove `on_children_finished_processing_expires_at` (sent as `ocfpExpiresAt`).
    #[serde(default)]
    pub on_children_finished_processing_expires_at: bool,
    /// Remove `close_expires_at`.
    #[serde(default)]
    pub close_expires_at: bool,
}

impl TaskExecutionStorageUnset {
    /// Whether no flag is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A partial update of one execution, as durable-execution's `TaskExecutionStorageUpdate`.
///
/// `None` leaves a field as it is; `updated_at` is required (the store may raise it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecutionStorageUpdate {
    /// Set the executor holding the execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<String>,
    /// Set the lifecycle state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskExecutionStatus>,
    /// Set whether the status is final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_finished: Option<bool>,
    /// Set the serialized output of the run function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_output: Option<String>,
    /// Set the serialized final output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Set the last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DurableExecutionErrorStorageValue>,
    /// Set the number of retries made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_attempts: Option<i64>,
    /// Set when the execution may be claimed; raised to the store's `now` when older (0 excepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<i64>,
    /// Set when the run started; raised to the store's `now` when older (0 excepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// Set when the run times out; moved to `now + 1000` by the store when older than `now` (0 excepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Set when the execution started waiting for its children (never clamped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_children_started_at: Option<i64>,
    /// Set when the execution started waiting for its finalize task (never clamped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_finalize_started_at: Option<i64>,
    /// Set when the execution finished; raised to the store's `now` when older (0 excepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// Set the children spawned by the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<TaskExecutionSummary>>,
    /// Set the active children count (stored as `acc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_children_count: Option<i64>,
    /// Set the on-children-finished processing status (stored as `ocfpStatus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_children_finished_processing_status: Option<OnChildrenFinishedProcessingStatus>,
    /// Set when the processing claim expires (stored as `ocfpExpiresAt`); clamped like `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_children_finished_processing_expires_at: Option<i64>,
    /// Set when the processing finished (stored as `ocfpFinishedAt`); clamped like `finished_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_children_finished_processing_finished_at: Option<i64>,
    /// Set the finalize task spawned once the children finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalize: Option<TaskExecutionSummary>,
    /// Set the close status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_status: Option<TaskExecutionCloseStatus>,
    /// Set when the closer's claim expires; clamped like `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_expires_at: Option<i64>,
    /// Set when the execution was closed; clamped like `finished_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    /// Set whether the holder must cancel its promise (stored as `npc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_promise_cancellation: Option<bool>,
    /// The caller's clock; the store raises it to its own `now` when it is older.
    pub updated_at: i64,
    /// Fields to remove; `None` and an all-false value mean the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unset: Option<TaskExecutionStorageUnset>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_makes_a_ready_root_that_starts_after_its_sleep() {
        let value = TaskExecutionStorageValue::create(NewTaskExecution {
            now: 1_000,
            sleep_ms_before_run: 250,
            timeout_ms: 5_000,
            ..NewTaskExecution::new("t", "e", "{}")
        });
        assert_eq!(value.status, TaskExecutionStatus::Ready);
        assert!(!value.is_sleeping_task);
        assert_eq!(value.start_at, 1_250);
        assert_eq!((value.started_at, value.expires_at), (None, None));
        assert_eq!((value.created_at, value.updated_at), (1_000, 1_000));
        assert_eq!(value.close_status, TaskExecutionCloseStatus::Idle);
    }

    #[test]
    fn create_makes_a_sleeping_task_running_with_an_expiry() {
        let value = TaskExecutionStorageValue::create(NewTaskExecution {
            now: 1_000,
            sleeping_task_unique_id: Some("wake-me".into()),
            sleep_ms_before_run: 250,
            timeout_ms: 5_000,
            ..NewTaskExecution::new("t", "e", "{}")
        });
        assert!(value.is_sleeping_task);
        assert_eq!(value.status, TaskExecutionStatus::Running);
        assert_eq!(value.started_at, Some(1_000));
        assert_eq!(value.expires_at, Some(6_250));
    }
}
