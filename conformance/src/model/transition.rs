//! Transitions of the model-based tests: one documented variant per storage operation, and
//! the one call of the storage trait that each makes ([`Transition::perform`]).
//!
//! A transition holds exactly the arguments of one call, in the adapter's own types, so that a
//! shrunk failing sequence reads like the calls an executor would make. Transitions serialize
//! to JSON (`{"op": "insertMany", ...}`): the committed differential regression file is a list
//! of them, and every failure report prints the shrunk list in that form.

use std::sync::Arc;

use durable_execution_storage_convex::{
    GetByIdRequest, OnChildrenFinishedProcessingStatus, TaskExecutionCloseStatus,
    TaskExecutionStatus, TaskExecutionStorageGetByIdFilters, TaskExecutionStorageUpdate,
    TaskExecutionStorageValue, TaskExecutionsStorage,
    UpdateAndDecrementParentActiveChildrenCountRequest, UpdateByCloseExpiresAtLessThanRequest,
    UpdateByCloseStatusRequest, UpdateByExecutorIdAndNeedsPromiseCancellationRequest,
    UpdateByIdAndInsertChildrenRequest, UpdateByIdRequest,
    UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest,
    UpdateByParentExecutionIdAndIsFinishedRequest,
    UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest,
    UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest,
    UpdateByStatusAndStartAtLessThanRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::operation::Operation;

use super::driver::answer_of;

/// One lookup of `getManyById`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lookup {
    pub execution_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<TaskExecutionStorageGetByIdFilters>,
}

/// One request of `updateManyById`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdUpdate {
    pub execution_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<TaskExecutionStorageGetByIdFilters>,
    pub update: TaskExecutionStorageUpdate,
}

/// One request of `updateManyByIdAndInsertChildrenIfUpdated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdUpdateWithChildren {
    pub execution_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<TaskExecutionStorageGetByIdFilters>,
    pub update: TaskExecutionStorageUpdate,
    pub children: Vec<TaskExecutionStorageValue>,
}

/// One request of `updateManyByParentExecutionIdAndIsFinished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentUpdate {
    pub parent_execution_id: String,
    pub is_finished: bool,
    pub update: TaskExecutionStorageUpdate,
}

/// One call of one of the 17 operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Transition {
    /// Insert a batch; duplicates (within the batch or with stored rows) fail the whole call.
    InsertMany {
        executions: Vec<TaskExecutionStorageValue>,
    },
    /// Read by id, with optional filters.
    GetManyById { requests: Vec<Lookup> },
    /// Read sleeping tasks by unique id (the empty id included: it is stored, never unique).
    GetManyBySleepingTaskUniqueId {
        sleeping_task_unique_ids: Vec<String>,
    },
    /// Update by id with optional filters; missing or filtered-out ids are skipped.
    UpdateManyById { requests: Vec<IdUpdate> },
    /// Update by id and insert the children of each updated parent, atomically.
    UpdateManyByIdAndInsertChildrenIfUpdated { requests: Vec<IdUpdateWithChildren> },
    /// The start-at claim, over every configured shard.
    #[serde(rename = "updateByStatusAndStartAtLessThanAndReturn")]
    ClaimByStartAt {
        status: TaskExecutionStatus,
        start_at_less_than: i64,
        update: TaskExecutionStorageUpdate,
        update_expires_at_with_started_at: i64,
        limit: u32,
    },
    /// Parents whose children finished (`acc = 0`, stale), over every configured shard.
    #[serde(rename = "updateByStatusAndOCFPStatusAndACCZeroAndReturn")]
    ClaimByOcfpStatusAndAccZero {
        status: TaskExecutionStatus,
        ocfp_status: OnChildrenFinishedProcessingStatus,
        update: TaskExecutionStorageUpdate,
        limit: u32,
    },
    /// Stale executions by close status, over every configured shard.
    #[serde(rename = "updateByCloseStatusAndReturn")]
    ClaimByCloseStatus {
        close_status: TaskExecutionCloseStatus,
        update: TaskExecutionStorageUpdate,
        limit: u32,
    },
    /// Expired runs by status and sleeping flag (`0 ≤ expiresAt < bound`); answers a count.
    #[serde(rename = "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan")]
    ExpireByStatusAndIsSleepingTask {
        status: TaskExecutionStatus,
        is_sleeping_task: bool,
        expires_at_less_than: i64,
        update: TaskExecutionStorageUpdate,
        limit: u32,
    },
    /// Expired on-children-finished claims (`0 ≤ ocfpExpiresAt < bound`); answers a count.
    #[serde(rename = "updateByOCFPExpiresAt")]
    ExpireOcfp {
        less_than: i64,
        update: TaskExecutionStorageUpdate,
        limit: u32,
    },
    /// Expired close claims (`0 ≤ closeExpiresAt < bound`); answers a count.
    #[serde(rename = "updateByCloseExpiresAt")]
    ExpireClose {
        less_than: i64,
        update: TaskExecutionStorageUpdate,
        limit: u32,
    },
    /// Stale executions of one executor by needs-promise-cancellation, over every shard.
    #[serde(rename = "updateByExecutorIdAndNPCAndReturn")]
    ClaimByExecutorIdAndNpc {
        executor_id: String,
        npc: bool,
        update: TaskExecutionStorageUpdate,
        limit: u32,
    },
    /// All children of each parent: unfinished first, then oldest first.
    GetManyByParentExecutionId { parent_execution_ids: Vec<String> },
    /// Update the children of each parent that have the given `isFinished`.
    UpdateManyByParentExecutionIdAndIsFinished { requests: Vec<ParentUpdate> },
    /// The close sweep with its parent decrements, per shard with `ceil(limit / shards)`.
    #[serde(rename = "updateAndDecrementParentACCByIsFinishedAndCloseStatus")]
    CloseAndDecrementParents {
        is_finished: bool,
        close_status: TaskExecutionCloseStatus,
        update: TaskExecutionStorageUpdate,
        limit: u32,
    },
    /// Delete one execution (test mode).
    DeleteById { execution_id: String },
    /// Delete every execution (test mode).
    DeleteAll,
}

impl Transition {
    /// Calls this transition's operation on `s` and returns its answer as JSON
    /// ([`answer_of`]).
    pub async fn perform(&self, s: &Arc<dyn TaskExecutionsStorage>) -> Value {
        match self {
        Transition::InsertMany { executions } => {
            answer_of(s.insert_many(executions.clone()).await)
        }
        Transition::GetManyById { requests } => {
            answer_of(s.get_many_by_id(requests.iter().map(|r| r.to_request()).collect()).await)
        }
        Transition::GetManyBySleepingTaskUniqueId { sleeping_task_unique_ids } => {
            answer_of(s.get_many_by_sleeping_task_unique_id(sleeping_task_unique_ids.clone()).await)
        }
        Transition::UpdateManyById { requests } => {
            answer_of(s.update_many_by_id(requests.iter().map(|r| r.to_request()).collect()).await)
        }
        Transition::UpdateManyByIdAndInsertChildrenIfUpdated { requests } => answer_of(
            s
                .update_many_by_id_and_insert_children_if_updated(
                    requests.iter().map(|r| r.to_request()).collect(),
                )
                .await,
        ),
        Transition::ClaimByStartAt {
            status,
            start_at_less_than,
            update,
            update_expires_at_with_started_at,
            limit,
        } => answer_of(
            s.update_by_status_and_start_at_less_than_and_return(requests::start_at(
                *status,
                *start_at_less_than,
                update,
                *update_expires_at_with_started_at,
                *limit,
            ))
            .await,
        ),
        Transition::ClaimByOcfpStatusAndAccZero { status, ocfp_status, update, limit } => answer_of(
            s.update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
                requests::ocfp_acc_zero(*status, *ocfp_status, update, *limit),
            )
            .await,
        ),
        Transition::ClaimByCloseStatus { close_status, update, limit } => answer_of(
            s.update_by_close_status_and_return(requests::close_status(*close_status, update, *limit))
                .await,
        ),
        Transition::ExpireByStatusAndIsSleepingTask {
            status,
            is_sleeping_task,
            expires_at_less_than,
            update,
            limit,
        } => answer_of(
            s.update_by_status_and_is_sleeping_task_and_expires_at_less_than(requests::expires(
                *status,
                *is_sleeping_task,
                *expires_at_less_than,
                update,
                *limit,
            ))
            .await,
        ),
        Transition::ExpireOcfp { less_than, update, limit } => answer_of(
            s.update_by_on_children_finished_processing_expires_at_less_than(requests::ocfp_expires(
                *less_than, update, *limit,
            ))
            .await,
        ),
        Transition::ExpireClose { less_than, update, limit } => answer_of(
            s.update_by_close_expires_at_less_than(requests::close_expires(*less_than, update, *limit))
                .await,
        ),
        Transition::ClaimByExecutorIdAndNpc { executor_id, npc, update, limit } => answer_of(
            s.update_by_executor_id_and_needs_promise_cancellation_and_return(requests::executor_npc(
                executor_id,
                *npc,
                update,
                *limit,
            ))
            .await,
        ),
        Transition::GetManyByParentExecutionId { parent_execution_ids } => {
            answer_of(s.get_many_by_parent_execution_id(parent_execution_ids.clone()).await)
        }
        Transition::UpdateManyByParentExecutionIdAndIsFinished { requests } => answer_of(
            s.update_many_by_parent_execution_id_and_is_finished(
                requests.iter().map(|r| r.to_request()).collect(),
            )
            .await,
        ),
        Transition::CloseAndDecrementParents { is_finished, close_status, update, limit } => answer_of(
            s.update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                requests::decrement(*is_finished, *close_status, update, *limit),
            )
            .await,
        ),
        Transition::DeleteById { execution_id } => answer_of(s.delete_by_id(execution_id).await),
        Transition::DeleteAll => answer_of(s.delete_all().await),
    }
    }

    /// The operation this transition calls.
    pub fn operation(&self) -> Operation {
        match self {
            Self::InsertMany { .. } => Operation::InsertMany,
            Self::GetManyById { .. } => Operation::GetManyById,
            Self::GetManyBySleepingTaskUniqueId { .. } => Operation::GetManyBySleepingTaskUniqueId,
            Self::UpdateManyById { .. } => Operation::UpdateManyById,
            Self::UpdateManyByIdAndInsertChildrenIfUpdated { .. } => {
                Operation::UpdateManyByIdAndInsertChildrenIfUpdated
            }
            Self::ClaimByStartAt { .. } => Operation::UpdateByStatusAndStartAtLessThanAndReturn,
            Self::ClaimByOcfpStatusAndAccZero { .. } => {
                Operation::UpdateByStatusAndOCFPStatusAndACCZeroAndReturn
            }
            Self::ClaimByCloseStatus { .. } => Operation::UpdateByCloseStatusAndReturn,
            Self::ExpireByStatusAndIsSleepingTask { .. } => {
                Operation::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan
            }
            Self::ExpireOcfp { .. } => Operation::UpdateByOCFPExpiresAt,
            Self::ExpireClose { .. } => Operation::UpdateByCloseExpiresAt,
            Self::ClaimByExecutorIdAndNpc { .. } => Operation::UpdateByExecutorIdAndNPCAndReturn,
            Self::GetManyByParentExecutionId { .. } => Operation::GetManyByParentExecutionId,
            Self::UpdateManyByParentExecutionIdAndIsFinished { .. } => {
                Operation::UpdateManyByParentExecutionIdAndIsFinished
            }
            Self::CloseAndDecrementParents { .. } => {
                Operation::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
            }
            Self::DeleteById { .. } => Operation::DeleteById,
            Self::DeleteAll => Operation::DeleteAll,
        }
    }

    /// Whether the operation selects rows by `updatedAt < clock`, so that a real backend must
    /// be given time for every row written so far to become stale (see the crate docs).
    pub fn selects_stale_rows(&self) -> bool {
        matches!(
            self,
            Self::ClaimByOcfpStatusAndAccZero { .. }
                | Self::ClaimByCloseStatus { .. }
                | Self::ClaimByExecutorIdAndNpc { .. }
                | Self::CloseAndDecrementParents { .. }
        )
    }

    /// Whether the operation may write (everything but the three reads).
    pub fn may_write(&self) -> bool {
        !matches!(
            self,
            Self::GetManyById { .. }
                | Self::GetManyBySleepingTaskUniqueId { .. }
                | Self::GetManyByParentExecutionId { .. }
        )
    }

    /// Whether the operation inserts rows (and so chooses shards).
    pub fn inserts(&self) -> bool {
        matches!(
            self,
            Self::InsertMany { .. } | Self::UpdateManyByIdAndInsertChildrenIfUpdated { .. }
        )
    }
}

impl Lookup {
    pub(crate) fn to_request(&self) -> GetByIdRequest {
        GetByIdRequest {
            execution_id: self.execution_id.clone(),
            filters: self.filters.clone(),
        }
    }
}

impl IdUpdate {
    pub(crate) fn to_request(&self) -> UpdateByIdRequest {
        UpdateByIdRequest {
            execution_id: self.execution_id.clone(),
            filters: self.filters.clone(),
            update: self.update.clone(),
        }
    }
}

impl IdUpdateWithChildren {
    pub(crate) fn to_request(&self) -> UpdateByIdAndInsertChildrenRequest {
        UpdateByIdAndInsertChildrenRequest {
            execution_id: self.execution_id.clone(),
            filters: self.filters.clone(),
            update: self.update.clone(),
            children_task_executions_to_insert_if_any_updated: self.children.clone(),
        }
    }
}

impl ParentUpdate {
    pub(crate) fn to_request(&self) -> UpdateByParentExecutionIdAndIsFinishedRequest {
        UpdateByParentExecutionIdAndIsFinishedRequest {
            parent_execution_id: self.parent_execution_id.clone(),
            is_finished: self.is_finished,
            update: self.update.clone(),
        }
    }
}

/// The request structs of the selector transitions, built on demand by the driver.
pub(crate) mod requests {
    use super::*;

    pub fn start_at(
        status: TaskExecutionStatus,
        start_at_less_than: i64,
        update: &TaskExecutionStorageUpdate,
        update_expires_at_with_started_at: i64,
        limit: u32,
    ) -> UpdateByStatusAndStartAtLessThanRequest {
        UpdateByStatusAndStartAtLessThanRequest {
            status,
            start_at_less_than,
            update: update.clone(),
            update_expires_at_with_started_at,
            limit,
        }
    }

    pub fn ocfp_acc_zero(
        status: TaskExecutionStatus,
        ocfp_status: OnChildrenFinishedProcessingStatus,
        update: &TaskExecutionStorageUpdate,
        limit: u32,
    ) -> UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
        UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
            status,
            on_children_finished_processing_status: ocfp_status,
            update: update.clone(),
            limit,
        }
    }

    pub fn close_status(
        close_status: TaskExecutionCloseStatus,
        update: &TaskExecutionStorageUpdate,
        limit: u32,
    ) -> UpdateByCloseStatusRequest {
        UpdateByCloseStatusRequest {
            close_status,
            update: update.clone(),
            limit,
        }
    }

    pub fn expires(
        status: TaskExecutionStatus,
        is_sleeping_task: bool,
        expires_at_less_than: i64,
        update: &TaskExecutionStorageUpdate,
        limit: u32,
    ) -> UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
        UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
            status,
            is_sleeping_task,
            expires_at_less_than,
            update: update.clone(),
            limit,
        }
    }

    pub fn ocfp_expires(
        less_than: i64,
        update: &TaskExecutionStorageUpdate,
        limit: u32,
    ) -> UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
        UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
            on_children_finished_processing_expires_at_less_than: less_than,
            update: update.clone(),
            limit,
        }
    }

    pub fn close_expires(
        less_than: i64,
        update: &TaskExecutionStorageUpdate,
        limit: u32,
    ) -> UpdateByCloseExpiresAtLessThanRequest {
        UpdateByCloseExpiresAtLessThanRequest {
            close_expires_at_less_than: less_than,
            update: update.clone(),
            limit,
        }
    }

    pub fn executor_npc(
        executor_id: &str,
        npc: bool,
        update: &TaskExecutionStorageUpdate,
        limit: u32,
    ) -> UpdateByExecutorIdAndNeedsPromiseCancellationRequest {
        UpdateByExecutorIdAndNeedsPromiseCancellationRequest {
            executor_id: executor_id.to_string(),
            needs_promise_cancellation: npc,
            update: update.clone(),
            limit,
        }
    }

    pub fn decrement(
        is_finished: bool,
        close_status: TaskExecutionCloseStatus,
        update: &TaskExecutionStorageUpdate,
        limit: u32,
    ) -> UpdateAndDecrementParentActiveChildrenCountRequest {
        UpdateAndDecrementParentActiveChildrenCountRequest {
            is_finished,
            close_status,
            update: update.clone(),
            limit,
        }
    }
}
