//! Pauses that make a real backend's clock agree with the model's stepped clock.
//!
//! Only for sides on the wall clock (the reference server, a deployment): a side on a manual
//! clock (the emulator, the in-memory store) is moved by the harness with the model's clock
//! instead, and a run whose sides are all manual never pauses.
//!
//! Two rules, both about the wall clock that real backends read:
//!
//! 1. **Stale before a staleness selector.** A row written by a call whose answer arrived at
//!    instant `R` has `updatedAt ≤ R + 50 ms`. A selector that picks `updatedAt < clock` and is
//!    sent after `R + STALE_AFTER_WRITE_MS` reads a clock past that, so every clock-written row
//!    is stale, as it always is in the model (whose clock moves 100 ms per step).
//! 2. **A fresh millisecond for every write.** Two writes in the same millisecond would store
//!    equal clock values; index order would then fall back to creation order on the backend,
//!    while the model (whose steps are 100 ms apart) orders them by step. Sending each write at
//!    least `WRITE_GAP_MS` after the previous write's answer makes the backend's readings
//!    strictly increasing, like the model's.
//!
//! Only writes that changed the stored rows count: the harness reads the rows after every step
//! and tells [`Pacing::wrote`] when they changed, so read-only and no-op steps cost nothing.

use std::time::{Duration, Instant};

use super::transition::Transition;

/// The two margins are the shared test margins of the adapter's `fixtures` module.
pub use durable_execution_storage_convex::fixtures::{STALE_AFTER_WRITE_MS, WRITE_GAP_MS};

/// Remembers when the rows last changed and waits before the next step as needed.
#[derive(Debug, Default)]
pub struct Pacing {
    last_write_answered_at: Option<Instant>,
    /// Total time spent waiting, for the report.
    pub waited: Duration,
}

impl Pacing {
    /// A pacing with no write seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sleeps as long as `transition` needs after the last write (see the module docs).
    pub fn before(&mut self, transition: &Transition) {
        let Some(at) = self.last_write_answered_at else {
            return;
        };
        let gap_ms = if transition.selects_stale_rows() {
            STALE_AFTER_WRITE_MS
        } else if transition.may_write() {
            WRITE_GAP_MS
        } else {
            return;
        };
        let ready_at = at + Duration::from_millis(gap_ms);
        let now = Instant::now();
        if ready_at > now {
            std::thread::sleep(ready_at - now);
            self.waited += ready_at - now;
        }
    }

    /// Records that the rows changed with a call answered at `answered_at`.
    pub fn wrote(&mut self, answered_at: Instant) {
        self.last_write_answered_at = Some(answered_at);
    }
}
