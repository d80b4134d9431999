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
use crate::functions::{Args, Function, FunctionError};
use crate::store::{Document, Index, IndexRange, WriteTx};
use crate::value::Value;

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

/// The selector of a locked function; `None` for the other nine.
pub fn selector(function: Function) -> Option<Selector> {
    use Function as F;
    let s = |key_fields, index, eq_fields, from_zero, upper, returns| Selector {
        key_fields,
        index,
        eq_fields,
        from_zero,
        upper,
        returns,
    };
    Some(match function {
        F::UpdateByStatusAndStartAtLessThanAndReturn => s(
            &["shard", "status"],
            Index::ShardStatusStartAt,
            &["shard", "status"],
            false,
            Upper::Argument("startAtLessThan"),
            Returns::Documents,
        ),
        F::UpdateByStatusAndOcfpStatusAndAccZeroAndReturn => s(
            &["shard", "status", "ocfpStatus"],
            Index::ShardStatusOcfpStatusAccUpdatedAt,
            &["shard", "status", "ocfpStatus"],
            false,
            Upper::AccZeroThenNow,
            Returns::Documents,
        ),
        F::UpdateByCloseStatusAndReturn => s(
            &["shard", "closeStatus"],
            Index::ShardCloseStatusUpdatedAt,
            &["shard", "closeStatus"],
            false,
            Upper::Now,
            Returns::Documents,
        ),
        F::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan => s(
            &["status", "isSleepingTask"],
            Index::StatusIsSleepingTaskExpiresAt,
            &["status", "isSleepingTask"],
            true,
            Upper::Argument("expiresAtLessThan"),
            Returns::Count,
        ),
        F::UpdateByOcfpExpiresAt => s(
            &[],
            Index::OcfpExpiresAt,
            &[],
            true,
            Upper::Argument("ocfpExpiresAtLessThan"),
            Returns::Count,
        ),
        F::UpdateByCloseExpiresAt => s(
            &[],
            Index::CloseExpiresAt,
            &[],
            true,
            Upper::Argument("closeExpiresAtLessThan"),
            Returns::Count,
        ),
        F::UpdateByExecutorIdAndNpcAndReturn => s(
            &["shard", "executorId", "npc"],
            Index::ShardExecutorIdNpcUpdatedAt,
            &["shard", "executorId", "npc"],
            false,
            Upper::Now,
            Returns::Documents,
        ),
        F::UpdateAndDecrementParentAccByIsFinishedAndCloseStatus => s(
            &["shard", "isFinished", "closeStatus"],
            Index::ShardIsFinishedCloseStatusUpdatedAt,
            &["shard", "isFinished", "closeStatus"],
            false,
            Upper::Now,
            Returns::Count,
        ),
        _ => return None,
    })
}

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
        function: Function,
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
        function: Function,
        args: &Args,
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
            Function::UpdateByStatusAndStartAtLessThanAndReturn => {
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
        if function == Function::UpdateAndDecrementParentAccByIsFinishedAndCloseStatus {
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
