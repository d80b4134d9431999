//! `GET /_emulator/api/executions/{executionId}`: one execution as stored, its place in its
//! tree, and the logged calls that touched it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Value as Json};

use crate::error::Error;
use crate::http::control::ControlError;
use crate::http::request_log::LogEntry;
use crate::http::AppState;
use crate::limits::{INSPECTOR_CHILDREN_SHOWN_MAX, REQUEST_LOG_PAGE_ENTRIES_MAX};
use crate::store::{Document, Index, IndexRange, ReadTx};

use super::{clean, fresh_json, summary};

pub async fn execution(
    State(state): State<Arc<AppState>>,
    Path(execution_id): Path<String>,
) -> Result<Response, ControlError> {
    let id = execution_id.clone();
    let found = state
        .functions
        .store()
        .read(move |tx| with_tree(tx, &id))
        .await?;
    let Some(mut body) = found else {
        return Err(ControlError::NotFound(format!(
            "No execution has executionId {execution_id}."
        )));
    };
    let (calls, _) =
        state
            .inspector
            .request_log
            .newest(0, REQUEST_LOG_PAGE_ENTRIES_MAX, |entry: &LogEntry| {
                entry.touched(&execution_id)
            });
    body["calls"] = json!(calls.iter().map(|c| c.to_json(false)).collect::<Vec<_>>());
    Ok(fresh_json(body))
}

/// The execution with every stored field, its root and parent (looked up: they may be gone),
/// and its children, unfinished first (`by_parentExecutionId_isFinished`).
fn with_tree(tx: &ReadTx<'_>, execution_id: &str) -> Result<Option<Json>, Error> {
    let Some(doc) = tx.execution_by_execution_id(execution_id)? else {
        return Ok(None);
    };
    let relative = |field: &str| -> Result<Json, Error> {
        let Some(id) = doc.str(field) else {
            return Ok(Json::Null);
        };
        let found = tx.execution_by_execution_id(id)?;
        Ok(json!({ "executionId": id, "execution": found.as_ref().map(summary) }))
    };
    let (root, parent) = (relative("rootExecutionId")?, relative("parentExecutionId")?);
    let children = IndexRange::eq(
        Index::ParentExecutionIdIsFinished,
        vec![execution_id.into()],
    );
    let total = tx.count_in_range(&children)?;
    let shown = tx.executions_in_range(&children, Some(INSPECTOR_CHILDREN_SHOWN_MAX))?;
    Ok(Some(json!({
        "execution": stored(doc),
        "root": root,
        "parent": parent,
        "children": { "total": total, "shown": shown.iter().map(summary).collect::<Vec<_>>() },
    })))
}

/// Every field as stored, with `_id` and `_creationTime`, as clean JSON.
fn stored(doc: Document) -> Json {
    clean(&doc.into_value())
}
