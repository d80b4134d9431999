//! In-process router tests: every way a request can go wrong before or around a function,
//! and that nothing changes in the database when it does.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{execution, Deployment, MODULE, SECRET};
use serde_json::{json, Value as Json};

fn request(route: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post(route);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(body.into()).unwrap()
}

/// Asserts an HTTP-level refusal in Convex's shape: 400 with `code`; answers its message.
fn refused<'a>(status: StatusCode, body: &'a Json, code: &str) -> &'a str {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], code, "{body}");
    body["message"].as_str().unwrap_or_default()
}

/// The JSON of a reply's body text.
fn parsed(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn count_of(d: &Deployment, ids: &[&str]) -> usize {
    d.get(ids).await.iter().filter(|doc| !doc.is_null()).count()
}

#[tokio::test]
async fn malformed_json_is_bad_json_body() {
    let d = Deployment::new();
    let (status, text) = d
        .send(request("/api/mutation", Some("application/json"), "{nope"))
        .await;
    let body = parsed(&text);
    let message = refused(status, &body, "BadJsonBody");
    assert!(message.starts_with("Failed to parse the request body as JSON"));
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_bad_json_body() {
    let d = Deployment::new();
    let body = json!({"path": "taskExecutionsStorage:deleteAll", "args": {}}).to_string();
    for content_type in [Some("text/plain"), None] {
        let (status, text) = d
            .send(request("/api/action", content_type, body.clone()))
            .await;
        let body = parsed(&text);
        assert_eq!(
            refused(status, &body, "BadJsonBody"),
            "Expected request with `Content-Type: application/json`"
        );
    }
    let ok = d
        .send(request(
            "/api/query",
            Some("application/json; charset=utf-8"),
            "{}",
        ))
        .await;
    assert_eq!(
        ok.0,
        StatusCode::BAD_REQUEST,
        "missing fields, but the content type passed"
    );
    assert!(ok.1.contains("missing field"));
}

#[tokio::test]
async fn oversized_body_is_bad_json_body_not_413() {
    let d = Deployment::new();
    let limit = convex_storage_emulator::limits::BODY_BYTES_MAX;
    let padding = "x".repeat(limit);
    let body = json!({"path": "taskExecutionsStorage:insertMany", "args": [{"pad": padding}]});
    let (status, body) = d.post("/api/mutation", body).await;
    refused(status, &body, "BadJsonBody");
}

#[tokio::test]
async fn body_just_under_the_limit_is_read() {
    let d = Deployment::new();
    let envelope = json!({"path": "taskExecutionsStorage:deleteAll", "args": [{"pad": ""}]});
    let overhead = envelope.to_string().len();
    let padding = "x".repeat(convex_storage_emulator::limits::BODY_BYTES_MAX - overhead);
    let body = json!({"path": "taskExecutionsStorage:deleteAll", "args": [{"pad": padding}]});
    assert_eq!(
        body.to_string().len(),
        convex_storage_emulator::limits::BODY_BYTES_MAX
    );
    let (status, body) = d.post("/api/action", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        common::outcome(&body).unwrap_err(),
        "Uncaught Error: Invalid auth secret"
    );
}

#[tokio::test]
async fn missing_path_or_args_is_bad_json_body() {
    let d = Deployment::new();
    for body in [
        json!({"args": {}}),
        json!({"path": "taskExecutionsStorage:deleteAll"}),
        json!({"path": 5, "args": {}}),
    ] {
        let (status, reply) = d.post("/api/action", body).await;
        let message = refused(status, &reply, "BadJsonBody");
        assert!(message.starts_with("Failed to deserialize the JSON body"));
    }
}

#[tokio::test]
async fn unparsable_paths_are_bad_identifiers() {
    let d = Deployment::new();
    for path in ["", "/abs:fn", "a/../b:fn", "mod.ts:fn", "mod:1x"] {
        let (status, body) = d
            .post("/api/query", json!({"path": path, "args": {}}))
            .await;
        let message = refused(status, &body, "BadConvexFunctionIdentifier");
        assert!(message.starts_with(&format!("{path} is not a valid path to a Convex function.")));
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_framework_errors() {
    let d = Deployment::new();
    let (status, _) = d.post("/api/nope", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = d
        .send(Request::get("/api/query").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn unknown_functions_are_function_errors() {
    let d = Deployment::new();
    for (path, shown) in [
        ("taskExecutionsStorage:nope", "taskExecutionsStorage:nope"),
        (
            "taskExecutionsStorage.js:nope",
            "taskExecutionsStorage:nope",
        ),
        ("other:insertMany", "other:insertMany"),
        ("taskExecutionsStorage", "taskExecutionsStorage"),
    ] {
        let (status, body) = d
            .post("/api/query", json!({"path": path, "args": {}}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            common::outcome(&body).unwrap_err(),
            format!("Could not find public function for '{shown}'.")
        );
    }
}

#[tokio::test]
async fn wrong_kind_names_the_canonical_path() {
    let d = Deployment::new();
    let cases = [
        ("mutation", "getManyById", "Mutation", "Query"),
        ("query", "insertMany", "Query", "Mutation"),
        ("action", "deleteById", "Action", "Mutation"),
        ("mutation", "updateManyById", "Mutation", "Action"),
    ];
    for (endpoint, function, as_kind, defined) in cases {
        let err = d.call(endpoint, function, json!({})).await.unwrap_err();
        assert_eq!(
            err,
            format!(
                "Trying to execute {MODULE}.js:{function} as {as_kind}, but it is defined as {defined}."
            )
        );
    }
}

#[tokio::test]
async fn js_suffixed_paths_and_run_route_reach_the_function() {
    let d = Deployment::new();
    let body = json!({
        "path": "taskExecutionsStorage.js:getManyById",
        "args": [{"authSecret": SECRET, "args": {"requests": []}}],
    });
    let (status, reply) = d.post("/api/query", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(common::outcome(&reply).unwrap(), json!([]));
    // /api/run accepts any kind.
    let run = json!({"args": {"authSecret": SECRET, "args": {"executions": [execution("r1")]}}});
    let (status, reply) = d
        .post("/api/run/taskExecutionsStorage/insertMany", run)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(common::outcome(&reply).unwrap(), Json::Null);
    assert_eq!(count_of(&d, &["r1"]).await, 1);
    let (status, reply) = d.post("/api/run/insertMany", json!({"args": {}})).await;
    refused(status, &reply, "MissingIdentifier");
}

#[tokio::test]
async fn bad_format_is_400_after_the_function_ran() {
    let d = Deployment::new();
    let body = json!({
        "path": "taskExecutionsStorage:insertMany",
        "format": "yaml",
        "args": [{"authSecret": SECRET, "args": {"executions": [execution("f1")]}}],
    });
    let (status, reply) = d.post("/api/mutation", body).await;
    refused(status, &reply, "BadFormat");
    assert_eq!(
        count_of(&d, &["f1"]).await,
        1,
        "the mutation committed, as on Convex"
    );
}

#[tokio::test]
async fn output_formats_encode_special_floats_differently() {
    let d = Deployment::new();
    let nan = json!({"$float": "AAAAAAAA+H8="});
    d.insert(vec![common::execution_with(
        "n1",
        json!({"retryAttempts": nan}),
    )])
    .await;
    let args = json!([{"authSecret": SECRET, "args": {"requests": [{"executionId": "n1"}]}}]);
    let path = "taskExecutionsStorage:getManyById";
    for (format, expected) in [
        (Some("convex_encoded_json"), nan.clone()),
        (Some("convex_json"), nan.clone()),
        (Some("json"), json!("NaN")),
        (Some("convex_clean_json"), json!("NaN")),
        (None, json!("NaN")),
    ] {
        let mut body = json!({"path": path, "args": args});
        if let Some(format) = format {
            body["format"] = json!(format);
        }
        let (status, reply) = d.post("/api/query", body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reply["value"][0]["retryAttempts"], expected, "{format:?}");
    }
    // /api/run defaults to clean JSON.
    let (_, reply) = d
        .post(
            "/api/run/taskExecutionsStorage/getManyById",
            json!({"args": args}),
        )
        .await;
    assert_eq!(reply["value"][0]["retryAttempts"], json!("NaN"));
}

#[tokio::test]
async fn dollar_keys_in_args_are_invalid_arguments() {
    let d = Deployment::new();
    let err = d
        .call("mutation", "insertMany", json!({"$foo": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "Invalid arguments for taskExecutionsStorage:insertMany: Field name $foo starts with '$', \
         which is reserved."
    );
    let bad_integer = json!({"executions": [], "x": {"$integer": "AQ=="}});
    let err = d
        .call("mutation", "insertMany", bad_integer)
        .await
        .unwrap_err();
    assert!(
        err.starts_with("Invalid arguments for taskExecutionsStorage:insertMany: "),
        "{err}"
    );
}

#[tokio::test]
async fn args_may_be_an_array_or_a_bare_object() {
    let d = Deployment::new();
    let envelope = json!({"authSecret": SECRET, "args": {"executions": [execution("a1")]}});
    d.call_raw("mutation", "insertMany", json!([envelope]))
        .await
        .unwrap();
    let envelope = json!({"authSecret": SECRET, "args": {"executions": [execution("a2")]}});
    d.call_raw("mutation", "insertMany", envelope)
        .await
        .unwrap();
    assert_eq!(count_of(&d, &["a1", "a2"]).await, 2);
    // No positional argument at all: no envelope, so no secret.
    let err = d
        .call_raw("query", "getManyById", json!([]))
        .await
        .unwrap_err();
    assert_eq!(err, "Uncaught Error: Invalid auth secret");
}

#[tokio::test]
async fn every_function_checks_the_secret_first_and_changes_nothing() {
    let d = Deployment::holding(vec![execution("kept")]).await;
    let bad_envelopes = [
        json!([{"args": {}}]),
        json!([{"authSecret": "", "args": {}}]),
        json!([{"authSecret": "wrong", "args": {}}]),
        json!([{"authSecret": 5, "args": {}}]),
        json!(["test-secret"]),
        json!([null]),
    ];
    for function in convex_storage_emulator::functions::Operation::ALL {
        let kind = match function.kind() {
            convex_storage_emulator::functions::FunctionKind::Query => "query",
            convex_storage_emulator::functions::FunctionKind::Mutation => "mutation",
            convex_storage_emulator::functions::FunctionKind::Action => "action",
        };
        // Upstream's locked actions build their lock key from `args.args` before they check
        // the secret, so an envelope without readable inner args fails there, as JavaScript.
        let keyed = function.kind() == convex_storage_emulator::functions::FunctionKind::Action
            && !function.name().ends_with("ExpiresAt")
            && function.name().starts_with("update")
            && !function.name().starts_with("updateMany");
        for envelope in &bad_envelopes {
            let err = d
                .call_raw(kind, function.name(), envelope.clone())
                .await
                .unwrap_err();
            let expected = match (keyed, &envelope[0]) {
                (true, serde_json::Value::String(_)) => {
                    "Uncaught TypeError: Cannot read properties of undefined (reading 'shard')"
                        .replace("shard", first_key_field(function.name()))
                }
                (true, serde_json::Value::Null) => {
                    "Uncaught TypeError: Cannot read properties of null (reading 'args')".into()
                }
                _ => "Uncaught Error: Invalid auth secret".to_string(),
            };
            assert_eq!(err, expected, "{} {envelope}", function.name());
        }
    }
    assert_eq!(
        count_of(&d, &["kept"]).await,
        1,
        "deleteAll/deleteById did nothing"
    );
    assert!(
        !d.state.functions.locks().is_held("updateByOCFPExpiresAt"),
        "no lock was taken"
    );
}

/// The first argument field upstream reads for a locked action's key.
fn first_key_field(function: &str) -> &'static str {
    match function {
        "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan" => "status",
        _ => "shard",
    }
}

#[tokio::test]
async fn extra_envelope_fields_are_ignored() {
    let d = Deployment::new();
    let envelope = json!([{"authSecret": SECRET, "args": {"requests": []}, "extra": {"$integer": "AQAAAAAAAAA="}}]);
    assert_eq!(
        d.call_raw("query", "getManyById", envelope).await.unwrap(),
        json!([])
    );
}

#[tokio::test]
async fn inner_args_are_validated_strictly() {
    let d = Deployment::new();
    let err = d.call("query", "getManyById", json!({})).await.unwrap_err();
    assert!(
        err.starts_with(
            "ArgumentValidationError: Object is missing the required field `requests`. Consider \
         wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: {}\n\
         Validator: v.object({requests: v.array("
        ),
        "{err}"
    );
    let err = d
        .call("query", "getManyById", json!({"requests": [], "x": 1}))
        .await
        .unwrap_err();
    assert!(err.starts_with(
        "ArgumentValidationError: Object contains extra field `x` that is not in the validator.\n\n\
         Object: {requests: [], x: 1.0}\nValidator: v.object({"
    ), "{err}");
    let err = d
        .call(
            "query",
            "getManyById",
            json!({"requests": [{"executionId": 1}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "ArgumentValidationError: Value does not match validator.\nPath: .requests[0].executionId\n\
         Value: 1.0\nValidator: v.string()"
    );
    // Upstream's public query hands the inner args to `ctx.runQuery`, which wants an object.
    let err = d.call("query", "getManyById", json!(5)).await.unwrap_err();
    assert_eq!(
        err,
        "Uncaught Error: The arguments to a Convex function must be an object. Received: 5"
    );
    // deleteAll takes `{}` or nothing, but nothing else.
    d.call("action", "deleteAll", json!({})).await.unwrap();
    d.call_raw("action", "deleteAll", json!([{"authSecret": SECRET}]))
        .await
        .unwrap();
    let err = d
        .call("action", "deleteAll", json!({"x": 1}))
        .await
        .unwrap_err();
    assert!(err.starts_with("ArgumentValidationError: Object contains extra field `x`"));
}

#[tokio::test]
async fn invalid_inserts_change_nothing() {
    let d = Deployment::new();
    let mut bad = execution("v2");
    bad["status"] = json!("sleeping");
    let err = d
        .call(
            "mutation",
            "insertMany",
            json!({"executions": [execution("v1"), bad]}),
        )
        .await;
    let err = err.unwrap_err();
    assert!(err.starts_with("ArgumentValidationError: Value does not match validator.\nPath: .executions[1].status\nValue: \"sleeping\"\nValidator: v.union(v.literal(\"ready\")"), "{err}");
    let mut bad = execution("v3");
    bad["parentExecutionDocId"] = json!("j57004926d25askqh2ctneycvn77kce3");
    let err = d
        .call("mutation", "insertMany", json!({"executions": [bad]}))
        .await
        .unwrap_err();
    assert!(
        err.contains("Path: .executions[0].parentExecutionDocId"),
        "{err}"
    );
    let mut bad = execution("v4");
    bad["shard"] = json!({"$integer": "AQAAAAAAAAA="});
    let err = d
        .call("mutation", "insertMany", json!({"executions": [bad]}))
        .await
        .unwrap_err();
    assert!(err.contains("Value: 1\nValidator: v.float64()"), "{err}");
    assert_eq!(count_of(&d, &["v1", "v2", "v3", "v4"]).await, 0);
}

#[tokio::test]
async fn cors_preflight_mirrors_the_origin() {
    let d = Deployment::new();
    let request = Request::options("/api/query")
        .header("origin", "http://example.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,convex-client",
        )
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(d.app.clone(), request)
        .await
        .unwrap();
    assert!(response.status().is_success());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://example.test"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(
        headers["access-control-allow-headers"],
        "content-type,convex-client"
    );
    assert_eq!(headers["access-control-max-age"], "86400");
    assert_eq!(
        headers["access-control-allow-methods"],
        "GET,POST,OPTIONS,PATCH,DELETE,PUT"
    );
    assert_eq!(
        headers["vary"],
        "origin, access-control-request-method, access-control-request-headers"
    );
}

#[tokio::test]
async fn every_api_answer_carries_cors_headers_and_mirrors_only_a_given_origin() {
    let d = Deployment::new();
    let body = json!({
        "path": format!("{MODULE}:getManyById"),
        "args": {"authSecret": SECRET, "args": {"requests": []}},
    })
    .to_string();
    // A call that succeeds, and a route's wrong method.
    let calls = [("POST", "/api/query"), ("GET", "/api/query")];
    for (method, path) in calls {
        for origin in [Some("http://localhost:5173"), None] {
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json");
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let request = request.body(Body::from(body.clone())).unwrap();
            let response = tower::ServiceExt::oneshot(d.app.clone(), request)
                .await
                .unwrap();
            let headers = response.headers();
            let what = format!("{method} {path} from {origin:?}");
            assert_eq!(
                headers["vary"],
                "origin, access-control-request-method, access-control-request-headers",
                "{what}"
            );
            assert_eq!(
                headers["access-control-allow-credentials"], "true",
                "{what}"
            );
            assert_eq!(
                headers
                    .get("access-control-allow-origin")
                    .map(|o| o.to_str().unwrap()),
                origin,
                "{what}"
            );
            // Only a preflight lists methods and headers.
            assert!(
                headers.get("access-control-allow-methods").is_none(),
                "{what}"
            );
        }
    }
    // Outside `/api` (the control routes, the meta endpoints) answers carry no CORS headers.
    let request = Request::get("/version")
        .header("origin", "http://localhost:5173")
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(d.app.clone(), request)
        .await
        .unwrap();
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn meta_endpoints_answer() {
    let d = Deployment::new();
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    let (status, text) = d.send(get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        text,
        "This Convex deployment is running. See https://docs.convex.dev/."
    );
    for path in ["/version", "/instance_name", "/instance_version"] {
        let (status, text) = d.send(get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!text.is_empty());
    }
}

#[tokio::test]
async fn consistent_query_endpoints_work() {
    let d = Deployment::new();
    let (status, text) = d
        .send(request("/api/query_ts", Some("application/json"), ""))
        .await;
    assert_eq!(status, StatusCode::OK);
    let ts = serde_json::from_str::<Json>(&text).unwrap()["ts"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({
        "path": "taskExecutionsStorage:getManyById",
        "ts": ts,
        "format": "convex_encoded_json",
        "args": [{"authSecret": SECRET, "args": {"requests": []}}],
    });
    let (status, reply) = d.post("/api/query_at_ts", body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(common::outcome(&reply).unwrap(), json!([]));
    let mut bad = body;
    bad["ts"] = json!("AQ==");
    let (status, _) = d.post("/api/query_at_ts", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn invalid_client_header_is_rejected() {
    let d = Deployment::new();
    let request = Request::post("/api/query")
        .header("content-type", "application/json")
        .header("convex-client", "nodash")
        .body(Body::from(
            json!({"path": "taskExecutionsStorage:getManyById", "args": {}}).to_string(),
        ))
        .unwrap();
    let (status, text) = d.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("InvalidClientVersion"));
}
