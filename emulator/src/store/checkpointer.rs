//! WAL checkpoints, off the writer's path, and the WAL's bound.
//!
//! SQLite normally checkpoints inside the commit that crosses the WAL size threshold, and a
//! checkpoint fsyncs: every write queued behind that commit would wait for the disk. Instead
//! the writer connection has automatic checkpoints off, and this thread runs a PASSIVE
//! checkpoint every [`CHECKPOINT_INTERVAL_MS`] on a connection of its own. PASSIVE never waits
//! for the writer or readers; the writer keeps appending to the WAL meanwhile.
//!
//! **Restarting the WAL.** SQLite writes the WAL from its beginning again only once every page
//! in it has been copied to the database file (and both files fsynced) before the writer's
//! next transaction starts. Under sustained writes a PASSIVE pass never quite gets there: the
//! writer appends while it copies. So once the WAL holds [`WAL_RESTART_PAGES`]:
//!
//! 1. this thread runs further PASSIVE passes back to back (at most
//!    [`CHECKPOINT_CATCH_UP_PASSES_MAX`]) until one finds that at most
//!    [`WAL_RESTART_TAIL_PAGES`] were appended during the pass before it, so the writer is
//!    left about as little to copy; nobody waits for these passes;
//! 2. it asks the writer ([`WalRestart`]), which, between two batches, runs a RESTART
//!    checkpoint on its own connection: it copies that short tail, fsyncs, waits for readers
//!    still reading old pages of the WAL, and its next commit starts the WAL over. Writes wait
//!    for that moment only instead of for a whole checkpoint.
//!
//! If the passes cannot get the tail short (a disk slower than the writes), the writer still
//! restarts the WAL once it holds [`WAL_PAGES_MAX`]: a longer pause, but a bounded WAL. The
//! RESTART runs on the writer's own thread rather than here so that the writer never polls
//! for a lock another thread holds, and answers its batch before it pauses; the RESTART this
//! thread used to run held every write for its whole copy and fsyncs (15 to 47 ms, against 3
//! to 38 ms now, on the 2-core machine; BENCHMARKS.md).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::Error;
use crate::limits::{
    CHECKPOINT_CATCH_UP_PASSES_MAX, CHECKPOINT_INTERVAL_MS, WAL_PAGES_MAX, WAL_RESTART_PAGES,
    WAL_RESTART_TAIL_PAGES,
};

/// When the WAL is restarted, in pages; [`WalPolicy::default`] is the limits' values, tests
/// use smaller ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalPolicy {
    /// The WAL length from which a restart is due ([`WAL_RESTART_PAGES`]).
    pub(crate) restart_pages: i64,
    /// Pages left to copy up to which the writer restarts ([`WAL_RESTART_TAIL_PAGES`]).
    pub(crate) tail_pages: i64,
    /// The WAL length at which the writer restarts whatever is left ([`WAL_PAGES_MAX`]).
    pub(crate) max_pages: i64,
}

impl Default for WalPolicy {
    fn default() -> Self {
        Self {
            restart_pages: WAL_RESTART_PAGES,
            tail_pages: WAL_RESTART_TAIL_PAGES,
            max_pages: WAL_PAGES_MAX,
        }
    }
}

/// What a checkpoint reported: the WAL's length and how much of it is in the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WalPages {
    log: i64,
    copied: i64,
}

impl WalPages {
    fn left(&self) -> i64 {
        self.log - self.copied
    }
}

/// What the checkpointer does after a catch-up pass.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Nothing until the next interval.
    Wait,
    /// Another PASSIVE pass right away, to shorten what is left.
    CatchUp,
    /// Ask the writer to restart the WAL.
    AskWriter,
}

impl WalPolicy {
    /// Whether a round's first pass found the WAL due for a restart.
    fn due(&self, pages: WalPages) -> bool {
        pages.log >= self.restart_pages
    }

    /// The decision after the `passes`-th catch-up pass of a round reported `after`, the pass
    /// before it `before`. A pass copies the WAL as it was when the pass began, so what the
    /// writer appended meanwhile (`after.log - before.log` for the pass before) is the best
    /// guess at what the writer will have to copy itself.
    fn next(&self, before: WalPages, after: WalPages, passes: usize) -> Next {
        if after.log < before.log {
            // A commit started the WAL over in between.
            return Next::Wait;
        }
        let appended = after.log - before.log;
        if (appended <= self.tail_pages && after.left() <= self.tail_pages)
            || after.log >= self.max_pages
        {
            return Next::AskWriter;
        }
        if passes < CHECKPOINT_CATCH_UP_PASSES_MAX {
            Next::CatchUp
        } else {
            // The disk does not keep up; the next round tries again, and `max_pages` bounds it.
            Next::Wait
        }
    }
}

/// The request from the checkpointer to the writer, and how often the writer did it.
#[derive(Debug, Default)]
pub(crate) struct WalRestart {
    wanted: AtomicBool,
    restarts: AtomicU64,
}

impl WalRestart {
    /// Called by the writer between batches: whether the checkpointer asked for a restart
    /// since the last call.
    pub(crate) fn take_request(&self) -> bool {
        self.wanted.swap(false, Ordering::Relaxed)
    }

    /// Called by the writer after a RESTART checkpoint that completed.
    pub(crate) fn count_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    fn ask(&self) {
        self.wanted.store(true, Ordering::Relaxed);
    }
}

/// The running checkpoint thread; [`Checkpointer::stop`] ends it.
pub(crate) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
    #[cfg(test)]
    restart: Arc<WalRestart>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`, asking the writer through `restart`.
    pub(crate) fn start(
        path: PathBuf,
        policy: WalPolicy,
        restart: Arc<WalRestart>,
    ) -> Result<Self, Error> {
        let conn = Connection::open(&path)?;
        conn.busy_handler(Some(super::busy::retry_in_short_steps))?;
        let (stop, stopped) = mpsc::channel::<()>();
        #[cfg(test)]
        let asked = restart.clone();
        let thread = std::thread::Builder::new()
            .name("store-checkpointer".to_string())
            .spawn(move || loop {
                match stopped.recv_timeout(Duration::from_millis(CHECKPOINT_INTERVAL_MS)) {
                    // Failures (e.g. a full disk) only delay the checkpoint; the writer
                    // reports its own errors.
                    Err(RecvTimeoutError::Timeout) => {
                        let _ = round(&conn, &policy, &restart);
                    }
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            })
            .map_err(Error::SpawnWriter)?;
        Ok(Self {
            stop,
            thread,
            #[cfg(test)]
            restart: asked,
        })
    }

    /// RESTART checkpoints the writer completed so far.
    #[cfg(test)]
    pub(crate) fn restarts(&self) -> u64 {
        self.restart.restarts.load(Ordering::Relaxed)
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// One round: a PASSIVE pass, and if a restart is due, catch-up passes and the request.
fn round(conn: &Connection, policy: &WalPolicy, restart: &WalRestart) -> rusqlite::Result<()> {
    let mut pages = passive(conn)?;
    if !policy.due(pages) {
        return Ok(());
    }
    for passes in 1.. {
        let before = pages;
        pages = passive(conn)?;
        match policy.next(before, pages, passes) {
            Next::Wait => break,
            Next::AskWriter => {
                restart.ask();
                break;
            }
            Next::CatchUp => {}
        }
    }
    Ok(())
}

/// A PASSIVE checkpoint. A pass that found another checkpoint running reports -1s: nothing due.
fn passive(conn: &Connection) -> rusqlite::Result<WalPages> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(WalPages {
            log: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: WalPolicy = WalPolicy {
        restart_pages: 1000,
        tail_pages: 10,
        max_pages: 2000,
    };

    fn pages(log: i64, copied: i64) -> WalPages {
        WalPages { log, copied }
    }

    #[test]
    fn a_short_wal_is_left_alone() {
        assert!(!POLICY.due(pages(999, 0)));
        assert!(!POLICY.due(pages(-1, -1)));
        assert!(POLICY.due(pages(1000, 0)));
    }

    #[test]
    fn the_writer_is_asked_once_a_pass_found_little_new() {
        assert_eq!(
            POLICY.next(pages(1000, 1000), pages(1100, 1100), 1),
            Next::CatchUp
        );
        assert_eq!(
            POLICY.next(pages(1100, 1100), pages(1108, 1108), 2),
            Next::AskWriter
        );
    }

    #[test]
    fn a_pass_held_back_by_a_reader_is_not_enough() {
        assert_eq!(
            POLICY.next(pages(1100, 1100), pages(1105, 1050), 2),
            Next::CatchUp
        );
    }

    #[test]
    fn a_wal_started_over_meanwhile_needs_nothing() {
        assert_eq!(POLICY.next(pages(1100, 1100), pages(30, 30), 1), Next::Wait);
    }

    #[test]
    fn catch_up_passes_are_capped_and_the_longest_wal_restarts_anyway() {
        let (before, after) = (pages(1100, 1100), pages(1500, 1500));
        assert_eq!(
            POLICY.next(before, after, CHECKPOINT_CATCH_UP_PASSES_MAX),
            Next::Wait
        );
        assert_eq!(POLICY.next(before, pages(2000, 1500), 1), Next::AskWriter);
    }
}
