//! In-process tests of the selector locks (busy → `[]`/`0`, expiry after 60 s, exact keys,
//! release) and of the decrement sweep's parent bookkeeping.

mod common;

use common::{execution, execution_with, ids, Deployment, T0};
use serde_json::{json, Value as Json};

const NOW: f64 = (T0 + 50) as f64;

/// Holds the lock `key` as a crashed caller would: taken at the current clock, never released.
async fn hold_lock(d: &Deployment, key: &'static str) {
    assert!(
        d.state.functions.locks().hold_as_if_crashed(key),
        "{key} was free"
    );
}

async fn lock_exists(d: &Deployment, key: &'static str) -> bool {
    d.state.functions.locks().is_held(key)
}

fn claim(shard: f64) -> Json {
    json!({"shard": shard, "status": "ready", "startAtLessThan": 1e15, "limit": 10,
           "updateExpiresAtWithStartedAt": 0, "update": {"status": "running", "updatedAt": 0}})
}

#[tokio::test]
async fn busy_lock_returns_empty_at_once_and_expires_after_60_seconds() {
    let d = Deployment::new();
    d.insert(vec![execution_with("s3", json!({"shard": 3}))])
        .await;
    hold_lock(&d, "updateByStatusAndStartAtLessThanAndReturn_3_ready").await;
    let fn_name = "updateByStatusAndStartAtLessThanAndReturn";
    assert_eq!(
        d.call("action", fn_name, claim(3.0)).await.unwrap(),
        json!([])
    );
    assert_eq!(
        d.get(&["s3"]).await[0]["status"],
        "ready",
        "nothing happened"
    );
    d.clock.advance_ms(59_999);
    assert_eq!(
        d.call("action", fn_name, claim(3.0)).await.unwrap(),
        json!([])
    );
    d.clock.advance_ms(1);
    let claimed = d.call("action", fn_name, claim(3.0)).await.unwrap();
    assert_eq!(
        ids(&claimed),
        ["s3"],
        "a lock with expiresAt <= now is taken over"
    );
    assert!(
        !lock_exists(&d, "updateByStatusAndStartAtLessThanAndReturn_3_ready").await,
        "released"
    );
}

#[tokio::test]
async fn locks_are_per_key_and_released_after_each_call() {
    let d = Deployment::new();
    d.insert(vec![
        execution("s0"),
        execution_with("s1", json!({"shard": 1})),
    ])
    .await;
    hold_lock(&d, "updateByStatusAndStartAtLessThanAndReturn_0_ready").await;
    let fn_name = "updateByStatusAndStartAtLessThanAndReturn";
    let claimed = d.call("action", fn_name, claim(1.0)).await.unwrap();
    assert_eq!(ids(&claimed), ["s1"], "another shard has another lock");
    assert!(!lock_exists(&d, "updateByStatusAndStartAtLessThanAndReturn_1_ready").await);
    assert!(lock_exists(&d, "updateByStatusAndStartAtLessThanAndReturn_0_ready").await);
}

#[tokio::test]
async fn every_locked_function_uses_upstreams_key_and_default() {
    let update = json!({"updatedAt": 0});
    let cases: [(&str, Json, &'static str, Json); 8] = [
        (
            "updateByStatusAndStartAtLessThanAndReturn",
            claim(2.0),
            "updateByStatusAndStartAtLessThanAndReturn_2_ready",
            json!([]),
        ),
        (
            "updateByStatusAndOCFPStatusAndACCZeroAndReturn",
            json!({"shard": 0, "status": "waiting_for_children", "ocfpStatus": "idle", "update": update, "limit": 1}),
            "updateByStatusAndOCFPStatusAndACCZeroAndReturn_0_waiting_for_children_idle",
            json!([]),
        ),
        (
            "updateByCloseStatusAndReturn",
            json!({"shard": 1.5, "closeStatus": "ready", "update": update, "limit": 1}),
            "updateByCloseStatusAndReturn_1.5_ready",
            json!([]),
        ),
        (
            "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan",
            json!({"status": "running", "isSleepingTask": true, "expiresAtLessThan": 1e15, "update": update, "limit": 1}),
            "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan_running_true",
            json!(0.0),
        ),
        (
            "updateByOCFPExpiresAt",
            json!({"ocfpExpiresAtLessThan": 1e15, "update": update, "limit": 1}),
            "updateByOCFPExpiresAt",
            json!(0.0),
        ),
        (
            "updateByCloseExpiresAt",
            json!({"closeExpiresAtLessThan": 1e15, "update": update, "limit": 1}),
            "updateByCloseExpiresAt",
            json!(0.0),
        ),
        (
            "updateByExecutorIdAndNPCAndReturn",
            json!({"shard": 0, "executorId": "ex", "npc": false, "update": update, "limit": 1}),
            "updateByExecutorIdAndNPCAndReturn_0_ex_false",
            json!([]),
        ),
        (
            "updateAndDecrementParentACCByIsFinishedAndCloseStatus",
            json!({"shard": 0, "isFinished": true, "closeStatus": "ready", "update": update, "limit": 1}),
            "updateAndDecrementParentACCByIsFinishedAndCloseStatus_0_true_ready",
            json!(0.0),
        ),
    ];
    for (function, args, key, default) in cases {
        let d = Deployment::new();
        // One document every selector would pick if it ran.
        d.insert(vec![execution_with("x", json!({
            "shard": args.get("shard").cloned().unwrap_or(json!(0)), "status": args.get("status").cloned().unwrap_or(json!("ready")),
            "expiresAt": 5, "ocfpExpiresAt": 5, "closeExpiresAt": 5, "executorId": "ex",
            "closeStatus": args.get("closeStatus").cloned().unwrap_or(json!("idle")),
            "isFinished": true, "isSleepingTask": args.get("isSleepingTask").cloned().unwrap_or(json!(false)),
        }))]).await;
        d.clock.advance_ms(1_000);
        hold_lock(&d, key).await;
        assert_eq!(
            d.call("action", function, args.clone()).await.unwrap(),
            default,
            "{function}"
        );
        d.clock.advance_ms(60_000);
        let ran = d.call("action", function, args).await.unwrap();
        assert_ne!(
            ran, default,
            "{function} selects the document once the lock expired"
        );
        assert!(!lock_exists(&d, key).await, "{function} released its lock");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_an_execution() {
    let d = std::sync::Arc::new(Deployment::new());
    let executions: Vec<Json> = (0..60).map(|i| execution(&format!("c{i}"))).collect();
    d.insert(executions).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for _ in 0..200 {
                let args = json!({"shard": 0, "status": "ready", "startAtLessThan": 1e15, "limit": 3,
                    "updateExpiresAtWithStartedAt": 0, "update": {"status": "running", "updatedAt": 0}});
                let got = d.call("action", "updateByStatusAndStartAtLessThanAndReturn", args).await.unwrap();
                mine.extend(ids(&got));
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: std::collections::BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(unique.len(), all.len(), "an execution was claimed twice");
    assert_eq!(unique.len(), 60);
}

/// The sweep's arguments: closed children on shard 0, setting them `closed`.
fn sweep() -> Json {
    json!({"shard": 0, "isFinished": true, "closeStatus": "ready", "limit": 100,
           "update": {"closeStatus": "closed", "updatedAt": 0}})
}

/// Runs the close sweep (`updateAndDecrementParentACCByIsFinishedAndCloseStatus`) with `args`.
async fn run_sweep(d: &Deployment, args: Json) -> Result<Json, String> {
    d.call(
        "action",
        "updateAndDecrementParentACCByIsFinishedAndCloseStatus",
        args,
    )
    .await
}

async fn id_of(d: &Deployment, execution_id: &str) -> String {
    d.get(&[execution_id]).await[0]["_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn finished_child(id: &str, parent_doc_id: &str, extra: Json) -> Json {
    let mut child = execution_with(
        id,
        json!({"isFinished": true, "closeStatus": "ready", "status": "completed",
                                              "parentExecutionDocId": parent_doc_id}),
    );
    for (k, v) in extra.as_object().unwrap() {
        child[k] = v.clone();
    }
    child
}

#[tokio::test]
async fn sweep_decrements_parents_and_zeroes_parents_of_only_children() {
    let d = Deployment::new();
    d.insert(vec![
        execution_with("many", json!({"acc": 5, "status": "waiting_for_children"})),
        execution_with("only", json!({"acc": 1, "status": "waiting_for_children"})),
        execution_with("finalized", json!({"acc": 3})),
    ])
    .await;
    let (many, only, finalized) = (
        id_of(&d, "many").await,
        id_of(&d, "only").await,
        id_of(&d, "finalized").await,
    );
    d.insert(vec![
        finished_child("m1", &many, json!({})),
        finished_child("m2", &many, json!({"isOnlyChildOfParent": false})),
        finished_child("o1", &only, json!({"isOnlyChildOfParent": true})),
        finished_child("f1", &finalized, json!({"isFinalizeOfParent": true})),
        finished_child("orphanless", &many, json!({}))
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.remove("parentExecutionDocId");
                Json::Object(o)
            })
            .unwrap(),
        finished_child("unfinished", &many, json!({"isFinished": false})),
    ])
    .await;
    d.clock.advance_ms(10_000);
    let now = NOW + 10_000.0;
    let count = run_sweep(&d, sweep()).await.unwrap();
    assert_eq!(count, json!(5.0), "m1, m2, o1, f1, orphanless");
    let docs = d
        .get(&["many", "only", "finalized", "m1", "unfinished"])
        .await;
    assert_eq!(docs[0]["acc"], json!(3.0), "5 - 2");
    assert_eq!(docs[0]["updatedAt"], json!(now), "clamped update.updatedAt");
    assert_eq!(docs[1]["acc"], json!(0.0));
    assert_eq!(docs[1]["updatedAt"], json!(now));
    assert_eq!(
        docs[2]["acc"],
        json!(3.0),
        "a finalize child does not count"
    );
    assert_eq!(docs[3]["closeStatus"], "closed");
    assert_eq!(docs[4]["closeStatus"], "ready");
    let again = run_sweep(&d, sweep()).await.unwrap();
    assert_eq!(again, json!(0.0), "closed children are not picked again");
}

/// Parents `gone` and `kept` (acc 2), a finished child `orphan` of `gone` (with `orphan_fields`)
/// and one, `c`, of `kept`; then `gone` is deleted and the clock passes the children's
/// `updatedAt`. Answers the deployment and `gone`'s document id.
async fn orphaned_child(orphan_fields: Json) -> (Deployment, String) {
    let d = Deployment::holding(vec![
        execution("gone"),
        execution_with("kept", json!({"acc": 2})),
    ])
    .await;
    let (gone, kept) = (id_of(&d, "gone").await, id_of(&d, "kept").await);
    d.insert(vec![
        finished_child("orphan", &gone, orphan_fields),
        finished_child("c", &kept, json!({})),
    ])
    .await;
    d.call("mutation", "deleteById", json!({"executionId": "gone"}))
        .await
        .unwrap();
    d.clock.advance_ms(1_000);
    (d, gone)
}

#[tokio::test]
async fn sweep_skips_a_missing_parent_of_several_children() {
    let (d, _) = orphaned_child(json!({})).await;
    let count = run_sweep(&d, sweep()).await.unwrap();
    assert_eq!(count, json!(2.0));
    let docs = d.get(&["kept", "gone", "orphan", "c"]).await;
    assert_eq!(docs[0]["acc"], json!(1.0));
    assert_eq!(docs[1], Json::Null, "not re-created");
    assert_eq!(docs[2]["closeStatus"], "closed");
    assert_eq!(docs[3]["closeStatus"], "closed");
}

/// Upstream patches an only child's parent blindly: Convex's `db.patch` of a missing document
/// throws, the whole mutation rolls back (the children's updates and the other parents'
/// decrements too), and the lock is released.
#[tokio::test]
async fn sweep_fails_whole_on_a_missing_parent_of_an_only_child() {
    let (d, gone) = orphaned_child(json!({"isOnlyChildOfParent": true})).await;
    let before = d.get(&["kept", "orphan", "c"]).await;
    let err = run_sweep(&d, sweep()).await.unwrap_err();
    assert_eq!(
        err,
        format!("Uncaught Error: Update on nonexistent document ID {gone}")
    );
    assert_eq!(
        d.get(&["kept", "orphan", "c"]).await,
        before,
        "nothing of the sweep was kept"
    );
    assert!(
        !d.state
            .functions
            .locks()
            .is_held("updateAndDecrementParentACCByIsFinishedAndCloseStatus_0_true_ready"),
        "the lock was released"
    );
}

#[tokio::test]
async fn sweep_sets_only_child_parents_before_decrementing_others() {
    // A parent named both by an only child and by a sibling: set to 0 first, then decremented.
    let d = Deployment::holding(vec![execution_with("p", json!({"acc": 4}))]).await;
    let p = id_of(&d, "p").await;
    d.insert(vec![
        finished_child("c1", &p, json!({})),
        finished_child("c2", &p, json!({"isOnlyChildOfParent": true})),
    ])
    .await;
    d.clock.advance_ms(1_000);
    run_sweep(&d, sweep()).await.unwrap();
    assert_eq!(d.get(&["p"]).await[0]["acc"], json!(-1.0));
}

#[tokio::test]
async fn sweep_respects_the_limit_and_the_clock() {
    let d = Deployment::holding(vec![execution_with("p", json!({"acc": 3}))]).await;
    let p = id_of(&d, "p").await;
    d.insert(
        (0..3)
            .map(|i| finished_child(&format!("c{i}"), &p, json!({})))
            .collect(),
    )
    .await;
    let mut args = sweep();
    args["limit"] = json!(2);
    // Inserted at T0 with updatedAt T0 + 50: invisible to a sweep at T0 + 50.
    d.clock.advance_ms(50);
    let count = run_sweep(&d, args.clone()).await;
    assert_eq!(count.unwrap(), json!(0.0));
    d.clock.advance_ms(1);
    let count = run_sweep(&d, args.clone()).await;
    assert_eq!(count.unwrap(), json!(2.0));
    assert_eq!(d.get(&["p"]).await[0]["acc"], json!(1.0));
    let count = run_sweep(&d, args).await;
    assert_eq!(count.unwrap(), json!(1.0));
    assert_eq!(d.get(&["p"]).await[0]["acc"], json!(0.0));
}
