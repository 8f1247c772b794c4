//! The OpenAPI example's document (`examples/openapi.rs`): its security schemes and each
//! route's requirements are exactly what its layers accept, and the layers really accept
//! them.

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/openapi.rs"]
mod example;

use axum::body::Body;
use http::Request;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn get(app: &axum::Router, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("answer");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_document_says_what_the_layers_accept() {
    let app = example::app(example::demo::users().expect("users"), "s3rver");
    let (status, doc) = get(&app, "/openapi.json", &[]).await;
    assert_eq!(status, 200);

    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({
            "basic": {"type": "http", "scheme": "basic"},
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "header.x-auth-token": {"type": "apiKey", "in": "header", "name": "x-auth-token"},
            "query.token": {"type": "apiKey", "in": "query", "name": "token"},
            "header.accesstoken": {"type": "apiKey", "in": "header", "name": "accesstoken"},
            "header.accesssecret": {"type": "apiKey", "in": "header", "name": "accesssecret"},
        })
    );
    let security = |path: &str| doc["paths"][path]["get"]["security"].clone();
    assert_eq!(
        security("/whoami"),
        json!([{"basic": []}, {"header.x-auth-token": []}, {"query.token": []}])
    );
    assert_eq!(security("/jwt/whoami"), json!([{"bearer": []}]));
    // The pair is one requirement: both headers at once.
    assert_eq!(
        security("/messaging/whoami"),
        json!([{"header.accesstoken": [], "header.accesssecret": []}])
    );

    // A valid OpenAPI document for utoipa, unchanged by a round trip.
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_value(doc.clone()).expect("an OpenAPI document");
    assert_eq!(serde_json::to_value(&parsed).expect("json"), doc);

    // And each documented way is accepted by the route.
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "alice:wonderland"
        )
    );
    assert_eq!(
        get(&app, "/whoami", &[("authorization", &basic)]).await.0,
        200
    );
    assert_eq!(
        get(&app, "/whoami", &[("x-auth-token", "s3rver")]).await.0,
        200
    );
    assert_eq!(get(&app, "/whoami?token=s3rver", &[]).await.0, 200);
    assert_eq!(
        get(&app, "/jwt/whoami", &[("authorization", "Bearer s3rver")])
            .await
            .0,
        200
    );
    assert_eq!(get(&app, "/whoami", &[]).await.0, 401);
}
