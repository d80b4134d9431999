//! The 17 public storage functions: dispatch, the auth check, argument validation, errors.
//!
//! [`Functions::call`] is the whole life of one call once the HTTP layer has decoded it:
//! check the secret in the envelope `{authSecret, args}` (always first, before any lock or
//! validation), validate the inner `args` strictly, then run the function's family module:
//!
//! | module | functions |
//! |---|---|
//! | `inserts` | insertMany |
//! | `by_id` | getManyById, getManyBySleepingTaskUniqueId, updateManyById, updateManyByIdAndInsertChildrenIfUpdated |
//! | `selectors` | the six locked selectors over one index each |
//! | `children` | getManyByParentExecutionId, updateManyByParentExecutionIdAndIsFinished, updateAndDecrementParentACCByIsFinishedAndCloseStatus |
//! | `deletes` | deleteById, deleteAll |
//!
//! Each family file holds its argument validators and its effect on the store. A function that
//! throws upstream returns a [`FunctionError`] here, which the HTTP layer answers as Convex
//! does (HTTP 200, `status: "error"`).

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

use std::fmt;
use std::sync::Arc;

use crate::clock::Clock;
use crate::limits::RETURN_VALUE_BYTES_MAX;
use crate::store::{Store, Usage, UsageScope};
use crate::value::{Object, Value};
use locks::Locks;
use validator::{ValidationError, Validator};

/// The inner arguments of a call, once validated: an object of the function's fields.
pub(crate) type Args = Object;

/// How a function may be called (`/api/query`, `/api/mutation`, `/api/action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Query,
    Mutation,
    Action,
}

impl fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FunctionKind::Query => "Query",
            FunctionKind::Mutation => "Mutation",
            FunctionKind::Action => "Action",
        })
    }
}

/// One of the 17 public functions (SPEC.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    InsertMany,
    GetManyById,
    GetManyBySleepingTaskUniqueId,
    UpdateManyById,
    UpdateManyByIdAndInsertChildrenIfUpdated,
    UpdateByStatusAndStartAtLessThanAndReturn,
    UpdateByStatusAndOcfpStatusAndAccZeroAndReturn,
    UpdateByCloseStatusAndReturn,
    UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
    UpdateByOcfpExpiresAt,
    UpdateByCloseExpiresAt,
    UpdateByExecutorIdAndNpcAndReturn,
    GetManyByParentExecutionId,
    UpdateManyByParentExecutionIdAndIsFinished,
    UpdateAndDecrementParentAccByIsFinishedAndCloseStatus,
    DeleteById,
    DeleteAll,
}

impl Function {
    /// All 17, in SPEC order.
    pub const ALL: [Function; 17] = [
        Function::InsertMany,
        Function::GetManyById,
        Function::GetManyBySleepingTaskUniqueId,
        Function::UpdateManyById,
        Function::UpdateManyByIdAndInsertChildrenIfUpdated,
        Function::UpdateByStatusAndStartAtLessThanAndReturn,
        Function::UpdateByStatusAndOcfpStatusAndAccZeroAndReturn,
        Function::UpdateByCloseStatusAndReturn,
        Function::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
        Function::UpdateByOcfpExpiresAt,
        Function::UpdateByCloseExpiresAt,
        Function::UpdateByExecutorIdAndNpcAndReturn,
        Function::GetManyByParentExecutionId,
        Function::UpdateManyByParentExecutionIdAndIsFinished,
        Function::UpdateAndDecrementParentAccByIsFinishedAndCloseStatus,
        Function::DeleteById,
        Function::DeleteAll,
    ];

    /// The exported name, the part after `:` in the path.
    pub fn name(self) -> &'static str {
        match self {
            Function::InsertMany => "insertMany",
            Function::GetManyById => "getManyById",
            Function::GetManyBySleepingTaskUniqueId => "getManyBySleepingTaskUniqueId",
            Function::UpdateManyById => "updateManyById",
            Function::UpdateManyByIdAndInsertChildrenIfUpdated => {
                "updateManyByIdAndInsertChildrenIfUpdated"
            }
            Function::UpdateByStatusAndStartAtLessThanAndReturn => {
                "updateByStatusAndStartAtLessThanAndReturn"
            }
            Function::UpdateByStatusAndOcfpStatusAndAccZeroAndReturn => {
                "updateByStatusAndOCFPStatusAndACCZeroAndReturn"
            }
            Function::UpdateByCloseStatusAndReturn => "updateByCloseStatusAndReturn",
            Function::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan => {
                "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan"
            }
            Function::UpdateByOcfpExpiresAt => "updateByOCFPExpiresAt",
            Function::UpdateByCloseExpiresAt => "updateByCloseExpiresAt",
            Function::UpdateByExecutorIdAndNpcAndReturn => "updateByExecutorIdAndNPCAndReturn",
            Function::GetManyByParentExecutionId => "getManyByParentExecutionId",
            Function::UpdateManyByParentExecutionIdAndIsFinished => {
                "updateManyByParentExecutionIdAndIsFinished"
            }
            Function::UpdateAndDecrementParentAccByIsFinishedAndCloseStatus => {
                "updateAndDecrementParentACCByIsFinishedAndCloseStatus"
            }
            Function::DeleteById => "deleteById",
            Function::DeleteAll => "deleteAll",
        }
    }

    /// The function with this exported name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether it is registered as a query, mutation or action (docs/SPEC.md section 5).
    pub fn kind(self) -> FunctionKind {
        match self {
            Function::InsertMany | Function::DeleteById => FunctionKind::Mutation,
            Function::GetManyById
            | Function::GetManyBySleepingTaskUniqueId
            | Function::GetManyByParentExecutionId => FunctionKind::Query,
            _ => FunctionKind::Action,
        }
    }

    /// The validator of the inner `args`; `None` for the eight locked actions, which upstream
    /// leaves unvalidated (`selectors.rs` reads their arguments as its JavaScript does).
    pub(crate) fn args_validator(self) -> Option<&'static Validator> {
        Some(match self {
            Function::InsertMany => &inserts::INSERT_MANY_ARGS,
            Function::GetManyById => &by_id::GET_MANY_BY_ID_ARGS,
            Function::GetManyBySleepingTaskUniqueId => &by_id::GET_MANY_BY_SLEEPING_ID_ARGS,
            Function::UpdateManyById => &by_id::UPDATE_MANY_BY_ID_ARGS,
            Function::UpdateManyByIdAndInsertChildrenIfUpdated => {
                &by_id::UPDATE_AND_INSERT_CHILDREN_ARGS
            }
            Function::GetManyByParentExecutionId => &children::GET_CHILDREN_ARGS,
            Function::UpdateManyByParentExecutionIdAndIsFinished => &children::UPDATE_CHILDREN_ARGS,
            Function::DeleteById => &deletes::DELETE_BY_ID_ARGS,
            Function::DeleteAll => &deletes::DELETE_ALL_ARGS,
            Function::UpdateByStatusAndStartAtLessThanAndReturn
            | Function::UpdateByStatusAndOcfpStatusAndAccZeroAndReturn
            | Function::UpdateByCloseStatusAndReturn
            | Function::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan
            | Function::UpdateByOcfpExpiresAt
            | Function::UpdateByCloseExpiresAt
            | Function::UpdateByExecutorIdAndNpcAndReturn
            | Function::UpdateAndDecrementParentAccByIsFinishedAndCloseStatus => return None,
        })
    }
}

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
    pub async fn call_observed(&self, function: Function, envelope: Option<Value>) -> Observed {
        let (result, usage) = UsageScope::run(self.call(function, envelope)).await;
        Observed { result, usage }
    }

    /// Calls `function` with its first positional argument (`None` when none was sent).
    ///
    /// The nine plain functions do what upstream's public functions do: check the secret, then
    /// `ctx.runQuery`/`runMutation` the component function with the inner `args` (which must
    /// be an object), whose validator checks them. The eight locked actions go through
    /// [`Functions::call_locked`].
    pub async fn call(
        &self,
        function: Function,
        envelope: Option<Value>,
    ) -> Result<Value, FunctionError> {
        if let Some(selector) = selectors::selector(function) {
            return self.call_locked(function, selector, envelope).await;
        }
        let Some(validator) = function.args_validator() else {
            return Err(unlisted(function));
        };
        let inner = auth::open_envelope(envelope, &self.auth_secret)?;
        let args = untyped::mutation_args(inner)?;
        let args = Value::Object(args);
        validator.check(&args)?;
        let Value::Object(args) = args else {
            unreachable!("built as an object just above")
        };
        let value = self.call_plain(function, args).await?;
        check_return_value_size(&value)?;
        Ok(value)
    }

    /// Upstream's `actionWithLock`, in its order: build the lock key from the inner `args`
    /// (a TypeError when they are missing), take the lock (busy: the default at once, whatever
    /// the secret), and only then check the secret; run the one mutation; release the lock in
    /// `finally`, whose failure (the row already deleted) replaces the call's outcome.
    async fn call_locked(
        &self,
        function: Function,
        selector: selectors::Selector,
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

    async fn call_plain(&self, function: Function, args: Args) -> Result<Value, FunctionError> {
        let store = &self.store;
        match function {
            Function::InsertMany => inserts::insert_many(store, args).await,
            Function::GetManyById => by_id::get_many_by_id(store, args).await,
            Function::GetManyBySleepingTaskUniqueId => {
                by_id::get_many_by_sleeping_task_unique_id(store, args).await
            }
            Function::UpdateManyById => by_id::update_many_by_id(store, args).await,
            Function::UpdateManyByIdAndInsertChildrenIfUpdated => {
                by_id::update_many_by_id_and_insert_children(store, args).await
            }
            Function::GetManyByParentExecutionId => children::get_many_by_parent(store, args).await,
            Function::UpdateManyByParentExecutionIdAndIsFinished => {
                children::update_many_by_parent_and_is_finished(store, args).await
            }
            Function::DeleteById => deletes::delete_by_id(store, args).await,
            Function::DeleteAll => deletes::delete_all(store).await,
            locked => Err(unlisted(locked)),
        }
    }
}

/// A function that is in neither the locked table (`selectors.rs`) nor the validated one
/// (`Function::args_validator`): a mistake in this crate, answered as an internal error rather
/// than a panic inside a request (`faults.rs` tests that the two tables split the 17 exactly).
fn unlisted(function: Function) -> FunctionError {
    FunctionError::Internal(crate::Error::BatchAbandoned(format!(
        "{} has no dispatch entry",
        function.name()
    )))
}

/// Convex refuses to return a value larger than [`RETURN_VALUE_BYTES_MAX`]. With these
/// functions the read limit trips first (a result holds only documents the call read), so
/// this is the answer's own bound rather than a path a caller can reach.
fn check_return_value_size(value: &Value) -> Result<(), FunctionError> {
    let size = value.convex_size();
    if size > RETURN_VALUE_BYTES_MAX {
        return Err(FunctionError::Thrown(format!(
            "Function return value is too large (actual: {size}, limit: {RETURN_VALUE_BYTES_MAX})"
        )));
    }
    Ok(())
}
