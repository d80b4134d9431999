//! Reads and updates by `executionId` / `sleepingTaskUniqueId`.

use std::sync::LazyLock;

use crate::functions::args::{Fields, PlainFunction, ShapeError};
use crate::functions::inserts::insert_one;
use crate::functions::schema::{get_by_id_filters, insert_value, requests, string, update_request};
use crate::functions::update::{update_one, UpdateRequest};
use crate::functions::validator::{array, optional, required, Validator};
use crate::functions::FunctionError;
use crate::limits::INLINE_READ_LOOKUPS_MAX;
use crate::store::{Document, ReadTx, Store};
use crate::value::{Object, Value};

/// `{requests: v.array({executionId, filters?})}`.
pub static GET_MANY_BY_ID_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    requests([
        required("executionId", string()),
        optional("filters", get_by_id_filters()),
    ])
});

/// `{requests: v.array({sleepingTaskUniqueId})}`.
pub static GET_MANY_BY_SLEEPING_ID_ARGS: LazyLock<Validator> =
    LazyLock::new(|| requests([required("sleepingTaskUniqueId", string())]));

/// `{requests: v.array({executionId, filters?, update})}`.
pub static UPDATE_MANY_BY_ID_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    requests([
        required("executionId", string()),
        optional("filters", get_by_id_filters()),
        required("update", update_request()),
    ])
});

/// `{requests: v.array({executionId, filters?, update, childrenTaskExecutionsToInsertIfAnyUpdated})}`.
pub static UPDATE_AND_INSERT_CHILDREN_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    requests([
        required("executionId", string()),
        optional("filters", get_by_id_filters()),
        required("update", update_request()),
        required(
            "childrenTaskExecutionsToInsertIfAnyUpdated",
            array(insert_value()),
        ),
    ])
});

/// One `{executionId, filters?}` request.
struct ByIdRequest {
    execution_id: String,
    filters: Option<Object>,
}

impl ByIdRequest {
    fn read(request: &mut Fields) -> Result<Self, ShapeError> {
        Ok(Self {
            execution_id: request.string("executionId")?,
            filters: request.optional_object("filters")?,
        })
    }

    /// The request's document, when it exists and passes the filters.
    fn find(&self, tx: &ReadTx<'_>) -> Result<Option<Document>, FunctionError> {
        Ok(tx
            .execution_by_execution_id(&self.execution_id)?
            .filter(|doc| matches_filters(doc, self.filters.as_ref())))
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

/// One document (or null) per key, in key order, found by `find`: a read of point lookups, run
/// inline when few and on a blocking thread when many.
async fn find_each<K: Send + Sync + 'static>(
    store: &Store,
    keys: Vec<K>,
    find: fn(&ReadTx<'_>, &K) -> Result<Option<Document>, FunctionError>,
) -> Result<Value, FunctionError> {
    let inline = keys.len() <= INLINE_READ_LOOKUPS_MAX;
    let read = move |tx: &ReadTx<'_>| {
        let mut results = Vec::with_capacity(keys.len());
        for key in &keys {
            results.push(find(tx, key)?.map_or(Value::Null, Document::into_value));
        }
        Ok(Value::Array(results))
    };
    if inline {
        store.read_inline(read).await
    } else {
        store.read(read).await
    }
}

/// `getManyById`: each request's document, or null when absent or filtered out; in request
/// order.
pub(crate) struct GetManyById {
    requests: Vec<ByIdRequest>,
}

impl PlainFunction for GetManyById {
    const ARGS: &'static LazyLock<Validator> = &GET_MANY_BY_ID_ARGS;

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let requests = args.each("requests", |mut request| ByIdRequest::read(&mut request))?;
        Ok(Self { requests })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        find_each(store, self.requests, |tx, request| request.find(tx)).await
    }
}

/// `getManyBySleepingTaskUniqueId`: each request's document by its sleeping task unique id,
/// or null.
pub(crate) struct GetManyBySleepingTaskUniqueId {
    unique_ids: Vec<String>,
}

impl PlainFunction for GetManyBySleepingTaskUniqueId {
    const ARGS: &'static LazyLock<Validator> = &GET_MANY_BY_SLEEPING_ID_ARGS;

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let unique_ids = args.each("requests", |mut r| r.string("sleepingTaskUniqueId"))?;
        Ok(Self { unique_ids })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        find_each(store, self.unique_ids, |tx, unique_id| {
            Ok(tx.execution_by_sleeping_task_unique_id(unique_id)?)
        })
        .await
    }
}

/// `updateManyById`: one atomic mutation; each matching document gets its update, others are
/// skipped.
pub(crate) struct UpdateManyById {
    requests: Vec<(ByIdRequest, UpdateRequest)>,
}

impl PlainFunction for UpdateManyById {
    const ARGS: &'static LazyLock<Validator> = &UPDATE_MANY_BY_ID_ARGS;

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let requests = args.each("requests", |mut request| {
            let update = UpdateRequest::from_validated(&request.value("update")?);
            Ok((ByIdRequest::read(&mut request)?, update))
        })?;
        Ok(Self { requests })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        store
            .write(move |tx| {
                for (request, mut update) in self.requests {
                    if let Some(doc) = request.find(tx)? {
                        update_one(tx, &doc, &mut update)?;
                    }
                }
                Ok(Value::Null)
            })
            .await
    }
}

/// `updateManyByIdAndInsertChildrenIfUpdated`: one atomic mutation; each matching document
/// gets its update, then its children are inserted with `parentExecutionDocId` = that
/// document's `_id` (insertMany's checks apply).
pub(crate) struct UpdateManyByIdAndInsertChildrenIfUpdated {
    requests: Vec<(ByIdRequest, UpdateRequest, Vec<Object>)>,
}

impl PlainFunction for UpdateManyByIdAndInsertChildrenIfUpdated {
    const ARGS: &'static LazyLock<Validator> = &UPDATE_AND_INSERT_CHILDREN_ARGS;

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let requests = args.each("requests", |mut request| {
            let update = UpdateRequest::from_validated(&request.value("update")?);
            let children = request.each("childrenTaskExecutionsToInsertIfAnyUpdated", |child| {
                Ok(child.into_object())
            })?;
            Ok((ByIdRequest::read(&mut request)?, update, children))
        })?;
        Ok(Self { requests })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        store
            .write(move |tx| {
                for (request, mut update, children) in self.requests {
                    let Some(doc) = request.find(tx)? else {
                        continue;
                    };
                    update_one(tx, &doc, &mut update)?;
                    for mut child in children {
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
}
