//! The one error type of this crate.

use durable_execution_storage_convex::StorageError;

/// Everything that stops a scenario, a property or a backend from running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// A backend could not be started or reached.
    #[error("could not start the {backend} backend: {message}")]
    Start { backend: String, message: String },
    /// The backend cannot run this check (e.g. the in-memory store has no auth secret); the
    /// check is skipped and reported as such.
    #[error("not applicable: {0}")]
    NotApplicable(String),
    /// A storage call failed where the check expected an answer.
    #[error("{operation} failed unexpectedly: {source}")]
    Storage {
        operation: String,
        #[source]
        source: StorageError,
    },
    /// An emulator control route (`/_emulator/clock`, `/_emulator/faults`) failed.
    #[error("{route} failed: {message}")]
    Control { route: String, message: String },
    /// The backend answered, but not as SPEC.md says.
    #[error("{0}")]
    Check(String),
}

impl ConformanceError {
    /// A failed check with a message.
    pub fn check(message: impl Into<String>) -> Self {
        Self::Check(message.into())
    }
}

/// Attaches the operation name to a storage error, for `?` in checks.
pub trait StorageResultExt<T> {
    /// Turns a storage error into [`ConformanceError::Storage`] naming `operation`.
    fn during(self, operation: &str) -> Result<T, ConformanceError>;
}

impl<T> StorageResultExt<T> for Result<T, StorageError> {
    fn during(self, operation: &str) -> Result<T, ConformanceError> {
        self.map_err(|source| ConformanceError::Storage {
            operation: operation.to_string(),
            source,
        })
    }
}
