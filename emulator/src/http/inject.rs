//! The fault-injection hook of the call path: asks the deployment's injector (when started
//! with `--faults`) what to do with one call, and does it. See [`crate::faults`] for the plan.

use std::future::Future;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::faults::{with_crashed_holder, Fault};
use crate::functions::Operation;
use crate::http::AppState;

/// Runs `call` for `function` under the fault the plan picks, if any. `Err` is the reply that
/// replaces the function's: a 503 (the call did not run) or a dropped connection (it did).
pub(super) async fn around<F: Future>(
    state: &AppState,
    function: Operation,
    call: F,
) -> Result<F::Output, Response> {
    let fault = state.faults.as_ref().and_then(|f| f.decide(function));
    match fault {
        None => Ok(call.await),
        Some(Fault::Fail) => Err(unavailable(
            "ServiceUnavailable",
            "Service temporarily unavailable",
        )),
        Some(Fault::Occ) => Err(unavailable(
            "OptimisticConcurrencyControlFailure",
            "Documents read from or written to the \"taskExecutions\" table changed while this \
             mutation was being run and on every subsequent retry. \
             See https://docs.convex.dev/error#1",
        )),
        Some(Fault::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(call.await)
        }
        Some(Fault::Hold) => Ok(with_crashed_holder(call).await),
        Some(Fault::Drop) => {
            call.await;
            Err(dropped_connection())
        }
    }
}

/// A deployment's 503 `{code, message}` (see `crate::faults` for where the shapes come from).
fn unavailable(code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message });
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// A reply whose body fails before its first byte: the server closes the connection and the
/// client gets no answer, as when a deployment's reply is lost after the commit.
fn dropped_connection() -> Response {
    let lost = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("reply dropped by a fault"))
    });
    Response::new(Body::from_stream(lost))
}
