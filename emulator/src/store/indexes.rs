//! The indexes of `taskExecutions` that range queries use, and how a range becomes SQL bounds.
//!
//! Each index is one BLOB column holding [`sort_key`] encodings of the declared fields followed
//! by `_creationTime`, with an ordinary SQLite index on it. The `_id` tie-breaker of Convex is
//! not stored: this store hands out strictly increasing creation times, so two documents never
//! tie on `_creationTime` and `_id` would never decide.
//!
//! `by_executionId` and `by_sleepingTaskUniqueId` are plain TEXT columns instead (point
//! lookups), and `by_creation_time` is the table's row order.

use crate::store::sort_key::{self, AFTER_ALL};
use crate::value::{Object, Value};

/// A range index of `taskExecutions` (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    ShardStatusStartAt,
    ShardStatusOcfpStatusAccUpdatedAt,
    ShardCloseStatusUpdatedAt,
    StatusIsSleepingTaskExpiresAt,
    OcfpExpiresAt,
    CloseExpiresAt,
    ShardExecutorIdNpcUpdatedAt,
    ParentExecutionIdIsFinished,
    ShardIsFinishedCloseStatusUpdatedAt,
}

impl Index {
    /// Every range index, in the order of their key columns.
    pub const ALL: [Index; 9] = [
        Index::ShardStatusStartAt,
        Index::ShardStatusOcfpStatusAccUpdatedAt,
        Index::ShardCloseStatusUpdatedAt,
        Index::StatusIsSleepingTaskExpiresAt,
        Index::OcfpExpiresAt,
        Index::CloseExpiresAt,
        Index::ShardExecutorIdNpcUpdatedAt,
        Index::ParentExecutionIdIsFinished,
        Index::ShardIsFinishedCloseStatusUpdatedAt,
    ];

    /// The declared fields, in index order.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Index::ShardStatusStartAt => &["shard", "status", "startAt"],
            Index::ShardStatusOcfpStatusAccUpdatedAt => {
                &["shard", "status", "ocfpStatus", "acc", "updatedAt"]
            }
            Index::ShardCloseStatusUpdatedAt => &["shard", "closeStatus", "updatedAt"],
            Index::StatusIsSleepingTaskExpiresAt => &["status", "isSleepingTask", "expiresAt"],
            Index::OcfpExpiresAt => &["ocfpExpiresAt"],
            Index::CloseExpiresAt => &["closeExpiresAt"],
            Index::ShardExecutorIdNpcUpdatedAt => &["shard", "executorId", "npc", "updatedAt"],
            Index::ParentExecutionIdIsFinished => &["parentExecutionId", "isFinished"],
            Index::ShardIsFinishedCloseStatusUpdatedAt => {
                &["shard", "isFinished", "closeStatus", "updatedAt"]
            }
        }
    }

    /// The SQL column holding this index's keys.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Index::ShardStatusStartAt => "k_shard_status_start_at",
            Index::ShardStatusOcfpStatusAccUpdatedAt => "k_shard_status_ocfp_status_acc_updated_at",
            Index::ShardCloseStatusUpdatedAt => "k_shard_close_status_updated_at",
            Index::StatusIsSleepingTaskExpiresAt => "k_status_is_sleeping_task_expires_at",
            Index::OcfpExpiresAt => "k_ocfp_expires_at",
            Index::CloseExpiresAt => "k_close_expires_at",
            Index::ShardExecutorIdNpcUpdatedAt => "k_shard_executor_id_npc_updated_at",
            Index::ParentExecutionIdIsFinished => "k_parent_execution_id_is_finished",
            Index::ShardIsFinishedCloseStatusUpdatedAt => {
                "k_shard_is_finished_close_status_updated_at"
            }
        }
    }

    /// The key of a document in this index.
    pub(crate) fn key(self, fields: &Object, creation_time: f64) -> Vec<u8> {
        let mut key = Vec::with_capacity(64);
        self.key_into(&mut key, fields, creation_time);
        key
    }

    /// Appends [`Index::key`] to `out`.
    pub(crate) fn key_into(self, out: &mut Vec<u8>, fields: &Object, creation_time: f64) {
        for name in self.fields() {
            sort_key::encode_into(out, fields.get(*name));
        }
        sort_key::encode_into(out, Some(&Value::Float64(creation_time)));
    }
}

/// A Convex index range: equalities on a prefix of the fields, then optionally
/// `gte(lower)` and/or `lt(upper)` on the next field. Results come back in ascending order.
#[derive(Debug, Clone)]
pub struct IndexRange {
    pub index: Index,
    /// The equalities, in index order; `None` is JavaScript's `undefined`, which matches a
    /// document without the field (it sorts before every value).
    pub eq: Vec<Option<Value>>,
    pub gte: Option<Value>,
    pub lt: Option<Value>,
}

impl IndexRange {
    /// Only the equalities: every document whose first fields equal `eq`.
    pub fn eq(index: Index, eq: Vec<Value>) -> Self {
        Self {
            index,
            eq: eq.into_iter().map(Some).collect(),
            gte: None,
            lt: None,
        }
    }

    /// `[lower, upper)` as byte strings for `WHERE key >= lower AND key < upper`.
    pub(crate) fn bounds(&self) -> (Vec<u8>, Vec<u8>) {
        let bounded = usize::from(self.gte.is_some() || self.lt.is_some());
        assert!(
            self.eq.len() + bounded <= self.index.fields().len(),
            "range on {:?} names more fields than the index has",
            self.index
        );
        let mut prefix = Vec::with_capacity(64);
        for value in &self.eq {
            sort_key::encode_into(&mut prefix, value.as_ref());
        }
        let mut lower = prefix.clone();
        if let Some(value) = &self.gte {
            sort_key::encode_into(&mut lower, Some(value));
        }
        let mut upper = prefix;
        match &self.lt {
            Some(value) => sort_key::encode_into(&mut upper, Some(value)),
            None => upper.push(AFTER_ALL),
        }
        (lower, upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    fn in_range(range: &IndexRange, fields: &Object) -> bool {
        let (lower, upper) = range.bounds();
        let key = range.index.key(fields, 1.0);
        lower <= key && key < upper
    }

    #[test]
    fn lt_range_spans_missing_but_gte_zero_skips_it() {
        let with = object([
            ("status", "running".into()),
            ("isSleepingTask", false.into()),
            ("expiresAt", 5.0.into()),
        ]);
        let without = object([
            ("status", "running".into()),
            ("isSleepingTask", false.into()),
        ]);
        let plain = IndexRange {
            index: Index::StatusIsSleepingTaskExpiresAt,
            eq: vec![Some("running".into()), Some(false.into())],
            gte: None,
            lt: Some(10.0.into()),
        };
        assert!(in_range(&plain, &with));
        assert!(
            in_range(&plain, &without),
            "missing sorts before every value"
        );
        let from_zero = IndexRange {
            gte: Some(0.0.into()),
            ..plain.clone()
        };
        assert!(in_range(&from_zero, &with));
        assert!(!in_range(&from_zero, &without));
        let below_five = IndexRange {
            lt: Some(5.0.into()),
            ..from_zero
        };
        assert!(!in_range(&below_five, &with), "lt is exclusive");
    }

    #[test]
    fn eq_range_matches_exactly_the_prefix() {
        let child = |parent: &str, finished: bool| {
            object([
                ("parentExecutionId", parent.into()),
                ("isFinished", finished.into()),
            ])
        };
        let range = IndexRange::eq(Index::ParentExecutionIdIsFinished, vec!["p".into()]);
        assert!(in_range(&range, &child("p", true)));
        assert!(in_range(&range, &child("p", false)));
        assert!(!in_range(&range, &child("p2", false)));
        assert!(!in_range(&range, &child("", false)));
        let finished = IndexRange::eq(range.index, vec!["p".into(), true.into()]);
        assert!(in_range(&finished, &child("p", true)));
        assert!(!in_range(&finished, &child("p", false)));
    }

    #[test]
    fn unfinished_children_sort_first() {
        let index = Index::ParentExecutionIdIsFinished;
        let finished_old = index.key(
            &object([
                ("parentExecutionId", "p".into()),
                ("isFinished", true.into()),
            ]),
            1.0,
        );
        let unfinished_new = index.key(
            &object([
                ("parentExecutionId", "p".into()),
                ("isFinished", false.into()),
            ]),
            9.0,
        );
        assert!(unfinished_new < finished_old);
    }
}
