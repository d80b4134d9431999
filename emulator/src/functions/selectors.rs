//! The eight locked actions: pick up to `limit` executions from one index range, update each,
//! and return them (as read before the update) or their count. The decrement sweep is one of
//! them; its parent bookkeeping lives in `children.rs`.
//!
//! Upstream declares no argument validators for these (neither the public actions nor the
//! component mutations), so their arguments are read as its JavaScript reads them
//! (`untyped.rs`): the lock key is a template string of whatever was sent, the index range
//! takes the values as they are, `take(limit)` checks its argument, and an update that does not
//! fit the table fails the schema check on write.
//!
//! Each runs under its lock (`locks.rs`), and its selection, updates and result are one
//! transaction, so two callers never select the same execution. Ranges on `updatedAt` compare
//! with the transaction's plain clock (no +50 ms): a row written moments ago is not picked
//! again for about 50 ms.

use crate::functions::children::decrement_parents;
use crate::functions::untyped::{js_add_number, key_field, take_limit, to_js_string};
use crate::functions::update::SelectorUpdate;
use crate::functions::{FunctionError, Operation};
use crate::store::{Document, Index, IndexRange, WriteTx};
use crate::value::{Object, Value};

/// What a locked action answers when its lock is busy, and what it counts or returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    /// The selected documents as read before the update (`[]` when the lock is busy).
    Documents,
    /// How many were selected (`0` when the lock is busy).
    Count,
}

impl Returns {
    /// The answer of a call that found its lock busy.
    pub fn busy_default(self) -> Value {
        match self {
            Returns::Documents => Value::Array(Vec::new()),
            Returns::Count => Value::Float64(0.0),
        }
    }
}

/// Where a locked action looks and how it names its lock.
#[derive(Clone, Copy)]
pub struct Selector {
    /// The argument fields upstream puts in the lock key, after the function's name.
    key_fields: &'static [&'static str],
    index: Index,
    /// Argument fields compared for equality, in index order.
    eq_fields: &'static [&'static str],
    /// `gte(field, 0)` on the next index field (the expiry sweeps skip a missing field).
    from_zero: bool,
    /// The bound `lt(field, x)` on the next index field.
    upper: Upper,
    returns: Returns,
}

/// The upper bound of a selection.
#[derive(Clone, Copy)]
enum Upper {
    /// `lt(field, args[name])`.
    Argument(&'static str),
    /// `lt('updatedAt', Date.now())`, the plain clock: the "stale rows" selectors.
    Now,
    /// `eq('acc', 0)` then `lt('updatedAt', Date.now())`.
    AccZeroThenNow,
}

/// `updateByStatusAndStartAtLessThanAndReturn`: claim ready executions whose start is due.
pub const BY_START_AT: Selector = Selector {
    key_fields: &["shard", "status"],
    index: Index::ShardStatusStartAt,
    eq_fields: &["shard", "status"],
    from_zero: false,
    upper: Upper::Argument("startAtLessThan"),
    returns: Returns::Documents,
};

/// `updateByStatusAndOCFPStatusAndACCZeroAndReturn`: parents whose children have all finished.
pub const BY_OCFP_STATUS_ACC_ZERO: Selector = Selector {
    key_fields: &["shard", "status", "ocfpStatus"],
    index: Index::ShardStatusOcfpStatusAccUpdatedAt,
    eq_fields: &["shard", "status", "ocfpStatus"],
    from_zero: false,
    upper: Upper::AccZeroThenNow,
    returns: Returns::Documents,
};

/// `updateByCloseStatusAndReturn`: executions ready to close.
pub const BY_CLOSE_STATUS: Selector = Selector {
    key_fields: &["shard", "closeStatus"],
    index: Index::ShardCloseStatusUpdatedAt,
    eq_fields: &["shard", "closeStatus"],
    from_zero: false,
    upper: Upper::Now,
    returns: Returns::Documents,
};

/// `updateByStatusAndIsSleepingTaskAndExpiresAtLessThan`: the expiry sweep of running tasks.
pub const BY_EXPIRES_AT: Selector = Selector {
    key_fields: &["status", "isSleepingTask"],
    index: Index::StatusIsSleepingTaskExpiresAt,
    eq_fields: &["status", "isSleepingTask"],
    from_zero: true,
    upper: Upper::Argument("expiresAtLessThan"),
    returns: Returns::Count,
};

/// `updateByOCFPExpiresAt`: the expiry sweep of children-finished processing.
pub const BY_OCFP_EXPIRES_AT: Selector = Selector {
    key_fields: &[],
    index: Index::OcfpExpiresAt,
    eq_fields: &[],
    from_zero: true,
    upper: Upper::Argument("ocfpExpiresAtLessThan"),
    returns: Returns::Count,
};

/// `updateByCloseExpiresAt`: the expiry sweep of closing.
pub const BY_CLOSE_EXPIRES_AT: Selector = Selector {
    key_fields: &[],
    index: Index::CloseExpiresAt,
    eq_fields: &[],
    from_zero: true,
    upper: Upper::Argument("closeExpiresAtLessThan"),
    returns: Returns::Count,
};

/// `updateByExecutorIdAndNPCAndReturn`: an executor's executions that need their promise
/// cancelled.
pub const BY_EXECUTOR_ID_NPC: Selector = Selector {
    key_fields: &["shard", "executorId", "npc"],
    index: Index::ShardExecutorIdNpcUpdatedAt,
    eq_fields: &["shard", "executorId", "npc"],
    from_zero: false,
    upper: Upper::Now,
    returns: Returns::Documents,
};

/// `updateAndDecrementParentACCByIsFinishedAndCloseStatus`: the decrement sweep.
pub const DECREMENT_SWEEP: Selector = Selector {
    key_fields: &["shard", "isFinished", "closeStatus"],
    index: Index::ShardIsFinishedCloseStatusUpdatedAt,
    eq_fields: &["shard", "isFinished", "closeStatus"],
    from_zero: false,
    upper: Upper::Now,
    returns: Returns::Count,
};

impl Selector {
    /// Whether the lock key reads fields of the inner `args` (all but the two expiry sweeps,
    /// whose keys are their names alone).
    pub fn key_reads_args(&self) -> bool {
        !self.key_fields.is_empty()
    }

    /// What the action answers when its lock is busy.
    pub fn busy_default(&self) -> Value {
        self.returns.busy_default()
    }

    /// The lock key upstream builds from the call's inner `args`, before anything else
    /// happens: `` `${name}_${args.args.shard}_${args.args.status}` ``. Reading a field of
    /// missing or `null` inner args is JavaScript's TypeError, thrown before the lock is taken.
    pub fn lock_key(
        &self,
        function: Operation,
        inner: Option<&Value>,
    ) -> Result<String, FunctionError> {
        let mut key = function.name().to_string();
        for name in self.key_fields {
            key.push('_');
            key.push_str(&to_js_string(key_field(inner, name)?));
        }
        Ok(key)
    }

    /// The component mutation of the locked `function`, run as one transaction by the caller.
    pub fn run(
        &self,
        tx: &mut WriteTx<'_>,
        function: Operation,
        args: &Object,
    ) -> Result<Value, FunctionError> {
        let selector = self;
        let mut eq: Vec<Option<Value>> = selector
            .eq_fields
            .iter()
            .map(|name| args.get(*name).cloned())
            .collect();
        let now = Value::Float64(tx.now_ms() as f64);
        let upper = match selector.upper {
            Upper::Argument(name) => args.get(name).cloned(),
            Upper::Now => Some(now),
            Upper::AccZeroThenNow => {
                eq.push(Some(Value::Float64(0.0)));
                Some(now)
            }
        };
        // `take(limit)` checks its argument before the query reads anything.
        let limit = take_limit(args.get("limit"))?;
        let docs = match upper {
            // `lt(field, undefined)`: nothing sorts below a missing value.
            None => Vec::new(),
            Some(upper) => {
                let range = IndexRange {
                    index: selector.index,
                    eq,
                    gte: selector.from_zero.then_some(Value::Float64(0.0)),
                    lt: Some(upper),
                };
                tx.executions_in_range(&range, Some(limit))?
            }
        };
        if docs.is_empty() {
            return Ok(selector.returns.busy_default());
        }
        let mut update = SelectorUpdate::from_argument(args.get("update"));
        match function {
            Operation::UpdateByStatusAndStartAtLessThanAndReturn => {
                let base = args.get("updateExpiresAtWithStartedAt");
                for doc in &docs {
                    let timeout_ms = doc.f64("timeoutMs").unwrap_or(f64::NAN);
                    let expires_at = js_add_number(base, timeout_ms)?;
                    update.apply_spread_with(tx, doc, "expiresAt", expires_at)?;
                }
            }
            _ => {
                for doc in &docs {
                    // Clamps `update` in place, as upstream's helper does; the decrement sweep
                    // hands its clamped `updatedAt` to the parents.
                    update.apply(tx, doc)?;
                }
            }
        }
        if function == Operation::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus {
            decrement_parents(tx, &docs, update.updated_at())?;
        }
        Ok(match selector.returns {
            Returns::Documents => {
                Value::Array(docs.into_iter().map(Document::into_value).collect())
            }
            Returns::Count => Value::Float64(docs.len() as f64),
        })
    }
}
