//! Scale: claim latency with 1 000 to 1 000 000 executions stored, startup time, memory.
//!
//! The stored executions are what a long-lived store accumulates: mostly finished ones, and
//! one in ten ready but scheduled far in the future, in the same `(shard, status)` prefix the
//! claim scans. Each timed claim first gets one claimable execution inserted (untimed), so
//! every claim finds exactly one row behind all the others. A claim that walks the index stays
//! flat as the store grows; one that scans grows linearly.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use durable_execution_storage_convex::*;
use serde::Serialize;

use crate::fixtures::{now_ms, ready_execution, FAR_FUTURE_MS};
use crate::stats::{summarize, LatencySummary};

/// Rows per insert call while filling the store.
pub const FILL_BATCH_ROWS: usize = 1_000;
/// Insert calls in flight while filling the store.
pub const FILL_CONCURRENCY: usize = 4;

/// One scale point.
#[derive(Debug, Clone, Serialize)]
pub struct ScalePoint {
    /// Executions stored before the claims.
    pub stored: usize,
    /// Seconds it took to insert them.
    pub fill_seconds: f64,
    /// Latency of a claim of one execution.
    pub claim: LatencySummary,
}

/// Adds rows until the store holds `target` background executions (it holds `have` now).
pub async fn fill(
    storage: Arc<dyn TaskExecutionsStorage>,
    have: usize,
    target: usize,
) -> Result<Duration> {
    fill_with(storage, have..target, background_row).await
}

/// Inserts `row(i)` for every `i` of `range`, [`FILL_BATCH_ROWS`] a call and
/// [`FILL_CONCURRENCY`] calls in flight; answers how long it took.
pub async fn fill_with(
    storage: Arc<dyn TaskExecutionsStorage>,
    range: Range<usize>,
    row: fn(usize) -> TaskExecutionStorageValue,
) -> Result<Duration> {
    let started = Instant::now();
    let end = range.end;
    let batches: Vec<(usize, usize)> = range
        .step_by(FILL_BATCH_ROWS)
        .map(|from| (from, (from + FILL_BATCH_ROWS).min(end)))
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let mut workers = Vec::new();
    for _ in 0..FILL_CONCURRENCY {
        let (storage, queue) = (storage.clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((from, to)) = next else { break };
                storage.insert_many((from..to).map(row).collect()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(started.elapsed())
}

/// The `i`-th background execution: one in ten ready far in the future, the rest finished.
fn background_row(i: usize) -> TaskExecutionStorageValue {
    let mut row = ready_execution(format!("bg-{i}"), 16);
    if i.is_multiple_of(10) {
        row.start_at = FAR_FUTURE_MS;
    } else {
        row.status = TaskExecutionStatus::Completed;
        row.is_finished = true;
        row.close_status = TaskExecutionCloseStatus::Closed;
    }
    row
}

/// Times `claims` claims of one freshly inserted execution each.
pub async fn claim_latency(
    storage: &dyn TaskExecutionsStorage,
    claims: usize,
    tag: &str,
) -> Result<LatencySummary> {
    let mut samples = Vec::with_capacity(claims);
    let mut timed = Duration::ZERO;
    for i in 0..claims {
        storage
            .insert_many(vec![ready_execution(format!("claim-{tag}-{i}"), 64)])
            .await?;
        let now = now_ms();
        let mut update = TaskExecutionStorageUpdate {
            updated_at: now,
            ..Default::default()
        };
        update.status = Some(TaskExecutionStatus::Running);
        update.executor_id = Some("bench".to_string());
        let t = Instant::now();
        let claimed = storage
            .update_by_status_and_start_at_less_than_and_return(
                UpdateByStatusAndStartAtLessThanRequest {
                    status: TaskExecutionStatus::Ready,
                    start_at_less_than: now + 1_000,
                    update,
                    update_expires_at_with_started_at: now,
                    limit: 1,
                },
            )
            .await?;
        let took = t.elapsed();
        anyhow::ensure!(
            claimed.len() == 1,
            "claim {i} returned {} executions",
            claimed.len()
        );
        samples.push(took);
        timed += took;
    }
    Ok(summarize(samples, timed))
}

/// The resident memory of a process in KiB, from /proc.
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
