//! Several instances on one Redis, each with its own verification cache: a change made on
//! one reaches the others' caches, and a cache never answers while its instance cannot
//! hear the others: Redis gone, or (half-open) connections up but nothing heard.
//!
//! No wall-clock bound is asserted (two shared cores): each test polls for the event itself
//! with a generous deadline. How late a change may arrive is bounded by the configuration
//! (`max_silence`), which the deafness test exercises.

#[path = "support/server.rs"]
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use server::RedisServer;
use tower_authn_core::cache::{CacheExt, VerificationCache};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{
    AuthError, CredentialLocation, KeyKind, KeyStore, KeyStoreExt, Principal, Verifier,
};
use tower_authn_redis::{RedisConfig, RedisStores};

fn cred(key: &str) -> TokenCredential {
    TokenCredential::new(key, CredentialLocation::Query("key".into()))
}

/// How long a test waits for an event before it fails: generous, since nothing here is
/// about speed (and the machine is shared).
const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `event` until it holds; fails the test, naming `what`, past [`DEADLINE`].
async fn eventually(what: &str, mut event: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !event().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `stores` hear the channel (their invalidator is live).
async fn wait_live(stores: &RedisStores) {
    eventually("the invalidation channel came up", async || {
        stores.invalidator().is_live()
    })
    .await;
}

/// Waits until `stores` heard `n` changes since epoch `before`: a change made here is
/// announced here at once and heard back from Redis a moment later, and an entry loaded
/// in between is (harmlessly) dropped when the echo arrives.
async fn heard(stores: &RedisStores, before: u64, n: u64) {
    eventually("the change was heard", async || {
        stores.invalidator().epoch() >= before + n
    })
    .await;
}

/// An instance's cached app-key verifier, counting the lookups that reach Redis.
fn cached_verifier(
    stores: &RedisStores,
    lookups: Arc<AtomicUsize>,
) -> impl Verifier<TokenCredential> {
    let keys = stores.keys().verifier(KeyKind::AppApiKey);
    let counted = move |c: TokenCredential| {
        lookups.fetch_add(1, Ordering::SeqCst);
        keys.verify(c)
    };
    counted.cached(VerificationCache::new(stores.invalidator()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_empties_the_others_caches() {
    let server = RedisServer::start();
    let (a, b) = (
        RedisStores::connect(
            RedisConfig::new(server.url()).key_pepper(*b"test pepper, shared by instances"),
        )
        .unwrap(),
        RedisStores::connect(
            RedisConfig::new(server.url()).key_pepper(*b"test pepper, shared by instances"),
        )
        .unwrap(),
    );
    wait_live(&a).await;
    wait_live(&b).await;
    let b_lookups = Arc::new(AtomicUsize::new(0));
    let on_b = cached_verifier(&b, Arc::clone(&b_lookups));

    // Created on A, accepted on B, then answered from B's cache.
    let before = b.invalidator().epoch();
    let (record, key) = a
        .keys()
        .issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
        .await
        .unwrap();
    heard(&b, before, 1).await;
    for _ in 0..3 {
        assert_eq!(on_b.verify(cred(&key)).await.unwrap().id, "demo");
    }
    assert_eq!(
        b_lookups.load(Ordering::SeqCst),
        1,
        "B answers from its cache"
    );

    // Revoked on A: B stops accepting it, and says why.
    assert!(
        a.keys()
            .revoke(KeyKind::AppApiKey, &record.id)
            .await
            .unwrap()
    );
    eventually("B refuses a key revoked on A", async || {
        match on_b.verify(cred(&key)).await {
            Err(e) => {
                assert_eq!(e.code(), "revoked");
                true
            }
            Ok(_) => false,
        }
    })
    .await;
    assert_eq!(on_b.verify(cred(&key)).await.unwrap_err().code(), "revoked");

    // The same for a deleted key and for a rotated (replaced) one.
    let (record, key) = a
        .keys()
        .issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
        .await
        .unwrap();
    assert!(on_b.verify(cred(&key)).await.is_ok());
    assert!(
        a.keys()
            .delete(KeyKind::AppApiKey, &record.id)
            .await
            .unwrap()
    );
    eventually("B refuses a key deleted on A", async || {
        on_b.verify(cred(&key)).await.is_err()
    })
    .await;
    assert_eq!(on_b.verify(cred(&key)).await.unwrap_err().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_never_answers_while_its_instance_cannot_hear_the_others() {
    let mut server = RedisServer::start();
    // A generous call timeout: a dead Redis refuses connections at once, and a short one
    // would fail calls on a loaded machine while Redis is up.
    let a = RedisStores::connect(
        RedisConfig::new(server.url())
            .key_pepper(*b"test pepper, shared by instances")
            .timeout(Duration::from_secs(5)),
    )
    .unwrap();
    wait_live(&a).await;
    let lookups = Arc::new(AtomicUsize::new(0));
    let on_a = cached_verifier(&a, Arc::clone(&lookups));
    let before = a.invalidator().epoch();
    let (_, key) = a
        .keys()
        .issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
        .await
        .unwrap();
    heard(&a, before, 2).await;
    assert!(on_a.verify(cred(&key)).await.is_ok());
    assert!(on_a.verify(cred(&key)).await.is_ok());
    assert_eq!(lookups.load(Ordering::SeqCst), 1);

    // Redis goes away: once the instance is deaf (nothing heard for `max_silence`) the
    // cached answer is no longer given; the lookup goes to Redis and fails closed.
    server.stop();
    eventually("the instance noticed it is deaf", async || {
        !a.invalidator().is_live()
    })
    .await;
    let failure: AuthError = on_a.verify(cred(&key)).await.unwrap_err();
    assert_eq!(failure.status(), 503);
    assert_eq!(lookups.load(Ordering::SeqCst), 2, "it went to Redis");

    // Redis comes back: the listener resubscribes, drops everything, and the key works.
    server.restart();
    eventually("the key works again", async || {
        on_a.verify(cred(&key)).await.is_ok()
    })
    .await;
    wait_live(&a).await;
    let _ = a.keys().list(KeyKind::AppApiKey, None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_channel_makes_the_cache_step_aside_though_the_connection_stays_up() {
    // The half-open case: the connections stay up but nothing is heard. `CLIENT PAUSE WRITE`
    // holds every write (heartbeats and scripts included) while reads and connections go on.
    let server = RedisServer::start();
    let a = RedisStores::connect(
        RedisConfig::new(server.url())
            .key_pepper(*b"test pepper, shared by instances")
            .timeout(Duration::from_secs(2)),
    )
    .unwrap();
    wait_live(&a).await;
    let lookups = Arc::new(AtomicUsize::new(0));
    let on_a = cached_verifier(&a, Arc::clone(&lookups));
    let before = a.invalidator().epoch();
    let (_, key) = a
        .keys()
        .issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
        .await
        .unwrap();
    heard(&a, before, 2).await;
    assert!(on_a.verify(cred(&key)).await.is_ok());
    assert!(on_a.verify(cred(&key)).await.is_ok());
    assert_eq!(lookups.load(Ordering::SeqCst), 1);

    let mut admin = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(120_000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    // After `max_silence` without a heartbeat the instance is deaf; its cache no longer
    // answers: the lookup goes to Redis (held, so it times out) and fails closed.
    eventually("the silence was noticed", async || {
        !a.invalidator().is_live()
    })
    .await;
    let failure = on_a.verify(cred(&key)).await.unwrap_err();
    assert_eq!(failure.status(), 503);
    assert_eq!(lookups.load(Ordering::SeqCst), 2, "it went to Redis");

    let () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();
    eventually("the key works again", async || {
        on_a.verify(cred(&key)).await.is_ok()
    })
    .await;
    wait_live(&a).await;
}
