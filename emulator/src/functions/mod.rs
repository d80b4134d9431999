//! The 17 public storage functions: dispatch, the auth check, argument validation, errors.
//!
//! [`Functions::call`] is the whole life of one call once the HTTP layer has decoded it. The
//! operations themselves come from the workspace's registry (`convex_storage_operations`);
//! [`route`] is this crate's one exhaustive table of what runs each:
//!
//! * the nine **plain** functions check the secret in the envelope `{authSecret, args}` first,
//!   then check the inner `args` against the function's validator and read them into its own
//!   struct (`args.rs`), then run it;
//! * the eight **locked** selectors do what upstream's `actionWithLock` does: lock key from
//!   the unvalidated inner `args`, lock, and only then the secret and the one mutation.
//!
//! | module | functions |
//! |---|---|
//! | `inserts` | insertMany |
//! | `by_id` | getManyById, getManyBySleepingTaskUniqueId, updateManyById, updateManyByIdAndInsertChildrenIfUpdated |
//! | `selectors` | the eight locked selectors, one constant each |
//! | `children` | getManyByParentExecutionId, updateManyByParentExecutionIdAndIsFinished, and the decrement sweep's parent bookkeeping |
//! | `deletes` | deleteById, deleteAll |
//!
//! Each family file holds its argument validators, its argument structs and its effect on the
//! store. A function that throws upstream returns a [`FunctionError`] here, which the HTTP
//! layer answers as Convex does (HTTP 200, `status: "error"`).

mod args;
mod auth;
mod by_id;
mod children;
mod deletes;
mod document_size;
mod inserts;
pub mod js;
pub mod locks;
pub mod schema;
mod selectors;
mod untyped;
pub mod update;
pub mod validator;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::clock::Clock;
use crate::limits::RETURN_VALUE_BYTES_MAX;
use crate::store::{Store, Usage, UsageScope};
use crate::value::{Object, Value};
use args::PlainFunction;
use locks::Locks;
use selectors::Selector;
use validator::ValidationError;

pub use convex_storage_operations::{FunctionKind, Operation};

/// A call that did not return a value.
#[derive(Debug)]
pub enum FunctionError {
    /// The function threw `new Error(message)`.
    Thrown(String),
    /// The function threw a `TypeError` (Convex's own `take()` argument check).
    TypeError(String),
    /// The inner arguments do not match the function's validators.
    InvalidArguments(String),
    /// The machinery failed (SQLite, the writer thread): not the caller's fault.
    Internal(crate::Error),
}

impl FunctionError {
    /// The text after `Server Error\n` in Convex's error message.
    pub fn message(&self) -> String {
        match self {
            FunctionError::Thrown(message) => format!("Uncaught Error: {message}"),
            FunctionError::TypeError(message) => format!("Uncaught TypeError: {message}"),
            FunctionError::InvalidArguments(detail) => format!("ArgumentValidationError: {detail}"),
            FunctionError::Internal(e) => format!("Internal error: {e}"),
        }
    }
}

impl From<crate::Error> for FunctionError {
    fn from(e: crate::Error) -> Self {
        match e {
            // Over a transaction limit, a deployment's function throws with the backend's text.
            crate::Error::TransactionLimit(message) => FunctionError::Thrown(message),
            e => FunctionError::Internal(e),
        }
    }
}

/// A call's outcome together with what it read and wrote, for the request log.
#[derive(Debug)]
pub struct Observed {
    /// What the caller is answered.
    pub result: Result<Value, FunctionError>,
    /// The totals of every transaction the call ran (also of a call that failed).
    pub usage: Usage,
}

impl From<ValidationError> for FunctionError {
    fn from(e: ValidationError) -> Self {
        FunctionError::InvalidArguments(e.to_string())
    }
}

/// The deployment's functions: the store they work on, the selector locks, and the secret
/// they demand.
pub struct Functions {
    store: Arc<Store>,
    locks: Locks,
    auth_secret: String,
}

impl Functions {
    pub fn new(store: Arc<Store>, auth_secret: String, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            locks: Locks::new(clock),
            auth_secret,
        }
    }

    /// Whether `given` is the deployment's secret (constant time); the emulator's own routes
    /// under `/_emulator/` use it too.
    pub fn is_auth_secret(&self, given: &str) -> bool {
        auth::secret_matches(given, &self.auth_secret)
    }

    /// The selector locks (for tests that need one held).
    pub fn locks(&self) -> &Locks {
        &self.locks
    }

    /// The store (for tests and the HTTP layer's `query_ts`).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Gives the store back, for a clean shutdown.
    pub fn into_store(self) -> Arc<Store> {
        self.store
    }

    /// [`Functions::call`], also reporting the documents and bytes the call read and wrote and
    /// the executions it changed.
    pub async fn call_observed(&self, function: Operation, envelope: Option<Value>) -> Observed {
        let (result, usage) = UsageScope::run(self.call(function, envelope)).await;
        Observed { result, usage }
    }

    /// Calls `function` with its first positional argument (`None` when none was sent).
    pub async fn call(
        &self,
        function: Operation,
        envelope: Option<Value>,
    ) -> Result<Value, FunctionError> {
        match route(function) {
            Route::Plain(run) => self.call_plain(run, envelope).await,
            Route::Locked(selector) => self.call_locked(function, selector, envelope).await,
        }
    }

    /// The nine plain functions do what upstream's public functions do: check the secret, then
    /// `ctx.runQuery`/`runMutation` the component function with the inner `args` (which must
    /// be an object), whose validator checks them.
    async fn call_plain(
        &self,
        run: RunPlain,
        envelope: Option<Value>,
    ) -> Result<Value, FunctionError> {
        let inner = auth::open_envelope(envelope, &self.auth_secret)?;
        let args = untyped::mutation_args(inner)?;
        let value = run(&self.store, args).await?;
        check_return_value_size(&value)?;
        Ok(value)
    }

    /// Upstream's `actionWithLock`, in its order: build the lock key from the inner `args`
    /// (a TypeError when they are missing), take the lock (busy: the default at once, whatever
    /// the secret), and only then check the secret; run the one mutation; release the lock in
    /// `finally`, whose failure (the row already deleted) replaces the call's outcome.
    async fn call_locked(
        &self,
        function: Operation,
        selector: Selector,
        envelope: Option<Value>,
    ) -> Result<Value, FunctionError> {
        // `args.args`: reading `args` of no envelope or of `null` is a TypeError too, but only
        // for the keys that read the inner args at all.
        let inner = match &envelope {
            Some(Value::Object(fields)) => fields.get("args").cloned(),
            _ => None,
        };
        let key = match &envelope {
            None | Some(Value::Null) if selector.key_reads_args() => {
                let what = if envelope.is_none() {
                    "undefined"
                } else {
                    "null"
                };
                return Err(untyped::cannot_read(what, "args"));
            }
            _ => selector.lock_key(function, inner.as_ref())?,
        };
        // A `hold` fault (`crate::faults`): a holder that crashed took this key first.
        if crate::faults::crashed_holder_first() {
            self.locks.hold_as_if_crashed(&key);
        }
        let Some(lock) = self.locks.try_acquire(&key) else {
            return Ok(selector.busy_default());
        };
        let outcome = async {
            auth::open_envelope(envelope, &self.auth_secret)?;
            let args = untyped::mutation_args(inner)?;
            let value = self
                .store
                .write(move |tx| selector.run(tx, function, &args))
                .await?;
            check_return_value_size(&value)?;
            Ok(value)
        }
        .await;
        lock.release()?;
        outcome
    }
}

/// A plain function's whole run from its unchecked inner `args`: check, read, run.
type RunPlain =
    for<'s> fn(&'s Store, Object) -> Pin<Box<dyn Future<Output = PlainResult> + Send + 's>>;
type PlainResult = Result<Value, FunctionError>;

/// How the emulator runs one operation.
enum Route {
    /// Validated arguments, read into the function's own struct.
    Plain(RunPlain),
    /// One of the eight locked selectors, whose arguments upstream leaves unvalidated.
    Locked(Selector),
}

/// The emulator's one table of the 17 operations: what runs each. The `match` is exhaustive,
/// so a new operation in the registry does not compile until it has a row here, and a test
/// checks that the locked rows are exactly the registry's locked operations.
fn route(function: Operation) -> Route {
    use Operation as Op;
    match function {
        Op::InsertMany => Route::Plain(plain::<inserts::InsertMany>),
        Op::GetManyById => Route::Plain(plain::<by_id::GetManyById>),
        Op::GetManyBySleepingTaskUniqueId => {
            Route::Plain(plain::<by_id::GetManyBySleepingTaskUniqueId>)
        }
        Op::UpdateManyById => Route::Plain(plain::<by_id::UpdateManyById>),
        Op::UpdateManyByIdAndInsertChildrenIfUpdated => {
            Route::Plain(plain::<by_id::UpdateManyByIdAndInsertChildrenIfUpdated>)
        }
        Op::UpdateByStatusAndStartAtLessThanAndReturn => Route::Locked(selectors::BY_START_AT),
        Op::UpdateByStatusAndOCFPStatusAndACCZeroAndReturn => {
            Route::Locked(selectors::BY_OCFP_STATUS_ACC_ZERO)
        }
        Op::UpdateByCloseStatusAndReturn => Route::Locked(selectors::BY_CLOSE_STATUS),
        Op::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan => {
            Route::Locked(selectors::BY_EXPIRES_AT)
        }
        Op::UpdateByOCFPExpiresAt => Route::Locked(selectors::BY_OCFP_EXPIRES_AT),
        Op::UpdateByCloseExpiresAt => Route::Locked(selectors::BY_CLOSE_EXPIRES_AT),
        Op::UpdateByExecutorIdAndNPCAndReturn => Route::Locked(selectors::BY_EXECUTOR_ID_NPC),
        Op::GetManyByParentExecutionId => {
            Route::Plain(plain::<children::GetManyByParentExecutionId>)
        }
        Op::UpdateManyByParentExecutionIdAndIsFinished => {
            Route::Plain(plain::<children::UpdateManyByParentExecutionIdAndIsFinished>)
        }
        Op::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus => {
            Route::Locked(selectors::DECREMENT_SWEEP)
        }
        Op::DeleteById => Route::Plain(plain::<deletes::DeleteById>),
        Op::DeleteAll => Route::Plain(plain::<deletes::DeleteAll>),
    }
}

/// Checks `args` against `F`'s validator, reads them into `F`, and runs it.
fn plain<F: PlainFunction>(
    store: &Store,
    args: Object,
) -> Pin<Box<dyn Future<Output = PlainResult> + Send + '_>> {
    Box::pin(async move { F::check(args)?.run(store).await })
}

/// Convex refuses to return a value larger than [`RETURN_VALUE_BYTES_MAX`]. With these
/// functions the read limit trips first (a result holds only documents the call read), so
/// this is the answer's own bound rather than a path a caller can reach.
fn check_return_value_size(value: &Value) -> Result<(), FunctionError> {
    let size = value.convex_size();
    if size > RETURN_VALUE_BYTES_MAX {
        return Err(FunctionError::Thrown(format!(
            "Operation return value is too large (actual: {size}, limit: {RETURN_VALUE_BYTES_MAX})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locked_routes_are_the_registrys_locked_operations() {
        for function in Operation::ALL {
            let locked = matches!(route(function), Route::Locked(_));
            assert_eq!(locked, function.is_locked(), "{function}");
        }
    }
}
