//! The selector locks: upstream's `acquireLock` / `releaseLock` / `actionWithLock`.
//!
//! A locked action takes its lock, runs its one mutation (one transaction), and releases the
//! lock. If the lock is held and not expired, the action returns its default (`[]` or `0`) at
//! once, without running anything. A lock taken at `clock` lasts until
//! `clock + LOCK_EXPIRY_MS` (plain clock, no +50 ms); one whose `expiresAt <= clock` is free
//! to take over.
//!
//! The locks live in memory, not in a table: taking and releasing one is an atomic step under
//! a mutex instead of two more SQLite commits per claim (which halved claim throughput). What
//! a lock row would add is surviving a crash, and nothing needs that: every action holding a
//! lock dies with the process, so after a restart no key stays blocked (a deployment blocks it
//! for up to 60 s). Mutual exclusion of the mutations does not rest on the locks anyway: the
//! store's single writer runs them one at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::functions::FunctionError;
use crate::limits::LOCK_EXPIRY_MS;
use crate::store::{Store, WriteTx};

/// The held locks of a deployment.
pub struct Locks {
    clock: Arc<dyn Clock>,
    held: Mutex<HashMap<String, Held>>,
    /// Where acquisition tokens come from: never reused, so a guard whose lock was dropped by
    /// [`Locks::clear`] cannot release a later holder's lock.
    next_token: AtomicU64,
}

/// One held lock: when it expires, and which acquisition holds it.
#[derive(Debug, Clone, Copy)]
struct Held {
    expires_at_ms: u64,
    token: u64,
}

/// Proof of holding a lock; releases it when dropped (also when the request is abandoned).
pub struct LockGuard<'a> {
    locks: &'a Locks,
    key: String,
    token: u64,
}

impl Locks {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            held: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(0),
        }
    }

    /// `acquireLock`: takes `key` if free or expired; `None` if busy.
    pub fn try_acquire(&self, key: &str) -> Option<LockGuard<'_>> {
        let now_ms = self.clock.now_ms();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let next_token = self.next_token.fetch_add(1, Ordering::Relaxed);
        match held.get(key) {
            Some(h) if h.expires_at_ms > now_ms => None,
            _ => {
                let expires_at_ms = now_ms + LOCK_EXPIRY_MS;
                held.insert(
                    key.to_string(),
                    Held {
                        expires_at_ms,
                        token: next_token,
                    },
                );
                Some(LockGuard {
                    locks: self,
                    key: key.to_string(),
                    token: next_token,
                })
            }
        }
    }

    /// Takes `key` and never gives it back, as a caller that crashed while holding it would;
    /// for tests of the busy path and of expiry.
    pub fn hold_as_if_crashed(&self, key: &str) -> bool {
        self.try_acquire(key).map(std::mem::forget).is_some()
    }

    /// Frees every key (a reset of the store). Holders still running release nothing later.
    pub fn clear(&self) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Whether `key` is held and not expired.
    pub fn is_held(&self, key: &str) -> bool {
        let now_ms = self.clock.now_ms();
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(key).is_some_and(|h| h.expires_at_ms > now_ms)
    }
}

impl Drop for LockGuard<'_> {
    /// `releaseLock`. Only this acquisition's hold is removed: if the lock expired and someone
    /// else took it over meanwhile, theirs stays (upstream would delete it).
    fn drop(&mut self) {
        let mut held = self.locks.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.get(&self.key).is_some_and(|h| h.token == self.token) {
            held.remove(&self.key);
        }
    }
}

/// Runs `mutation` (one transaction) while holding the lock `key`; `default` if it is busy.
pub async fn with_lock<T, M>(
    store: &Store,
    locks: &Locks,
    key: String,
    default: T,
    mutation: M,
) -> Result<T, FunctionError>
where
    T: Send + 'static,
    M: FnOnce(&mut WriteTx<'_>) -> Result<T, FunctionError> + Send + 'static,
{
    let Some(_guard) = locks.try_acquire(&key) else {
        return Ok(default);
    };
    store.write(mutation).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_lock_is_exclusive_until_released_or_expired() {
        let clock = Arc::new(ManualClock::new(1_000));
        let locks = Locks::new(clock.clone());
        let first = locks.try_acquire("k").expect("free");
        assert!(locks.try_acquire("k").is_none(), "busy");
        assert!(locks.try_acquire("other").is_some(), "keys are independent");
        drop(first);
        assert!(!locks.is_held("k"));
        assert!(locks.hold_as_if_crashed("k"));
        clock.advance_ms(LOCK_EXPIRY_MS - 1);
        assert!(locks.try_acquire("k").is_none());
        clock.advance_ms(1);
        let taken_over = locks.try_acquire("k").expect("expiresAt <= now is free");
        assert!(locks.is_held("k"));
        drop(taken_over);
        assert!(!locks.is_held("k"));
    }

    #[test]
    fn a_late_release_does_not_free_a_lock_taken_over() {
        let clock = Arc::new(ManualClock::new(0));
        let locks = Locks::new(clock.clone());
        let slow = locks.try_acquire("k").unwrap();
        clock.advance_ms(LOCK_EXPIRY_MS);
        let fresh = locks.try_acquire("k").unwrap();
        drop(slow);
        assert!(locks.is_held("k"), "the new holder keeps it");
        drop(fresh);
    }
}
