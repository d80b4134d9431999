//! Builders and checks shared by the scenarios.

use durable_execution_storage_convex::{
    GetByIdRequest, StorageError, TaskExecutionStorageUpdate, TaskExecutionStorageValue,
    TaskExecutionsStorage, UpdateByIdAndInsertChildrenRequest, UpdateByIdRequest,
};
use serde::Serialize;

use super::Ctx;
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

/// Reads executions by id and keeps one field of each (`None` where absent), so a check
/// compares just what its scenario is about.
pub async fn read_field<T>(
    storage: &dyn TaskExecutionsStorage,
    ids: &[&str],
    field: impl Fn(&TaskExecutionStorageValue) -> T,
) -> Result<Vec<Option<T>>, ConformanceError> {
    let got = read(storage, ids).await?;
    Ok(got.iter().map(|v| v.as_ref().map(&field)).collect())
}

/// Checks which of the rows `ids` carry an output (the mark the scenarios' updates leave):
/// exactly `expected`, in the order of `ids`.
pub async fn ensure_outputs(
    storage: &dyn TaskExecutionsStorage,
    ids: &[&str],
    expected: &[&str],
) -> Result<(), ConformanceError> {
    let outputs = read_field(storage, ids, |v| v.output.is_some()).await?;
    let with_output: Vec<&str> = ids
        .iter()
        .zip(outputs)
        .filter_map(|(id, output)| (output == Some(true)).then_some(*id))
        .collect();
    ensure_eq(
        &format!("rows with an output among {ids:?}"),
        &expected,
        &with_output,
    )
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

/// Checks that `stamp`, the `field` a write stored, is the write's clock + 50 ms: a reading
/// between `before_ms` and `after_ms` (the backend's clock just before and after the call).
/// Passes without looking where the backend's clock is not ours to read (a deployment).
pub fn ensure_written_at(
    ctx: &Ctx<'_>,
    field: &str,
    stamp: i64,
    (before_ms, after_ms): (i64, i64),
) -> Result<(), ConformanceError> {
    if !ctx.shares_clock() {
        return Ok(());
    }
    ensure(
        within(stamp, before_ms, after_ms, WRITE_CLOCK_OFFSET_MS),
        format!(
            "{field} {stamp} is not the write's clock + 50 ms (clock was {before_ms}..={after_ms})"
        ),
    )
}
