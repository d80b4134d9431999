//! Builders and checks shared by the scenarios.

use durable_execution_storage_convex::{
    GetByIdRequest, StorageError, TaskExecutionStorageUpdate, TaskExecutionStorageValue,
    TaskExecutionsStorage, UpdateByIdAndInsertChildrenRequest, UpdateByIdRequest,
};
use serde::Serialize;

use crate::error::{ConformanceError, StorageResultExt};
use crate::json_diff::{diff, render};
use crate::normalize::tokenize_clock_values;

/// The shared fixtures and margins (the adapter's `fixtures` module) and the store's own
/// offsets (SPEC.md section 3), under the names the scenarios use.
pub use durable_execution_storage_convex::fixtures::{
    child_execution, full_execution, full_update, minimal_execution, touch, unset_all, F0, F1, F2,
    PAST_MS,
};
pub use durable_execution_storage_convex::{EXPIRY_CLAMP_OFFSET_MS, WRITE_CLOCK_OFFSET_MS};

/// A minimal execution with `edit` applied.
pub fn with(
    id: &str,
    edit: impl FnOnce(&mut TaskExecutionStorageValue),
) -> TaskExecutionStorageValue {
    let mut v = minimal_execution(id);
    edit(&mut v);
    v
}

/// Inserts `executions` in one `insertMany` call.
pub async fn insert(
    storage: &dyn TaskExecutionsStorage,
    executions: Vec<TaskExecutionStorageValue>,
) -> Result<(), ConformanceError> {
    storage.insert_many(executions).await.during("insertMany")
}

/// Reads executions by id, `None` where absent.
pub async fn read(
    storage: &dyn TaskExecutionsStorage,
    ids: &[&str],
) -> Result<Vec<Option<TaskExecutionStorageValue>>, ConformanceError> {
    storage
        .get_many_by_id(
            ids.iter()
                .map(|id| GetByIdRequest {
                    execution_id: id.to_string(),
                    filters: None,
                })
                .collect(),
        )
        .await
        .during("getManyById")
}

/// Reads one execution that must exist.
pub async fn read_one(
    storage: &dyn TaskExecutionsStorage,
    id: &str,
) -> Result<TaskExecutionStorageValue, ConformanceError> {
    read(storage, &[id])
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| ConformanceError::check(format!("execution {id} is missing")))
}

/// Updates one execution by id without filters.
pub async fn update_one(
    storage: &dyn TaskExecutionsStorage,
    id: &str,
    update: TaskExecutionStorageUpdate,
) -> Result<(), ConformanceError> {
    storage
        .update_many_by_id(vec![UpdateByIdRequest {
            execution_id: id.to_string(),
            filters: None,
            update,
        }])
        .await
        .during("updateManyById")
}

/// Updates `parent_id` and inserts `children` under it (they get its document id).
pub async fn insert_children(
    storage: &dyn TaskExecutionsStorage,
    parent_id: &str,
    children: Vec<TaskExecutionStorageValue>,
) -> Result<(), ConformanceError> {
    storage
        .update_many_by_id_and_insert_children_if_updated(vec![
            UpdateByIdAndInsertChildrenRequest {
                execution_id: parent_id.to_string(),
                filters: None,
                update: touch(PAST_MS),
                children_task_executions_to_insert_if_any_updated: children,
            },
        ])
        .await
        .during("updateManyByIdAndInsertChildrenIfUpdated")
}

/// The execution ids of `values`, in order.
pub fn ids(values: &[TaskExecutionStorageValue]) -> Vec<String> {
    values.iter().map(|v| v.execution_id.clone()).collect()
}

/// Fails unless `condition` holds.
pub fn ensure(condition: bool, message: impl Into<String>) -> Result<(), ConformanceError> {
    if condition {
        Ok(())
    } else {
        Err(ConformanceError::check(message))
    }
}

/// Fails with a side-by-side diff unless `got` equals `expected` (as JSON).
pub fn ensure_eq<T: Serialize, U: Serialize>(
    what: &str,
    expected: &T,
    got: &U,
) -> Result<(), ConformanceError> {
    let e = serde_json::to_value(expected).expect("serializes");
    let g = serde_json::to_value(got).expect("serializes");
    let differences = diff(&e, &g);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(ConformanceError::check(format!(
            "{what}:\n{}",
            render(&differences, "expected", "got")
        )))
    }
}

/// Like [`ensure_eq`], with clock-written timestamps on both sides compared as tokens.
pub fn ensure_eq_tokenized<T: Serialize, U: Serialize>(
    what: &str,
    expected: &T,
    got: &U,
) -> Result<(), ConformanceError> {
    let e = tokenize_clock_values(&serde_json::to_value(expected).expect("serializes"));
    let g = tokenize_clock_values(&serde_json::to_value(got).expect("serializes"));
    ensure_eq(what, &e, &g)
}

/// Fails unless `result` is a function error that threw exactly `message`.
pub fn ensure_thrown<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, StorageError>,
    message: &str,
) -> Result<(), ConformanceError> {
    match result {
        Err(error) if error.thrown_message().as_deref() == Some(message) => Ok(()),
        Err(error) => Err(ConformanceError::check(format!(
            "{what}: expected the function to throw {message:?}, got error {error} (thrown message {:?})",
            error.thrown_message()
        ))),
        Ok(value) => Err(ConformanceError::check(format!(
            "{what}: expected the function to throw {message:?}, got Ok({value:?})"
        ))),
    }
}

/// Whether `ms` is a clock reading taken between `before_ms` and `after_ms`, plus `offset_ms`.
///
/// Only meaningful where the backend shares this machine's clock (not for a deployment).
pub fn within(ms: i64, before_ms: i64, after_ms: i64, offset_ms: i64) -> bool {
    ms >= before_ms + offset_ms && ms <= after_ms + offset_ms
}
