//! Invalidation: how a store tells caches that a credential changed.
//!
//! An [`Invalidator`] is one instance's bus: stores announce each change ([`Invalidation`]),
//! caches (the `cache` feature's `CachedVerifier`) listen. [`InvalidatingStore`] wraps any
//! [`KeyStore`] so that every `put`, `revoke`, `delete` and `consume` announces itself
//! before it returns: on this instance a change is seen by the caches at once. Shared
//! stores (`tower-authn-redis`) also carry the announcements to the other instances and
//! report, through [`Invalidator::is_live`], whether they can: while they cannot, caches are
//! bypassed, so a stale entry never answers.
//!
//! ```
//! use tower_authn_core::invalidate::{InvalidatingStore, Invalidation, Invalidator};
//! use tower_authn_core::memory::{KeyKind, MemoryKeyStore};
//! use tower_authn_core::{KeyStore, KeyStoreExt, Principal};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let invalidator = Invalidator::new();
//! let keys = InvalidatingStore::new(MemoryKeyStore::new(), invalidator.clone());
//! let (record, _key) = keys.issue_key(KeyKind::AppApiKey, Principal::app("demo"), None).await.unwrap();
//!
//! let before = invalidator.epoch();
//! keys.revoke(KeyKind::AppApiKey, &record.id).await.unwrap();
//! assert!(invalidator.epoch() > before);
//! assert_eq!(
//!     invalidator.changes_since(before),
//!     Some(vec![Invalidation::key(KeyKind::AppApiKey, record.id.clone())])
//! );
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt};

use crate::error::StoreError;
use crate::principal::Principal;
use crate::store::{KeyDigest, KeyHasher, KeyKind, KeyRecord, KeyStore, UserRecord, UserStore};

/// One change that may make a cached verification stale.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Invalidation {
    /// The key record `id` of `kind` was created, replaced, revoked, consumed or deleted.
    Key {
        /// Its kind.
        kind: KeyKind,
        /// Its public id.
        id: String,
    },
    /// The principal `id` changed (a user's password, roles or state; a deleted user).
    Principal {
        /// The principal's id (a user's login).
        id: String,
    },
    /// Anything may have changed (announcements may have been missed): drop everything.
    All,
}

impl Invalidation {
    /// [`Invalidation::Key`].
    pub fn key(kind: KeyKind, id: impl Into<String>) -> Self {
        Self::Key {
            kind,
            id: id.into(),
        }
    }

    /// [`Invalidation::Principal`].
    pub fn principal(id: impl Into<String>) -> Self {
        Self::Principal { id: id.into() }
    }

    /// Whether this change can concern a verification that proved `principal`: the key
    /// that proved it (by its id, or by the principal's id for records kept under it, such
    /// as HA1Bs), the principal itself, or everything.
    pub fn concerns(&self, principal: &Principal) -> bool {
        match self {
            Self::Key { id, .. } => {
                principal.key_id.as_deref() == Some(id.as_str()) || principal.id == *id
            }
            Self::Principal { id } => principal.id == *id,
            Self::All => true,
        }
    }
}

/// How many recent changes an [`Invalidator`] remembers; a cache entry older than all of
/// them is treated as stale.
const LOG_CAPACITY: usize = 4096;

struct Bus {
    /// The number of changes announced so far.
    epoch: AtomicU64,
    /// The most recent changes, with their epochs, oldest first.
    log: RwLock<VecDeque<(u64, Invalidation)>>,
    /// Whether announcements from other instances are being received.
    live: AtomicBool,
    /// With a heartbeat: the longest silence after which announcements may be missed.
    max_silence: Option<Duration>,
    /// When the bus was made, the origin of `last_heard`.
    started: Instant,
    /// Milliseconds after `started` when the transport last heard anything.
    last_heard: AtomicU64,
}

/// One instance's invalidation bus. Clones share it. See the [module docs](self).
#[derive(Clone)]
pub struct Invalidator {
    bus: Arc<Bus>,
}

impl Default for Invalidator {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Invalidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invalidator")
            .field("epoch", &self.epoch())
            .field("live", &self.is_live())
            .finish()
    }
}

impl Invalidator {
    /// A live bus for one instance (no other instance to hear from).
    pub fn new() -> Self {
        Self::build(true, None)
    }

    /// A bus fed by a transport (pub/sub) that must be heard from at least every
    /// `max_silence`: it is not live until [`set_live`](Self::set_live)`(true)`, and stops
    /// being live when nothing was [`heard`](Self::heard) for longer than `max_silence`.
    pub fn with_heartbeat(max_silence: Duration) -> Self {
        Self::build(false, Some(max_silence))
    }

    fn build(live: bool, max_silence: Option<Duration>) -> Self {
        Self {
            bus: Arc::new(Bus {
                epoch: AtomicU64::new(0),
                log: RwLock::new(VecDeque::new()),
                live: AtomicBool::new(live),
                max_silence,
                started: Instant::now(),
                last_heard: AtomicU64::new(0),
            }),
        }
    }

    /// Announces `change`. Caches see it before this returns.
    pub fn invalidate(&self, change: Invalidation) {
        let mut log = self.bus.log.write().unwrap_or_else(PoisonError::into_inner);
        // The epoch moves under the log's lock, so a reader that sees the new epoch and
        // then takes the lock finds the change in the log.
        let epoch = self.bus.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back((epoch, change));
    }

    /// The number of changes announced so far.
    pub fn epoch(&self) -> u64 {
        self.bus.epoch.load(Ordering::SeqCst)
    }

    /// The changes announced after epoch `since`, oldest first; `None` when some of them
    /// are no longer remembered (treat everything as changed).
    pub fn changes_since(&self, since: u64) -> Option<Vec<Invalidation>> {
        let mut out = Vec::new();
        self.scan_since(since, |c| {
            out.push(c.clone());
            false
        })
        .then_some(out)
    }

    /// Whether any change after epoch `since` satisfies `concerns` (or some of them are no
    /// longer remembered). The usual answer, "nothing happened since", takes no lock.
    pub fn changed_since(&self, since: u64, concerns: impl FnMut(&Invalidation) -> bool) -> bool {
        if self.epoch() <= since {
            return false;
        }
        let mut concerns = concerns;
        let mut hit = false;
        let complete = self.scan_since(since, |c| {
            hit = concerns(c);
            hit
        });
        hit || !complete
    }

    /// Calls `visit` on each remembered change after `since` until it returns `true`.
    /// Returns `false` when changes after `since` were forgotten.
    fn scan_since(&self, since: u64, mut visit: impl FnMut(&Invalidation) -> bool) -> bool {
        let log = self.bus.log.read().unwrap_or_else(PoisonError::into_inner);
        let latest = self.epoch();
        if latest <= since {
            return true;
        }
        match log.front() {
            Some((oldest, _)) if *oldest <= since + 1 => {}
            _ => return false,
        }
        for (epoch, change) in log.iter() {
            if *epoch > since && visit(change) {
                break;
            }
        }
        true
    }

    /// Whether caches may answer: announcements are being received (always, for a bus
    /// without a transport).
    pub fn is_live(&self) -> bool {
        if !self.bus.live.load(Ordering::SeqCst) {
            return false;
        }
        match self.bus.max_silence {
            None => true,
            Some(max) => {
                let heard = self.bus.last_heard.load(Ordering::SeqCst);
                let now = self.millis();
                now.saturating_sub(heard) <= u64::try_from(max.as_millis()).unwrap_or(u64::MAX)
            }
        }
    }

    /// Marks the transport up or down. Going up, the transport must first announce
    /// [`Invalidation::All`] for whatever it may have missed while it was down.
    pub fn set_live(&self, live: bool) {
        if live {
            self.heard();
        }
        self.bus.live.store(live, Ordering::SeqCst);
    }

    /// Records that the transport heard something (a change or a heartbeat) just now.
    pub fn heard(&self) {
        self.bus.last_heard.store(self.millis(), Ordering::SeqCst);
    }

    /// Whether the transport has been silent longer than its allowed silence.
    pub fn is_silent(&self) -> bool {
        self.bus.live.load(Ordering::SeqCst) && !self.is_live()
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.bus.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A store that announces each change on an [`Invalidator`] before it returns: wrap the
/// memory stores (or any store without its own announcements) with it.
#[derive(Clone)]
pub struct InvalidatingStore<S> {
    inner: S,
    invalidator: Invalidator,
}

impl<S> InvalidatingStore<S> {
    /// Wraps `inner`, announcing on `invalidator`.
    pub fn new(inner: S, invalidator: Invalidator) -> Self {
        Self { inner, invalidator }
    }

    /// The wrapped store.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The invalidator.
    pub fn invalidator(&self) -> &Invalidator {
        &self.invalidator
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for InvalidatingStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidatingStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S: KeyStore> KeyStore for InvalidatingStore<S> {
    fn key_hasher(&self) -> &KeyHasher {
        self.inner.key_hasher()
    }

    fn find_by_digest(
        &self,
        kind: KeyKind,
        digest: KeyDigest,
    ) -> BoxFuture<'_, Result<Option<KeyRecord>, StoreError>> {
        self.inner.find_by_digest(kind, digest)
    }

    fn find_for_verification_now(
        &self,
        kind: KeyKind,
        digest: &KeyDigest,
    ) -> Option<Result<Option<KeyRecord>, StoreError>> {
        self.inner.find_for_verification_now(kind, digest)
    }

    fn find_by_id<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        self.inner.find_by_id(kind, id)
    }

    fn put(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        let change = Invalidation::key(record.kind, record.id.clone());
        self.inner
            .put(record)
            .map(move |r| {
                // Announced even on failure: the store may have changed before failing.
                self.invalidator.invalidate(change);
                r
            })
            .boxed()
    }

    fn revoke<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner
            .revoke(kind, id)
            .map(move |r| {
                self.invalidator.invalidate(Invalidation::key(kind, id));
                r
            })
            .boxed()
    }

    fn delete<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner
            .delete(kind, id)
            .map(move |r| {
                self.invalidator.invalidate(Invalidation::key(kind, id));
                r
            })
            .boxed()
    }

    fn list<'a>(
        &'a self,
        kind: KeyKind,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        self.inner.list(kind, owner)
    }

    fn consume<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        self.inner
            .consume(kind, id)
            .map(move |r| {
                self.invalidator.invalidate(Invalidation::key(kind, id));
                r
            })
            .boxed()
    }
}

impl<S: UserStore> UserStore for InvalidatingStore<S> {
    fn find_user<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        self.inner.find_user(login)
    }

    fn put_user(&self, user: UserRecord) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        let change = Invalidation::principal(user.login.clone());
        self.inner
            .put_user(user)
            .map(move |r| {
                self.invalidator.invalidate(change);
                r
            })
            .boxed()
    }

    fn set_disabled<'a>(
        &'a self,
        login: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner
            .set_disabled(login, disabled)
            .map(move |r| {
                self.invalidator.invalidate(Invalidation::principal(login));
                r
            })
            .boxed()
    }

    fn delete_user<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner
            .delete_user(login)
            .map(move |r| {
                self.invalidator.invalidate(Invalidation::principal(login));
                r
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets() {
        let inv = Invalidator::new();
        assert!(inv.is_live());
        assert!(!inv.changed_since(0, |_| true));
        inv.invalidate(Invalidation::principal("alice"));
        inv.invalidate(Invalidation::key(KeyKind::AppApiKey, "k1"));
        let alice = Principal::user("alice");
        let bob = Principal::user("bob").with_key_id("k2");
        assert!(inv.changed_since(0, |c| c.concerns(&alice)));
        assert!(!inv.changed_since(0, |c| c.concerns(&bob)));
        assert!(!inv.changed_since(1, |c| c.concerns(&alice)));
        assert!(inv.changed_since(1, |c| c.concerns(&Principal::app("x").with_key_id("k1"))));
        for i in 0..LOG_CAPACITY {
            inv.invalidate(Invalidation::principal(format!("u{i}")));
        }
        // The first changes are forgotten: anything that old counts as changed.
        assert!(inv.changed_since(0, |_| false));
        assert_eq!(inv.changes_since(0), None);
        let recent = inv.epoch() - 1;
        assert_eq!(inv.changes_since(recent).map(|c| c.len()), Some(1));
    }

    #[tokio::test]
    async fn user_changes_are_announced() {
        let inv = Invalidator::new();
        let users = InvalidatingStore::new(crate::memory::MemoryUserStore::new(), inv.clone());
        users
            .put_user(UserRecord::new("alice", "$phc"))
            .await
            .unwrap();
        assert!(users.disable_user("alice").await.unwrap());
        assert!(users.delete_user("alice").await.unwrap());
        assert_eq!(
            inv.changes_since(0),
            Some(vec![Invalidation::principal("alice"); 3])
        );
    }

    #[test]
    fn heartbeat_liveness() {
        let inv = Invalidator::with_heartbeat(Duration::from_secs(3600));
        assert!(!inv.is_live(), "not live before the transport is up");
        inv.set_live(true);
        assert!(inv.is_live());
        inv.set_live(false);
        assert!(!inv.is_live());
        let silent = Invalidator::with_heartbeat(Duration::ZERO);
        silent.set_live(true);
        std::thread::sleep(Duration::from_millis(5));
        assert!(silent.is_silent() && !silent.is_live());
    }
}
