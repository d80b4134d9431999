//! The function-call routes: `/api/query`, `/api/mutation`, `/api/action`, `/api/run/...`,
//! `/api/query_ts`, `/api/query_at_ts`.
//!
//! A call goes: parse the body (400 on failure) → parse the path (400) → decode the args
//! (from here on failures are HTTP 200 `status: "error"`, as Convex answers) → find the
//! function → check its kind against the endpoint → run it → encode the result in the
//! requested format. Like the backend, the `format` is checked only after the function ran,
//! so a mutation with a bad format still commits before the 400.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::functions::{FunctionError, FunctionKind, Operation};
use crate::http::body::json_body;
use crate::http::bounded::BoundedJson;
use crate::http::codec::{self, Encode, OutputFormat};
use crate::http::error::HttpError;
use crate::http::inject;
use crate::http::path::UdfPath;
use crate::http::request_log::LoggedUsage;
use crate::http::AppState;
use crate::limits::INLINE_ENCODE_BYTES_MAX;
use crate::value::Value;

/// Body of `/api/query`, `/api/mutation`, `/api/action`.
#[derive(Deserialize)]
struct CallBody {
    path: String,
    args: BoundedJson,
    format: Option<String>,
}

/// Body of `/api/run/{path}`.
#[derive(Deserialize)]
struct RunBody {
    args: BoundedJson,
    format: Option<String>,
}

/// Body of `/api/query_at_ts`.
#[derive(Deserialize)]
struct QueryAtTsBody {
    path: String,
    args: BoundedJson,
    ts: String,
    format: Option<String>,
}

pub async fn query(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    typed_call(state, FunctionKind::Query, headers, body).await
}

pub async fn mutation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    typed_call(state, FunctionKind::Mutation, headers, body).await
}

pub async fn action(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    typed_call(state, FunctionKind::Action, headers, body).await
}

async fn typed_call(
    state: Arc<AppState>,
    kind: FunctionKind,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let default_format = default_format(&headers)?;
        let body: CallBody = json_body(&headers, body).await?;
        run_call(
            &state,
            Some(kind),
            &body.path,
            body.args,
            body.format,
            default_format,
        )
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `/api/run/module/.../function`: any kind; the default format is clean JSON.
pub async fn run(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body: RunBody = json_body(&headers, body).await?;
        let segments: Vec<&str> = path.split('/').collect();
        let [module @ .., function] = segments.as_slice() else {
            unreachable!("split yields one")
        };
        if module.is_empty() {
            return Err(HttpError::MissingIdentifier(format!(
                "Operation path /api/run/{path} must have a module and a function name"
            )));
        }
        let udf_path = format!("{}:{function}", module.join("/"));
        run_call(
            &state,
            None,
            &udf_path,
            body.args,
            body.format,
            OutputFormat::Clean,
        )
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `/api/query_ts`: the latest commit timestamp, base64 of a u64 little-endian.
pub async fn query_ts(State(state): State<Arc<AppState>>) -> Response {
    let ts = state.functions.store().last_commit_ns();
    axum::Json(serde_json::json!({ "ts": BASE64.encode(ts.to_le_bytes()) })).into_response()
}

/// `/api/query_at_ts`: checks the `ts`, then runs the query at the latest state. This store
/// keeps no history, so a write committed between `query_ts` and this call is visible here,
/// where a deployment would hide it (listed in the crate docs' differences).
pub async fn query_at_ts(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let default_format = default_format(&headers)?;
        let body: QueryAtTsBody = json_body(&headers, body).await?;
        let bytes = BASE64.decode(body.ts.as_bytes()).unwrap_or_default();
        if bytes.len() != 8 {
            return Err(HttpError::InvalidTimestamp(
                "Wrong number of bytes for SerializedTs.".to_string(),
            ));
        }
        run_call(
            &state,
            Some(FunctionKind::Query),
            &body.path,
            body.args,
            body.format,
            default_format,
        )
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// How the request log shows a call whose reply a fault replaced (a 503, or a dropped
/// connection after the call ran; `--faults`).
const INJECTED: &str = "Injected fault: the reply was replaced (see /_emulator/faults)";

/// Why a call returned no value, with the text Convex puts after `Server Error\n`.
enum Failure {
    Message(String),
    Internal(crate::Error),
    /// An injected fault replaced the reply (see `inject`).
    Injected(Response),
}

impl From<FunctionError> for Failure {
    fn from(e: FunctionError) -> Self {
        match e {
            FunctionError::Internal(e) => Failure::Internal(e),
            other => Failure::Message(other.message()),
        }
    }
}

async fn run_call(
    state: &AppState,
    endpoint: Option<FunctionKind>,
    path: &str,
    args: BoundedJson,
    format: Option<String>,
    default_format: OutputFormat,
) -> Result<Response, HttpError> {
    let udf_path = UdfPath::parse(path).map_err(|reason| {
        HttpError::BadConvexFunctionIdentifier(format!(
            "{path} is not a valid path to a Convex function. {reason}"
        ))
    })?;
    // The request log: the call's time from the emulator's clock, its latency from the
    // monotonic clock (a duration, not a reading of "now").
    let started = Instant::now();
    let call = state.inspector.request_log.start(
        state.clock.clock().now_ms(),
        path,
        endpoint_name(endpoint),
        // Arrays and objects over Convex's limits are already cut here; the log cuts further.
        &args.json,
        &|s| state.functions.is_auth_secret(s),
    );
    let (outcome, usage) = invoke(state, endpoint, &udf_path, args).await;
    let logged = match &outcome {
        Ok(value) => Ok(value),
        Err(Failure::Message(message)) => Err(message.clone()),
        Err(Failure::Internal(e)) => Err(format!("Internal error: {e}")),
        Err(Failure::Injected(_)) => Err(INJECTED.to_string()),
    };
    let logged = logged.as_ref().map_err(String::as_str).copied();
    let request_log = &state.inspector.request_log;
    request_log.finish(call, logged, usage, started.elapsed());
    let format = match format {
        None => default_format,
        Some(name) => OutputFormat::parse(&name)
            .ok_or_else(|| HttpError::BadFormat(format!("Invalid format: {name}")))?,
    };
    match outcome {
        Ok(value) => Ok(success(value, format).await),
        Err(Failure::Message(message)) => Ok(failure(&message)),
        Err(Failure::Internal(e)) => Err(HttpError::Internal(e)),
        Err(Failure::Injected(reply)) => Ok(reply),
    }
}

/// Runs the call under the fault plan; with the result, what it read and wrote for the request
/// log (`None` when no function was found or a fault replaced the reply).
async fn invoke(
    state: &AppState,
    endpoint: Option<FunctionKind>,
    udf_path: &UdfPath,
    args: BoundedJson,
) -> (Result<Value, Failure>, Option<LoggedUsage>) {
    match find_function(state, endpoint, udf_path, args) {
        Ok((function, envelope)) => {
            let call = state.functions.call_observed(function, envelope);
            let observed = match inject::around(state, function, call).await {
                Ok(observed) => observed,
                Err(reply) => return (Err(Failure::Injected(reply)), None),
            };
            let usage = observed.usage;
            let usage = LoggedUsage::new(
                usage.documents_read,
                usage.bytes_read,
                usage.documents_written,
                usage.bytes_written,
                usage.into_changed_execution_ids(),
            );
            (observed.result.map_err(Failure::from), Some(usage))
        }
        Err(message) => (Err(Failure::Message(message)), None),
    }
}

/// The function a path names, checked against the endpoint, and its first positional argument;
/// `Err` is the error message.
fn find_function(
    state: &AppState,
    endpoint: Option<FunctionKind>,
    udf_path: &UdfPath,
    args: BoundedJson,
) -> Result<(Operation, Option<Value>), String> {
    let positional = decode_positional_args(args)
        .map_err(|reason| format!("Invalid arguments for {udf_path}: {reason}"))?;
    let function = Some(udf_path)
        .filter(|p| p.module() == state.module)
        .and_then(|p| Operation::from_name(p.function()))
        .ok_or_else(|| {
            format!(
                "Could not find public function for '{}'.",
                udf_path.stripped()
            )
        })?;
    if let Some(kind) = endpoint.filter(|k| *k != function.kind()) {
        return Err(format!(
            "Trying to execute {} as {kind}, but it is defined as {}.",
            udf_path.canonical(),
            function.kind()
        ));
    }
    Ok((function, positional.into_iter().next()))
}

/// The endpoint a call came through, as the request log names it.
fn endpoint_name(endpoint: Option<FunctionKind>) -> &'static str {
    endpoint.map_or("run", FunctionKind::endpoint)
}

/// `args` as positional arguments: an array as-is, anything else as a one-element array.
fn decode_positional_args(args: BoundedJson) -> Result<Vec<Value>, String> {
    if let Some(over_limit) = args.over_limit {
        return Err(over_limit);
    }
    match args.json {
        Json::Array(items) => items.into_iter().map(codec::decode).collect(),
        other => Ok(vec![codec::decode(other)?]),
    }
}

#[derive(Serialize)]
struct Success<'a> {
    status: &'static str,
    value: Encode<'a>,
}

#[derive(Serialize)]
struct Failed {
    status: &'static str,
    #[serde(rename = "errorMessage")]
    error_message: String,
}

/// Encodes a successful answer; a big one on a blocking thread, so the async workers keep
/// answering small calls meanwhile.
async fn success(value: Value, format: OutputFormat) -> Response {
    if !is_bigger_than(&value, INLINE_ENCODE_BYTES_MAX) {
        return encode_success(&value, format);
    }
    tokio::task::spawn_blocking(move || encode_success(&value, format))
        .await
        .unwrap_or_else(|_| HttpError::Internal(crate::Error::WriterStopped).into_response())
}

/// Whether `value` holds more than about `bytes` of data; stops counting once it does.
fn is_bigger_than(value: &Value, bytes: usize) -> bool {
    fn count(value: &Value, left: &mut usize) -> bool {
        let own = match value {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 8,
        };
        let Some(rest) = left.checked_sub(own) else {
            return true;
        };
        *left = rest;
        match value {
            Value::Array(items) => items.iter().any(|item| count(item, left)),
            Value::Object(fields) => fields.iter().any(|(name, field)| {
                *left = left.saturating_sub(name.len());
                *left == 0 || count(field, left)
            }),
            _ => false,
        }
    }
    let mut left = bytes;
    count(value, &mut left)
}

fn encode_success(value: &Value, format: OutputFormat) -> Response {
    axum::Json(Success {
        status: "success",
        value: Encode(value, format),
    })
    .into_response()
}

fn failure(message: &str) -> Response {
    let error_message = format!("[Request ID: {}] Server Error\n{message}", request_id());
    axum::Json(Failed {
        status: "error",
        error_message,
    })
    .into_response()
}

/// A fresh 16-hex-character request id, as the backend makes when the client sends none.
fn request_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The format used when the request names none: clean JSON, except for clients old enough
/// to expect the encoded one (npm ≤ 1.4.1, Python ≤ 0.5.0), judged from `Convex-Client`.
fn default_format(headers: &HeaderMap) -> Result<OutputFormat, HttpError> {
    let Some(client) = headers.get("convex-client") else {
        return Ok(OutputFormat::Clean);
    };
    let client = client.to_str().unwrap_or_default();
    let Some((name, version)) = client.rsplit_once('-') else {
        return Err(HttpError::InvalidClientVersion(format!(
            "Invalid client version: {client}"
        )));
    };
    let version: Vec<u64> = version
        .split('.')
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect();
    let old = |limit: [u64; 3]| version.as_slice() <= limit.as_slice();
    Ok(match name {
        "npm" | "npm-cli" if old([1, 4, 1]) => OutputFormat::Encoded,
        "python" | "python-convex" if old([0, 5, 0]) => OutputFormat::Encoded,
        _ => OutputFormat::Clean,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn client(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("convex-client", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn default_format_depends_on_the_client_version() {
        assert_eq!(
            default_format(&HeaderMap::new()).unwrap(),
            OutputFormat::Clean
        );
        assert_eq!(
            default_format(&client("npm-1.48.0")).unwrap(),
            OutputFormat::Clean
        );
        assert_eq!(
            default_format(&client("npm-1.4.1")).unwrap(),
            OutputFormat::Encoded
        );
        assert_eq!(
            default_format(&client("python-0.5.0")).unwrap(),
            OutputFormat::Encoded
        );
        assert_eq!(
            default_format(&client("rust-0.1.0")).unwrap(),
            OutputFormat::Clean
        );
        assert!(default_format(&client("nodash")).is_err());
    }
}
