#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Verifying random app keys in the memory key store: a 100-key store (it fits in the
//! caches) against a 1,000,000-key store (it does not), in the same run. Issue 14 wants the
//! second within 10% of the first.
//!
//! Both walk the same way through a list of 2^20 presented keys, in random order, laid out
//! one after the other in memory (so reading the list costs the same in both); only the
//! store differs. `digest_only` is the keyed SHA-256 of a presented key alone, the part of
//! a verification no table can save.
//!
//! ```sh
//! cargo bench -p tower-authn-core --bench key_table -- --warm-up-time 2 --measurement-time 5
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use rand::{Rng, SeedableRng};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::issue::{AppKeys, Expiry};
use tower_authn_core::memory::MemoryKeyStore;
use tower_authn_core::{CredentialLocation, KeyHasher, KeyKind, KeyStore, KeyStoreExt, Verifier};

const APPS: usize = 1_000;
const PRESENTED: usize = 1 << 20;

fn plaintext(i: usize) -> String {
    format!("k{i:042}")
}

/// A store of `n` app keys (1,000 apps, as the memory test), as the key API adds them.
fn store(n: usize) -> MemoryKeyStore {
    let store = MemoryKeyStore::with_hasher(KeyHasher::hmac(*b"a pepper of thirty-two bytes...."));
    let keys = AppKeys::new(store.clone());
    for i in 0..n {
        keys.insert_plaintext(
            &format!("app-{:04}", i % APPS),
            &plaintext(i),
            Expiry::Never,
            None,
        )
        .now_or_never()
        .expect("the memory store never waits")
        .expect("insert");
    }
    store
}

/// `PRESENTED` keys of a store of `n`, drawn at random, allocated in the order they are
/// presented.
fn presented(n: usize) -> Vec<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    (0..PRESENTED)
        .map(|_| plaintext(rng.gen_range(0..n)))
        .collect()
}

fn bench(c: &mut Criterion) {
    let at = CredentialLocation::Query("key".into());
    let mut g = c.benchmark_group("key_table");
    for (name, n) in [
        ("verify_random_of_100", 100),
        ("verify_random_of_1m", 1_000_000),
    ] {
        let keys = store(n);
        let list = presented(n);
        let verify = keys.verifier(KeyKind::AppApiKey);
        let mut next = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                next = (next + 1) & (PRESENTED - 1);
                let cred = TokenCredential::new(list[next].as_str(), at.clone());
                let p = verify
                    .verify(cred)
                    .now_or_never()
                    .expect("ready")
                    .expect("a known key");
                black_box(p)
            });
        });
        if n == 100 {
            let hasher = keys.key_hasher().clone();
            g.bench_function("digest_only", |b| {
                b.iter(|| {
                    next = (next + 1) & (PRESENTED - 1);
                    black_box(hasher.digest(black_box(list[next].as_str())))
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
