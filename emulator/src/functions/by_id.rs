//! Reads and updates by `executionId` / `sleepingTaskUniqueId`.

use std::sync::LazyLock;

use crate::functions::args;
use crate::functions::inserts::insert_one;
use crate::functions::schema::{get_by_id_filters, insert_value, string, update_request};
use crate::functions::update::{update_one, UpdateRequest};
use crate::functions::validator::{array, object, optional, required, Validator};
use crate::functions::{Args, FunctionError};
use crate::limits::INLINE_READ_LOOKUPS_MAX;
use crate::store::{Document, ReadTx, Store};
use crate::value::{Object, Value};

/// `{requests: v.array({executionId, filters?})}`.
pub static GET_MANY_BY_ID_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([required(
        "requests",
        array(object([
            required("executionId", string()),
            optional("filters", get_by_id_filters()),
        ])),
    )])
});

/// `{requests: v.array({sleepingTaskUniqueId})}`.
pub static GET_MANY_BY_SLEEPING_ID_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([required(
        "requests",
        array(object([required("sleepingTaskUniqueId", string())])),
    )])
});

/// `{requests: v.array({executionId, filters?, update})}`.
pub static UPDATE_MANY_BY_ID_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([required(
        "requests",
        array(object([
            required("executionId", string()),
            optional("filters", get_by_id_filters()),
            required("update", update_request()),
        ])),
    )])
});

/// `{requests: v.array({executionId, filters?, update, childrenTaskExecutionsToInsertIfAnyUpdated})}`.
pub static UPDATE_AND_INSERT_CHILDREN_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([required(
        "requests",
        array(object([
            required("executionId", string()),
            optional("filters", get_by_id_filters()),
            required("update", update_request()),
            required(
                "childrenTaskExecutionsToInsertIfAnyUpdated",
                array(insert_value()),
            ),
        ])),
    )])
});

/// One `{executionId, filters?}` request.
struct ByIdRequest {
    execution_id: String,
    filters: Option<Object>,
}

impl ByIdRequest {
    fn from_validated(request: &mut Object) -> Self {
        let execution_id = args::string(request, "executionId").to_string();
        let filters = request.remove("filters").map(args::into_object);
        Self {
            execution_id,
            filters,
        }
    }
}

/// Upstream's `applyTaskExecutionIdFilters`: every given filter must equal the field.
fn matches_filters(doc: &Document, filters: Option<&Object>) -> bool {
    let Some(filters) = filters else { return true };
    ["isSleepingTask", "status", "isFinished"]
        .iter()
        .all(|name| {
            filters
                .get(*name)
                .is_none_or(|want| doc.fields.get(*name) == Some(want))
        })
}

/// Each request's document, or null when absent or filtered out; in request order.
pub async fn get_many_by_id(store: &Store, mut args: Args) -> Result<Value, FunctionError> {
    let requests: Vec<ByIdRequest> = args::take_array(&mut args, "requests")
        .into_iter()
        .map(|r| ByIdRequest::from_validated(&mut args::into_object(r)))
        .collect();
    let lookups = requests.len();
    read_lookups(store, lookups, move |tx| {
        let mut results = Vec::with_capacity(requests.len());
        for request in &requests {
            let doc = tx.execution_by_execution_id(&request.execution_id)?;
            results.push(match doc {
                Some(doc) if matches_filters(&doc, request.filters.as_ref()) => doc.into_value(),
                _ => Value::Null,
            });
        }
        Ok(Value::Array(results))
    })
    .await
}

/// Runs a read of `lookups` point lookups: inline when few, on a blocking thread when many.
async fn read_lookups<F>(store: &Store, lookups: usize, read: F) -> Result<Value, FunctionError>
where
    F: Fn(&ReadTx<'_>) -> Result<Value, FunctionError> + Send + Sync + 'static,
{
    if lookups <= INLINE_READ_LOOKUPS_MAX {
        store.read_inline(read).await
    } else {
        store.read(read).await
    }
}

/// Each request's document by its sleeping task unique id, or null.
pub async fn get_many_by_sleeping_task_unique_id(
    store: &Store,
    mut args: Args,
) -> Result<Value, FunctionError> {
    let unique_ids: Vec<String> = args::take_array(&mut args, "requests")
        .into_iter()
        .map(|r| args::string(&args::into_object(r), "sleepingTaskUniqueId").to_string())
        .collect();
    let lookups = unique_ids.len();
    read_lookups(store, lookups, move |tx| {
        let mut results = Vec::with_capacity(unique_ids.len());
        for unique_id in &unique_ids {
            let doc = tx.execution_by_sleeping_task_unique_id(unique_id)?;
            results.push(doc.map_or(Value::Null, Document::into_value));
        }
        Ok(Value::Array(results))
    })
    .await
}

/// One atomic mutation: each matching document gets its update; others are skipped.
pub async fn update_many_by_id(store: &Store, mut args: Args) -> Result<Value, FunctionError> {
    let requests: Vec<(ByIdRequest, UpdateRequest)> = args::take_array(&mut args, "requests")
        .into_iter()
        .map(|r| {
            let mut r = args::into_object(r);
            let update = UpdateRequest::from_validated(&r["update"]);
            (ByIdRequest::from_validated(&mut r), update)
        })
        .collect();
    store
        .write(move |tx| {
            for (request, mut update) in requests {
                if let Some(doc) = tx.execution_by_execution_id(&request.execution_id)? {
                    if matches_filters(&doc, request.filters.as_ref()) {
                        update_one(tx, &doc, &mut update)?;
                    }
                }
            }
            Ok(Value::Null)
        })
        .await
}

/// One atomic mutation: each matching document gets its update, then its children are
/// inserted with `parentExecutionDocId` = that document's `_id` (insertMany's checks apply).
pub async fn update_many_by_id_and_insert_children(
    store: &Store,
    mut args: Args,
) -> Result<Value, FunctionError> {
    let requests: Vec<(ByIdRequest, UpdateRequest, Vec<Value>)> =
        args::take_array(&mut args, "requests")
            .into_iter()
            .map(|r| {
                let mut r = args::into_object(r);
                let update = UpdateRequest::from_validated(&r["update"]);
                let children =
                    args::take_array(&mut r, "childrenTaskExecutionsToInsertIfAnyUpdated");
                (ByIdRequest::from_validated(&mut r), update, children)
            })
            .collect();
    store
        .write(move |tx| {
            for (request, mut update, children) in requests {
                let Some(doc) = tx.execution_by_execution_id(&request.execution_id)? else {
                    continue;
                };
                if !matches_filters(&doc, request.filters.as_ref()) {
                    continue;
                }
                update_one(tx, &doc, &mut update)?;
                for child in children {
                    let mut child = args::into_object(child);
                    child.insert(
                        "parentExecutionDocId".to_string(),
                        Value::String(doc.id.clone()),
                    );
                    insert_one(tx, child)?;
                }
            }
            Ok(Value::Null)
        })
        .await
}
