//! Read-only connections for a file database, at most [`READER_CONNECTIONS_MAX`] of them.
//!
//! In WAL mode readers never block the writer nor each other, and each read transaction sees
//! the database as of its start, which includes every commit acknowledged before the read
//! began. Queries therefore run on these connections, in parallel with the writer thread. An
//! in-memory database has no such connections: its reads go to the writer thread.
//!
//! The pool never opens more than its cap: a read that finds every connection busy waits for
//! one ([`ReaderPool::read`]) or, on an async worker, does not wait at all
//! ([`ReaderPool::try_read`]). So reads need no fresh file descriptor per request and keep
//! working while many clients hold the process's descriptors.

use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use crate::error::Error;
use crate::limits::{READER_CACHE_KIB, READER_CONNECTIONS_MAX, SQLITE_BUSY_TIMEOUT_MS};
use crate::store::tx::{InlineBudget, ReadTx};

/// A pool of read connections to one database file.
pub(crate) struct ReaderPool {
    path: PathBuf,
    state: Mutex<PoolState>,
    /// Signalled when a connection is returned or a slot frees up.
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Connection>,
    /// Connections in existence: idle plus lent out plus being opened.
    open: usize,
}

impl ReaderPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// Runs `f` in a read transaction, waiting for a connection if all are busy. Blocking.
    pub(crate) fn read<R, E: From<Error>>(
        &self,
        f: impl FnOnce(&ReadTx<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let conn = self.checkout(true).map_err(E::from)?;
        let conn = conn.ok_or(Error::WriterStopped).map_err(E::from)?;
        let result = read_transaction(&conn, None, f);
        self.checkin(conn);
        result
    }

    /// Runs `f` with an inline byte budget if a connection is free right away; `None` if none
    /// is (the caller then reads on a blocking thread). The budget tells whether `f` stopped
    /// for going over it.
    pub(crate) fn try_read<R, E: From<Error>>(
        &self,
        budget: &InlineBudget,
        f: impl FnOnce(&ReadTx<'_>) -> Result<R, E>,
    ) -> Option<Result<R, E>> {
        let conn = match self.checkout(false) {
            Ok(Some(conn)) => conn,
            Ok(None) => return None,
            Err(e) => return Some(Err(E::from(e))),
        };
        let result = read_transaction(&conn, Some(budget), f);
        self.checkin(conn);
        Some(result)
    }

    /// An idle connection, a new one if under the cap, else (if `wait`) the next one returned.
    fn checkout(&self, wait: bool) -> Result<Option<Connection>, Error> {
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Some(conn));
            }
            if state.open < READER_CONNECTIONS_MAX {
                state.open += 1;
                drop(state);
                return match self.open() {
                    Ok(conn) => Ok(Some(conn)),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            if !wait {
                return Ok(None);
            }
            state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Returns a connection. One left inside a transaction (a failed COMMIT) is closed instead,
    /// freeing its slot.
    fn checkin(&self, conn: Connection) {
        let mut state = self.lock();
        if conn.is_autocommit() {
            state.idle.push(conn);
        } else {
            state.open -= 1;
            drop(conn);
        }
        drop(state);
        self.returned.notify_one();
    }

    /// Closes every connection waiting in the pool (the store is idle: `idle`), freeing their
    /// caches and descriptors; the next reads open new ones.
    pub(crate) fn close_idle(&self) {
        let idle = {
            let mut state = self.lock();
            let idle = std::mem::take(&mut state.idle);
            state.open -= idle.len();
            idle
        };
        // Closed outside the lock, so readers never wait for it.
        drop(idle);
        self.returned.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
    budget: Option<&InlineBudget>,
    f: impl FnOnce(&ReadTx<'_>) -> Result<R, E>,
) -> Result<R, E> {
    conn.prepare_cached("BEGIN")
        .and_then(|mut s| s.execute([]))
        .map_err(Error::from)?;
    let mut tx = ReadTx::new(conn);
    tx.budget = budget;
    let result = f(&tx);
    conn.prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]))
        .map_err(Error::from)?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn never_opens_more_than_the_cap_and_waiting_readers_get_a_connection() {
        let dir = std::env::temp_dir().join(format!("readers-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite3");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
            .unwrap();
        let pool = Arc::new(ReaderPool::new(path));
        let busy = Arc::new(AtomicUsize::new(0));
        let most_busy = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..READER_CONNECTIONS_MAX * 4)
            .map(|_| {
                let (pool, busy, most_busy) = (pool.clone(), busy.clone(), most_busy.clone());
                std::thread::spawn(move || {
                    pool.read(|tx| {
                        let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                        most_busy.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        busy.fetch_sub(1, Ordering::SeqCst);
                        tx.conn
                            .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                            .map_err(Error::from)
                    })
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap().unwrap(), 0);
        }
        assert!(most_busy.load(Ordering::SeqCst) <= READER_CONNECTIONS_MAX);
        assert!(pool.lock().open <= READER_CONNECTIONS_MAX);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
