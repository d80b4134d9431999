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
pub mod update;
pub mod validator;

use std::fmt;
use std::sync::Arc;

use crate::clock::Clock;
use crate::store::Store;
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

    /// Whether it is registered as a query, mutation or action (common.md).
    pub fn kind(self) -> FunctionKind {
        match self {
            Function::InsertMany | Function::DeleteById => FunctionKind::Mutation,
            Function::GetManyById
            | Function::GetManyBySleepingTaskUniqueId
            | Function::GetManyByParentExecutionId => FunctionKind::Query,
            _ => FunctionKind::Action,
        }
    }

    /// The validator of the inner `args`.
    fn args_validator(self) -> &'static Validator {
        match self {
            Function::InsertMany => &inserts::INSERT_MANY_ARGS,
            Function::GetManyById => &by_id::GET_MANY_BY_ID_ARGS,
            Function::GetManyBySleepingTaskUniqueId => &by_id::GET_MANY_BY_SLEEPING_ID_ARGS,
            Function::UpdateManyById => &by_id::UPDATE_MANY_BY_ID_ARGS,
            Function::UpdateManyByIdAndInsertChildrenIfUpdated => {
                &by_id::UPDATE_AND_INSERT_CHILDREN_ARGS
            }
            Function::UpdateByStatusAndStartAtLessThanAndReturn => &selectors::START_AT_ARGS,
            Function::UpdateByStatusAndOcfpStatusAndAccZeroAndReturn => {
                &selectors::OCFP_ACC_ZERO_ARGS
            }
            Function::UpdateByCloseStatusAndReturn => &selectors::CLOSE_STATUS_ARGS,
            Function::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan => {
                &selectors::EXPIRES_AT_ARGS
            }
            Function::UpdateByOcfpExpiresAt => &selectors::OCFP_EXPIRES_AT_ARGS,
            Function::UpdateByCloseExpiresAt => &selectors::CLOSE_EXPIRES_AT_ARGS,
            Function::UpdateByExecutorIdAndNpcAndReturn => &selectors::EXECUTOR_NPC_ARGS,
            Function::GetManyByParentExecutionId => &children::GET_CHILDREN_ARGS,
            Function::UpdateManyByParentExecutionIdAndIsFinished => &children::UPDATE_CHILDREN_ARGS,
            Function::UpdateAndDecrementParentAccByIsFinishedAndCloseStatus => {
                &children::DECREMENT_ARGS
            }
            Function::DeleteById => &deletes::DELETE_BY_ID_ARGS,
            Function::DeleteAll => &deletes::DELETE_ALL_ARGS,
        }
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
        FunctionError::Internal(e)
    }
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

    /// Calls `function` with its first positional argument (`None` when none was sent).
    pub async fn call(
        &self,
        function: Function,
        envelope: Option<Value>,
    ) -> Result<Value, FunctionError> {
        let inner = auth::open_envelope(envelope, &self.auth_secret)?;
        let args = Value::Object(args::inner_args_object(inner)?);
        function.args_validator().check(&args)?;
        let Value::Object(args) = args else {
            unreachable!("built as an object just above")
        };
        let (store, locks) = (&self.store, &self.locks);
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
            Function::UpdateByStatusAndStartAtLessThanAndReturn => {
                selectors::by_status_and_start_at(store, locks, args).await
            }
            Function::UpdateByStatusAndOcfpStatusAndAccZeroAndReturn => {
                selectors::by_status_and_ocfp_status_and_acc_zero(store, locks, args).await
            }
            Function::UpdateByCloseStatusAndReturn => {
                selectors::by_close_status(store, locks, args).await
            }
            Function::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan => {
                selectors::by_status_and_is_sleeping_task_and_expires_at(store, locks, args).await
            }
            Function::UpdateByOcfpExpiresAt => {
                selectors::by_ocfp_expires_at(store, locks, args).await
            }
            Function::UpdateByCloseExpiresAt => {
                selectors::by_close_expires_at(store, locks, args).await
            }
            Function::UpdateByExecutorIdAndNpcAndReturn => {
                selectors::by_executor_id_and_npc(store, locks, args).await
            }
            Function::GetManyByParentExecutionId => children::get_many_by_parent(store, args).await,
            Function::UpdateManyByParentExecutionIdAndIsFinished => {
                children::update_many_by_parent_and_is_finished(store, args).await
            }
            Function::UpdateAndDecrementParentAccByIsFinishedAndCloseStatus => {
                children::update_and_decrement_parent_acc(store, locks, args).await
            }
            Function::DeleteById => deletes::delete_by_id(store, args).await,
            Function::DeleteAll => deletes::delete_all(store).await,
        }
    }
}
