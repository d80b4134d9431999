//! Requests that never reach a function: answered with a non-2xx status and Convex's
//! `{"code", "message"}` body (PROTOCOL.md §1.5).
//!
//! Everything a function itself reports (thrown errors, argument errors, unknown functions) is
//! *not* here: those are HTTP 200 with `status: "error"` (see `http::call`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A request the HTTP layer refuses, or a failure of the machinery.
#[derive(Debug)]
pub enum HttpError {
    /// Malformed JSON, wrong content type, missing fields, or a body over the limit.
    BadJsonBody(String),
    /// An unparsable function path.
    BadConvexFunctionIdentifier(String),
    /// `/api/run/...` with fewer than two path segments.
    MissingIdentifier(String),
    /// An unknown output `format`.
    BadFormat(String),
    /// A `Convex-Client` header that is not `<client>-<version>`.
    InvalidClientVersion(String),
    /// A `ts` that is not base64 of 8 bytes.
    InvalidTimestamp(String),
    /// SQLite or the writer thread failed.
    Internal(crate::Error),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            HttpError::BadJsonBody(m) => (StatusCode::BAD_REQUEST, "BadJsonBody", m.clone()),
            HttpError::BadConvexFunctionIdentifier(m) => (
                StatusCode::BAD_REQUEST,
                "BadConvexFunctionIdentifier",
                m.clone(),
            ),
            HttpError::MissingIdentifier(m) => {
                (StatusCode::BAD_REQUEST, "MissingIdentifier", m.clone())
            }
            HttpError::BadFormat(m) => (StatusCode::BAD_REQUEST, "BadFormat", m.clone()),
            HttpError::InvalidClientVersion(m) => {
                (StatusCode::BAD_REQUEST, "InvalidClientVersion", m.clone())
            }
            HttpError::InvalidTimestamp(m) => {
                (StatusCode::BAD_REQUEST, "InvalidTimestamp", m.clone())
            }
            HttpError::Internal(e) => {
                eprintln!("internal error: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "Your request couldn't be completed. Try again later.".to_string(),
                )
            }
        };
        (
            status,
            axum::Json(ErrorBody {
                code,
                message: &message,
            }),
        )
            .into_response()
    }
}

impl From<crate::Error> for HttpError {
    fn from(e: crate::Error) -> Self {
        HttpError::Internal(e)
    }
}
