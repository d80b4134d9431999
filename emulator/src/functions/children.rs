//! Children of a parent execution, and the sweep that closes children and decrements their
//! parents' active-children count (`acc`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::functions::args::{Fields, PlainFunction, ShapeError};
use crate::functions::schema::{boolean, requests, string, update_request};
use crate::functions::untyped::check_against_schema;
use crate::functions::update::{raw_update_one, update_one, UpdateRequest};
use crate::functions::validator::{required, Validator};
use crate::functions::FunctionError;
use crate::store::{Document, Index, IndexRange, Store, WriteTx};
use crate::value::{self, Value};

/// `{requests: v.array({parentExecutionId})}`.
pub static GET_CHILDREN_ARGS: LazyLock<Validator> =
    LazyLock::new(|| requests([required("parentExecutionId", string())]));

/// `{requests: v.array({parentExecutionId, isFinished, update})}`.
pub static UPDATE_CHILDREN_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    requests([
        required("parentExecutionId", string()),
        required("isFinished", boolean()),
        required("update", update_request()),
    ])
});

/// `getManyByParentExecutionId`: every child of each parent, unfinished first, then oldest
/// first.
pub(crate) struct GetManyByParentExecutionId {
    parent_execution_ids: Vec<String>,
}

impl PlainFunction for GetManyByParentExecutionId {
    const ARGS: &'static LazyLock<Validator> = &GET_CHILDREN_ARGS;

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let parent_execution_ids = args.each("requests", |mut r| r.string("parentExecutionId"))?;
        Ok(Self {
            parent_execution_ids,
        })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        store
            .read(move |tx| {
                let mut results = Vec::with_capacity(self.parent_execution_ids.len());
                for parent in &self.parent_execution_ids {
                    let range = IndexRange::eq(
                        Index::ParentExecutionIdIsFinished,
                        vec![parent.as_str().into()],
                    );
                    let children = tx.executions_in_range(&range, None)?;
                    results.push(Value::Array(
                        children.into_iter().map(Document::into_value).collect(),
                    ));
                }
                Ok(Value::Array(results))
            })
            .await
    }
}

/// `updateManyByParentExecutionIdAndIsFinished`: one atomic mutation; every child with that
/// parent and `isFinished` gets the update.
pub(crate) struct UpdateManyByParentExecutionIdAndIsFinished {
    requests: Vec<UpdateChildrenRequest>,
}

/// One `{parentExecutionId, isFinished, update}` request.
struct UpdateChildrenRequest {
    parent_execution_id: String,
    is_finished: bool,
    update: UpdateRequest,
}

impl PlainFunction for UpdateManyByParentExecutionIdAndIsFinished {
    const ARGS: &'static LazyLock<Validator> = &UPDATE_CHILDREN_ARGS;

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let requests = args.each("requests", |mut request| {
            Ok(UpdateChildrenRequest {
                parent_execution_id: request.string("parentExecutionId")?,
                is_finished: request.boolean("isFinished")?,
                update: UpdateRequest::from_validated(&request.value("update")?),
            })
        })?;
        Ok(Self { requests })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        store
            .write(move |tx| {
                for mut request in self.requests {
                    let range = IndexRange::eq(
                        Index::ParentExecutionIdIsFinished,
                        vec![
                            request.parent_execution_id.into(),
                            request.is_finished.into(),
                        ],
                    );
                    for child in tx.executions_in_range(&range, None)? {
                        update_one(tx, &child, &mut request.update)?;
                    }
                }
                Ok(Value::Null)
            })
            .await
    }
}

/// For the selected children that have a parent and are not its finalize child: a parent of
/// an only child gets `acc = 0` (and `updatedAt`), set first in order of appearance; every
/// other parent gets `acc - (its number of such children)` as a clamped update, in ascending
/// order of the parent's `_id`.
///
/// A parent that no longer exists fails the whole mutation when it is an only child's (upstream
/// patches it blindly, and Convex's `db.patch` throws `Update on nonexistent document ID`), and
/// is skipped in the grouped decrement (upstream reads it with `db.get` first).
pub(crate) fn decrement_parents(
    tx: &WriteTx<'_>,
    children: &[Document],
    updated_at: Option<Value>,
) -> Result<(), FunctionError> {
    let mut only_child_parents: Vec<&str> = Vec::new();
    let mut decrements: BTreeMap<&str, f64> = BTreeMap::new();
    for child in children {
        let Some(parent_id) = child.str("parentExecutionDocId") else {
            continue;
        };
        if child.bool("isFinalizeOfParent") == Some(true) {
            continue;
        }
        if child.bool("isOnlyChildOfParent") == Some(true) {
            if !only_child_parents.contains(&parent_id) {
                only_child_parents.push(parent_id);
            }
        } else {
            *decrements.entry(parent_id).or_default() += 1.0;
        }
    }
    for parent_id in only_child_parents {
        let Some(parent) = tx.execution_by_id(parent_id)? else {
            return Err(FunctionError::Thrown(format!(
                "Update on nonexistent document ID {parent_id}"
            )));
        };
        // A plain `db.patch(id, {acc: 0, updatedAt})`: an `updatedAt` of `undefined` removes
        // the field, which the schema check then refuses.
        let mut fields = parent.fields.clone();
        fields.insert("acc".to_string(), Value::Float64(0.0));
        match &updated_at {
            Some(t) => fields.insert("updatedAt".to_string(), t.clone()),
            None => fields.remove("updatedAt"),
        };
        if !matches!(updated_at, Some(Value::Float64(_))) {
            check_against_schema(&fields)?;
        }
        tx.replace_execution(&parent, &fields)?;
    }
    for (parent_id, count) in decrements {
        if let Some(parent) = tx.execution_by_id(parent_id)? {
            let acc = Value::Float64(parent.f64("acc").unwrap_or(f64::NAN) - count);
            match &updated_at {
                Some(t @ Value::Float64(_)) => {
                    let mut update = UpdateRequest::setting(value::object([
                        ("acc", acc),
                        ("updatedAt", t.clone()),
                    ]));
                    update_one(tx, &parent, &mut update)?;
                }
                other => {
                    let mut request = value::object([("acc", acc)]);
                    if let Some(t) = other {
                        request.insert("updatedAt".to_string(), t.clone());
                    }
                    raw_update_one(tx, &parent, &mut Some(Value::Object(request)))?;
                }
            }
        }
    }
    Ok(())
}
