//! Unit tests of the Convex storage against a stub server that records every request: the
//! request shape, options validation, shard fan-out and limit division, test mode.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::fixtures::minimal_execution;
use crate::stub_server::{success, Recorded, StubServer};
use crate::types::{TaskExecutionCloseStatus, TaskExecutionStatus, TaskExecutionStorageUpdate};

const SECRET: &str = "s3cret";

fn storage(url: &str, options: ConvexStorageOptions) -> ConvexTaskExecutionsStorage {
    ConvexTaskExecutionsStorage::new(url, SECRET, options).expect("valid options")
}

fn invalid_options(url: &str, options: ConvexStorageOptions) -> String {
    match ConvexTaskExecutionsStorage::new(url, SECRET, options) {
        Err(StorageError::InvalidOptions(message)) => message,
        other => panic!("expected InvalidOptions, got {other:?}"),
    }
}

/// A stored document for `execution_id`, as the stub's answers carry them.
fn document(execution_id: &str) -> Value {
    let mut doc = mapping::encode_insert_value(&minimal_execution(execution_id), 0);
    doc["_id"] = json!("j57004926d25askqh2ctneycvn77kce2");
    doc["_creationTime"] = json!(1.5);
    doc
}

#[test]
fn defaults_match_upstream() {
    let options = ConvexStorageOptions::default();
    assert_eq!(options.total_shards, 1);
    assert_eq!(options.shards, None);
    assert!(!options.enable_test_mode);
    assert_eq!(options.module, "taskExecutionsStorage");
    assert_eq!(options.request_timeout, Duration::from_secs(30));
}

#[test]
fn options_are_validated() {
    let url = "http://127.0.0.1:1";
    let o = ConvexStorageOptions::default;
    assert!(invalid_options(
        url,
        ConvexStorageOptions {
            total_shards: 0,
            ..o()
        }
    )
    .contains("total_shards"));
    assert!(invalid_options(
        url,
        ConvexStorageOptions {
            total_shards: 65,
            ..o()
        }
    )
    .contains("total_shards"));
    assert!(invalid_options(
        url,
        ConvexStorageOptions {
            total_shards: 2,
            shards: Some(vec![2]),
            ..o()
        }
    )
    .contains("shards"));
    assert!(invalid_options(
        url,
        ConvexStorageOptions {
            module: String::new(),
            ..o()
        }
    )
    .contains("module"));
    assert!(invalid_options(
        url,
        ConvexStorageOptions {
            module: "a:b".into(),
            ..o()
        }
    )
    .contains("module"));
    assert!(invalid_options(
        url,
        ConvexStorageOptions {
            request_timeout: Duration::ZERO,
            ..o()
        }
    )
    .contains("request_timeout"));
    let resolved = storage(
        url,
        ConvexStorageOptions {
            total_shards: 8,
            shards: Some(vec![7, 1, 7]),
            ..o()
        },
    );
    assert_eq!(resolved.shards(), &[1, 7]);
    assert_eq!(resolved.total_shards(), 8);
}

#[test]
fn urls_must_be_http_origins() {
    for bad in [
        "",
        "localhost:3210",
        "ftp://example.com",
        "http://",
        "http://h/?x=1",
        "not a url",
    ] {
        let message = invalid_options(bad, ConvexStorageOptions::default());
        assert!(message.contains("invalid url"), "{bad}: {message}");
    }
    for good in [
        "http://127.0.0.1:3210",
        "https://happy-otter-123.convex.cloud/",
    ] {
        ConvexTaskExecutionsStorage::new(good, SECRET, ConvexStorageOptions::default()).unwrap();
    }
}

#[tokio::test]
async fn requests_have_the_convex_http_client_shape() {
    let stub = StubServer::start(|_| success(json!([null]))).await;
    let s = storage(&format!("{}/", stub.url()), ConvexStorageOptions::default());
    let got = s
        .get_many_by_id(vec![GetByIdRequest {
            execution_id: "e1".into(),
            filters: None,
        }])
        .await
        .unwrap();
    assert_eq!(got, vec![None]);
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/api/query")
    );
    assert_eq!(
        requests[0].body,
        json!({
            "path": "taskExecutionsStorage:getManyById",
            "format": "convex_encoded_json",
            "args": [{"authSecret": SECRET, "args": {"requests": [{"executionId": "e1"}]}}],
        })
    );
}

#[tokio::test]
async fn each_function_goes_to_its_endpoint_and_module() {
    // Only the requests matter here: the stub answers `null` to everything, so the calls that
    // expect rows or a count fail to decode that answer after it was recorded.
    let stub = StubServer::start(|_: &Recorded| success(Value::Null)).await;
    let s = storage(
        stub.url(),
        ConvexStorageOptions {
            enable_test_mode: true,
            module: "dir/storage".into(),
            ..Default::default()
        },
    );
    for operation in convex_storage_operations::Operation::ALL {
        let _ = crate::fixtures::call_once(&s, operation).await;
    }

    let calls: Vec<(String, String)> = stub
        .requests()
        .iter()
        .map(|r| {
            (
                r.path.trim_start_matches("/api/").to_string(),
                r.function().to_string(),
            )
        })
        .collect();
    // Every operation of the registry, once, through its kind's endpoint (the registry's names and kinds are checked against the TypeScript list in
    // `operations/tests`).
    let expected: Vec<(String, String)> = convex_storage_operations::Operation::ALL
        .iter()
        .map(|op| {
            let endpoint = op.kind().endpoint().to_string();
            (endpoint, format!("dir/storage:{}", op.name()))
        })
        .collect();
    assert_eq!(calls, expected);
}

#[tokio::test]
async fn selector_args_use_the_public_names() {
    let stub = StubServer::start(|_| success(json!(0))).await;
    let s = storage(stub.url(), ConvexStorageOptions::default());
    s.update_by_on_children_finished_processing_expires_at_less_than(
        UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
            on_children_finished_processing_expires_at_less_than: 123,
            update: TaskExecutionStorageUpdate {
                updated_at: 9,
                ..Default::default()
            },
            limit: 4,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        stub.requests()[0].args(),
        &json!({"ocfpExpiresAtLessThan": 123, "update": {"updatedAt": 9}, "limit": 4})
    );
}

#[tokio::test]
async fn start_at_claim_fans_out_per_shard_and_applies_the_update() {
    // Each shard answers with one document named after it.
    let stub = StubServer::start(|request: &Recorded| {
        let shard = request.args()["shard"].as_u64().unwrap();
        success(json!([document(&format!("e{shard}"))]))
    })
    .await;
    let s = storage(
        stub.url(),
        ConvexStorageOptions {
            total_shards: 4,
            shards: Some(vec![3, 0, 2, 2]),
            ..Default::default()
        },
    );
    let update = TaskExecutionStorageUpdate {
        status: Some(TaskExecutionStatus::Running),
        executor_id: Some("ex".into()),
        started_at: Some(40),
        updated_at: 41,
        ..Default::default()
    };
    let claimed = s
        .update_by_status_and_start_at_less_than_and_return(
            UpdateByStatusAndStartAtLessThanRequest {
                status: TaskExecutionStatus::Ready,
                start_at_less_than: 30,
                update: update.clone(),
                update_expires_at_with_started_at: 40,
                limit: 5,
            },
        )
        .await
        .unwrap();

    let ids: Vec<&str> = claimed.iter().map(|v| v.execution_id.as_str()).collect();
    assert_eq!(ids, vec!["e0", "e2", "e3"], "concatenated in shard order");
    for value in &claimed {
        assert_eq!(value.status, TaskExecutionStatus::Running);
        assert_eq!(value.executor_id.as_deref(), Some("ex"));
        assert_eq!(value.started_at, Some(40));
        assert_eq!(value.updated_at, 41);
        assert_eq!(value.expires_at, Some(40 + value.timeout_ms));
    }

    let requests = stub.requests();
    let shards: BTreeSet<u64> = requests
        .iter()
        .map(|r| r.args()["shard"].as_u64().unwrap())
        .collect();
    assert_eq!(shards, BTreeSet::from([0, 2, 3]));
    assert_eq!(requests.len(), 3);
    for request in &requests {
        let mut args = request.args().clone();
        args.as_object_mut().unwrap().remove("shard");
        assert_eq!(
            args,
            json!({
                "status": "ready",
                "startAtLessThan": 30,
                "update": {"status": "running", "executorId": "ex", "startedAt": 40, "updatedAt": 41},
                "updateExpiresAtWithStartedAt": 40,
                "limit": 5,
            })
        );
    }
}

#[tokio::test]
async fn a_failing_shard_fails_the_whole_claim() {
    let stub = StubServer::start(|request: &Recorded| {
        if request.args()["shard"] == json!(1) {
            Some((
                200,
                json!({"status": "error", "errorMessage": "Uncaught Error: boom"}).to_string(),
            ))
        } else {
            success(json!([]))
        }
    })
    .await;
    let s = storage(
        stub.url(),
        ConvexStorageOptions {
            total_shards: 3,
            ..Default::default()
        },
    );
    let error = s
        .update_by_close_status_and_return(UpdateByCloseStatusRequest {
            close_status: TaskExecutionCloseStatus::Ready,
            update: TaskExecutionStorageUpdate {
                updated_at: 1,
                ..Default::default()
            },
            limit: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(error.thrown_message().as_deref(), Some("boom"));
    assert_eq!(stub.requests().len(), 3, "every shard was still called");
}

#[tokio::test]
async fn decrement_sweep_divides_the_limit_and_sums_the_counts() {
    let stub = StubServer::start(|request: &Recorded| {
        let shard = request.args()["shard"].as_u64().unwrap();
        success(json!(shard as f64 + 1.0)) // Counts printed as floats, as the backend does.
    })
    .await;
    for (shards, limit, per_shard, total) in [
        (vec![0, 1], 5, 2.5f64.ceil() as u64, 1 + 2),
        (vec![0, 1, 2], 3, 1, 1 + 2 + 3),
        (vec![2], 7, 7, 3),
        (vec![0, 1, 2], 0, 0, 1 + 2 + 3),
    ] {
        let before = stub.requests().len();
        let s = storage(
            stub.url(),
            ConvexStorageOptions {
                total_shards: 3,
                shards: Some(shards.clone()),
                ..Default::default()
            },
        );
        let count = s
            .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                UpdateAndDecrementParentActiveChildrenCountRequest {
                    is_finished: true,
                    close_status: TaskExecutionCloseStatus::Ready,
                    update: TaskExecutionStorageUpdate {
                        updated_at: 1,
                        ..Default::default()
                    },
                    limit,
                },
            )
            .await
            .unwrap();
        assert_eq!(count, total, "shards {shards:?}");
        let requests = &stub.requests()[before..];
        assert_eq!(requests.len(), shards.len());
        for request in requests {
            assert_eq!(
                request.args()["limit"],
                json!(per_shard),
                "shards {shards:?} limit {limit}"
            );
        }
    }
}

#[tokio::test]
async fn expiry_sweeps_are_not_sharded() {
    let stub = StubServer::start(|_| success(json!(2))).await;
    let s = storage(
        stub.url(),
        ConvexStorageOptions {
            total_shards: 4,
            ..Default::default()
        },
    );
    let count = s
        .update_by_close_expires_at_less_than(UpdateByCloseExpiresAtLessThanRequest {
            close_expires_at_less_than: 5,
            update: TaskExecutionStorageUpdate {
                updated_at: 1,
                ..Default::default()
            },
            limit: 9,
        })
        .await
        .unwrap();
    assert_eq!(count, 2);
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].args().get("shard").is_none());
}

#[tokio::test]
async fn inserts_pick_random_shards_among_all_and_skip_empty_batches() {
    let stub = StubServer::start(|_| success(Value::Null)).await;
    let s = storage(
        stub.url(),
        ConvexStorageOptions {
            total_shards: 4,
            shards: Some(vec![1]),
            ..Default::default()
        },
    );
    s.insert_many(vec![]).await.unwrap();
    assert!(stub.requests().is_empty(), "no call for an empty batch");

    let executions: Vec<_> = (0..200)
        .map(|i| minimal_execution(&format!("e{i}")))
        .collect();
    s.insert_many(executions).await.unwrap();
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let inserted = requests[0].args()["executions"].as_array().unwrap();
    assert_eq!(inserted.len(), 200);
    let shards: BTreeSet<u64> = inserted
        .iter()
        .map(|e| e["shard"].as_u64().unwrap())
        .collect();
    // 200 uniform draws over 4 shards all landing in fewer than 3 of them is astronomically
    // unlikely; a client that only used its served shard (1) would fail here.
    assert!(
        shards.len() >= 3 && shards.iter().all(|&s| s < 4),
        "{shards:?}"
    );
    assert_eq!(inserted[7]["executionId"], json!("e7"), "order is kept");
}

#[tokio::test]
async fn a_shard_chooser_places_inserts_and_children_and_is_checked() {
    let stub = StubServer::start(|_| success(Value::Null)).await;
    let by_last_digit: crate::ShardChooser =
        std::sync::Arc::new(|id: &str| id.bytes().last().map_or(0, |b| u32::from(b - b'0')));
    let s = storage(
        stub.url(),
        ConvexStorageOptions {
            total_shards: 4,
            shard_for: Some(by_last_digit),
            ..Default::default()
        },
    );
    s.insert_many(vec![minimal_execution("e3"), minimal_execution("e1")])
        .await
        .unwrap();
    s.update_many_by_id_and_insert_children_if_updated(vec![UpdateByIdAndInsertChildrenRequest {
        execution_id: "p".into(),
        filters: None,
        update: TaskExecutionStorageUpdate {
            updated_at: 3,
            ..Default::default()
        },
        children_task_executions_to_insert_if_any_updated: vec![minimal_execution("c2")],
    }])
    .await
    .unwrap();
    let requests = stub.requests();
    let inserted = requests[0].args()["executions"].as_array().unwrap();
    assert_eq!(inserted[0]["shard"], json!(3));
    assert_eq!(inserted[1]["shard"], json!(1));
    let child = &requests[1].args()["requests"][0]["childrenTaskExecutionsToInsertIfAnyUpdated"][0];
    assert_eq!(child["shard"], json!(2));

    // A chooser that answers out of range is refused before anything is sent.
    let err = s
        .insert_many(vec![minimal_execution("e9")])
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidOptions(_)), "{err:?}");
    assert_eq!(stub.requests().len(), 2);
}

#[tokio::test]
async fn children_inserted_with_an_update_get_shards_too() {
    let stub = StubServer::start(|_| success(Value::Null)).await;
    let s = storage(stub.url(), ConvexStorageOptions::default());
    s.update_many_by_id_and_insert_children_if_updated(vec![UpdateByIdAndInsertChildrenRequest {
        execution_id: "p".into(),
        filters: Some(crate::types::TaskExecutionStorageGetByIdFilters {
            status: Some(TaskExecutionStatus::Running),
            ..Default::default()
        }),
        update: TaskExecutionStorageUpdate {
            updated_at: 3,
            ..Default::default()
        },
        children_task_executions_to_insert_if_any_updated: vec![minimal_execution("c1")],
    }])
    .await
    .unwrap();
    let args = stub.requests()[0].args().clone();
    let request = &args["requests"][0];
    assert_eq!(request["executionId"], json!("p"));
    assert_eq!(request["filters"], json!({"status": "running"}));
    assert_eq!(request["update"], json!({"updatedAt": 3}));
    let child = &request["childrenTaskExecutionsToInsertIfAnyUpdated"][0];
    assert_eq!(
        (child["executionId"].clone(), child["shard"].clone()),
        (json!("c1"), json!(0))
    );
}

#[tokio::test]
async fn deletes_are_no_ops_without_test_mode() {
    let stub = StubServer::start(|_| success(Value::Null)).await;
    let s = storage(stub.url(), ConvexStorageOptions::default());
    s.delete_by_id("e1").await.unwrap();
    s.delete_all().await.unwrap();
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn delete_all_sends_no_inner_args() {
    let stub = StubServer::start(|_| success(Value::Null)).await;
    let s = storage(
        stub.url(),
        ConvexStorageOptions {
            enable_test_mode: true,
            ..Default::default()
        },
    );
    s.delete_all().await.unwrap();
    s.delete_by_id("e1").await.unwrap();
    let requests = stub.requests();
    assert_eq!(requests[0].envelope(), &json!({"authSecret": SECRET}));
    assert_eq!(
        requests[1].envelope(),
        &json!({"authSecret": SECRET, "args": {"executionId": "e1"}})
    );
}

#[tokio::test]
async fn a_result_of_the_wrong_length_is_a_decode_error() {
    let stub = StubServer::start(|_| success(json!([null, null]))).await;
    let s = storage(stub.url(), ConvexStorageOptions::default());
    let error = s
        .get_many_by_id(vec![GetByIdRequest {
            execution_id: "e1".into(),
            filters: None,
        }])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::Decode { message, .. } if message.contains("expected 1 results")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transport() {
    let stub = StubServer::start(|_| None).await;
    let s = storage(
        stub.url(),
        ConvexStorageOptions {
            request_timeout: Duration::from_millis(200),
            ..Default::default()
        },
    );
    let error = s
        .get_many_by_sleeping_task_unique_id(vec!["x".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::Transport { path, .. } if path == "taskExecutionsStorage:getManyBySleepingTaskUniqueId"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let huge = "a".repeat(crate::transport::RESPONSE_BYTES_MAX + 1);
    let stub = StubServer::start(move |_| Some((200, huge.clone()))).await;
    let s = storage(stub.url(), ConvexStorageOptions::default());
    let error = s.get_many_by_id(vec![]).await.unwrap_err();
    assert!(
        matches!(&error, StorageError::Decode { message, .. } if message.contains("larger than")),
        "{error:?}"
    );
}
