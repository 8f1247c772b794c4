//! A verification cache in front of slow verifiers (argon2, remote JWKS, introspection,
//! a store across the network): [`CachedVerifier`].
//!
//! - Bounded (moka), with a time to live: positive answers for [`VerificationCache::ttl`]
//!   (never past the principal's own expiry), negative answers (`invalid_credentials`,
//!   `expired`, `revoked`) for the much shorter [`VerificationCache::negative_ttl`]. A store
//!   failure is never cached.
//! - Single-flight: concurrent verifications of one credential run the inner verifier once.
//! - Keyed by an HMAC of the credential under a key made at random for each cache, never by
//!   the credential: a memory dump shows neither the credentials nor a digest that could be
//!   tested offline against guesses.
//! - Invalidated by the [`Invalidator`]: a change announced there (a key revoked, rotated or
//!   deleted, a user changed) drops every entry it concerns before the change's call
//!   returns, including entries whose verification was in flight while it happened, and
//!   every negative entry. While the invalidator is not live (a shared store's pub/sub is
//!   down), the cache is bypassed.
//!
//! ```
//! use tower_authn_core::cache::{CacheExt, VerificationCache};
//! use tower_authn_core::credential::TokenCredential;
//! use tower_authn_core::invalidate::{InvalidatingStore, Invalidator};
//! use tower_authn_core::memory::{KeyKind, MemoryKeyStore};
//! use tower_authn_core::{CredentialLocation, KeyStore, KeyStoreExt, Principal, Verifier};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let invalidator = Invalidator::new();
//! let keys = InvalidatingStore::new(MemoryKeyStore::new(), invalidator.clone());
//! let verifier = keys.verifier(KeyKind::AppApiKey).cached(VerificationCache::new(invalidator));
//!
//! let (record, key) = keys.issue_key(KeyKind::AppApiKey, Principal::app("demo"), None).await.unwrap();
//! let presented = || TokenCredential::new(key.clone(), CredentialLocation::Query("key".into()));
//! assert_eq!(verifier.verify(presented()).await.unwrap().id, "demo"); // loaded, then cached
//!
//! keys.revoke(KeyKind::AppApiKey, &record.id).await.unwrap();
//! assert_eq!(verifier.verify(presented()).await.unwrap_err().code(), "revoked"); // never stale
//! # }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::future::{Future as _, Ready, ready};
use std::task::{Context, Poll};

use futures_util::future::{BoxFuture, FutureExt};
use hmac::{Hmac, Mac};
use moka::Expiry;
use moka::future::Cache;
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::clock::{SharedClock, SystemClock};
use crate::combinator::Either;
use crate::credential::{AccessPair, BasicCredentials, TokenCredential};
use crate::error::{AuthError, ErrorKind};
use crate::invalidate::Invalidator;
use crate::principal::Principal;
use crate::verifier::Verifier;

/// A credential that can be a cache key: it writes every byte that decides who it proves
/// into `key` (the cache HMACs them). Where it was found is not part of it.
///
/// Implemented for the core credentials; implement it for a custom one with every secret
/// and non-secret part, length-prefixed or otherwise unambiguous.
pub trait CacheKey {
    /// Feeds the credential's identity into `key`.
    fn write_cache_key(&self, key: &mut KeyWriter);
}

/// The HMAC a [`CacheKey`] writes into.
pub struct KeyWriter(Hmac<Sha256>);

impl KeyWriter {
    /// Writes `bytes`, prefixed by their length so fields cannot run into each other.
    pub fn field(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }
}

impl fmt::Debug for KeyWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyWriter")
    }
}

impl CacheKey for TokenCredential {
    fn write_cache_key(&self, key: &mut KeyWriter) {
        key.field(b"token");
        key.field(self.expose().as_bytes());
    }
}

impl CacheKey for BasicCredentials {
    fn write_cache_key(&self, key: &mut KeyWriter) {
        key.field(b"basic");
        key.field(self.username.as_bytes());
        key.field(self.password.expose_secret().as_bytes());
    }
}

impl CacheKey for AccessPair {
    fn write_cache_key(&self, key: &mut KeyWriter) {
        key.field(b"access-pair");
        key.field(self.token.expose_secret().as_bytes());
        key.field(self.secret.expose_secret().as_bytes());
    }
}

impl<A: CacheKey, B: CacheKey> CacheKey for Either<A, B> {
    fn write_cache_key(&self, key: &mut KeyWriter) {
        match self {
            Self::Left(a) => {
                key.field(b"left");
                a.write_cache_key(key);
            }
            Self::Right(b) => {
                key.field(b"right");
                b.write_cache_key(key);
            }
        }
    }
}

/// The settings of a [`CachedVerifier`].
#[derive(Clone)]
pub struct VerificationCache {
    invalidator: Invalidator,
    capacity: u64,
    ttl: Duration,
    negative_ttl: Duration,
    clock: SharedClock,
}

impl fmt::Debug for VerificationCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationCache")
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .field("negative_ttl", &self.negative_ttl)
            .finish_non_exhaustive()
    }
}

impl VerificationCache {
    /// 10 000 entries, positive answers for 5 minutes, negative ones for 5 seconds,
    /// invalidated by `invalidator` (the one the stores announce on).
    pub fn new(invalidator: Invalidator) -> Self {
        Self {
            invalidator,
            capacity: 10_000,
            ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(5),
            clock: Arc::new(SystemClock),
        }
    }

    /// The most entries kept.
    pub fn capacity(mut self, entries: u64) -> Self {
        self.capacity = entries;
        self
    }

    /// How long a positive answer is kept (at most until the principal expires).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a negative answer is kept (`Duration::ZERO`: never).
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Uses `clock` for the principal's expiry (the verifier's own clock, in tests).
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// Wraps `verifier`.
    pub fn wrap<V, C>(&self, verifier: V) -> CachedVerifier<V, C>
    where
        V: Verifier<C>,
        C: CacheKey + Clone + Send + 'static,
    {
        CachedVerifier::new(verifier, self.clone())
    }
}

/// One cached answer.
struct Entry {
    outcome: Result<Principal, AuthError>,
    /// The invalidator's epoch through which this answer is known to be current.
    checked: AtomicU64,
}

struct EntryLife {
    ttl: Duration,
    negative_ttl: Duration,
    clock: SharedClock,
}

impl Expiry<[u8; 32], Arc<Entry>> for EntryLife {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        entry: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(match &entry.outcome {
            Ok(p) => match p.expires_at {
                Some(at) => at
                    .duration_since(self.clock.now())
                    .unwrap_or(Duration::ZERO)
                    .min(self.ttl),
                None => self.ttl,
            },
            Err(_) => self.negative_ttl,
        })
    }
}

/// Caches a [`Verifier`]'s answers. See the [module docs](self).
pub struct CachedVerifier<V, C> {
    inner: V,
    shared: Arc<Shared>,
    _credential: PhantomData<fn(C)>,
}

struct Shared {
    cache: Cache<[u8; 32], Arc<Entry>>,
    /// The HMAC of this cache's keys, keyed once with a random key: each key clones the
    /// prepared state instead of hashing the key into it again (two SHA-256 blocks, about
    /// a third of a hit, saved on every lookup). The key itself is not kept.
    prepared_mac: Hmac<Sha256>,
    invalidator: Invalidator,
    negative_ttl: Duration,
    clock: SharedClock,
}

impl<V: Clone, C> Clone for CachedVerifier<V, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            _credential: PhantomData,
        }
    }
}

impl<V, C> fmt::Debug for CachedVerifier<V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedVerifier")
            .field("entries", &self.shared.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl<V, C> CachedVerifier<V, C> {
    /// Caches `inner`'s answers with `settings`.
    pub fn new(inner: V, settings: VerificationCache) -> Self {
        use rand::RngCore as _;
        use secrecy::ExposeSecretMut as _;
        // Wiped when dropped: only the prepared HMAC state outlives this call.
        let mut mac_key = secrecy::SecretBox::new(Box::new([0u8; 32]));
        rand::rngs::OsRng.fill_bytes(mac_key.expose_secret_mut());
        let prepared_mac = <Hmac<Sha256> as Mac>::new_from_slice(mac_key.expose_secret())
            .expect("HMAC takes any key");
        let cache = Cache::builder()
            .max_capacity(settings.capacity)
            .expire_after(EntryLife {
                ttl: settings.ttl,
                negative_ttl: settings.negative_ttl,
                clock: Arc::clone(&settings.clock),
            })
            .build();
        Self {
            inner,
            shared: Arc::new(Shared {
                cache,
                prepared_mac,
                invalidator: settings.invalidator,
                negative_ttl: settings.negative_ttl,
                clock: settings.clock,
            }),
            _credential: PhantomData,
        }
    }

    /// The verifier behind the cache.
    pub fn get_ref(&self) -> &V {
        &self.inner
    }

    /// How many entries the cache holds (approximately: moka counts lazily).
    pub fn entry_count(&self) -> u64 {
        self.shared.cache.entry_count()
    }
}

impl Shared {
    fn key_of<C: CacheKey>(&self, credential: &C) -> [u8; 32] {
        let mut writer = KeyWriter(self.prepared_mac.clone());
        credential.write_cache_key(&mut writer);
        writer.0.finalize().into_bytes().into()
    }

    /// Whether `entry` may still answer: no change since it was checked concerns it, and
    /// the principal has not expired.
    fn current(&self, entry: &Entry) -> bool {
        let checked = entry.checked.load(Ordering::SeqCst);
        let now_epoch = self.invalidator.epoch();
        let changed = self
            .invalidator
            .changed_since(checked, |change| match &entry.outcome {
                Ok(p) => change.concerns(p),
                // A negative answer may be made wrong by any change (a key created, a
                // user added): every change drops them.
                Err(_) => true,
            });
        if changed {
            return false;
        }
        entry.checked.fetch_max(now_epoch, Ordering::SeqCst);
        match &entry.outcome {
            Ok(p) => p.expires_at.is_none_or(|at| at > self.clock.now()),
            Err(_) => true,
        }
    }

    fn cacheable(&self, error: &AuthError) -> bool {
        !self.negative_ttl.is_zero()
            && matches!(
                error.kind(),
                ErrorKind::InvalidCredentials | ErrorKind::Expired | ErrorKind::Revoked
            )
    }
}

/// Why a load was not cached: the inner verifier's answer, passed through.
struct Uncached(AuthError);

impl<V, C> Verifier<C> for CachedVerifier<V, C>
where
    V: Verifier<C>,
    C: CacheKey + Clone + Send + 'static,
{
    /// A hit is answered at once, in the call (no box, no clone of the inner verifier);
    /// a miss or a bypass is the boxed load.
    type Future = futures_util::future::Either<
        Ready<Result<Principal, AuthError>>,
        BoxFuture<'static, Result<Principal, AuthError>>,
    >;

    fn verify(&self, credential: C) -> Self::Future {
        let shared = &self.shared;
        if !shared.invalidator.is_live() {
            // Changes may be going unheard: answer from the source only.
            return self.inner.verify(credential).boxed().right_future();
        }
        let key = shared.key_of(&credential);
        // A current entry answers without building the loader below (two verifier
        // clones and a credential clone): hits are the common case. moka's lookup
        // completes in its first poll; were it ever to wait, it is dropped (a read
        // changes nothing) and the load below looks again.
        let looked_up = {
            let lookup = std::pin::pin!(shared.cache.get(&key));
            lookup.poll(&mut Context::from_waker(
                futures_util::task::noop_waker_ref(),
            ))
        };
        if let Poll::Ready(Some(entry)) = looked_up {
            if shared.current(&entry) {
                crate::metrics::count(crate::metrics::CACHE_HITS_TOTAL);
                return ready(entry.outcome.clone()).left_future();
            }
        }
        let inner = self.inner.clone();
        let shared = Arc::clone(&self.shared);
        async move {
            crate::metrics::count(crate::metrics::CACHE_MISSES_TOTAL);
            let load = {
                let (inner, shared, credential) =
                    (inner.clone(), Arc::clone(&shared), credential.clone());
                async move {
                    // The epoch before the source is asked: any change after it is checked
                    // against this entry when it is read, so a change that races the load
                    // cannot leave a stale answer behind.
                    let start = shared.invalidator.epoch();
                    let outcome = inner.verify(credential).await;
                    match outcome {
                        Ok(mut p) => {
                            p.location = None;
                            Ok(Arc::new(Entry {
                                outcome: Ok(p),
                                checked: AtomicU64::new(start),
                            }))
                        }
                        Err(e) if shared.cacheable(&e) => Ok(Arc::new(Entry {
                            outcome: Err(e),
                            checked: AtomicU64::new(start),
                        })),
                        Err(e) => Err(Uncached(e)),
                    }
                }
            };
            let entry = match shared.cache.try_get_with(key, load).await {
                Ok(entry) => entry,
                Err(uncached) => return Err(uncached.0.clone()),
            };
            if shared.current(&entry) {
                return entry.outcome.clone();
            }
            shared.cache.invalidate(&key).await;
            inner.verify(credential).await
        }
        .boxed()
        .right_future()
    }
}

/// `.cached(..)` on every [`Verifier`].
pub trait CacheExt<C>: Verifier<C> + Sized {
    /// Caches this verifier's answers with `settings`.
    fn cached(self, settings: VerificationCache) -> CachedVerifier<Self, C>
    where
        C: CacheKey + Clone + Send + 'static,
    {
        CachedVerifier::new(self, settings)
    }
}

impl<C, V: Verifier<C>> CacheExt<C> for V {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::CredentialLocation;
    use crate::clock::ManualClock;
    use crate::invalidate::Invalidation;
    use crate::store::KeyKind;

    fn cred(t: &str) -> TokenCredential {
        TokenCredential::new(t, CredentialLocation::Query("t".into()))
    }

    /// A verifier that counts its calls: `good` is app `a` (key `k1`), `down` is a store
    /// failure, anything else unknown.
    fn counting(calls: Arc<AtomicUsize>) -> impl Verifier<TokenCredential> {
        move |c: TokenCredential| {
            let calls = Arc::clone(&calls);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                match c.expose() {
                    "good" => Ok(Principal::app("a").with_key_id("k1")),
                    "down" => Err(AuthError::unavailable("down")),
                    _ => Err(AuthError::invalid("unknown")),
                }
            }
        }
    }

    #[tokio::test]
    async fn caches_positive_and_negative_but_not_failures() {
        let calls = Arc::new(AtomicUsize::new(0));
        let inv = Invalidator::new();
        let v = counting(Arc::clone(&calls)).cached(VerificationCache::new(inv.clone()));
        for _ in 0..3 {
            assert_eq!(v.verify(cred("good")).await.unwrap().id, "a");
            assert_eq!(v.verify(cred("bad")).await.unwrap_err().status(), 401);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        for _ in 0..2 {
            assert_eq!(v.verify(cred("down")).await.unwrap_err().status(), 503);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4, "failures are never cached");

        // A change to another key keeps the positive entry, drops the negative one.
        inv.invalidate(Invalidation::key(KeyKind::AppApiKey, "other"));
        v.verify(cred("good")).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        v.verify(cred("bad")).await.unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        // A change to its key drops it.
        inv.invalidate(Invalidation::key(KeyKind::AppApiKey, "k1"));
        v.verify(cred("good")).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        // And so does a change to the principal, or to everything.
        inv.invalidate(Invalidation::principal("a"));
        v.verify(cred("good")).await.unwrap();
        inv.invalidate(Invalidation::All);
        v.verify(cred("good")).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 8);
    }

    #[tokio::test]
    async fn a_hit_hands_on_the_cached_principal_without_copying_it() {
        let v = counting(Arc::new(AtomicUsize::new(0)))
            .cached(VerificationCache::new(Invalidator::new()));
        let first = v.verify(cred("good")).await.unwrap();
        let second = v.verify(cred("good")).await.unwrap();
        assert!(second.shares_data_with(&first), "a hit copies nothing");
        // It is answered in the call: a ready future, no box; a miss is the boxed load.
        assert!(matches!(
            v.verify(cred("good")),
            futures_util::future::Either::Left(_)
        ));
        assert!(matches!(
            v.verify(cred("new")),
            futures_util::future::Either::Right(_)
        ));
    }

    #[tokio::test]
    async fn single_flight() {
        let calls = Arc::new(AtomicUsize::new(0));
        let v = counting(Arc::clone(&calls)).cached(VerificationCache::new(Invalidator::new()));
        let all = futures_util::future::join_all((0..16).map(|_| v.verify(cred("good")))).await;
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_change_during_the_load_is_not_missed() {
        let inv = Invalidator::new();
        let inv2 = inv.clone();
        let revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let revoked2 = Arc::clone(&revoked);
        // The source reads the key as live, then the key is revoked before it answers.
        let v = (move |_: TokenCredential| {
            let (inv, revoked) = (inv2.clone(), Arc::clone(&revoked2));
            async move {
                if revoked.load(Ordering::SeqCst) {
                    return Err(AuthError::revoked("k1"));
                }
                revoked.store(true, Ordering::SeqCst);
                inv.invalidate(Invalidation::key(KeyKind::AppApiKey, "k1"));
                Ok(Principal::app("a").with_key_id("k1"))
            }
        })
        .cached(VerificationCache::new(inv.clone()));
        // The change was announced before the answer was given: the stale answer is
        // dropped and the source asked again, now and later.
        for _ in 0..2 {
            assert_eq!(v.verify(cred("good")).await.unwrap_err().code(), "revoked");
        }
    }

    #[tokio::test]
    async fn expiry_and_liveness() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let calls = Arc::new(AtomicUsize::new(0));
        let calls2 = Arc::clone(&calls);
        let exp = crate::clock::Clock::now(&clock) + Duration::from_secs(10);
        let v = (move |_: TokenCredential| {
            calls2.fetch_add(1, Ordering::SeqCst);
            async move { Ok(Principal::user("u").with_expires_at(exp)) }
        })
        .cached(VerificationCache::new(Invalidator::new()).with_clock(Arc::new(clock.clone())));
        v.verify(cred("x")).await.unwrap();
        v.verify(cred("x")).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(10));
        v.verify(cred("x")).await.unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "an expired principal is re-verified"
        );

        let calls = Arc::new(AtomicUsize::new(0));
        let inv = Invalidator::with_heartbeat(Duration::from_secs(3600));
        let v = counting(Arc::clone(&calls)).cached(VerificationCache::new(inv.clone()));
        v.verify(cred("good")).await.unwrap();
        v.verify(cred("good")).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "not live: bypassed");
        inv.set_live(true);
        v.verify(cred("good")).await.unwrap();
        v.verify(cred("good")).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn keys_are_hmacs_and_debug_is_redacted() {
        let v = counting(Arc::new(AtomicUsize::new(0)))
            .cached(VerificationCache::new(Invalidator::new()));
        let a = v.shared.key_of(&cred("good"));
        assert_eq!(a, v.shared.key_of(&cred("good")));
        assert_ne!(a, v.shared.key_of(&cred("goods")));
        let basic = |u: &str, p: &str| BasicCredentials {
            username: u.into(),
            password: p.into(),
        };
        // Length prefixes: "ab" + "c" is not "a" + "bc".
        assert_ne!(
            v.shared.key_of(&basic("ab", "c")),
            v.shared.key_of(&basic("a", "bc"))
        );
        let other = counting(Arc::new(AtomicUsize::new(0)))
            .cached(VerificationCache::new(Invalidator::new()));
        assert_ne!(
            a,
            other.shared.key_of(&cred("good")),
            "a random key per cache"
        );
        assert!(!format!("{v:?}").contains("good"));
    }
}
