//! Durable storage of the two component tables in SQLite.
//!
//! [`Store`] is a small synchronous store behind an async facade:
//!
//! * **One writer.** A dedicated thread owns the only read-write connection and runs every
//!   [`Store::write`] closure as one transaction, one after another (`writer`). Serial
//!   execution makes every mutation serializable without retries, and it is plenty fast: a
//!   storage mutation touches a handful of rows through indexes.
//! * **Many readers.** For a file database, [`Store::read`] runs on pooled read connections,
//!   inline on the calling task (`readers`); WAL mode lets them run while the writer commits,
//!   never waiting for it, and each sees every commit acknowledged before it started. An in-memory database has one
//!   connection, so its reads queue on the writer thread.
//! * **Checkpoints** run on a background thread, so no commit waits for an fsync
//!   (`checkpointer`).
//! * **Durability.** `journal_mode = WAL` with `synchronous = NORMAL`: a commit is written to
//!   the WAL file before `write` returns, so every acknowledged mutation survives the process
//!   being killed (`kill -9`); the WAL is not fsynced per commit, so a power loss or OS crash
//!   may roll back the last few commits (the database stays consistent either way).
//! * **Exact index order.** Range indexes are byte keys in Convex's value order (`sort_key`,
//!   `indexes`), so claims are `O(log n)` index range scans returning rows in Convex's order.
//! * **Schema** as numbered, append-only migrations (`schema`).
//!
//! Invariant: the store knows SQL and Convex values, never HTTP or JSON, and never the storage
//! functions' rules (clamps, filters, locks' meaning): those live in `crate::functions`.

mod checkpointer;
mod codec;
mod indexes;
mod readers;
mod schema;
mod sort_key;
mod tx;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rand::SeedableRng;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

pub use codec::CodecError;
pub use indexes::{Index, IndexRange};
pub use tx::{Document, Lock, ReadTx, WriteTx};

use crate::clock::Clock;
use crate::error::Error;
use crate::limits::{
    SQLITE_BUSY_TIMEOUT_MS, WAL_SIZE_LIMIT_BYTES, WRITER_CACHE_KIB, WRITE_QUEUE_JOBS_MAX,
};
use checkpointer::Checkpointer;
use readers::ReaderPool;
use writer::{Job, ReadJob, WriteJob, WriterState};

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

/// The storage of one emulated deployment. Cheap to share behind an `Arc`.
pub struct Store {
    jobs: mpsc::Sender<Box<dyn Job>>,
    readers: Option<Arc<ReaderPool>>,
    last_commit_ns: Arc<AtomicU64>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<Checkpointer>>,
}

impl Store {
    /// Opens (creating and migrating if needed) the database and starts the writer thread.
    pub fn open(location: &DbLocation, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let (mut conn, readers) = match location {
            DbLocation::Memory => (Connection::open_in_memory()?, None),
            DbLocation::File(path) => (
                open_file(path)?,
                Some(Arc::new(ReaderPool::new(path.clone()))),
            ),
        };
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        // Savepoint journals stay in memory instead of spilling to temporary files.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        schema::migrate(&mut conn)?;
        let last_commit_ns = Arc::new(AtomicU64::new(clock.now_ns()));
        let state = WriterState {
            creation_time_floor: writer::creation_time_floor(&conn)?,
            conn,
            clock,
            rng: rand::rngs::StdRng::from_entropy(),
            last_commit_ns: last_commit_ns.clone(),
        };
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>(WRITE_QUEUE_JOBS_MAX);
        let writer_thread = std::thread::Builder::new()
            .name("store-writer".to_string())
            .spawn(move || state.run(queue))
            .map_err(Error::SpawnWriter)?;
        let checkpointer = match location {
            DbLocation::Memory => None,
            DbLocation::File(path) => Some(Checkpointer::start(path.clone())?),
        };
        Ok(Self {
            jobs,
            readers,
            last_commit_ns,
            writer_thread: Mutex::new(Some(writer_thread)),
            checkpointer: Mutex::new(checkpointer),
        })
    }

    /// Runs `f` as one atomic write on the writer thread: its effects are kept if it returns
    /// `Ok`, undone if `Err`. Returns once the commit is durable against a process crash.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut WriteTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(WriteJob {
            f: Some(f),
            outcome: None,
            reply,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| Error::WriterStopped)?;
        answer.await.map_err(|_| Error::WriterStopped)?
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&ReadTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        match &self.readers {
            // Inline on the async worker: a read is a few index lookups (microseconds) and
            // WAL readers never wait for the writer, so a thread hand-off would cost more than
            // the read itself.
            Some(readers) => readers.read(f),
            None => {
                let (reply, answer) = oneshot::channel();
                let job = Box::new(ReadJob {
                    f: Some(f),
                    outcome: None,
                    reply,
                });
                self.jobs
                    .send(job)
                    .await
                    .map_err(|_| Error::WriterStopped)?;
                answer.await.map_err(|_| Error::WriterStopped)?
            }
        }
    }

    /// Nanosecond timestamp of the latest commit (what `/api/query_ts` reports).
    pub fn last_commit_ns(&self) -> u64 {
        self.last_commit_ns.load(Ordering::Relaxed)
    }

    /// Stops the writer after the queued jobs and waits for it to close the database.
    /// Blocking; call from a blocking context.
    pub fn close(self) {
        let checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(checkpointer) = checkpointer {
            checkpointer.stop();
        }
        let thread = self
            .writer_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(self.jobs);
        drop(self.readers);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// Opens the writer's connection to a database file in WAL mode.
fn open_file(path: &Path) -> Result<Connection, Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints run on their own thread (`checkpointer`), never inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
    Ok(conn)
}
