//! How late a change made on one instance reaches another's cache: the figure the READMEs
//! give ("within one second"), measured here and reported, never asserted by a test.
//!
//! `cargo bench -p tower-authn-redis --bench propagation [-- ROUNDS]` starts a private
//! redis-server, two instances each with a verification cache, and for each round: issues a
//! key on A, warms B's cache with it, revokes it on A, and times until B refuses it. Prints
//! the distribution (min, p50, p90, p99, max) in milliseconds.

#![allow(clippy::print_stdout, missing_docs)]

#[path = "../tests/support/server.rs"]
mod server;

use std::time::{Duration, Instant};

use server::RedisServer;
use tower_authn_core::cache::{CacheExt, VerificationCache};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{CredentialLocation, KeyKind, KeyStore, KeyStoreExt, Principal, Verifier};
use tower_authn_redis::{RedisConfig, RedisStores};

/// Polls `event` every 100 µs until it holds; panics past 30 s.
async fn until(mut event: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !event().await {
        assert!(Instant::now() < deadline, "never happened");
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = RedisServer::start();
    let mut samples = runtime.block_on(async {
        let connect = || RedisStores::connect(RedisConfig::new(server.url())).expect("url");
        let (a, b) = (connect(), connect());
        until(async || a.invalidator().is_live() && b.invalidator().is_live()).await;
        let on_b = b
            .keys()
            .verifier(KeyKind::AppApiKey)
            .cached(VerificationCache::new(b.invalidator()));
        let cred = |key: &str| TokenCredential::new(key, CredentialLocation::Query("key".into()));
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let before = b.invalidator().epoch();
            let (record, key) = a
                .keys()
                .issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
                .await
                .expect("issue");
            // B heard the creation, then caches the key.
            until(async || b.invalidator().epoch() > before).await;
            on_b.verify(cred(&key)).await.expect("accepted on B");
            let revoked = Instant::now();
            assert!(
                a.keys()
                    .revoke(KeyKind::AppApiKey, &record.id)
                    .await
                    .expect("revoke")
            );
            until(async || on_b.verify(cred(&key)).await.is_err()).await;
            samples.push(revoked.elapsed());
        }
        samples
    });
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    println!(
        "revoked on A -> refused by B's cache, {} rounds: min {:.2} ms, p50 {:.2} ms, \
         p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        ms(samples[0]),
        at(0.5),
        at(0.9),
        at(0.99),
        ms(samples[samples.len() - 1]),
    );
}
