//! `convex-storage-bench`: how fast the emulator starts and answers, next to the reference
//! server, through the adapter.
//!
//! Run it in release mode (`cargo run --release -p convex-storage-bench`); it starts its own
//! servers on loopback (the emulator on a SQLite file, its default configuration, and the
//! Node reference server), runs every workload against each, prints tables with the ratio, and
//! writes the figures as JSON. `--url` benchmarks any other deployment instead. Nothing here is
//! a test: no figure is asserted, they are printed for BENCHMARKS.md.

mod executor;
mod fixtures;
mod inspector;
mod load;
mod ops;
mod scale;
mod sqlite_floor;
mod state;
mod stats;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use convex_storage_testkit::{EmulatorDb, ServerProcess};
use durable_execution_storage_convex::{
    ConvexStorageOptions, ConvexTaskExecutionsStorage, TaskExecutionsStorage,
};
use serde_json::{json, Value};

use crate::executor::ExecutorWorkload;
use crate::ops::{RunLimits, Seed};
use convex_storage_operations::Operation;

const AUTH_SECRET: &str = "bench-secret";
/// Per-call timeout of the bench's clients, in seconds.
const REQUEST_TIMEOUT_S: u64 = 300;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks the emulator and the reference server side by side")]
struct Cli {
    /// Backends to start and measure, in order: emulator, reference.
    #[arg(long, value_delimiter = ',', default_value = "emulator,reference")]
    backends: Vec<String>,
    /// Measure this deployment instead of starting servers (needs --auth-secret).
    #[arg(long)]
    url: Option<String>,
    /// The secret for --url.
    #[arg(long, env = "CONVEX_STORAGE_AUTH_SECRET")]
    auth_secret: Option<String>,
    /// How long each operation runs at each concurrency, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    op_duration_ms: u64,
    /// The most calls per operation run.
    #[arg(long, default_value_t = 50_000)]
    op_max_calls: usize,
    /// How long the executor workload claims, in seconds.
    #[arg(long, default_value_t = 10)]
    executor_seconds: u64,
    /// Root tasks seeded for the executor workload.
    #[arg(long, default_value_t = 30_000)]
    executor_roots: usize,
    /// How many tasks one claim may return in the executor workload, each size run in turn
    /// (durable-execution claims up to its free slots at once and batches the completions).
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    claim_limits: Vec<u32>,
    /// Stored-execution counts for the scale run.
    #[arg(long, value_delimiter = ',', default_value = "1000,100000,1000000")]
    scale: Vec<usize>,
    /// The largest scale point run against the reference server (it keeps everything in a
    /// JavaScript heap and takes minutes per 100 000 rows).
    #[arg(long, default_value_t = 1_000)]
    reference_scale_max: usize,
    /// Timed claims per scale point.
    #[arg(long, default_value_t = 300)]
    scale_claims: usize,
    /// Emulator restarts timed per startup figure.
    #[arg(long, default_value_t = 10)]
    startups: usize,
    /// Executions stored for timing `/_emulator/reset` against `deleteAll`.
    #[arg(long, default_value_t = 100_000)]
    state_reset_rows: usize,
    /// Executions stored for timing snapshot export and import.
    #[arg(long, default_value_t = 1_000_000)]
    state_snapshot_rows: usize,
    /// Run only the state-control figures (reset, export, import) of the emulator.
    #[arg(long)]
    only_state: bool,
    /// Also write the exported snapshot ZIP of the state figures to this file, to time the
    /// `import` subcommand on it again without filling a store.
    #[arg(long)]
    state_zip_out: Option<PathBuf>,
    /// A short run of everything, to check the bench itself works.
    #[arg(long)]
    quick: bool,
    /// Measure only the inspector's endpoints (`/_emulator/api/...`) on a large store.
    #[arg(long)]
    inspector: bool,
    /// Executions stored for --inspector.
    #[arg(long, default_value_t = 1_000_000)]
    inspector_rows: usize,
    /// Where to write the JSON figures.
    #[arg(long, default_value = "target/bench-results.json")]
    out: PathBuf,
    /// Run only the `load` mode (see `load.rs`): N keep-alive connections with a mix of
    /// reads, claims and inserts, stalled connections, a hostile body; the emulator only.
    #[arg(long)]
    load: bool,
    /// Connections of the load mix.
    #[arg(long, default_value_t = 64)]
    load_connections: usize,
    /// How long the load mix runs, in seconds.
    #[arg(long, default_value_t = 10)]
    load_seconds: u64,
    /// Stalled connections opened by the load mode.
    #[arg(long, default_value_t = 2_000)]
    load_stalled: usize,
    /// Which probes of the load mode to run, comma-separated (`serial`, `hostile`, `mix`,
    /// `stalled`, `big`); all of them when not given.
    #[arg(long, value_delimiter = ',')]
    load_probes: Vec<String>,
    /// The load mix's workers call through `reqwest` instead of the bench's own lean HTTP/1.1
    /// client (which costs the shared CPU less; see load.rs).
    #[arg(long)]
    load_reqwest: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut cli = Cli::parse();
    if cli.quick {
        cli.op_duration_ms = 300;
        cli.executor_seconds = 2;
        cli.executor_roots = 2_000;
        cli.scale = vec![1_000, 10_000];
        cli.scale_claims = 50;
        cli.startups = 3;
        cli.state_reset_rows = 2_000;
        cli.state_snapshot_rows = 10_000;
    }
    if cli.only_state {
        cli.backends = vec!["emulator".to_string()];
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for figures worth recording");
    }
    let scratch = std::env::temp_dir().join(format!("convex-storage-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    if cli.inspector {
        let figures = bench_inspector(&cli, &scratch).await;
        let _ = std::fs::remove_dir_all(&scratch);
        let figures = figures?;
        write_json(&cli.out, &figures)?;
        print_inspector(&figures);
        println!("\nfigures written to {}", cli.out.display());
        return Ok(());
    }

    if cli.load {
        let options = load::LoadOptions {
            connections: cli.load_connections,
            seconds: if cli.quick { 2 } else { cli.load_seconds },
            stalled: if cli.quick { 200 } else { cli.load_stalled },
            probes: cli.load_probes.clone(),
            reqwest_client: cli.load_reqwest,
        };
        let figures = load::run(&options, &scratch).await?;
        write_json(&cli.out, &json!({ "load": figures }))?;
        let _ = std::fs::remove_dir_all(&scratch);
        load::print(&figures);
        println!("\nfigures written to {}", cli.out.display());
        return Ok(());
    }

    let mut results = serde_json::Map::new();
    let backends: Vec<String> = if cli.url.is_some() {
        vec!["external".to_string()]
    } else {
        cli.backends.clone()
    };
    for backend in &backends {
        eprintln!("== {backend}");
        // A backend that fails is reported and the others still run: one slow or broken
        // server must not throw away the figures of the rest.
        let figures = match bench_backend(&cli, backend, &scratch).await {
            Ok(figures) => figures,
            Err(e) => {
                eprintln!("!! {backend} failed: {e:#}");
                json!({ "error": format!("{e:#}") })
            }
        };
        results.insert(backend.clone(), figures);
        write_json(&cli.out, &Value::Object(results.clone()))?;
    }
    let _ = std::fs::remove_dir_all(&scratch);

    let report = Value::Object(results);
    if let Some(figures) = report
        .get("emulator")
        .and_then(|e| e.get("state"))
        .and_then(|s| serde_json::from_value::<state::StateFigures>(s.clone()).ok())
    {
        state::print(&figures);
    }
    if cli.only_state {
        println!("\nfigures written to {}", cli.out.display());
        return Ok(());
    }
    print_report(&report, &backends);
    println!("\nfigures written to {}", cli.out.display());
    Ok(())
}

/// Writes the figures gathered so far, so a later failure loses nothing.
fn write_json(path: &std::path::Path, report: &Value) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(report)?)?;
    Ok(())
}

/// A server the bench talks to, started here or given by --url.
struct Target {
    url: String,
    secret: String,
    process: Option<ServerProcess>,
}

fn connect(
    target_url: &str,
    secret: &str,
    total_shards: u32,
    shards: Option<Vec<u32>>,
) -> Result<Arc<dyn TaskExecutionsStorage>> {
    Ok(Arc::new(ConvexTaskExecutionsStorage::new(
        target_url,
        secret,
        ConvexStorageOptions {
            total_shards,
            shards,
            enable_test_mode: true,
            // The reference server answers a large batch in seconds, not milliseconds.
            request_timeout: Duration::from_secs(REQUEST_TIMEOUT_S),
            ..Default::default()
        },
    )?))
}

fn start(cli: &Cli, backend: &str, db: Option<PathBuf>) -> Result<(Target, Duration)> {
    let started = Instant::now();
    let target = match backend {
        "emulator" => {
            let db = EmulatorDb::File(db.context("the emulator needs a database path")?);
            let process = ServerProcess::start_emulator(AUTH_SECRET, &db)?;
            Target {
                url: process.url().to_string(),
                secret: AUTH_SECRET.to_string(),
                process: Some(process),
            }
        }
        "reference" => {
            let process = ServerProcess::start_reference(AUTH_SECRET)?;
            Target {
                url: process.url().to_string(),
                secret: AUTH_SECRET.to_string(),
                process: Some(process),
            }
        }
        "external" => Target {
            url: cli.url.clone().unwrap_or_default(),
            secret: cli
                .auth_secret
                .clone()
                .context("--url needs --auth-secret")?,
            process: None,
        },
        other => anyhow::bail!("unknown backend {other} (emulator, reference)"),
    };
    Ok((target, started.elapsed()))
}

async fn bench_backend(cli: &Cli, backend: &str, scratch: &std::path::Path) -> Result<Value> {
    let mut figures = serde_json::Map::new();

    if backend == "emulator" {
        eprintln!("-- startup, empty database");
        let mut times = Vec::new();
        for i in 0..cli.startups {
            let (mut target, took) = start(
                cli,
                backend,
                Some(scratch.join(format!("empty-{i}.sqlite3"))),
            )?;
            times.push(took);
            if let Some(p) = target.process.as_mut() {
                p.terminate(10_000)?;
            }
        }
        figures.insert("startup_empty_ms".into(), json!(stats::median_ms(times)));
    }

    let db = scratch.join(format!("{backend}.sqlite3"));
    let (target, _) = start(cli, backend, Some(db.clone()))?;
    let storage = connect(&target.url, &target.secret, 1, None)?;
    storage.delete_all().await?;

    if backend == "emulator" {
        let figures_of_state = state::run(
            &target.url,
            &db,
            &target.secret,
            storage.clone(),
            cli.state_reset_rows,
            cli.state_snapshot_rows,
            cli.state_zip_out.as_deref(),
        )
        .await?;
        figures.insert("state".into(), serde_json::to_value(&figures_of_state)?);
        if cli.only_state {
            return Ok(Value::Object(figures));
        }
    }

    // Per-operation latency.
    let seed = if backend == "reference" {
        Seed {
            ready: 1_000,
            parents: 50,
            children_per_parent: 5,
            per_selector: 200,
            deletable: 4_000,
        }
    } else {
        Seed {
            ready: 2_000,
            parents: 200,
            children_per_parent: 5,
            per_selector: 500,
            deletable: 40_000,
        }
    };
    eprintln!("-- seeding {backend} for per-operation latency");
    let seeded = ops::seed(storage.as_ref(), seed).await?;
    let limits = RunLimits {
        duration: Duration::from_millis(cli.op_duration_ms),
        max_calls: cli.op_max_calls,
        warmup_calls: 50,
    };
    let delete_cursor = AtomicU64::new(0);
    let mut per_op = serde_json::Map::new();
    for op in Operation::ALL {
        let mut row = serde_json::Map::new();
        if op == Operation::DeleteAll {
            let t = Instant::now();
            storage.delete_all().await?;
            row.insert(
                "full_store_ms".into(),
                json!(t.elapsed().as_secs_f64() * 1000.0),
            );
            row.insert("full_store_rows".into(), json!(seeded));
        }
        for concurrency in [1usize, 16] {
            eprintln!("-- {op} at concurrency {concurrency}");
            let summary = ops::run_operation(
                storage.clone(),
                op,
                concurrency,
                limits,
                seed,
                &delete_cursor,
            )
            .await?;
            row.insert(format!("c{concurrency}"), serde_json::to_value(summary)?);
        }
        per_op.insert(op.to_string(), Value::Object(row));
    }
    figures.insert("operations".into(), Value::Object(per_op));

    // Executor-like workload, 16 executors on 16 shards, once per claim size.
    let mut executor_runs = Vec::new();
    for &claim_limit in &cli.claim_limits {
        storage.delete_all().await?;
        let workload = ExecutorWorkload {
            executors: 16,
            roots: if backend == "reference" {
                cli.executor_roots.min(1_000)
            } else {
                cli.executor_roots
            },
            parents: if backend == "reference" { 50 } else { 200 },
            children_per_parent: 10,
            claim_limit,
            sweep_every: 50,
            duration: Duration::from_secs(cli.executor_seconds),
        };
        eprintln!("-- executor workload: {workload:?}");
        let (url, secret) = (target.url.clone(), target.secret.clone());
        let connect_shards = move |shards: Vec<u32>| connect(&url, &secret, 16, Some(shards));
        let result = executor::run(&connect_shards, workload).await?;
        executor_runs.push(json!({ "workload": workload, "result": result }));
    }
    figures.insert("executor".into(), Value::Array(executor_runs));

    // Scale.
    storage.delete_all().await?;
    let max_scale = if backend == "reference" {
        cli.reference_scale_max
    } else {
        usize::MAX
    };
    let mut points = Vec::new();
    let mut have = 0;
    for &stored in cli.scale.iter().filter(|&&n| n <= max_scale) {
        eprintln!("-- scale: filling to {stored} executions");
        let fill = scale::fill(storage.clone(), have, stored).await?;
        have = stored;
        let claim =
            scale::claim_latency(storage.as_ref(), cli.scale_claims, &stored.to_string()).await?;
        points.push(scale::ScalePoint {
            stored,
            fill_seconds: fill.as_secs_f64(),
            claim,
        });
    }
    figures.insert("scale".into(), serde_json::to_value(&points)?);
    if let Some(process) = target.process.as_ref() {
        figures.insert(
            "resident_kib_after_scale".into(),
            json!(scale::resident_kib(process.pid())),
        );
    }

    if backend == "emulator" {
        let mut target = target;
        if let Some(p) = target.process.as_mut() {
            p.terminate(30_000)?;
        }
        eprintln!("-- startup with {have} executions stored");
        let mut times = Vec::new();
        for _ in 0..cli.startups {
            let (mut again, took) = start(cli, backend, Some(db.clone()))?;
            times.push(took);
            if let Some(p) = again.process.as_mut() {
                p.terminate(30_000)?;
            }
        }
        figures.insert("startup_full_ms".into(), json!(stats::median_ms(times)));
        figures.insert(
            "startup_full_rows".into(),
            json!(have + cli.scale.iter().filter(|&&n| n <= max_scale).count() * cli.scale_claims),
        );
    }
    Ok(Value::Object(figures))
}

/// `--inspector`: fill an emulator on a file, then time the inspector's endpoints.
async fn bench_inspector(cli: &Cli, scratch: &std::path::Path) -> Result<Value> {
    let rows = if cli.quick {
        10_000
    } else {
        cli.inspector_rows
    };
    let (mut target, _) = start(cli, "emulator", Some(scratch.join("inspector.sqlite3")))?;
    let storage = connect(&target.url, &target.secret, 16, None)?;
    eprintln!("-- inspector: filling to {rows} executions on 16 shards");
    let fill = inspector::fill(storage, rows).await?;
    eprintln!("-- inspector: timing the endpoints");
    let timings = inspector::time_requests(&target.url, &target.secret, rows).await?;
    if let Some(p) = target.process.as_mut() {
        p.terminate(30_000)?;
    }
    Ok(json!({
        "inspector": {
            "stored": rows,
            "fill_seconds": fill.as_secs_f64(),
            "requests": timings,
        }
    }))
}

fn print_inspector(report: &Value) {
    let stored = fmt(num(report, &["inspector", "stored"]));
    println!("\n## Inspector endpoints with {stored} executions stored (ms)\n");
    println!("| request | first | median | max | rows |");
    println!("|---|---|---|---|---|");
    let requests = report["inspector"]["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for r in &requests {
        println!(
            "| {} (`{}`) | {} | {} | {} | {} |",
            r["what"].as_str().unwrap_or_default(),
            r["request"].as_str().unwrap_or_default(),
            fmt(num(r, &["first_ms"])),
            fmt(num(r, &["median_ms"])),
            fmt(num(r, &["max_ms"])),
            fmt(num(r, &["rows"]))
        );
    }
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_f64()
}

fn fmt(v: Option<f64>) -> String {
    v.map(|x| {
        if x >= 100.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        }
    })
    .unwrap_or_else(|| "-".into())
}

fn print_report(report: &Value, backends: &[String]) {
    let first = &backends[0];
    let second = backends.get(1);
    println!("\n## Per-operation latency (ms) and throughput (calls/s)\n");
    let mut header = format!("| operation | c | {first} p50 | p90 | p99 | calls/s |");
    if let Some(s) = second {
        header.push_str(&format!(" {s} p50 | p99 | calls/s | {first} speed-up |"));
    }
    println!("{header}");
    println!("|{}", "---|".repeat(header.matches('|').count() - 1));
    for op in Operation::ALL.map(Operation::name) {
        for c in ["c1", "c16"] {
            let a = |k: &str| num(report, &[first, "operations", op, c, k]);
            let mut line = format!(
                "| {op} | {} | {} | {} | {} | {} |",
                &c[1..],
                fmt(a("p50_ms")),
                fmt(a("p90_ms")),
                fmt(a("p99_ms")),
                fmt(a("calls_per_s"))
            );
            if let Some(s) = second {
                let b = |k: &str| num(report, &[s, "operations", op, c, k]);
                let ratio = match (a("calls_per_s"), b("calls_per_s")) {
                    (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                    _ => None,
                };
                line.push_str(&format!(
                    " {} | {} | {} | {}× |",
                    fmt(b("p50_ms")),
                    fmt(b("p99_ms")),
                    fmt(b("calls_per_s")),
                    fmt(ratio)
                ));
            }
            println!("{line}");
        }
    }
    for backend in backends {
        if let Some(ms) = num(
            report,
            &[backend, "operations", "deleteAll", "full_store_ms"],
        ) {
            println!(
                "\n{backend}: delete_all over {} rows took {} ms",
                fmt(num(
                    report,
                    &[backend, "operations", "deleteAll", "full_store_rows"]
                )),
                fmt(Some(ms))
            );
        }
    }

    println!(
        "\n## Executor workload (16 executors on 16 shards: claim → complete, with close sweeps)\n"
    );
    println!("| backend | claim limit | cycles | seconds | cycles/s | closed by sweep | parents finished |");
    println!("|---|---|---|---|---|---|---|");
    for backend in backends {
        for run in report
            .get(backend)
            .and_then(|b| b.get("executor"))
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
        {
            let r = |k: &str| num(run, &["result", k]);
            println!(
                "| {backend} | {} | {} | {} | {} | {} | {} |",
                fmt(num(run, &["workload", "claim_limit"])),
                fmt(r("cycles")),
                fmt(r("seconds")),
                fmt(r("cycles_per_s")),
                fmt(r("closed_by_sweep")),
                fmt(r("parents_finished"))
            );
        }
    }

    println!("\n## Scale: claim latency by executions stored\n");
    println!("| backend | stored | fill s | claim p50 ms | p90 | p99 | p99 / p99 at smallest |");
    println!("|---|---|---|---|---|---|---|");
    for backend in backends {
        if let Some(points) = report
            .get(backend)
            .and_then(|b| b.get("scale"))
            .and_then(|s| s.as_array())
        {
            let base = points.first().and_then(|p| num(p, &["claim", "p99_ms"]));
            for p in points {
                let p99 = num(p, &["claim", "p99_ms"]);
                let ratio = match (p99, base) {
                    (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                    _ => None,
                };
                println!(
                    "| {backend} | {} | {} | {} | {} | {} | {}× |",
                    fmt(num(p, &["stored"])),
                    fmt(num(p, &["fill_seconds"])),
                    fmt(num(p, &["claim", "p50_ms"])),
                    fmt(num(p, &["claim", "p90_ms"])),
                    fmt(p99),
                    fmt(ratio)
                );
            }
        }
    }

    println!("\n## Startup and memory\n");
    for backend in backends {
        if let Some(ms) = num(report, &[backend, "startup_empty_ms"]) {
            println!(
                "{backend}: startup with an empty database: {} ms (median)",
                fmt(Some(ms))
            );
        }
        if let Some(ms) = num(report, &[backend, "startup_full_ms"]) {
            println!(
                "{backend}: startup with {} executions: {} ms (median)",
                fmt(num(report, &[backend, "startup_full_rows"])),
                fmt(Some(ms))
            );
        }
        if let Some(kib) = num(report, &[backend, "resident_kib_after_scale"]) {
            println!(
                "{backend}: resident memory after the scale run: {:.1} MiB",
                kib / 1024.0
            );
        }
    }
}
