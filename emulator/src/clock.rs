//! The one place that reads the system time.
//!
//! Everything time-dependent (clamps, "stale" selectors, lock expiry, `_creationTime`) asks an
//! injected [`Clock`], so tests can freeze and advance time with [`ManualClock`] instead of
//! sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::limits::MANUAL_CLOCK_MS_MAX;

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

    /// Sets the time to `now_ms`, even backwards; for unit tests that need a clock stuck in
    /// the past. The control route uses [`ManualClock::try_set_ms`], which refuses that.
    pub fn set_ms(&self, now_ms: u64) {
        self.now_ns.store(now_ms * NS_PER_MS, Ordering::SeqCst);
    }

    /// Moves the time forward by `delta_ms`.
    pub fn advance_ms(&self, delta_ms: u64) {
        self.now_ns
            .fetch_add(delta_ms * NS_PER_MS, Ordering::SeqCst);
    }

    /// Sets the time to `now_ms` unless that is earlier than now (time never goes backwards:
    /// stored `updatedAt` values, lock expiries and creation times all assume it) or beyond
    /// [`MANUAL_CLOCK_MS_MAX`]. Returns the new reading in ms.
    pub fn try_set_ms(&self, now_ms: u64) -> Result<u64, ClockRefusal> {
        if now_ms > MANUAL_CLOCK_MS_MAX {
            return Err(ClockRefusal::TooFar {
                max_ms: MANUAL_CLOCK_MS_MAX,
            });
        }
        let target_ns = now_ms * NS_PER_MS;
        self.now_ns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                (target_ns >= current - current % NS_PER_MS).then_some(target_ns.max(current))
            })
            .map(|_| self.now_ms())
            .map_err(|current| ClockRefusal::Backwards {
                now_ms: current / NS_PER_MS,
                asked_ms: now_ms,
            })
    }

    /// Moves the time forward by `delta_ms`, unless that passes [`MANUAL_CLOCK_MS_MAX`].
    /// Returns the new reading in ms.
    pub fn try_advance_ms(&self, delta_ms: u64) -> Result<u64, ClockRefusal> {
        let too_far = ClockRefusal::TooFar {
            max_ms: MANUAL_CLOCK_MS_MAX,
        };
        let delta_ns = delta_ms.checked_mul(NS_PER_MS).ok_or(too_far)?;
        self.now_ns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                current
                    .checked_add(delta_ns)
                    .filter(|next| next / NS_PER_MS <= MANUAL_CLOCK_MS_MAX)
            })
            .map(|_| self.now_ms())
            .map_err(|_| too_far)
    }
}

/// Why a manual clock refused to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClockRefusal {
    /// The time asked for is before the current time.
    #[error("time never goes backwards: the clock reads {now_ms} ms, {asked_ms} ms is earlier")]
    Backwards { now_ms: u64, asked_ms: u64 },
    /// The time asked for is later than a manual clock can read.
    #[error("the manual clock cannot go past {max_ms} ms")]
    TooFar { max_ms: u64 },
}

/// How a deployment's time runs, as the control route and the Rust handle see it.
#[derive(Clone)]
pub enum ClockControl {
    /// A clock no route can move (the system clock, or one a test injected directly).
    Fixed(Arc<dyn Clock>),
    /// A manual clock, moved by `POST /_emulator/clock` and the Rust handle.
    Manual(Arc<ManualClock>),
}

impl ClockControl {
    /// The system clock.
    pub fn system() -> Self {
        ClockControl::Fixed(Arc::new(SystemClock))
    }

    /// A manual clock starting at `start_ms`, or at the system time when `None`.
    pub fn manual(start_ms: Option<u64>) -> Self {
        let start_ms = start_ms.unwrap_or_else(|| SystemClock.now_ms());
        ClockControl::Manual(Arc::new(ManualClock::new(start_ms)))
    }

    /// The clock every reader of time gets.
    pub fn clock(&self) -> Arc<dyn Clock> {
        match self {
            ClockControl::Fixed(clock) => clock.clone(),
            ClockControl::Manual(clock) => clock.clone(),
        }
    }

    /// The manual clock, when time is manual.
    pub fn manual_clock(&self) -> Option<&Arc<ManualClock>> {
        match self {
            ClockControl::Fixed(_) => None,
            ClockControl::Manual(clock) => Some(clock),
        }
    }

    /// `"system"` or `"manual"`, as `GET /_emulator/clock` reports it.
    pub fn mode(&self) -> &'static str {
        match self {
            ClockControl::Fixed(_) => "system",
            ClockControl::Manual(_) => "manual",
        }
    }
}

impl std::fmt::Debug for ClockControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClockControl({}, {} ms)",
            self.mode(),
            self.clock().now_ms()
        )
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
    fn a_manual_clock_refuses_to_go_backwards_or_overflow() {
        let clock = ManualClock::new(1_000);
        assert_eq!(
            clock.try_set_ms(1_000),
            Ok(1_000),
            "standing still is allowed"
        );
        assert_eq!(
            clock.try_set_ms(999),
            Err(ClockRefusal::Backwards {
                now_ms: 1_000,
                asked_ms: 999
            })
        );
        assert_eq!(clock.try_advance_ms(60_000), Ok(61_000));
        assert_eq!(clock.try_set_ms(70_000), Ok(70_000));
        assert!(matches!(
            clock.try_advance_ms(u64::MAX),
            Err(ClockRefusal::TooFar { .. })
        ));
        assert!(matches!(
            clock.try_set_ms(MANUAL_CLOCK_MS_MAX + 1),
            Err(ClockRefusal::TooFar { .. })
        ));
        assert_eq!(clock.now_ms(), 70_000, "a refusal changes nothing");
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
