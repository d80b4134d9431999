//! Durable storage of the two component tables in SQLite.
//!
//! [`Store`] is a small synchronous store behind an async facade:
//!
//! * **One writer.** A dedicated thread owns the only read-write connection and runs every
//!   [`Store::write`] closure as one transaction, one after another (`writer`). Serial
//!   execution makes every mutation serializable without retries, and it is plenty fast: a
//!   storage mutation touches a handful of rows through indexes.
//! * **Many readers.** For a file database, [`Store::read`] runs on pooled read connections
//!   on Tokio's blocking threads, and [`Store::read_inline`] (for short point lookups) on the
//!   calling task (`readers`); WAL mode lets them run while the writer commits, never waiting
//!   for it, and each sees every commit acknowledged before it started. An in-memory database has one
//!   connection, so its reads queue on the writer thread.
//! * **Checkpoints** run on a background thread, so no commit waits for an fsync
//!   (`checkpointer`). About once a second under sustained writes the writer restarts the WAL
//!   between two batches, after that thread has copied all but a short tail of it, so the WAL
//!   stays bounded; an idle store empties it (`idle`).
//! * **Idle release.** Once no call has run for a while, the page caches and the allocator's
//!   free memory go back to the OS (`idle`), so an emulator that served a burst shrinks back.
//! * **Durability.** `journal_mode = WAL` with `synchronous = NORMAL`: a commit is written to
//!   the WAL file before `write` returns, so every acknowledged mutation survives the process
//!   being killed (`kill -9`); the WAL is not fsynced per commit, so a power loss or OS crash
//!   may roll back the last few commits (the database stays consistent either way).
//! * **Exact index order.** Range indexes are byte keys in Convex's value order (`sort_key`,
//!   `indexes`), so claims are `O(log n)` index range scans returning rows in Convex's order.
//! * **Schema** as numbered, append-only migrations (`schema`).
//! * **Whole-store work** (`bulk`): emptying the store in one statement, reading every row in
//!   creation order, and restoring rows with their own `_id` and `_creationTime` (snapshots);
//!   a load into the empty table builds its unique indexes after the rows (`empty_load`).
//!
//! Invariant: the store knows SQL and Convex values, never HTTP or JSON, and never the storage
//! functions' rules (clamps, filters, locks' meaning): those live in `crate::functions`.

mod bulk;
mod busy;
mod checkpointer;
mod codec;
mod empty_load;
mod idle;
mod indexes;
mod inspect;
mod lock;
mod preflight;
mod readers;
mod schema;
mod sort_key;
mod tx;
pub mod usage;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rand::SeedableRng;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

pub use bulk::RestoredRows;
pub use codec::CodecError;
pub use empty_load::LoadingTable;
pub use indexes::{Index, IndexRange};
use tx::InlineBudget;
pub use tx::{Document, ReadTx, WriteTx};
pub use usage::{Usage, UsageScope};

use crate::clock::Clock;
use crate::error::Error;
use crate::limits::{
    INLINE_READ_BYTES_MAX, WAL_SIZE_LIMIT_BYTES, WRITER_CACHE_KIB, WRITE_QUEUE_JOBS_MAX,
};
use checkpointer::{Checkpointer, WalPolicy, WalRestart};
use idle::{Activity, IdleRelease};
use lock::DbLock;
use readers::ReaderPool;
use writer::{Job, ReadJob, Work, WriteJob, WriterState};

/// Prepared statements kept per connection: the fixed queries plus the few shapes of UPDATE.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// Gone when the process ends.
    Memory,
    /// A SQLite file; its directory is created if missing.
    File(PathBuf),
}

impl DbLocation {
    /// `:memory:` means [`DbLocation::Memory`], anything else is a file path.
    pub fn parse(s: &str) -> Self {
        if s == ":memory:" {
            DbLocation::Memory
        } else {
            DbLocation::File(PathBuf::from(s))
        }
    }
}

/// A write job's failure with what the transaction had read and written before it failed.
struct Metered<E> {
    error: E,
    usage: Usage,
}

impl<E: From<Error>> From<Error> for Metered<E> {
    fn from(e: Error) -> Self {
        Metered {
            error: E::from(e),
            usage: Usage::default(),
        }
    }
}

/// `f`, answering its result together with what the read transaction read (reads have no
/// rollback, so a failed read reports its usage too).
fn with_usage<R, E, F>(f: F) -> impl FnOnce(&ReadTx<'_>) -> Result<(Result<R, E>, Usage), E>
where
    F: FnOnce(&ReadTx<'_>) -> Result<R, E>,
{
    move |tx| {
        let result = f(tx);
        Ok((result, tx.meter.take(true)))
    }
}

/// The storage of one emulated deployment. Cheap to share behind an `Arc`.
pub struct Store {
    jobs: mpsc::Sender<Work>,
    readers: Option<Arc<ReaderPool>>,
    last_commit_ns: Arc<AtomicU64>,
    writer_thread: JoinHandle<()>,
    checkpointer: Option<Checkpointer>,
    /// Calls running and done, for the idle thread.
    activity: Arc<Activity>,
    idle_release: IdleRelease,
    /// Held while the store is open; released after the writer has closed the database.
    lock: Option<DbLock>,
}

impl Store {
    /// Opens (creating and migrating if needed) the database and starts the writer thread.
    ///
    /// A file that cannot be written, is not ours, or is served by another emulator is refused
    /// before anything is written to it (`preflight`, `lock`).
    pub fn open(location: &DbLocation, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        Self::open_with(location, clock, WalPolicy::default())
    }

    /// [`Store::open`] with the WAL restarted as `wal_policy` says (tests use a short WAL).
    pub(crate) fn open_with(
        location: &DbLocation,
        clock: Arc<dyn Clock>,
        wal_policy: WalPolicy,
    ) -> Result<Self, Error> {
        configure_sqlite();
        let (mut conn, readers, lock) = match location {
            DbLocation::Memory => (Connection::open_in_memory()?, None, None),
            DbLocation::File(path) => {
                create_parent_dir(path)?;
                preflight::check(path)?;
                let lock = DbLock::acquire(path)?;
                (
                    open_file(path)?,
                    Some(Arc::new(ReaderPool::new(path.clone()))),
                    Some(lock),
                )
            }
        };
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        // Savepoint journals stay in memory instead of spilling to temporary files.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        schema::migrate(&mut conn)?;
        let last_commit_ns = Arc::new(AtomicU64::new(clock.now_ns()));
        let wal = readers.as_ref().map(|_| Arc::new(WalRestart::default()));
        let state = WriterState {
            creation_time_floor: writer::creation_time_floor(&conn)?,
            conn,
            clock,
            rng: rand::rngs::StdRng::from_entropy(),
            last_commit_ns: last_commit_ns.clone(),
            wal: wal.clone(),
        };
        let (jobs, queue) = mpsc::channel::<Work>(WRITE_QUEUE_JOBS_MAX);
        let writer_thread = std::thread::Builder::new()
            .name("store-writer".to_string())
            .spawn(move || state.run(queue))
            .map_err(Error::SpawnWriter)?;
        let checkpointer = match (location, &wal) {
            (DbLocation::File(path), Some(wal)) => {
                Some(Checkpointer::start(path.clone(), wal_policy, wal.clone())?)
            }
            _ => None,
        };
        let activity = Arc::new(Activity::new());
        let idle_release = IdleRelease::start(activity.clone(), readers.clone(), &jobs)?;
        Ok(Self {
            jobs,
            readers,
            last_commit_ns,
            writer_thread,
            checkpointer,
            activity,
            idle_release,
            lock,
        })
    }

    /// How many times the store has given its memory back after being idle (see `idle`).
    pub fn memory_releases(&self) -> u64 {
        self.activity.releases()
    }

    /// How many times the writer restarted the WAL from its beginning (`checkpointer`).
    #[cfg(test)]
    pub(crate) fn wal_restarts(&self) -> u64 {
        self.checkpointer.as_ref().map_or(0, |c| c.restarts())
    }

    /// Gives memory back after `after` without calls instead of
    /// [`IDLE_MEMORY_RELEASE_AFTER_MS`](crate::limits::IDLE_MEMORY_RELEASE_AFTER_MS); tests
    /// shorten it.
    pub fn release_memory_when_idle_for(&self, after: Duration) {
        self.activity.set_release_after(after);
    }

    /// Runs `f` as one atomic write on the writer thread: its effects are kept if it returns
    /// `Ok`, undone if `Err`. Returns once the commit is durable against a process crash.
    ///
    /// What the transaction read and wrote is reported to the running [`UsageScope`].
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut WriteTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let metered = move |tx: &mut WriteTx<'_>| match f(tx) {
            Ok(value) => Ok((value, tx.read.meter.take(true))),
            Err(error) => Err(Metered {
                error,
                usage: tx.read.meter.take(false),
            }),
        };
        match self.send_write(metered, false).await {
            Ok((value, usage)) => {
                UsageScope::report(usage);
                Ok(value)
            }
            Err(Metered { error, usage }) => {
                UsageScope::report(usage);
                Err(error)
            }
        }
    }

    /// Like [`Store::write`] (unmetered), for one job that rewrites much of the file, such as
    /// a snapshot import: it runs in a transaction of its own without a savepoint. A savepoint
    /// would keep, in memory, the old content of every page of the file the job overwrites
    /// (with `replace`, the whole previous store). Still all or nothing: a failure rolls back
    /// the transaction.
    pub async fn write_bulk<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut WriteTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.send_write(f, true).await
    }

    /// Queues `f` for the writer thread and waits for its committed outcome; the store counts
    /// as busy meanwhile (`idle`).
    async fn send_write<R, E, F>(&self, f: F, alone: bool) -> Result<R, E>
    where
        F: FnOnce(&mut WriteTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let _running = self.activity.enter();
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(WriteJob {
            f: Some(f),
            alone,
            outcome: None,
            reply,
        });
        self.jobs
            .send(Work::Job(job))
            .await
            .map_err(|_| Error::WriterStopped)?;
        answer.await.map_err(|_| Error::WriterStopped)?
    }

    /// Runs `f` in one read transaction (a consistent snapshot), on a blocking thread, so a
    /// long read (e.g. every child of a big parent) never stalls the async workers.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&ReadTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let _running = self.activity.enter();
        let (result, usage) = self.read_unmetered(with_usage(f)).await?;
        UsageScope::report(usage);
        result
    }

    async fn read_unmetered<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&ReadTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        match &self.readers {
            Some(readers) => {
                let readers = readers.clone();
                tokio::task::spawn_blocking(move || readers.read(f))
                    .await
                    .map_err(|_| Error::WriterStopped)?
            }
            None => self.read_on_writer(f).await,
        }
    }

    /// Like [`Store::read`], but runs on the calling task. Only for reads bounded to a few
    /// index lookups: those take microseconds and WAL readers never wait for the writer, so
    /// the hand-off to a blocking thread would cost more than the read itself (it more than
    /// halves `getManyById` throughput). Two things send it to a blocking thread after all, so
    /// small calls sharing the async worker are never held up: every read connection is busy,
    /// or the documents read exceed [`INLINE_READ_BYTES_MAX`] (then `f` runs again there).
    pub async fn read_inline<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: Fn(&ReadTx<'_>) -> Result<R, E> + Send + Sync + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let Some(readers) = &self.readers else {
            return self.read(f).await;
        };
        let _running = self.activity.enter();
        let budget = InlineBudget::new(INLINE_READ_BYTES_MAX);
        match readers.try_read(&budget, with_usage(&f)) {
            Some(Ok((result, usage))) if !budget.exceeded() => {
                UsageScope::report(usage);
                result
            }
            Some(Err(e)) if !budget.exceeded() => Err(e),
            // No free connection, or over the byte budget: on a blocking thread, from scratch.
            _ => self.read(f).await,
        }
    }

    /// An in-memory database has only the writer's connection: reads queue there.
    async fn read_on_writer<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&ReadTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(ReadJob {
            f: Some(f),
            outcome: None,
            reply,
        });
        self.jobs
            .send(Work::Job(job))
            .await
            .map_err(|_| Error::WriterStopped)?;
        answer.await.map_err(|_| Error::WriterStopped)?
    }

    /// Nanosecond timestamp of the latest commit (what `/api/query_ts` reports).
    pub fn last_commit_ns(&self) -> u64 {
        self.last_commit_ns.load(Ordering::Relaxed)
    }

    /// Stops the writer after the queued jobs and waits for it to close the database.
    /// Blocking; call from a blocking context.
    pub fn close(self) {
        let Store {
            jobs,
            readers,
            writer_thread,
            checkpointer,
            idle_release,
            lock,
            ..
        } = self;
        idle_release.stop();
        if let Some(checkpointer) = checkpointer {
            checkpointer.stop();
        }
        drop(jobs);
        drop(readers);
        let _ = writer_thread.join();
        drop(lock);
    }
}

/// Turns off SQLite's memory statistics, process-wide, before its first connection: with them
/// on, every allocation and free SQLite makes takes a global mutex (SQLite's own advice for
/// speed is to turn them off), and nothing here reads them. SQLite accepts this only before it is
/// initialized; when something else in the process opened a connection first, they stay on,
/// which changes nothing but the speed.
fn configure_sqlite() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        // SAFETY: `sqlite3_config` is called once, before this module opens a connection; if
        // SQLite is already initialized it refuses with SQLITE_MISUSE and changes nothing.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0);
        }
    });
}

/// Creates the database's directory if it is missing.
fn create_parent_dir(path: &Path) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// Opens the writer's connection to a database file in WAL mode.
fn open_file(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    conn.busy_handler(Some(busy::retry_in_short_steps))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints run on their own thread and between the writer's batches (`checkpointer`),
    // never inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::value::{object, Object, Value};

    fn fields(execution_id: &str) -> Object {
        object([
            ("executionId", Value::from(execution_id)),
            ("shard", Value::Float64(0.0)),
        ])
    }

    fn memory_store() -> Arc<Store> {
        Arc::new(Store::open(&DbLocation::Memory, Arc::new(ManualClock::new(1_000))).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_job_is_undone_alone_even_inside_a_batch() {
        let store = memory_store();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .write(move |tx| {
                        if i % 2 == 0 {
                            tx.insert_execution(fields(&format!("ok-{i}")))?;
                            Ok(())
                        } else {
                            tx.insert_execution(fields(&format!("bad-{i}")))?;
                            Err(Error::BatchAbandoned("this job fails".to_string()))
                        }
                    })
                    .await
            }));
        }
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().is_ok(), i % 2 == 0);
        }
        let (kept, undone) = store
            .read(|tx| {
                let mut kept = 0;
                let mut undone = 0;
                for i in 0..200 {
                    kept += tx.execution_by_execution_id(&format!("ok-{i}"))?.is_some() as usize;
                    undone += tx.execution_by_execution_id(&format!("bad-{i}"))?.is_some() as usize;
                }
                Ok::<_, Error>((kept, undone))
            })
            .await
            .unwrap();
        assert_eq!((kept, undone), (100, 0));
    }

    /// The first job of a batch has no savepoint: its failure rolls the transaction back,
    /// which takes its writes with it, and the next job runs in a new one. One caller's writes
    /// are each the first of their batch.
    #[tokio::test]
    async fn a_failing_first_job_is_undone_with_its_transaction() {
        let store = memory_store();
        let failed = store
            .write(|tx| {
                tx.insert_execution(fields("undone"))?;
                Err::<(), _>(Error::BatchAbandoned("this job fails".to_string()))
            })
            .await;
        assert!(failed.is_err());
        store
            .write(|tx| tx.insert_execution(fields("kept")).map(drop))
            .await
            .unwrap();
        let (undone, kept) = store
            .read(|tx| {
                Ok::<_, Error>((
                    tx.execution_by_execution_id("undone")?.is_some(),
                    tx.execution_by_execution_id("kept")?.is_some(),
                ))
            })
            .await
            .unwrap();
        assert_eq!((undone, kept), (false, true));
    }

    /// Bulk jobs among ordinary ones: each runs alone (a savepoint-less failure would
    /// otherwise undo the jobs batched with it), a failing one is undone whole, and every
    /// other job is kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_bulk_job_runs_alone_and_its_failure_undoes_only_itself() {
        let store = memory_store();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("job-{i}");
                match i % 10 {
                    3 => {
                        store
                            .write_bulk(move |tx| {
                                tx.insert_execution(fields(&name))?;
                                tx.insert_execution(fields(&format!("{name}-more")))?;
                                Err::<(), _>(Error::BatchAbandoned("this bulk job fails".into()))
                            })
                            .await
                    }
                    7 => {
                        store
                            .write_bulk(move |tx| tx.insert_execution(fields(&name)).map(|_| ()))
                            .await
                    }
                    _ => {
                        store
                            .write(move |tx| tx.insert_execution(fields(&name)).map(|_| ()))
                            .await
                    }
                }
            }));
        }
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().is_ok(), i % 10 != 3, "job {i}");
        }
        let kept = store
            .read(|tx| {
                let mut kept = Vec::new();
                for i in 0..200 {
                    for name in [format!("job-{i}"), format!("job-{i}-more")] {
                        if tx.execution_by_execution_id(&name)?.is_some() {
                            kept.push(i);
                        }
                    }
                }
                Ok::<_, Error>(kept)
            })
            .await
            .unwrap();
        let expected: Vec<i32> = (0..200).filter(|i| i % 10 != 3).collect();
        assert_eq!(kept, expected);
    }

    #[tokio::test]
    async fn creation_times_increase_strictly_across_jobs_and_restarts() {
        let dir = TempDir::new("ct");
        let location = dir.db();
        // A clock stuck in the past: creation times must still increase.
        let clock = Arc::new(ManualClock::new(1_000));
        let mut times = Vec::new();
        for round in 0..2 {
            let store = Store::open(&location, clock.clone()).unwrap();
            for i in 0..3 {
                let doc = store
                    .write(move |tx| {
                        let a = tx.insert_execution(fields(&format!("r{round}-{i}-a")))?;
                        let b = tx.insert_execution(fields(&format!("r{round}-{i}-b")))?;
                        Ok::<_, Error>((a.creation_time, b.creation_time))
                    })
                    .await
                    .unwrap();
                times.extend([doc.0, doc.1]);
            }
            tokio::task::spawn_blocking(move || store.close())
                .await
                .unwrap();
        }
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        let reopened = Store::open(&location, clock).unwrap();
        let oldest = reopened.read(|tx| tx.oldest_executions(100)).await.unwrap();
        let ids: Vec<&str> = oldest
            .iter()
            .map(|d| d.str("executionId").unwrap())
            .collect();
        assert_eq!(ids.len(), 12);
        assert_eq!(ids[0], "r0-0-a");
        assert_eq!(ids[11], "r1-2-b");
    }

    /// Inserts executions `<prefix>0` to `<prefix><count - 1>`, each write after the last one's
    /// answer.
    async fn insert_one_by_one(store: &Store, prefix: &str, count: usize) {
        for i in 0..count {
            let id = format!("{prefix}{i}");
            store
                .write(move |tx| tx.insert_execution(fields(&id)).map(|_| ()))
                .await
                .unwrap();
        }
    }

    /// Waits (a minute at most) until the store has given memory back once.
    async fn wait_for_an_idle_release(store: &Store) {
        let waited = std::time::Instant::now();
        while store.memory_releases() == 0 {
            assert!(waited.elapsed() < Duration::from_secs(60), "never released");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// An in-memory database lives in its page cache: an idle release must not drop a row of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_release_keeps_every_row_of_a_memory_store() {
        let store = memory_store();
        store.release_memory_when_idle_for(Duration::from_millis(50));
        insert_one_by_one(&store, "m", 100).await;
        wait_for_an_idle_release(&store).await;
        let found = store
            .read(|tx| {
                let mut found = 0;
                for i in 0..100 {
                    found += tx.execution_by_execution_id(&format!("m{i}"))?.is_some() as usize;
                }
                Ok::<_, Error>(found)
            })
            .await
            .unwrap();
        assert_eq!(found, 100);
    }

    #[tokio::test]
    async fn an_inline_read_over_its_byte_budget_is_redone_whole() {
        let dir = TempDir::new("inline");
        let store = Store::open(&dir.db(), Arc::new(ManualClock::new(1))).unwrap();
        let big = "x".repeat(INLINE_READ_BYTES_MAX / 2 + 1);
        for id in ["a", "b", "c"] {
            let mut doc = fields(id);
            doc.insert("input".to_string(), Value::from(big.as_str()));
            store
                .write(move |tx| tx.insert_execution(doc).map(|_| ()))
                .await
                .unwrap();
        }
        let found = store
            .read_inline(|tx| {
                let mut found = Vec::new();
                for id in ["a", "b", "c"] {
                    found.push(tx.execution_by_execution_id(id)?.is_some());
                }
                Ok::<_, Error>(found)
            })
            .await
            .unwrap();
        assert_eq!(found, vec![true, true, true]);
    }

    #[tokio::test]
    async fn reads_on_a_file_see_every_acknowledged_write() {
        let dir = TempDir::new("rw");
        let store = Store::open(&dir.db(), Arc::new(ManualClock::new(1))).unwrap();
        for i in 0..50 {
            let id = format!("e{i}");
            let id2 = id.clone();
            store
                .write(move |tx| tx.insert_execution(fields(&id)).map(|_| ()))
                .await
                .unwrap();
            let found = store
                .read(move |tx| tx.execution_by_execution_id(&id2))
                .await
                .unwrap();
            assert!(found.is_some(), "read after acknowledged write {i}");
        }
    }

    /// A fresh directory for a file store, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("store-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Self(dir)
        }

        fn db(&self) -> DbLocation {
            DbLocation::File(self.0.join("db.sqlite3"))
        }

        /// The WAL's size in bytes; 0 when there is none.
        fn wal_bytes(&self) -> u64 {
            std::fs::metadata(self.0.join("db.sqlite3-wal")).map_or(0, |m| m.len())
        }

        /// The WAL header's checkpoint sequence number: SQLite adds one each time a commit
        /// writes the WAL from its beginning again.
        fn wal_restarts_seen(&self) -> u32 {
            let header = std::fs::read(self.0.join("db.sqlite3-wal")).unwrap_or_default();
            header
                .get(12..16)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Executions whose executionId starts with `prefix`, counted in SQL (a loop of lookups
    /// would meet the transaction's read limits).
    async fn count_rows(store: &Store, prefix: &'static str) -> usize {
        store
            .read(move |tx| {
                tx.conn
                    .query_row(
                        "SELECT count(*) FROM task_executions WHERE execution_id GLOB ?1 || '*'",
                        [prefix],
                        |row| row.get::<_, i64>(0),
                    )
                    .map(|n| n as usize)
                    .map_err(Error::from)
            })
            .await
            .unwrap()
    }

    /// Under writes that never pause, the checkpointer's passes and the writer's RESTART
    /// between batches make the WAL start over again and again, and no acknowledged write is
    /// lost on the way (also after reopening).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sustained_writes_restart_the_wal_and_keep_every_row() {
        let dir = TempDir::new("wal-restart");
        let clock = Arc::new(ManualClock::new(1));
        let policy = WalPolicy {
            restart_pages: 64,
            tail_pages: 32,
            max_pages: 256,
        };
        let store = Arc::new(Store::open_with(&dir.db(), clock.clone(), policy).unwrap());
        let mut written = 0;
        while store.wal_restarts() < 3 {
            assert!(written < 200_000, "the WAL was never restarted");
            let mut batch = Vec::new();
            for _ in 0..8 {
                let (store, id) = (store.clone(), format!("w{written}"));
                written += 1;
                batch.push(tokio::spawn(async move {
                    store
                        .write(move |tx| tx.insert_execution(fields(&id)).map(|_| ()))
                        .await
                }));
            }
            for write in batch {
                write.await.unwrap().unwrap();
            }
        }
        // One commit after the last RESTART writes the WAL from its beginning.
        store
            .write(|tx| tx.insert_execution(fields("last")).map(|_| ()))
            .await
            .unwrap();
        assert!(dir.wal_restarts_seen() >= 3, "{}", dir.wal_restarts_seen());
        assert_eq!(count_rows(&store, "w").await, written);
        let store = Arc::into_inner(store).unwrap();
        tokio::task::spawn_blocking(move || store.close())
            .await
            .unwrap();
        let reopened = Store::open(&dir.db(), clock).unwrap();
        assert_eq!(count_rows(&reopened, "w").await, written);
    }

    /// An idle store copies its WAL into the database file and truncates it to nothing; the
    /// rows are all there, and writing goes on afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_store_empties_its_wal() {
        let dir = TempDir::new("wal-idle");
        let store = Store::open(&dir.db(), Arc::new(ManualClock::new(1))).unwrap();
        insert_one_by_one(&store, "i", 200).await;
        assert!(dir.wal_bytes() > 0);
        store.release_memory_when_idle_for(Duration::from_millis(50));
        wait_for_an_idle_release(&store).await;
        assert_eq!(dir.wal_bytes(), 0);
        assert_eq!(count_rows(&store, "i").await, 200);
        store
            .write(|tx| tx.insert_execution(fields("after")).map(|_| ()))
            .await
            .unwrap();
        let found = store
            .read(|tx| tx.execution_by_execution_id("after"))
            .await
            .unwrap();
        assert!(found.is_some());
    }
}
