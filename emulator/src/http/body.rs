//! Reading a JSON request body the way Convex's extractor does.
//!
//! In order: the content type must be `application/json` (or `application/*+json`), the body
//! must fit in [`BODY_BYTES_MAX`], it must be JSON, and it must have the fields the route
//! needs. Each failure is 400 `BadJsonBody` (never 413), with axum's wording.
//!
//! The body is collected into one buffer sized from `Content-Length` (so a 16 MiB body costs
//! 16 MiB, not the 2-3 times a growing buffer or a copy of collected chunks would), and `args`
//! fields are parsed as [`crate::http::bounded::BoundedJson`], which applies Convex's limits
//! while parsing.

use std::future::poll_fn;
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::http::error::HttpError;
use crate::limits::BODY_BYTES_MAX;

/// Reads and deserializes the body.
pub async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, HttpError> {
    if !is_json_content_type(headers) {
        return Err(HttpError::BadJsonBody(
            "Expected request with `Content-Type: application/json`".to_string(),
        ));
    }
    let bytes = collect(headers, body)
        .await
        .map_err(|e| HttpError::BadJsonBody(format!("Failed to buffer the request body: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        HttpError::BadJsonBody(match e.classify() {
            Category::Data => {
                format!("Failed to deserialize the JSON body into the target type: {e}")
            }
            Category::Syntax | Category::Eof | Category::Io => {
                format!("Failed to parse the request body as JSON: {e}")
            }
        })
    })
}

/// The whole body, refused past [`BODY_BYTES_MAX`] (as soon as it is known to be too long).
async fn collect(headers: &HeaderMap, mut body: Body) -> Result<Vec<u8>, String> {
    const TOO_LONG: &str = "length limit exceeded";
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > BODY_BYTES_MAX) {
        return Err(TOO_LONG.to_string());
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > BODY_BYTES_MAX {
                return Err(TOO_LONG.to_string());
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accepts_json_content_types_only() {
        assert!(is_json_content_type(&with_type("application/json")));
        assert!(is_json_content_type(&with_type(
            "application/json; charset=utf-8"
        )));
        assert!(is_json_content_type(&with_type("application/vnd.api+json")));
        assert!(!is_json_content_type(&with_type("text/plain")));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
