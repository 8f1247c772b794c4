//! `PasswordVerifier` on the hashing pool, through `BasicAuthLayer`: a full queue answers
//! 503 + Retry-After (for known and unknown users alike), an unknown user runs the dummy
//! check, the hashing runs on the pool's threads and never on the executor.

use std::convert::Infallible;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use secrecy::SecretString;
use tower::{Layer, ServiceExt};
use tower_authn_core::credential::BasicCredentials;
use tower_authn_core::memory::MemoryUserStore;
use tower_authn_core::password::{HashPool, PoolStats};
use tower_authn_core::{BasicAuthLayer, PasswordVerifier, UserRecord, UserStoreExt, Verifier};

/// argon2id of "wonderland", m=64 KiB, t=1: cheap, the pool is what is under test.
const CHEAP: &str = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Cuua17cl2YubVybYBtlHu2NsplWnQizG438vZAwK+QI";
// alice:wonderland
const ALICE: &str = "Basic YWxpY2U6d29uZGVybGFuZA==";
// alice:wrong
const ALICE_WRONG: &str = "Basic YWxpY2U6d3Jvbmc=";
// nobody:wonderland
const NOBODY: &str = "Basic bm9ib2R5OndvbmRlcmxhbmQ=";
// broken:wonderland (a user whose stored hash is not a PHC string)
const BROKEN: &str = "Basic YnJva2VuOndvbmRlcmxhbmQ=";

fn users() -> MemoryUserStore {
    let users = MemoryUserStore::new();
    users.insert(UserRecord::new("alice", CHEAP));
    users.insert(UserRecord::new("broken", "not a phc string"));
    users
}

/// Holds each worker that starts a check until opened.
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

async fn wait_for(pool: &HashPool, done: impl Fn(&PoolStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(&pool.stats()) {
        assert!(
            Instant::now() < deadline,
            "never reached: {:?}",
            pool.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn ok(_: Request<()>) -> Result<Response<Bytes>, Infallible> {
    Ok(Response::new(Bytes::from_static(b"in")))
}

type Auth = BasicAuthLayer<PasswordVerifier<MemoryUserStore>>;

async fn call(layer: Auth, auth: &'static str) -> Response<Bytes> {
    let req = Request::get("/")
        .header("authorization", auth)
        .body(())
        .expect("request");
    let svc = layer.layer(tower::service_fn(ok));
    svc.oneshot(req).await.expect("infallible")
}

fn code(res: &Response<Bytes>) -> String {
    let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
    body["error"].as_str().unwrap_or_default().to_owned()
}

/// A pool of one worker, no queue, held at a gate.
fn held_pool() -> (HashPool, Arc<Gate>) {
    let gate = Arc::new(Gate::default());
    let hook = gate.clone();
    let pool = HashPool::builder()
        .workers(1)
        .queue(0)
        .on_start(move || hook.hold())
        .build()
        .expect("pool");
    (pool, gate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after() {
    let (pool, gate) = held_pool();
    let layer: Auth = BasicAuthLayer::new(
        users()
            .password_verifier()
            .with_pool(pool.clone())
            .retry_after(Duration::from_secs(7)),
    );
    let first = tokio::spawn(call(layer.clone(), ALICE));
    wait_for(&pool, |s| s.running == 1).await;

    // Known user, wrong password, unknown user: the same 503, never a skipped check.
    let mut answers = Vec::new();
    for auth in [ALICE, ALICE_WRONG, NOBODY] {
        let res = call(layer.clone(), auth).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{auth}");
        assert_eq!(res.headers()["retry-after"], "7", "{auth}");
        assert_eq!(code(&res), "unavailable");
        assert!(!res.headers().contains_key("www-authenticate"));
        answers.push((res.headers().clone(), res.into_body()));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert_eq!(pool.stats().busy, 3);

    gate.open();
    let first = first.await.expect("task");
    assert_eq!(first.status(), StatusCode::OK);
    // Once the worker is free, checks are admitted again.
    assert_eq!(call(layer.clone(), ALICE_WRONG).await.status(), 401);
    let stats = pool.stats();
    assert_eq!((stats.verifications, stats.busy), (2, 3));
}

#[tokio::test]
async fn an_unknown_user_runs_the_dummy_check() {
    let pool = HashPool::builder().workers(1).build().expect("pool");
    let layer: Auth = BasicAuthLayer::new(users().password_verifier().with_pool(pool.clone()));

    let unknown = call(layer.clone(), NOBODY).await;
    assert_eq!(unknown.status(), 401);
    let stats = pool.stats();
    assert_eq!((stats.dummy_verifications, stats.verifications), (1, 0));
    // The dummy did argon2 work: the default-parameter block was taken.
    assert_eq!(stats.memory_kib, 19456);

    let wrong = call(layer.clone(), ALICE_WRONG).await;
    let stats = pool.stats();
    assert_eq!((stats.dummy_verifications, stats.verifications), (1, 1));
    // The same public answer.
    assert_eq!(
        (wrong.status(), wrong.headers(), wrong.body()),
        (unknown.status(), unknown.headers(), unknown.body())
    );
    assert_eq!(call(layer, ALICE).await.status(), 200);
    assert_eq!(pool.stats().verifications, 2);
}

#[tokio::test]
async fn a_disabled_user_is_checked_and_refused() {
    let pool = HashPool::builder().workers(1).build().expect("pool");
    let users = users();
    let mut alice = UserRecord::new("alice", CHEAP);
    alice.disabled = true;
    users.insert(alice);
    let layer: Auth = BasicAuthLayer::new(users.password_verifier().with_pool(pool.clone()));
    let res = call(layer, ALICE).await;
    assert_eq!(
        (res.status().as_u16(), code(&res)),
        (401, "invalid_credentials".to_owned())
    );
    assert_eq!(pool.stats().verifications, 1);
}

#[tokio::test]
async fn an_unusable_stored_hash_is_503_without_retry_after() {
    let pool = HashPool::builder().workers(1).build().expect("pool");
    let layer: Auth = BasicAuthLayer::new(users().password_verifier().with_pool(pool));
    let res = call(layer, BROKEN).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&res), "unavailable");
    assert!(!res.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "current_thread")]
async fn hashing_runs_on_the_pool_never_on_the_executor() {
    let threads = Arc::new(Mutex::new(Vec::new()));
    let seen = threads.clone();
    let pool = HashPool::builder()
        .workers(1)
        .on_start(move || {
            let name = std::thread::current().name().map(str::to_owned);
            seen.lock().expect("names").push(name);
        })
        .build()
        .expect("pool");
    let verifier = users().password_verifier().with_pool(pool);
    let credentials = |user: &str| BasicCredentials {
        username: user.to_owned(),
        password: SecretString::from("wonderland"),
    };
    assert!(verifier.verify(credentials("alice")).await.is_ok());
    assert!(verifier.verify(credentials("nobody")).await.is_err());
    let names = threads.lock().expect("names").clone();
    assert_eq!(names.len(), 2);
    for name in names {
        assert_eq!(name.as_deref(), Some("tower-authn-hash-0"));
    }
    // This test's executor is the test thread itself; the checks ran elsewhere.
    assert_ne!(std::thread::current().name(), Some("tower-authn-hash-0"));
}

struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

#[test]
fn the_verifier_needs_no_runtime() {
    // Driven by a bare park/unpark loop: the pool answers on a channel, no tokio involved.
    let verifier = users()
        .password_verifier()
        .with_pool(HashPool::builder().workers(1).build().expect("pool"));
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut check = verifier.verify(BasicCredentials {
        username: "alice".to_owned(),
        password: SecretString::from("wonderland"),
    });
    let principal = loop {
        if let std::task::Poll::Ready(answer) = check.as_mut().poll(&mut cx) {
            break answer.expect("alice");
        }
        std::thread::park();
    };
    assert_eq!(principal.id, "alice");
    assert_eq!(verifier.pool().stats().verifications, 1);
}

#[tokio::test]
async fn by_default_the_global_pool_checks() {
    let global = HashPool::global();
    let before = global.stats();
    let layer: Auth = BasicAuthLayer::new(users().password_verifier());
    assert_eq!(call(layer.clone(), ALICE).await.status(), 200);
    assert_eq!(call(layer, NOBODY).await.status(), 401);
    let after = global.stats();
    assert!(after.verifications > before.verifications, "{after:?}");
    assert!(
        after.dummy_verifications > before.dummy_verifications,
        "{after:?}"
    );
}

#[cfg(feature = "cache")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_loader_checks_on_the_pool_and_never_keeps_a_busy_answer() {
    use tower_authn_core::cache::{CacheExt, VerificationCache};
    use tower_authn_core::invalidate::Invalidator;

    let (pool, gate) = held_pool();
    let verifier = users()
        .password_verifier()
        .with_pool(pool.clone())
        .cached(VerificationCache::new(Invalidator::new()));
    let credentials = |password: &str| BasicCredentials {
        username: "alice".to_owned(),
        password: SecretString::from(password),
    };
    let held = {
        let verifier = verifier.clone();
        tokio::spawn(async move { verifier.verify(credentials("wrong")).await })
    };
    wait_for(&pool, |s| s.running == 1).await;
    let busy = verifier
        .verify(credentials("wonderland"))
        .await
        .expect_err("busy");
    assert_eq!(
        (busy.status().as_u16(), busy.retry_after()),
        (503, Some(Duration::from_secs(1)))
    );

    gate.open();
    assert_eq!(held.await.expect("task").expect_err("wrong").status(), 401);
    // The busy answer was not cached: the same credential now checks, on the pool.
    assert_eq!(
        verifier
            .verify(credentials("wonderland"))
            .await
            .expect("alice")
            .id,
        "alice"
    );
    assert_eq!(pool.stats().verifications, 2);
}
