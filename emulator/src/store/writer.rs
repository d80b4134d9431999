//! The single writer: one thread that owns the only read-write connection.
//!
//! Every mutation of the emulator is a job sent to this thread, which runs it as one SQLite
//! transaction and commits it before answering. Jobs run one at a time, in arrival order, so
//! mutations are serializable by construction (no retries, no write conflicts), and a claim can
//! never hand the same execution to two callers. The thread is also where `_creationTime`s come
//! from: it keeps the lowest creation time the next transaction may use, so creation times are
//! strictly increasing across the whole store, and row order equals creation order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::rngs::StdRng;
use rusqlite::Connection;

use crate::clock::Clock;
use crate::error::Error;
use crate::store::tx::{next_f64_up, ReadTx, WriteTx};

/// Work for the writer thread.
pub(crate) type Job = Box<dyn FnOnce(&mut WriterState) + Send>;

/// What the writer thread owns.
pub(crate) struct WriterState {
    pub(crate) conn: Connection,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: StdRng,
    /// The smallest `_creationTime` the next insert may get.
    pub(crate) creation_time_floor: f64,
    /// Nanosecond timestamp of the latest commit, for `/api/query_ts`.
    pub(crate) last_commit_ns: Arc<AtomicU64>,
}

impl WriterState {
    /// Runs `f` in one transaction: commits if it returns `Ok`, rolls back if `Err`.
    pub(crate) fn write<R, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let now_ns = self.clock.now_ns();
        let start = ns_to_ms(now_ns).max(self.creation_time_floor);
        let tx = self.conn.transaction().map_err(Error::from)?;
        let mut wtx = WriteTx {
            read: ReadTx { conn: &tx },
            now_ns,
            next_creation_time: start,
            inserted: false,
            rng: &mut self.rng,
        };
        let result = f(&mut wtx);
        let (inserted, next_creation_time) = (wtx.inserted, wtx.next_creation_time);
        drop(wtx);
        match result {
            Ok(value) => {
                tx.commit().map_err(Error::from)?;
                if inserted {
                    self.creation_time_floor = next_creation_time;
                }
                let previous = self.last_commit_ns.load(Ordering::Relaxed);
                self.last_commit_ns
                    .store(now_ns.max(previous + 1), Ordering::Relaxed);
                Ok(value)
            }
            // Dropping `tx` rolls it back.
            Err(e) => Err(e),
        }
    }

    /// Runs a read on the writer's connection (used when there are no read connections).
    pub(crate) fn read<R>(&mut self, f: impl FnOnce(&ReadTx<'_>) -> R) -> R {
        f(&ReadTx { conn: &self.conn })
    }
}

/// Milliseconds with a sub-millisecond fraction, as Convex derives `_creationTime` from a
/// nanosecond timestamp.
pub(crate) fn ns_to_ms(ns: u64) -> f64 {
    (ns / 1_000_000) as f64 + (ns % 1_000_000) as f64 * 1e-6
}

/// The floor for creation times after reopening a database: just above the newest stored one.
pub(crate) fn creation_time_floor(conn: &Connection) -> Result<f64, Error> {
    let mut floor = 0.0f64;
    for table in ["task_executions", "locks"] {
        let newest: Option<f64> = conn
            .query_row(
                &format!("SELECT creation_time FROM {table} ORDER BY row DESC LIMIT 1"),
                [],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        if let Some(newest) = newest {
            floor = floor.max(next_f64_up(newest));
        }
    }
    Ok(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_to_ms_keeps_the_fraction() {
        assert_eq!(ns_to_ms(1_732_646_400_123_456_789), 1_732_646_400_123.456_8);
        assert_eq!(ns_to_ms(5_000_000), 5.0);
    }
}
