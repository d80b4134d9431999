//! The inspector: a page at `/_emulator/` that shows what the store holds and what clients
//! asked, and the JSON endpoints it reads (docs/INSPECTOR.md).
//!
//! The page and its assets are public and embedded in the binary (plain HTML, one stylesheet,
//! one script, no framework, nothing fetched from elsewhere). Every endpoint with data sits
//! under `/_emulator/api/` behind the control routes' bearer-secret guard; the page asks for the
//! secret once, keeps it in `sessionStorage`, and sends it as a header, never in a URL.
//!
//! | route | answers | file |
//! |---|---|---|
//! | `GET /_emulator/` | the page | `assets/index.html` |
//! | `GET /_emulator/assets/{name}` | its stylesheet, script, icon | `assets/` |
//! | `GET /_emulator/api/overview` | counts by status × shard, the pipelines, the oldest ready | `overview.rs` |
//! | `GET /_emulator/api/executions` | a filtered page, through an index, with a cursor | `list.rs` |
//! | `GET /_emulator/api/executions/{executionId}` | one execution, its tree, the calls that touched it | `detail.rs` |
//! | `GET /_emulator/api/requests` | the request log, newest first | `requests.rs` |
//! | `GET /_emulator/api/requests/{seq}` | one logged call with its arguments and result | `requests.rs` |
//!
//! Invariant: no endpoint reads the whole table. Counts and pages are index range walks, and a
//! filter no index serves is checked on at most `INSPECTOR_SCAN_ROWS_MAX` rows per request.

mod detail;
mod list;
mod overview;
mod requests;

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value as Json};

use crate::http::codec::{Encode, OutputFormat};
use crate::http::request_log::RequestLog;
use crate::http::AppState;
use crate::store::Document;
use crate::value::Value;

/// What the inspector keeps beside the store: the request log. ("Now", for what is due, is the
/// deployment's clock, `AppState::clock`, manual or not.)
pub struct Inspector {
    /// The last calls (`--request-log-size`).
    pub request_log: RequestLog,
}

impl Inspector {
    /// An inspector whose log keeps `request_log_entries` calls.
    pub fn new(request_log_entries: usize) -> Self {
        Self {
            request_log: RequestLog::new(request_log_entries),
        }
    }
}

/// The page and its assets: public.
pub fn public_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(page))
        .route("/assets/{name}", get(asset))
}

/// The JSON endpoints: to be placed behind the secret guard.
pub fn api_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/overview", get(overview::overview))
        .route("/api/executions", get(list::executions))
        .route("/api/executions/{execution_id}", get(detail::execution))
        .route("/api/requests", get(requests::requests))
        .route("/api/requests/{seq}", get(requests::request))
}

/// The page's script and styles come only from this origin; nothing inline runs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The page (`/_emulator` and `/_emulator/`).
pub async fn page() -> Response {
    embedded(
        "text/html; charset=utf-8",
        include_str!("../assets/index.html").as_bytes(),
    )
}

async fn asset(Path(name): Path<String>) -> Response {
    let (content_type, body): (&str, &[u8]) = match name.as_str() {
        "inspector.css" => (
            "text/css; charset=utf-8",
            include_str!("../assets/inspector.css").as_bytes(),
        ),
        "inspector.js" => (
            "text/javascript; charset=utf-8",
            include_str!("../assets/inspector.js").as_bytes(),
        ),
        "favicon.svg" => (
            "image/svg+xml",
            include_str!("../assets/favicon.svg").as_bytes(),
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    embedded(content_type, body)
}

fn embedded(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Assets change with the binary; revalidating costs nothing on loopback.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A JSON answer that no cache keeps (it holds store data).
fn fresh_json(body: Json) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A value as clean JSON, for display.
fn clean(value: &Value) -> Json {
    serde_json::to_value(Encode(value, OutputFormat::Clean)).unwrap_or(Json::Null)
}

/// Fields the list and the tree show for an execution.
const SUMMARY_FIELDS: &[&str] = &[
    "executionId",
    "taskId",
    "shard",
    "status",
    "isFinished",
    "isSleepingTask",
    "sleepingTaskUniqueId",
    "closeStatus",
    "ocfpStatus",
    "acc",
    "startAt",
    "expiresAt",
    "createdAt",
    "updatedAt",
    "rootExecutionId",
    "parentExecutionId",
];

/// An execution in brief: its identity, state and times.
fn summary(doc: &Document) -> Json {
    let mut out = Map::new();
    out.insert("_id".into(), Json::String(doc.id.clone()));
    out.insert(
        "_creationTime".into(),
        clean(&Value::Float64(doc.creation_time)),
    );
    for name in SUMMARY_FIELDS {
        if let Some(value) = doc.fields.get(*name) {
            out.insert((*name).into(), clean(value));
        }
    }
    Json::Object(out)
}
