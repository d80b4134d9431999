//! The emulator's own routes under `/_emulator/`: the secret guard every one of them shares.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Deployment, SECRET};
use serde_json::Value as Json;

fn get(route: &str, authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::get(route);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn control_routes_demand_the_secret_as_a_bearer_token() {
    let deployment = Deployment::new();
    let bearer = format!("Bearer {SECRET}");
    let (status, body) = deployment
        .send(get("/_emulator/health", Some(&bearer)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(serde_json::from_str::<Json>(&body).unwrap()["ok"], true);

    for refused in [None, Some("Bearer wrong"), Some(SECRET), Some("Bearer ")] {
        let (status, body) = deployment.send(get("/_emulator/health", refused)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused:?}: {body}");
        let body: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "Unauthorized");
        assert!(!body.to_string().contains(SECRET), "never echo the secret");
    }
}
