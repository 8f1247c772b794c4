//! `Cache-Control: no-store` on every answer of the generic token service
//! (`tokens::router`, which the gateway does not mount): login, refresh and check carry
//! tokens; logout and the failures are no-store as well.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use tower_authn_axum::tokens;
use tower_authn_core::UserStoreExt;
use tower_authn_core::issue::OpaqueTokenIssuer;
use tower_authn_core::issue::RefreshTokens;
use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};

fn app() -> Router {
    let users = MemoryUserStore::new();
    users.add_user("alice", "wonderland", |u| u).expect("hash");
    let keys = MemoryKeyStore::new();
    let access = OpaqueTokenIssuer::new(keys.clone());
    Router::new().nest(
        "/auth",
        tokens::router(
            users.password_verifier(),
            access.clone(),
            access.verifier(),
            RefreshTokens::new(keys),
        ),
    )
}

/// Sends `req`; checks `status` and `Cache-Control: no-store` (exactly), and returns the
/// body as JSON.
async fn no_store(app: &Router, what: &str, req: Request<Body>, status: u16) -> Value {
    let res = app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(
        res.status(),
        StatusCode::from_u16(status).unwrap(),
        "{what}"
    );
    let values: Vec<_> = res.headers().get_all("cache-control").iter().collect();
    assert_eq!(values, ["no-store"], "{what}: {:?}", res.headers());
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}

fn json(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

fn text(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {v}"))
        .to_owned()
}

#[tokio::test]
async fn every_answer_of_the_token_service_is_no_store() {
    let app = app();
    let login = no_store(
        &app,
        "login",
        json(
            "/auth/login",
            r#"{"username":"alice","password":"wonderland"}"#,
        ),
        200,
    )
    .await;
    let access = text(&login, "access_token");
    let refresh = text(&login, "refresh_token");

    let refreshed = no_store(
        &app,
        "refresh",
        json(
            "/auth/refresh",
            &format!(r#"{{"refresh_token":"{refresh}"}}"#),
        ),
        200,
    )
    .await;
    text(&refreshed, "refresh_token");
    let checked = no_store(&app, "check", bearer("/auth/check", &access), 200).await;
    text(&checked, "access_token");
    no_store(
        &app,
        "logout",
        json("/auth/logout", &format!(r#"{{"token":"{access}"}}"#)),
        200,
    )
    .await;

    // Failures.
    no_store(
        &app,
        "a wrong password",
        json("/auth/login", r#"{"username":"alice","password":"x"}"#),
        401,
    )
    .await;
    no_store(
        &app,
        "a spent refresh token",
        json(
            "/auth/refresh",
            &format!(r#"{{"refresh_token":"{refresh}"}}"#),
        ),
        401,
    )
    .await;
    no_store(
        &app,
        "an unknown access token",
        bearer("/auth/check", "not-a-token"),
        401,
    )
    .await;
    no_store(
        &app,
        "a body that is not JSON",
        Request::post("/auth/login")
            .header("content-type", "text/plain")
            .body(Body::from("alice"))
            .expect("request"),
        415,
    )
    .await;
}
