//! `GET /_emulator/api/requests` and `GET /_emulator/api/requests/{seq}`: the request log.
//!
//! The list gives each call without its arguments and result, newest first; `after` makes it
//! the calls since the last poll, which is how the page updates live. One call by its `seq`
//! adds the arguments (secret redacted) and the result.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::http::control::ControlError;
use crate::http::AppState;
use crate::limits::REQUEST_LOG_PAGE_ENTRIES_MAX;

use super::fresh_json;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestsQuery {
    /// Only calls with a greater `seq`.
    after: Option<u64>,
    /// At most this many (newest first).
    limit: Option<usize>,
    /// Only calls that changed this execution or named it in their arguments.
    execution_id: Option<String>,
}

pub async fn requests(
    State(state): State<Arc<AppState>>,
    query: Result<Query<RequestsQuery>, QueryRejection>,
) -> Result<Response, ControlError> {
    let Query(query) = query.map_err(|e| ControlError::BadRequest(e.body_text()))?;
    let log = &state.inspector.request_log;
    let limit = query.limit.unwrap_or(REQUEST_LOG_PAGE_ENTRIES_MAX);
    if limit > REQUEST_LOG_PAGE_ENTRIES_MAX {
        return Err(ControlError::BadRequest(format!(
            "limit must be at most {REQUEST_LOG_PAGE_ENTRIES_MAX}"
        )));
    }
    let (entries, latest) = log.newest(query.after.unwrap_or(0), limit, |entry| {
        query
            .execution_id
            .as_deref()
            .is_none_or(|id| entry.touched(id))
    });
    Ok(fresh_json(json!({
        "capacity": log.capacity(),
        "latestSeq": latest,
        "entries": entries.iter().map(|e| e.to_json(false)).collect::<Vec<_>>(),
    })))
}

pub async fn request(
    State(state): State<Arc<AppState>>,
    Path(seq): Path<String>,
) -> Result<Response, ControlError> {
    let entry = seq
        .parse()
        .ok()
        .and_then(|seq| state.inspector.request_log.get(seq))
        .ok_or_else(|| {
            ControlError::NotFound(format!(
                "No call {seq} in the request log (it keeps the last {}).",
                state.inspector.request_log.capacity()
            ))
        })?;
    Ok(fresh_json(entry.to_json(true)))
}
