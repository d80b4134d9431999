//! The selector locks: upstream's `acquireLock` / `releaseLock` and `actionWithLock`.
//!
//! A locked action takes its lock in one transaction, runs its one mutation in a second and
//! releases the lock in a third, like the upstream action does with three `runMutation`s. If
//! the lock is held and not expired, the action returns its default (`[]` or `0`) at once.
//! Lock times use the plain clock (no +50 ms).

use crate::functions::FunctionError;
use crate::limits::LOCK_EXPIRY_MS;
use crate::store::{Store, WriteTx};

/// Runs `mutation` (one transaction) while holding the lock `key`; `default` if it is busy.
pub async fn with_lock<T, M>(
    store: &Store,
    key: String,
    default: T,
    mutation: M,
) -> Result<T, FunctionError>
where
    T: Send + 'static,
    M: FnOnce(&mut WriteTx<'_>) -> Result<T, FunctionError> + Send + 'static,
{
    let Some(lock_id) = store.write(move |tx| acquire(tx, &key)).await? else {
        return Ok(default);
    };
    let result = store.write(mutation).await;
    release(store, lock_id).await?;
    result
}

/// `acquireLock`: the lock's id if taken (new, or expired and extended), `None` if busy.
fn acquire(tx: &mut WriteTx<'_>, key: &str) -> Result<Option<String>, FunctionError> {
    let now = tx.now_ms() as f64;
    let expires_at = now + LOCK_EXPIRY_MS as f64;
    match tx.lock_by_key(key)? {
        None => Ok(Some(tx.insert_lock(key, expires_at)?)),
        Some(lock) if lock.expires_at <= now => {
            tx.set_lock_expires_at(&lock.id, expires_at)?;
            Ok(Some(lock.id))
        }
        Some(_) => Ok(None),
    }
}

/// `releaseLock`: deletes the lock row. If someone else already deleted it (possible only
/// after it expired under a slow holder), there is nothing to do; upstream's `db.delete`
/// would throw there instead.
async fn release(store: &Store, lock_id: String) -> Result<(), FunctionError> {
    store
        .write(move |tx| tx.delete_lock(&lock_id).map_err(FunctionError::from))
        .await?;
    Ok(())
}
