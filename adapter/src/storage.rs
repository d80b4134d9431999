//! The storage interface: durable-execution's `TaskExecutionsStorage`, one method per operation.
//!
//! Method names are the TypeScript ones in snake case, so a reader of either side finds the
//! other. Request structs carry the arguments of the selector operations by name because
//! several of them take five numbers and strings that are easy to swap by position.

use async_trait::async_trait;

use crate::error::StorageError;
use crate::types::{
    OnChildrenFinishedProcessingStatus, TaskExecutionCloseStatus, TaskExecutionStatus,
    TaskExecutionStorageGetByIdFilters, TaskExecutionStorageUpdate, TaskExecutionStorageValue,
};

/// One lookup of `get_many_by_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct GetByIdRequest {
    /// The execution to read.
    pub execution_id: String,
    /// Answer `None` unless the execution passes these.
    pub filters: Option<TaskExecutionStorageGetByIdFilters>,
}

/// One update of `update_many_by_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByIdRequest {
    /// The execution to update.
    pub execution_id: String,
    /// Skip the update unless the execution passes these.
    pub filters: Option<TaskExecutionStorageGetByIdFilters>,
    /// What to change.
    pub update: TaskExecutionStorageUpdate,
}

/// One update of `update_many_by_id_and_insert_children_if_updated`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByIdAndInsertChildrenRequest {
    /// The parent execution to update.
    pub execution_id: String,
    /// Skip the update (and the inserts) unless the execution passes these.
    pub filters: Option<TaskExecutionStorageGetByIdFilters>,
    /// What to change on the parent.
    pub update: TaskExecutionStorageUpdate,
    /// Children inserted in the same transaction when the parent was updated.
    pub children_task_executions_to_insert_if_any_updated: Vec<TaskExecutionStorageValue>,
}

/// The start-at claim: ready executions whose `start_at` has passed.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByStatusAndStartAtLessThanRequest {
    /// Claim only executions in this status (normally `Ready`).
    pub status: TaskExecutionStatus,
    /// Claim only executions whose `start_at` is strictly below this, in ms.
    pub start_at_less_than: i64,
    /// What to change on every selected execution.
    pub update: TaskExecutionStorageUpdate,
    /// Each claimed execution gets `expires_at = this + its timeout_ms`.
    pub update_expires_at_with_started_at: i64,
    /// The most executions to select (per shard for the sharded selectors).
    pub limit: u32,
}

/// Parents whose children all finished (`acc = 0`) and are not yet processed.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
    /// Select only parents in this status (normally `WaitingForChildren`).
    pub status: TaskExecutionStatus,
    /// Select only parents in this on-children-finished processing status (stored as `ocfpStatus`).
    pub on_children_finished_processing_status: OnChildrenFinishedProcessingStatus,
    /// What to change on every selected execution.
    pub update: TaskExecutionStorageUpdate,
    /// The most executions to select (per shard for the sharded selectors).
    pub limit: u32,
}

/// Executions by close status.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByCloseStatusRequest {
    /// Select only executions in this close status.
    pub close_status: TaskExecutionCloseStatus,
    /// What to change on every selected execution.
    pub update: TaskExecutionStorageUpdate,
    /// The most executions to select (per shard for the sharded selectors).
    pub limit: u32,
}

/// Expired runs (or sleeping tasks) by status.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
    /// Select only executions in this status (normally `Running`).
    pub status: TaskExecutionStatus,
    /// Select only sleeping tasks (`true`) or only ordinary ones (`false`).
    pub is_sleeping_task: bool,
    /// Select only executions whose `expires_at` is in `0..this`, in ms.
    pub expires_at_less_than: i64,
    /// What to change on every selected execution.
    pub update: TaskExecutionStorageUpdate,
    /// The most executions to select.
    pub limit: u32,
}

/// Expired on-children-finished processing claims.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
    /// Select only executions whose `ocfpExpiresAt` is in `0..this`, in ms.
    pub on_children_finished_processing_expires_at_less_than: i64,
    /// What to change on every selected execution.
    pub update: TaskExecutionStorageUpdate,
    /// The most executions to select.
    pub limit: u32,
}

/// Expired close claims.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByCloseExpiresAtLessThanRequest {
    /// Select only executions whose `close_expires_at` is in `0..this`, in ms.
    pub close_expires_at_less_than: i64,
    /// What to change on every selected execution.
    pub update: TaskExecutionStorageUpdate,
    /// The most executions to select.
    pub limit: u32,
}

/// Executions held by one executor that need their promise cancelled.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByExecutorIdAndNeedsPromiseCancellationRequest {
    /// Select only executions held by this executor.
    pub executor_id: String,
    /// Select only executions with this needs-promise-cancellation flag (stored as `npc`).
    pub needs_promise_cancellation: bool,
    /// What to change on every selected execution.
    pub update: TaskExecutionStorageUpdate,
    /// The most executions to select (per shard for the sharded selectors).
    pub limit: u32,
}

/// One request of `update_many_by_parent_execution_id_and_is_finished`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateByParentExecutionIdAndIsFinishedRequest {
    /// The parent whose children to update.
    pub parent_execution_id: String,
    /// Update only the children with this `is_finished`.
    pub is_finished: bool,
    /// What to change on every matching child.
    pub update: TaskExecutionStorageUpdate,
}

/// The close sweep that also decrements each parent's active children count.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateAndDecrementParentActiveChildrenCountRequest {
    /// Select only children with this `is_finished`.
    pub is_finished: bool,
    /// Select only children in this close status.
    pub close_status: TaskExecutionCloseStatus,
    /// What to change on every selected child (its parent gets the decrement).
    pub update: TaskExecutionStorageUpdate,
    /// The most children to select in total; the Convex storage asks each shard for `ceil(limit / shards)`.
    pub limit: u32,
}

/// durable-execution's `TaskExecutionsStorage`: the 17 operations an executor needs.
///
/// Implemented by [`crate::ConvexTaskExecutionsStorage`] (a Convex deployment or the emulator)
/// and by [`crate::InMemoryTaskExecutionsStorage`] (the model the conformance suite checks
/// against). SPEC.md section 5 gives the exact semantics of each.
#[async_trait]
pub trait TaskExecutionsStorage: Send + Sync {
    /// Inserts all executions atomically; fails on a duplicate execution id or sleeping task id.
    async fn insert_many(
        &self,
        executions: Vec<TaskExecutionStorageValue>,
    ) -> Result<(), StorageError>;

    /// Reads executions by id, `None` where absent or filtered out, in request order.
    async fn get_many_by_id(
        &self,
        requests: Vec<GetByIdRequest>,
    ) -> Result<Vec<Option<TaskExecutionStorageValue>>, StorageError>;

    /// Reads sleeping tasks by their unique id, in request order.
    async fn get_many_by_sleeping_task_unique_id(
        &self,
        sleeping_task_unique_ids: Vec<String>,
    ) -> Result<Vec<Option<TaskExecutionStorageValue>>, StorageError>;

    /// Updates each matching execution, atomically.
    async fn update_many_by_id(&self, requests: Vec<UpdateByIdRequest>)
        -> Result<(), StorageError>;

    /// Updates each matching parent and inserts its children, atomically.
    async fn update_many_by_id_and_insert_children_if_updated(
        &self,
        requests: Vec<UpdateByIdAndInsertChildrenRequest>,
    ) -> Result<(), StorageError>;

    /// Claims executions by status and start time; returns them with the update applied.
    async fn update_by_status_and_start_at_less_than_and_return(
        &self,
        request: UpdateByStatusAndStartAtLessThanRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError>;

    /// Claims parents whose children finished; returns them with the update applied.
    async fn update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
        &self,
        request: UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError>;

    /// Claims executions by close status; returns them with the update applied.
    async fn update_by_close_status_and_return(
        &self,
        request: UpdateByCloseStatusRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError>;

    /// Updates expired executions; returns how many.
    async fn update_by_status_and_is_sleeping_task_and_expires_at_less_than(
        &self,
        request: UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError>;

    /// Updates expired on-children-finished claims; returns how many.
    async fn update_by_on_children_finished_processing_expires_at_less_than(
        &self,
        request: UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError>;

    /// Updates expired close claims; returns how many.
    async fn update_by_close_expires_at_less_than(
        &self,
        request: UpdateByCloseExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError>;

    /// Claims an executor's executions by the needs-promise-cancellation flag.
    async fn update_by_executor_id_and_needs_promise_cancellation_and_return(
        &self,
        request: UpdateByExecutorIdAndNeedsPromiseCancellationRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError>;

    /// All children of each parent, unfinished first, then oldest first.
    async fn get_many_by_parent_execution_id(
        &self,
        parent_execution_ids: Vec<String>,
    ) -> Result<Vec<Vec<TaskExecutionStorageValue>>, StorageError>;

    /// Updates every child of each parent with the given `is_finished`, atomically.
    async fn update_many_by_parent_execution_id_and_is_finished(
        &self,
        requests: Vec<UpdateByParentExecutionIdAndIsFinishedRequest>,
    ) -> Result<(), StorageError>;

    /// The close sweep: updates the selected children and decrements their parents' counts.
    async fn update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
        &self,
        request: UpdateAndDecrementParentActiveChildrenCountRequest,
    ) -> Result<u64, StorageError>;

    /// Deletes one execution (test mode only for the Convex storage).
    async fn delete_by_id(&self, execution_id: &str) -> Result<(), StorageError>;

    /// Deletes every execution (test mode only for the Convex storage).
    async fn delete_all(&self) -> Result<(), StorageError>;
}
