//! The selector locks: upstream's `locks` table with `acquireLock` and `releaseLock`, kept in
//! memory, with every behaviour a client can observe.
//!
//! Upstream, a lock is a row `{key, expiresAt}` with an `_id`:
//! * `acquireLock(key)`: no row → insert one expiring at `clock + LOCK_EXPIRY_MS` and hold its
//!   id; a row whose `expiresAt <= clock` → patch the SAME row's `expiresAt` and hold the same
//!   id (a takeover); otherwise busy, and the action answers its default (`[]` or `0`) at once.
//! * `releaseLock(id)`: `db.delete(id)`. So a former holder whose lock was taken over deletes
//!   the new holder's row when it finally releases (same id), and a release of a row that is
//!   already gone throws `Delete on nonexistent document ID <id>`: the action fails although
//!   its mutation committed.
//!
//! This keeps those rows in a map from key to (id, expiry) instead of a table: taking and
//! releasing a lock is then one step under a mutex instead of two more SQLite commits per
//! claim. What a table would add is surviving a crash, and nothing needs that: every holder
//! dies with the process (a deployment keeps a crashed holder's key blocked for up to 60 s;
//! `hold_as_if_crashed` reproduces that on purpose). Ids are real Convex ids of the component's
//! `locks` table and never repeat, so no late release can mistake a new row for its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::clock::Clock;
use crate::functions::FunctionError;
use crate::id::{DocumentId, LOCKS_TABLE_NUMBER};
use crate::limits::LOCK_EXPIRY_MS;

/// The lock rows of a deployment.
pub struct Locks {
    clock: Arc<dyn Clock>,
    rows: Mutex<Rows>,
}

struct Rows {
    by_key: HashMap<String, LockRow>,
    rng: StdRng,
}

/// One row of upstream's `locks` table.
#[derive(Debug, Clone)]
struct LockRow {
    id: String,
    expires_at_ms: u64,
}

/// Proof of holding a lock row: [`LockGuard::release`] deletes the row by its id. Dropping a
/// guard unreleased (a request abandoned mid-way) releases it quietly, as the action's
/// `finally` would have.
pub struct LockGuard<'a> {
    locks: &'a Locks,
    id: Option<String>,
}

impl Locks {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            rows: Mutex::new(Rows {
                by_key: HashMap::new(),
                rng: StdRng::from_entropy(),
            }),
        }
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, Rows> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `acquireLock`: takes `key` if free or expired; `None` if busy.
    pub fn try_acquire(&self, key: &str) -> Option<LockGuard<'_>> {
        let now_ms = self.clock.now_ms();
        let expires_at_ms = now_ms + LOCK_EXPIRY_MS;
        let mut rows = self.rows();
        let id = match rows.by_key.get_mut(key) {
            Some(row) if row.expires_at_ms > now_ms => return None,
            Some(row) => {
                row.expires_at_ms = expires_at_ms;
                row.id.clone()
            }
            None => {
                let id = DocumentId::generate(LOCKS_TABLE_NUMBER, now_ms, &mut rows.rng).encode();
                let row = LockRow {
                    id: id.clone(),
                    expires_at_ms,
                };
                rows.by_key.insert(key.to_string(), row);
                id
            }
        };
        Some(LockGuard {
            locks: self,
            id: Some(id),
        })
    }

    /// Takes `key` and never gives it back, as a caller that crashed while holding it would;
    /// the key stays busy until `LOCK_EXPIRY_MS` passes.
    pub fn hold_as_if_crashed(&self, key: &str) -> bool {
        self.try_acquire(key)
            .map(|mut guard| guard.id = None)
            .is_some()
    }

    /// Whether `key` has a row that has not expired.
    pub fn is_held(&self, key: &str) -> bool {
        let now_ms = self.clock.now_ms();
        self.rows()
            .by_key
            .get(key)
            .is_some_and(|row| row.expires_at_ms > now_ms)
    }

    /// Deletes every row (a reset of the deployment's state).
    pub fn clear(&self) {
        self.rows().by_key.clear();
    }

    /// `db.delete(id)` on the locks table.
    fn delete(&self, id: &str) -> Result<(), FunctionError> {
        let mut rows = self.rows();
        let key = rows
            .by_key
            .iter()
            .find(|(_, row)| row.id == id)
            .map(|(key, _)| key.clone());
        match key {
            Some(key) => {
                rows.by_key.remove(&key);
                Ok(())
            }
            None => Err(FunctionError::Thrown(format!(
                "Delete on nonexistent document ID {id}"
            ))),
        }
    }
}

impl LockGuard<'_> {
    /// The id of the row this guard holds.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }

    /// `releaseLock(id)`: deletes the row, whoever holds it now; fails if it is already gone.
    pub fn release(mut self) -> Result<(), FunctionError> {
        match self.id.take() {
            Some(id) => self.locks.delete(&id),
            None => Ok(()),
        }
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let _ = self.locks.delete(&id);
        }
    }
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
        first.release().unwrap();
        assert!(!locks.is_held("k"));
        assert!(locks.hold_as_if_crashed("k"));
        clock.advance_ms(LOCK_EXPIRY_MS - 1);
        assert!(locks.try_acquire("k").is_none());
        clock.advance_ms(1);
        let taken_over = locks.try_acquire("k").expect("expiresAt <= now is free");
        assert!(locks.is_held("k"));
        taken_over.release().unwrap();
        assert!(!locks.is_held("k"));
    }

    /// Upstream's row semantics: a takeover patches the same row, so the former holder's late
    /// release deletes it, and the new holder's release then finds nothing and throws.
    #[test]
    fn a_takeover_shares_the_row_and_a_late_release_deletes_it() {
        let clock = Arc::new(ManualClock::new(0));
        let locks = Locks::new(clock.clone());
        let slow = locks.try_acquire("k").unwrap();
        clock.advance_ms(LOCK_EXPIRY_MS);
        let fresh = locks.try_acquire("k").unwrap();
        assert_eq!(slow.id(), fresh.id(), "the takeover patched the same row");
        slow.release().unwrap();
        assert!(
            !locks.is_held("k"),
            "the former holder deleted the shared row"
        );
        let id = fresh.id().to_string();
        let err = fresh.release().unwrap_err();
        assert_eq!(
            err.message(),
            format!("Uncaught Error: Delete on nonexistent document ID {id}")
        );
    }

    /// A holds a row and expires; B takes it over and releases it; C inserts a new row. A's
    /// late release must not free C's lock: the ids differ, so A's delete finds nothing.
    #[test]
    fn a_late_release_never_frees_a_later_row_of_the_same_key() {
        let clock = Arc::new(ManualClock::new(0));
        let locks = Locks::new(clock.clone());
        let a = locks.try_acquire("k").unwrap();
        clock.advance_ms(LOCK_EXPIRY_MS);
        let b = locks.try_acquire("k").unwrap();
        b.release().unwrap();
        let c = locks.try_acquire("k").unwrap();
        assert_ne!(a.id(), c.id(), "a new row gets a new id");
        assert!(a.release().is_err(), "A's row is gone");
        assert!(locks.is_held("k"), "C still holds its lock");
        c.release().unwrap();
    }
}
