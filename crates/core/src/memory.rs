//! In-memory stores: the embedded default for one instance (and for tests).
//!
//! ```
//! use tower_authn_core::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::{KeyStoreExt, Principal};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let users = MemoryUserStore::new();
//! users.add_user("alice", "wonderland", |u| u.with_name("Alice Liddell").with_roles(["admin"])).unwrap();
//!
//! let keys = MemoryKeyStore::new();
//! let (record, plaintext) = keys
//!     .issue_key(KeyKind::AppApiKey, Principal::app("demo-app"), None)
//!     .await
//!     .unwrap();
//! assert_ne!(record.id, plaintext); // the store keeps only a digest of the plaintext
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use futures_util::future::{BoxFuture, FutureExt, ready};

use crate::clock::{SharedClock, SystemClock};
use crate::error::StoreError;
use crate::principal::Principal;
pub use crate::store::KeyKind;
use crate::store::{KeyDigest, KeyHasher, KeyRecord, KeyStore, UserRecord, UserStore};
use crate::user_state::next_epoch;
use crate::verifiers::new_key_id;

mod key_table;

/// Users in memory. Clones share the same users.
///
/// The [`UserStore`] writing methods raise the user's epoch; wrap the store in an
/// [`InvalidatingStore`](crate::InvalidatingStore) so that caches hear of the change.
#[derive(Clone)]
pub struct MemoryUserStore {
    users: Arc<RwLock<HashMap<String, UserRecord>>>,
    clock: SharedClock,
}

impl Default for MemoryUserStore {
    fn default() -> Self {
        Self {
            users: Arc::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `clock` for the users' epochs.
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// Inserts or replaces a user as given, epoch included (seeding a store at start).
    /// Changing a user whose credentials are in use goes through
    /// [`UserStore::put_user`], which raises the epoch.
    pub fn insert(&self, user: UserRecord) {
        self.users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.login.clone(), user);
    }

    /// Adds a user with `password` hashed as argon2id; `build` sets the other fields.
    ///
    /// # Errors
    ///
    /// When hashing fails.
    #[cfg(feature = "password")]
    pub fn add_user(
        &self,
        login: &str,
        password: &str,
        build: impl FnOnce(UserRecord) -> UserRecord,
    ) -> Result<(), tower_authn_password::PasswordError> {
        let phc = tower_authn_password::hash_password(password)?;
        self.insert(build(UserRecord::new(login, phc)));
        Ok(())
    }
}

impl fmt::Debug for MemoryUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.users.read().map(|u| u.len()).unwrap_or(0);
        f.debug_struct("MemoryUserStore")
            .field("users", &n)
            .finish()
    }
}

impl UserStore for MemoryUserStore {
    fn find_user<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        let user = self
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(login)
            .cloned();
        ready(Ok(user)).boxed()
    }

    fn put_user(&self, user: UserRecord) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        let mut users = self.users.write().unwrap_or_else(PoisonError::into_inner);
        let previous = users.get(&user.login).map_or(0, |u| u.epoch);
        let mut user = user;
        user.epoch = next_epoch(previous.max(user.epoch), self.clock.now());
        users.insert(user.login.clone(), user.clone());
        ready(Ok(user)).boxed()
    }

    fn set_disabled<'a>(
        &'a self,
        login: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let now = self.clock.now();
        let found = match self
            .users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(login)
        {
            Some(u) => {
                u.disabled = disabled;
                u.epoch = next_epoch(u.epoch, now);
                true
            }
            None => false,
        };
        ready(Ok(found)).boxed()
    }

    fn delete_user<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let found = self
            .users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(login)
            .is_some();
        ready(Ok(found)).boxed()
    }
}

/// The fewest writes between two sweeps of expired records.
const SWEEP_MIN_WRITES: usize = 1024;

#[derive(Default)]
struct Keys {
    /// The records, compact ([`key_table`]): found by digest in one trip to memory.
    table: key_table::KeyTable,
    /// Writes since the last sweep.
    writes: usize,
}

impl Keys {
    /// Drops every record that expired more than `retention` before `now`. Run once per
    /// `max(SWEEP_MIN_WRITES, records / 2)` writes, so its cost is constant per write,
    /// amortized, and the store never holds more than 1.5 times its live records (plus
    /// those within their retention) plus `SWEEP_MIN_WRITES`.
    fn sweep_if_due(&mut self, now: SystemTime, retention: Duration) {
        self.writes += 1;
        if self.writes < SWEEP_MIN_WRITES.max(self.table.len() / 2) {
            return;
        }
        self.writes = 0;
        self.table.remove_expired(now, retention);
    }
}

/// Keys in memory, held only as digests. Clones share the same keys.
///
/// Expired records answer `expired` for the retention (default one hour), then are dropped:
/// a sweep every so many writes keeps the store bounded by what is live.
///
/// The table is compact: a record takes 96 bytes plus about 10 of index, the keys of one
/// principal share it (equal principals are kept once, however they were built), and a
/// lookup by digest reads one record from memory however many there are. A found record's
/// principal is a reference-count clone of the stored one. One million app keys of a
/// thousand apps hold about 150 bytes each (`tests/key_table_memory.rs`).
///
/// At millions of keys a lookup of a random key misses the CPU caches and, with 4 KiB
/// pages, the TLB: on Linux with glibc 2.35+, `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` in the
/// server's environment backs the table with transparent huge pages and takes about a
/// quarter off that lookup's extra cost (`BENCHMARKS.md`).
#[derive(Clone)]
pub struct MemoryKeyStore {
    keys: Arc<RwLock<Keys>>,
    hasher: KeyHasher,
    clock: SharedClock,
    retention: Duration,
}

impl Default for MemoryKeyStore {
    fn default() -> Self {
        Self::with_hasher(KeyHasher::default())
    }
}

impl MemoryKeyStore {
    /// An empty store digesting keys with HMAC-SHA256 under a pepper made for it
    /// ([`KeyHasher::random`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store digesting keys with `hasher`.
    pub fn with_hasher(hasher: KeyHasher) -> Self {
        Self {
            keys: Arc::default(),
            hasher,
            clock: Arc::new(SystemClock),
            retention: Duration::from_secs(3600),
        }
    }

    /// Uses `clock` to tell which records expired long enough ago to be dropped.
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// How long an expired record stays (answering `expired` rather than unknown) before
    /// it is dropped.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Seeds a key whose plaintext is known (a demo key, a key migrated from elsewhere):
    /// stored as its digest, never expiring, with a fresh id. The builder form of
    /// [`add_key`](Self::add_key).
    ///
    /// ```
    /// use tower_authn_core::prelude::*;
    ///
    /// let keys = MemoryKeyStore::new()
    ///     .with_key(KeyKind::AppApiKey, "demo-app-key-1", Principal::app("demo-app"))
    ///     .with_key(KeyKind::DeviceToken, "demo-device-token", Principal::device("phone-1"));
    /// let layer = AppApiKeyLayer::new("X-App-Key", keys.verifier(KeyKind::AppApiKey));
    /// # let _ = layer;
    /// assert_eq!(keys.len(), 2);
    /// ```
    ///
    /// Access pairs have two halves: issue them with
    /// [`KeyStoreExt::issue_access_pair`](crate::KeyStoreExt::issue_access_pair).
    pub fn with_key(self, kind: KeyKind, plaintext: &str, principal: Principal) -> Self {
        self.add_key(kind, plaintext, principal);
        self
    }

    /// Stores a key whose plaintext is known, as its digest, never expiring, with a fresh
    /// id; returns its record. Synchronous (the memory store never waits); the async
    /// [`KeyStoreExt::insert_plaintext`](crate::KeyStoreExt::insert_plaintext) does the same
    /// on any store, with an id and an expiry of your choice.
    pub fn add_key(&self, kind: KeyKind, plaintext: &str, principal: Principal) -> KeyRecord {
        let digest = self.hasher.digest(plaintext);
        let record = KeyRecord::new(new_key_id(), kind, digest, principal, self.clock.now());
        self.put_now(record.clone());
        record
    }

    fn put_now(&self, record: KeyRecord) {
        let mut keys = self.write();
        keys.table.put(record);
        keys.sweep_if_due(self.clock.now(), self.retention);
    }

    /// How many records the store holds (live, revoked and expired within the retention).
    pub fn len(&self) -> usize {
        self.read().table.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryKeyStore")
            .field("keys", &self.read().table.len())
            .field("hasher", &self.hasher)
            .finish()
    }
}

fn owned_by(principal: &Principal, owner: &str) -> bool {
    principal.app_id.as_deref().unwrap_or(&principal.id) == owner
}

impl KeyStore for MemoryKeyStore {
    fn key_hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    fn find_by_digest(
        &self,
        kind: KeyKind,
        digest: KeyDigest,
    ) -> BoxFuture<'_, Result<Option<KeyRecord>, StoreError>> {
        let record = self.read().table.find_by_digest(kind, &digest);
        ready(Ok(record)).boxed()
    }

    fn find_for_verification_now(
        &self,
        kind: KeyKind,
        digest: &KeyDigest,
    ) -> Option<Result<Option<KeyRecord>, StoreError>> {
        Some(Ok(self.read().table.find_for_verification(kind, digest)))
    }

    fn find_by_id<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        ready(Ok(self.read().table.find_by_id(kind, id))).boxed()
    }

    fn put(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        self.put_now(record);
        ready(Ok(())).boxed()
    }

    fn revoke<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let found = self.write().table.set_revoked(kind, id);
        ready(Ok(found)).boxed()
    }

    fn consume<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        // One write lock: the check and the revocation cannot interleave with another call.
        let taken = self.write().table.consume(kind, id);
        ready(Ok(taken)).boxed()
    }

    fn delete<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let found = self.write().table.remove(kind, id);
        ready(Ok(found)).boxed()
    }

    fn list<'a>(
        &'a self,
        kind: KeyKind,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        let mut out = self
            .read()
            .table
            .list(kind, |p| owner.is_none_or(|o| owned_by(p, o)));
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        ready(Ok(out)).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::verifiers::KeyStoreExt;
    use crate::{Verifier, credential::TokenCredential, principal::CredentialLocation};

    #[tokio::test]
    async fn a_seeded_key_verifies_without_await() {
        let keys = MemoryKeyStore::new().with_key(
            KeyKind::AppApiKey,
            "demo-app-key-1",
            Principal::app("demo"),
        );
        let record = keys.add_key(KeyKind::DeviceToken, "dev-1", Principal::device("phone"));
        assert_eq!(keys.len(), 2);
        assert_eq!(record.expires_at, None);
        let at = CredentialLocation::Header(http::HeaderName::from_static("x-app-key"));
        let p = keys
            .verifier(KeyKind::AppApiKey)
            .verify(TokenCredential::new("demo-app-key-1", at.clone()))
            .await
            .unwrap();
        assert_eq!(p.id, "demo");
        // The kind is part of the key: a device token is not an app key.
        assert!(
            keys.verifier(KeyKind::AppApiKey)
                .verify(TokenCredential::new("dev-1", at))
                .await
                .is_err()
        );
        // Only the digest is kept.
        let all = keys.list(KeyKind::AppApiKey, None).await.unwrap();
        assert!(!format!("{all:?}").contains("demo-app-key-1"));
    }

    /// A memory store answers verification in the call: the verifiers' futures are ready
    /// (no box), the record leaves out the listing fields, and a revoked, expired or
    /// unknown key is refused on that path exactly as on the awaited one.
    #[tokio::test]
    async fn verification_is_answered_in_the_call() {
        use futures_util::future::Either;
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = MemoryKeyStore::new().with_clock(Arc::new(clock.clone()));
        let (record, key) = keys
            .issue_key(
                KeyKind::AppApiKey,
                Principal::app("demo"),
                Some(clock.now() + Duration::from_secs(60)),
            )
            .await
            .unwrap();
        let listed = record
            .clone()
            .with_hint("abcd****wxyz")
            .with_description("ops");
        keys.put(listed).await.unwrap();
        let digest = keys.key_hasher().digest(&key);
        let lean = keys
            .find_for_verification_now(KeyKind::AppApiKey, &digest)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((lean.id.as_str(), lean.hint), (record.id.as_str(), None));
        assert_eq!(lean.description, None);
        let full = keys
            .find_by_digest(KeyKind::AppApiKey, digest)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(full.hint.as_deref(), Some("abcd****wxyz"));
        assert_eq!(
            (full.expires_at, full.created_at),
            (lean.expires_at, lean.created_at)
        );
        let verifier = keys.verifier(KeyKind::AppApiKey).with_clock(clock.clone());
        let at = CredentialLocation::Header(http::HeaderName::from_static("x-app-key"));
        let verify = |key: &str| verifier.verify(TokenCredential::new(key, at.clone()));
        let Either::Left(ready) = verify(&key) else {
            panic!("a memory store's verification is not ready at once")
        };
        let p = ready.await.unwrap();
        assert_eq!(
            (p.id.as_str(), p.key_id.as_deref()),
            ("demo", Some(record.id.as_str()))
        );
        assert_eq!(
            verify("unknown").await.unwrap_err().code(),
            "invalid_credentials"
        );
        clock.advance(Duration::from_secs(61));
        assert_eq!(verify(&key).await.unwrap_err().code(), "expired");
        keys.revoke(KeyKind::AppApiKey, &record.id).await.unwrap();
        assert_eq!(verify(&key).await.unwrap_err().code(), "revoked");
    }

    /// An access pair's principal carries the record's expiry, as a key's does, so a
    /// verification cache cannot answer for it after the record has ended.
    #[tokio::test]
    async fn an_access_pair_principal_ends_with_its_record() {
        use crate::credential::AccessPair;
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = MemoryKeyStore::new().with_clock(Arc::new(clock.clone()));
        let ends = clock.now() + Duration::from_secs(60);
        let (record, token, secret) = keys
            .issue_access_pair(Principal::app("msg"), Some(ends))
            .await
            .unwrap();
        let verifier = keys.access_pair_verifier().with_clock(clock.clone());
        let p = verifier
            .verify(AccessPair {
                token: token.into(),
                secret: secret.into(),
            })
            .await
            .unwrap();
        assert_eq!(
            (p.expires_at, p.key_id.as_deref()),
            (Some(ends), Some(record.id.as_str()))
        );
        assert_eq!(p.scheme, "access-secret");
    }

    #[tokio::test]
    async fn expired_records_are_swept_so_renewals_stay_bounded() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = MemoryKeyStore::new()
            .with_clock(Arc::new(clock.clone()))
            .with_retention(Duration::from_secs(60));
        // A token renewed every second for a long time, each renewal living 10 s: the store
        // holds what is live or within its retention, plus one sweep's worth of writes.
        for _ in 0..20_000 {
            let expires = clock.now() + Duration::from_secs(10);
            keys.issue_key(
                KeyKind::IssuedToken,
                Principal::user("alice"),
                Some(expires),
            )
            .await
            .unwrap();
            clock.advance(Duration::from_secs(1));
            assert!(
                keys.len() <= 70 + 3 * SWEEP_MIN_WRITES / 2,
                "{}",
                keys.len()
            );
        }
        // Records that never expire are never swept; digests of dropped records are gone.
        let (kept, key) = keys
            .issue_key(KeyKind::AppApiKey, Principal::app("a"), None)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(365 * 24 * 3600));
        for _ in 0..SWEEP_MIN_WRITES {
            keys.issue_key(
                KeyKind::IssuedToken,
                Principal::user("b"),
                Some(clock.now()),
            )
            .await
            .unwrap();
        }
        assert!(keys.len() <= SWEEP_MIN_WRITES + 1);
        let found = keys
            .find_by_digest(KeyKind::AppApiKey, keys.key_hasher().digest(&key))
            .await
            .unwrap();
        assert_eq!(found.map(|r| r.id), Some(kept.id));
        assert_eq!(keys.read().table.digests(), keys.len());
    }

    #[tokio::test]
    async fn user_writes_raise_the_epoch() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let users = MemoryUserStore::new().with_clock(Arc::new(clock.clone()));
        let first = users
            .put_user(UserRecord::new("alice", "$phc"))
            .await
            .unwrap();
        assert_eq!(first.epoch, 1_700_000_000_000);
        let second = users
            .put_user(UserRecord::new("alice", "$phc"))
            .await
            .unwrap();
        assert_eq!(
            second.epoch,
            first.epoch + 1,
            "rises within one millisecond"
        );
        clock.advance(Duration::from_secs(1));
        assert!(users.disable_user("alice").await.unwrap());
        let now = users.find_user("alice").await.unwrap().unwrap();
        assert!(now.disabled && now.epoch == 1_700_000_001_000);
    }

    #[tokio::test]
    async fn consume_is_single_use() {
        let keys = MemoryKeyStore::new();
        let d = keys.key_hasher().digest("r1");
        keys.put(KeyRecord::new(
            "r1",
            KeyKind::RefreshToken,
            d,
            Principal::user("alice"),
            SystemTime::now(),
        ))
        .await
        .unwrap();
        let first = keys.consume(KeyKind::RefreshToken, "r1").await.unwrap();
        assert_eq!(first.map(|r| r.revoked), Some(false));
        assert!(
            keys.consume(KeyKind::RefreshToken, "r1")
                .await
                .unwrap()
                .is_none()
        );
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
    }
}
