//! Extra read-only connections for a file database.
//!
//! In WAL mode readers never block the writer nor each other, and each read transaction sees
//! the database as of its start, which includes every commit acknowledged before the read
//! began. Queries therefore run on these connections, in parallel with the writer thread. An in-memory database has no such connections: its reads go to the
//! writer thread.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use crate::error::Error;
use crate::limits::{READER_CACHE_KIB, READER_CONNECTIONS_MAX, SQLITE_BUSY_TIMEOUT_MS};
use crate::store::tx::ReadTx;

/// A pool of read connections to one database file.
pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` in a read transaction on an idle connection (or a new one).
    pub(crate) fn read<R, E: From<Error>>(
        &self,
        f: impl FnOnce(&ReadTx<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().map_err(E::from)?,
        };
        let result = read_transaction(&conn, f);
        // A connection left inside a transaction (a failed COMMIT) is not reused.
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < READER_CONNECTIONS_MAX && conn.is_autocommit() {
            idle.push(conn);
        }
        result
    }

    /// Opens a read connection.
    fn open(&self) -> Result<Connection, Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(std::time::Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS))?;
        conn.pragma_update(None, "query_only", true)?;
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE_CAPACITY);
        Ok(conn)
    }
}

/// Runs `f` between `BEGIN` and `COMMIT` so all its statements see one snapshot. The two
/// statements come from the statement cache, so no SQL is parsed per read.
fn read_transaction<R, E: From<Error>>(
    conn: &Connection,
    f: impl FnOnce(&ReadTx<'_>) -> Result<R, E>,
) -> Result<R, E> {
    conn.prepare_cached("BEGIN")
        .and_then(|mut s| s.execute([]))
        .map_err(Error::from)?;
    let result = f(&ReadTx::new(conn));
    conn.prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]))
        .map_err(Error::from)?;
    result
}
