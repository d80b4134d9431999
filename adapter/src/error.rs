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

/// The HTTP status a deployment answers when it refused to run a call for now: overloaded
/// (`ServiceUnavailable`), or a mutation that kept conflicting
/// (`OptimisticConcurrencyControlFailure`). The function did not run.
pub const STATUS_UNAVAILABLE: u16 = 503;

/// The HTTP status of a rate-limited call; the function did not run.
pub const STATUS_RATE_LIMITED: u16 = 429;

/// What a failed call left behind on the deployment, which decides whether to retry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The function did not run (refused before running, or a local error): nothing changed.
    NotRun,
    /// The function ran and threw: nothing changed (a mutation that throws rolls back), and
    /// running it again throws again unless the state changed meanwhile.
    RanAndThrew,
    /// No answer arrived: the call may or may not have committed. Only an idempotent
    /// operation can be sent again as is; see docs/FAULTS.md for the others.
    Unknown,
}

impl StorageError {
    /// The function path the failed call named (`taskExecutionsStorage:insertMany`), or
    /// `None` for invalid options.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::InvalidOptions(_) => None,
            Self::Transport { path, .. }
            | Self::Http { path, .. }
            | Self::Function { path, .. }
            | Self::Decode { path, .. } => Some(path),
        }
    }

    /// What the failed call left behind (see [`CallOutcome`]).
    ///
    /// A [`StorageError::Decode`] counts as [`CallOutcome::Unknown`]: a 2xx answer arrived but
    /// was not understood, so the call may have run.
    pub fn outcome(&self) -> CallOutcome {
        match self {
            Self::InvalidOptions(_) | Self::Http { .. } => CallOutcome::NotRun,
            Self::Function { .. } => CallOutcome::RanAndThrew,
            Self::Transport { .. } | Self::Decode { .. } => CallOutcome::Unknown,
        }
    }

    /// Whether the deployment refused the call for now (overloaded, an OCC conflict, rate
    /// limited): it did not run, and the same call may succeed later.
    pub fn is_transient_refusal(&self) -> bool {
        matches!(self, Self::Http { status, .. }
            if *status == STATUS_UNAVAILABLE || *status == STATUS_RATE_LIMITED)
    }

    /// Whether this is the deployment's OCC failure: a mutation that conflicted with others on
    /// every one of the deployment's own retries.
    pub fn is_occ_conflict(&self) -> bool {
        matches!(self, Self::Http { code, .. } if code == "OptimisticConcurrencyControlFailure")
    }

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
    fn outcomes_say_whether_the_call_may_have_run() {
        use super::CallOutcome;
        let http = |status: u16, code: &str| StorageError::Http {
            path: "m:insertMany".into(),
            status,
            code: code.into(),
            message: String::new(),
        };
        let overloaded = http(503, "ServiceUnavailable");
        assert_eq!(overloaded.outcome(), CallOutcome::NotRun);
        assert!(overloaded.is_transient_refusal() && !overloaded.is_occ_conflict());
        let occ = http(503, "OptimisticConcurrencyControlFailure");
        assert!(occ.is_transient_refusal() && occ.is_occ_conflict());
        let bad = http(400, "BadJsonBody");
        assert!(!bad.is_transient_refusal());
        assert_eq!(bad.outcome(), CallOutcome::NotRun);
        let lost = StorageError::Transport {
            path: "m:insertMany".into(),
            message: "connection closed".into(),
        };
        assert_eq!(lost.outcome(), CallOutcome::Unknown);
        assert_eq!(lost.path(), Some("m:insertMany"));
        assert_eq!(function_error("boom").outcome(), CallOutcome::RanAndThrew);
        assert_eq!(StorageError::InvalidOptions("x".into()).path(), None);
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
