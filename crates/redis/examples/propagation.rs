//! How soon a change made on one instance is refused on another: two instances on one
//! private `redis-server` (started on a free loopback port), each with its verification
//! cache, the second checking users live. Each round makes a change on instance A and
//! polls instance B until it refuses what it accepted (and had cached) just before.
//!
//! ```text
//! cargo run --release -p tower-authn-redis --example propagation [ROUNDS]
//! ```
//!
//! Prints, for a revoked key and for a disabled user, the median, 99th percentile and
//! worst time from the change's return on A to B's first refusal. The figures belong in a
//! report, not in a test: they depend on the machine's load.

#![allow(clippy::print_stdout)] // a measurement prints its figures

#[path = "../tests/support/server.rs"]
mod server;

use std::time::{Duration, Instant};

use server::RedisServer;
use tower_authn_core::cache::{CacheExt, VerificationCache};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::user_state::UserStateExt;
use tower_authn_core::{
    CredentialLocation, KeyKind, KeyStore, KeyStoreExt, Principal, UserRecord, UserStore, Verifier,
};
use tower_authn_redis::{RedisConfig, RedisStores};

const PEPPER: &[u8; 32] = b"propagation pepper, 32 bytes ok!";

fn cred(key: &str) -> TokenCredential {
    TokenCredential::new(key, CredentialLocation::Query("key".into()))
}

/// Polls `accepted` until it is false; the time it took (a minute at most).
async fn until_refused<F, Fut>(mut accepted: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while accepted().await {
        assert!(start.elapsed() < Duration::from_secs(60), "never refused");
        tokio::task::yield_now().await;
    }
    start.elapsed()
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: {} rounds, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let redis = RedisServer::start();
    let connect =
        || RedisStores::connect(RedisConfig::new(redis.url()).key_pepper(*PEPPER)).expect("redis");
    let (a, b) = (connect(), connect());
    while !(a.invalidator().is_live() && b.invalidator().is_live()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let b_keys = b
        .keys()
        .verifier(KeyKind::AppApiKey)
        .cached(VerificationCache::new(b.invalidator()));
    let b_tokens = b
        .keys()
        .verifier(KeyKind::IssuedToken)
        .for_live_users(b.users())
        .cached(VerificationCache::new(b.invalidator()));

    let mut revoked = Vec::with_capacity(rounds);
    let mut disabled = Vec::with_capacity(rounds);
    for i in 0..rounds {
        // A key revoked on A.
        let (record, key) = a
            .keys()
            .issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
            .await
            .expect("issue");
        assert!(
            b_keys.verify(cred(&key)).await.is_ok(),
            "B accepts (and caches)"
        );
        a.keys()
            .revoke(KeyKind::AppApiKey, &record.id)
            .await
            .expect("revoke");
        revoked.push(until_refused(|| async { b_keys.verify(cred(&key)).await.is_ok() }).await);

        // A user disabled on A.
        let login = format!("user{i}");
        let users = a.users();
        users
            .put_user(UserRecord::new(
                login.clone(),
                "$argon2id$v=19$m=19456,t=2,p=1$x$y",
            ))
            .await
            .expect("user");
        // Issued after the user's epoch (writes faster than 1/ms push it past the clock).
        tokio::time::sleep(Duration::from_millis(2)).await;
        let (_, token) = a
            .keys()
            .issue_key(KeyKind::IssuedToken, Principal::user(login.clone()), None)
            .await
            .expect("issue");
        assert!(
            b_tokens.verify(cred(&token)).await.is_ok(),
            "B accepts (and caches)"
        );
        users.disable_user(&login).await.expect("disable");
        disabled
            .push(until_refused(|| async { b_tokens.verify(cred(&token)).await.is_ok() }).await);
    }
    report("key revoked on A, refused on B", revoked);
    report("user disabled on A, refused on B", disabled);
}
