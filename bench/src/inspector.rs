//! `--inspector`: the inspector's JSON endpoints with a large store.
//!
//! Fills the emulator to `--inspector-rows` executions on 16 shards (a long-lived store's mix:
//! mostly finished and closed, one in ten ready far in the future, some running, some parents
//! waiting for children, one task id in a thousand rare), then times what the page asks for:
//! the overview, the first list page, and a change of filter. The goals (issue 12): overview and
//! first page under 1 s, a filter change under 200 ms, at 1 000 000 executions. Each request is
//! timed from the client over loopback, including the JSON the page would parse.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use durable_execution_storage_convex::*;
use serde::Serialize;
use serde_json::Value;

use crate::fixtures::{now_ms, ready_execution, FAR_FUTURE_MS};
use crate::scale;
use crate::stats;

/// Timed repetitions of each request after the first (cold) one.
pub const REPEATS: usize = 10;

/// One timed request.
#[derive(Debug, Serialize)]
pub struct Timing {
    /// What the page does, in words.
    pub what: String,
    /// The endpoint and query.
    pub request: String,
    /// The first request after the fill (SQLite's page cache cold for this range), ms.
    pub first_ms: f64,
    /// Median of the [`REPEATS`] that followed, ms.
    pub median_ms: f64,
    /// Slowest of them, ms.
    pub max_ms: f64,
    /// Executions on the page, or the overview's total.
    pub rows: u64,
}

/// The requests timed, in the order a user would make them.
const REQUESTS: &[(&str, &str)] = &[
    ("overview", "/_emulator/api/overview"),
    (
        "first list page (newest first)",
        "/_emulator/api/executions",
    ),
    (
        "filter: status = ready",
        "/_emulator/api/executions?status=ready",
    ),
    (
        "filter: status = ready, shard = 3",
        "/_emulator/api/executions?status=ready&shard=3",
    ),
    (
        "filter: running",
        "/_emulator/api/executions?status=running",
    ),
    (
        "filter: isFinished = false",
        "/_emulator/api/executions?isFinished=false",
    ),
    (
        "filter: closeStatus = closed",
        "/_emulator/api/executions?closeStatus=closed",
    ),
    (
        "filter: parents with acc > 0",
        "/_emulator/api/executions?activeChildren=true",
    ),
    (
        "filter: ocfpStatus = idle",
        "/_emulator/api/executions?ocfpStatus=idle",
    ),
    (
        "filter: taskId (rare; no index, bounded scan)",
        "/_emulator/api/executions?taskId=rare-task",
    ),
    (
        "find by executionId",
        "/_emulator/api/executions?q={middle}",
    ),
    ("execution detail", "/_emulator/api/executions/{middle}"),
    ("request log", "/_emulator/api/requests?limit=200"),
];

/// Fills the store behind `storage` (16 shards) with `rows` executions.
pub async fn fill(storage: Arc<dyn TaskExecutionsStorage>, rows: usize) -> Result<Duration> {
    scale::fill_with(storage, 0..rows, row).await
}

/// The `i`-th execution of the mix.
fn row(i: usize) -> TaskExecutionStorageValue {
    let mut row = ready_execution(format!("inspect-{i}"), 64);
    if i % 1000 == 7 {
        row.task_id = "rare-task".to_string();
    }
    match i % 100 {
        0..=9 => row.start_at = FAR_FUTURE_MS,
        10..=14 => {
            row.status = TaskExecutionStatus::Running;
            row.executor_id = Some("bench".to_string());
            row.started_at = Some(now_ms());
            row.expires_at = Some(now_ms() + 60_000);
        }
        15 => {
            row.status = TaskExecutionStatus::WaitingForChildren;
            row.active_children_count = 3;
        }
        _ => {
            row.status = TaskExecutionStatus::Completed;
            row.is_finished = true;
            row.close_status = TaskExecutionCloseStatus::Closed;
        }
    }
    row
}

/// Times every request of [`REQUESTS`] on a store of `rows` executions.
pub async fn time_requests(url: &str, secret: &str, rows: usize) -> Result<Vec<Timing>> {
    let http = reqwest::Client::new();
    let mut timings = Vec::new();
    for (what, request) in REQUESTS {
        let request = request.replace("{middle}", &format!("inspect-{}", rows / 2));
        let mut samples = Vec::with_capacity(REPEATS + 1);
        let mut found = 0;
        for _ in 0..=REPEATS {
            let started = Instant::now();
            let response = http
                .get(format!("{url}{request}"))
                .bearer_auth(secret)
                .send()
                .await?;
            let status = response.status();
            let body: Value = response.json().await?;
            samples.push(started.elapsed());
            ensure!(status.is_success(), "{request}: {status} {body}");
            found = body["total"]
                .as_u64()
                .or_else(|| body["executions"].as_array().map(|e| e.len() as u64))
                .or_else(|| body["entries"].as_array().map(|e| e.len() as u64))
                .or_else(|| body["execution"].is_object().then_some(1))
                .context("an answer without rows")?;
        }
        let first = samples.remove(0);
        let max = samples.iter().max().copied().unwrap_or_default();
        timings.push(Timing {
            what: what.to_string(),
            request,
            first_ms: first.as_secs_f64() * 1000.0,
            median_ms: stats::median_ms(samples),
            max_ms: max.as_secs_f64() * 1000.0,
            rows: found,
        });
    }
    Ok(timings)
}
