//! The one error type of this crate.

/// Everything that can go wrong in a storage call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The options given at construction are invalid (shards out of range, ...).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The request never got an HTTP answer: connection refused, reset, timed out.
    #[error("transport error calling {path}: {message}")]
    Transport { path: String, message: String },
    /// The deployment rejected the request before running the function (4xx/5xx).
    #[error("HTTP {status} from {path}: {code}: {message}")]
    Http { path: String, status: u16, code: String, message: String },
    /// The function ran and threw: `Invalid auth secret`, `Execution id already exists`, ...
    ///
    /// The in-memory storage reports its rejections this way too, with the bare message, so
    /// callers (and the conformance suite) match on [`StorageError::thrown_message`] alike.
    #[error("{path} failed: {message}")]
    Function { path: String, message: String, data: Option<serde_json::Value> },
    /// The answer did not decode as what the function returns.
    #[error("undecodable response from {path}: {message}")]
    Decode { path: String, message: String },
}
