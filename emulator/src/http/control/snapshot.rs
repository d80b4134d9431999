//! `GET /_emulator/export` and `POST /_emulator/import`: the store as a snapshot ZIP in the
//! layout `npx convex export` writes (docs/SNAPSHOTS.md), and back.
//!
//! * `GET /_emulator/export[?component=NAME]` → `application/zip`, the executions as the tables
//!   of component NAME (default `taskExecutionsStorage`).
//! * `POST /_emulator/import[?replace=true][&component=NAME]` with the ZIP as the body →
//!   `{"imported": n}`. Without `replace=true` a store holding executions is refused. A ZIP
//!   that does not fit is a 400 naming the file and line of the first bad document, and changes
//!   nothing.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::http::control::ControlError;
use crate::http::AppState;
use crate::snapshot::{self, ImportOptions, SnapshotError, DEFAULT_COMPONENT};

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    component: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    replace: Option<bool>,
    component: Option<String>,
}

pub async fn export(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ControlError> {
    let component = query.component.as_deref().unwrap_or(DEFAULT_COMPONENT);
    if component.is_empty() || component.split('/').any(str::is_empty) {
        return Err(ControlError::BadRequest(format!(
            "{component:?} is not a component name"
        )));
    }
    let exported = snapshot::export(state.functions.store(), component)
        .await
        .map_err(control_error)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"snapshot.zip\"",
            ),
        ],
        exported.zip,
    )
        .into_response())
}

pub async fn import(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ImportQuery>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let options = ImportOptions {
        replace: query.replace.unwrap_or(false),
        component: query.component,
    };
    let replace = options.replace;
    let imported = snapshot::import(state.functions.store(), body.to_vec(), options)
        .await
        .map_err(control_error)?;
    if replace {
        // The executions the held locks guarded are gone.
        state.functions.locks().clear();
    }
    Ok(Json(json!({ "imported": imported })))
}

fn control_error(e: SnapshotError) -> ControlError {
    match e {
        SnapshotError::Store(e) => ControlError::Internal(e),
        other => ControlError::BadRequest(other.to_string()),
    }
}
