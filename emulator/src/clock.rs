//! The one place that reads the system time.
//!
//! Everything time-dependent (clamps, "stale" selectors, lock expiry, `_creationTime`) asks an
//! injected [`Clock`], so tests can freeze and advance time with [`ManualClock`] instead of
//! sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds per millisecond.
const NS_PER_MS: u64 = 1_000_000;

/// A source of "now".
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since the Unix epoch.
    fn now_ns(&self) -> u64;

    /// Whole milliseconds since the epoch, like JavaScript's `Date.now()`.
    fn now_ms(&self) -> u64 {
        self.now_ns() / NS_PER_MS
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ns: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now_ms` milliseconds since the epoch.
    pub fn new(now_ms: u64) -> Self {
        Self {
            now_ns: AtomicU64::new(now_ms * NS_PER_MS),
        }
    }

    /// Sets the time to `now_ms`.
    pub fn set_ms(&self, now_ms: u64) {
        self.now_ns.store(now_ms * NS_PER_MS, Ordering::SeqCst);
    }

    /// Moves the time forward by `delta_ms`.
    pub fn advance_ms(&self, delta_ms: u64) {
        self.now_ns
            .fetch_add(delta_ms * NS_PER_MS, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        self.now_ns.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance_ms(60_000);
        assert_eq!(clock.now_ms(), 61_000);
        clock.set_ms(5);
        assert_eq!(clock.now_ns(), 5_000_000);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
