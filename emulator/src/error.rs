//! The crate's error type: things that go wrong in the machinery (files, SQLite, sockets).
//!
//! A storage function that *throws* (a bad secret, a duplicate id, invalid arguments) is not an
//! [`enum@Error`]: it is a normal outcome, [`crate::functions::FunctionError`], answered with HTTP 200
//! like a deployment does.

use std::path::PathBuf;

use thiserror::Error;

/// Operating errors of the emulator.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("creating the database directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the database {path} cannot be written: {reason}. Make it writable, or pass another \
         --db (or --db :memory:)"
    )]
    DbNotWritable { path: PathBuf, reason: String },

    #[error(
        "the file {path} is not an emulator database: {reason}. It was left untouched; pass \
         --db with a new or empty file, or one this emulator made"
    )]
    DbNotOurs { path: PathBuf, reason: String },

    #[error(
        "the database {path} is already served by another emulator{}. Stop that one, or pass \
         another --db",
        match pid { Some(pid) => format!(" (process {pid})"), None => String::new() }
    )]
    DbInUse { path: PathBuf, pid: Option<u32> },

    #[error("the database has schema version {found}, newer than this build knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },

    #[error("document {id} is stored damaged: {source}")]
    CorruptDocument {
        id: String,
        source: crate::store::CodecError,
    },

    #[error("two executions have the same {column} {value:?}")]
    DuplicateKey { column: String, value: String },

    #[error("starting a store thread: {0}")]
    SpawnWriter(std::io::Error),

    #[error("the write batch was rolled back: {0}")]
    BatchAbandoned(String),

    #[error("a read on an async worker went over its byte budget (it is redone elsewhere)")]
    InlineReadTooLarge,

    #[error("the store's writer thread has stopped")]
    WriterStopped,

    #[error("binding {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },

    /// A transaction passed one of Convex's per-call limits; the text is the backend's. Not a
    /// machinery failure: the function fails with it as a deployment's would.
    #[error("{0}")]
    TransactionLimit(String),

    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),

    /// Arguments a validator accepted did not have the shape their function reads: a validator
    /// and its argument struct disagree, which is a bug in this crate, not the caller's.
    #[error("checked arguments do not have the shape their function reads: {0}")]
    ArgumentShape(String),

    #[error("starting from the snapshot {path}: {message}")]
    Snapshot { path: PathBuf, message: String },
}
