//! The single writer: one thread that owns the only read-write connection.
//!
//! Every mutation of the emulator is a [`Job`] sent to this thread. Jobs run one at a time, in
//! arrival order, so mutations are serializable by construction (no retries, no write
//! conflicts) and a claim can never hand the same execution to two callers.
//!
//! **Group commit.** The thread takes a job, opens one SQLite transaction, and keeps running
//! the jobs already queued (up to [`WRITE_BATCH_JOBS_MAX`] in all) inside it, each after the
//! first in its own savepoint: a job that fails is rolled back to its savepoint alone, and the
//! first, which has the transaction to itself, is rolled back with the transaction (it needs no
//! savepoint, see [`Job::run`]). Then it commits once and
//! only then answers every job of the batch. So each job is still atomic and isolated, and is
//! acknowledged only once durable; but under concurrency a page that many jobs touch is
//! written to the WAL once per batch instead of once per job. If the commit itself fails, no
//! job of the batch is acknowledged: all of them get the error.
//!
//! A bulk job (a snapshot import, `Store::write_bulk`) runs alone in its transaction, without a
//! savepoint: a savepoint keeps the old content of every page it overwrites in memory, which for
//! an import over a million rows is the whole file. Its failure rolls back the transaction.
//!
//! The thread is also where `_creationTime`s come from: it keeps the lowest creation time the
//! next job may use, so creation times are strictly increasing across the whole store, and row
//! order equals creation order.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::rngs::StdRng;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::error::Error;
use crate::limits::WRITE_BATCH_JOBS_MAX;
use crate::store::checkpointer::WalRestart;
use crate::store::tx::{next_f64_up, ReadTx, WriteTx};

/// What the writer thread's queue carries.
pub(crate) enum Work {
    /// A job, run in a batch with whatever else is queued.
    Job(Box<dyn Job>),
    /// The store is idle: empty the WAL and free the connection's page cache, then answer
    /// (`store::idle`). One found queued behind jobs is dropped unanswered, since the store is
    /// busy after all.
    ReleaseMemory(oneshot::Sender<()>),
}

/// Work for the writer thread.
pub(crate) trait Job: Send {
    /// Runs inside the batch's transaction. `Err` means the connection itself failed and the
    /// whole batch must be abandoned.
    ///
    /// `first`: nothing else is in the transaction yet, so a failure can undo the whole
    /// transaction instead of a savepoint. That matters: SQLite copies each page a savepoint's
    /// job first overwrites into a statement journal, in memory in chunks of about 1 KiB
    /// (`temp_store = MEMORY`), a few allocations and a copy per page; under the load mix that
    /// was about a sixth of the writer thread's time (BENCHMARKS.md). A lone caller's every
    /// write is the first of its batch, and pays none of it.
    fn run(&mut self, state: &mut WriterState, first: bool) -> Result<(), Error>;

    /// Delivers the outcome once the batch is committed (`Ok`) or abandoned (`Err`).
    fn finish(self: Box<Self>, batch: Result<(), &Error>);

    /// Whether the job runs first in a transaction of its own, without a savepoint (see
    /// [`crate::store::Store::write_bulk`]).
    fn alone(&self) -> bool {
        false
    }
}

/// A write: a closure run in a savepoint, and where to send its result.
pub(crate) struct WriteJob<F, R, E> {
    pub(crate) f: Option<F>,
    /// Run alone, without a savepoint.
    pub(crate) alone: bool,
    pub(crate) outcome: Option<Result<R, E>>,
    pub(crate) reply: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> Job for WriteJob<F, R, E>
where
    F: FnOnce(&mut WriteTx<'_>) -> Result<R, E> + Send,
    R: Send,
    E: From<Error> + Send,
{
    fn run(&mut self, state: &mut WriterState, first: bool) -> Result<(), Error> {
        let f = self.f.take().expect("a job runs once");
        self.outcome = Some(if self.alone || first {
            state.without_savepoint(f)?
        } else {
            state.in_savepoint(f)?
        });
        Ok(())
    }

    fn finish(self: Box<Self>, batch: Result<(), &Error>) {
        deliver(self.reply, self.outcome, batch);
    }

    fn alone(&self) -> bool {
        self.alone
    }
}

/// A read on the writer's connection (an in-memory database has no other). It sees the
/// batch's uncommitted writes, so its answer, too, waits for the commit.
pub(crate) struct ReadJob<F, R, E> {
    pub(crate) f: Option<F>,
    pub(crate) outcome: Option<Result<R, E>>,
    pub(crate) reply: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> Job for ReadJob<F, R, E>
where
    F: FnOnce(&ReadTx<'_>) -> Result<R, E> + Send,
    R: Send,
    E: From<Error> + Send,
{
    fn run(&mut self, state: &mut WriterState, _first: bool) -> Result<(), Error> {
        let f = self.f.take().expect("a job runs once");
        self.outcome = Some(f(&ReadTx::new(&state.conn)));
        Ok(())
    }

    fn finish(self: Box<Self>, batch: Result<(), &Error>) {
        deliver(self.reply, self.outcome, batch);
    }
}

/// Sends a job its answer: its own outcome once the batch committed, the batch's failure
/// otherwise (a job's writes are only real once the commit that carries them is).
fn deliver<R, E: From<Error>>(
    reply: oneshot::Sender<Result<R, E>>,
    outcome: Option<Result<R, E>>,
    batch: Result<(), &Error>,
) {
    let outcome = match (batch, outcome) {
        (Ok(()), Some(outcome)) => outcome,
        (Err(e), _) => Err(E::from(Error::BatchAbandoned(e.to_string()))),
        (Ok(()), None) => Err(E::from(Error::BatchAbandoned(
            "job did not run".to_string(),
        ))),
    };
    let _ = reply.send(outcome);
}

/// What the writer thread owns.
pub(crate) struct WriterState {
    pub(crate) conn: Connection,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: StdRng,
    /// The smallest `_creationTime` the next insert may get.
    pub(crate) creation_time_floor: f64,
    /// Nanosecond timestamp of the latest commit, for `/api/query_ts`.
    pub(crate) last_commit_ns: Arc<AtomicU64>,
    /// The checkpointer's requests to restart the WAL (`checkpointer`); `None` in memory.
    pub(crate) wal: Option<Arc<WalRestart>>,
}

impl WriterState {
    /// The writer thread's loop: batches until every sender is gone.
    pub(crate) fn run(mut self, mut queue: mpsc::Receiver<Work>) {
        // A job that must run alone, taken from the queue while a batch was running.
        let mut held: Option<Box<dyn Job>> = None;
        loop {
            let work = match held.take() {
                Some(job) => Work::Job(job),
                None => match queue.blocking_recv() {
                    Some(work) => work,
                    None => return,
                },
            };
            match work {
                Work::Job(first) => {
                    let mut batch = vec![first];
                    let outcome = self.run_batch(&mut batch, &mut queue, &mut held);
                    for job in batch {
                        job.finish(outcome.as_ref().map(|_| ()));
                    }
                    // After the answers, so only the jobs queued meanwhile wait for it.
                    if self.wal.as_ref().is_some_and(|wal| wal.take_request()) {
                        self.restart_wal();
                    }
                }
                Work::ReleaseMemory(done) => {
                    // Outside any transaction, so every cached page is unused and freed, and
                    // nobody is reading: the WAL can go back to zero bytes. A failure only
                    // means the memory (or the WAL file) stays.
                    if self.wal.is_some() {
                        let _ = self.checkpoint("PRAGMA wal_checkpoint(TRUNCATE)");
                    }
                    let _ = self.conn.release_memory();
                    let _ = done.send(());
                }
            }
        }
    }

    /// Runs `batch[0]` and then whatever else is queued (up to the batch limit) in one
    /// transaction, and commits. On any failure of the connection, or a panic in a job, the
    /// whole batch is rolled back. A job that runs alone is never batched: it ends the batch
    /// before it (it waits in `held`) and none joins it.
    fn run_batch(
        &mut self,
        batch: &mut Vec<Box<dyn Job>>,
        queue: &mut mpsc::Receiver<Work>,
        held: &mut Option<Box<dyn Job>>,
    ) -> Result<(), Error> {
        self.execute("BEGIN IMMEDIATE")?;
        let mut ran = 0;
        loop {
            if ran == batch.len() {
                if batch.len() >= WRITE_BATCH_JOBS_MAX || batch[0].alone() {
                    break;
                }
                match queue.try_recv() {
                    Ok(Work::Job(job)) if job.alone() => {
                        *held = Some(job);
                        break;
                    }
                    Ok(Work::Job(job)) => batch.push(job),
                    Ok(Work::ReleaseMemory(_)) => continue,
                    Err(_) => break,
                }
            }
            let job = &mut batch[ran];
            let first = ran == 0;
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job.run(self, first)))
                .unwrap_or_else(|_| Err(Error::BatchAbandoned("a write job panicked".to_string())));
            if let Err(e) = outcome {
                let _ = self.execute("ROLLBACK");
                return Err(e);
            }
            ran += 1;
        }
        self.commit().inspect_err(|_| {
            let _ = self.execute("ROLLBACK");
        })
    }

    /// The end of a WAL restart (`checkpointer`): copies what the checkpointer's passes left,
    /// waits for readers of old WAL pages, so that the next commit writes the WAL from its
    /// beginning. A failure (a reader holding on past the busy timeout) leaves the WAL growing
    /// until the checkpointer asks again.
    fn restart_wal(&self) {
        let done = self.checkpoint("PRAGMA wal_checkpoint(RESTART)");
        if let (Ok(true), Some(wal)) = (done, &self.wal) {
            wal.count_restart();
        }
    }

    /// Runs a `wal_checkpoint` pragma; whether it completed (SQLite's `busy` column is 0).
    fn checkpoint(&self, pragma: &str) -> Result<bool, Error> {
        let busy: i64 = self.conn.query_row(pragma, [], |row| row.get(0))?;
        Ok(busy == 0)
    }

    fn commit(&mut self) -> Result<(), Error> {
        self.execute("COMMIT")?;
        let now_ns = self.clock.now_ns();
        let previous = self.last_commit_ns.load(Ordering::Relaxed);
        self.last_commit_ns
            .store(now_ns.max(previous + 1), Ordering::Relaxed);
        Ok(())
    }

    /// Runs `f` as one job: its own clock reading, its own savepoint. `Ok(Err(_))` is the
    /// job's own failure (rolled back alone); `Err(_)` is a failure of the connection.
    fn in_savepoint<R, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>,
    ) -> Result<Result<R, E>, Error> {
        self.execute("SAVEPOINT job")?;
        let result = self.run_job(f);
        if result.is_err() {
            self.execute("ROLLBACK TO job")?;
        }
        self.execute("RELEASE job")?;
        Ok(result)
    }

    /// Runs `f` as the first or only job of the transaction, without a savepoint: its failure
    /// rolls back the whole transaction, which held nothing else (then opens an empty one for
    /// the jobs after it and the batch's commit).
    fn without_savepoint<R, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>,
    ) -> Result<Result<R, E>, Error> {
        let result = self.run_job(f);
        if result.is_err() {
            self.execute("ROLLBACK")?;
            self.execute("BEGIN IMMEDIATE")?;
        }
        Ok(result)
    }

    /// Runs `f` on the open transaction with its own clock reading, and moves the creation
    /// time floor past what it inserted.
    fn run_job<R, E>(&mut self, f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>) -> Result<R, E> {
        let now_ns = self.clock.now_ns();
        let mut wtx = WriteTx {
            read: ReadTx::new(&self.conn),
            now_ns,
            next_creation_time: ns_to_ms(now_ns).max(self.creation_time_floor),
            inserted: false,
            rng: &mut self.rng,
        };
        let result = f(&mut wtx);
        if wtx.inserted {
            // Even if the job rolls back: skipping creation times is harmless.
            self.creation_time_floor = wtx.next_creation_time;
        }
        result
    }

    fn execute(&self, sql: &str) -> Result<(), Error> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }
}

/// Milliseconds with a sub-millisecond fraction, as Convex derives `_creationTime` from a
/// nanosecond timestamp.
pub(crate) fn ns_to_ms(ns: u64) -> f64 {
    (ns / 1_000_000) as f64 + (ns % 1_000_000) as f64 * 1e-6
}

/// The floor for creation times after reopening a database: just above the newest stored one
/// (the last row, since row order is creation order).
pub(crate) fn creation_time_floor(conn: &Connection) -> Result<f64, Error> {
    let newest: Option<f64> = conn
        .query_row(
            "SELECT creation_time FROM task_executions ORDER BY row DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(newest.map_or(0.0, next_f64_up))
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
