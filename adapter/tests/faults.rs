//! Every fault the emulator injects (`--faults`), as the adapter reports it, for each of the
//! 17 operations: the `StorageError` kind, the function path it names, and what the call left
//! behind ([`CallOutcome`]). docs/FAULTS.md says what a caller should do about each.

use convex_storage_testkit::{EmulatorDb, ServerProcess};
use durable_execution_storage_convex::fixtures::minimal_execution;
use durable_execution_storage_convex::*;
use serde_json::{json, Value};

const SECRET: &str = "adapter-faults-secret";

/// The 17 public function names, as fault rules and error paths name them.
const FUNCTIONS: [&str; 17] = [
    "insertMany",
    "getManyById",
    "getManyBySleepingTaskUniqueId",
    "updateManyById",
    "updateManyByIdAndInsertChildrenIfUpdated",
    "updateByStatusAndStartAtLessThanAndReturn",
    "updateByStatusAndOCFPStatusAndACCZeroAndReturn",
    "updateByCloseStatusAndReturn",
    "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan",
    "updateByOCFPExpiresAt",
    "updateByCloseExpiresAt",
    "updateByExecutorIdAndNPCAndReturn",
    "getManyByParentExecutionId",
    "updateManyByParentExecutionIdAndIsFinished",
    "updateAndDecrementParentACCByIsFinishedAndCloseStatus",
    "deleteById",
    "deleteAll",
];

/// An emulator with fault injection on, and a one-shard client of it.
struct Bed {
    server: ServerProcess,
    storage: ConvexTaskExecutionsStorage,
    http: reqwest::Client,
}

impl Bed {
    async fn start() -> Self {
        let server = tokio::task::spawn_blocking(|| {
            ServerProcess::start_emulator_with_args(
                SECRET,
                &EmulatorDb::Memory,
                &["--clock", "manual", "--faults", "seed=1"],
            )
        })
        .await
        .expect("join")
        .expect("the emulator starts");
        let options = ConvexStorageOptions {
            enable_test_mode: true,
            ..ConvexStorageOptions::default()
        };
        let storage = ConvexTaskExecutionsStorage::new(server.url(), SECRET, options).unwrap();
        Self {
            server,
            storage,
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, method: reqwest::Method, route: &str, body: Value) -> Value {
        self.http
            .request(method, format!("{}{route}", self.server.url()))
            .bearer_auth(SECRET)
            .json(&body)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Makes every call of `function` meet `fault`.
    async fn strike(&self, function: &str, fault: &str) {
        let plan = json!({"seed": 1, "rules": [{"function": function, "fault": fault}]});
        self.control(reqwest::Method::POST, "/_emulator/faults", plan)
            .await;
    }

    async fn clear(&self) {
        self.control(reqwest::Method::DELETE, "/_emulator/faults", Value::Null)
            .await;
    }

    async fn advance(&self, ms: u64) {
        self.control(
            reqwest::Method::POST,
            "/_emulator/clock",
            json!({"advanceMs": ms}),
        )
        .await;
    }
}

fn update() -> TaskExecutionStorageUpdate {
    TaskExecutionStorageUpdate {
        updated_at: 0,
        ..TaskExecutionStorageUpdate::default()
    }
}

/// Calls the operation behind `function` with small valid arguments; how many rows or which
/// values it answered, as a number (a list's length, a count; 0 for nothing).
async fn call(s: &ConvexTaskExecutionsStorage, function: &str) -> Result<u64, StorageError> {
    use TaskExecutionCloseStatus as Close;
    use TaskExecutionStatus as Status;
    let by_id = |id: &str| GetByIdRequest {
        execution_id: id.into(),
        filters: None,
    };
    let len = |v: Vec<TaskExecutionStorageValue>| v.len() as u64;
    match function {
        "insertMany" => s.insert_many(vec![minimal_execution("inserted")]).await.map(|_| 0),
        "getManyById" => s
            .get_many_by_id(vec![by_id("a")])
            .await
            .map(|v| v.iter().flatten().count() as u64),
        "getManyBySleepingTaskUniqueId" => s
            .get_many_by_sleeping_task_unique_id(vec!["s".into()])
            .await
            .map(|v| v.iter().flatten().count() as u64),
        "updateManyById" => s
            .update_many_by_id(vec![UpdateByIdRequest {
                execution_id: "a".into(),
                filters: None,
                update: update(),
            }])
            .await
            .map(|_| 0),
        "updateManyByIdAndInsertChildrenIfUpdated" => s
            .update_many_by_id_and_insert_children_if_updated(vec![
                UpdateByIdAndInsertChildrenRequest {
                    execution_id: "a".into(),
                    filters: None,
                    update: update(),
                    children_task_executions_to_insert_if_any_updated: vec![],
                },
            ])
            .await
            .map(|_| 0),
        "updateByStatusAndStartAtLessThanAndReturn" => s
            .update_by_status_and_start_at_less_than_and_return(
                UpdateByStatusAndStartAtLessThanRequest {
                    status: Status::Ready,
                    start_at_less_than: i64::MAX / 2,
                    update: update(),
                    update_expires_at_with_started_at: 0,
                    limit: 10,
                },
            )
            .await
            .map(len),
        "updateByStatusAndOCFPStatusAndACCZeroAndReturn" => s
            .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
                UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
                    status: Status::WaitingForChildren,
                    on_children_finished_processing_status: OnChildrenFinishedProcessingStatus::Idle,
                    update: update(),
                    limit: 10,
                },
            )
            .await
            .map(len),
        "updateByCloseStatusAndReturn" => s
            .update_by_close_status_and_return(UpdateByCloseStatusRequest {
                close_status: Close::Ready,
                update: update(),
                limit: 10,
            })
            .await
            .map(len),
        "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan" => s
            .update_by_status_and_is_sleeping_task_and_expires_at_less_than(
                UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
                    status: Status::Running,
                    is_sleeping_task: false,
                    expires_at_less_than: i64::MAX / 2,
                    update: update(),
                    limit: 10,
                },
            )
            .await,
        "updateByOCFPExpiresAt" => s
            .update_by_on_children_finished_processing_expires_at_less_than(
                UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
                    on_children_finished_processing_expires_at_less_than: i64::MAX / 2,
                    update: update(),
                    limit: 10,
                },
            )
            .await,
        "updateByCloseExpiresAt" => s
            .update_by_close_expires_at_less_than(UpdateByCloseExpiresAtLessThanRequest {
                close_expires_at_less_than: i64::MAX / 2,
                update: update(),
                limit: 10,
            })
            .await,
        "updateByExecutorIdAndNPCAndReturn" => s
            .update_by_executor_id_and_needs_promise_cancellation_and_return(
                UpdateByExecutorIdAndNeedsPromiseCancellationRequest {
                    executor_id: "x".into(),
                    needs_promise_cancellation: true,
                    update: update(),
                    limit: 10,
                },
            )
            .await
            .map(len),
        "getManyByParentExecutionId" => s
            .get_many_by_parent_execution_id(vec!["a".into()])
            .await
            .map(|v| v.iter().map(Vec::len).sum::<usize>() as u64),
        "updateManyByParentExecutionIdAndIsFinished" => s
            .update_many_by_parent_execution_id_and_is_finished(vec![
                UpdateByParentExecutionIdAndIsFinishedRequest {
                    parent_execution_id: "a".into(),
                    is_finished: false,
                    update: update(),
                },
            ])
            .await
            .map(|_| 0),
        "updateAndDecrementParentACCByIsFinishedAndCloseStatus" => s
            .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                UpdateAndDecrementParentActiveChildrenCountRequest {
                    is_finished: true,
                    close_status: Close::Ready,
                    update: update(),
                    limit: 10,
                },
            )
            .await,
        "deleteById" => s.delete_by_id("a").await.map(|_| 0),
        "deleteAll" => s.delete_all().await.map(|_| 0),
        other => panic!("no operation {other}"),
    }
}

#[tokio::test]
async fn fail_and_occ_are_http_503s_naming_the_operation_and_nothing_ran() {
    let bed = Bed::start().await;
    for function in FUNCTIONS {
        for (fault, code) in [
            ("fail", "ServiceUnavailable"),
            ("occ", "OptimisticConcurrencyControlFailure"),
        ] {
            bed.strike(function, fault).await;
            let error = call(&bed.storage, function).await.unwrap_err();
            match &error {
                StorageError::Http {
                    path,
                    status,
                    code: got,
                    ..
                } => {
                    assert_eq!(path, &format!("taskExecutionsStorage:{function}"));
                    assert_eq!((*status, got.as_str()), (STATUS_UNAVAILABLE, code));
                }
                other => panic!("{function} {fault}: expected Http, got {other:?}"),
            }
            assert_eq!(error.outcome(), CallOutcome::NotRun, "{function}");
            assert!(error.is_transient_refusal(), "{function}");
            assert_eq!(error.is_occ_conflict(), fault == "occ", "{function}");
            assert!(error.to_string().contains(function), "{error}");
        }
    }
    bed.clear().await;
    // insertMany under `fail` inserted nothing.
    let rows = bed
        .storage
        .get_many_by_id(vec![GetByIdRequest {
            execution_id: "inserted".into(),
            filters: None,
        }])
        .await
        .unwrap();
    assert_eq!(rows, vec![None]);
}

#[tokio::test]
async fn drop_is_a_transport_error_with_an_unknown_outcome_and_the_write_committed() {
    let bed = Bed::start().await;
    for function in FUNCTIONS {
        bed.strike(function, "drop").await;
        let error = call(&bed.storage, function).await.unwrap_err();
        match &error {
            StorageError::Transport { path, .. } => {
                assert_eq!(path, &format!("taskExecutionsStorage:{function}"));
            }
            other => panic!("{function}: expected Transport, got {other:?}"),
        }
        assert_eq!(error.outcome(), CallOutcome::Unknown, "{function}");
        assert!(!error.is_transient_refusal());
    }
    bed.clear().await;
    // The insertMany whose reply was lost had committed: retrying it with the same id answers
    // "Execution id already exists", which after a lost reply means success.
    bed.storage.delete_all().await.unwrap();
    bed.strike("insertMany", "drop").await;
    let lost = bed
        .storage
        .insert_many(vec![minimal_execution("once")])
        .await;
    assert_eq!(lost.unwrap_err().outcome(), CallOutcome::Unknown);
    bed.clear().await;
    let retried = bed
        .storage
        .insert_many(vec![minimal_execution("once")])
        .await
        .unwrap_err();
    assert_eq!(
        retried.thrown_message().as_deref(),
        Some("Execution id already exists")
    );
    assert_eq!(retried.outcome(), CallOutcome::RanAndThrew);
}

#[tokio::test]
async fn hold_makes_a_locked_operation_answer_nothing_until_the_lock_expires() {
    let bed = Bed::start().await;
    bed.storage
        .insert_many(vec![minimal_execution("a"), minimal_execution("b")])
        .await
        .unwrap();
    bed.advance(100).await;
    let claim = "updateByStatusAndStartAtLessThanAndReturn";
    bed.strike(claim, "hold").await;
    assert_eq!(call(&bed.storage, claim).await.unwrap(), 0, "held");
    bed.clear().await;
    assert_eq!(call(&bed.storage, claim).await.unwrap(), 0, "still held");
    bed.advance(60_000).await;
    assert_eq!(call(&bed.storage, claim).await.unwrap(), 2, "taken over");
}

#[tokio::test]
async fn delay_only_delays() {
    let bed = Bed::start().await;
    let plan = json!({"seed": 1, "rules": [{"function": "*", "fault": "delay", "delayMs": 5}]});
    bed.control(reqwest::Method::POST, "/_emulator/faults", plan)
        .await;
    bed.storage
        .insert_many(vec![minimal_execution("a")])
        .await
        .unwrap();
    assert_eq!(call(&bed.storage, "getManyById").await.unwrap(), 1);
    let report = bed
        .control(reqwest::Method::GET, "/_emulator/faults", Value::Null)
        .await;
    assert_eq!(report["injected"].as_array().unwrap().len(), 2, "{report}");
}
