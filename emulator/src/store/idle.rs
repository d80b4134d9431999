//! Giving memory back once the store has been idle.
//!
//! Under load the writer's page cache fills up to [`WRITER_CACHE_KIB`](crate::limits), each
//! read connection's up to its own cap, and the allocator keeps what it handed out for the
//! burst. None of that is needed by an emulator nobody calls. So a thread looks every
//! [`IDLE_CHECK_INTERVAL_MS`] whether any call started, ended or is running; once nothing has
//! for [`IDLE_MEMORY_RELEASE_AFTER_MS`] (changeable with [`Activity::set_release_after`]), it
//! releases, once per quiet period:
//!
//! 1. read connections waiting in the pool are closed (their caches, statements and file
//!    descriptors go with them; the next read opens one again),
//! 2. the writer thread, between two batches, copies the WAL into the database file and
//!    truncates it to zero bytes (a TRUNCATE checkpoint; nobody is reading, so it waits for
//!    nobody), then frees its connection's page cache,
//! 3. the allocator's free pages go back to the OS ([`crate::memory`]).
//!
//! Nothing is lost: the cached pages are copies of the database file, which the OS keeps in
//! its own cache, so the first calls afterwards read them back in microseconds each.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc as async_mpsc, oneshot};

use crate::error::Error;
use crate::limits::{IDLE_CHECK_INTERVAL_MS, IDLE_MEMORY_RELEASE_AFTER_MS};
use crate::store::readers::ReaderPool;
use crate::store::writer::Work;

/// What the store's calls tell the idle thread, and what it reports back.
pub(crate) struct Activity {
    /// Calls started plus calls ended: unchanged between two looks means nothing happened.
    events: AtomicU64,
    /// Calls running now.
    running: AtomicUsize,
    /// Releases done so far.
    releases: AtomicU64,
    /// How long the store must be idle before a release, in ms.
    release_after_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            events: AtomicU64::new(0),
            running: AtomicUsize::new(0),
            releases: AtomicU64::new(0),
            release_after_ms: AtomicU64::new(IDLE_MEMORY_RELEASE_AFTER_MS),
        }
    }

    /// Counts a call as running until the guard is dropped (also when its task is dropped).
    pub(crate) fn enter(&self) -> Running<'_> {
        self.events.fetch_add(1, Ordering::Relaxed);
        self.running.fetch_add(1, Ordering::Relaxed);
        Running(self)
    }

    pub(crate) fn releases(&self) -> u64 {
        self.releases.load(Ordering::Relaxed)
    }

    pub(crate) fn set_release_after(&self, after: Duration) {
        let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        self.release_after_ms.store(ms, Ordering::Relaxed);
    }

    fn release_after(&self) -> Duration {
        Duration::from_millis(self.release_after_ms.load(Ordering::Relaxed))
    }

    /// A token that changes whenever a call starts or ends; `None` while one is running.
    fn quiet_token(&self) -> Option<u64> {
        let events = self.events.load(Ordering::Relaxed);
        (self.running.load(Ordering::Relaxed) == 0).then_some(events)
    }
}

/// A call of the store in progress; see [`Activity::enter`].
pub(crate) struct Running<'a>(&'a Activity);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
        self.0.events.fetch_add(1, Ordering::Relaxed);
    }
}

/// The running idle thread; [`IdleRelease::stop`] ends it.
pub(crate) struct IdleRelease {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl IdleRelease {
    /// Starts watching `activity`. The thread holds the writer's queue only weakly, so it never
    /// keeps the writer running once the store has let go of it.
    pub(crate) fn start(
        activity: Arc<Activity>,
        readers: Option<Arc<ReaderPool>>,
        writer: &async_mpsc::Sender<Work>,
    ) -> Result<Self, Error> {
        let writer = writer.downgrade();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("store-idle".to_string())
            .spawn(move || {
                let release = || {
                    if let Some(readers) = &readers {
                        readers.close_idle();
                    }
                    let Some(writer) = writer.upgrade() else {
                        return false;
                    };
                    let (done, released) = oneshot::channel();
                    if writer.blocking_send(Work::ReleaseMemory(done)).is_err() {
                        return false;
                    }
                    drop(writer);
                    // Dropped unanswered when writes arrived meanwhile: not idle after all.
                    if released.blocking_recv().is_err() {
                        return false;
                    }
                    crate::memory::give_back_freed_heap();
                    true
                };
                watch(&activity, &stopped, release);
            })
            .map_err(Error::SpawnWriter)?;
        Ok(Self { stop, thread })
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// The thread's loop: looks at `activity` every interval and calls `release` once per quiet
/// period that lasted long enough, until told to stop.
fn watch(activity: &Activity, stopped: &mpsc::Receiver<()>, release: impl Fn() -> bool) {
    let interval = Duration::from_millis(IDLE_CHECK_INTERVAL_MS);
    let mut seen = activity.quiet_token();
    let mut quiet_since = Instant::now();
    let mut released = false;
    loop {
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = activity.quiet_token();
        if now.is_none() || now != seen {
            seen = now;
            quiet_since = Instant::now();
            released = false;
            continue;
        }
        if !released && quiet_since.elapsed() >= activity.release_after() {
            released = release();
            if released {
                activity.releases.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
