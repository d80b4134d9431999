//! Controllable time and seeded fault injection: `/_emulator/clock`, `/_emulator/faults`, the
//! faults in the call path, and the `--clock` / `--faults` flags of the binary.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{execution, ids, json_reply, Deployment, MODULE, SECRET, T0};
use convex_storage_emulator::clock::{Clock, ClockControl, ManualClock};
use convex_storage_emulator::faults::FaultPlan;
use convex_storage_emulator::limits::LOCK_EXPIRY_MS;
use convex_storage_emulator::store::DbLocation;
use convex_storage_emulator::{app, open_state_with, Controls};
use convex_storage_testkit::{EmulatorDb, ServerProcess, EMULATOR_BIN_ENV};
use serde_json::{json, Value as Json};
use tower::ServiceExt;

const BINARY: &str = env!("CARGO_BIN_EXE_convex-storage-emulator");

/// A deployment on a manual clock at [`T0`] that the routes can move, with `faults` if given.
fn deployment(faults: Option<&str>) -> Deployment {
    let clock = Arc::new(ManualClock::new(T0));
    let controls = Controls {
        clock: ClockControl::Manual(clock.clone()),
        faults: faults.map(|spec| FaultPlan::parse_spec(spec).unwrap()),
    };
    let state = open_state_with(
        &DbLocation::Memory,
        SECRET.to_string(),
        MODULE.to_string(),
        controls,
    )
    .unwrap();
    Deployment {
        app: app(state.clone()),
        clock,
        state,
    }
}

async fn control(deployment: &Deployment, method: &str, body: Option<Json>) -> (StatusCode, Json) {
    control_at(deployment, method, "/_emulator/clock", body).await
}

async fn control_at(
    deployment: &Deployment,
    method: &str,
    route: &str,
    body: Option<Json>,
) -> (StatusCode, Json) {
    let request = Request::builder()
        .method(method)
        .uri(route)
        .header("authorization", format!("Bearer {SECRET}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let (status, text) = deployment.send(request).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Json::String(text)),
    )
}

#[tokio::test]
async fn the_manual_clock_moves_only_forward_through_the_route() {
    let d = deployment(None);
    let (status, body) = control(&d, "GET", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"mode": "manual", "nowMs": T0}));

    let (_, body) = control(&d, "POST", Some(json!({"advanceMs": 60_000}))).await;
    assert_eq!(body, json!({"mode": "manual", "nowMs": T0 + 60_000}));
    let (_, body) = control(&d, "POST", Some(json!({"setMs": T0 + 90_000}))).await;
    assert_eq!(body["nowMs"], T0 + 90_000);

    for bad in [
        json!({"setMs": T0}),
        json!({"advanceMs": -1}),
        json!({"advanceMs": 1, "setMs": T0 + 100_000}),
        json!({}),
        json!({"advanceMs": 1.5}),
        json!({"jumpMs": 1}),
        json!("soon"),
    ] {
        let (status, body) = control(&d, "POST", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "BadRequest", "{bad}");
        assert!(body["message"].as_str().unwrap().len() > 10);
    }
    let (_, body) = control(&d, "POST", Some(json!({"setMs": T0}))).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("never goes backwards"),
        "{body}"
    );
    let (_, body) = control(&d, "GET", None).await;
    assert_eq!(body["nowMs"], T0 + 90_000, "refusals changed nothing");
}

#[tokio::test]
async fn the_system_clock_is_read_but_not_moved() {
    let state = open_state_with(
        &DbLocation::Memory,
        SECRET.to_string(),
        MODULE.to_string(),
        Controls::system(),
    )
    .unwrap();
    let d = Deployment {
        app: app(state.clone()),
        clock: Arc::new(ManualClock::new(0)),
        state,
    };
    let (status, body) = control(&d, "GET", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["mode"], "system");
    assert!(body["nowMs"].as_u64().unwrap() > 1_577_836_800_000);
    let (status, body) = control(&d, "POST", Some(json!({"advanceMs": 1}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "NotEnabled");
    assert!(body["message"].as_str().unwrap().contains("--clock manual"));
    // And fault injection is off.
    for method in ["GET", "POST", "DELETE"] {
        let (status, body) =
            control_at(&d, method, "/_emulator/faults", Some(json!({"seed": 1}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(body["code"], "NotEnabled");
    }
}

#[tokio::test]
async fn clock_and_fault_routes_demand_the_secret() {
    let d = deployment(Some("seed=1"));
    for (method, route) in [
        ("GET", "/_emulator/clock"),
        ("POST", "/_emulator/clock"),
        ("GET", "/_emulator/faults"),
        ("POST", "/_emulator/faults"),
        ("DELETE", "/_emulator/faults"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(route)
            .body(Body::from(r#"{"advanceMs": 1000}"#))
            .unwrap();
        let (status, _) = d.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {route}");
    }
    assert_eq!(d.clock.now_ms(), T0, "nothing moved");
}

#[tokio::test]
async fn time_standing_still_still_gives_increasing_creation_times_and_fresh_rows() {
    let d = deployment(None);
    d.insert(vec![execution("a"), execution("b")]).await;
    d.insert(vec![execution("c")]).await;
    let docs = d.get(&["a", "b", "c"]).await;
    let times: Vec<f64> = docs
        .iter()
        .map(|doc| doc["_creationTime"].as_f64().unwrap())
        .collect();
    assert!(times[0] < times[1] && times[1] < times[2], "{times:?}");
    // Clamps read the manual clock: updatedAt is exactly its reading + 50 ms.
    assert_eq!(docs[0]["updatedAt"].as_f64().unwrap(), (T0 + 50) as f64);
}

#[tokio::test]
async fn fail_and_occ_answer_503_in_convex_shape_and_change_nothing() {
    let d = deployment(Some("seed=3;insertMany:fail@every=2;getManyById:occ"));
    d.insert(vec![execution("a")]).await;
    let body = json!({
        "path": format!("{MODULE}:insertMany"),
        "format": "convex_encoded_json",
        "args": [{"authSecret": SECRET, "args": {"executions": [execution("b")]}}],
    });
    let (status, reply) = d.post("/api/mutation", body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply,
        json!({"code": "ServiceUnavailable", "message": "Service temporarily unavailable"})
    );
    let lookup = json!({
        "path": format!("{MODULE}:getManyById"),
        "format": "convex_encoded_json",
        "args": [{"authSecret": SECRET, "args": {"requests": [{"executionId": "b"}]}}],
    });
    let (status, reply) = d.post("/api/query", lookup).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply["code"], "OptimisticConcurrencyControlFailure");
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .contains("changed while this mutation was being run"));

    let (_, report) = control_at(&d, "GET", "/_emulator/faults", None).await;
    assert_eq!(report["calls"], 3);
    assert_eq!(
        report["injected"],
        json!([
            {"call": 2, "function": "insertMany", "fault": "fail"},
            {"call": 3, "function": "getManyById", "fault": "occ"},
        ])
    );
    // Clearing the plan: "b" was never inserted.
    let (status, cleared) = control_at(&d, "DELETE", "/_emulator/faults", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cleared["plan"], json!({"seed": 3, "rules": []}));
    assert_eq!(cleared["injected"], json!([]));
    assert_eq!(d.get(&["b"]).await, vec![Json::Null]);
}

#[tokio::test]
async fn drop_commits_then_sends_no_reply() {
    let d = deployment(Some("seed=1;insertMany:drop"));
    let request = Request::post("/api/mutation")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({
                "path": format!("{MODULE}:insertMany"),
                "format": "convex_encoded_json",
                "args": [{"authSecret": SECRET, "args": {"executions": [execution("a")]}}],
            })
            .to_string(),
        ))
        .unwrap();
    let response = d.app.clone().oneshot(request).await.unwrap();
    let read = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    assert!(read.is_err(), "the reply never arrives");
    assert_eq!(ids(&Json::Array(d.get(&["a"]).await)), ["a"], "committed");
}

#[tokio::test]
async fn hold_blocks_a_selector_until_the_lock_expires_then_the_next_caller_takes_over() {
    let d = deployment(Some("seed=1"));
    d.insert(vec![execution("a")]).await;
    let plan = json!({"seed": 1, "rules": [{"function": "updateByStatusAndStartAtLessThanAndReturn", "fault": "hold", "every": 1}]});
    let (status, _) = control_at(&d, "POST", "/_emulator/faults", Some(plan)).await;
    assert_eq!(status, StatusCode::OK);
    control(&d, "POST", Some(json!({"advanceMs": 1000}))).await;
    let claim = || async {
        let args = json!({
            "shard": 0, "status": "ready", "startAtLessThan": 1e15, "limit": 10,
            "update": {"status": "running", "updatedAt": 0}, "updateExpiresAtWithStartedAt": 0,
        });
        d.call("action", "updateByStatusAndStartAtLessThanAndReturn", args)
            .await
            .unwrap()
    };
    assert_eq!(claim().await, json!([]), "the crashed holder has the lock");
    control_at(&d, "DELETE", "/_emulator/faults", None).await;
    assert_eq!(
        claim().await,
        json!([]),
        "still held: time has not passed its expiry"
    );
    control(&d, "POST", Some(json!({"advanceMs": LOCK_EXPIRY_MS}))).await;
    let claimed = claim().await;
    assert_eq!(ids(&claimed), ["a"], "taken over after the expiry");
}

#[tokio::test]
async fn a_bad_plan_is_refused_and_changes_nothing() {
    let d = deployment(Some("seed=9;insertMany:fail@every=5"));
    for bad in [
        json!({"seed": 1, "rules": [{"function": "nope", "fault": "fail"}]}),
        json!({"seed": 1, "rules": [{"function": "*", "fault": "delay"}]}),
        json!({"seed": 1, "rules": [{"function": "*", "fault": "fail", "probability": 1.5}]}),
        json!({"seed": 1, "rules": [{"function": "insertMany", "fault": "hold"}]}),
        json!({"seed": 1, "rules": [{"function": "*", "fault": "fail", "every": 0}]}),
        json!({"seed": -1}),
        json!({"rules": "all"}),
        json!({"seed": 1, "extra": true}),
    ] {
        let (status, body) = control_at(&d, "POST", "/_emulator/faults", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "BadRequest");
    }
    let (_, report) = control_at(&d, "GET", "/_emulator/faults", None).await;
    assert_eq!(report["spec"], "seed=9;insertMany:fail@every=5");
}

#[tokio::test]
async fn the_same_seed_and_calls_give_the_same_fault_log() {
    let plan = "seed=42;*:fail@p=0.3;insertMany:drop@p=0.2";
    let mut logs = Vec::new();
    for _ in 0..2 {
        let d = deployment(Some(plan));
        for i in 0..30 {
            let id = format!("e{i}");
            let body = json!({
                "path": format!("{MODULE}:insertMany"),
                "format": "convex_encoded_json",
                "args": [{"authSecret": SECRET, "args": {"executions": [execution(&id)]}}],
            });
            let request = Request::post("/api/mutation")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let response = d.app.clone().oneshot(request).await.unwrap();
            let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        }
        let (_, report) = control_at(&d, "GET", "/_emulator/faults", None).await;
        logs.push(report["injected"].clone());
    }
    assert_eq!(logs[0], logs[1]);
    assert!(logs[0].as_array().unwrap().len() > 5, "{}", logs[0]);
}

/// The binary: `--clock manual --clock-start-ms`, `--faults`, and a dropped reply over TCP.
#[tokio::test]
async fn the_binary_takes_the_clock_and_fault_flags() {
    std::env::set_var(EMULATOR_BIN_ENV, BINARY);
    let server = ServerProcess::start_emulator_with_args(
        SECRET,
        &EmulatorDb::Memory,
        &[
            "--clock",
            "manual",
            "--clock-start-ms",
            "1700000000000",
            "--faults",
            "seed=5;insertMany:drop@every=2",
        ],
    )
    .unwrap();
    let client = reqwest::Client::new();
    let clock = json_reply(
        client
            .post(format!("{}/_emulator/clock", server.url()))
            .bearer_auth(SECRET)
            .json(&json!({"advanceMs": 5})),
    )
    .await;
    assert_eq!(
        clock,
        json!({"mode": "manual", "nowMs": 1_700_000_000_005u64})
    );
    let insert = |id: &str| {
        json!({
            "path": format!("{MODULE}:insertMany"),
            "format": "convex_encoded_json",
            "args": [{"authSecret": SECRET, "args": {"executions": [execution(id)]}}],
        })
    };
    let first = client
        .post(format!("{}/api/mutation", server.url()))
        .json(&insert("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = async {
        client
            .post(format!("{}/api/mutation", server.url()))
            .json(&insert("b"))
            .send()
            .await?
            .bytes()
            .await
    }
    .await;
    assert!(second.is_err(), "no reply: {second:?}");
    let faults = json_reply(
        client
            .get(format!("{}/_emulator/faults", server.url()))
            .bearer_auth(SECRET),
    )
    .await;
    assert_eq!(faults["injected"][0]["function"], "insertMany");
    assert_eq!(faults["injected"][0]["fault"], "drop");
}

/// The in-process handle: a server bound with a manual clock, moved through its state.
#[tokio::test]
async fn a_server_bound_in_process_exposes_its_manual_clock() {
    let config = convex_storage_emulator::Config {
        auth_secret: SECRET.to_string(),
        host: "127.0.0.1".to_string(),
        port: 0,
        db: DbLocation::Memory,
        module: MODULE.to_string(),
        request_log_size: 10,
    };
    let controls = Controls {
        clock: ClockControl::manual(Some(T0)),
        faults: None,
    };
    let server = convex_storage_emulator::Server::bind_with(&config, controls)
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    let clock = server.state().clock.manual_clock().unwrap().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        stopped.await.ok();
    }));
    assert_eq!(clock.try_advance_ms(60_000), Ok(T0 + 60_000));
    let reading = json_reply(
        reqwest::Client::new()
            .get(format!("{url}/_emulator/clock"))
            .bearer_auth(SECRET),
    )
    .await;
    assert_eq!(reading, json!({"mode": "manual", "nowMs": T0 + 60_000}));
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

#[test]
fn the_binary_refuses_bad_clock_and_fault_flags() {
    for args in [
        vec!["--faults", "insertMany:explode"],
        vec!["--clock", "sundial"],
        vec!["--clock-start-ms", "5"],
    ] {
        let output = std::process::Command::new(BINARY)
            .args(["--auth-secret", SECRET, "--db", ":memory:", "--port", "0"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}: never listening");
        assert!(!String::from_utf8_lossy(&output.stderr).is_empty());
    }
}
