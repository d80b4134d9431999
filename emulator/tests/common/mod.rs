//! Shared helpers for the emulator's test crates: a deployment on an in-memory store with a
//! manual clock, a caller that speaks the wire protocol the way `ConvexHttpClient` does, and a
//! fresh directory for a test's files (also for the tests of the real binary).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use convex_storage_emulator::clock::ManualClock;
use convex_storage_emulator::store::{DbLocation, Store};
use convex_storage_emulator::{app, open_state, AppState};
use serde_json::{json, Value as Json};
use tower::ServiceExt;

/// The secret of test deployments.
pub const SECRET: &str = "test-secret";
/// The module the functions live in.
pub const MODULE: &str = "taskExecutionsStorage";
/// Where the manual clock starts (2023-11-14T22:13:20Z).
pub const T0: u64 = 1_700_000_000_000;

/// An in-process deployment.
pub struct Deployment {
    pub app: Router,
    pub clock: Arc<ManualClock>,
    pub state: Arc<AppState>,
}

impl Deployment {
    /// A fresh deployment on an in-memory database, clock at [`T0`].
    pub fn new() -> Self {
        Self::on(&DbLocation::Memory)
    }

    /// A fresh deployment (as [`Deployment::new`]) with `executions` inserted.
    pub async fn holding(executions: Vec<Json>) -> Self {
        let deployment = Self::new();
        deployment.insert(executions).await;
        deployment
    }

    /// A deployment on the given database.
    pub fn on(db: &DbLocation) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let state = open_state(db, SECRET.to_string(), MODULE.to_string(), clock.clone()).unwrap();
        Self {
            app: app(state.clone()),
            clock,
            state,
        }
    }

    /// The store, for arranging or inspecting state directly.
    pub fn store(&self) -> &Arc<Store> {
        self.state.functions.store()
    }

    /// Sends a request and returns status, content type and body text.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// POSTs a JSON body to `route`; returns the status and the parsed body.
    pub async fn post(&self, route: &str, body: Json) -> (StatusCode, Json) {
        let request = Request::post(route)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, text) = self.send(request).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Json::String(text)),
        )
    }

    /// Calls a function as `ConvexHttpClient` does (`[{authSecret, args}]`, encoded format).
    /// `Ok(value)` on success; `Err(message)` with the text after `Server Error\n`.
    pub async fn call(&self, kind: &str, function: &str, args: Json) -> Result<Json, String> {
        self.call_raw(
            kind,
            function,
            json!([{ "authSecret": SECRET, "args": args }]),
        )
        .await
    }

    /// Calls a function with `args` sent as given (not wrapped in an envelope).
    pub async fn call_raw(&self, kind: &str, function: &str, args: Json) -> Result<Json, String> {
        let body = json!({
            "path": format!("{MODULE}:{function}"),
            "format": "convex_encoded_json",
            "args": args,
        });
        let (status, body) = self.post(&format!("/api/{kind}"), body).await;
        assert_eq!(status, StatusCode::OK, "body: {body}");
        outcome(&body)
    }

    /// Shorthand for the ubiquitous lookup: the documents (or nulls) for these ids.
    pub async fn get(&self, execution_ids: &[&str]) -> Vec<Json> {
        let requests: Vec<Json> = execution_ids
            .iter()
            .map(|id| json!({ "executionId": id }))
            .collect();
        let value = self
            .call("query", "getManyById", json!({ "requests": requests }))
            .await
            .unwrap();
        value.as_array().unwrap().clone()
    }

    /// Inserts these executions, panicking on failure.
    pub async fn insert(&self, executions: Vec<Json>) {
        self.call(
            "mutation",
            "insertMany",
            json!({ "executions": executions }),
        )
        .await
        .unwrap();
    }
}

/// Splits a `{status, value | errorMessage}` body into a result, checking the error prefix.
pub fn outcome(body: &Json) -> Result<Json, String> {
    match body["status"].as_str() {
        Some("success") => Ok(body["value"].clone()),
        Some("error") => {
            let message = body["errorMessage"].as_str().unwrap();
            let rest = message
                .strip_prefix("[Request ID: ")
                .expect("request id prefix");
            let (id, rest) = rest.split_at(16);
            assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "request id {id}");
            let text = rest
                .strip_prefix("] Server Error\n")
                .expect("Server Error line");
            Err(text.to_string())
        }
        _ => panic!("not a function response: {body}"),
    }
}

/// The shared wire fixtures, under the short names these tests use.
#[allow(unused_imports)] // Not every test crate that includes this module inserts executions.
pub use convex_storage_testkit::fixtures::{
    execution_json as execution, execution_json_with as execution_with,
};

/// Sends `request` to a served emulator and parses its answer as JSON.
pub async fn json_reply(request: reqwest::RequestBuilder) -> Json {
    request.send().await.unwrap().json().await.unwrap()
}

/// The ids of a list of returned documents.
pub fn ids(docs: &Json) -> Vec<String> {
    docs.as_array()
        .unwrap()
        .iter()
        .map(|d| d["executionId"].as_str().unwrap().to_string())
        .collect()
}

/// A fresh directory for one test's files (emptied first), removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("emulator-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// The file `name` in this directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
