//! Upstream's behaviour where it is surprising, through the router: the locked actions take
//! their lock before they check the secret and read their unvalidated arguments as JavaScript
//! does, and every call is held to Convex's transaction limits. Each failing call is checked
//! to have changed nothing.

mod common;

use common::{execution, execution_with, Deployment, SECRET};
use serde_json::{json, Value as Json};

const CLAIM: &str = "updateByStatusAndStartAtLessThanAndReturn";

fn claim(overrides: Json) -> Json {
    let mut args = json!({"shard": 0, "status": "ready", "startAtLessThan": 1e15, "limit": 10,
           "updateExpiresAtWithStartedAt": 0, "update": {"status": "running", "updatedAt": 0}});
    for (k, v) in overrides.as_object().unwrap() {
        args[k] = v.clone();
    }
    args
}

async fn call_with_secret(
    d: &Deployment,
    function: &str,
    secret: &str,
    args: Json,
) -> Result<Json, String> {
    d.call_raw(
        "action",
        function,
        json!([{"authSecret": secret, "args": args}]),
    )
    .await
}

#[tokio::test]
async fn a_busy_lock_answers_its_default_whatever_the_secret() {
    let d = Deployment::holding(vec![execution("e")]).await;
    assert!(d
        .state
        .functions
        .locks()
        .hold_as_if_crashed("updateByStatusAndStartAtLessThanAndReturn_0_ready"));
    assert_eq!(
        call_with_secret(&d, CLAIM, "wrong", claim(json!({}))).await,
        Ok(json!([]))
    );
    let count = call_with_secret(
        &d,
        "updateByOCFPExpiresAt",
        "",
        json!({"ocfpExpiresAtLessThan": 1, "limit": 1, "update": {"updatedAt": 0}}),
    )
    .await;
    assert_eq!(
        count,
        Err("Uncaught Error: Invalid auth secret".into()),
        "free lock: secret checked"
    );
    assert!(
        !d.state.functions.locks().is_held("updateByOCFPExpiresAt"),
        "the lock taken before the secret check was released"
    );
}

#[tokio::test]
async fn missing_inner_args_fail_while_building_the_lock_key() {
    let d = Deployment::new();
    let err = d
        .call_raw("action", CLAIM, json!([{"authSecret": SECRET}]))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "Uncaught TypeError: Cannot read properties of undefined (reading 'shard')"
    );
    // The two expiry sweeps build no key from the args: `runMutation` gets `{}`, and `take`
    // finds no `limit`.
    let err = d
        .call_raw(
            "action",
            "updateByCloseExpiresAt",
            json!([{"authSecret": SECRET}]),
        )
        .await
        .unwrap_err();
    assert_eq!(err, "Uncaught TypeError: Must provide arg 1 `n` to `take`");
    let err = d
        .call_raw(
            "action",
            "updateByCloseExpiresAt",
            json!([{"authSecret": SECRET, "args": 7}]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "Uncaught Error: The arguments to a Convex function must be an object. Received: 7"
    );
}

#[tokio::test]
async fn lock_keys_are_javascript_template_strings_of_what_was_sent() {
    let d = Deployment::new();
    // A shard sent as a string and as an array: upstream's key reads `_0_` for both, so they
    // share one lock; the index compares the values as they are and matches nothing.
    d.insert(vec![execution("e")]).await;
    let key = "updateByStatusAndStartAtLessThanAndReturn_1,2_ready";
    assert!(d.state.functions.locks().hold_as_if_crashed(key));
    let busy = d
        .call("action", CLAIM, claim(json!({"shard": [1, 2]})))
        .await;
    assert_eq!(busy, Ok(json!([])));
    let none = d.call("action", CLAIM, claim(json!({"shard": "0"}))).await;
    assert_eq!(
        none,
        Ok(json!([])),
        "the string \"0\" is not the number 0 in an index"
    );
    assert_eq!(d.get(&["e"]).await[0]["status"], "ready");
}

#[tokio::test]
async fn take_checks_the_limit_before_anything_is_read() {
    let d = Deployment::holding(vec![execution("e")]).await;
    for (limit, message) in [
        (
            json!("5"),
            "Uncaught TypeError: Arg 1 `n` to `take` must be a non-negative integer",
        ),
        (
            json!(1.5),
            "Uncaught TypeError: Arg 1 `n` to `take` must be a non-negative integer",
        ),
        (
            json!(-1),
            "Uncaught TypeError: Arg 1 `n` to `take` must be a non-negative integer",
        ),
    ] {
        let err = d
            .call("action", CLAIM, claim(json!({"limit": limit})))
            .await
            .unwrap_err();
        assert_eq!(err, message);
    }
    assert_eq!(d.get(&["e"]).await[0]["status"], "ready");
}

#[tokio::test]
async fn an_update_that_does_not_fit_the_table_fails_the_schema_check_and_changes_nothing() {
    let d = Deployment::holding(vec![execution("e"), execution("f")]).await;
    let before = d.get(&["e", "f"]).await;
    let err = d
        .call(
            "action",
            CLAIM,
            claim(json!({"update": {"status": "sleeping", "updatedAt": 0}})),
        )
        .await
        .unwrap_err();
    assert!(
        err.starts_with(
            "Uncaught Error: Failed to insert or update a document in table \"taskExecutions\" \
             because it does not match the schema: "
        ),
        "{err}"
    );
    assert_eq!(
        d.get(&["e", "f"]).await,
        before,
        "the claim rolled back whole"
    );

    // An update without `updatedAt` is no error upstream: `undefined < now` is false, so the
    // patch simply leaves `updatedAt` alone.
    let claimed = d
        .call(
            "action",
            CLAIM,
            claim(json!({"update": {"status": "running"}})),
        )
        .await
        .unwrap();
    assert_eq!(claimed.as_array().unwrap().len(), 2);
    let after = d.get(&["e"]).await;
    assert_eq!(after[0]["status"], "running");
    assert_eq!(after[0]["updatedAt"], before[0]["updatedAt"]);
}

#[tokio::test]
async fn a_claim_without_update_still_sets_expires_at() {
    // `{...undefined, expiresAt}` is `{expiresAt}`: the claim only moves the deadline.
    let d = Deployment::holding(vec![execution("e")]).await;
    let mut args = claim(json!({"updateExpiresAtWithStartedAt": 9e15}));
    args.as_object_mut().unwrap().remove("update");
    let claimed = d.call("action", CLAIM, args).await.unwrap();
    assert_eq!(claimed.as_array().unwrap().len(), 1);
    let after = d.get(&["e"]).await;
    assert_eq!(after[0]["status"], "ready");
    assert_eq!(after[0]["expiresAt"], json!(9e15 + 1000.0));
}

#[tokio::test]
async fn a_string_base_concatenates_and_the_schema_refuses_it() {
    let d = Deployment::holding(vec![execution("e")]).await;
    let err = d
        .call(
            "action",
            CLAIM,
            claim(json!({"updateExpiresAtWithStartedAt": "soon"})),
        )
        .await
        .unwrap_err();
    assert!(err.contains("does not match the schema"), "{err}");
    assert!(
        err.contains("\"soon1000\""),
        "JavaScript's + concatenated: {err}"
    );
}

/// ~900 KiB of input, under the 1 MiB document limit.
fn big_execution(id: &str) -> Json {
    execution_with(id, json!({"input": "x".repeat(900 * 1024)}))
}

#[tokio::test]
async fn reading_one_big_document_512_times_fails_with_the_read_limit() {
    let d = Deployment::holding(vec![big_execution("big")]).await;
    let requests: Vec<Json> = (0..512).map(|_| json!({"executionId": "big"})).collect();
    let err = d
        .call("query", "getManyById", json!({"requests": requests}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "Uncaught Error: Too many bytes read in a single function execution (limit: 16777216 \
         bytes). Consider using smaller limits in your queries, paginating your queries, or \
         using indexed queries with a selective index range expressions."
    );
    // Eighteen reads fit (16 MiB / 900 KiB); the same call with fewer repeats is answered.
    let requests: Vec<Json> = (0..18).map(|_| json!({"executionId": "big"})).collect();
    let docs = d
        .call("query", "getManyById", json!({"requests": requests}))
        .await
        .unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 18);
}

/// Asserts Convex's error for a call that reads more than 4,096 index ranges.
fn assert_read_range_limit(err: &str) {
    assert!(
        err.starts_with(
            "Uncaught Error: Too many reads in a single function execution (limit: 4096)."
        ),
        "{err}"
    );
}

#[tokio::test]
async fn more_than_4096_distinct_lookups_fail_with_the_read_range_limit() {
    let d = Deployment::new();
    let requests: Vec<Json> = (0..4097)
        .map(|i| json!({"executionId": format!("id-{i}")}))
        .collect();
    let err = d
        .call("query", "getManyById", json!({"requests": requests}))
        .await
        .unwrap_err();
    assert_read_range_limit(&err);
}

/// Inserts `count` children of parent `p`, numbered from `from`, in calls of 4000 (each insert
/// looks its id up first, and one call may read at most 4096 index ranges).
async fn insert_children(d: &Deployment, from: usize, count: usize) {
    let ids: Vec<usize> = (from..from + count).collect();
    for chunk in ids.chunks(4000) {
        let children: Vec<Json> = chunk
            .iter()
            .map(|i| {
                execution_with(
                    &format!("c{i}"),
                    json!({"parentTaskId": "t", "parentExecutionId": "p"}),
                )
            })
            .collect();
        d.insert(children).await;
    }
}

#[tokio::test]
async fn an_insert_of_more_than_4096_executions_fails_on_its_id_lookups() {
    let d = Deployment::new();
    let executions: Vec<Json> = (0..4097).map(|i| execution(&format!("e{i}"))).collect();
    let err = d
        .call("mutation", "insertMany", json!({"executions": executions}))
        .await
        .unwrap_err();
    assert_read_range_limit(&err);
    assert_eq!(d.get(&["e0"]).await[0], Json::Null, "nothing was inserted");
}

/// A parent with 4,096 children cannot have them all updated in one call: each `db.patch`
/// reads its document by id first, one more index range each, past the 4,096 a call may read.
/// With 32,001 children it cannot even have them listed (the documents-read limit).
#[tokio::test]
async fn big_families_hit_the_read_range_limit_then_the_documents_read_limit() {
    let d = Deployment::new();
    insert_children(&d, 0, 4096).await;
    let update_all = json!({"requests": [{"parentExecutionId": "p", "isFinished": false,
        "update": {"status": "cancelled", "updatedAt": 0}}]});
    let err = d
        .call(
            "action",
            "updateManyByParentExecutionIdAndIsFinished",
            update_all.clone(),
        )
        .await
        .unwrap_err();
    assert_read_range_limit(&err);
    assert_eq!(
        d.get(&["c0"]).await[0]["status"],
        "ready",
        "nothing was updated"
    );

    insert_children(&d, 4096, 27_905).await;
    let list = json!({"requests": [{"parentExecutionId": "p"}]});
    let err = d
        .call("query", "getManyByParentExecutionId", list)
        .await
        .unwrap_err();
    assert!(
        err.starts_with(
            "Uncaught Error: Too many documents read in a single function execution (limit: 32000)."
        ),
        "{err}"
    );
}
