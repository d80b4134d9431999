//! Reading a JSON request body the way Convex's extractor does.
//!
//! In order: the content type must be `application/json` (or `application/*+json`), the body
//! must fit in [`BODY_BYTES_MAX`], it must be JSON, and it must have the fields the route
//! needs. Each failure is 400 `BadJsonBody` (never 413), with axum's wording.

use axum::body::Body;
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
    let bytes = axum::body::to_bytes(body, BODY_BYTES_MAX)
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
