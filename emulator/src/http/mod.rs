//! The HTTP face of the deployment: Convex's public function-call API (PROTOCOL.md §1).
//!
//! Invariant: only this module knows the Convex wire format (JSON encodings, error shapes,
//! status codes, paths); `functions` and `store` see [`crate::value::Value`]s.

mod body;
pub mod bounded;
mod call;
pub mod codec;
pub mod control;
mod cors;
mod error;
pub mod host;
mod inject;
mod meta;
pub mod path;
pub mod request_log;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use error::HttpError;

use crate::clock::ClockControl;
use crate::faults::Faults;
use crate::functions::Functions;

/// What every handler shares.
pub struct AppState {
    /// The 17 functions and their store.
    pub functions: Functions,
    /// The module the functions are exported from (`taskExecutionsStorage`).
    pub module: String,
    /// The deployment's time: the system clock, or a manual one `/_emulator/clock` moves.
    pub clock: ClockControl,
    /// The fault injector, when started with `--faults`.
    pub faults: Option<Arc<Faults>>,
    /// The inspector's request log (`control::inspector`).
    pub inspector: control::inspector::Inspector,
}

/// The routing table.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/query", post(call::query))
        .route("/mutation", post(call::mutation))
        .route("/action", post(call::action))
        .route("/run/{*path}", post(call::run))
        .route("/query_ts", post(call::query_ts))
        .route("/query_at_ts", post(call::query_at_ts))
        .layer(cors::ConvexCors);
    Router::new()
        .nest("/api", api)
        .nest(control::PREFIX, control::router(state.clone()))
        // `nest` serves the prefix itself but not with a trailing slash: the inspector is at both.
        .route("/_emulator/", get(control::inspector::page))
        .route("/", get(meta::root))
        .route("/version", get(meta::version))
        .route("/instance_name", get(meta::instance_name))
        .route("/instance_version", get(meta::version))
        // The body limit is enforced by `body::json_body`, which answers 400 like Convex.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
