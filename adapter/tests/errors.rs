//! Every error kind of [`StorageError`] as a caller meets it over the socket: a function error
//! from a real server, an unreachable server, a 4xx, and answers that do not decode.

mod support {
    pub mod stub_server;
}

use std::time::Duration;

use convex_storage_testkit::Emulator;
use durable_execution_storage_convex::fixtures::minimal_execution;
use durable_execution_storage_convex::*;
use serde_json::json;
use support::stub_server::{success, StubServer};

const SECRET: &str = "adapter-errors-secret";

fn connect(url: &str, secret: &str, options: ConvexStorageOptions) -> ConvexTaskExecutionsStorage {
    ConvexTaskExecutionsStorage::new(url, secret, options).expect("valid options")
}

fn lookup() -> Vec<GetByIdRequest> {
    vec![GetByIdRequest {
        execution_id: "e1".into(),
        filters: None,
    }]
}

async fn start_emulator() -> Emulator {
    Emulator::builder()
        .auth_secret(SECRET)
        .start()
        .await
        .expect("the emulator starts")
}

#[tokio::test]
async fn wrong_secret_is_a_function_error() {
    let server = start_emulator().await;
    let storage = connect(
        server.url(),
        "not-the-secret",
        ConvexStorageOptions::default(),
    );
    let error = storage.get_many_by_id(lookup()).await.unwrap_err();
    assert!(
        matches!(&error, StorageError::Function { path, message, data: None }
            if path == "taskExecutionsStorage:getManyById"
                && message.starts_with("[Request ID: ")),
        "{error:?}"
    );
    assert_eq!(
        error.thrown_message().as_deref(),
        Some("Invalid auth secret")
    );
}

#[tokio::test]
async fn duplicate_ids_are_function_errors_with_the_thrown_message() {
    let server = start_emulator().await;
    let storage = connect(server.url(), SECRET, ConvexStorageOptions::default());
    storage
        .insert_many(vec![minimal_execution("dup")])
        .await
        .unwrap();
    let error = storage
        .insert_many(vec![minimal_execution("dup")])
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::Function { .. }), "{error:?}");
    assert_eq!(
        error.thrown_message().as_deref(),
        Some("Execution id already exists")
    );
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    // A port that was free a moment ago and has no listener now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let storage = connect(
        &format!("http://127.0.0.1:{port}"),
        SECRET,
        ConvexStorageOptions::default(),
    );
    let error = storage.get_many_by_id(lookup()).await.unwrap_err();
    assert!(
        matches!(&error, StorageError::Transport { path, .. } if path.ends_with(":getManyById")),
        "{error:?}"
    );
    assert_eq!(error.thrown_message(), None);
}

#[tokio::test]
async fn a_slow_server_is_a_transport_error() {
    let stub = StubServer::start(|_| None).await;
    let options = ConvexStorageOptions {
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let error = connect(stub.url(), SECRET, options)
        .get_many_by_id(lookup())
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::Transport { .. }), "{error:?}");
}

#[tokio::test]
async fn a_bad_function_path_is_an_http_error_from_the_emulator() {
    let server = start_emulator().await;
    let options = ConvexStorageOptions {
        module: "../outside".into(),
        ..Default::default()
    };
    let error = connect(server.url(), SECRET, options)
        .get_many_by_id(lookup())
        .await
        .unwrap_err();
    match error {
        StorageError::Http { status, code, .. } => {
            assert_eq!(
                (status, code.as_str()),
                (400, "BadConvexFunctionIdentifier")
            );
        }
        other => panic!("expected Http, got {other:?}"),
    }
}

#[tokio::test]
async fn a_4xx_is_an_http_error() {
    let stub = StubServer::start(|_| {
        Some((
            401,
            json!({"code": "NoAuthProvider", "message": "No auth provider found"}).to_string(),
        ))
    })
    .await;
    let error = connect(stub.url(), SECRET, ConvexStorageOptions::default())
        .get_many_by_id(lookup())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::Http { status: 401, code, message, .. }
            if code == "NoAuthProvider" && message == "No auth provider found"),
        "{error:?}"
    );
}

#[tokio::test]
async fn malformed_answers_are_decode_errors() {
    let answers = [
        Some((200, "<html>not json</html>".to_string())),
        Some((200, json!({"status": "success"}).to_string())),
        success(json!({"not": "a list"})),
        success(json!([{"executionId": "e1"}])),
        success(json!([{"_id": "x", "startAt": 1.5}])),
    ];
    for answer in answers {
        let body = answer.clone();
        let stub = StubServer::start(move |_| answer.clone()).await;
        let error = connect(stub.url(), SECRET, ConvexStorageOptions::default())
            .get_many_by_id(lookup())
            .await
            .unwrap_err();
        assert!(
            matches!(error, StorageError::Decode { .. }),
            "{body:?} gave {error:?}"
        );
    }
}
