//! `GET /_emulator/api/executions`: a filtered list of executions, one page at a time.
//!
//! The filters pick an index whose leading fields they fix (status → `by_shard_status_startAt`,
//! isFinished → `by_shard_isFinished_closeStatus_updatedAt`, ...), one range per shard when no
//! shard is given; the page walks those ranges in order from the cursor. Every filter is also
//! checked on each row, so one the index cannot serve (`taskId`) narrows the page without
//! widening the walk beyond `INSPECTOR_SCAN_ROWS_MAX` rows; the answer then carries a cursor to
//! go on from. With no filter the list is the newest executions first (`by_creation_time`).
//! `q` finds one execution by executionId, sleepingTaskUniqueId or `_id` instead.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use crate::error::Error;
use crate::http::control::ControlError;
use crate::http::AppState;
use crate::limits::{
    INSPECTOR_DISTINCT_VALUES_MAX, INSPECTOR_PAGE_ROWS_DEFAULT, INSPECTOR_PAGE_ROWS_MAX,
    INSPECTOR_SCAN_ROWS_MAX,
};
use crate::store::{Document, Index, IndexRange, ReadTx};
use crate::value::Value;

use super::{fresh_json, summary};

/// The query string. Every filter is optional; together they must all hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filters {
    shard: Option<f64>,
    status: Option<String>,
    task_id: Option<String>,
    is_finished: Option<bool>,
    close_status: Option<String>,
    ocfp_status: Option<String>,
    /// `startAt < this` (with a status: a bound of the index range).
    start_at_before: Option<f64>,
    /// `0 <= expiresAt < this`.
    expires_at_before: Option<f64>,
    /// `acc > 0` when true, `acc` missing or `<= 0` when false.
    active_children: Option<bool>,
    /// Find by executionId, sleepingTaskUniqueId or `_id`; the other filters are ignored.
    q: Option<String>,
    /// Where the previous page stopped, as that page's `nextCursor` said.
    cursor: Option<String>,
    /// Executions per page.
    limit: Option<usize>,
}

pub async fn executions(
    State(state): State<Arc<AppState>>,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, ControlError> {
    let Query(filters) = filters.map_err(|e| ControlError::BadRequest(e.body_text()))?;
    let limit = filters.limit.unwrap_or(INSPECTOR_PAGE_ROWS_DEFAULT);
    if limit == 0 || limit > INSPECTOR_PAGE_ROWS_MAX {
        return Err(ControlError::BadRequest(format!(
            "limit must be between 1 and {INSPECTOR_PAGE_ROWS_MAX}"
        )));
    }
    let cursor = match &filters.cursor {
        Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
            ControlError::BadRequest(format!("{text} is not a cursor this endpoint handed out"))
        })?),
        None => None,
    };
    let store = state.functions.store();
    let body = match filters.q.clone() {
        Some(q) => store.read(move |tx| find(tx, &q)).await?,
        None => {
            store
                .read(move |tx| {
                    let plan = plan(tx, &filters)?;
                    page(tx, &plan, &filters, cursor, limit)
                })
                .await?
        }
    };
    Ok(fresh_json(body))
}

/// The executions whose executionId, sleepingTaskUniqueId or `_id` is `q`.
fn find(tx: &ReadTx<'_>, q: &str) -> Result<Json, Error> {
    let mut found: Vec<Document> = Vec::new();
    for doc in [
        tx.execution_by_execution_id(q)?,
        tx.execution_by_sleeping_task_unique_id(q)?,
        tx.execution_by_id(q)?,
    ]
    .into_iter()
    .flatten()
    {
        if !found.iter().any(|d| d.id == doc.id) {
            found.push(doc);
        }
    }
    Ok(json!({
        "executions": found.iter().map(summary).collect::<Vec<_>>(),
        "nextCursor": null,
        "scanned": found.len(),
        "index": "by_executionId",
    }))
}

/// How a list is read.
#[derive(Debug)]
enum Plan {
    /// Newest first, by creation.
    Newest,
    /// These index ranges, one after the other, each ascending.
    Ranges(Vec<IndexRange>),
}

/// The index ranges that hold every execution the filters can match.
fn plan(tx: &ReadTx<'_>, f: &Filters) -> Result<Plan, Error> {
    let max = INSPECTOR_DISTINCT_VALUES_MAX;
    let values_or_distinct = |given: Option<Value>, index: Index, eq: &[Value]| match given {
        Some(value) => Ok(vec![value]),
        None => tx.distinct_values(index, eq, max),
    };
    let shards = || values_or_distinct(f.shard.map(Value::Float64), Index::ShardStatusStartAt, &[]);
    let status = f.status.as_deref().map(Value::from);
    let mut ranges = Vec::new();
    if let Some(before) = f.expires_at_before {
        let index = Index::StatusIsSleepingTaskExpiresAt;
        for status in values_or_distinct(status, index, &[])? {
            for is_sleeping in tx.distinct_values(index, std::slice::from_ref(&status), max)? {
                ranges.push(IndexRange {
                    index,
                    eq: vec![Some(status.clone()), Some(is_sleeping)],
                    gte: Some(Value::Float64(0.0)),
                    lt: Some(Value::Float64(before)),
                });
            }
        }
    } else if f.active_children == Some(true) || f.ocfp_status.is_some() {
        let index = Index::ShardStatusOcfpStatusAccUpdatedAt;
        for shard in shards()? {
            for status in values_or_distinct(status.clone(), index, std::slice::from_ref(&shard))? {
                let prefix = [shard.clone(), status];
                let ocfp = f.ocfp_status.as_deref().map(Value::from);
                for ocfp_status in values_or_distinct(ocfp, index, &prefix)? {
                    let mut eq = prefix.to_vec();
                    eq.push(ocfp_status);
                    let above_zero = Value::Float64(f64::from_bits(1));
                    ranges.push(IndexRange {
                        index,
                        eq: eq.into_iter().map(Some).collect(),
                        gte: (f.active_children == Some(true)).then_some(above_zero),
                        lt: None,
                    });
                }
            }
        }
    } else if let Some(status) = status {
        for shard in shards()? {
            ranges.push(IndexRange {
                index: Index::ShardStatusStartAt,
                eq: vec![Some(shard), Some(status.clone())],
                gte: None,
                lt: f.start_at_before.map(Value::Float64),
            });
        }
    } else if let Some(is_finished) = f.is_finished {
        for shard in shards()? {
            let mut eq = vec![shard, Value::Boolean(is_finished)];
            eq.extend(f.close_status.as_deref().map(Value::from));
            ranges.push(IndexRange::eq(
                Index::ShardIsFinishedCloseStatusUpdatedAt,
                eq,
            ));
        }
    } else if let Some(close_status) = &f.close_status {
        for shard in shards()? {
            let eq = vec![shard, Value::from(close_status.as_str())];
            ranges.push(IndexRange::eq(Index::ShardCloseStatusUpdatedAt, eq));
        }
    } else if let Some(shard) = f.shard {
        let eq = vec![Value::Float64(shard)];
        ranges.push(IndexRange::eq(Index::ShardStatusStartAt, eq));
    } else {
        return Ok(Plan::Newest);
    }
    Ok(Plan::Ranges(ranges))
}

/// Where a page stopped: after this row of the creation order, or after this key of the
/// `range`-th range of the plan.
#[derive(Debug, Clone, PartialEq)]
enum Cursor {
    Newest { row: i64 },
    Range { range: usize, key: Vec<u8> },
}

impl Cursor {
    fn encode(&self) -> String {
        match self {
            Cursor::Newest { row } => format!("c{row}"),
            Cursor::Range { range, key } => {
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                format!("r{range}-{hex}")
            }
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if let Some(row) = text.strip_prefix('c') {
            return Some(Cursor::Newest {
                row: row.parse().ok()?,
            });
        }
        let (range, hex) = text.strip_prefix('r')?.split_once('-')?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return None;
        }
        let key = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Cursor::Range {
            range: range.parse().ok()?,
            key,
        })
    }
}

/// One page: up to `limit` matching executions after `cursor`, having examined at most
/// `INSPECTOR_SCAN_ROWS_MAX` rows.
fn page(
    tx: &ReadTx<'_>,
    plan: &Plan,
    f: &Filters,
    cursor: Option<Cursor>,
    limit: usize,
) -> Result<Json, Error> {
    let mut found = Vec::new();
    let mut scanned = 0;
    let mut next = None;
    // Rows fetched per query: a page's worth, more when a residual filter rejects rows.
    let chunk = limit.max(100);
    match plan {
        Plan::Newest => {
            let mut before = match cursor {
                Some(Cursor::Newest { row }) => Some(row),
                _ => None,
            };
            'walk: loop {
                let budget = INSPECTOR_SCAN_ROWS_MAX - scanned;
                let docs = tx.newest_executions_before(before, chunk.min(budget))?;
                if docs.is_empty() {
                    break;
                }
                for doc in docs {
                    scanned += 1;
                    before = Some(doc.row);
                    if matches(f, &doc) {
                        found.push(doc);
                    }
                    if found.len() == limit || scanned == INSPECTOR_SCAN_ROWS_MAX {
                        next = before.map(|row| Cursor::Newest { row });
                        break 'walk;
                    }
                }
            }
        }
        Plan::Ranges(ranges) => {
            let (mut range, mut after) = match cursor {
                Some(Cursor::Range { range, key }) => (range, Some(key)),
                _ => (0, None),
            };
            'ranges: while range < ranges.len() {
                let budget = INSPECTOR_SCAN_ROWS_MAX - scanned;
                let rows = tx.executions_in_range_after(
                    &ranges[range],
                    after.as_deref(),
                    chunk.min(budget),
                )?;
                if rows.is_empty() {
                    range += 1;
                    after = None;
                    continue;
                }
                for (key, doc) in rows {
                    scanned += 1;
                    if matches(f, &doc) {
                        found.push(doc);
                    }
                    after = Some(key);
                    if found.len() == limit || scanned == INSPECTOR_SCAN_ROWS_MAX {
                        next = after.take().map(|key| Cursor::Range { range, key });
                        break 'ranges;
                    }
                }
            }
        }
    }
    let index = match plan {
        Plan::Newest => "by_creation_time",
        Plan::Ranges(ranges) => ranges.first().map_or("none", |r| index_name(r.index)),
    };
    Ok(json!({
        "executions": found.iter().map(summary).collect::<Vec<_>>(),
        "nextCursor": next.map(|c| c.encode()),
        "scanned": scanned,
        "index": index,
    }))
}

/// Whether `doc` passes every filter.
fn matches(f: &Filters, doc: &Document) -> bool {
    let same = |name: &str, want: &Option<String>| {
        want.as_deref().is_none_or(|w| doc.str(name) == Some(w))
    };
    let acc_positive = doc.f64("acc").is_some_and(|acc| acc > 0.0);
    f.shard.is_none_or(|s| doc.f64("shard") == Some(s))
        && same("status", &f.status)
        && same("taskId", &f.task_id)
        && same("closeStatus", &f.close_status)
        && same("ocfpStatus", &f.ocfp_status)
        && f.is_finished
            .is_none_or(|b| doc.bool("isFinished") == Some(b))
        && f.start_at_before
            .is_none_or(|t| doc.f64("startAt").is_some_and(|x| x < t))
        && f.expires_at_before
            .is_none_or(|t| doc.f64("expiresAt").is_some_and(|x| (0.0..t).contains(&x)))
        && f.active_children.is_none_or(|want| acc_positive == want)
}

/// The index's name as the schema declares it.
fn index_name(index: Index) -> &'static str {
    match index {
        Index::ShardStatusStartAt => "by_shard_status_startAt",
        Index::ShardStatusOcfpStatusAccUpdatedAt => "by_shard_status_ocfpStatus_acc_updatedAt",
        Index::ShardCloseStatusUpdatedAt => "by_shard_closeStatus_updatedAt",
        Index::StatusIsSleepingTaskExpiresAt => "by_status_isSleepingTask_expiresAt",
        Index::OcfpExpiresAt => "by_ocfpExpiresAt",
        Index::CloseExpiresAt => "by_closeExpiresAt",
        Index::ShardExecutorIdNpcUpdatedAt => "by_shard_executorId_npc_updatedAt",
        Index::ParentExecutionIdIsFinished => "by_parentExecutionId_isFinished",
        Index::ShardIsFinishedCloseStatusUpdatedAt => "by_shard_isFinished_closeStatus_updatedAt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        for cursor in [
            Cursor::Newest { row: 42 },
            Cursor::Range {
                range: 3,
                key: vec![0, 0xff, 0x10],
            },
        ] {
            assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        }
        for bad in ["", "x1", "r1", "r1-0", "r1-zz", "cabc", "r-00", "r1-é0"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
