//! Sharing one Redis. Two deployments under different prefixes see none of each other's
//! keys, users, revocations, invalidations or attempt counts, while two instances of one
//! deployment (the same prefix) see all of them; and `consume` is atomic across instances:
//! of many calls racing from two instances (separate connections) for one refresh token,
//! exactly one wins, every round.

#[path = "support/server.rs"]
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use server::RedisServer;
use tower_authn_core::cache::{CacheExt, VerificationCache};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::throttle::{AttemptStore, Limit, Reservation};
use tower_authn_core::{
    CredentialLocation, Invalidation, KeyKind, KeyRecord, KeyStore, KeyStoreExt, Principal,
    UserRecord, UserStore, Verifier,
};
use tower_authn_redis::{RedisConfig, RedisStores};

const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `event` until it holds; fails the test, naming `what`, past [`DEADLINE`].
async fn eventually(what: &str, mut event: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !event().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn connect(server: &RedisServer, prefix: &str) -> RedisStores {
    let stores = RedisStores::connect(
        RedisConfig::new(server.url())
            .key_pepper(*b"test pepper, shared by instances")
            .prefix(prefix),
    )
    .unwrap();
    eventually("the invalidation channel came up", async || {
        stores.invalidator().is_live()
    })
    .await;
    stores
}

fn cred(key: &str) -> TokenCredential {
    TokenCredential::new(key, CredentialLocation::Query("key".into()))
}

/// A record `id` for the key `secret`, owned by `app`, as `keys` digests it.
fn record(keys: &impl KeyStore, id: &str, secret: &str, app: &str) -> KeyRecord {
    KeyRecord::new(
        id,
        KeyKind::AppApiKey,
        keys.key_hasher().digest(secret),
        Principal::app(app),
        SystemTime::now(),
    )
}

/// A cached app-key verifier on `stores`, counting the lookups that reach Redis.
fn cached(stores: &RedisStores, lookups: Arc<AtomicUsize>) -> impl Verifier<TokenCredential> {
    let keys = stores.keys().verifier(KeyKind::AppApiKey);
    let counted = move |c: TokenCredential| {
        lookups.fetch_add(1, Ordering::SeqCst);
        keys.verify(c)
    };
    counted.cached(VerificationCache::new(stores.invalidator()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_prefixes_on_one_redis_share_nothing_and_one_prefix_shares_everything() {
    let server = RedisServer::start();
    // `*` in a prefix must not match the other deployment's keys in a pattern (SCAN MATCH).
    let a = connect(&server, "tenant*").await;
    let a2 = connect(&server, "tenant*").await; // A's second instance
    let b = connect(&server, "tenant-b").await;
    let kind = KeyKind::AppApiKey;

    // Keys: issued under A, unknown under B (not even listed), known to A's other instance.
    let (issued, key) = a
        .keys()
        .issue_key(kind, Principal::app("demo"), None)
        .await
        .unwrap();
    let on_b = b
        .keys()
        .verifier(kind)
        .verify(cred(&key))
        .await
        .unwrap_err();
    assert_eq!(
        (on_b.status().as_u16(), on_b.code()),
        (401, "invalid_credentials")
    );
    assert!(
        b.keys()
            .find_by_id(kind, &issued.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(b.keys().list(kind, None).await.unwrap().is_empty());
    assert!(b.keys().list(kind, Some("demo")).await.unwrap().is_empty());
    assert_eq!(
        a2.keys()
            .verifier(kind)
            .verify(cred(&key))
            .await
            .unwrap()
            .id,
        "demo"
    );
    let listed: Vec<String> = a2
        .keys()
        .list(kind, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&issued.id));

    // The same id and the same secret in both deployments are two records.
    let secret = "the-same-secret-in-both-deployments";
    a.keys()
        .put(record(&a.keys(), "same-id", secret, "app-a"))
        .await
        .unwrap();
    let b_start = b.invalidator().epoch();
    b.keys()
        .put(record(&b.keys(), "same-id", secret, "app-b"))
        .await
        .unwrap();
    // Once B heard its put's echo, an entry cached now stays until a change concerns it.
    eventually("B heard the echo of its put", async || {
        b.invalidator().epoch() >= b_start + 2
    })
    .await;
    let b_lookups = Arc::new(AtomicUsize::new(0));
    let cached_on_b = cached(&b, Arc::clone(&b_lookups));
    assert_eq!(cached_on_b.verify(cred(secret)).await.unwrap().id, "app-b");
    assert_eq!(b_lookups.load(Ordering::SeqCst), 1);
    assert_eq!(
        a.keys()
            .verifier(kind)
            .verify(cred(secret))
            .await
            .unwrap()
            .id,
        "app-a"
    );

    // Changes under A: revocations, deletions, consumption, users, attempts.
    let b_before = b.invalidator().epoch();
    let a2_before = a2.invalidator().epoch();
    assert!(a.keys().revoke(kind, "same-id").await.unwrap());
    assert!(a.keys().delete(kind, &issued.id).await.unwrap());
    let phc = tower_authn_core::password::hash_password("wonderland").unwrap();
    a.users()
        .put_user(UserRecord::new("alice", phc.clone()).with_name("Alice of A"))
        .await
        .unwrap();
    let limit = Limit {
        max_failures: 1,
        window: Duration::from_secs(60),
    };
    let attempt = vec![("principal:alice".to_owned(), limit)];
    assert_eq!(
        a.attempts().reserve(&attempt).await.unwrap(),
        Reservation::Granted
    );

    // A's other instance hears them all (the deleted key was the last announced)...
    let deleted = Invalidation::key(kind, &issued.id);
    let revoked = Invalidation::key(kind, "same-id");
    eventually("A's other instance heard A's changes", async || {
        a2.invalidator()
            .changes_since(a2_before)
            .is_some_and(|c| c.contains(&deleted))
    })
    .await;
    let heard = a2.invalidator().changes_since(a2_before).unwrap();
    assert!(
        heard.contains(&revoked) && heard.contains(&Invalidation::principal("alice")),
        "{heard:?}"
    );
    // ...and sees them.
    let refused = a2
        .keys()
        .verifier(kind)
        .verify(cred(secret))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "revoked");
    assert!(
        a2.keys()
            .find_by_id(kind, &issued.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        a2.users()
            .find_user("alice")
            .await
            .unwrap()
            .and_then(|u| u.name),
        Some("Alice of A".to_owned())
    );
    assert!(matches!(
        a2.attempts().reserve(&attempt).await.unwrap(),
        Reservation::Locked { .. }
    ));

    // B heard none of it. A change of B's own, made after A's, is announced on B's channel
    // after them: once B hears its echo, anything of A's would have been heard before it.
    b.keys()
        .put(record(&b.keys(), "marker", "a-marker-key-of-b", "app-b"))
        .await
        .unwrap();
    eventually("B heard the echo of its own change", async || {
        b.invalidator().epoch() >= b_before + 2
    })
    .await;
    let marker = Invalidation::key(kind, "marker");
    assert_eq!(
        b.invalidator().changes_since(b_before),
        Some(vec![marker.clone(), marker]),
        "B heard only its own change"
    );
    // B's cache kept its entry for "same-id" (A revoked its own "same-id")...
    assert_eq!(cached_on_b.verify(cred(secret)).await.unwrap().id, "app-b");
    assert_eq!(
        b_lookups.load(Ordering::SeqCst),
        1,
        "answered from B's cache"
    );
    // ...and B's stores hold none of A's changes.
    let b_record = b.keys().find_by_id(kind, "same-id").await.unwrap().unwrap();
    assert!(!b_record.revoked);
    assert_eq!(
        b.keys()
            .verifier(kind)
            .verify(cred(secret))
            .await
            .unwrap()
            .id,
        "app-b"
    );
    assert!(b.users().find_user("alice").await.unwrap().is_none());
    assert!(
        b.attempts()
            .failures("principal:alice")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        b.attempts().reserve(&attempt).await.unwrap(),
        Reservation::Granted
    );

    // The other way round: B's changes leave A alone.
    b.users()
        .put_user(UserRecord::new("alice", phc).with_name("Alice of B"))
        .await
        .unwrap();
    assert!(b.keys().consume(kind, "same-id").await.unwrap().is_some());
    assert!(b.keys().delete(kind, "same-id").await.unwrap());
    assert!(b.users().delete_user("alice").await.unwrap());
    let a_record = a.keys().find_by_id(kind, "same-id").await.unwrap().unwrap();
    assert_eq!(
        (a_record.revoked, a_record.principal.id.as_str()),
        (true, "app-a")
    );
    assert_eq!(
        a.users()
            .find_user("alice")
            .await
            .unwrap()
            .and_then(|u| u.name),
        Some("Alice of A".to_owned())
    );
    assert!(a.keys().find_by_id(kind, "marker").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_is_atomic_across_instances() {
    const ROUNDS: usize = 40;
    const RACERS: usize = 16;
    let server = RedisServer::start();
    // Two instances: two connections, two listeners.
    let instances = [
        connect(&server, "authn").await,
        connect(&server, "authn").await,
    ];
    let mut winners_per_round = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let id = format!("refresh-{round}");
        let keys = instances[round % 2].keys();
        keys.put(KeyRecord::new(
            &id,
            KeyKind::RefreshToken,
            keys.key_hasher().digest(&format!("refresh-token-{round}")),
            Principal::user("alice"),
            SystemTime::now(),
        ))
        .await
        .unwrap();
        // Every racer waits at the gate, so the calls leave together, half on each instance.
        let gate = Arc::new(tokio::sync::Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let keys = instances[i % 2].keys();
                let (gate, id) = (Arc::clone(&gate), id.clone());
                tokio::spawn(async move {
                    gate.wait().await;
                    keys.consume(KeyKind::RefreshToken, &id).await
                })
            })
            .collect();
        let mut won = Vec::new();
        for (i, racer) in racers.into_iter().enumerate() {
            if let Some(record) = racer.await.unwrap().unwrap() {
                assert_eq!(record.id, id);
                assert!(!record.revoked, "the winner gets the record as it was");
                won.push(i % 2);
            }
        }
        winners_per_round.push(won.len());
        // Consumed for everyone: revoked on both instances, and no second winner later.
        for instance in &instances {
            let keys = instance.keys();
            let after = keys.find_by_id(KeyKind::RefreshToken, &id).await.unwrap();
            assert!(after.unwrap().revoked, "round {round}");
            assert!(
                keys.consume(KeyKind::RefreshToken, &id)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }
    assert_eq!(
        winners_per_round,
        vec![1; ROUNDS],
        "exactly one winner per round"
    );
}
