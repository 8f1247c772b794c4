//! Several instances on one Redis, each with its own verification cache: a change made on
//! one reaches the others' caches within one second, and a cache never answers while its
//! instance cannot hear the others.

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

/// Waits until `stores` hear the channel (their invalidator is live).
async fn wait_live(stores: &RedisStores) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stores.invalidator().is_live() {
        assert!(
            Instant::now() < deadline,
            "the invalidation channel never came up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `stores` heard `n` changes since epoch `before`: a change made here is
/// announced here at once and heard back from Redis a moment later, and an entry loaded
/// in between is (harmlessly) dropped when the echo arrives.
async fn heard(stores: &RedisStores, before: u64, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while stores.invalidator().epoch() < before + n {
        assert!(
            Instant::now() < deadline,
            "a change was not heard within one second"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
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
async fn a_revocation_on_one_instance_empties_the_others_caches_within_one_second() {
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

    // Revoked on A: B stops accepting it within one second.
    assert!(
        a.keys()
            .revoke(KeyKind::AppApiKey, &record.id)
            .await
            .unwrap()
    );
    let revoked_at = Instant::now();
    loop {
        match on_b.verify(cred(&key)).await {
            Err(e) => {
                assert_eq!(e.code(), "revoked");
                break;
            }
            Ok(_) => {
                assert!(
                    revoked_at.elapsed() < Duration::from_secs(1),
                    "B still accepts a key revoked on A"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(1));

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
    let deleted_at = Instant::now();
    while on_b.verify(cred(&key)).await.is_ok() {
        assert!(
            deleted_at.elapsed() < Duration::from_secs(1),
            "B still accepts a deleted key"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_never_answers_while_its_instance_cannot_hear_the_others() {
    let mut server = RedisServer::start();
    let a = RedisStores::connect(
        RedisConfig::new(server.url())
            .key_pepper(*b"test pepper, shared by instances")
            .timeout(Duration::from_millis(300)),
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

    // Redis goes away: within one second the cached answer is no longer given; the lookup
    // goes to Redis and fails closed.
    server.stop();
    let stopped = Instant::now();
    let failure: AuthError = loop {
        match on_a.verify(cred(&key)).await {
            Err(e) => break e,
            Ok(_) => {
                assert!(
                    stopped.elapsed() < Duration::from_secs(1),
                    "a cache answered while deaf"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    assert_eq!(failure.status(), 503);
    assert!(!a.invalidator().is_live());

    // Redis comes back: the listener resubscribes, drops everything, and the key works.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while on_a.verify(cred(&key)).await.is_err() {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_live(&a).await;
    let _ = a.keys().list(KeyKind::AppApiKey, None).await.unwrap();
}
