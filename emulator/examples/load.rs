//! A loopback load generator for measuring the emulator (not a test).
//!
//! ```text
//! # reads: getManyById of one execution, 16 at a time
//! cargo run --release --example load -- --url http://127.0.0.1:3210 --secret s get --concurrency 16
//! # claims: claim one execution and complete it, per shard
//! cargo run --release --example load -- --url ... --secret s cycle --concurrency 16
//! # seed: insert N executions in batches (for the 1M-row measurements)
//! cargo run --release --example load -- --url ... --secret s seed --count 1000000
//! # startup: time from spawning the binary to its `listening` line
//! cargo run --release --example load -- startup --binary target/release/convex-storage-emulator --db /tmp/x.sqlite3
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde_json::{json, Value as Json};

#[derive(Parser)]
struct Cli {
    #[arg(long, default_value = "http://127.0.0.1:3210")]
    url: String,
    #[arg(long, default_value = "s")]
    secret: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// getManyById of one existing execution per request.
    Get {
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Claim one ready execution (per-worker shard) and complete it.
    Cycle {
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Ready executions to insert first (spread over `concurrency` shards).
        #[arg(long, default_value_t = 40_000)]
        seed: usize,
    },
    /// Inserts `count` executions over `shards` shards in batches of `batch`.
    Seed {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[arg(long, default_value_t = 16)]
        shards: usize,
        #[arg(long, default_value = "seed")]
        prefix: String,
    },
    /// Spawns the binary `runs` times and reports the time to its `listening` line.
    Startup {
        #[arg(long)]
        binary: String,
        #[arg(long, default_value = ":memory:")]
        db: String,
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
}

fn execution(id: &str, shard: usize) -> Json {
    json!({
        "shard": shard, "taskId": "task", "executionId": id, "isSleepingTask": false,
        "retryOptions": {"maxAttempts": 1}, "sleepMsBeforeRun": 0, "timeoutMs": 60000,
        "areChildrenSequential": false, "input": "input of some typical length, say a small JSON blob",
        "status": "ready", "isFinished": false, "retryAttempts": 0, "startAt": 0, "acc": 0,
        "ocfpStatus": "idle", "closeStatus": "idle", "npc": false, "createdAt": 0, "updatedAt": 0,
    })
}

struct Client {
    http: reqwest::Client,
    url: String,
    secret: String,
}

impl Client {
    async fn call(&self, kind: &str, function: &str, args: Json) -> Result<Json> {
        let body = json!({
            "path": format!("taskExecutionsStorage:{function}"),
            "format": "convex_encoded_json",
            "args": [{"authSecret": self.secret, "args": args}],
        });
        let reply: Json = self
            .http
            .post(format!("{}/api/{kind}", self.url))
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        if reply["status"] != "success" {
            bail!("{function} failed: {reply}");
        }
        Ok(reply["value"].clone())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let client = Arc::new(Client {
        http: reqwest::Client::new(),
        url: cli.url,
        secret: cli.secret,
    });
    match cli.mode {
        Mode::Get {
            concurrency,
            seconds,
        } => get(client, concurrency, seconds).await,
        Mode::Cycle {
            concurrency,
            seconds,
            seed: count,
        } => {
            let prefix = format!("cycle-{}", std::process::id());
            seed(&client, count, 1000, concurrency, &prefix).await?;
            cycle(client, concurrency, seconds).await
        }
        Mode::Seed {
            count,
            batch,
            shards,
            prefix,
        } => seed(&client, count, batch, shards, &prefix).await,
        Mode::Startup { binary, db, runs } => startup(&binary, &db, runs),
    }
}

async fn seed(
    client: &Client,
    count: usize,
    batch: usize,
    shards: usize,
    prefix: &str,
) -> Result<()> {
    let started = Instant::now();
    let mut next = 0;
    while next < count {
        let end = (next + batch).min(count);
        let executions: Vec<Json> = (next..end)
            .map(|i| execution(&format!("{prefix}-{i}"), i % shards))
            .collect();
        client
            .call("mutation", "insertMany", json!({"executions": executions}))
            .await?;
        next = end;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "seeded {count} executions in {elapsed:.2?} ({:.0}/s)",
        count as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// Runs `concurrency` workers for `seconds`, each calling `op` in a loop; prints throughput
/// and latency percentiles.
async fn drive<F, Fut>(concurrency: usize, seconds: u64, label: &str, op: F) -> Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<u64>> + Send,
{
    let op = Arc::new(op);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let units = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (op, units) = (op.clone(), units.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let done = op(w).await?;
                latencies.push(started.elapsed());
                units.fetch_add(done, Ordering::Relaxed);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{label}: concurrency {concurrency}: {:.0} {label}/s, {} calls, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        units.load(Ordering::Relaxed) as f64 / seconds as f64,
        latencies.len(),
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    Ok(())
}

async fn get(client: Arc<Client>, concurrency: usize, seconds: u64) -> Result<()> {
    // Already there when the same database is measured again.
    seed(&client, 1000, 1000, 1, "get").await.ok();
    drive(concurrency, seconds, "gets", move |w| {
        let client = client.clone();
        async move {
            let id = format!("get-{}", w * 37 % 1000);
            let docs = client
                .call(
                    "query",
                    "getManyById",
                    json!({"requests": [{"executionId": id}]}),
                )
                .await?;
            if docs[0].is_null() {
                bail!("missing {id}");
            }
            Ok(1)
        }
    })
    .await
}

async fn cycle(client: Arc<Client>, concurrency: usize, seconds: u64) -> Result<()> {
    drive(concurrency, seconds, "cycles", move |w| {
        let client = client.clone();
        async move {
            let claim = json!({"shard": w, "status": "ready", "startAtLessThan": 1e15, "limit": 1,
                "updateExpiresAtWithStartedAt": 0,
                "update": {"status": "running", "executorId": format!("w{w}"), "startedAt": 0, "updatedAt": 0}});
            let claimed = client.call("action", "updateByStatusAndStartAtLessThanAndReturn", claim).await?;
            let Some(doc) = claimed.as_array().and_then(|a| a.first()) else { return Ok(0) };
            let id = doc["executionId"].clone();
            let complete = json!({"requests": [{"executionId": id, "filters": {"status": "running"},
                "update": {"status": "completed", "isFinished": true, "output": "done", "finishedAt": 0,
                           "updatedAt": 0, "unset": {"executorId": true, "expiresAt": true}}}]});
            client.call("action", "updateManyById", complete).await?;
            Ok(1)
        }
    })
    .await
}

fn startup(binary: &str, db: &str, runs: usize) -> Result<()> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["--auth-secret", "s", "--port", "0", "--db", db])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning the emulator")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
        times.push(started.elapsed());
        if !line.starts_with("listening on ") {
            bail!("unexpected first line {line:?}");
        }
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        child.wait()?;
    }
    times.sort();
    println!(
        "startup with --db {db}: min {:.1?}, median {:.1?}, max {:.1?} over {runs} runs",
        times[0],
        times[runs / 2],
        times[runs - 1]
    );
    Ok(())
}
