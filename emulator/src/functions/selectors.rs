//! The locked selectors: pick up to `limit` executions from one index range, update each, and
//! return them (as read before the update) or their count.
//!
//! Each runs under its lock (`locks`), and its selection, updates and result are one
//! transaction, so two callers never select the same execution. Ranges on `updatedAt` compare
//! with the transaction's plain clock (no +50 ms): a row written moments ago is not picked
//! again for about 50 ms.

use std::sync::LazyLock;

use crate::functions::args;
use crate::functions::js::number_to_string as js;
use crate::functions::locks::{with_lock, Locks};
use crate::functions::schema::{
    boolean, close_status, number, ocfp_status, status, string, update_request,
};
use crate::functions::update::{update_one, UpdateRequest};
use crate::functions::validator::{object, required, Validator};
use crate::functions::{Args, FunctionError};
use crate::store::{Document, Index, IndexRange, Store, WriteTx};
use crate::value::Value;

/// `{shard, status, startAtLessThan, update, updateExpiresAtWithStartedAt, limit}`.
pub static START_AT_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("shard", number()),
        required("status", status()),
        required("startAtLessThan", number()),
        required("update", update_request()),
        required("updateExpiresAtWithStartedAt", number()),
        required("limit", number()),
    ])
});

/// `{shard, status, ocfpStatus, update, limit}`.
pub static OCFP_ACC_ZERO_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("shard", number()),
        required("status", status()),
        required("ocfpStatus", ocfp_status()),
        required("update", update_request()),
        required("limit", number()),
    ])
});

/// `{shard, closeStatus, update, limit}`.
pub static CLOSE_STATUS_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("shard", number()),
        required("closeStatus", close_status()),
        required("update", update_request()),
        required("limit", number()),
    ])
});

/// `{status, isSleepingTask, expiresAtLessThan, update, limit}`.
pub static EXPIRES_AT_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("status", status()),
        required("isSleepingTask", boolean()),
        required("expiresAtLessThan", number()),
        required("update", update_request()),
        required("limit", number()),
    ])
});

/// `{ocfpExpiresAtLessThan, update, limit}`.
pub static OCFP_EXPIRES_AT_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("ocfpExpiresAtLessThan", number()),
        required("update", update_request()),
        required("limit", number()),
    ])
});

/// `{closeExpiresAtLessThan, update, limit}`.
pub static CLOSE_EXPIRES_AT_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("closeExpiresAtLessThan", number()),
        required("update", update_request()),
        required("limit", number()),
    ])
});

/// `{shard, executorId, npc, update, limit}`.
pub static EXECUTOR_NPC_ARGS: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("shard", number()),
        required("executorId", string()),
        required("npc", boolean()),
        required("update", update_request()),
        required("limit", number()),
    ])
});

/// What a selector answers.
#[derive(Clone, Copy)]
enum Returns {
    /// The selected documents as read before the update (`[]` when the lock is busy).
    Documents,
    /// How many were selected (`0` when the lock is busy).
    Count,
}

/// Where a selector looks; `updated_before_now` appends `lt(updatedAt, Date.now())`.
struct Selection {
    index: Index,
    eq: Vec<Value>,
    from_zero: bool,
    lt: Option<f64>,
    updated_before_now: bool,
}

impl Selection {
    fn range(self, tx: &WriteTx<'_>) -> IndexRange {
        let lt = if self.updated_before_now {
            Some(tx.now_ms() as f64)
        } else {
            self.lt
        };
        IndexRange {
            index: self.index,
            eq: self.eq,
            gte: self.from_zero.then_some(Value::Float64(0.0)),
            lt: lt.map(Value::Float64),
        }
    }
}

/// Takes the lock, then selects and updates in one transaction.
async fn run(
    store: &Store,
    locks: &Locks,
    key: String,
    returns: Returns,
    selection: Selection,
    args: &Args,
    per_document: impl Fn(&Document, &UpdateRequest) -> UpdateRequest + Send + 'static,
) -> Result<Value, FunctionError> {
    let update = UpdateRequest::from_validated(&args["update"]);
    let limit = args::limit(args);
    let default = match returns {
        Returns::Documents => Value::Array(Vec::new()),
        Returns::Count => Value::Float64(0.0),
    };
    with_lock(store, locks, key, default, move |tx| {
        let limit = limit?;
        let range = selection.range(tx);
        let docs = tx.executions_in_range(&range, Some(limit))?;
        for doc in &docs {
            let mut update = per_document(doc, &update);
            update_one(tx, doc, &mut update)?;
        }
        Ok(match returns {
            Returns::Documents => {
                Value::Array(docs.into_iter().map(Document::into_value).collect())
            }
            Returns::Count => Value::Float64(docs.len() as f64),
        })
    })
    .await
}

fn same(_: &Document, update: &UpdateRequest) -> UpdateRequest {
    update.clone()
}

/// `updateByStatusAndStartAtLessThanAndReturn`: the claim. Each selected execution also gets
/// `expiresAt = updateExpiresAtWithStartedAt + its timeoutMs`.
pub async fn by_status_and_start_at(
    store: &Store,
    locks: &Locks,
    args: Args,
) -> Result<Value, FunctionError> {
    let shard = args::number(&args, "shard");
    let status = args::string(&args, "status").to_string();
    let key = format!(
        "updateByStatusAndStartAtLessThanAndReturn_{}_{status}",
        js(shard)
    );
    let base = args::number(&args, "updateExpiresAtWithStartedAt");
    let selection = Selection {
        index: Index::ShardStatusStartAt,
        eq: vec![shard.into(), status.into()],
        from_zero: false,
        lt: Some(args::number(&args, "startAtLessThan")),
        updated_before_now: false,
    };
    run(
        store,
        locks,
        key,
        Returns::Documents,
        selection,
        &args,
        move |doc, update| {
            let timeout_ms = doc.f64("timeoutMs").unwrap_or(f64::NAN);
            update
                .clone()
                .with("expiresAt", Value::Float64(base + timeout_ms))
        },
    )
    .await
}

/// `updateByStatusAndOCFPStatusAndACCZeroAndReturn`.
pub async fn by_status_and_ocfp_status_and_acc_zero(
    store: &Store,
    locks: &Locks,
    args: Args,
) -> Result<Value, FunctionError> {
    let shard = args::number(&args, "shard");
    let status = args::string(&args, "status").to_string();
    let ocfp_status = args::string(&args, "ocfpStatus").to_string();
    let key = format!(
        "updateByStatusAndOCFPStatusAndACCZeroAndReturn_{}_{status}_{ocfp_status}",
        js(shard)
    );
    let selection = Selection {
        index: Index::ShardStatusOcfpStatusAccUpdatedAt,
        eq: vec![shard.into(), status.into(), ocfp_status.into(), 0.0.into()],
        from_zero: false,
        lt: None,
        updated_before_now: true,
    };
    run(
        store,
        locks,
        key,
        Returns::Documents,
        selection,
        &args,
        same,
    )
    .await
}

/// `updateByCloseStatusAndReturn`.
pub async fn by_close_status(
    store: &Store,
    locks: &Locks,
    args: Args,
) -> Result<Value, FunctionError> {
    let shard = args::number(&args, "shard");
    let close_status = args::string(&args, "closeStatus").to_string();
    let key = format!("updateByCloseStatusAndReturn_{}_{close_status}", js(shard));
    let selection = Selection {
        index: Index::ShardCloseStatusUpdatedAt,
        eq: vec![shard.into(), close_status.into()],
        from_zero: false,
        lt: None,
        updated_before_now: true,
    };
    run(
        store,
        locks,
        key,
        Returns::Documents,
        selection,
        &args,
        same,
    )
    .await
}

/// `updateByStatusAndIsSleepingTaskAndExpiresAtLessThan`: `0 <= expiresAt < x`.
pub async fn by_status_and_is_sleeping_task_and_expires_at(
    store: &Store,
    locks: &Locks,
    args: Args,
) -> Result<Value, FunctionError> {
    let status = args::string(&args, "status").to_string();
    let is_sleeping_task = args::boolean(&args, "isSleepingTask");
    let key =
        format!("updateByStatusAndIsSleepingTaskAndExpiresAtLessThan_{status}_{is_sleeping_task}");
    let selection = Selection {
        index: Index::StatusIsSleepingTaskExpiresAt,
        eq: vec![status.into(), is_sleeping_task.into()],
        from_zero: true,
        lt: Some(args::number(&args, "expiresAtLessThan")),
        updated_before_now: false,
    };
    run(store, locks, key, Returns::Count, selection, &args, same).await
}

/// `updateByOCFPExpiresAt`: `0 <= ocfpExpiresAt < x`.
pub async fn by_ocfp_expires_at(
    store: &Store,
    locks: &Locks,
    args: Args,
) -> Result<Value, FunctionError> {
    let selection = Selection {
        index: Index::OcfpExpiresAt,
        eq: Vec::new(),
        from_zero: true,
        lt: Some(args::number(&args, "ocfpExpiresAtLessThan")),
        updated_before_now: false,
    };
    let key = "updateByOCFPExpiresAt".to_string();
    run(store, locks, key, Returns::Count, selection, &args, same).await
}

/// `updateByCloseExpiresAt`: `0 <= closeExpiresAt < x`.
pub async fn by_close_expires_at(
    store: &Store,
    locks: &Locks,
    args: Args,
) -> Result<Value, FunctionError> {
    let selection = Selection {
        index: Index::CloseExpiresAt,
        eq: Vec::new(),
        from_zero: true,
        lt: Some(args::number(&args, "closeExpiresAtLessThan")),
        updated_before_now: false,
    };
    let key = "updateByCloseExpiresAt".to_string();
    run(store, locks, key, Returns::Count, selection, &args, same).await
}

/// `updateByExecutorIdAndNPCAndReturn`.
pub async fn by_executor_id_and_npc(
    store: &Store,
    locks: &Locks,
    args: Args,
) -> Result<Value, FunctionError> {
    let shard = args::number(&args, "shard");
    let executor_id = args::string(&args, "executorId").to_string();
    let npc = args::boolean(&args, "npc");
    let key = format!(
        "updateByExecutorIdAndNPCAndReturn_{}_{executor_id}_{npc}",
        js(shard)
    );
    let selection = Selection {
        index: Index::ShardExecutorIdNpcUpdatedAt,
        eq: vec![shard.into(), executor_id.into(), npc.into()],
        from_zero: false,
        lt: None,
        updated_before_now: true,
    };
    run(
        store,
        locks,
        key,
        Returns::Documents,
        selection,
        &args,
        same,
    )
    .await
}
