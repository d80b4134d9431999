//! Runs one [`Transition`] against anything that implements the storage trait.
//!
//! The answer of a call becomes JSON so that every side (the model, the emulator, the reference
//! server, a deployment) is compared the same way: `{"ok": <value>}` for a result, `{"error":
//! "<thrown message>"}` for a rejection the function threw on purpose, and `{"failure":
//! "<text>"}` for anything else (transport, HTTP status, undecodable answer), which never
//! matches anything and so always fails the comparison.

use std::sync::Arc;

use durable_execution_storage_convex::{StorageError, TaskExecutionsStorage};
use serde::Serialize;
use serde_json::{json, Value};

use super::transition::{requests, Transition};

/// The text a side rejected a call with: the thrown message for function errors. A document
/// id in Convex's `... on nonexistent document ID <id>` is masked, since every backend makes
/// its own ids.
pub fn error_answer(error: &StorageError) -> Value {
    match error.thrown_message() {
        Some(message) => json!({ "error": mask_document_id(&message) }),
        None => json!({ "failure": error.to_string() }),
    }
}

fn mask_document_id(message: &str) -> String {
    const MISSING: &str = "on nonexistent document ID ";
    match message.find(MISSING) {
        Some(at) => format!("{}<id>", &message[..at + MISSING.len()]),
        None => message.to_string(),
    }
}

/// The JSON answer of a call's result.
pub fn answer_of<T: Serialize>(result: Result<T, StorageError>) -> Value {
    match result {
        Ok(value) => {
            json!({ "ok": serde_json::to_value(value).expect("storage values serialize") })
        }
        Err(error) => error_answer(&error),
    }
}

/// Calls the operation of `transition` and returns its answer as JSON.
pub async fn perform(transition: &Transition, s: &Arc<dyn TaskExecutionsStorage>) -> Value {
    match transition {
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
