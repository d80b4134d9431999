//! Snapshots and reset through the HTTP routes under `/_emulator/`: an export imported into a
//! fresh store answers every function as the original does; a ZIP written by hand in Convex's
//! layout imports; a malformed one is refused whole; reset empties the store and the locks.

mod common;

use std::io::{Read, Write};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{execution_with, ids, json_reply, Deployment, TempDir, SECRET, T0};
use convex_storage_emulator::id::{DocumentId, LOCKS_TABLE_NUMBER, TASK_EXECUTIONS_TABLE_NUMBER};
use convex_storage_emulator::limits::IMPORT_BATCH_DOCUMENTS;
use convex_storage_emulator::Emulator;
use serde_json::{json, Value as Json};
use tower::ServiceExt;

const COMPONENT_DIR: &str = "_components/taskExecutionsStorage";

/// Sends a control request with the secret; returns status and body bytes.
async fn control(
    d: &Deployment,
    method: &str,
    route: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(route)
        .header("authorization", format!("Bearer {SECRET}"))
        .body(Body::from(body))
        .unwrap();
    let response = d.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

async fn export(d: &Deployment) -> Vec<u8> {
    let (status, zip) = control(d, "GET", "/_emulator/export", Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&zip));
    zip
}

async fn import(d: &Deployment, query: &str, zip: Vec<u8>) -> (StatusCode, Json) {
    let (status, body) = control(d, "POST", &format!("/_emulator/import{query}"), zip).await;
    (status, serde_json::from_slice(&body).unwrap())
}

/// The text of one entry of a ZIP.
fn entry(zip: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut text = String::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// A ZIP of these entries, deflated.
fn zip_of(entries: &[(&str, String)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in entries {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(text.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A store with a parent and its children, a sleeping task, a ready execution and one with
/// every optional field, so every function has something to find.
async fn populated() -> Deployment {
    let d = Deployment::new();
    d.insert(vec![execution_with(
        "p",
        json!({"status": "waiting_for_children", "acc": 2,
               "children": [{"taskId": "task", "executionId": "c1"}, {"taskId": "task", "executionId": "c2"}]}),
    )])
    .await;
    let parent_id = d.get(&["p"]).await[0]["_id"].as_str().unwrap().to_string();
    d.insert(vec![
        execution_with(
            "c1",
            json!({"parentExecutionId": "p", "parentTaskId": "task", "parentExecutionDocId": parent_id,
                   "isFinished": true, "closeStatus": "ready", "status": "completed", "output": "done"}),
        ),
        execution_with(
            "c2",
            json!({"parentExecutionId": "p", "parentTaskId": "task", "status": "running",
                   "executorId": "ex", "startedAt": 5, "expiresAt": 10}),
        ),
        execution_with(
            "s1",
            json!({"isSleepingTask": true, "sleepingTaskUniqueId": "u1", "status": "running", "expiresAt": 5}),
        ),
        execution_with("r1", json!({"shard": 1, "startAt": 3})),
        execution_with(
            "full",
            json!({"status": "failed", "isFinished": true, "closeStatus": "closing", "closeExpiresAt": 7,
                   "ocfpStatus": "processing", "ocfpExpiresAt": 6, "npc": true,
                   "error": {"errorType": "timed_out", "message": "slow", "isRetryable": true, "isInternal": false},
                   "retryOptions": {"maxAttempts": 3, "baseDelayMs": 100, "maxDelayMs": 1000, "delayMultiplier": 1.5},
                   "finalize": {"taskId": "fin", "executionId": "full-fin"}, "runOutput": "r",
                   "rootTaskId": "root", "rootExecutionId": "root-e", "indexInParentChildren": 0.5}),
        ),
    ])
    .await;
    d
}

/// Every function once, readers first, then the ones that change things, then those that
/// insert (whose new rows get fresh ids, so only their answers are compared).
fn calls() -> Vec<(&'static str, &'static str, Json)> {
    let requests: Vec<Json> = ["p", "c1", "c2", "s1", "r1", "full", "missing"]
        .iter()
        .map(|id| json!({"executionId": id}))
        .collect();
    let all = json!({ "requests": requests });
    let update = json!({"updatedAt": 9});
    let children_of_p = json!({"requests": [{"parentExecutionId": "p"}]});
    vec![
        ("query", "getManyById", all.clone()),
        (
            "query",
            "getManyBySleepingTaskUniqueId",
            json!({"requests": [{"sleepingTaskUniqueId": "u1"}]}),
        ),
        ("query", "getManyByParentExecutionId", children_of_p.clone()),
        (
            "action",
            "updateByStatusAndStartAtLessThanAndReturn",
            json!({"shard": 1, "status": "ready", "startAtLessThan": 1e15, "limit": 10,
                "update": {"status": "running", "executorId": "ex", "updatedAt": 9}, "updateExpiresAtWithStartedAt": 1000}),
        ),
        (
            "action",
            "updateByStatusAndOCFPStatusAndACCZeroAndReturn",
            json!({"shard": 0, "status": "waiting_for_children", "ocfpStatus": "idle", "update": update, "limit": 5}),
        ),
        (
            "action",
            "updateByCloseStatusAndReturn",
            json!({"shard": 0, "closeStatus": "closing", "update": update, "limit": 5}),
        ),
        (
            "action",
            "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan",
            json!({"status": "running", "isSleepingTask": true, "expiresAtLessThan": 1e15, "update": {"status": "timed_out", "updatedAt": 9}, "limit": 5}),
        ),
        (
            "action",
            "updateByOCFPExpiresAt",
            json!({"ocfpExpiresAtLessThan": 1e15, "update": update, "limit": 5}),
        ),
        (
            "action",
            "updateByCloseExpiresAt",
            json!({"closeExpiresAtLessThan": 1e15, "update": update, "limit": 5}),
        ),
        (
            "action",
            "updateByExecutorIdAndNPCAndReturn",
            json!({"shard": 0, "executorId": "ex", "npc": false, "update": {"npc": true, "updatedAt": 9}, "limit": 5}),
        ),
        (
            "action",
            "updateAndDecrementParentACCByIsFinishedAndCloseStatus",
            json!({"shard": 0, "isFinished": true, "closeStatus": "ready", "limit": 10,
                "update": {"closeStatus": "closed", "updatedAt": 9}}),
        ),
        (
            "action",
            "updateManyById",
            json!({"requests": [{"executionId": "full", "update": {"output": "changed", "updatedAt": 9, "unset": {"error": true}}}]}),
        ),
        (
            "action",
            "updateManyByParentExecutionIdAndIsFinished",
            json!({"requests": [{"parentExecutionId": "p", "isFinished": false,
                              "update": {"status": "cancelled", "isFinished": true, "updatedAt": 9}}]}),
        ),
        ("mutation", "deleteById", json!({"executionId": "s1"})),
        ("query", "getManyById", all.clone()),
        ("query", "getManyByParentExecutionId", children_of_p.clone()),
        (
            "action",
            "updateManyByIdAndInsertChildrenIfUpdated",
            json!({"requests": [{"executionId": "r1", "update": {"status": "waiting_for_children", "updatedAt": 9},
                              "childrenTaskExecutionsToInsertIfAnyUpdated": [execution_with("new-child", json!({"parentExecutionId": "r1"}))]}]}),
        ),
        (
            "mutation",
            "insertMany",
            json!({"executions": [execution_with("new", json!({}))]}),
        ),
        ("action", "deleteAll", json!({})),
        ("query", "getManyById", all),
    ]
}

#[tokio::test]
async fn an_export_imported_into_a_fresh_store_answers_every_function_the_same() {
    let original = populated().await;
    let zip = export(&original).await;
    let copy = Deployment::new();
    let (status, body) = import(&copy, "", zip.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"imported": 6}));

    // The copy exports the same documents, line for line (ids and creation times kept).
    let documents = format!("{COMPONENT_DIR}/taskExecutions/documents.jsonl");
    let again = export(&copy).await;
    assert_eq!(entry(&again, &documents), entry(&zip, &documents));
    assert_eq!(entry(&zip, &documents).lines().count(), 6);

    let mut functions = std::collections::BTreeSet::new();
    let mut found_something = 0;
    for (kind, function, args) in calls() {
        // Time moves on between calls, on both sides alike, so the selectors' "updated before
        // now" finds the rows the previous calls touched.
        original.clock.advance_ms(1_000);
        copy.clock.advance_ms(1_000);
        let a = original.call(kind, function, args.clone()).await;
        let b = copy.call(kind, function, args).await;
        assert_eq!(a, b, "{function} answers differently after the round trip");
        functions.insert(function);
        if a.as_ref()
            .is_ok_and(|v| !matches!(v, Json::Null) && v != &json!([]) && v != &json!(0.0))
        {
            found_something += 1;
        }
    }
    // Not a comparison of empty answers: the selectors found and changed rows.
    assert!(
        found_something >= 13,
        "only {found_something} calls found anything"
    );
    assert_eq!(
        functions.len(),
        17,
        "every function was called: {functions:?}"
    );
}

#[tokio::test]
async fn an_export_has_convexs_layout() {
    let zip = export(&populated().await).await;
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip.as_slice())).unwrap();
    let mut names: Vec<&str> = archive.file_names().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "README.md",
            "_components/taskExecutionsStorage/_tables/documents.jsonl",
            "_components/taskExecutionsStorage/locks/documents.jsonl",
            "_components/taskExecutionsStorage/locks/generated_schema.jsonl",
            "_components/taskExecutionsStorage/taskExecutions/documents.jsonl",
            "_components/taskExecutionsStorage/taskExecutions/generated_schema.jsonl",
            "_tables/documents.jsonl",
        ]
    );
    assert_eq!(
        entry(&zip, &format!("{COMPONENT_DIR}/_tables/documents.jsonl")),
        "{\"id\":10001,\"name\":\"taskExecutions\"}\n{\"id\":10002,\"name\":\"locks\"}\n"
    );
    let schema = entry(
        &zip,
        &format!("{COMPONENT_DIR}/taskExecutions/generated_schema.jsonl"),
    );
    let shape: String = serde_json::from_str(schema.lines().next().unwrap()).unwrap();
    assert!(
        shape.starts_with("{\"_creationTime\": normalfloat64, \"_id\": id<10001>, "),
        "{shape}"
    );
    let first = entry(
        &zip,
        &format!("{COMPONENT_DIR}/taskExecutions/documents.jsonl"),
    );
    let first = first.lines().next().unwrap();
    assert!(first.starts_with("{\"_creationTime\":"), "{first}");
    let doc: Json = serde_json::from_str(first).unwrap();
    assert_eq!(doc["executionId"], "p");
    assert_eq!(doc["acc"], json!(2.0));
    assert!(
        first.contains("\"acc\":2.0,"),
        "numbers as Convex writes float64: {first}"
    );
}

/// A valid id of `table`, as a deployment would have made it.
fn id(table: u32, seed: u64) -> String {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    DocumentId::generate(table, T0, &mut rng).encode()
}

/// One line of `documents.jsonl` as a deployment writes it.
fn document(id: &str, creation_time: f64, execution_id: &str, extra: Json) -> String {
    let mut doc = execution_with(execution_id, extra);
    doc["_id"] = json!(id);
    doc["_creationTime"] = json!(creation_time);
    doc.to_string()
}

/// `rows` documents one millisecond apart in creation order: `_id`s from the seeds
/// `first_seed..`, executionIds `<prefix>0`, `<prefix>1`, ..., spread round-robin over `shards`.
fn documents_in_creation_order(
    rows: usize,
    first_seed: u64,
    prefix: &str,
    shards: usize,
) -> Vec<String> {
    (0..rows)
        .map(|i| {
            document(
                &id(TASK_EXECUTIONS_TABLE_NUMBER, first_seed + i as u64),
                1_700_000_000_000.0 + i as f64,
                &format!("{prefix}{i}"),
                json!({"shard": (i % shards) as f64}),
            )
        })
        .collect()
}

/// A ZIP as `npx convex export` lays one out for a deployment running the upstream component:
/// documents in `_id` order (not creation order), a `locks` table with a row in it.
fn upstream_export(documents: &[String]) -> Vec<u8> {
    let lock = json!({"_id": id(LOCKS_TABLE_NUMBER, 9), "_creationTime": 1.7e12, "key": "k", "expiresAt": 1.7e12});
    zip_of(&[
        ("README.md", "# A snapshot export\n".to_string()),
        ("_tables/documents.jsonl", String::new()),
        (
            "_components/taskExecutionsStorage/_tables/documents.jsonl",
            "{\"name\":\"taskExecutions\",\"id\":10001}\n{\"name\":\"locks\",\"id\":10002}\n".to_string(),
        ),
        (
            "_components/taskExecutionsStorage/taskExecutions/generated_schema.jsonl",
            "\"{\\\"_creationTime\\\": normalfloat64, \\\"_id\\\": id<10001>, \\\"acc\\\": normalfloat64}\"\n".to_string(),
        ),
        (
            "_components/taskExecutionsStorage/taskExecutions/documents.jsonl",
            documents.iter().map(|d| format!("{d}\n")).collect(),
        ),
        ("_components/taskExecutionsStorage/locks/generated_schema.jsonl", "\"{}\"\n".to_string()),
        ("_components/taskExecutionsStorage/locks/documents.jsonl", format!("{lock}\n")),
    ])
}

#[tokio::test]
async fn a_hand_written_zip_in_convexs_layout_imports_with_ids_and_creation_times() {
    let (late, early) = (
        id(TASK_EXECUTIONS_TABLE_NUMBER, 1),
        id(TASK_EXECUTIONS_TABLE_NUMBER, 2),
    );
    let zip = upstream_export(&[
        document(
            &late,
            1_700_000_000_500.25,
            "late",
            json!({"expiresAt": "Infinity", "status": "running", "isSleepingTask": true}),
        ),
        document(
            &early,
            1_700_000_000_100.5,
            "early",
            json!({"shard": 0.0, "acc": 0}),
        ),
    ]);
    let d = Deployment::new();
    let (status, body) = import(&d, "", zip).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"imported": 2}));

    let got = d.get(&["late", "early"]).await;
    assert_eq!(got[0]["_id"], json!(late));
    assert_eq!(got[0]["_creationTime"], json!(1_700_000_000_500.25));
    assert_eq!(got[1]["_id"], json!(early));
    assert_eq!(got[1]["_creationTime"], json!(1_700_000_000_100.5));
    // "Infinity" where the schema wants a number is the float, as Convex exports it.
    let expired = d
        .call(
            "action",
            "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan",
            json!({"status": "running", "isSleepingTask": true, "expiresAtLessThan": 1e300,
                     "update": {"updatedAt": 1}, "limit": 5}),
        )
        .await
        .unwrap();
    assert_eq!(expired, json!(0.0), "an infinite deadline never expires");

    // A row written afterwards gets a later creation time than every imported one, even
    // though the clock (T0) is behind them.
    d.insert(vec![execution_with("after", json!({}))]).await;
    let after = d.get(&["after"]).await[0]["_creationTime"]
        .as_f64()
        .unwrap();
    assert!(after > 1_700_000_000_500.25, "{after}");
    // deleteAll goes oldest first and empties everything.
    d.call("action", "deleteAll", json!({})).await.unwrap();
    assert_eq!(
        d.get(&["late", "early", "after"]).await,
        vec![Json::Null; 3]
    );
}

#[tokio::test]
async fn a_malformed_zip_is_refused_whole_with_the_file_and_line() {
    let d = Deployment::holding(vec![execution_with("kept", json!({}))]).await;
    let before = d.get(&["kept"]).await;
    let zip = upstream_export(&[
        document(&id(TASK_EXECUTIONS_TABLE_NUMBER, 1), 1.0, "a", json!({})),
        document(
            &id(TASK_EXECUTIONS_TABLE_NUMBER, 2),
            2.0,
            "b",
            json!({"status": "bogus"}),
        ),
        document(&id(TASK_EXECUTIONS_TABLE_NUMBER, 3), 3.0, "c", json!({})),
    ]);
    let (status, body) = import(&d, "?replace=true", zip).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "BadRequest");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("_components/taskExecutionsStorage/taskExecutions/documents.jsonl:2: "),
        "{message}"
    );
    assert!(message.contains("bogus"), "{message}");
    // Nothing of it was kept, and the replace did not happen either.
    assert_eq!(
        d.get(&["kept", "a", "c"]).await,
        vec![before[0].clone(), Json::Null, Json::Null]
    );

    let refusals: Vec<(Vec<u8>, &str)> = vec![
        (b"not a zip".to_vec(), "reading the ZIP"),
        (
            zip_of(&[("README.md", String::new())]),
            "no _components/<component>/taskExecutions",
        ),
        (
            upstream_export(&["{\"_id\": 1}".to_string()]),
            "documents.jsonl:1: the document has no `_id` string",
        ),
        (
            upstream_export(&[document(&id(LOCKS_TABLE_NUMBER, 1), 1.0, "x", json!({}))]),
            "documents.jsonl:1: `_id`",
        ),
        (
            upstream_export(&[
                document(&id(TASK_EXECUTIONS_TABLE_NUMBER, 1), 1.0, "same", json!({})),
                document(&id(TASK_EXECUTIONS_TABLE_NUMBER, 2), 2.0, "same", json!({})),
            ]),
            "documents.jsonl:2: executionId \"same\" appears twice",
        ),
        (
            upstream_export(&[document(
                &id(TASK_EXECUTIONS_TABLE_NUMBER, 1),
                1.0,
                "x",
                json!({"extra": 1}),
            )]),
            "documents.jsonl:1: does not fit the taskExecutions schema",
        ),
        // Without replace, a store that holds executions is refused.
        (
            upstream_export(&[document(
                &id(TASK_EXECUTIONS_TABLE_NUMBER, 1),
                1.0,
                "x",
                json!({}),
            )]),
            "the store already holds 1 executions",
        ),
    ];
    let last = refusals.len() - 1;
    for (i, (zip, expected)) in refusals.into_iter().enumerate() {
        // With replace (which a failure must undo too), but for the last case, which is about
        // importing without it.
        let query = if i == last { "" } else { "?replace=true" };
        let (status, body) = import(&d, query, zip).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(expected),
            "expected {expected:?} in {message:?}"
        );
    }
    assert_eq!(
        d.get(&["kept", "x"]).await,
        vec![before[0].clone(), Json::Null]
    );
}

/// More documents than the import hands from its reading thread to the writer at once, in
/// creation order (read once) and reversed (checked, then read again): both import whole with
/// their creation times, and a bad line far into either, found after earlier batches were
/// stored, leaves the store as it was.
#[tokio::test]
async fn an_import_of_several_batches_is_all_or_nothing_in_either_order() {
    let rows = 2 * IMPORT_BATCH_DOCUMENTS + 300;
    let docs = documents_in_creation_order(rows, 1000, "e", 3);
    let reversed: Vec<String> = docs.iter().rev().cloned().collect();
    let last = format!("e{}", rows - 1);

    for (name, lines, first) in [("in order", &docs, "e0"), ("reversed", &reversed, &last)] {
        let d = Deployment::new();
        d.insert(vec![execution_with("kept", json!({}))]).await;
        let before = d.get(&["kept"]).await;

        // A line that does not fit the schema, after two full batches.
        let mut bad = lines.clone();
        bad[rows - 5] = document(
            &id(TASK_EXECUTIONS_TABLE_NUMBER, 7),
            1.0,
            "bad",
            json!({"status": "bogus"}),
        );
        let (status, body) = import(&d, "?replace=true", upstream_export(&bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        let message = body["message"].as_str().unwrap();
        let line = format!("documents.jsonl:{}: does not fit", rows - 4);
        assert!(message.contains(&line), "{name}: {message}");

        // The last line repeats the first one's executionId.
        let mut twice = lines.clone();
        twice[rows - 1] = document(
            &id(TASK_EXECUTIONS_TABLE_NUMBER, 8),
            1_800_000_000_000.0,
            first,
            json!({}),
        );
        let (status, body) = import(&d, "?replace=true", upstream_export(&twice)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("documents.jsonl:{rows}: executionId")),
            "{name}: {message}"
        );
        assert_eq!(
            d.get(&["kept", "e0", &last]).await,
            vec![before[0].clone(), Json::Null, Json::Null],
            "{name}: a refused import keeps nothing"
        );

        let (status, body) = import(&d, "?replace=true", upstream_export(lines)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body, json!({"imported": rows}));
        let got = d.get(&["kept", "e0", &last]).await;
        assert_eq!(got[0], Json::Null, "{name}: replaced");
        assert_eq!(got[1]["_creationTime"], json!(1_700_000_000_000.0));
        assert_eq!(
            got[2]["_creationTime"],
            json!(1_700_000_000_000.0 + (rows - 1) as f64)
        );
        // Stored in creation order whatever the file's order: an export lists them so.
        let exported = entry(
            &export(&d).await,
            &format!("{COMPONENT_DIR}/taskExecutions/documents.jsonl"),
        );
        let times: Vec<f64> = exported
            .lines()
            .map(|l| {
                serde_json::from_str::<Json>(l).unwrap()["_creationTime"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        assert_eq!(times.len(), rows);
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{name}");
        // The range indexes answer: shard 1 holds every third row, oldest first.
        let claimed = d
            .call(
                "action",
                "updateByStatusAndStartAtLessThanAndReturn",
                json!({"shard": 1, "status": "ready", "startAtLessThan": 1e15, "limit": 4,
                       "update": {"status": "running", "executorId": "ex", "updatedAt": 9},
                       "updateExpiresAtWithStartedAt": 1000}),
            )
            .await
            .unwrap();
        assert_eq!(ids(&claimed), ["e1", "e4", "e7", "e10"], "{name}");
    }
}

#[tokio::test]
async fn several_components_need_a_name() {
    let doc = document(&id(TASK_EXECUTIONS_TABLE_NUMBER, 1), 1.0, "x", json!({}));
    let zip = zip_of(&[
        (
            "_components/one/taskExecutions/documents.jsonl",
            format!("{doc}\n"),
        ),
        (
            "_components/two/taskExecutions/documents.jsonl",
            String::new(),
        ),
    ]);
    let d = Deployment::new();
    let (status, body) = import(&d, "", zip.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("one, two"),
        "{body}"
    );
    let (status, body) = import(&d, "?component=one", zip).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"imported": 1})));
}

#[tokio::test]
async fn reset_empties_the_store_and_frees_the_locks() {
    let d = Deployment::new();
    let executions: Vec<Json> = (0..250)
        .map(|i| execution_with(&format!("e{i}"), json!({})))
        .collect();
    d.insert(executions).await;
    let last = d.get(&["e249"]).await[0]["_creationTime"].as_f64().unwrap();
    assert!(d.state.functions.locks().hold_as_if_crashed("k"));
    let (status, body) = control(&d, "POST", "/_emulator/reset", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Json>(&body).unwrap(),
        json!({"deleted": 250})
    );
    assert_eq!(d.get(&["e0", "e249"]).await, vec![Json::Null; 2]);
    assert!(!d.state.functions.locks().is_held("k"));
    let (_, body) = control(&d, "POST", "/_emulator/reset", Vec::new()).await;
    assert_eq!(
        serde_json::from_slice::<Json>(&body).unwrap(),
        json!({"deleted": 0})
    );
    // The store still works.
    d.insert(vec![execution_with("again", json!({}))]).await;
    let again = d.get(&["again"]).await[0]["_creationTime"]
        .as_f64()
        .unwrap();
    assert!(
        again > last,
        "creation times keep increasing across a reset"
    );
}

#[tokio::test]
async fn an_in_process_emulator_starts_from_a_snapshot_over_a_real_socket() {
    let zip = export(&populated().await).await;
    let dir = TempDir::new("snapshot-start");
    let path = dir.path("snapshot.zip");
    std::fs::write(&path, &zip).unwrap();

    let emulator = Emulator::builder().snapshot(&path).start().await.unwrap();
    let client = reqwest::Client::new();
    let answer = json_reply(
        client
            .post(format!("{}/api/query", emulator.url()))
            .json(&json!({"path": "taskExecutionsStorage:getManyById", "format": "json",
                          "args": [{"authSecret": emulator.auth_secret(), "args": {"requests": [{"executionId": "c1"}]}}]}))
    )
    .await;
    assert_eq!(answer["value"][0]["output"], "done", "{answer}");
    let exported = client
        .get(format!("{}/_emulator/export", emulator.url()))
        .bearer_auth(emulator.auth_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(exported.status(), 200);
    assert_eq!(exported.headers()["content-type"], "application/zip");
    emulator.shutdown().await;
}

/// A deployment on the database file `name` in `dir`, and that file's path.
fn deployment_in(dir: &TempDir, name: &str) -> (Deployment, std::path::PathBuf) {
    let path = dir.path(name);
    let d = Deployment::on(&convex_storage_emulator::store::DbLocation::File(
        path.clone(),
    ));
    (d, path)
}

/// The schema entries of the executions table and its indexes, as a second connection to the
/// file reads them (the root pages aside, which a rebuilt table moves).
fn schema_of(path: &std::path::Path) -> Vec<(String, String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, sql FROM sqlite_master
             WHERE tbl_name = 'task_executions' ORDER BY name",
        )
        .unwrap();
    let entries = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    entries
}

/// Tries to store a copy of the row `row` with one column changed, from a second connection,
/// in a transaction rolled back; returns SQLite's error.
fn duplicate_refused(path: &std::path::Path, row: i64, changed: &str) -> String {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    let error = tx
        .execute(
            &"INSERT INTO task_executions
              SELECT row + 1000000, id, creation_time, execution_id, sleeping_task_unique_id,
                     body, k_shard_status_start_at, k_shard_status_ocfp_status_acc_updated_at,
                     k_shard_close_status_updated_at, k_status_is_sleeping_task_expires_at,
                     k_ocfp_expires_at, k_close_expires_at,
                     k_shard_executor_id_npc_updated_at, k_parent_execution_id_is_finished,
                     k_shard_is_finished_close_status_updated_at
              FROM task_executions WHERE row = ?1"
                .replace(&format!(" {changed},"), &format!(" {changed} || 'x',")),
            [row],
        )
        .unwrap_err();
    tx.rollback().unwrap();
    error.to_string()
}

/// An import into an empty table builds its unique indexes after the rows and gives the table
/// back its schema: the entries of the executions table and its indexes are exactly those of
/// a freshly created store, the unique columns still refuse a duplicate, and reads on the
/// running emulator (pooled read connections, prepared before) answer before and after.
#[tokio::test]
async fn an_import_leaves_the_schema_of_a_fresh_store() {
    let dir = TempDir::new("snapshot-schema");
    let (_fresh, fresh_path) = deployment_in(&dir, "fresh.sqlite3");
    let fresh = schema_of(&fresh_path);
    assert!(
        fresh
            .iter()
            .any(|(_, name, _, sql)| name == "sqlite_autoindex_task_executions_1" && sql.is_none()),
        "{fresh:?}"
    );

    let (d, path) = deployment_in(&dir, "imported.sqlite3");
    d.insert(vec![execution_with("kept", json!({}))]).await;
    let kept = d.get(&["kept"]).await;
    assert_eq!(kept[0]["executionId"], "kept");
    let rows = IMPORT_BATCH_DOCUMENTS + 10;
    let docs = documents_in_creation_order(rows, 5000, "s", 2);
    for query in ["?replace=true", "?replace=true"] {
        let (status, body) = import(&d, query, upstream_export(&docs)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"imported": rows}));
        assert_eq!(schema_of(&path), fresh);
        let got = d.get(&["kept", "s0", &format!("s{}", rows - 1)]).await;
        assert_eq!(got[0], Json::Null);
        assert_eq!(got[1]["_creationTime"], json!(1_700_000_000_000.0));
        assert_eq!(got[2]["executionId"], json!(format!("s{}", rows - 1)));
    }
    assert!(
        duplicate_refused(&path, 1, "execution_id")
            .contains("UNIQUE constraint failed: task_executions.id"),
        "the `_id` index refuses a second row with the same id"
    );
    assert!(
        duplicate_refused(&path, 1, "id")
            .contains("UNIQUE constraint failed: task_executions.execution_id"),
        "the executionId index refuses a second row with the same executionId"
    );
    // An insert of an executionId the import stored throws the function's duplicate error.
    let again = d
        .call(
            "mutation",
            "insertMany",
            json!({"executions": [execution_with("s3", json!({}))]}),
        )
        .await;
    assert!(again.is_err(), "{again:?}");
    assert_eq!(
        d.get(&["s3"]).await[0]["_creationTime"],
        json!(1_700_000_000_003.0)
    );
}

/// A duplicate `_id` or executionId anywhere in the file refuses the whole import with its
/// line, with or without replace, and leaves the rows and the schema as they were.
#[tokio::test]
async fn a_duplicate_row_is_refused_whole_and_changes_nothing() {
    let dir = TempDir::new("snapshot-duplicate");
    let (d, path) = deployment_in(&dir, "db.sqlite3");
    d.insert(vec![execution_with("kept", json!({}))]).await;
    let before = d.get(&["kept"]).await;
    let schema = schema_of(&path);
    let rows = IMPORT_BATCH_DOCUMENTS + 20;
    let docs: Vec<String> = (0..rows)
        .map(|i| {
            document(
                &id(TASK_EXECUTIONS_TABLE_NUMBER, 9000 + i as u64),
                1_700_000_000_000.0 + i as f64,
                &format!("d{i}"),
                json!({}),
            )
        })
        .collect();
    let mut same_id = docs.clone();
    same_id[rows - 1] = document(
        &id(TASK_EXECUTIONS_TABLE_NUMBER, 9000),
        1_800_000_000_000.0,
        "other",
        json!({}),
    );
    let mut same_execution_id = docs.clone();
    same_execution_id[rows - 2] = document(
        &id(TASK_EXECUTIONS_TABLE_NUMBER, 1),
        1_800_000_000_000.0,
        "d7",
        json!({}),
    );
    let cases = [
        (same_id, format!("documents.jsonl:{rows}: `_id` ")),
        (
            same_execution_id,
            format!(
                "documents.jsonl:{}: executionId \"d7\" appears twice",
                rows - 1
            ),
        ),
    ];
    for (lines, expected) in cases {
        let (status, body) = import(&d, "?replace=true", upstream_export(&lines)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], "BadRequest");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&expected), "{expected:?} in {message:?}");
        assert!(message.contains("appears twice"), "{message}");
        assert_eq!(
            d.get(&["kept", "d0", "other"]).await,
            vec![before[0].clone(), Json::Null, Json::Null]
        );
        assert_eq!(schema_of(&path), schema);
    }

    // Into the same store emptied by reset, without replace: the same refusal.
    let (status, _) = control(&d, "POST", "/_emulator/reset", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let mut twice = docs.clone();
    twice[rows - 1] = docs[0].clone();
    let (status, body) = import(&d, "", upstream_export(&twice)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("appears twice"),
        "{body}"
    );
    assert_eq!(d.get(&["d0"]).await, vec![Json::Null]);
    assert_eq!(schema_of(&path), schema);
}

/// Without replace, an import goes into a store emptied by reset (the same fast load) and is
/// refused by a store that holds executions, which it leaves as it was.
#[tokio::test]
async fn an_import_without_replace_needs_an_empty_store() {
    let dir = TempDir::new("snapshot-no-replace");
    let (d, path) = deployment_in(&dir, "db.sqlite3");
    let schema = schema_of(&path);
    d.insert(vec![execution_with("kept", json!({}))]).await;
    let before = d.get(&["kept"]).await;
    let zip = upstream_export(&[document(
        &id(TASK_EXECUTIONS_TABLE_NUMBER, 1),
        1_700_000_000_000.0,
        "n1",
        json!({}),
    )]);
    let (status, body) = import(&d, "", zip.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("the store already holds 1 executions"),
        "{body}"
    );
    assert_eq!(
        d.get(&["kept", "n1"]).await,
        vec![before[0].clone(), Json::Null]
    );
    assert_eq!(schema_of(&path), schema);

    let (status, _) = control(&d, "POST", "/_emulator/reset", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = import(&d, "", zip).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"imported": 1}));
    assert_eq!(d.get(&["n1"]).await[0]["executionId"], "n1");
    assert_eq!(schema_of(&path), schema);
    // And new executions go in after the imported ones.
    d.insert(vec![execution_with("later", json!({}))]).await;
    let later = d.get(&["later"]).await;
    assert!(later[0]["_creationTime"].as_f64().unwrap() > 1_700_000_000_000.0);
}
