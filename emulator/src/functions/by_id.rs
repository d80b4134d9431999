//! Reads and updates by `executionId` / `sleepingTaskUniqueId`.

use std::sync::LazyLock;

use crate::functions::args::{Fields, PlainFunction, ShapeError};
use crate::functions::inserts::insert_one;
use crate::functions::schema::{get_by_id_filters, insert_value, string, update_request};
use crate::functions::update::{update_one, UpdateRequest};
use crate::functions::validator::{array, object, optional, required, Validator};
use crate::functions::FunctionError;
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

/// `getManyById`: each request's document, or null when absent or filtered out; in request
/// order.
pub(crate) struct GetManyById {
    requests: Vec<ByIdRequest>,
}

impl PlainFunction for GetManyById {
    fn validator() -> &'static Validator {
        &GET_MANY_BY_ID_ARGS
    }

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let requests = args
            .objects("requests")?
            .iter_mut()
            .map(ByIdRequest::read)
            .collect::<Result<_, _>>()?;
        Ok(Self { requests })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        let lookups = self.requests.len();
        read_lookups(store, lookups, move |tx| {
            let mut results = Vec::with_capacity(self.requests.len());
            for request in &self.requests {
                results.push(request.find(tx)?.map_or(Value::Null, Document::into_value));
            }
            Ok(Value::Array(results))
        })
        .await
    }
}

/// `getManyBySleepingTaskUniqueId`: each request's document by its sleeping task unique id,
/// or null.
pub(crate) struct GetManyBySleepingTaskUniqueId {
    unique_ids: Vec<String>,
}

impl PlainFunction for GetManyBySleepingTaskUniqueId {
    fn validator() -> &'static Validator {
        &GET_MANY_BY_SLEEPING_ID_ARGS
    }

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let unique_ids = args
            .objects("requests")?
            .into_iter()
            .map(|mut request| request.string("sleepingTaskUniqueId"))
            .collect::<Result<_, _>>()?;
        Ok(Self { unique_ids })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        let lookups = self.unique_ids.len();
        read_lookups(store, lookups, move |tx| {
            let mut results = Vec::with_capacity(self.unique_ids.len());
            for unique_id in &self.unique_ids {
                let doc = tx.execution_by_sleeping_task_unique_id(unique_id)?;
                results.push(doc.map_or(Value::Null, Document::into_value));
            }
            Ok(Value::Array(results))
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
    fn validator() -> &'static Validator {
        &UPDATE_MANY_BY_ID_ARGS
    }

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let requests = args
            .objects("requests")?
            .into_iter()
            .map(|mut request| {
                let update = UpdateRequest::from_validated(&request.value("update")?);
                Ok((ByIdRequest::read(&mut request)?, update))
            })
            .collect::<Result<_, ShapeError>>()?;
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
    fn validator() -> &'static Validator {
        &UPDATE_AND_INSERT_CHILDREN_ARGS
    }

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let requests = args
            .objects("requests")?
            .into_iter()
            .map(|mut request| {
                let update = UpdateRequest::from_validated(&request.value("update")?);
                let children = request
                    .objects("childrenTaskExecutionsToInsertIfAnyUpdated")?
                    .into_iter()
                    .map(Fields::into_object)
                    .collect();
                Ok((ByIdRequest::read(&mut request)?, update, children))
            })
            .collect::<Result<_, ShapeError>>()?;
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
