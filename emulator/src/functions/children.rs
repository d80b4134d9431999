//! Children of a parent execution, and the sweep that closes children and decrements their
//! parents' active-children count (`acc`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::functions::args;
use crate::functions::js::number_to_string as js;
use crate::functions::locks::{with_lock, Locks};
use crate::functions::schema::{boolean, close_status, number, string, update_request};
use crate::functions::update::{update_one, UpdateRequest};
use crate::functions::validator::{array, object, required, Validator};
use crate::functions::{Args, FunctionError};
use crate::store::{Document, Index, IndexRange, Store, WriteTx};
use crate::value::{self, Value};

/// `{requests: v.array({parentExecutionId})}`.
pub static GET_CHILDREN_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([required(
        "requests",
        array(object([required("parentExecutionId", string())])),
    )])
});

/// `{requests: v.array({parentExecutionId, isFinished, update})}`.
pub static UPDATE_CHILDREN_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([required(
        "requests",
        array(object([
            required("parentExecutionId", string()),
            required("isFinished", boolean()),
            required("update", update_request()),
        ])),
    )])
});

/// `{shard, isFinished, closeStatus, update, limit}`.
pub static DECREMENT_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("shard", number()),
        required("isFinished", boolean()),
        required("closeStatus", close_status()),
        required("update", update_request()),
        required("limit", number()),
    ])
});

/// Every child of each parent, unfinished first, then oldest first.
pub async fn get_many_by_parent(store: &Store, mut args: Args) -> Result<Value, FunctionError> {
    let parents: Vec<String> = args::take_array(&mut args, "requests")
        .into_iter()
        .map(|r| args::string(&args::into_object(r), "parentExecutionId").to_string())
        .collect();
    store
        .read(move |tx| {
            let mut results = Vec::with_capacity(parents.len());
            for parent in parents {
                let range = IndexRange::eq(Index::ParentExecutionIdIsFinished, vec![parent.into()]);
                let children = tx.executions_in_range(&range, None)?;
                results.push(Value::Array(
                    children.into_iter().map(Document::into_value).collect(),
                ));
            }
            Ok(Value::Array(results))
        })
        .await
}

/// One atomic mutation: every child with that parent and `isFinished` gets the update.
pub async fn update_many_by_parent_and_is_finished(
    store: &Store,
    mut args: Args,
) -> Result<Value, FunctionError> {
    let requests: Vec<(String, bool, UpdateRequest)> = args::take_array(&mut args, "requests")
        .into_iter()
        .map(|r| {
            let r = args::into_object(r);
            (
                args::string(&r, "parentExecutionId").to_string(),
                args::boolean(&r, "isFinished"),
                UpdateRequest::from_validated(&r["update"]),
            )
        })
        .collect();
    store
        .write(move |tx| {
            for (parent, is_finished, mut update) in requests {
                let range = IndexRange::eq(
                    Index::ParentExecutionIdIsFinished,
                    vec![parent.into(), is_finished.into()],
                );
                for child in tx.executions_in_range(&range, None)? {
                    update_one(tx, &child, &mut update)?;
                }
            }
            Ok(Value::Null)
        })
        .await
}

/// `updateAndDecrementParentACCByIsFinishedAndCloseStatus`, locked: select up to `limit`
/// children by (shard, isFinished, closeStatus, updatedAt < clock), update each, then fix their
/// parents' `acc` (see [`decrement_parents`]). Returns how many were selected.
pub async fn update_and_decrement_parent_acc(
    store: &Store,
    locks: &Locks,
    args: Args,
) -> Result<Value, FunctionError> {
    let shard = args::number(&args, "shard");
    let is_finished = args::boolean(&args, "isFinished");
    let close_status = args::string(&args, "closeStatus").to_string();
    let key = format!(
        "updateAndDecrementParentACCByIsFinishedAndCloseStatus_{}_{is_finished}_{close_status}",
        js(shard)
    );
    let mut update = UpdateRequest::from_validated(&args["update"]);
    let limit = args::limit(&args);
    with_lock(store, locks, key, Value::Float64(0.0), move |tx| {
        let limit = limit?;
        let range = IndexRange {
            index: Index::ShardIsFinishedCloseStatusUpdatedAt,
            eq: vec![shard.into(), is_finished.into(), close_status.into()],
            gte: None,
            lt: Some(Value::Float64(tx.now_ms() as f64)),
        };
        let docs = tx.executions_in_range(&range, Some(limit))?;
        for doc in &docs {
            // Clamps `update` in place, as upstream's helper does; its clamped `updatedAt`
            // is what the parents get below.
            update_one(tx, doc, &mut update)?;
        }
        decrement_parents(tx, &docs, update.updated_at())?;
        Ok(Value::Float64(docs.len() as f64))
    })
    .await
}

/// For the selected children that have a parent and are not its finalize child: a parent of
/// an only child gets `acc = 0` (and `updatedAt`), set first in order of appearance; every
/// other parent gets `acc - (its number of such children)` as a clamped update, in ascending
/// order of the parent's `_id`. Parents that no longer exist are skipped.
fn decrement_parents(
    tx: &WriteTx<'_>,
    children: &[Document],
    updated_at: Value,
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
        if let Some(parent) = tx.execution_by_id(parent_id)? {
            let mut fields = parent.fields.clone();
            fields.insert("acc".to_string(), Value::Float64(0.0));
            fields.insert("updatedAt".to_string(), updated_at.clone());
            tx.replace_execution(&parent, &fields)?;
        }
    }
    for (parent_id, count) in decrements {
        if let Some(parent) = tx.execution_by_id(parent_id)? {
            let acc = parent.f64("acc").unwrap_or(f64::NAN) - count;
            let mut update = UpdateRequest::setting(value::object([
                ("acc", Value::Float64(acc)),
                ("updatedAt", updated_at.clone()),
            ]));
            update_one(tx, &parent, &mut update)?;
        }
    }
    Ok(())
}
