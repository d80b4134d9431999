//! Every fault the emulator injects (`--faults`), as the adapter reports it, for each of the
//! 17 operations: the `StorageError` kind, the function path it names, and what the call left
//! behind ([`CallOutcome`]). docs/FAULTS.md says what a caller should do about each.

use convex_storage_operations::Operation;
use convex_storage_testkit::{EmulatorDb, ServerProcess};
use durable_execution_storage_convex::fixtures::{call_once, minimal_execution};
use durable_execution_storage_convex::*;
use serde_json::{json, Value};

const SECRET: &str = "adapter-faults-secret";

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

#[tokio::test]
async fn fail_and_occ_are_http_503s_naming_the_operation_and_nothing_ran() {
    let bed = Bed::start().await;
    for operation in Operation::ALL {
        let function = operation.name();
        for (fault, code) in [
            ("fail", "ServiceUnavailable"),
            ("occ", "OptimisticConcurrencyControlFailure"),
        ] {
            bed.strike(function, fault).await;
            let error = call_once(&bed.storage, operation).await.unwrap_err();
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
    for operation in Operation::ALL {
        let function = operation.name();
        bed.strike(function, "drop").await;
        let error = call_once(&bed.storage, operation).await.unwrap_err();
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
    let claim = Operation::UpdateByStatusAndStartAtLessThanAndReturn;
    bed.strike(claim.name(), "hold").await;
    assert_eq!(call_once(&bed.storage, claim).await.unwrap(), 0, "held");
    bed.clear().await;
    assert_eq!(
        call_once(&bed.storage, claim).await.unwrap(),
        0,
        "still held"
    );
    bed.advance(60_000).await;
    assert_eq!(
        call_once(&bed.storage, claim).await.unwrap(),
        2,
        "taken over"
    );
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
    assert_eq!(
        call_once(&bed.storage, Operation::GetManyById)
            .await
            .unwrap(),
        1
    );
    let report = bed
        .control(reqwest::Method::GET, "/_emulator/faults", Value::Null)
        .await;
    assert_eq!(report["injected"].as_array().unwrap().len(), 2, "{report}");
}
