//! "Every issued secret is stored only as a digest through the store traits": the token
//! services run on a key store that records every record it is given, and no token, key or
//! secret they answer with appears in any of them (not as an id, a description, a hint, a
//! family or a principal's attribute).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use futures_util::future::BoxFuture;
use http::Request;
use serde_json::Value;
use tower::ServiceExt;
use tower_authn_axum::tokens;
use tower_authn_core::issue::AppKeys;
use tower_authn_core::issue::OpaqueTokenIssuer;
use tower_authn_core::issue::RefreshTokens;
use tower_authn_core::issue::Sessions;
use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
use tower_authn_core::{
    KeyDigest, KeyHasher, KeyKind, KeyRecord, KeyStore, StoreError, UserStoreExt,
};
use tower_authn_platforms::{voltmx, xivo};

/// A memory key store that keeps a printout of every record written to it.
#[derive(Clone)]
struct Recording {
    inner: MemoryKeyStore,
    written: Arc<Mutex<Vec<String>>>,
}

impl KeyStore for Recording {
    fn key_hasher(&self) -> &KeyHasher {
        self.inner.key_hasher()
    }
    fn find_by_digest(
        &self,
        kind: KeyKind,
        digest: KeyDigest,
    ) -> BoxFuture<'_, Result<Option<KeyRecord>, StoreError>> {
        self.inner.find_by_digest(kind, digest)
    }
    fn find_by_id<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        self.inner.find_by_id(kind, id)
    }
    fn put(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        self.written.lock().unwrap().push(format!("{record:?}"));
        self.inner.put(record)
    }
    fn revoke<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.revoke(kind, id)
    }
    fn delete<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.delete(kind, id)
    }
    fn list<'a>(
        &'a self,
        kind: KeyKind,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        self.inner.list(kind, owner)
    }
    fn consume<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        self.inner.consume(kind, id)
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

async fn call(app: &Router, req: Request<Body>) -> Value {
    let res = app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), 200);
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&body).expect("json")
}

fn json(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

fn get(path: &str, authorization: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", authorization)
        .body(Body::empty())
        .expect("request")
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {v}"))
        .to_owned()
}

#[tokio::test]
async fn no_issued_secret_is_written_to_the_store() {
    let users = MemoryUserStore::new();
    users
        .add_user("alice", "wonderland", |u| u.with_roles(["admin"]))
        .expect("hash");
    let store = Recording {
        inner: MemoryKeyStore::new(),
        written: Arc::default(),
    };
    let access = OpaqueTokenIssuer::new(store.clone());
    let app = Router::new()
        .nest(
            "/auth",
            tokens::router(
                users.password_verifier(),
                access.clone(),
                access.verifier(),
                RefreshTokens::new(store.clone()),
            ),
        )
        .merge(xivo::router(
            users.password_verifier(),
            Sessions::new(OpaqueTokenIssuer::new(store.clone()), users.clone()),
        ))
        .merge(voltmx::oauth_router(
            users.password_verifier(),
            tower_authn_core::issue::AccessPairs::new(store.clone()),
        ))
        .merge(voltmx::app_keys_router(AppKeys::new(store.clone())));

    let mut secrets = Vec::new();
    // The generic token service: an access token and a refresh token, then a rotated pair.
    let login = call(
        &app,
        json(
            "/auth/login",
            r#"{"username":"alice","password":"wonderland"}"#,
        ),
    )
    .await;
    let refresh = text(&login, "/refresh_token");
    let rotated = call(
        &app,
        json(
            "/auth/refresh",
            &format!(r#"{{"refresh_token":"{refresh}"}}"#),
        ),
    )
    .await;
    secrets.extend([
        text(&login, "/access_token"),
        refresh,
        text(&rotated, "/access_token"),
        text(&rotated, "/refresh_token"),
    ]);
    // XiVO sessions: a login and a renewal.
    let xivo = call(
        &app,
        json(
            xivo::LOGIN_PATH,
            r#"{"login":"alice","password":"wonderland"}"#,
        ),
    )
    .await;
    let token = text(&xivo, "/token");
    let renewed = call(&app, get(xivo::CHECK_PATH, &format!("Bearer {token}"))).await;
    secrets.extend([token, text(&renewed, "/token")]);
    // An access pair, an app key and its regeneration.
    let pair = call(
        &app,
        get(voltmx::ACCESS_TOKEN_PATH, &basic("alice", "wonderland")),
    )
    .await;
    secrets.extend([text(&pair, "/AccessToken"), text(&pair, "/AccessSecret")]);
    let added = call(
        &app,
        json(
            voltmx::APP_KEYS_PATH,
            r#"{"appId":"demo-app","neverExpires":true,"description":"ci"}"#,
        ),
    )
    .await;
    let key = text(&added, "/id");
    let regenerated = call(
        &app,
        json(
            &format!("{}/{key}", voltmx::APP_KEYS_PATH),
            r#"{"regenerate":true}"#,
        ),
    )
    .await;
    secrets.extend([key, text(&regenerated, "/id")]);

    let written = store.written.lock().unwrap().clone();
    assert!(written.len() >= secrets.len(), "{written:#?}");
    for secret in &secrets {
        assert!(secret.len() >= 16, "a real secret: {secret}");
        for record in &written {
            assert!(
                !record.contains(secret.as_str()),
                "{secret} is stored as is: {record}"
            );
        }
    }
}
