//! Round-trip latency of two hot calls through the adapter: `get_many_by_id` (one id, a query)
//! and the start-at claim (limit 1, a locked action), reported as p50 / p99.
//!
//! ```text
//! cargo run -p durable-execution-storage-convex --example latency [--release]
//! ```
//!
//! Without `CONVEX_URL` it starts the emulator (in-memory database) through the testkit; with
//! `CONVEX_URL` and `CONVEX_STORAGE_AUTH_SECRET` it measures that deployment instead, which
//! must be in test mode territory: it inserts executions and deletes them all at the end.
//! `LATENCY_SAMPLES` sets the number of timed calls per operation (default 500).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use convex_storage_testkit::{EmulatorDb, ServerProcess};
use durable_execution_storage_convex::*;

/// Timed calls per operation unless `LATENCY_SAMPLES` says otherwise.
const SAMPLES_DEFAULT: usize = 500;
/// Untimed calls first, so connection setup and lazy initialisation do not count.
const WARMUP_CALLS: usize = 20;
/// The secret of the emulator this example starts itself.
const LOCAL_SECRET: &str = "latency-secret";

#[tokio::main]
async fn main() -> Result<()> {
    let samples: usize = match std::env::var("LATENCY_SAMPLES") {
        Ok(text) => text.parse().context("LATENCY_SAMPLES must be a number")?,
        Err(_) => SAMPLES_DEFAULT,
    };
    let (_server, url, secret) = match std::env::var("CONVEX_URL") {
        Ok(url) => {
            let secret = std::env::var("CONVEX_STORAGE_AUTH_SECRET")
                .context("set CONVEX_STORAGE_AUTH_SECRET")?;
            (None, url, secret)
        }
        Err(_) => {
            let server = ServerProcess::start_emulator(LOCAL_SECRET, &EmulatorDb::Memory)?;
            let url = server.url().to_string();
            (Some(server), url, LOCAL_SECRET.to_string())
        }
    };
    let options = ConvexStorageOptions {
        enable_test_mode: true,
        ..Default::default()
    };
    let storage = ConvexTaskExecutionsStorage::new(&url, &secret, options)?;
    println!("measuring {url}, {samples} calls per operation after {WARMUP_CALLS} warm-up calls");

    let total = samples + WARMUP_CALLS;
    let executions: Vec<TaskExecutionStorageValue> =
        (0..total).map(|i| ready(&format!("latency-{i}"))).collect();
    for chunk in executions.chunks(100) {
        storage.insert_many(chunk.to_vec()).await?;
    }

    let lookup = vec![GetByIdRequest {
        execution_id: "latency-0".into(),
        filters: None,
    }];
    let gets = measure(total, || async {
        let found = storage.get_many_by_id(lookup.clone()).await?;
        anyhow::ensure!(found[0].is_some(), "latency-0 is missing");
        Ok(())
    })
    .await?;
    report("get_many_by_id (1 id)", &gets[WARMUP_CALLS..]);

    let claims = measure(total, || async {
        let now = now_ms();
        let claimed = storage
            .update_by_status_and_start_at_less_than_and_return(
                UpdateByStatusAndStartAtLessThanRequest {
                    status: TaskExecutionStatus::Ready,
                    start_at_less_than: now + 60_000,
                    update: TaskExecutionStorageUpdate {
                        status: Some(TaskExecutionStatus::Running),
                        executor_id: Some("latency".into()),
                        started_at: Some(now),
                        updated_at: now,
                        ..Default::default()
                    },
                    update_expires_at_with_started_at: now,
                    limit: 1,
                },
            )
            .await?;
        anyhow::ensure!(
            claimed.len() == 1,
            "claimed {} executions, expected 1",
            claimed.len()
        );
        Ok(())
    })
    .await?;
    report("start-at claim (limit 1)", &claims[WARMUP_CALLS..]);

    storage.delete_all().await?;
    Ok(())
}

/// Runs `call` `times` times one after another and returns each call's duration.
async fn measure<F, Fut>(times: usize, mut call: F) -> Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut durations = Vec::with_capacity(times);
    for _ in 0..times {
        let start = Instant::now();
        call().await?;
        durations.push(start.elapsed());
    }
    Ok(durations)
}

fn report(name: &str, durations: &[Duration]) {
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    let percentile = |p: f64| sorted[((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let mean = sorted.iter().sum::<Duration>() / sorted.len() as u32;
    println!(
        "{name:<26} p50 {:>8.3} ms   p99 {:>8.3} ms   mean {:>8.3} ms   max {:>8.3} ms",
        ms(percentile(0.50)),
        ms(percentile(0.99)),
        ms(mean),
        ms(sorted[sorted.len() - 1]),
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn ready(execution_id: &str) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue::create(NewTaskExecution {
        timeout_ms: 60_000,
        ..NewTaskExecution::new("latency", execution_id, "{}")
    })
}
