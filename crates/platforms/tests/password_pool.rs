//! The login routes check passwords on the hashing pool: a full queue answers 503 with
//! `Retry-After` in each route's shape (never a token, never a skipped check), and an
//! unknown login runs the dummy check.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use tower_authn_axum::tokens;
use tower_authn_core::issue::OpaqueTokenIssuer;
use tower_authn_core::issue::RefreshTokens;
use tower_authn_core::issue::Sessions;
use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
use tower_authn_core::password::HashPool;
use tower_authn_core::{UserRecord, UserStoreExt};
use tower_authn_platforms::xivo;

/// argon2id of "wonderland", m=64 KiB, t=1: cheap, the pool is what is under test.
const CHEAP: &str = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Cuua17cl2YubVybYBtlHu2NsplWnQizG438vZAwK+QI";

#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn hold(&self) {
        let mut open = self.open.lock().expect("gate");
        while !*open {
            open = self.opened.wait(open).expect("gate");
        }
    }

    fn open(&self) {
        *self.open.lock().expect("gate") = true;
        self.opened.notify_all();
    }
}

/// The XiVO login and the generic token service on one user store and one pool of one
/// worker with no queue, held at a gate.
fn app() -> (Router, HashPool, Arc<Gate>) {
    let gate = Arc::new(Gate::default());
    let hook = gate.clone();
    let pool = HashPool::builder()
        .workers(1)
        .queue(0)
        .on_start(move || hook.hold())
        .build()
        .expect("pool");
    let users = MemoryUserStore::new();
    users.insert(UserRecord::new("alice", CHEAP));
    let passwords = users.password_verifier().with_pool(pool.clone());
    let keys = MemoryKeyStore::new();
    let opaque = OpaqueTokenIssuer::new(keys.clone());
    let router = Router::new()
        .merge(xivo::router(
            passwords.clone(),
            Sessions::new(opaque.clone(), users),
        ))
        .nest(
            "/auth",
            tokens::router(
                passwords,
                opaque.clone(),
                opaque.verifier(),
                RefreshTokens::new(keys),
            ),
        );
    (router, pool, gate)
}

fn xivo_login(login: &str) -> Request<Body> {
    Request::post(xivo::LOGIN_PATH)
        .header("content-type", "application/json")
        .body(Body::from(format!(
            r#"{{"login":"{login}","password":"wonderland"}}"#
        )))
        .expect("request")
}

fn token_login(username: &str) -> Request<Body> {
    Request::post("/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(format!(
            r#"{{"username":"{username}","password":"wonderland"}}"#
        )))
        .expect("request")
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        retry,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

async fn wait_running(pool: &HashPool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while pool.stats().running != 1 {
        assert!(Instant::now() < deadline, "never held: {:?}", pool.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_503_with_retry_after_on_every_login_route() {
    let (app, pool, gate) = app();
    let held = {
        let app = app.clone();
        tokio::spawn(async move { send(&app, xivo_login("alice")).await })
    };
    wait_running(&pool).await;

    for (route, req) in [
        ("xivo known", xivo_login("alice")),
        ("xivo unknown", xivo_login("nobody")),
        ("token known", token_login("alice")),
        ("token unknown", token_login("nobody")),
    ] {
        let (status, retry, body) = send(&app, req).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{route}: {body}");
        assert_eq!(retry.as_deref(), Some("1"), "{route}");
        assert!(
            body.get("token").is_none() && body.get("access_token").is_none(),
            "{body}"
        );
    }
    assert_eq!(pool.stats().busy, 4);

    gate.open();
    let (status, _, body) = held.await.expect("task");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["login"], "alice");
    let (status, _, body) = send(&app, token_login("alice")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_unknown_login_runs_the_dummy_check() {
    let (app, pool, gate) = app();
    gate.open();
    let (status, _, _) = send(&app, xivo_login("nobody")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(&app, token_login("nobody")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let stats = pool.stats();
    assert_eq!((stats.dummy_verifications, stats.verifications), (2, 0));
}
