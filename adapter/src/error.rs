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
    Transport {
        /// The function path called, e.g. `taskExecutionsStorage:insertMany`.
        path: String,
        /// What the HTTP client reported.
        message: String,
    },
    /// The deployment rejected the request before running the function (4xx/5xx).
    #[error("HTTP {status} from {path}: {code}: {message}")]
    Http {
        /// The function path called.
        path: String,
        /// The HTTP status code.
        status: u16,
        /// Convex's short error code (`BadJsonBody`, ...), empty when the body had none.
        code: String,
        /// Convex's message, or the raw body when it was not Convex's `{code, message}`.
        message: String,
    },
    /// The function ran and threw: `Invalid auth secret`, `Execution id already exists`, ...
    ///
    /// The in-memory storage reports its rejections this way too, with the bare message, so
    /// callers (and the conformance suite) match on [`StorageError::thrown_message`] alike.
    #[error("{path} failed: {message}")]
    Function {
        /// The function path called.
        path: String,
        /// Convex's `errorMessage` as sent (with its `[Request ID: ...]` prefix), or the bare
        /// thrown message for the in-memory storage.
        message: String,
        /// Convex's `errorData`, present only when the function threw a `ConvexError`.
        data: Option<serde_json::Value>,
    },
    /// The answer did not decode as what the function returns.
    #[error("undecodable response from {path}: {message}")]
    Decode {
        /// The function path called.
        path: String,
        /// What did not decode, and why.
        message: String,
    },
}

impl StorageError {
    /// For a [`StorageError::Function`], the message the function threw, without Convex's
    /// decoration: no `[Request ID: ...] Server Error` line, no leading `Uncaught Error: `,
    /// first line only (stack frames dropped). `None` for every other kind.
    ///
    /// So `Execution id already exists` comes out the same from a deployment, the emulator and
    /// the in-memory storage. Other error names stay (`ArgumentValidationError: ...`); a
    /// redacted message (nothing after the request id) yields `Server Error`.
    pub fn thrown_message(&self) -> Option<String> {
        let Self::Function { message, .. } = self else {
            return None;
        };
        let mut rest = message.as_str();
        if let Some(after) = rest.strip_prefix("[Request ID: ") {
            if let Some(end) = after.find("] ") {
                rest = &after[end + 2..];
            }
        }
        if let Some(after) = rest.strip_prefix("Server Error\n") {
            rest = after;
        }
        // A component's error re-thrown by the app function can carry the prefix twice.
        while let Some(after) = rest.strip_prefix("Uncaught Error: ") {
            rest = after;
        }
        Some(rest.lines().next().unwrap_or("").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::StorageError;

    fn function_error(message: &str) -> StorageError {
        StorageError::Function {
            path: "m:f".into(),
            message: message.into(),
            data: None,
        }
    }

    #[test]
    fn thrown_message_strips_convex_decoration() {
        let error = function_error(
            "[Request ID: 0123456789abcdef] Server Error\nUncaught Error: Execution id already exists\n    at handler (lib.ts:1:1)\n",
        );
        assert_eq!(
            error.thrown_message().as_deref(),
            Some("Execution id already exists")
        );
    }

    #[test]
    fn thrown_message_keeps_bare_messages() {
        let error = function_error("Sleeping task unique id already exists");
        assert_eq!(
            error.thrown_message().as_deref(),
            Some("Sleeping task unique id already exists")
        );
    }

    #[test]
    fn thrown_message_keeps_other_error_names() {
        let error = function_error(
            "[Request ID: 0123456789abcdef] Server Error\nArgumentValidationError: Value does not match validator.",
        );
        assert_eq!(
            error.thrown_message().as_deref(),
            Some("ArgumentValidationError: Value does not match validator.")
        );
    }

    #[test]
    fn thrown_message_of_a_redacted_error() {
        let error = function_error("[Request ID: 0123456789abcdef] Server Error");
        assert_eq!(error.thrown_message().as_deref(), Some("Server Error"));
    }

    #[test]
    fn thrown_message_strips_a_doubled_prefix() {
        let error = function_error("Uncaught Error: Uncaught Error: Invalid auth secret");
        assert_eq!(
            error.thrown_message().as_deref(),
            Some("Invalid auth secret")
        );
    }

    #[test]
    fn thrown_message_is_none_for_other_kinds() {
        let error = StorageError::Decode {
            path: "m:f".into(),
            message: "bad".into(),
        };
        assert_eq!(error.thrown_message(), None);
    }
}
