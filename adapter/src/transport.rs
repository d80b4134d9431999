//! One call of a public Convex function over the HTTP API, and how its answer is classified.
//!
//! The request is what the official TypeScript `ConvexHttpClient` sends (PROTOCOL.md 1.2):
//! `POST {url}/api/{query|mutation|action}` with
//! `{"path": "<module>:<fn>", "format": "convex_encoded_json", "args": [{"authSecret", "args"}]}`.
//! The answer becomes exactly one of: the function's `value`, [`StorageError::Function`] (the
//! function ran and threw), [`StorageError::Http`] (rejected before running),
//! [`StorageError::Transport`] (no HTTP answer) or [`StorageError::Decode`] (anything else).
//!
//! Invariant: this module knows HTTP and the response envelope, never the storage's fields.

use std::time::Duration;

use convex_storage_operations::Operation;
use serde_json::{json, Map, Value};

use crate::error::StorageError;
use crate::mapping::short;

/// The HTTP status the TypeScript client treats like 200 (`STATUS_CODE_UDF_FAILED`); old
/// backends sent function errors with it.
const STATUS_UDF_FAILED: u16 = 560;

/// The largest answer body read, in bytes. Convex caps a function's result at 16 MiB
/// (PROTOCOL.md section 6); twice that leaves room for the envelope and JSON escaping, and
/// anything larger is not a storage answer, so it is refused rather than buffered.
pub(crate) const RESPONSE_BYTES_MAX: usize = 32 * 1024 * 1024;

/// A configured connection to one deployment's storage module.
#[derive(Clone)]
pub(crate) struct ConvexHttp {
    /// Shared so that every call reuses the same connection pool.
    client: reqwest::Client,
    /// The deployment origin without a trailing slash.
    base_url: String,
    auth_secret: String,
    module: String,
    request_timeout: Duration,
}

/// Shows everything but the auth secret, so that logging a storage never leaks it.
impl std::fmt::Debug for ConvexHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvexHttp")
            .field("base_url", &self.base_url)
            .field("auth_secret", &"<redacted>")
            .field("module", &self.module)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl ConvexHttp {
    pub(crate) fn new(
        base_url: String,
        auth_secret: String,
        module: String,
        request_timeout: Duration,
    ) -> Result<Self, StorageError> {
        let client = reqwest::Client::builder().build().map_err(|e| {
            StorageError::InvalidOptions(format!("cannot build the HTTP client: {e}"))
        })?;
        Ok(Self {
            client,
            base_url,
            auth_secret,
            module,
            request_timeout,
        })
    }

    /// The full function path, e.g. `taskExecutionsStorage:insertMany`.
    pub(crate) fn path(&self, operation: Operation) -> String {
        format!("{}:{}", self.module, operation.name())
    }

    /// Calls `operation`'s public function, through the endpoint of its kind, with the inner `args` (`None` sends the envelope without `args`, as the
    /// TypeScript client does for `args: undefined`) and returns the function's `value`.
    pub(crate) async fn call(
        &self,
        operation: Operation,
        args: Option<Value>,
    ) -> Result<Value, StorageError> {
        let path = self.path(operation);
        let mut envelope = Map::new();
        envelope.insert("authSecret".into(), Value::String(self.auth_secret.clone()));
        if let Some(args) = args {
            envelope.insert("args".into(), args);
        }
        let body = json!({
            "path": path,
            "format": "convex_encoded_json",
            "args": [Value::Object(envelope)],
        });
        let url = format!("{}/api/{}", self.base_url, operation.kind().endpoint());
        let transport = |e: reqwest::Error| StorageError::Transport {
            path: path.clone(),
            message: error_chain(&e),
        };

        let response = self
            .client
            .post(url)
            .timeout(self.request_timeout)
            .json(&body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > RESPONSE_BYTES_MAX {
                return Err(StorageError::Decode {
                    path,
                    message: format!("the answer is larger than {RESPONSE_BYTES_MAX} bytes"),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        classify(path.clone(), status, &bytes)
    }
}

/// Turns an HTTP answer into the function's value or the matching error.
fn classify(path: String, status: u16, body: &[u8]) -> Result<Value, StorageError> {
    let is_function_answer = (200..300).contains(&status) || status == STATUS_UDF_FAILED;
    if !is_function_answer {
        return Err(http_error(path, status, body));
    }
    let decode = |message: String| StorageError::Decode {
        path: path.clone(),
        message,
    };
    let answer: Value = serde_json::from_slice(body).map_err(|e| {
        decode(format!(
            "body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    })?;
    let Value::Object(mut answer) = answer else {
        return Err(decode(format!(
            "expected an object, got {}",
            short(&answer)
        )));
    };
    match answer.get("status").and_then(Value::as_str) {
        Some("success") => answer
            .remove("value")
            .ok_or_else(|| decode("a success answer without `value`".to_string())),
        Some("error") => {
            let Some(Value::String(message)) = answer.remove("errorMessage") else {
                return Err(decode(
                    "an error answer without a string `errorMessage`".to_string(),
                ));
            };
            let data = answer.remove("errorData");
            Err(StorageError::Function {
                path,
                message,
                data,
            })
        }
        _ => Err(decode(format!(
            "`status` is neither \"success\" nor \"error\" in {}",
            short(&Value::Object(answer))
        ))),
    }
}

/// A non-2xx answer: Convex's `{code, message}` when the body is that, the raw body otherwise.
fn http_error(path: String, status: u16, body: &[u8]) -> StorageError {
    #[derive(serde::Deserialize)]
    struct ConvexHttpError {
        code: String,
        message: String,
    }
    match serde_json::from_slice::<ConvexHttpError>(body) {
        Ok(error) => StorageError::Http {
            path,
            status,
            code: error.code,
            message: error.message,
        },
        Err(_) => StorageError::Http {
            path,
            status,
            code: String::new(),
            message: String::from_utf8_lossy(body).into_owned(),
        },
    }
}

/// reqwest's own message is terse ("error sending request"); the causes say what happened.
fn error_chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_timeout() {
        message.push_str(" (timed out)");
    }
    message
}

/// Accepts `http(s)://host[:port]` (a trailing `/` is fine) and returns it without the slash.
pub(crate) fn validate_url(url: &str) -> Result<String, StorageError> {
    let invalid = |why: &str| StorageError::InvalidOptions(format!("invalid url {url:?}: {why}"));
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a deployment url has no query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_str(status: u16, body: &str) -> Result<Value, StorageError> {
        classify("m:f".to_string(), status, body.as_bytes())
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let http = ConvexHttp::new(
            "http://127.0.0.1:1".into(),
            "very-secret".into(),
            "m".into(),
            Duration::from_secs(1),
        )
        .unwrap();
        let shown = format!("{http:?}");
        assert!(
            !shown.contains("very-secret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn success_yields_the_value() {
        assert_eq!(
            classify_str(200, r#"{"status":"success","value":[1,2]}"#).unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            classify_str(200, r#"{"status":"success","value":null,"logLines":[]}"#).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn function_error_keeps_message_and_data() {
        let error = classify_str(
            200,
            r#"{"status":"error","errorMessage":"[Request ID: 0011223344556677] Server Error\nUncaught Error: boom","errorData":{"x":1}}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&error, StorageError::Function { path, message, data }
                if path == "m:f"
                    && message.ends_with("Uncaught Error: boom")
                    && data == &Some(json!({"x": 1}))),
            "{error:?}"
        );
        assert_eq!(error.thrown_message().as_deref(), Some("boom"));
    }

    #[test]
    fn status_560_is_a_function_answer() {
        let error = classify_str(560, r#"{"status":"error","errorMessage":"boom"}"#).unwrap_err();
        assert!(matches!(error, StorageError::Function { .. }), "{error:?}");
    }

    #[test]
    fn non_2xx_is_http_with_the_convex_code_or_else_the_raw_text() {
        for (status, body, want_code, want_message) in [
            (
                400,
                r#"{"code":"BadJsonBody","message":"nope"}"#,
                "BadJsonBody",
                "nope",
            ),
            (502, "Bad Gateway", "", "Bad Gateway"),
        ] {
            let error = classify_str(status, body).unwrap_err();
            assert!(
                matches!(&error, StorageError::Http { status: got, code, message, .. }
                    if *got == status && code == want_code && message == want_message),
                "{body:?} gave {error:?}"
            );
        }
    }

    #[test]
    fn malformed_answers_are_decode_errors() {
        for body in [
            "",
            "not json",
            "[]",
            r#"{"value":1}"#,
            r#"{"status":"success"}"#,
            r#"{"status":"error"}"#,
            r#"{"status":"error","errorMessage":5}"#,
            r#"{"status":"maybe","value":1}"#,
        ] {
            let error = classify_str(200, body).unwrap_err();
            assert!(
                matches!(error, StorageError::Decode { .. }),
                "{body:?} gave {error:?}"
            );
        }
    }
}
