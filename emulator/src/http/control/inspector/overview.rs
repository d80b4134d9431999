//! `GET /_emulator/api/overview`: what the store holds, at a glance.
//!
//! Every figure is a count over an index range, found by walking the distinct values of the
//! leading fields first (`ReadTx::distinct_values`): the shards, then the statuses of each
//! shard, and so on. The status × shard counts walk one index once (about 0.4 s at 1 000 000
//! executions on the 2-core machine); the OCFP and close pipelines count only their small
//! states and take the bulk state (`idle`, `closed`) as the remainder; the rest are small
//! ranges.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value as Json};

use crate::error::Error;
use crate::http::control::ControlError;
use crate::http::AppState;
use crate::limits::INSPECTOR_DISTINCT_VALUES_MAX;
use crate::store::{Index, IndexRange, ReadTx};
use crate::value::Value;

use super::{clean, fresh_json, summary};

pub async fn overview(State(state): State<Arc<AppState>>) -> Result<Response, ControlError> {
    let now_ms = state.clock.clock().now_ms();
    let body = state
        .functions
        .store()
        .read(move |tx| count(tx, now_ms as f64))
        .await?;
    Ok(fresh_json(body))
}

/// The smallest positive number: `acc >= this` is `acc > 0`.
const ABOVE_ZERO: f64 = f64::from_bits(1);

fn count(tx: &ReadTx<'_>, now: f64) -> Result<Json, Error> {
    let max = INSPECTOR_DISTINCT_VALUES_MAX;
    let shards = tx.distinct_values(Index::ShardStatusStartAt, &[], max)?;

    let mut total = 0;
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_shard = Vec::new();
    let mut ready_due = 0;
    let mut oldest_ready = None;
    let mut close: BTreeMap<String, u64> = BTreeMap::new();
    let mut ocfp: BTreeMap<String, u64> = BTreeMap::new();
    let mut parents_with_children = 0;
    for shard in &shards {
        let mut shard_statuses = BTreeMap::new();
        let mut shard_total = 0;
        let index = Index::ShardStatusStartAt;
        for status in tx.distinct_values(index, std::slice::from_ref(shard), max)? {
            let n =
                tx.count_in_range(&IndexRange::eq(index, vec![shard.clone(), status.clone()]))?;
            shard_total += n;
            *statuses.entry(label(&status)).or_default() += n;
            shard_statuses.insert(label(&status), n);
        }
        total += shard_total;
        by_shard.push(
            json!({ "shard": clean(shard), "total": shard_total, "statuses": shard_statuses }),
        );

        let ready = IndexRange::eq(index, vec![shard.clone(), "ready".into()]);
        ready_due += tx.count_in_range(&IndexRange {
            lt: Some(Value::Float64(now)),
            ..ready.clone()
        })?;
        if let Some(first) = tx.executions_in_range(&ready, Some(1))?.into_iter().next() {
            let start_at = first.f64("startAt").unwrap_or(f64::INFINITY);
            let older = |(at, _): &(f64, Json)| start_at < *at;
            if oldest_ready.as_ref().is_none_or(older) {
                oldest_ready = Some((start_at, summary(&first)));
            }
        }

        let index = Index::ShardCloseStatusUpdatedAt;
        let prefix = vec![shard.clone()];
        for (status, n) in split_counts(tx, index, prefix, shard_total, "closed")? {
            *close.entry(label(&status)).or_default() += n;
        }

        let index = Index::ShardStatusOcfpStatusAccUpdatedAt;
        for (status, whole) in shard_statuses_values(tx, index, shard, &shard_statuses)? {
            let prefix = vec![shard.clone(), status];
            for (ocfp_status, n) in split_counts(tx, index, prefix.clone(), whole, "idle")? {
                *ocfp.entry(label(&ocfp_status)).or_default() += n;
                let mut eq = prefix.clone();
                eq.push(ocfp_status);
                parents_with_children += tx.count_in_range(&IndexRange {
                    gte: Some(Value::Float64(ABOVE_ZERO)),
                    ..IndexRange::eq(index, eq)
                })?;
            }
        }
    }

    let mut running_expired = 0;
    let index = Index::StatusIsSleepingTaskExpiresAt;
    for is_sleeping in tx.distinct_values(index, &["running".into()], max)? {
        running_expired += tx.count_in_range(&IndexRange {
            index,
            eq: vec![Some("running".into()), Some(is_sleeping)],
            gte: Some(Value::Float64(0.0)),
            lt: Some(Value::Float64(now)),
        })?;
    }

    let ready = statuses.get("ready").copied().unwrap_or(0);
    Ok(json!({
        "nowMs": now,
        "total": total,
        "shards": shards.iter().map(clean).collect::<Vec<_>>(),
        "statuses": statuses,
        "byShard": by_shard,
        "readyDueNow": ready_due,
        "readyLater": ready - ready_due.min(ready),
        "runningPastExpiresAt": running_expired,
        "waitingForChildren": statuses.get("waiting_for_children").copied().unwrap_or(0),
        "parentsWithActiveChildren": parents_with_children,
        "ocfpStatus": ocfp,
        "closeStatus": close,
        "oldestReady": oldest_ready.map(|(_, doc)| doc),
    }))
}

/// The statuses of `shard` in `index`, each with how many executions it has (counted earlier
/// over `by_shard_status_startAt`, which holds the same executions).
fn shard_statuses_values(
    tx: &ReadTx<'_>,
    index: Index,
    shard: &Value,
    counts: &BTreeMap<String, u64>,
) -> Result<Vec<(Value, u64)>, Error> {
    let statuses = tx.distinct_values(
        index,
        std::slice::from_ref(shard),
        INSPECTOR_DISTINCT_VALUES_MAX,
    )?;
    Ok(statuses
        .into_iter()
        .map(|status| {
            let n = counts.get(&label(&status)).copied().unwrap_or(0);
            (status, n)
        })
        .collect())
}

/// How many of the `whole` executions under `prefix` in `index` have each value of the next
/// field. Every value is counted over its own range except `bulk`, the one most executions of
/// a long-lived store settle in (`closed`, `idle`), which is what remains: the overview then
/// walks the small ranges and skips the bulk of the index. Exact because the field is
/// required, so every execution under the prefix has one of the values.
fn split_counts(
    tx: &ReadTx<'_>,
    index: Index,
    prefix: Vec<Value>,
    whole: u64,
    bulk: &str,
) -> Result<Vec<(Value, u64)>, Error> {
    let values = tx.distinct_values(index, &prefix, INSPECTOR_DISTINCT_VALUES_MAX)?;
    let mut counts = Vec::with_capacity(values.len());
    let mut counted = 0;
    let mut bulk_seen = false;
    for value in values {
        if value.as_str() == Some(bulk) {
            bulk_seen = true;
            continue;
        }
        let mut eq = prefix.clone();
        eq.push(value.clone());
        let n = tx.count_in_range(&IndexRange::eq(index, eq))?;
        counted += n;
        counts.push((value, n));
    }
    if bulk_seen {
        counts.push((Value::from(bulk), whole.saturating_sub(counted)));
    }
    Ok(counts)
}

/// A field value as a map key: strings as themselves, anything else as its JSON.
fn label(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => clean(other).to_string(),
    }
}
