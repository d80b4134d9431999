//! Snapshot ZIPs in the layout `npx convex export` writes, and back (docs/SNAPSHOTS.md).
//!
//! ```text
//! README.md
//! _tables/documents.jsonl                                   the app's own tables: none
//! _components/<component>/_tables/documents.jsonl           {"id":10001,"name":"taskExecutions"}, locks
//! _components/<component>/taskExecutions/generated_schema.jsonl
//! _components/<component>/taskExecutions/documents.jsonl    one document per line
//! _components/<component>/locks/generated_schema.jsonl      "never" (the locks live in memory)
//! _components/<component>/locks/documents.jsonl             empty
//! ```
//!
//! Documents are written in Convex's "clean" JSON export format (`json.rs`): int64 as a decimal
//! string, bytes as base64, `NaN`/`Infinity`/`-Infinity` as strings, keys sorted, `_id` and
//! `_creationTime` kept. The first line of `generated_schema.jsonl` is the table's shape in
//! Convex's shape syntax as a JSON string (`shape.rs`); each further line gives, for one
//! document that needs it, how to read its special floats back.
//!
//! Export streams the rows in creation order from one read transaction (`export.rs`). Import
//! (`import.rs`) is one write transaction that keeps each row's `_id` and `_creationTime`: a
//! reading thread parses each line, checks it against the component's schema and encodes it,
//! while the writer inserts the rows before it. A file in creation order (an export of the
//! emulator) is read once; one in another order (a deployment's, in `_id` order) is checked and
//! ranked first, then read again. A ZIP that does not fit is refused with the file and line of
//! its first bad document, and nothing of it is kept.
//!
//! Invariant: this module knows the ZIP layout and the export JSON; the store only sees rows.

mod export;
mod import;
mod json;
mod layout;
mod shape;

use thiserror::Error;

pub use export::{export, Exported};
pub use import::{import, ImportOptions};
pub use layout::DEFAULT_COMPONENT;

/// Why a snapshot could not be written or read.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// A document (or schema line) does not fit: which file, which line (1-based), and why.
    #[error("{file}:{line}: {message}")]
    BadLine {
        file: String,
        line: u64,
        message: String,
    },
    /// The ZIP's layout does not hold what is needed (no component, several, a wrong table).
    #[error("{0}")]
    Layout(String),
    /// Importing without replace into a store that holds executions.
    #[error(
        "the store already holds {0} executions; import with replace (`--replace`, \
         `replace=true`) to empty it first"
    )]
    NotEmpty(u64),
    /// Not a ZIP, or a damaged one.
    #[error("reading the ZIP: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Reading or writing the bytes of an entry.
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::Error),
}

impl SnapshotError {
    /// Whether the snapshot or the request is at fault (rather than the machinery).
    pub fn is_callers_fault(&self) -> bool {
        !matches!(self, SnapshotError::Store(_))
    }
}
