//! What one million app keys cost in the memory key store, counted by the allocator: the
//! bytes live after inserting them, divided by their number (issue 14). Byte counts are
//! deterministic, unlike times, so the bound is asserted; `--nocapture` prints the figure.
//!
//! The keys are added the way the key-management API adds them ([`AppKeys`]: a hint per
//! key, a fresh principal per key), 1,000 keys for each of 1,000 apps.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::alloc::System;

use futures_util::FutureExt;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::issue::{AppKeys, Expiry};
use tower_authn_core::memory::MemoryKeyStore;
use tower_authn_core::{CredentialLocation, KeyHasher, KeyKind, KeyStoreExt, Verifier};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const KEYS: usize = 1_000_000;
const APPS: usize = 1_000;
/// The target of issue 14 (it was 1,373 B per key before the compact table).
const MAX_BYTES_PER_KEY: isize = 200;

/// Key `i`: 43 characters, like a generated key.
fn plaintext(i: usize) -> String {
    format!("k{i:042}")
}

fn app(i: usize) -> String {
    format!("app-{:04}", i % APPS)
}

#[test]
fn a_million_app_keys_cost_at_most_200_bytes_each() {
    let store = MemoryKeyStore::with_hasher(KeyHasher::hmac(*b"a pepper of thirty-two bytes....")); // no OS randomness per key
    let keys = AppKeys::new(store.clone());

    let region = Region::new(GLOBAL);
    for i in 0..KEYS {
        keys.insert_plaintext(&app(i), &plaintext(i), Expiry::Never, None)
            .now_or_never()
            .expect("the memory store never waits")
            .unwrap();
    }
    let stats = region.change();
    // A reallocation's growth is in `bytes_allocated` already (`bytes_reallocated` repeats it).
    let live = stats.bytes_allocated as isize - stats.bytes_deallocated as isize;
    let per_key = live / KEYS as isize;
    println!(
        "memory key store: {KEYS} app keys of {APPS} apps hold {live} bytes: {per_key} B per key"
    );
    assert_eq!(store.len(), KEYS);

    // Every key still answers, with its app.
    let verify = store.verifier(KeyKind::AppApiKey);
    for i in [0, 1, 999, 1000, 123_456, KEYS - 1] {
        let at = CredentialLocation::Query("key".into());
        let who = verify
            .verify(TokenCredential::new(plaintext(i), at))
            .now_or_never()
            .unwrap()
            .unwrap();
        assert_eq!(who.app_id.as_deref(), Some(app(i).as_str()));
    }
    assert!(
        per_key <= MAX_BYTES_PER_KEY,
        "{per_key} B per key, more than {MAX_BYTES_PER_KEY}"
    );
}
