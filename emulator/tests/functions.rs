//! In-process router tests of what each storage function does (SPEC.md §3-5), with a manual
//! clock so every timestamp is exact.

mod common;

use common::{execution, execution_with, ids, Deployment, T0};
use serde_json::{json, Value as Json};

/// "now" inside a mutation at T0.
const NOW: f64 = (T0 + 50) as f64;

fn far_future() -> f64 {
    (T0 + 1_000_000_000) as f64
}

#[tokio::test]
async fn insert_many_clamps_times_and_returns_documents_with_system_fields() {
    let d = Deployment::new();
    let e = execution_with(
        "i1",
        json!({
            "startAt": 5,
            "expiresAt": 1,
            "ocfpExpiresAt": 0,
            "closeExpiresAt": far_future(),
            "createdAt": 7,
            "updatedAt": far_future(),
        }),
    );
    assert_eq!(
        d.call("mutation", "insertMany", json!({"executions": [e]}))
            .await
            .unwrap(),
        Json::Null
    );
    let doc = d.get(&["i1"]).await.remove(0);
    assert_eq!(doc["startAt"], json!(NOW));
    assert_eq!(doc["expiresAt"], json!(NOW + 1000.0));
    assert_eq!(
        doc["ocfpExpiresAt"],
        json!(0.0),
        "0 is not clamped (upstream's `x && x < now`)"
    );
    assert_eq!(doc["closeExpiresAt"], json!(far_future()));
    assert_eq!(doc["createdAt"], json!(NOW));
    assert_eq!(doc["updatedAt"], json!(NOW));
    let id = doc["_id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert_eq!(
        convex_storage_emulator::id::DocumentId::decode(id)
            .unwrap()
            .table_number,
        convex_storage_emulator::id::TASK_EXECUTIONS_TABLE_NUMBER
    );
    assert!(doc["_creationTime"].as_f64().unwrap() >= T0 as f64);
    assert!(
        doc.get("startedAt").is_none(),
        "absent optional fields stay absent"
    );
}

#[tokio::test]
async fn documents_come_back_with_exactly_the_fields_written() {
    let d = Deployment::new();
    let full = execution_with(
        "full",
        json!({
            "rootTaskId": "rt", "rootExecutionId": "re", "parentTaskId": "pt",
            "parentExecutionId": "pe", "indexInParentChildren": 2, "isOnlyChildOfParent": false,
            "isFinalizeOfParent": true, "sleepingTaskUniqueId": "s-full",
            "retryOptions": {"maxAttempts": 3, "baseDelayMs": 10, "maxDelayMs": 100, "delayMultiplier": 1.5},
            "executorId": "ex", "runOutput": "ro", "output": "out",
            "error": {"errorType": "timed_out", "message": "m", "isRetryable": true, "isInternal": false},
            "startedAt": far_future(), "waitingForChildrenStartedAt": 3, "waitingForFinalizeStartedAt": 4,
            "finishedAt": 5, "children": [{"taskId": "c", "executionId": "ce"}],
            "ocfpFinishedAt": 6, "finalize": {"taskId": "f", "executionId": "fe"}, "closedAt": 8,
            "startAt": far_future(), "input": "ünïcode \u{0} nul",
        }),
    );
    d.insert(vec![full.clone()]).await;
    let mut doc = d.get(&["full"]).await.remove(0);
    let doc = doc.as_object_mut().unwrap();
    doc.remove("_id");
    doc.remove("_creationTime");
    let mut expected = full.as_object().unwrap().clone();
    expected.insert("createdAt".into(), json!(NOW));
    expected.insert("updatedAt".into(), json!(NOW));
    assert_eq!(
        Json::Object(doc.clone()),
        normalize_numbers(Json::Object(expected))
    );
}

/// JSON integers written by the test come back as floats (`5` → `5.0`).
fn normalize_numbers(value: Json) -> Json {
    match value {
        Json::Number(n) => json!(n.as_f64().unwrap()),
        Json::Array(items) => Json::Array(items.into_iter().map(normalize_numbers).collect()),
        Json::Object(fields) => Json::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, normalize_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

#[tokio::test]
async fn insert_many_is_all_or_nothing() {
    let d = Deployment::holding(vec![execution("existing")]).await;
    let batch = json!({"executions": [execution("n1"), execution("n2"), execution("existing"), execution("n3")]});
    let err = d.call("mutation", "insertMany", batch).await.unwrap_err();
    assert_eq!(err, "Uncaught Error: Execution id already exists");
    assert_eq!(d.get(&["n1", "n2", "n3"]).await, vec![Json::Null; 3]);

    let twice = json!({"executions": [execution("t1"), execution("t1")]});
    let err = d.call("mutation", "insertMany", twice).await.unwrap_err();
    assert_eq!(
        err, "Uncaught Error: Execution id already exists",
        "earlier items count"
    );
    assert_eq!(d.get(&["t1"]).await, vec![Json::Null]);
}

#[tokio::test]
async fn sleeping_task_unique_ids_are_unique_unless_empty() {
    let d = Deployment::new();
    let sleeping = |id: &str, unique: &str| {
        execution_with(
            id,
            json!({"isSleepingTask": true, "sleepingTaskUniqueId": unique}),
        )
    };
    d.insert(vec![
        sleeping("s1", "u1"),
        sleeping("e1", ""),
        sleeping("e2", ""),
    ])
    .await;
    let err = d
        .call(
            "mutation",
            "insertMany",
            json!({"executions": [sleeping("s2", "u1")]}),
        )
        .await;
    assert_eq!(
        err.unwrap_err(),
        "Uncaught Error: Sleeping task unique id already exists"
    );
    let found = d
        .call("query", "getManyBySleepingTaskUniqueId", json!({"requests": [
            {"sleepingTaskUniqueId": "u1"}, {"sleepingTaskUniqueId": "nope"}, {"sleepingTaskUniqueId": ""}
        ]}))
        .await
        .unwrap();
    assert_eq!(found[0]["executionId"], "s1");
    assert_eq!(found[1], Json::Null);
    assert_eq!(found[2]["executionId"], "e1", "the oldest of the empty ids");
}

#[tokio::test]
async fn get_many_by_id_applies_filters_in_request_order() {
    let d = Deployment::new();
    d.insert(vec![
        execution("g1"),
        execution_with("g2", json!({"isSleepingTask": true, "status": "running"})),
    ])
    .await;
    let requests = json!({"requests": [
        {"executionId": "g2"},
        {"executionId": "g1", "filters": {"status": "ready", "isFinished": false, "isSleepingTask": false}},
        {"executionId": "g1", "filters": {"status": "running"}},
        {"executionId": "g2", "filters": {"isSleepingTask": false}},
        {"executionId": "g2", "filters": {"isFinished": true}},
        {"executionId": "missing"},
        {"executionId": "g2", "filters": {}},
    ]});
    let docs = d.call("query", "getManyById", requests).await.unwrap();
    let got: Vec<Json> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["executionId"].clone())
        .collect();
    assert_eq!(
        got,
        vec![
            json!("g2"),
            json!("g1"),
            Json::Null,
            Json::Null,
            Json::Null,
            Json::Null,
            json!("g2")
        ]
    );
}

#[tokio::test]
async fn update_many_by_id_updates_matching_documents_in_one_transaction() {
    let d = Deployment::new();
    d.insert(vec![
        execution_with("u1", json!({"executorId": "old", "error": {"errorType": "generic", "message": "x", "isRetryable": false, "isInternal": false}})),
        execution("u2"),
    ])
    .await;
    d.clock.advance_ms(1000);
    let now = NOW + 1000.0;
    let requests = json!({"requests": [
        {"executionId": "u1", "update": {
            "status": "running", "startedAt": 1, "expiresAt": 2, "finishedAt": 0, "updatedAt": 3,
            "executorId": "new", "unset": {"executorId": true, "error": true, "runOutput": false}
        }},
        {"executionId": "u2", "filters": {"status": "running"}, "update": {"status": "failed", "updatedAt": 3}},
        {"executionId": "missing", "update": {"status": "failed", "updatedAt": 3}},
    ]});
    assert_eq!(
        d.call("action", "updateManyById", requests).await.unwrap(),
        Json::Null
    );
    let docs = d.get(&["u1", "u2"]).await;
    assert_eq!(docs[0]["status"], "running");
    assert_eq!(docs[0]["startedAt"], json!(now));
    assert_eq!(docs[0]["expiresAt"], json!(now + 1000.0));
    assert_eq!(docs[0]["finishedAt"], json!(0.0));
    assert_eq!(docs[0]["updatedAt"], json!(now));
    assert!(
        docs[0].get("executorId").is_none(),
        "unset wins over a value"
    );
    assert!(docs[0].get("error").is_none());
    assert_eq!(docs[1]["status"], "ready", "filtered out");
    assert_eq!(docs[1]["updatedAt"], json!(NOW));
}

#[tokio::test]
async fn update_many_by_id_sees_its_own_earlier_updates() {
    let d = Deployment::holding(vec![execution("chain")]).await;
    let requests = json!({"requests": [
        {"executionId": "chain", "filters": {"status": "ready"}, "update": {"status": "running", "updatedAt": 0}},
        {"executionId": "chain", "filters": {"status": "running"}, "update": {"status": "completed", "updatedAt": 0}},
    ]});
    d.call("action", "updateManyById", requests).await.unwrap();
    assert_eq!(d.get(&["chain"]).await[0]["status"], "completed");
}

#[tokio::test]
async fn update_and_insert_children_links_children_to_their_parent() {
    let d = Deployment::holding(vec![execution("p1"), execution("p2")]).await;
    let child = |id: &str| {
        execution_with(
            id,
            json!({"parentExecutionId": "p1", "parentTaskId": "task"}),
        )
    };
    let requests = json!({"requests": [
        {"executionId": "p1", "update": {"status": "waiting_for_children", "acc": 2, "updatedAt": 0},
         "childrenTaskExecutionsToInsertIfAnyUpdated": [child("c1"), child("c2")]},
        {"executionId": "p2", "filters": {"status": "running"}, "update": {"status": "failed", "updatedAt": 0},
         "childrenTaskExecutionsToInsertIfAnyUpdated": [child("c3")]},
    ]});
    d.call(
        "action",
        "updateManyByIdAndInsertChildrenIfUpdated",
        requests,
    )
    .await
    .unwrap();
    let docs = d.get(&["p1", "c1", "c2", "c3", "p2"]).await;
    assert_eq!(docs[0]["status"], "waiting_for_children");
    assert_eq!(docs[1]["parentExecutionDocId"], docs[0]["_id"]);
    assert_eq!(docs[2]["parentExecutionDocId"], docs[0]["_id"]);
    assert_eq!(
        docs[3],
        Json::Null,
        "children of a filtered-out parent are not inserted"
    );
    assert_eq!(docs[4]["status"], "ready");
}

#[tokio::test]
async fn update_and_insert_children_is_all_or_nothing() {
    let d = Deployment::holding(vec![execution("p"), execution("taken")]).await;
    let requests = json!({"requests": [
        {"executionId": "p", "update": {"status": "waiting_for_children", "updatedAt": 0},
         "childrenTaskExecutionsToInsertIfAnyUpdated": [execution("new"), execution("taken")]},
    ]});
    let err = d
        .call(
            "action",
            "updateManyByIdAndInsertChildrenIfUpdated",
            requests,
        )
        .await
        .unwrap_err();
    assert_eq!(err, "Uncaught Error: Execution id already exists");
    let docs = d.get(&["p", "new"]).await;
    assert_eq!(
        docs[0]["status"], "ready",
        "the parent's update was rolled back"
    );
    assert_eq!(docs[1], Json::Null);
}

/// Claims (as executor `ex`) up to `limit` ready executions of shard 0 whose `startAt` is below
/// `less_than`.
async fn claim(d: &Deployment, less_than: f64, limit: f64) -> Result<Json, String> {
    let args = json!({
        "shard": 0, "status": "ready", "startAtLessThan": less_than, "limit": limit,
        "update": {"status": "running", "executorId": "ex", "startedAt": 0, "updatedAt": 0},
        "updateExpiresAtWithStartedAt": far_future(),
    });
    d.call("action", "updateByStatusAndStartAtLessThanAndReturn", args)
        .await
}

#[tokio::test]
async fn claim_takes_ready_executions_in_start_at_order() {
    let d = Deployment::new();
    d.insert(vec![
        execution_with("late", json!({"startAt": NOW + 500.0, "timeoutMs": 10})),
        execution_with("first", json!({"startAt": 0, "timeoutMs": 20})),
        execution_with("second", json!({"startAt": 0, "timeoutMs": 30})),
        execution_with("other-shard", json!({"shard": 1})),
        execution_with("running", json!({"status": "running"})),
    ])
    .await;
    let claimed = claim(&d, NOW + 500.0, 10.0).await.unwrap();
    assert_eq!(
        ids(&claimed),
        ["first", "second"],
        "startAt < x is exclusive; ties by creation"
    );
    assert_eq!(
        claimed[0]["status"], "ready",
        "documents as read before the update"
    );
    let docs = d.get(&["first", "second", "late"]).await;
    assert_eq!(docs[0]["status"], "running");
    assert_eq!(docs[0]["executorId"], "ex");
    assert_eq!(docs[0]["expiresAt"], json!(far_future() + 20.0));
    assert_eq!(docs[1]["expiresAt"], json!(far_future() + 30.0));
    assert_eq!(docs[2]["status"], "ready");
    let again = claim(&d, far_future(), 1.0).await.unwrap();
    assert_eq!(ids(&again), ["late"], "limit 1");
}

#[tokio::test]
async fn claim_limit_must_be_a_non_negative_integer() {
    let d = Deployment::holding(vec![execution("x")]).await;
    for limit in [1.5, -1.0] {
        let err = claim(&d, far_future(), limit).await.unwrap_err();
        assert_eq!(
            err,
            "Uncaught TypeError: Arg 1 `n` to `take` must be a non-negative integer"
        );
    }
    let none = claim(&d, far_future(), 0.0).await.unwrap();
    assert_eq!(none, json!([]));
    // The failed calls released their lock: a valid call goes through.
    let claimed = claim(&d, far_future(), 5.0).await.unwrap();
    assert_eq!(ids(&claimed), ["x"]);
}

/// Claims up to 10 executions of shard 0 waiting for children whose count is zero and whose
/// children-finished processing is idle, applying `update`.
async fn ocfp_claim(d: &Deployment, update: Json) -> Result<Json, String> {
    let args = json!({"shard": 0, "status": "waiting_for_children", "ocfpStatus": "idle", "limit": 10,
                      "update": update});
    d.call(
        "action",
        "updateByStatusAndOCFPStatusAndACCZeroAndReturn",
        args,
    )
    .await
}

#[tokio::test]
async fn ocfp_selector_needs_acc_zero_and_a_stale_update() {
    let d = Deployment::new();
    d.insert(vec![
        execution_with("zero", json!({"status": "waiting_for_children"})),
        execution_with("busy", json!({"status": "waiting_for_children", "acc": 2})),
        execution_with(
            "negzero",
            json!({"status": "waiting_for_children", "acc": {"$float": "AAAAAAAAAIA="}}),
        ),
    ])
    .await;
    let update = json!({"ocfpStatus": "processing", "ocfpExpiresAt": 1, "updatedAt": 0});
    // Written at T0 with updatedAt = T0 + 50: not stale until the clock passes T0 + 50.
    d.clock.advance_ms(50);
    let none = ocfp_claim(&d, update.clone()).await.unwrap();
    assert_eq!(none, json!([]), "updatedAt < clock is strict");
    d.clock.advance_ms(1);
    let got = ocfp_claim(&d, update).await.unwrap();
    assert_eq!(ids(&got), ["zero"], "acc must equal +0");
    let doc = d.get(&["zero"]).await.remove(0);
    assert_eq!(doc["ocfpStatus"], "processing");
    assert_eq!(doc["ocfpExpiresAt"], json!(NOW + 51.0 + 1000.0));
}

#[tokio::test]
async fn close_status_and_executor_selectors_use_their_indexes() {
    let d = Deployment::new();
    d.insert(vec![
        execution_with("closable", json!({"closeStatus": "ready"})),
        execution_with(
            "cancel-me",
            json!({"executorId": "ex1", "npc": true, "status": "running"}),
        ),
        execution_with("other-executor", json!({"executorId": "ex2", "npc": true})),
        execution_with("no-executor", json!({"npc": true})),
    ])
    .await;
    d.clock.advance_ms(100);
    let closed = d
        .call(
            "action",
            "updateByCloseStatusAndReturn",
            json!({"shard": 0, "closeStatus": "ready", "limit": 5,
              "update": {"closeStatus": "closing", "closeExpiresAt": 1, "updatedAt": 0}}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&closed), ["closable"]);
    let npc = d
        .call(
            "action",
            "updateByExecutorIdAndNPCAndReturn",
            json!({"shard": 0, "executorId": "ex1", "npc": true,
              "limit": 5, "update": {"npc": false, "updatedAt": 0}}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&npc), ["cancel-me"]);
    let docs = d.get(&["closable", "cancel-me", "other-executor"]).await;
    assert_eq!(docs[0]["closeStatus"], "closing");
    assert_eq!(docs[1]["npc"], false);
    assert_eq!(docs[2]["npc"], true);
}

#[tokio::test]
async fn expiry_sweeps_count_documents_with_a_deadline_between_zero_and_x() {
    let d = Deployment::new();
    let future = far_future();
    d.insert(vec![
        execution_with("expired", json!({"status": "running", "expiresAt": future})),
        execution_with("zero", json!({"status": "running", "expiresAt": 0})),
        execution_with("none", json!({"status": "running"})),
        execution_with(
            "later",
            json!({"status": "running", "expiresAt": future + 10.0}),
        ),
        execution_with(
            "sleeping",
            json!({"status": "running", "isSleepingTask": true, "expiresAt": future}),
        ),
        execution_with("ocfp", json!({"ocfpExpiresAt": future})),
        execution_with(
            "close",
            json!({"closeExpiresAt": future, "closeStatus": "closing"}),
        ),
    ])
    .await;
    let update = json!({"status": "timed_out", "updatedAt": 0, "unset": {"expiresAt": true}});
    let count = d
        .call("action", "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan", json!({
            "status": "running", "isSleepingTask": false, "expiresAtLessThan": future + 5.0, "update": update, "limit": 10}))
        .await
        .unwrap();
    assert_eq!(
        count,
        json!(2.0),
        "`expired` and `zero`; missing is skipped by gte(0)"
    );
    let docs = d
        .get(&["expired", "zero", "none", "later", "sleeping"])
        .await;
    let statuses: Vec<&str> = docs.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["timed_out", "timed_out", "running", "running", "running"]
    );
    assert!(docs[0].get("expiresAt").is_none());

    let count = d
        .call(
            "action",
            "updateByOCFPExpiresAt",
            json!({"ocfpExpiresAtLessThan": future + 1.0, "limit": 10,
              "update": {"ocfpStatus": "idle", "updatedAt": 0, "unset": {"ocfpExpiresAt": true}}}),
        )
        .await
        .unwrap();
    assert_eq!(count, json!(1.0));
    let count = d
        .call("action", "updateByCloseExpiresAt", json!({"closeExpiresAtLessThan": future + 1.0, "limit": 10,
              "update": {"closeStatus": "ready", "updatedAt": 0, "unset": {"closeExpiresAt": true}}}))
        .await
        .unwrap();
    assert_eq!(count, json!(1.0));
    let docs = d.get(&["ocfp", "close"]).await;
    assert!(docs[0].get("ocfpExpiresAt").is_none());
    assert_eq!(docs[1]["closeStatus"], "ready");
    let count = d
        .call(
            "action",
            "updateByCloseExpiresAt",
            json!({"closeExpiresAtLessThan": future + 1.0, "limit": 10,
              "update": {"updatedAt": 0}}),
        )
        .await
        .unwrap();
    assert_eq!(count, json!(0.0));
}

#[tokio::test]
async fn children_come_back_unfinished_first_then_oldest_first() {
    let d = Deployment::new();
    let child = |id: &str, parent: &str, finished: bool| {
        execution_with(
            id,
            json!({"parentExecutionId": parent, "isFinished": finished}),
        )
    };
    d.insert(vec![
        child("a", "p", true),
        child("b", "p", false),
        child("c", "q", false),
    ])
    .await;
    d.insert(vec![child("d", "p", true), child("e", "p", false)])
        .await;
    let got = d
        .call("query", "getManyByParentExecutionId", json!({"requests": [
            {"parentExecutionId": "p"}, {"parentExecutionId": "none"}, {"parentExecutionId": "q"}]}))
        .await
        .unwrap();
    assert_eq!(ids(&got[0]), ["b", "e", "a", "d"]);
    assert_eq!(got[1], json!([]));
    assert_eq!(ids(&got[2]), ["c"]);

    let requests = json!({"requests": [{"parentExecutionId": "p", "isFinished": false,
                          "update": {"status": "cancelled", "isFinished": true, "updatedAt": 0}}]});
    d.call(
        "action",
        "updateManyByParentExecutionIdAndIsFinished",
        requests,
    )
    .await
    .unwrap();
    let docs = d.get(&["a", "b", "c", "e"]).await;
    let statuses: Vec<&str> = docs.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ready", "cancelled", "ready", "cancelled"]);
}

#[tokio::test]
async fn delete_by_id_and_delete_all() {
    let d = Deployment::holding(vec![execution("d1"), execution("d2")]).await;
    d.call("mutation", "deleteById", json!({"executionId": "d1"}))
        .await
        .unwrap();
    d.call("mutation", "deleteById", json!({"executionId": "d1"}))
        .await
        .unwrap();
    assert_eq!(d.get(&["d1"]).await, vec![Json::Null]);
    let many: Vec<Json> = (0..250).map(|i| execution(&format!("m{i}"))).collect();
    d.insert(many).await;
    assert_eq!(
        d.call("action", "deleteAll", json!({})).await.unwrap(),
        Json::Null
    );
    let left = d.get(&["d2", "m0", "m249"]).await;
    assert_eq!(left, vec![Json::Null; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_on_a_file_database_use_both_read_paths() {
    let dir = std::env::temp_dir().join(format!("emulator-fn-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = Deployment::on(&convex_storage_emulator::store::DbLocation::File(
        dir.join("db.sqlite3"),
    ));
    let limit = convex_storage_emulator::limits::INLINE_READ_LOOKUPS_MAX;
    let names: Vec<String> = (0..limit + 10).map(|i| format!("f{i}")).collect();
    d.insert(names.iter().map(|n| execution(n)).collect()).await;
    let few: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    let many: Vec<&str> = names.iter().map(String::as_str).collect();
    assert!(
        d.get(&few).await.iter().all(|doc| doc.is_object()),
        "inline path"
    );
    assert!(
        d.get(&many).await.iter().all(|doc| doc.is_object()),
        "blocking-thread path"
    );
    let children = d
        .call(
            "query",
            "getManyByParentExecutionId",
            json!({"requests": [{"parentExecutionId": "none"}]}),
        )
        .await
        .unwrap();
    assert_eq!(children, json!([[]]));
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_update_from_zero_to_negative_zero_moves_the_index_entry() {
    let d = Deployment::new();
    d.insert(vec![execution_with(
        "z",
        json!({"status": "waiting_for_children"}),
    )])
    .await;
    let negative_zero = json!({"$float": "AAAAAAAAAIA="});
    let update = json!({"requests": [{"executionId": "z", "update": {"acc": negative_zero, "updatedAt": 0}}]});
    d.call("action", "updateManyById", update).await.unwrap();
    d.clock.advance_ms(1_000);
    let got = ocfp_claim(&d, json!({"updatedAt": 0})).await.unwrap();
    assert_eq!(
        got,
        json!([]),
        "acc is -0 now, which is not eq(acc, 0) in Convex"
    );
}

/// A string field that makes a document about 1.1 MiB, over Convex's 1 MiB document limit.
fn oversized_text() -> String {
    "x".repeat(1_150_000)
}

#[tokio::test]
async fn a_document_over_one_mebibyte_is_refused_and_nothing_is_written() {
    let d = Deployment::holding(vec![execution("kept")]).await;
    let err = d
        .call(
            "mutation",
            "insertMany",
            json!({"executions": [execution("small"), execution_with("big", json!({"input": oversized_text()}))]}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "Uncaught Error: Value is too large (1.10 MiB > maximum size 1 MiB)"
    );
    assert_eq!(
        d.get(&["small", "big"]).await,
        vec![Json::Null, Json::Null],
        "the whole batch failed"
    );

    let before = d.get(&["kept"]).await;
    let err = d
        .call(
            "action",
            "updateManyById",
            json!({"requests": [{"executionId": "kept", "update": {"output": oversized_text(), "updatedAt": 1}}]}),
        )
        .await
        .unwrap_err();
    assert!(
        err.starts_with("Uncaught Error: Value is too large ("),
        "{err}"
    );
    assert_eq!(d.get(&["kept"]).await, before, "the update changed nothing");
}
