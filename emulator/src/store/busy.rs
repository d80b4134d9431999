//! Waiting for SQLite's locks in short steps.
//!
//! SQLite's own busy handler (what `busy_timeout` installs) sleeps 1, 2, 5, 10, 15, 20, 25,
//! 25, 25, 50, 50, 100 ms between tries. Within this process a lock is held for far less: a
//! read transaction for microseconds, the checkpointer's RESTART (which holds back the writer)
//! for a few milliseconds. With that schedule a writer that found the lock taken slept on up
//! to tens of milliseconds after it was free again, with every write queued behind it (the
//! tail of BENCHMARKS.md's load mix). This handler tries again every
//! [`SQLITE_BUSY_PAUSE_US`] instead, and gives up after the same [`SQLITE_BUSY_TIMEOUT_MS`].

use std::time::Duration;

use crate::limits::{SQLITE_BUSY_PAUSE_US, SQLITE_BUSY_TIMEOUT_MS};

/// SQLite's busy callback: `attempts` is how many times it was called for this lock before.
/// `true` means "try again" (after a short pause), `false` gives up with `SQLITE_BUSY`.
pub(crate) fn retry_in_short_steps(attempts: i32) -> bool {
    let waited_us = u64::try_from(attempts).unwrap_or(0) * SQLITE_BUSY_PAUSE_US;
    if waited_us >= SQLITE_BUSY_TIMEOUT_MS * 1000 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(SQLITE_BUSY_PAUSE_US));
    true
}
