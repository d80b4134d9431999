//! `load` mode: the emulator under many keep-alive connections, stalled connections and a
//! hostile body, with its memory and file descriptors watched from `/proc`.
//!
//! Five probes (`--load-probes` picks some), each on a fresh emulator process so one's
//! high-water mark does not hide another's:
//!
//! * **Serial**: one caller on one keep-alive connection inserting one execution per call,
//!   each call after the last one's answer, as a single test or script uses the emulator.
//!   Reports p50/p99 and the emulator's CPU time per call.
//! * **Mix**: N connections (one keep-alive connection per worker) for a while, each call
//!   picked in turn from 50% reads (`getManyById` of one seeded execution), 25% claims
//!   (`updateByStatusAndStartAtLessThanAndReturn`, limit 1) and 25% inserts (`insertMany` of
//!   one). Reports calls/s, p50/p99/max, errors, the CPU time emulator and bench used (and the
//!   emulator's per call, which tells a slow machine from a slow emulator), and the
//!   emulator's RSS and open descriptors after start, after seeding, before, right after, and
//!   once the clients have gone, against a starting band ([`RSS_BAND_FACTOR`]).
//! * **Stalled**: opens many connections that stall (silent, half-sent headers, bodies shorter
//!   than their `Content-Length`), times fresh calls made meanwhile, and how long each stalled
//!   one stayed open from its own opening until the server closed it.
//! * **Hostile body**: a 16 MiB JSON array of zeros as `args`, once and then 8 at once; reports
//!   the peak RSS (`VmHWM`) it cost.
//! * **Big reads**: 4 clients each read 16 documents of 900 KiB (as many as Convex's 16 MiB
//!   read limit allows) in one `getManyById`, over and over, while one client times small
//!   calls (`getManyById` of one small execution).
//!
//! Nothing is asserted: the figures go to BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use convex_storage_testkit::fixtures::execution_json_with;
use convex_storage_testkit::{EmulatorDb, ServerProcess};

use crate::stats::nearest_rank;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "bench-load-secret";
/// Ready executions seeded before the mix, so claims never run dry.
const SEEDED: usize = 20_000;
/// Executions per seeding call.
const SEED_BATCH: usize = 500;
/// How long to let the server close the finished clients' connections before the "after"
/// reading (past its idle timeout).
const SETTLE: Duration = Duration::from_secs(7);
/// Fresh calls timed while the stalled connections are open.
const FRESH_CALLS: usize = 20;
/// Give up waiting for the server to close stalled connections after this long.
const STALLED_WAIT_MAX: Duration = Duration::from_secs(120);
/// Size of the hostile body.
const HOSTILE_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Hostile bodies sent at once in the second round.
const HOSTILE_AT_ONCE: usize = 8;
/// The starting band of RSS: at most this many times the RSS the mix starts from (after
/// start, seeding and [`SETTLE`]). Loose enough for the allocator's own bookkeeping, tight
/// enough that caches kept full (tens of MiB) fall outside it.
const RSS_BAND_FACTOR: f64 = 2.0;
/// The starting band of descriptors: at most this many above the start. When a read connection
/// closes while others keep the database file locked, SQLite keeps its file descriptor open
/// for the next connection to the same file (closing it would drop the process's POSIX locks),
/// so up to the reader pool's size (8) may stay open without leaking.
const FDS_BAND_EXTRA: usize = 8;
/// Calls of the serial probe.
const SERIAL_CALLS: usize = 5_000;
/// Big documents seeded for the big-reads probe, and read together by each big call: as many
/// as fit in Convex's 16 MiB read limit of one call.
const BIG_DOCUMENTS: usize = 16;
/// Size of each big document's `input`, just under Convex's 1 MiB document limit.
const BIG_DOCUMENT_BYTES: usize = 900 * 1024;
/// Clients reading all the big documents at once, over and over.
const BIG_READERS: usize = 4;
/// How long the big-reads probe runs.
const BIG_READS_FOR: Duration = Duration::from_secs(10);

/// What `load` measures; see the module docs.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub connections: usize,
    pub seconds: u64,
    pub stalled: usize,
    /// Which probes to run (`serial`, `hostile`, `mix`, `stalled`, `big`); all when empty.
    pub probes: Vec<String>,
    /// The mix's workers call through `reqwest` instead of [`LeanConnection`].
    pub reqwest_client: bool,
}

impl LoadOptions {
    fn runs(&self, probe: &str) -> bool {
        self.probes.is_empty() || self.probes.iter().any(|p| p == probe)
    }
}

/// The process's memory and descriptors at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessSample {
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
    pub open_fds: usize,
}

fn sample(pid: u32) -> ProcessSample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    ProcessSample {
        rss_kib: field("VmRSS:"),
        peak_rss_kib: field("VmHWM:"),
        open_fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0),
    }
}

/// CPU time (user + system) process `pid` has used so far, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3, the state.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, so 11 and 12 after the state.
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / per_second
}

/// CPU seconds spread over `calls` calls, in microseconds each (0 calls count as one, so a run
/// in which every call failed to start still prints a number).
fn micros_per_call(cpu_s: f64, calls: usize) -> f64 {
    cpu_s * 1e6 / calls.max(1) as f64
}

#[derive(Debug, Serialize)]
pub struct MixFigures {
    pub connections: usize,
    /// `lean` ([`LeanConnection`]) or `reqwest`.
    pub client: &'static str,
    pub seconds: f64,
    pub calls: usize,
    pub calls_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// p50 and p99 of each kind of call on its own (reads, claims, inserts): which of them
    /// makes the tail.
    pub by_kind: BTreeMap<&'static str, Latencies>,
    pub errors: usize,
    /// CPU time (user + system) the emulator process used during the first round.
    pub emulator_cpu_s: f64,
    /// The emulator's CPU time per call. The same binary has needed 45 µs on one 2-core VM and
    /// 110 to 150 µs on another, so this says how fast the machine was when p99 alone cannot.
    pub emulator_cpu_us_per_call: f64,
    /// CPU time this bench process (the 64 clients) used during the first round.
    pub bench_cpu_s: f64,
    /// Right after the emulator printed its address.
    pub started: ProcessSample,
    /// Right after the seeding calls.
    pub seeded: ProcessSample,
    /// After the seeding and [`SETTLE`]: where the mix starts from.
    pub before: ProcessSample,
    pub right_after: ProcessSample,
    pub settled: ProcessSample,
    pub settled_after_second_round: ProcessSample,
    pub band: Band,
    pub settled_in_band: bool,
    pub second_round_in_band: bool,
}

/// How many calls were timed, and their p50 and p99.
#[derive(Debug, Serialize)]
pub struct Latencies {
    pub calls: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Latencies {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self {
            calls: samples.len(),
            p50_ms: quantile_ms(&samples, 0.5),
            p99_ms: quantile_ms(&samples, 0.99),
        }
    }
}

/// The kinds of call of the mix, by a worker's turn: two reads, a claim, an insert.
const MIX_KINDS: [&str; 4] = ["read", "read", "claim", "insert"];

/// The latency at quantile `q` of sorted samples, in milliseconds; 0 when there is none.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    nearest_rank(sorted, q).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The starting band: what "memory and descriptors came back" means (BENCHMARKS.md).
#[derive(Debug, Serialize)]
pub struct Band {
    /// [`RSS_BAND_FACTOR`] times the RSS of `before`.
    pub rss_kib_max: u64,
    /// The descriptors of `before` plus [`FDS_BAND_EXTRA`].
    pub open_fds_max: usize,
}

impl Band {
    fn around(before: &ProcessSample) -> Self {
        Self {
            rss_kib_max: (before.rss_kib as f64 * RSS_BAND_FACTOR) as u64,
            open_fds_max: before.open_fds + FDS_BAND_EXTRA,
        }
    }

    fn holds(&self, sample: &ProcessSample) -> bool {
        sample.rss_kib <= self.rss_kib_max && sample.open_fds <= self.open_fds_max
    }
}

/// How long each stalled connection stayed open, for one kind of stall, in seconds from its
/// own opening until the server closed it.
#[derive(Debug, Serialize)]
pub struct Lifetimes {
    pub connections: usize,
    pub p50_s: f64,
    pub p99_s: f64,
    pub max_s: f64,
    /// Still open when the bench stopped waiting ([`STALLED_WAIT_MAX`]).
    pub never_closed: usize,
}

impl Lifetimes {
    fn of(lifetimes: &[Option<Duration>]) -> Self {
        let mut closed: Vec<Duration> = lifetimes.iter().flatten().copied().collect();
        closed.sort();
        let at = |q: f64| nearest_rank(&closed, q).map_or(f64::NAN, |d| d.as_secs_f64());
        Self {
            connections: lifetimes.len(),
            p50_s: at(0.5),
            p99_s: at(0.99),
            max_s: closed.last().map_or(f64::NAN, Duration::as_secs_f64),
            never_closed: lifetimes.len() - closed.len(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct StalledLifetimes {
    pub silent: Lifetimes,
    pub half_headers: Lifetimes,
    pub short_body: Lifetimes,
    pub all: Lifetimes,
}

#[derive(Debug, Serialize)]
pub struct StalledFigures {
    pub stalled: usize,
    pub before: ProcessSample,
    pub fds_while_stalled: usize,
    pub fresh_calls_ok: usize,
    pub fresh_p50_ms: f64,
    pub fresh_max_ms: f64,
    /// From the first stalled connection being opened until the last was closed.
    pub all_closed_after_s: Option<f64>,
    /// Each connection's own time from opening to being closed by the server.
    pub lifetimes: StalledLifetimes,
    pub settled: ProcessSample,
    pub settled_after_second_round: ProcessSample,
}

#[derive(Debug, Serialize)]
pub struct HostileFigures {
    pub body_bytes: usize,
    pub peak_rss_before_kib: u64,
    pub peak_rss_after_one_kib: u64,
    pub peak_rss_after_eight_kib: u64,
    pub answer: String,
}

/// Runs the probes against fresh emulators with databases in `scratch`.
pub async fn run(options: &LoadOptions, scratch: &std::path::Path) -> Result<Value> {
    raise_own_descriptor_limit(options.stalled + 1_000);
    let mut figures = serde_json::Map::new();
    if options.runs("serial") {
        eprintln!("-- load: one serial caller");
        let server = start(scratch, "serial")?;
        figures.insert("serial".into(), json!(serial(&server).await?));
    }
    if options.runs("hostile") {
        eprintln!("-- load: hostile body");
        let server = start(scratch, "hostile")?;
        figures.insert("hostile_body".into(), json!(hostile_body(&server).await?));
    }
    if options.runs("mix") {
        eprintln!("-- load: mix at {} connections", options.connections);
        let server = start(scratch, "mix")?;
        figures.insert("mix".into(), json!(mix(&server, options).await?));
    }
    if options.runs("stalled") {
        eprintln!("-- load: {} stalled connections", options.stalled);
        let server = start(scratch, "stalled")?;
        figures.insert(
            "stalled".into(),
            json!(stalled(&server, options.stalled).await?),
        );
    }
    if options.runs("big") {
        eprintln!("-- load: big reads beside small calls");
        let server = start(scratch, "big")?;
        figures.insert("big_reads".into(), json!(big_reads(&server).await?));
    }
    Ok(Value::Object(figures))
}

/// Prints the figures as a short table.
pub fn print(figures: &Value) {
    let ms = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mib = |v: &Value| v.as_f64().unwrap_or(0.0) / 1024.0;
    println!("\n## load");
    if let Some(m) = figures.get("mix") {
        println!(
            "mix: {} connections ({} client), {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, {} errors; \
             CPU {:.1} s emulator ({:.0} µs a call), {:.1} s bench over {:.1} s",
            m["connections"],
            m["client"].as_str().unwrap_or_default(),
            ms(&m["calls_per_s"]),
            ms(&m["p50_ms"]),
            ms(&m["p99_ms"]),
            ms(&m["max_ms"]),
            m["errors"],
            ms(&m["emulator_cpu_s"]),
            ms(&m["emulator_cpu_us_per_call"]),
            ms(&m["bench_cpu_s"]),
            ms(&m["seconds"]),
        );
        if let Some(kinds) = m["by_kind"].as_object() {
            for (kind, k) in kinds {
                println!(
                    "  {kind}: {} calls, p50 {:.2} ms, p99 {:.2} ms",
                    k["calls"],
                    ms(&k["p50_ms"]),
                    ms(&k["p99_ms"])
                );
            }
        }
        for phase in [
            "started",
            "seeded",
            "before",
            "right_after",
            "settled",
            "settled_after_second_round",
        ] {
            println!(
                "  {phase}: RSS {:.1} MiB (peak {:.1} MiB), {} fds",
                mib(&m[phase]["rss_kib"]),
                mib(&m[phase]["peak_rss_kib"]),
                m[phase]["open_fds"]
            );
        }
        println!(
            "  starting band: RSS <= {:.1} MiB, fds <= {}; settled in band: {}, after a second round: {}",
            mib(&m["band"]["rss_kib_max"]),
            m["band"]["open_fds_max"],
            m["settled_in_band"],
            m["second_round_in_band"]
        );
    }
    if let Some(s) = figures.get("stalled") {
        println!(
            "stalled: {} connections, {} fds while stalled, fresh calls {}/{FRESH_CALLS} ok \
             (p50 {:.2} ms, max {:.2} ms), all closed {} s after the first was opened",
            s["stalled"],
            s["fds_while_stalled"],
            s["fresh_calls_ok"],
            ms(&s["fresh_p50_ms"]),
            ms(&s["fresh_max_ms"]),
            s["all_closed_after_s"],
        );
        for kind in ["silent", "half_headers", "short_body", "all"] {
            let k = &s["lifetimes"][kind];
            println!(
                "  {kind}: each closed after its own opening in p50 {:.2} s, p99 {:.2} s, max {:.2} s ({} still open)",
                ms(&k["p50_s"]),
                ms(&k["p99_s"]),
                ms(&k["max_s"]),
                k["never_closed"]
            );
        }
        println!(
            "  RSS {:.1} -> {:.1} -> {:.1} MiB, {} -> {} -> {} fds (before, after, after a second round)",
            mib(&s["before"]["rss_kib"]),
            mib(&s["settled"]["rss_kib"]),
            mib(&s["settled_after_second_round"]["rss_kib"]),
            s["before"]["open_fds"],
            s["settled"]["open_fds"],
            s["settled_after_second_round"]["open_fds"]
        );
    }
    if let Some(h) = figures.get("hostile_body") {
        println!(
            "hostile body: {} bytes; peak RSS {} KiB before, {} KiB after one, {} KiB after {HOSTILE_AT_ONCE} at once",
            h["body_bytes"], h["peak_rss_before_kib"], h["peak_rss_after_one_kib"], h["peak_rss_after_eight_kib"]
        );
    }
    if let Some(s) = figures.get("serial") {
        println!(
            "serial: {} inserts one after another, p50 {:.3} ms, p99 {:.3} ms, {:.0} µs of emulator CPU per call, {} errors",
            s["calls"], ms(&s["p50_ms"]), ms(&s["p99_ms"]), ms(&s["emulator_cpu_us_per_call"]),
            s["errors"]
        );
    }
    if let Some(b) = figures.get("big_reads") {
        println!(
            "big reads: {} big calls ({} errors) beside {} small calls: small p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
            b["big_calls"], b["big_errors"], b["small_calls"], ms(&b["small_p50_ms"]),
            ms(&b["small_p99_ms"]), ms(&b["small_max_ms"])
        );
    }
}

#[derive(Debug, Serialize)]
pub struct SerialFigures {
    #[serde(flatten)]
    pub latencies: Latencies,
    pub errors: usize,
    /// CPU time (user + system) of the emulator process over the calls, per call.
    pub emulator_cpu_us_per_call: f64,
}

/// One caller, one connection, one insert at a time ([`SERIAL_CALLS`] of them).
async fn serial(server: &ServerProcess) -> Result<SerialFigures> {
    let pid = server.pid().to_string();
    let mut client = MixClient::new(server.url(), false)?;
    let mut samples = Vec::with_capacity(SERIAL_CALLS);
    let mut errors = 0;
    let cpu_before = cpu_seconds(&pid);
    for n in 0..SERIAL_CALLS {
        let args = json!({"executions": [execution(&format!("serial-{n}"))]});
        let started = Instant::now();
        let outcome = client.call("mutation", "insertMany", args).await;
        samples.push(started.elapsed());
        errors += usize::from(outcome.is_err());
    }
    let emulator_cpu_s = cpu_seconds(&pid) - cpu_before;
    Ok(SerialFigures {
        emulator_cpu_us_per_call: micros_per_call(emulator_cpu_s, samples.len()),
        latencies: Latencies::of(samples),
        errors,
    })
}

#[derive(Debug, Serialize)]
pub struct BigReadFigures {
    pub big_calls: usize,
    pub big_errors: usize,
    pub small_calls: usize,
    pub small_p50_ms: f64,
    pub small_p99_ms: f64,
    pub small_max_ms: f64,
}

async fn big_reads(server: &ServerProcess) -> Result<BigReadFigures> {
    let url = server.url().to_string();
    let seeder = one_connection_client()?;
    let input = "x".repeat(BIG_DOCUMENT_BYTES);
    for i in 0..BIG_DOCUMENTS {
        let mut doc = execution(&format!("big-{i}"));
        doc["input"] = json!(input);
        call(
            &seeder,
            &url,
            "mutation",
            "insertMany",
            json!({ "executions": [doc] }),
        )
        .await?;
    }
    call(
        &seeder,
        &url,
        "mutation",
        "insertMany",
        json!({ "executions": [execution("small")] }),
    )
    .await?;
    let requests: Vec<Value> = (0..BIG_DOCUMENTS)
        .map(|i| json!({"executionId": format!("big-{i}")}))
        .collect();
    let deadline = Instant::now() + BIG_READS_FOR;
    let big_errors = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..BIG_READERS {
        let (url, requests, errors) = (url.clone(), requests.clone(), big_errors.clone());
        readers.push(tokio::spawn(async move {
            let client = one_connection_client()?;
            let mut calls = 0;
            while Instant::now() < deadline {
                // Only the head of the 14 MiB answer is looked at: parsing it here would
                // stall this process's own async workers and distort the small calls' timing.
                let body = json!({
                    "path": "taskExecutionsStorage:getManyById",
                    "args": [{"authSecret": SECRET, "args": { "requests": requests }}],
                });
                let ok = match client
                    .post(format!("{url}/api/query"))
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(reply) => reply
                        .bytes()
                        .await
                        .is_ok_and(|b| b.starts_with(br#"{"status":"success""#)),
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                calls += 1;
            }
            anyhow::Ok(calls)
        }));
    }
    // The small calls run on a thread and runtime of their own, so the big readers' work in
    // this process cannot delay them: what is measured is the server.
    let small_url = url.clone();
    let small = std::thread::spawn(move || -> Result<Vec<Duration>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let client = one_connection_client()?;
            let mut small = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let args = json!({"requests": [{"executionId": "small"}]});
                call(&client, &small_url, "query", "getManyById", args).await?;
                small.push(t.elapsed());
            }
            Ok(small)
        })
    });
    let mut small = small
        .join()
        .map_err(|_| anyhow::anyhow!("the small-call thread panicked"))??;
    let mut big_calls = 0;
    for reader in readers {
        big_calls += reader.await??;
    }
    small.sort();
    Ok(BigReadFigures {
        big_calls,
        big_errors: big_errors.load(Ordering::Relaxed),
        small_calls: small.len(),
        small_p50_ms: quantile_ms(&small, 0.5),
        small_p99_ms: quantile_ms(&small, 0.99),
        small_max_ms: small.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    })
}

fn start(scratch: &std::path::Path, name: &str) -> Result<ServerProcess> {
    let db = scratch.join(format!("load-{name}.sqlite3"));
    let _ = std::fs::remove_file(&db);
    ServerProcess::start_emulator(SECRET, &EmulatorDb::File(db))
}

/// A client that keeps exactly one connection alive.
fn one_connection_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// A ready execution, as the shared fixture builds it, under the bench's task id and with a
/// timeout that no claim in a run outlives.
fn execution(execution_id: &str) -> Value {
    execution_json_with(
        execution_id,
        json!({"taskId": "bench-task", "timeoutMs": 60000}),
    )
}

/// One call like `ConvexHttpClient` makes it; `Ok` only for `status: "success"`.
async fn call(
    client: &reqwest::Client,
    url: &str,
    kind: &str,
    function: &str,
    args: Value,
) -> Result<Value> {
    let body = json!({
        "path": format!("taskExecutionsStorage:{function}"),
        "format": "convex_encoded_json",
        "args": [{"authSecret": SECRET, "args": args}],
    });
    let reply: Value = client
        .post(format!("{url}/api/{kind}"))
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

async fn mix(server: &ServerProcess, options: &LoadOptions) -> Result<MixFigures> {
    let url = server.url().to_string();
    let pid = server.pid().to_string();
    let started = sample(server.pid());
    let seeder = one_connection_client()?;
    for batch in 0..SEEDED / SEED_BATCH {
        let executions: Vec<Value> = (0..SEED_BATCH)
            .map(|i| execution(&format!("seed-{}", batch * SEED_BATCH + i)))
            .collect();
        call(
            &seeder,
            &url,
            "mutation",
            "insertMany",
            json!({ "executions": executions }),
        )
        .await
        .context("seeding")?;
    }
    drop(seeder);
    let seeded = sample(server.pid());
    tokio::time::sleep(SETTLE).await;
    let before = sample(server.pid());

    let inserted = Arc::new(AtomicU64::new(0));
    let (emulator_cpu, bench_cpu) = (cpu_seconds(&pid), cpu_seconds("self"));
    let wall_started = Instant::now();
    let (samples, errors) = mix_round(&url, options, &inserted).await?;
    let wall = wall_started.elapsed();
    let emulator_cpu_s = cpu_seconds(&pid) - emulator_cpu;
    let bench_cpu_s = cpu_seconds("self") - bench_cpu;
    let right_after = sample(server.pid());
    tokio::time::sleep(SETTLE).await;
    let settled = sample(server.pid());
    // A second round on the same server: memory and descriptors after it show whether the
    // first round's growth was a plateau (caches, buffers kept by the allocator) or a leak.
    mix_round(&url, options, &inserted).await?;
    tokio::time::sleep(SETTLE).await;
    let settled_after_second_round = sample(server.pid());
    let by_kind = MIX_KINDS
        .iter()
        .map(|&kind| {
            let of_kind = samples.iter().filter(|(k, _)| *k == kind).map(|(_, d)| *d);
            (kind, Latencies::of(of_kind.collect()))
        })
        .collect();
    let mut samples: Vec<Duration> = samples.into_iter().map(|(_, d)| d).collect();
    samples.sort();
    let at = |q: f64| quantile_ms(&samples, q);
    let band = Band::around(&before);
    Ok(MixFigures {
        connections: options.connections,
        client: if options.reqwest_client {
            "reqwest"
        } else {
            "lean"
        },
        seconds: wall.as_secs_f64(),
        calls: samples.len(),
        calls_per_s: samples.len() as f64 / wall.as_secs_f64(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: samples.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        by_kind,
        errors,
        emulator_cpu_s,
        emulator_cpu_us_per_call: micros_per_call(emulator_cpu_s, samples.len()),
        bench_cpu_s,
        started,
        seeded,
        before,
        right_after,
        settled_in_band: band.holds(&settled),
        second_round_in_band: band.holds(&settled_after_second_round),
        settled,
        settled_after_second_round,
        band,
    })
}

/// One run of the mix; returns every call's kind and latency, and the number of failed calls.
async fn mix_round(
    url: &str,
    options: &LoadOptions,
    inserted: &Arc<AtomicU64>,
) -> Result<(Vec<(&'static str, Duration)>, usize)> {
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let errors = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..options.connections {
        let (url, errors, inserted) = (url.to_string(), errors.clone(), inserted.clone());
        let reqwest_client = options.reqwest_client;
        workers.push(tokio::spawn(async move {
            let mut client = MixClient::new(&url, reqwest_client)?;
            let mut samples = Vec::new();
            let mut turn = worker;
            while Instant::now() < deadline {
                let t = Instant::now();
                let kind = MIX_KINDS[turn % MIX_KINDS.len()];
                let outcome = match kind {
                    "read" => {
                        let id = format!("seed-{}", rand::random::<usize>() % SEEDED);
                        let args = json!({"requests": [{"executionId": id}]});
                        client.call("query", "getManyById", args).await
                    }
                    "claim" => {
                        let args = json!({
                            "shard": 0, "status": "ready", "startAtLessThan": 1e15, "limit": 1,
                            "updateExpiresAtWithStartedAt": 0,
                            "update": {"status": "running", "executorId": format!("w{worker}"), "updatedAt": 0},
                        });
                        client.call("action", "updateByStatusAndStartAtLessThanAndReturn", args).await
                    }
                    _ => {
                        let n = inserted.fetch_add(1, Ordering::Relaxed);
                        let args = json!({"executions": [execution(&format!("load-{n}"))]});
                        client.call("mutation", "insertMany", args).await
                    }
                };
                samples.push((kind, t.elapsed()));
                if outcome.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                turn += 1;
            }
            anyhow::Ok(samples)
        }));
    }
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await??);
    }
    Ok((samples, errors.load(Ordering::Relaxed)))
}

/// The client of one mix worker: one keep-alive connection, either through `reqwest` or
/// written by hand ([`LeanConnection`]). Both send the same request (method, path, headers
/// that matter, body) and count a call as done only on `status: "success"`.
enum MixClient {
    Reqwest {
        client: reqwest::Client,
        url: String,
    },
    Lean(LeanConnection),
}

impl MixClient {
    fn new(url: &str, reqwest_client: bool) -> Result<Self> {
        Ok(if reqwest_client {
            MixClient::Reqwest {
                client: one_connection_client()?,
                url: url.to_string(),
            }
        } else {
            MixClient::Lean(LeanConnection::new(url))
        })
    }

    async fn call(&mut self, kind: &str, function: &str, args: Value) -> Result<()> {
        match self {
            MixClient::Reqwest { client, url } => {
                call(client, url, kind, function, args).await.map(drop)
            }
            MixClient::Lean(connection) => {
                let body = serde_json::to_vec(&json!({
                    "path": format!("taskExecutionsStorage:{function}"),
                    "format": "convex_encoded_json",
                    "args": [{"authSecret": SECRET, "args": args}],
                }))?;
                connection.post(&format!("/api/{kind}"), &body).await
            }
        }
    }
}

/// A hand-written HTTP/1.1 client on one keep-alive connection, for the mix. `reqwest` spends
/// about 30 µs of CPU per call (BENCHMARKS.md), a third of what the emulator spends, on the two
/// cores the emulator shares with the bench; this one writes the request in one buffer and
/// reads the answer by its `Content-Length`. A call succeeds only on a 200 whose body starts
/// with `{"status":"success"` (how the emulator writes a success; anything else is an error).
struct LeanConnection {
    addr: String,
    stream: Option<TcpStream>,
    request: Vec<u8>,
    answer: Vec<u8>,
}

impl LeanConnection {
    fn new(url: &str) -> Self {
        Self {
            addr: url.trim_start_matches("http://").to_string(),
            stream: None,
            request: Vec::new(),
            answer: Vec::new(),
        }
    }

    async fn post(&mut self, path: &str, body: &[u8]) -> Result<()> {
        let outcome = self.exchange(path, body).await;
        if outcome.is_err() {
            // The connection's state is unknown: start the next call on a fresh one.
            self.stream = None;
        }
        outcome
    }

    async fn exchange(&mut self, path: &str, body: &[u8]) -> Result<()> {
        use std::io::Write;
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(&self.addr).await?;
                stream.set_nodelay(true)?;
                self.stream.insert(stream)
            }
        };
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            self.addr,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        stream.write_all(&self.request).await?;
        self.answer.clear();
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(at) = find(&self.answer, b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.answer.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.answer[..head_end])?;
        if !head.starts_with("HTTP/1.1 200 ") {
            bail!("not a 200: {}", head.lines().next().unwrap_or_default());
        }
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .context("an answer without content-length")?;
        while self.answer.len() < head_end + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the server closed the connection mid-answer");
            }
            self.answer.extend_from_slice(&chunk[..n]);
        }
        let answer = &self.answer[head_end..head_end + length];
        if !answer.starts_with(br#"{"status":"success""#) {
            bail!("call failed: {}", String::from_utf8_lossy(answer));
        }
        Ok(())
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn stalled(server: &ServerProcess, count: usize) -> Result<StalledFigures> {
    let url = server.url().to_string();
    let addr = url.trim_start_matches("http://").to_string();
    let before = sample(server.pid());
    let first_opened = Instant::now();
    let watchers = open_stalled(&addr, count).await?;
    let fds_while_stalled = sample(server.pid()).open_fds;
    let mut fresh = Vec::new();
    let mut fresh_ok = 0;
    for _ in 0..FRESH_CALLS {
        let client = one_connection_client()?;
        let t = Instant::now();
        let args = json!({"requests": []});
        let outcome = call(&client, &url, "query", "getManyById", args).await;
        fresh.push(t.elapsed());
        fresh_ok += usize::from(outcome.is_ok());
    }
    fresh.sort();
    let lifetimes = wait_closed(watchers).await;
    let all_closed_after = lifetimes
        .iter()
        .all(|(_, l)| l.is_some())
        .then(|| first_opened.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = sample(server.pid());
    // A second round, to tell a plateau from a leak.
    if all_closed_after.is_some() {
        let watchers = open_stalled(&addr, count).await?;
        wait_closed(watchers).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let of_kind = |kind: usize| -> Vec<Option<Duration>> {
        lifetimes
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, l)| *l)
            .collect()
    };
    let every: Vec<Option<Duration>> = lifetimes.iter().map(|(_, l)| *l).collect();
    Ok(StalledFigures {
        stalled: count,
        before,
        fds_while_stalled,
        fresh_calls_ok: fresh_ok,
        fresh_p50_ms: fresh[fresh.len() / 2].as_secs_f64() * 1000.0,
        fresh_max_ms: fresh.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        all_closed_after_s: all_closed_after,
        lifetimes: StalledLifetimes {
            silent: Lifetimes::of(&of_kind(0)),
            half_headers: Lifetimes::of(&of_kind(1)),
            short_body: Lifetimes::of(&of_kind(2)),
            all: Lifetimes::of(&every),
        },
        settled,
        settled_after_second_round: sample(server.pid()),
    })
}

/// A stalled connection being watched: its kind (0 silent, 1 inside the headers, 2 short
/// body) and a task that answers how long after its opening the server closed it.
type Watcher = (usize, tokio::task::JoinHandle<Option<Duration>>);

/// Opens `count` connections that stall: a third silent, a third stopped inside the headers,
/// a third with a body shorter than its `Content-Length`. Each is watched from the moment it
/// is open, so its lifetime is measured from its own opening.
async fn open_stalled(addr: &str, count: usize) -> Result<Vec<Watcher>> {
    let mut watchers = Vec::with_capacity(count);
    for i in 0..count {
        let mut stream = TcpStream::connect(addr).await?;
        let opened = Instant::now();
        let kind = i % 3;
        let sent: &[u8] = match kind {
            0 => b"",
            1 => b"POST /api/query HTTP/1.1\r\nHost: 127.0",
            _ => {
                b"POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                   content-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"pa"
            }
        };
        stream.write_all(sent).await?;
        let watcher = tokio::spawn(async move {
            let closed = async {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                }
            };
            tokio::time::timeout(STALLED_WAIT_MAX, closed)
                .await
                .ok()
                .map(|()| opened.elapsed())
        });
        watchers.push((kind, watcher));
    }
    Ok(watchers)
}

/// Each watched connection's kind and lifetime (`None`: still open after
/// [`STALLED_WAIT_MAX`]).
async fn wait_closed(watchers: Vec<Watcher>) -> Vec<(usize, Option<Duration>)> {
    let mut lifetimes = Vec::with_capacity(watchers.len());
    for (kind, watcher) in watchers {
        lifetimes.push((kind, watcher.await.ok().flatten()));
    }
    lifetimes
}

async fn hostile_body(server: &ServerProcess) -> Result<HostileFigures> {
    let url = server.url().to_string();
    let envelope_head = format!(
        "{{\"path\":\"taskExecutionsStorage:insertMany\",\"args\":[{{\"authSecret\":\"{SECRET}\",\"args\":{{\"executions\":["
    );
    let envelope_tail = "]}}]}";
    let zeros = (HOSTILE_BODY_BYTES - envelope_head.len() - envelope_tail.len()) / 2;
    let mut body = String::with_capacity(HOSTILE_BODY_BYTES);
    body.push_str(&envelope_head);
    body.push_str(&"0,".repeat(zeros.saturating_sub(1)));
    body.push('0');
    body.push_str(envelope_tail);
    let body = body.into_bytes();
    let send = |client: reqwest::Client, body: Vec<u8>| {
        let url = url.clone();
        async move {
            let reply = client
                .post(format!("{url}/api/mutation"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            anyhow::Ok(reply.text().await?)
        }
    };
    let before = sample(server.pid()).peak_rss_kib;
    let answer = send(one_connection_client()?, body.clone()).await?;
    let after_one = sample(server.pid()).peak_rss_kib;
    let mut at_once = Vec::new();
    for _ in 0..HOSTILE_AT_ONCE {
        at_once.push(tokio::spawn(send(one_connection_client()?, body.clone())));
    }
    for task in at_once {
        task.await??;
    }
    let after_eight = sample(server.pid()).peak_rss_kib;
    Ok(HostileFigures {
        body_bytes: body.len(),
        peak_rss_before_kib: before,
        peak_rss_after_one_kib: after_one,
        peak_rss_after_eight_kib: after_eight,
        answer: answer.chars().take(200).collect(),
    })
}

/// The bench opens thousands of sockets; lift its own soft descriptor limit to the hard one.
fn raise_own_descriptor_limit(wanted: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
            && (limit.rlim_cur as usize) < wanted
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
