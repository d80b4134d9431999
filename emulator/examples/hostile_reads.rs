//! What a hostile read costs the emulator (not a test): one ~900 KiB document asked for 512 and
//! 8,192 times in one `getManyById`, over HTTP to the real binary. Convex's read limit stops
//! both after 16 MiB; this prints how long each took and the binary's peak RSS (VmHWM).
//!
//! `cargo run --release -p convex-storage-emulator --example hostile_reads`

use std::time::Instant;

use convex_storage_testkit::{EmulatorDb, ServerProcess};

use serde_json::{json, Value};

const SECRET: &str = "hostile-reads";

fn execution(id: &str, input_bytes: usize) -> Value {
    json!({
        "shard": 0, "taskId": "task", "executionId": id, "isSleepingTask": false,
        "retryOptions": {"maxAttempts": 1}, "sleepMsBeforeRun": 0, "timeoutMs": 1000,
        "areChildrenSequential": false, "input": "x".repeat(input_bytes),
        "status": "ready", "isFinished": false, "retryAttempts": 0, "startAt": 0, "acc": 0,
        "ocfpStatus": "idle", "closeStatus": "idle", "npc": false, "createdAt": 0, "updatedAt": 0,
    })
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // testkit builds the binary in this example's profile (release with `--release`).
    let server = ServerProcess::start_emulator(SECRET, &EmulatorDb::Memory).expect("starting");
    let url = server.url().to_string();
    let client = reqwest::Client::new();
    let call = |kind: &'static str, function: &'static str, args: Value| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let body = json!({"path": format!("taskExecutionsStorage:{function}"),
                "args": [{"authSecret": SECRET, "args": args}], "format": "json"});
            let answer: Value = client
                .post(format!("{url}/api/{kind}"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer
        }
    };
    call(
        "mutation",
        "insertMany",
        json!({"executions": [execution("big", 900 * 1024)]}),
    )
    .await;
    println!("after insert: peak RSS {:.1} MB", peak_rss_mb(server.pid()));
    for repeats in [512, 8192] {
        let requests: Vec<Value> = (0..repeats)
            .map(|_| json!({"executionId": "big"}))
            .collect();
        let started = Instant::now();
        let answer = call("query", "getManyById", json!({"requests": requests})).await;
        let message = answer["errorMessage"].as_str().unwrap_or("(answered)");
        println!(
            "{repeats} x getManyById(900 KiB): {:.1} ms, peak RSS {:.1} MB: {}",
            started.elapsed().as_secs_f64() * 1000.0,
            peak_rss_mb(server.pid()),
            message.lines().nth(1).unwrap_or(message)
        );
    }
}
