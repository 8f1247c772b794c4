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

use futures_util::future::{BoxFuture, FutureExt, ready};

use crate::error::StoreError;
pub use crate::store::KeyKind;
use crate::store::{KeyDigest, KeyHasher, KeyRecord, KeyStore, UserRecord, UserStore};

/// Users in memory. Clones share the same users.
#[derive(Clone, Default)]
pub struct MemoryUserStore {
    users: Arc<RwLock<HashMap<String, UserRecord>>>,
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces a user.
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
}

#[derive(Default)]
struct Keys {
    by_id: HashMap<(KeyKind, String), KeyRecord>,
    by_digest: HashMap<(KeyKind, KeyDigest), String>,
}

/// Keys in memory, held only as digests. Clones share the same keys.
#[derive(Clone, Default)]
pub struct MemoryKeyStore {
    keys: Arc<RwLock<Keys>>,
    hasher: KeyHasher,
}

impl MemoryKeyStore {
    /// An empty store digesting keys with plain SHA-256.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store digesting keys with `hasher`.
    pub fn with_hasher(hasher: KeyHasher) -> Self {
        Self {
            keys: Arc::default(),
            hasher,
        }
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
            .field("keys", &self.read().by_id.len())
            .field("hasher", &self.hasher)
            .finish()
    }
}

fn owned_by(record: &KeyRecord, owner: &str) -> bool {
    record
        .principal
        .app_id
        .as_deref()
        .unwrap_or(&record.principal.id)
        == owner
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
        let keys = self.read();
        let record = keys
            .by_digest
            .get(&(kind, digest))
            .and_then(|id| keys.by_id.get(&(kind, id.clone())))
            .cloned();
        ready(Ok(record)).boxed()
    }

    fn find_by_id<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        ready(Ok(self.read().by_id.get(&(kind, id.to_owned())).cloned())).boxed()
    }

    fn put(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut keys = self.write();
        let id_key = (record.kind, record.id.clone());
        if let Some(old) = keys.by_id.get(&id_key) {
            let old_digest = (old.kind, old.digest);
            keys.by_digest.remove(&old_digest);
        }
        keys.by_digest
            .insert((record.kind, record.digest), record.id.clone());
        keys.by_id.insert(id_key, record);
        ready(Ok(())).boxed()
    }

    fn revoke<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let found = match self.write().by_id.get_mut(&(kind, id.to_owned())) {
            Some(r) => {
                r.revoked = true;
                true
            }
            None => false,
        };
        ready(Ok(found)).boxed()
    }

    fn consume<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        // One write lock: the check and the revocation cannot interleave with another call.
        let taken = match self.write().by_id.get_mut(&(kind, id.to_owned())) {
            Some(r) if !r.revoked => {
                let before = r.clone();
                r.revoked = true;
                Some(before)
            }
            _ => None,
        };
        ready(Ok(taken)).boxed()
    }

    fn delete<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut keys = self.write();
        let found = match keys.by_id.remove(&(kind, id.to_owned())) {
            Some(r) => {
                keys.by_digest.remove(&(kind, r.digest));
                true
            }
            None => false,
        };
        ready(Ok(found)).boxed()
    }

    fn list<'a>(
        &'a self,
        kind: KeyKind,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        let keys = self.read();
        let mut out: Vec<KeyRecord> = keys
            .by_id
            .values()
            .filter(|r| r.kind == kind && owner.is_none_or(|o| owned_by(r, o)))
            .cloned()
            .collect();
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
    use crate::principal::Principal;
    use std::time::SystemTime;

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
