//! Conformance suites for store implementations (feature `conformance`): every promise a
//! [`KeyStore`] makes to the verifiers, the key lifecycle and the refresh-token families
//! ([`key_store`]), and what a writable [`UserStore`] promises about epochs ([`user_store`]),
//! written once and run against the memory stores (here) and Redis (`tower-authn-redis`'s
//! tests). A store of your own passes when they return.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! tower_authn_core::conformance::key_store(tower_authn_core::memory::MemoryKeyStore::new()).await;
//! # }
//! ```
//!
//! The suite panics at the first broken promise, naming it (it is meant for tests). Records
//! expire by the store's own clock, so the suite's clock starts at the real time.

// A test suite: a broken promise is a panic that names it.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret;

use crate::clock::{Clock, ManualClock, unix_secs};
use crate::credential::TokenCredential;
use crate::issue::RefreshTokens;
use crate::{
    CredentialLocation, KeyKind, KeyLifecycleExt, KeyRecord, KeyStore, KeyStoreExt, Principal,
    UserRecord, UserStore, Verifier,
};

fn now_secs() -> u64 {
    unix_secs(SystemTime::now())
}

fn at() -> CredentialLocation {
    CredentialLocation::Query("key".into())
}

/// Runs every check of the key-store contract on `keys` (which should start empty of the
/// suite's ids: `k1`, ..., owners `demo`, `d1`, `alice`).
///
/// # Panics
///
/// At the first promise `keys` breaks.
pub async fn key_store<K: KeyStore + Clone>(keys: K) {
    records(keys.clone()).await;
    lifecycle_and_families(keys).await;
}

/// Put, find, list, revoke, delete, consume, expiry.
async fn records<K: KeyStore + Clone>(keys: K) {
    let clock = ManualClock::at_unix(now_secs());
    let verify = keys
        .verifier(KeyKind::AppApiKey)
        .with_clock(Arc::new(clock.clone()));
    let hasher = keys.key_hasher().clone();

    // Put and find, by digest and by id.
    let app = Principal::app("demo")
        .with_app_id("demo")
        .with_roles(["push"]);
    let rec = KeyRecord::new(
        "k1",
        KeyKind::AppApiKey,
        hasher.digest("key-one"),
        app.clone(),
        clock.now(),
    )
    .expires_at(Some(clock.now() + Duration::from_secs(60)))
    .with_description("first");
    keys.put(rec.clone()).await.unwrap();
    let found = keys
        .find_by_digest(KeyKind::AppApiKey, hasher.digest("key-one"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.as_str(), found.description.as_deref()),
        ("k1", Some("first"))
    );
    assert_eq!(found.principal.roles, ["push"]);
    assert!(
        keys.find_by_id(KeyKind::AppApiKey, "k1")
            .await
            .unwrap()
            .is_some()
    );
    // Kinds are namespaces.
    assert!(
        keys.find_by_id(KeyKind::DeviceToken, "k1")
            .await
            .unwrap()
            .is_none()
    );
    let who = verify
        .verify(TokenCredential::new("key-one", at()))
        .await
        .unwrap();
    assert_eq!(
        (who.id.as_str(), who.key_id.as_deref()),
        ("demo", Some("k1"))
    );

    // Replacing a record (a regenerated key) drops its old digest.
    keys.put(KeyRecord::new(
        "k1",
        KeyKind::AppApiKey,
        hasher.digest("key-two"),
        app.clone(),
        clock.now(),
    ))
    .await
    .unwrap();
    assert!(
        keys.find_by_digest(KeyKind::AppApiKey, hasher.digest("key-one"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        verify
            .verify(TokenCredential::new("key-one", at()))
            .await
            .unwrap_err()
            .code(),
        "invalid_credentials"
    );
    assert!(
        verify
            .verify(TokenCredential::new("key-two", at()))
            .await
            .is_ok()
    );

    // Expiry.
    keys.put(
        KeyRecord::new(
            "k2",
            KeyKind::AppApiKey,
            hasher.digest("key-three"),
            app.clone(),
            clock.now(),
        )
        .expires_at(Some(clock.now() + Duration::from_secs(10))),
    )
    .await
    .unwrap();
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        verify
            .verify(TokenCredential::new("key-three", at()))
            .await
            .unwrap_err()
            .code(),
        "expired"
    );

    // Listing, per owner and all, oldest first.
    keys.put(KeyRecord::new(
        "k3",
        KeyKind::AppApiKey,
        hasher.digest("other"),
        Principal::app("other"),
        clock.now(),
    ))
    .await
    .unwrap();
    let demo: Vec<String> = keys
        .list(KeyKind::AppApiKey, Some("demo"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(demo, ["k1", "k2"]);
    assert_eq!(keys.list(KeyKind::AppApiKey, None).await.unwrap().len(), 3);
    assert!(
        keys.list(KeyKind::DeviceToken, None)
            .await
            .unwrap()
            .is_empty()
    );

    // Revoke.
    assert!(keys.revoke(KeyKind::AppApiKey, "k1").await.unwrap());
    assert!(!keys.revoke(KeyKind::AppApiKey, "nope").await.unwrap());
    assert_eq!(
        verify
            .verify(TokenCredential::new("key-two", at()))
            .await
            .unwrap_err()
            .code(),
        "revoked"
    );

    // Consume: single use, even when raced.
    keys.put(KeyRecord::new(
        "r1",
        KeyKind::RefreshToken,
        hasher.digest("r1"),
        Principal::user("alice"),
        clock.now(),
    ))
    .await
    .unwrap();
    let racers =
        futures_util::future::join_all((0..8).map(|_| keys.consume(KeyKind::RefreshToken, "r1")))
            .await;
    let winners = racers
        .into_iter()
        .map(Result::unwrap)
        .filter(Option::is_some)
        .count();
    assert_eq!(winners, 1);
    assert!(
        keys.find_by_id(KeyKind::RefreshToken, "r1")
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(
        keys.consume(KeyKind::RefreshToken, "nope")
            .await
            .unwrap()
            .is_none()
    );

    // Access pairs: the secret's digest is kept and compared.
    let (_, token, secret) = keys
        .issue_access_pair(Principal::app("demo"), None)
        .await
        .unwrap();
    let pairs = keys.access_pair_verifier();
    let pair = |t: &str, s: &str| crate::credential::AccessPair {
        token: t.to_owned().into(),
        secret: s.to_owned().into(),
    };
    assert!(pairs.verify(pair(&token, &secret)).await.is_ok());
    assert_eq!(
        pairs
            .verify(pair(&token, "wrong"))
            .await
            .unwrap_err()
            .status(),
        401
    );

    // Delete.
    assert!(keys.delete(KeyKind::AppApiKey, "k3").await.unwrap());
    assert!(!keys.delete(KeyKind::AppApiKey, "k3").await.unwrap());
    assert!(
        keys.find_by_digest(KeyKind::AppApiKey, hasher.digest("other"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        keys.list(KeyKind::AppApiKey, Some("other"))
            .await
            .unwrap()
            .len(),
        0
    );
}

/// Rotation with overlap, revoking an owner's keys, refresh-token families.
async fn lifecycle_and_families<K: KeyStore + Clone>(keys: K) {
    let clock = ManualClock::at_unix(now_secs());
    let verify = keys
        .verifier(KeyKind::DeviceToken)
        .with_clock(Arc::new(clock.clone()));

    // Rotation with overlap: both keys work until the old one expires.
    let (old, old_key) = keys
        .issue_key(
            KeyKind::DeviceToken,
            Principal::device("d1").with_app_id("demo"),
            None,
        )
        .await
        .unwrap();
    let rotated = keys
        .rotate_key_at(
            KeyKind::DeviceToken,
            &old.id,
            Duration::from_secs(30),
            clock.now(),
        )
        .await
        .unwrap()
        .unwrap();
    for k in [old_key.as_str(), rotated.expose()] {
        assert_eq!(
            verify
                .verify(TokenCredential::new(k, at()))
                .await
                .unwrap()
                .id,
            "d1"
        );
    }
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        verify
            .verify(TokenCredential::new(old_key.as_str(), at()))
            .await
            .unwrap_err()
            .code(),
        "expired"
    );
    assert!(
        verify
            .verify(TokenCredential::new(rotated.expose(), at()))
            .await
            .is_ok()
    );
    assert_eq!(
        keys.revoke_all(KeyKind::DeviceToken, "demo").await.unwrap(),
        2
    );
    assert_eq!(
        verify
            .verify(TokenCredential::new(rotated.expose(), at()))
            .await
            .unwrap_err()
            .code(),
        "revoked"
    );

    // Refresh-token families: rotation, and reuse revokes the whole family; a spent token
    // answers like an unknown one (no oracle for which tokens once existed).
    let refresh = RefreshTokens::new(keys.clone());
    let first = refresh.start(&Principal::user("alice")).await.unwrap();
    let second = refresh.rotate(first.token.expose_secret()).await.unwrap();
    assert_eq!(
        refresh
            .rotate(first.token.expose_secret())
            .await
            .unwrap_err()
            .code(),
        "invalid_credentials"
    );
    assert_eq!(
        refresh
            .rotate(second.token.expose_secret())
            .await
            .unwrap_err()
            .code(),
        "invalid_credentials"
    );
    // Racing rotations of one token leave no live token behind.
    let third = refresh.start(&Principal::user("alice")).await.unwrap();
    let (x, y) = futures_util::future::join(
        refresh.rotate(third.token.expose_secret()),
        refresh.rotate(third.token.expose_secret()),
    )
    .await;
    for won in [x, y].into_iter().filter_map(Result::ok) {
        assert!(refresh.rotate(won.token.expose_secret()).await.is_err());
    }
}

/// Runs every check of the writable user-store contract on `users` (which should not hold
/// the suite's logins `conformance-alice`, `conformance-bob`).
///
/// Every write raises the user's epoch (so credentials issued before it die), enabling
/// again raises it too, a write to an unknown login answers `false`, and a deleted user is
/// gone.
///
/// # Panics
///
/// At the first promise `users` breaks.
pub async fn user_store<U: UserStore>(users: U) {
    let (alice, bob) = ("conformance-alice", "conformance-bob");
    assert!(
        users.find_user(alice).await.unwrap().is_none(),
        "unknown: None"
    );

    let first = users
        .put_user(UserRecord::new(alice, "$argon2id$v=19$placeholder").with_roles(["admin"]))
        .await
        .unwrap();
    let found = users
        .find_user(alice)
        .await
        .unwrap()
        .expect("put, then found");
    assert_eq!(found.roles, ["admin"]);
    assert_eq!(
        found.epoch, first.epoch,
        "put_user returns the record as stored"
    );

    let second = users.put_user(found.with_roles(["user"])).await.unwrap();
    assert!(second.epoch > first.epoch, "every put raises the epoch");

    assert!(users.set_disabled(alice, true).await.unwrap());
    let disabled = users.find_user(alice).await.unwrap().unwrap();
    assert!(disabled.disabled);
    assert!(disabled.epoch > second.epoch, "disabling raises the epoch");
    assert!(users.set_disabled(alice, false).await.unwrap());
    let enabled = users.find_user(alice).await.unwrap().unwrap();
    assert!(!enabled.disabled);
    assert!(
        enabled.epoch > disabled.epoch,
        "enabling raises it too: what was issued before the disable stays dead"
    );

    assert!(
        !users.set_disabled(bob, true).await.unwrap(),
        "unknown: false"
    );
    assert!(
        users.find_user(bob).await.unwrap().is_none(),
        "and nothing created"
    );
    assert!(users.delete_user(alice).await.unwrap());
    assert!(
        users.find_user(alice).await.unwrap().is_none(),
        "deleted: gone"
    );
    assert!(
        !users.delete_user(alice).await.unwrap(),
        "deleting twice: false"
    );
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_user_store_conforms() {
        super::user_store(crate::memory::MemoryUserStore::new()).await;
    }

    #[tokio::test]
    async fn the_memory_key_store_conforms() {
        super::key_store(crate::memory::MemoryKeyStore::new()).await;
    }
}
