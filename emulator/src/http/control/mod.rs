//! The emulator's own routes, under `/_emulator/`: a prefix no Convex route uses, so nothing
//! here can shadow or be mistaken for the deployment's API.
//!
//! Every route but the inspector's page and its assets demands the deployment's auth secret
//! as `Authorization: Bearer <secret>`, compared in constant time. A header, never a query
//! string, so the secret stays out of URLs, browser history and access logs. Without it the
//! answer is 401 with a `{code, message}` body, the shape of Convex's own HTTP errors.
//!
//! | route | what |
//! |---|---|
//! | `GET /_emulator/health` | `{"ok": true}` once the store answers (guarded, so it also checks a secret) |
//! | `GET /_emulator/`, `/_emulator/assets/*`, `/_emulator/api/*` | the inspector (`inspector/`) |
//! | `GET /_emulator/export` | the store as a snapshot ZIP (`snapshot.rs`, docs/SNAPSHOTS.md) |
//! | `POST /_emulator/import` | a snapshot ZIP into the store, all or nothing: `{"imported": n}` (`snapshot.rs`) |
//! | `POST /_emulator/reset` | empties the store in one transaction, frees the selector locks: `{"deleted": n}` (`reset.rs`) |
//! | `GET`/`POST /_emulator/clock` | read the time; move a manual clock (`clock`) |
//! | `GET`/`POST`/`DELETE /_emulator/faults` | the fault plan and its log (`faults`) |

mod clock;
mod faults;
pub mod inspector;
pub mod reset;
pub mod snapshot;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use crate::http::AppState;
use crate::limits::SNAPSHOT_BODY_BYTES_MAX;

/// The prefix of every route in this module.
pub const PREFIX: &str = "/_emulator";

/// The routes under [`PREFIX`], relative to it.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let guarded = Router::new()
        .route("/health", get(health))
        .merge(inspector::api_routes())
        .route("/reset", post(reset::reset))
        .route("/export", get(snapshot::export))
        .route(
            "/import",
            post(snapshot::import).layer(DefaultBodyLimit::max(SNAPSHOT_BODY_BYTES_MAX)),
        )
        .route("/clock", get(clock::get_clock).post(clock::move_clock))
        .route(
            "/faults",
            get(faults::get_faults)
                .post(faults::set_faults)
                .delete(faults::clear_faults),
        )
        .route_layer(middleware::from_fn_with_state(state, require_secret));
    Router::new()
        .merge(inspector::public_routes())
        .merge(guarded)
}

/// Refuses a request that does not carry the secret as a bearer token.
async fn require_secret(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(secret) if state.functions.is_auth_secret(secret) => next.run(request).await,
        Some(_) => ControlError::Unauthorized("The auth secret is wrong.").into_response(),
        None => ControlError::Unauthorized(
            "Send the emulator's auth secret as `Authorization: Bearer <secret>`.",
        )
        .into_response(),
    }
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "ok": true }))
}

/// A control request refused or failed, answered as `{code, message}`.
#[derive(Debug)]
pub enum ControlError {
    /// No secret, or the wrong one: 401.
    Unauthorized(&'static str),
    /// The request itself is wrong (bad JSON, a value out of range): 400.
    BadRequest(String),
    /// The route exists but the feature is off (for example the manual clock): 404.
    NotEnabled(String),
    /// The thing asked for does not exist (an executionId, a call no longer logged): 404.
    NotFound(String),
    /// The store failed: 500.
    Internal(crate::Error),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ControlError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "Unauthorized", m.into()),
            ControlError::BadRequest(m) => (StatusCode::BAD_REQUEST, "BadRequest", m),
            ControlError::NotEnabled(m) => (StatusCode::NOT_FOUND, "NotEnabled", m),
            ControlError::NotFound(m) => (StatusCode::NOT_FOUND, "NotFound", m),
            ControlError::Internal(e) => {
                eprintln!("internal error: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "Your request couldn't be completed. Try again later.".to_string(),
                )
            }
        };
        let body = ErrorBody {
            code,
            message: &message,
        };
        (status, axum::Json(body)).into_response()
    }
}

impl From<crate::Error> for ControlError {
    fn from(e: crate::Error) -> Self {
        ControlError::Internal(e)
    }
}
