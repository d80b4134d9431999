//! Over-the-socket tests of the real binary: the startup line, shutdown, refusing to start
//! without a secret, surviving `kill -9`, and concurrent claimers over HTTP.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod common;

use common::TempDir;
use convex_storage_testkit::fixtures::execution_json;
use convex_storage_testkit::{EmulatorDb, ServerProcess, EMULATOR_BIN_ENV};
use serde_json::{json, Value as Json};

const SECRET: &str = "process-test-secret";
const BINARY: &str = env!("CARGO_BIN_EXE_convex-storage-emulator");

/// Lets testkit start this build of the binary instead of building one.
fn use_this_binary() {
    std::env::set_var(EMULATOR_BIN_ENV, BINARY);
}

/// Calls a function like `ConvexHttpClient`; `Err` carries the error message or the failure.
async fn call(
    client: &reqwest::Client,
    url: &str,
    kind: &str,
    function: &str,
    args: Json,
) -> Result<Json, String> {
    let body = json!({
        "path": format!("taskExecutionsStorage:{function}"),
        "format": "convex_encoded_json",
        "args": [{"authSecret": SECRET, "args": args}],
    });
    let response = client
        .post(format!("{url}/api/{kind}"))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let reply: Json = response.json().await.map_err(|e| format!("body: {e}"))?;
    match reply["status"].as_str() {
        Some("success") => Ok(reply["value"].clone()),
        _ => Err(reply["errorMessage"].as_str().unwrap_or("?").to_string()),
    }
}

#[test]
fn prints_exactly_one_line_and_exits_zero_on_sigterm() {
    let mut child = Command::new(BINARY)
        .args(["--auth-secret", SECRET, "--port", "0", "--db", ":memory:"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .strip_prefix("listening on http://127.0.0.1:")
        .expect(&line);
    let port: u16 = url.trim_end().parse().expect("a port number");
    assert_ne!(port, 0);
    assert!(line.ends_with('\n'));

    // It accepts connections as soon as the line is out.
    let reply = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(reply.is_ok());

    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "clean shutdown on SIGTERM");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "nothing else on stdout");
}

#[test]
fn refuses_to_start_without_a_secret() {
    for (args, env) in [
        (vec![], None),
        (vec!["--auth-secret", ""], None),
        (vec![], Some("")),
    ] {
        let mut command = Command::new(BINARY);
        command
            .args(["--port", "0", "--db", ":memory:"])
            .args(&args);
        command.env_remove("CONVEX_STORAGE_AUTH_SECRET");
        if let Some(value) = env {
            command.env("CONVEX_STORAGE_AUTH_SECRET", value);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{args:?} {env:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("auth secret"), "{stderr}");
    }
}

#[tokio::test]
async fn takes_the_secret_from_the_environment() {
    let mut command = Command::new(BINARY);
    command
        .args(["--port", "0", "--db", ":memory:"])
        .env("CONVEX_STORAGE_AUTH_SECRET", SECRET);
    let server = ServerProcess::start(command).unwrap();
    let client = reqwest::Client::new();
    let got = call(
        &client,
        server.url(),
        "query",
        "getManyById",
        json!({"requests": []}),
    )
    .await;
    drop(server);
    assert_eq!(got.unwrap(), json!([]));
}

/// Writers stream insertMany batches; the server is SIGKILLed mid-stream and restarted on the
/// same file. Every acknowledged batch must be there whole; no batch may be there in part.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_batches_survive_kill_9_whole() {
    use_this_binary();
    const WRITERS: usize = 4;
    const BATCH_SIZE: usize = 5;
    const ACKNOWLEDGED_BEFORE_KILL: usize = 120;
    let dir = TempDir::new("crash");
    let db = EmulatorDb::File(dir.path("db.sqlite3"));
    let mut server = ServerProcess::start_emulator(SECRET, &db).unwrap();
    let url = server.url().to_string();
    let acknowledged_total = Arc::new(AtomicUsize::new(0));
    // Per writer: (batches attempted, batches acknowledged).
    let progress = Arc::new(Mutex::new(vec![(0usize, Vec::<usize>::new()); WRITERS]));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (url, total, progress) = (url.clone(), acknowledged_total.clone(), progress.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for b in 0.. {
                let batch: Vec<Json> = (0..BATCH_SIZE)
                    .map(|j| execution_json(&format!("w{w}-b{b}-{j}")))
                    .collect();
                progress.lock().unwrap()[w].0 = b + 1;
                match call(
                    &client,
                    &url,
                    "mutation",
                    "insertMany",
                    json!({"executions": batch}),
                )
                .await
                {
                    Ok(_) => {
                        progress.lock().unwrap()[w].1.push(b);
                        total.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        assert!(e.starts_with("transport") || e.starts_with("body"), "{e}");
                        return;
                    }
                }
            }
        }));
    }
    while acknowledged_total.load(Ordering::SeqCst) < ACKNOWLEDGED_BEFORE_KILL {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.kill();
    for writer in writers {
        writer.await.unwrap();
    }

    let server = ServerProcess::start_emulator(SECRET, &db).unwrap();
    let client = reqwest::Client::new();
    let progress = progress.lock().unwrap().clone();
    let mut partially_present = Vec::new();
    let mut lost = Vec::new();
    for (w, (attempted, acknowledged)) in progress.iter().enumerate() {
        for b in 0..*attempted {
            let requests: Vec<Json> = (0..BATCH_SIZE)
                .map(|j| json!({"executionId": format!("w{w}-b{b}-{j}")}))
                .collect();
            let docs = call(
                &client,
                server.url(),
                "query",
                "getManyById",
                json!({"requests": requests}),
            )
            .await
            .unwrap();
            let present = docs
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| !d.is_null())
                .count();
            if present != 0 && present != BATCH_SIZE {
                partially_present.push((w, b, present));
            }
            if acknowledged.contains(&b) && present != BATCH_SIZE {
                lost.push((w, b));
            }
        }
    }
    assert!(
        partially_present.is_empty(),
        "partial batches: {partially_present:?}"
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let acknowledged: usize = progress.iter().map(|(_, a)| a.len()).sum();
    assert!(acknowledged >= ACKNOWLEDGED_BEFORE_KILL);
}

/// N claimers against M ready executions over HTTP: each execution is claimed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_http_claimers_claim_each_execution_exactly_once() {
    use_this_binary();
    const EXECUTIONS: usize = 300;
    const CLAIMERS: usize = 8;
    /// Bounds the loop if claims stop making progress (a bug), independent of time.
    const CALLS_PER_CLAIMER_MAX: usize = 20_000;
    let dir = TempDir::new("claimers");
    let server =
        ServerProcess::start_emulator(SECRET, &EmulatorDb::File(dir.path("db.sqlite3"))).unwrap();
    let url = server.url().to_string();
    let client = reqwest::Client::new();
    for chunk in 0..EXECUTIONS / 100 {
        let batch: Vec<Json> = (0..100)
            .map(|i| execution_json(&format!("e{}", chunk * 100 + i)))
            .collect();
        call(
            &client,
            &url,
            "mutation",
            "insertMany",
            json!({"executions": batch}),
        )
        .await
        .unwrap();
    }
    let claimed_total = Arc::new(AtomicUsize::new(0));
    let mut claimers = Vec::new();
    for c in 0..CLAIMERS {
        let (url, total) = (url.clone(), claimed_total.clone());
        claimers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut mine = Vec::new();
            for _ in 0..CALLS_PER_CLAIMER_MAX {
                if total.load(Ordering::SeqCst) >= EXECUTIONS {
                    break;
                }
                let args = json!({"shard": 0, "status": "ready", "startAtLessThan": 1e15, "limit": 4,
                    "updateExpiresAtWithStartedAt": 0,
                    "update": {"status": "running", "executorId": format!("claimer-{c}"), "updatedAt": 0}});
                let got = call(&client, &url, "action", "updateByStatusAndStartAtLessThanAndReturn", args)
                    .await
                    .unwrap();
                for doc in got.as_array().unwrap() {
                    mine.push(doc["executionId"].as_str().unwrap().to_string());
                    total.fetch_add(1, Ordering::SeqCst);
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "some execution was claimed twice");
    assert_eq!(all.len(), EXECUTIONS, "every execution was claimed");
}
