//! The inspector's page and JSON endpoints under `/_emulator/`, through the router: the page is
//! public, the data needs the secret, the counts and pages agree with what was stored, and the
//! request log records calls without the secret.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{execution_with, Deployment, SECRET, T0};
use convex_storage_emulator::clock::{ClockControl, ManualClock};
use convex_storage_emulator::store::DbLocation;
use convex_storage_emulator::{open_state_with_log, Controls};
use serde_json::{json, Value as Json};
use std::sync::Arc;

/// GETs `route` with the secret; returns the status and the parsed body.
async fn api(deployment: &Deployment, route: &str) -> (StatusCode, Json) {
    let request = Request::get(route)
        .header("authorization", format!("Bearer {SECRET}"))
        .body(Body::empty())
        .unwrap();
    let (status, text) = deployment.send(request).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Json::String(text)),
    )
}

async fn ok(deployment: &Deployment, route: &str) -> Json {
    let (status, body) = api(deployment, route).await;
    assert_eq!(status, StatusCode::OK, "{route}: {body}");
    body
}

/// A small store: two shards, every pipeline represented.
///
/// | executionId | shard | status | notes |
/// |---|---|---|---|
/// | r0, r1 | 0 | ready | due now |
/// | later | 0 | ready | startAt far ahead |
/// | r2 | 1 | ready | due now |
/// | done0, done1 | 1 | completed | finished, closed |
/// | stuck | 0 | running | expiresAt passed |
/// | parent | 0 | waiting_for_children | acc 2, ocfp idle |
/// | kid0, kid1 | 1 | ready | children of parent, taskId "child" |
async fn seeded() -> Deployment {
    let deployment = Deployment::new();
    let far = T0 as f64 + 1e9;
    deployment
        .insert(vec![
            execution_with("r0", json!({})),
            execution_with("r1", json!({})),
            execution_with("later", json!({ "startAt": far })),
            execution_with("r2", json!({ "shard": 1 })),
            execution_with(
                "done0",
                json!({ "shard": 1, "status": "completed", "isFinished": true, "closeStatus": "closed" }),
            ),
            execution_with(
                "done1",
                json!({ "shard": 1, "status": "completed", "isFinished": true, "closeStatus": "closed" }),
            ),
            execution_with("stuck", json!({ "status": "running", "expiresAt": 1 })),
            execution_with(
                "parent",
                json!({ "status": "waiting_for_children", "acc": 2, "children": [
                    { "taskId": "child", "executionId": "kid0" },
                    { "taskId": "child", "executionId": "kid1" },
                ]}),
            ),
        ])
        .await;
    let kid = |id: &str, index: u32| {
        execution_with(
            id,
            json!({ "shard": 1, "taskId": "child", "rootTaskId": "task", "rootExecutionId": "parent",
                    "parentTaskId": "task", "parentExecutionId": "parent",
                    "indexInParentChildren": index, "isOnlyChildOfParent": false,
                    "isFinalizeOfParent": false }),
        )
    };
    deployment
        .insert(vec![kid("kid0", 0), kid("kid1", 1)])
        .await;
    // The insert moved `stuck`'s past expiresAt to now + 1 s; let it expire.
    deployment.clock.advance_ms(5_000);
    deployment
}

fn ids(page: &Json) -> Vec<String> {
    let mut ids: Vec<String> = page["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["executionId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_page_is_public_and_the_data_needs_the_secret() {
    let deployment = Deployment::new();
    for route in ["/_emulator/", "/_emulator"] {
        let (status, page) = deployment
            .send(Request::get(route).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert!(
            page.contains("<script src=\"/_emulator/assets/inspector.js\""),
            "{page}"
        );
    }
    for asset in ["inspector.js", "inspector.css", "favicon.svg"] {
        let request = Request::get(format!("/_emulator/assets/{asset}"))
            .body(Body::empty())
            .unwrap();
        let (status, body) = deployment.send(request).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(!body.is_empty());
    }
    let missing = Request::get("/_emulator/assets/nope.js")
        .body(Body::empty())
        .unwrap();
    assert_eq!(deployment.send(missing).await.0, StatusCode::NOT_FOUND);

    for route in [
        "/_emulator/api/overview",
        "/_emulator/api/executions",
        "/_emulator/api/executions/x",
        "/_emulator/api/requests",
        "/_emulator/api/requests/1",
    ] {
        for authorization in [None, Some("Bearer wrong".to_string())] {
            let mut request = Request::get(route);
            if let Some(value) = &authorization {
                request = request.header("authorization", value);
            }
            let (status, body) = deployment.send(request.body(Body::empty()).unwrap()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{route} {authorization:?}"
            );
            assert_eq!(
                serde_json::from_str::<Json>(&body).unwrap()["code"],
                "Unauthorized"
            );
        }
    }
}

#[tokio::test]
async fn the_overview_counts_what_is_stored() {
    let deployment = seeded().await;
    let overview = ok(&deployment, "/_emulator/api/overview").await;
    assert_eq!(overview["total"], 10);
    assert_eq!(overview["shards"], json!([0.0, 1.0]));
    assert_eq!(
        overview["statuses"],
        json!({ "ready": 6, "completed": 2, "running": 1, "waiting_for_children": 1 })
    );
    let shard0 = &overview["byShard"][0];
    assert_eq!(shard0["total"], 5);
    assert_eq!(shard0["statuses"]["ready"], 3);
    assert_eq!(
        overview["byShard"][1]["statuses"],
        json!({ "ready": 3, "completed": 2 })
    );
    assert_eq!(overview["readyDueNow"], 5);
    assert_eq!(overview["readyLater"], 1);
    assert_eq!(overview["runningPastExpiresAt"], 1);
    assert_eq!(overview["waitingForChildren"], 1);
    assert_eq!(overview["parentsWithActiveChildren"], 1);
    assert_eq!(overview["ocfpStatus"], json!({ "idle": 10 }));
    assert_eq!(overview["closeStatus"], json!({ "idle": 8, "closed": 2 }));
    assert_eq!(overview["oldestReady"]["executionId"], "r0");

    // The bulk states (`idle`, `closed`) are what the other states leave: still exact.
    let busy = json!({ "shard": 1, "status": "waiting_for_children", "ocfpStatus": "processing",
                       "closeStatus": "closing" });
    deployment.insert(vec![execution_with("busy", busy)]).await;
    let overview = ok(&deployment, "/_emulator/api/overview").await;
    assert_eq!(
        overview["ocfpStatus"],
        json!({ "idle": 10, "processing": 1 })
    );
    assert_eq!(
        overview["closeStatus"],
        json!({ "idle": 8, "closed": 2, "closing": 1 })
    );
    assert_eq!(overview["waitingForChildren"], 2);
}

#[tokio::test]
async fn the_list_filters_through_indexes_and_pages_with_a_cursor() {
    let deployment = seeded().await;
    let list = |query: &str| format!("/_emulator/api/executions?{query}");
    let page = ok(&deployment, &list("status=ready")).await;
    assert_eq!(ids(&page), ["kid0", "kid1", "later", "r0", "r1", "r2"]);
    assert_eq!(page["index"], "by_shard_status_startAt");
    assert_eq!(page["nextCursor"], Json::Null);
    let page = ok(&deployment, &list("status=ready&shard=0")).await;
    assert_eq!(ids(&page), ["later", "r0", "r1"]);
    let due = format!("status=ready&startAtBefore={}", T0 + 10_000);
    assert_eq!(
        ids(&ok(&deployment, &list(&due)).await),
        ["kid0", "kid1", "r0", "r1", "r2"]
    );
    let page = ok(&deployment, &list("taskId=child")).await;
    assert_eq!(ids(&page), ["kid0", "kid1"]);
    assert_eq!(page["index"], "by_creation_time");
    let page = ok(&deployment, &list("isFinished=true&closeStatus=closed")).await;
    assert_eq!(ids(&page), ["done0", "done1"]);
    let page = ok(&deployment, &list("closeStatus=closed&shard=0")).await;
    assert_eq!(ids(&page), Vec::<String>::new());
    let expired = format!("status=running&expiresAtBefore={}", T0 + 5_000);
    assert_eq!(ids(&ok(&deployment, &list(&expired)).await), ["stuck"]);
    assert_eq!(
        ids(&ok(&deployment, &list("activeChildren=true")).await),
        ["parent"]
    );
    assert_eq!(ids(&ok(&deployment, &list("q=kid1")).await), ["kid1"]);
    assert_eq!(
        ids(&ok(&deployment, &list("q=nobody")).await),
        Vec::<String>::new()
    );

    // Newest first by default; a page of 3 at a time visits each execution once.
    for query in ["limit=3", "status=ready&limit=3", "taskId=child&limit=1"] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = ok(&deployment, &list(&format!("{query}{cursor}"))).await;
            seen.extend(ids(&page));
            match page["nextCursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{query}: {seen:?}");
        let all = match query {
            q if q.starts_with("limit") => 10,
            q if q.starts_with("status") => 6,
            _ => 2,
        };
        assert_eq!(seen.len(), all, "{query}: {seen:?}");
    }
    let newest = ok(&deployment, &list("limit=1")).await;
    assert_eq!(newest["executions"][0]["executionId"], "kid1");

    for bad in [
        "cursor=zz",
        "limit=0",
        "limit=100000",
        "shard=abc",
        "colour=red",
    ] {
        let (status, body) = api(&deployment, &list(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "BadRequest");
    }
}

#[tokio::test]
async fn an_execution_shows_its_fields_its_tree_and_the_calls_that_touched_it() {
    let deployment = seeded().await;
    let parent = ok(&deployment, "/_emulator/api/executions/parent").await;
    let stored = &parent["execution"];
    assert_eq!(stored["executionId"], "parent");
    assert!(stored["_id"].is_string() && stored["_creationTime"].is_number());
    assert_eq!(stored["acc"], 2.0);
    assert_eq!(stored["input"], "in");
    assert_eq!(parent["children"]["total"], 2);
    assert_eq!(
        ids(&json!({ "executions": parent["children"]["shown"] })),
        ["kid0", "kid1"]
    );
    assert_eq!(parent["parent"], Json::Null);
    // The first insert stored it, the second named it as the kids' parent.
    assert_eq!(parent["calls"].as_array().unwrap().len(), 2);

    let kid = ok(&deployment, "/_emulator/api/executions/kid0").await;
    assert_eq!(kid["parent"]["executionId"], "parent");
    assert_eq!(kid["parent"]["execution"]["status"], "waiting_for_children");
    assert_eq!(kid["root"]["execution"]["executionId"], "parent");
    assert_eq!(kid["children"]["total"], 0);
    assert_eq!(
        kid["calls"][0]["function"],
        "taskExecutionsStorage:insertMany"
    );

    let (status, body) = api(&deployment, "/_emulator/api/executions/nobody").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NotFound"))
    );
}

#[tokio::test]
async fn the_request_log_keeps_calls_without_the_secret() {
    let deployment = seeded().await;
    deployment
        .call(
            "query",
            "getManyById",
            json!({ "requests": [{ "executionId": "r0" }] }),
        )
        .await
        .unwrap();
    let failed = deployment
        .call(
            "mutation",
            "insertMany",
            json!({ "executions": [common::execution("r0")] }),
        )
        .await;
    assert!(failed.is_err());

    let log = ok(&deployment, "/_emulator/api/requests").await;
    assert_eq!(log["capacity"], 1000);
    assert_eq!(log["latestSeq"], 4);
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    let newest = &entries[0];
    assert_eq!(newest["seq"], 4);
    assert_eq!(newest["function"], "taskExecutionsStorage:insertMany");
    assert_eq!(newest["endpoint"], "mutation");
    assert_eq!(newest["outcome"], "error");
    let error = newest["error"].as_str().unwrap();
    assert!(
        error.starts_with("Uncaught Error: ") && !error.contains('\n'),
        "{error}"
    );
    assert_eq!(entries[1]["outcome"], "success");
    assert_eq!(entries[1]["function"], "taskExecutionsStorage:getManyById");
    // What each call read and wrote, from the store's meter.
    let read = &entries[1]["usage"];
    assert_eq!(
        (
            read["documentsRead"].as_u64(),
            read["documentsWritten"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert!(read["bytesRead"].as_u64().unwrap() > 0);
    assert_eq!(read["changedExecutionIds"], json!([]));
    let refused = &newest["usage"];
    assert_eq!(
        refused["documentsWritten"], 0,
        "the duplicate insert rolled back"
    );
    assert_eq!(refused["changedExecutionIds"], json!([]));
    let seeding = &entries[3]["usage"];
    assert_eq!(seeding["documentsWritten"], 8);
    assert_eq!(seeding["changedExecutionIdsTotal"], 8);
    assert_eq!(seeding["changedExecutionIds"][0], "done0", "sorted");
    assert_eq!(newest["timeMs"], T0 + 5_000);

    let since = ok(&deployment, "/_emulator/api/requests?after=3").await;
    assert_eq!(since["entries"].as_array().unwrap().len(), 1);
    let about = ok(&deployment, "/_emulator/api/requests?executionId=stuck").await;
    assert_eq!(about["entries"].as_array().unwrap().len(), 1);

    let call = ok(&deployment, "/_emulator/api/requests/3").await;
    let args = call["args"]["text"].as_str().unwrap();
    assert!(args.contains(r#""authSecret":"[redacted]""#), "{args}");
    assert!(args.contains(r#""executionId":"r0""#));
    let result: Json = serde_json::from_str(call["result"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(result[0]["executionId"], "r0");
    for seq in 1..=4 {
        let call = ok(&deployment, &format!("/_emulator/api/requests/{seq}")).await;
        assert!(
            !call.to_string().contains(SECRET),
            "call {seq} holds the secret"
        );
    }
    let (status, _) = api(&deployment, "/_emulator/api/requests/99").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_log_keeps_only_the_last_n_calls() {
    let clock = Arc::new(ManualClock::new(T0));
    let controls = Controls {
        clock: ClockControl::Fixed(clock.clone()),
        faults: None,
    };
    let state = open_state_with_log(
        &DbLocation::Memory,
        SECRET.to_string(),
        common::MODULE.to_string(),
        controls,
        2,
    )
    .unwrap();
    let deployment = Deployment {
        app: convex_storage_emulator::app(state.clone()),
        clock,
        state,
    };
    for i in 0..5 {
        deployment
            .insert(vec![common::execution(&format!("e{i}"))])
            .await;
    }
    let log = ok(&deployment, "/_emulator/api/requests").await;
    let seqs: Vec<u64> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [5, 4]);
}

#[tokio::test]
async fn a_call_whose_reply_a_fault_replaced_is_logged_as_such() {
    let clock = Arc::new(ManualClock::new(T0));
    let controls = Controls {
        clock: ClockControl::Fixed(clock.clone()),
        faults: Some(
            convex_storage_emulator::faults::FaultPlan::parse_spec(
                "seed=1;getManyById:fail@every=1",
            )
            .unwrap(),
        ),
    };
    let state = open_state_with_log(
        &DbLocation::Memory,
        SECRET.to_string(),
        common::MODULE.to_string(),
        controls,
        10,
    )
    .unwrap();
    let deployment = Deployment {
        app: convex_storage_emulator::app(state.clone()),
        clock,
        state,
    };
    let body = json!({
        "path": "taskExecutionsStorage:getManyById",
        "args": [{ "authSecret": SECRET, "args": { "requests": [] } }],
    });
    let (status, _) = deployment.post("/api/query", body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let log = ok(&deployment, "/_emulator/api/requests").await;
    let entry = &log["entries"][0];
    assert_eq!(entry["outcome"], "error");
    assert!(
        entry["error"]
            .as_str()
            .unwrap()
            .starts_with("Injected fault"),
        "{entry}"
    );
    assert_eq!(entry["usage"], Json::Null);
}

#[test]
fn the_binary_refuses_a_request_log_beyond_its_limit() {
    let binary = convex_storage_testkit::emulator_binary().unwrap();
    let too_many = (convex_storage_emulator::limits::REQUEST_LOG_ENTRIES_MAX + 1).to_string();
    let output = std::process::Command::new(binary)
        .args(["--auth-secret", "s", "--port", "0", "--db", ":memory:"])
        .args(["--request-log-size", &too_many])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--request-log-size"), "{stderr}");
}
