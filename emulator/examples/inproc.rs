//! In-process timing of the functions layer and store, without HTTP (not a test).
//!
//! `cargo run --release --example inproc -- /tmp/bench.sqlite3 20000`

use std::sync::Arc;
use std::time::Instant;

use convex_storage_emulator::clock::SystemClock;
use convex_storage_emulator::functions::{Functions, Operation};
use convex_storage_emulator::store::{DbLocation, Store};
use convex_storage_emulator::value::{object, Value};

fn json_to_value(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Boolean(b),
        serde_json::Value::Number(n) => Value::Float64(n.as_f64().unwrap()),
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::Array(a.into_iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, json_to_value(v))).collect())
        }
    }
}

fn envelope(args: serde_json::Value) -> Option<Value> {
    Some(Value::Object(object([
        ("authSecret", "s".into()),
        ("args", json_to_value(args)),
    ])))
}

fn execution(id: &str, shard: usize) -> serde_json::Value {
    serde_json::json!({
        "shard": shard, "taskId": "task", "executionId": id, "isSleepingTask": false,
        "retryOptions": {"maxAttempts": 1}, "sleepMsBeforeRun": 0, "timeoutMs": 60000,
        "areChildrenSequential": false, "input": "input of some typical length",
        "status": "ready", "isFinished": false, "retryAttempts": 0, "startAt": 0, "acc": 0,
        "ocfpStatus": "idle", "closeStatus": "idle", "npc": false, "createdAt": 0, "updatedAt": 0,
    })
}

/// Calls one function through the functions layer, as the HTTP handler would.
async fn call(functions: &Functions, operation: Operation, args: serde_json::Value) -> Value {
    functions.call(operation, envelope(args)).await.unwrap()
}

/// Prints the time since `started` per unit of work.
fn report(what: &str, started: Instant, units: usize) {
    let per_unit = started.elapsed().as_micros() as f64 / units as f64;
    println!("{what}: {per_unit:.1} µs");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "/tmp/inproc.sqlite3".to_string());
    let count: usize = args.next().map(|n| n.parse().unwrap()).unwrap_or(20_000);
    let db = if path == ":memory:" {
        DbLocation::Memory
    } else {
        DbLocation::File(path.into())
    };
    let store = Arc::new(Store::open(&db, Arc::new(SystemClock)).unwrap());
    let functions = Functions::new(store, "s".to_string(), Arc::new(SystemClock));
    let prefix = std::process::id();

    let started = Instant::now();
    for b in 0..count / 1000 {
        let executions: Vec<_> = (0..1000)
            .map(|i| execution(&format!("{prefix}-{}", b * 1000 + i), 0))
            .collect();
        let insert = serde_json::json!({ "executions": executions });
        call(&functions, Operation::InsertMany, insert).await;
    }
    report("insert (per execution)", started, count);

    let started = Instant::now();
    let cycles = count / 4;
    for _ in 0..cycles {
        let claim = serde_json::json!({"shard": 0, "status": "ready", "startAtLessThan": 1e15, "limit": 1,
            "updateExpiresAtWithStartedAt": 0,
            "update": {"status": "running", "executorId": "w", "startedAt": 0, "updatedAt": 0}});
        let claimed = call(
            &functions,
            Operation::UpdateByStatusAndStartAtLessThanAndReturn,
            claim,
        )
        .await;
        let Value::Array(docs) = claimed else {
            panic!()
        };
        let Value::Object(doc) = &docs[0] else {
            panic!("nothing claimed")
        };
        let id = doc["executionId"].as_str().unwrap().to_string();
        let complete = serde_json::json!({"requests": [{"executionId": id, "filters": {"status": "running"},
            "update": {"status": "completed", "isFinished": true, "output": "done", "finishedAt": 0,
                       "updatedAt": 0, "unset": {"executorId": true, "expiresAt": true}}}]});
        call(&functions, Operation::UpdateManyById, complete).await;
    }
    report("claim+complete (per cycle)", started, cycles);

    let started = Instant::now();
    for i in 0..count {
        let get = serde_json::json!({"requests": [{"executionId": format!("{prefix}-{i}")}]});
        call(&functions, Operation::GetManyById, get).await;
    }
    report("getManyById (per call)", started, count);
}
