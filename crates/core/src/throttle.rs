//! Failed-attempt throttling: too many wrong guessable credentials (passwords and what is
//! derived from them) for one principal, or from one client address, and the next
//! attempts answer `429 Too Many Attempts` with `Retry-After` until the window ends. Off
//! by default; one line turns it on: [`AuthnLayer::throttle`]`(`[`Throttle::new()`]`)`.
//!
//! - **Reserved before verified.** An attempt takes a slot in each of its windows before
//!   its credential is verified, atomically ([`AttemptStore::reserve`]: one critical
//!   section in memory, one Lua script in Redis); a failure keeps the slot, anything else
//!   gives it back. A burst of N concurrent guesses gets at most the limit verified; the
//!   rest answer 429 without being verified. An attempt whose request is dropped while
//!   it is being verified keeps its slot (counted as a failure: fail closed).
//! - **Who is counted.** The principal is the one the credential *claims* (a Basic
//!   user-id, see [`AttemptSubject`]), counted the same whether or not the account exists,
//!   so a 429 tells nothing about accounts. A guessable credential that names no one
//!   (HA1B: mark its locations with [`Throttle::password_equivalent_at`]) counts per
//!   address, and once verified its principal's lock applies: a locked-out user's right
//!   HA1B answers 429 too. High-entropy tokens, keys and pairs are never throttled here:
//!   they cannot be guessed, so an address's failures never lock them out (rate limits
//!   are a separate matter).
//! - While locked, the credential is not even verified (a right password answers 429
//!   too), and a success clears its principal's count (not its address's).
//! - Counts live in an [`AttemptStore`]: [`MemoryAttempts`] for one instance,
//!   `tower-authn-redis` to share them. A store that cannot answer fails closed (503).
//! - The client address: the connection's peer from the request's extensions
//!   ([`Throttle::peer_addr`]), or, when that peer is a trusted proxy
//!   ([`Throttle::trusted_proxies`], default loopback), the client it forwarded for
//!   (`Forwarded` / `X-Forwarded-For`, see [`TrustedProxies::client_addr`]). No address:
//!   per-principal counting only.
//! - Routes that verify credentials themselves (login, token endpoints): wrap their
//!   verifier with [`Throttle::verifier`] (per principal) and the route with
//!   [`Throttle::address_layer`] (per address: a 401 answer counts as a failure).
//!
//! ```
//! use std::convert::Infallible;
//! use std::net::SocketAddr;
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_authn_core::clock::ManualClock;
//! use tower_authn_core::throttle::{MemoryAttempts, Throttle};
//! use tower_authn_core::https_redirect::PeerAddr;
//! use tower_authn_core::{AuthError, BasicAuthLayer, Principal, credential::BasicCredentials};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let clock = ManualClock::at_unix(1_700_000_000);
//! let verify = |_: BasicCredentials| async move { Err::<Principal, _>(AuthError::invalid("wrong")) };
//! let throttle = Throttle::with_store(MemoryAttempts::new().with_clock(clock.clone()))
//!     .per_principal(2, Duration::from_secs(60));
//! let svc = ServiceBuilder::new()
//!     .layer(BasicAuthLayer::new(verify).throttle(throttle))
//!     .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(Bytes::new())) });
//!
//! let attempt = || {
//!     let mut req = Request::get("/").header("authorization", "Basic bm9ib2R5Omd1ZXNz").body(()).unwrap();
//!     req.extensions_mut().insert(PeerAddr("192.0.2.7:5000".parse::<SocketAddr>().unwrap()));
//!     req
//! };
//! assert_eq!(svc.clone().oneshot(attempt()).await.unwrap().status(), 401);
//! assert_eq!(svc.clone().oneshot(attempt()).await.unwrap().status(), 401);
//! let locked = svc.clone().oneshot(attempt()).await.unwrap();
//! assert_eq!(locked.status(), 429);
//! assert_eq!(locked.headers()["retry-after"], "60");
//! clock.advance(Duration::from_secs(60));
//! assert_eq!(svc.oneshot(attempt()).await.unwrap().status(), 401);
//! # }
//! ```

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, ready};
use http::request::Parts;
use http::{Extensions, HeaderMap, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tower_layer::Layer;
use tower_service::Service;

use crate::audit::{Actor, AuditAction, AuditEvent, AuditOutcome, AuditSink, Auditor};
use crate::authn::AuthnLayer;
use crate::challenge::Challenge;
use crate::clock::{Clock, SharedClock, SystemClock};
use crate::combinator::Either;
use crate::credential::{AccessPair, BasicCredentials, TokenCredential};
use crate::error::{AuthError, ErrorKind, StoreError};
pub use crate::https_redirect::TrustedProxies;
use crate::https_redirect::{PeerLookup, default_peer_lookup};
use crate::principal::{CredentialLocation, Principal};
use crate::respond::{ErrorResponder, SharedResponder, finish};
use crate::scheme::{Extraction, HideCredentials, Scheme};
use crate::short_circuit::ShortCircuit;
use crate::verifier::Verifier;

/// Attempts counted against one key in its current window (failures, and reservations
/// still being verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    /// How many.
    pub count: u32,
    /// How long until the window ends and the count starts over.
    pub resets_in: Duration,
}

/// The answer to [`AttemptStore::reserve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Every key had room: each now counts one more attempt.
    Granted,
    /// At least one key is at its limit; nothing was counted. The longest wait.
    Locked {
        /// Until the last of the full windows ends.
        resets_in: Duration,
    },
}

/// Where attempt counts live. Keys are opaque strings made by [`Throttle`] (digests of
/// the principal, the address); a window starts at its key's first reserved attempt.
pub trait AttemptStore: Send + Sync + 'static {
    /// Atomically: when every key in `keys` counts fewer attempts than its limit's
    /// `max_failures` in its window, counts one more on each (starting a window of the
    /// limit's `window` where none runs) and grants; otherwise counts nothing and answers
    /// [`Reservation::Locked`]. No interleaving of concurrent calls may grant more than
    /// `max_failures` attempts in one window.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer, or cannot take a new key (the attempt
    /// fails closed with 503).
    fn reserve<'a>(
        &'a self,
        keys: &'a [(String, Limit)],
    ) -> BoxFuture<'a, Result<Reservation, StoreError>>;

    /// Gives back one reserved attempt of `key` (its attempt did not fail).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    fn release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The attempts of `key` in its current window, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    fn failures<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Failures>, StoreError>>;

    /// Forgets the attempts of `key`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<T: AttemptStore + ?Sized> AttemptStore for Arc<T> {
    fn reserve<'a>(
        &'a self,
        keys: &'a [(String, Limit)],
    ) -> BoxFuture<'a, Result<Reservation, StoreError>> {
        (**self).reserve(keys)
    }

    fn release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).release(key)
    }

    fn failures<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Failures>, StoreError>> {
        (**self).failures(key)
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).clear(key)
    }
}

/// One key's window: attempts counted, and when the window ends (ms since the epoch).
#[derive(Clone, Copy, Debug)]
struct Window {
    count: u32,
    ends_ms: u64,
}

const SHARDS: usize = 64;

/// Attempt counts in memory, for one instance; clones share the counts.
///
/// Bounded: at most `capacity` keys (default 100 000), spread over 64 independently
/// locked shards chosen by a keyed hash (an attacker cannot aim at one shard). A key
/// leaves when its window ends or its count drops to zero. A full shard first drops
/// its ended windows; if it is still full, a *new* key is refused with a
/// [`StoreError`] (503, fail closed): no running window is ever evicted, so junk keys
/// can neither end a lock early nor reset a count. Every operation costs one shard lock
/// and, only when a shard is full, one pass over that shard (1/64 of the table).
#[derive(Clone)]
pub struct MemoryAttempts {
    shards: Arc<[Mutex<HashMap<String, Window>>]>,
    hasher: RandomState,
    per_shard: usize,
    clock: SharedClock,
}

impl Default for MemoryAttempts {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryAttempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n: usize = self
            .shards
            .iter()
            .map(|s| s.lock().map(|c| c.len()).unwrap_or(0))
            .sum();
        f.debug_struct("MemoryAttempts")
            .field("keys", &n)
            .field("capacity", &(self.per_shard * SHARDS))
            .finish()
    }
}

fn millis(clock: &dyn Clock) -> u64 {
    clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn window_ms(window: Duration) -> u64 {
    u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
}

impl MemoryAttempts {
    /// Up to 100 000 keys.
    pub fn new() -> Self {
        Self::with_capacity(100_000)
    }

    /// Up to about `capacity` keys (rounded up to a multiple of 64; at least 64).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads time from `clock` (tests: a [`ManualClock`](crate::clock::ManualClock)).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn shard_of(&self, key: &str) -> usize {
        // The remainder is below SHARDS, so the cast never truncates.
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, HashMap<String, Window>> {
        self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        millis(&*self.clock)
    }
}

/// The running window of `key` (an ended one is removed).
fn running(map: &mut HashMap<String, Window>, key: &str, now: u64) -> Option<Window> {
    match map.get(key) {
        Some(w) if w.ends_ms > now => Some(*w),
        Some(_) => {
            map.remove(key);
            None
        }
        None => None,
    }
}

impl AttemptStore for MemoryAttempts {
    fn reserve<'a>(
        &'a self,
        keys: &'a [(String, Limit)],
    ) -> BoxFuture<'a, Result<Reservation, StoreError>> {
        let now = self.now();
        // Lock every shard involved, in index order (no deadlock), for one atomic step.
        let mut shards: Vec<usize> = keys.iter().map(|(k, _)| self.shard_of(k)).collect();
        shards.sort_unstable();
        shards.dedup();
        let mut guards: Vec<(usize, MutexGuard<'_, HashMap<String, Window>>)> =
            shards.iter().map(|&i| (i, self.lock(i))).collect();
        let map_of = |key: &str| -> usize {
            let i = self.shard_of(key);
            guards.iter().position(|(s, _)| *s == i).unwrap_or(0)
        };
        let slots: Vec<usize> = keys.iter().map(|(k, _)| map_of(k)).collect();

        let mut wait: Option<u64> = None;
        for ((key, limit), &g) in keys.iter().zip(&slots) {
            let map = &mut guards[g].1;
            let (count, left) = match running(map, key, now) {
                Some(w) => (w.count, w.ends_ms - now),
                None => (0, window_ms(limit.window)),
            };
            if count >= limit.max_failures {
                wait = Some(wait.map_or(left, |w| w.max(left)));
            }
        }
        if let Some(ms) = wait {
            return ready(Ok(Reservation::Locked {
                resets_in: Duration::from_millis(ms),
            }))
            .boxed();
        }
        for ((key, _), &g) in keys.iter().zip(&slots) {
            let map = &mut guards[g].1;
            if !map.contains_key(key.as_str()) && map.len() >= self.per_shard {
                map.retain(|_, w| w.ends_ms > now);
                if map.len() >= self.per_shard {
                    // Refuse rather than evict a running window. Give back what this
                    // call already counted.
                    for ((done, _), &dg) in keys.iter().zip(&slots) {
                        if done == key {
                            break;
                        }
                        release_in(&mut guards[dg].1, done);
                    }
                    return ready(Err(StoreError::new("attempt table full"))).boxed();
                }
            }
        }
        for ((key, limit), &g) in keys.iter().zip(&slots) {
            let map = &mut guards[g].1;
            let w = map.entry(key.clone()).or_insert(Window {
                count: 0,
                ends_ms: now.saturating_add(window_ms(limit.window)),
            });
            w.count = w.count.saturating_add(1);
        }
        ready(Ok(Reservation::Granted)).boxed()
    }

    fn release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        release_in(&mut self.lock(self.shard_of(key)), key);
        ready(Ok(())).boxed()
    }

    fn failures<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Failures>, StoreError>> {
        let now = self.now();
        let found = running(&mut self.lock(self.shard_of(key)), key, now).map(|w| Failures {
            count: w.count,
            resets_in: Duration::from_millis(w.ends_ms - now),
        });
        ready(Ok(found)).boxed()
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.lock(self.shard_of(key)).remove(key);
        ready(Ok(())).boxed()
    }
}

fn release_in(map: &mut HashMap<String, Window>, key: &str) {
    if let Some(w) = map.get_mut(key) {
        w.count = w.count.saturating_sub(1);
        if w.count == 0 {
            map.remove(key);
        }
    }
}

/// What throttling needs to know about a credential.
///
/// Implemented for the core credentials: a Basic user-id claims its user and is
/// guessable; tokens, keys and pairs claim no one and are not guessable (they are never
/// throttled), unless their location was marked with
/// [`Throttle::password_equivalent_at`]. For a custom credential,
/// `impl AttemptSubject for MyCredential {}` leaves it unthrottled.
pub trait AttemptSubject {
    /// The claimed principal, if the credential names one.
    fn attempt_subject(&self) -> Option<&str> {
        None
    }

    /// Whether the credential can be guessed (a password, or something derived from
    /// one): counted and locked per principal and per address.
    fn guessable(&self) -> bool {
        self.attempt_subject().is_some()
    }

    /// Where the credential was found, to match [`Throttle::password_equivalent_at`].
    fn attempt_location(&self) -> Option<&CredentialLocation> {
        None
    }
}

impl AttemptSubject for BasicCredentials {
    fn attempt_subject(&self) -> Option<&str> {
        Some(&self.username)
    }
}

impl AttemptSubject for TokenCredential {
    fn attempt_location(&self) -> Option<&CredentialLocation> {
        Some(&self.location)
    }
}

impl AttemptSubject for AccessPair {}

impl<A: AttemptSubject, B: AttemptSubject> AttemptSubject for Either<A, B> {
    fn attempt_subject(&self) -> Option<&str> {
        match self {
            Self::Left(a) => a.attempt_subject(),
            Self::Right(b) => b.attempt_subject(),
        }
    }

    fn guessable(&self) -> bool {
        match self {
            Self::Left(a) => a.guessable(),
            Self::Right(b) => b.guessable(),
        }
    }

    fn attempt_location(&self) -> Option<&CredentialLocation> {
        match self {
            Self::Left(a) => a.attempt_location(),
            Self::Right(b) => b.attempt_location(),
        }
    }
}

impl<A: AttemptSubject, B: AttemptSubject> AttemptSubject for (Option<A>, Option<B>) {
    fn attempt_subject(&self) -> Option<&str> {
        self.0
            .as_ref()
            .and_then(A::attempt_subject)
            .or_else(|| self.1.as_ref().and_then(B::attempt_subject))
    }

    fn guessable(&self) -> bool {
        self.0.as_ref().is_some_and(A::guessable) || self.1.as_ref().is_some_and(B::guessable)
    }

    fn attempt_location(&self) -> Option<&CredentialLocation> {
        self.0
            .as_ref()
            .and_then(A::attempt_location)
            .or_else(|| self.1.as_ref().and_then(B::attempt_location))
    }
}

/// A credential with the client address it came from, for [`ThrottledVerifier`]s that
/// also count per address (a router that knows the request builds it).
#[derive(Debug)]
pub struct FromAddr<C> {
    /// The credential.
    pub credential: C,
    /// The client address, if known ([`Throttle::client_addr`]).
    pub addr: Option<IpAddr>,
}

/// How many attempts a window allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Failed attempts allowed; the next attempt in the window answers 429.
    pub max_failures: u32,
    /// The window, from its first attempt.
    pub window: Duration,
}

/// The throttling settings. See the [module docs](self).
#[derive(Clone)]
pub struct Throttle {
    store: Arc<dyn AttemptStore>,
    per_principal: Option<Limit>,
    per_address: Option<Limit>,
    peer: PeerLookup,
    proxies: TrustedProxies,
    password_equivalent: Arc<[CredentialLocation]>,
    audit: Auditor,
    clock: SharedClock,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("per_principal", &self.per_principal)
            .field("per_address", &self.per_address)
            .field("trusted_proxies", &self.proxies)
            .field("password_equivalent", &self.password_equivalent)
            .finish_non_exhaustive()
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

/// The keys of one attempt: `(key, limit)`, and which of them are per principal.
type Keys = (Vec<(String, Limit)>, Vec<bool>);

fn principal_key(subject: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(subject.as_bytes());
    // One allocation per attempt, not one per byte.
    let mut key = String::with_capacity("principal:".len() + 2 * digest.len());
    key.push_str("principal:");
    for b in digest {
        key.push(char::from(HEX[usize::from(b >> 4)]));
        key.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    key
}

impl Throttle {
    /// In memory: 5 failures per principal and 30 per client address, each per 15 minutes;
    /// loopback is the trusted proxy.
    pub fn new() -> Self {
        Self::with_store(MemoryAttempts::new())
    }

    /// The default limits with counts in `store` (shared between instances, for one).
    pub fn with_store(store: impl AttemptStore) -> Self {
        let window = Duration::from_secs(15 * 60);
        Self {
            store: Arc::new(store),
            per_principal: Some(Limit {
                max_failures: 5,
                window,
            }),
            per_address: Some(Limit {
                max_failures: 30,
                window,
            }),
            peer: default_peer_lookup,
            proxies: TrustedProxies::default(),
            password_equivalent: Arc::new([]),
            audit: Auditor::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Tells `sink` of every attempt refused because its principal or address is past its
    /// limit ([`AuditAction::LoginThrottled`], outcome
    /// [`Refused`](AuditOutcome::Refused), by the system, the claimed principal as the
    /// subject when the credential named one); the default is
    /// [`TracingAudit`](crate::audit::TracingAudit).
    pub fn with_audit(mut self, sink: impl AuditSink) -> Self {
        self.audit = self.audit.with_sink(sink);
        self
    }

    /// Reads the time audit events carry from `clock` (the attempt store keeps its own).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Tells the sink of a refused attempt of `subject` (claimed, or proved for a
    /// credential that named no one).
    fn audit_refused(&self, subject: Option<&Principal>, claimed: Option<&str>) {
        let event = AuditEvent::new(
            AuditAction::LoginThrottled,
            self.audit.actor_or(|| Actor::System),
            self.clock.now(),
        )
        .outcome(AuditOutcome::Refused);
        let event = match (subject, claimed) {
            (Some(p), _) => event.owner(p),
            (None, Some(claimed)) => {
                let mut event = event;
                event.subject = Some(claimed.to_owned());
                event
            }
            (None, None) => event,
        };
        self.audit.emit(event);
    }

    /// Allows `max_failures` per claimed principal per `window`.
    pub fn per_principal(mut self, max_failures: u32, window: Duration) -> Self {
        self.per_principal = Some(Limit {
            max_failures,
            window,
        });
        self
    }

    /// Allows `max_failures` per client address per `window`.
    pub fn per_address(mut self, max_failures: u32, window: Duration) -> Self {
        self.per_address = Some(Limit {
            max_failures,
            window,
        });
        self
    }

    /// Stops counting per principal.
    pub fn without_per_principal(mut self) -> Self {
        self.per_principal = None;
        self
    }

    /// Stops counting per address.
    pub fn without_per_address(mut self) -> Self {
        self.per_address = None;
        self
    }

    /// How to find the connection's peer address in a request's extensions (default: a
    /// [`PeerAddr`](crate::https_redirect::PeerAddr) or a `SocketAddr`; axum's
    /// `ConnectInfo`: `tower_authn_axum::connect_info_peer`).
    pub fn peer_addr(mut self, lookup: PeerLookup) -> Self {
        self.peer = lookup;
        self
    }

    /// The proxies whose `Forwarded` / `X-Forwarded-For` name the client (default:
    /// loopback). Forwarding headers from any other peer are ignored.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Treats token credentials found at `location` as guessable (HA1B digests are a
    /// password in another form): counted per address, refused while the address is
    /// locked, and refused once verified while their principal is locked.
    pub fn password_equivalent_at(mut self, location: CredentialLocation) -> Self {
        let mut all = self.password_equivalent.to_vec();
        all.push(location);
        self.password_equivalent = all.into();
        self
    }

    /// The client address of a request: its peer (per [`peer_addr`](Self::peer_addr)),
    /// or the client a trusted proxy forwarded for.
    pub fn client_addr(&self, extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
        (self.peer)(extensions).map(|peer| self.proxies.client_addr(peer, headers))
    }

    fn is_guessable<C: AttemptSubject>(&self, credential: &C) -> bool {
        credential.guessable()
            || credential
                .attempt_location()
                .is_some_and(|l| self.password_equivalent.contains(l))
    }

    fn keys(&self, subject: Option<&str>, addr: Option<IpAddr>) -> Keys {
        let (mut keys, mut principal) = (Vec::with_capacity(2), Vec::with_capacity(2));
        if let (Some(limit), Some(subject)) = (self.per_principal, subject) {
            keys.push((principal_key(subject), limit));
            principal.push(true);
        }
        if let (Some(limit), Some(addr)) = (self.per_address, addr) {
            keys.push((format!("address:{addr}"), limit));
            principal.push(false);
        }
        (keys, principal)
    }

    /// Reserves the attempt's slots, or answers 429 / 503.
    async fn reserve(&self, keys: &Keys, subject: Option<&str>) -> Result<(), AuthError> {
        if keys.0.is_empty() {
            return Ok(());
        }
        match self.store.reserve(&keys.0).await? {
            Reservation::Granted => Ok(()),
            Reservation::Locked { resets_in } => {
                self.audit_refused(None, subject);
                Err(locked(resets_in))
            }
        }
    }

    async fn release_all(&self, keys: &Keys) {
        for (key, _) in &keys.0 {
            if let Err(e) = self.store.release(key).await {
                tracing::warn!(error = %e, "attempt reservation not released");
            }
        }
    }

    /// After the verdict: a wrong credential keeps its slots; a success clears its
    /// principal's count and gives back the address's slot; anything else gives back all.
    async fn settle(&self, keys: &Keys, outcome: &Result<Principal, AuthError>) {
        match outcome {
            Err(e) if e.kind() == ErrorKind::InvalidCredentials => {}
            Ok(_) => {
                for ((key, _), &principal) in keys.0.iter().zip(&keys.1) {
                    let done = if principal {
                        self.store.clear(key).await
                    } else {
                        self.store.release(key).await
                    };
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "attempt reservation not settled");
                    }
                }
            }
            Err(_) => self.release_all(keys).await,
        }
    }

    /// For a guessable credential that named no one: its principal's lock, once known.
    async fn principal_lock(&self, principal: &Principal) -> Result<(), AuthError> {
        let Some(limit) = self.per_principal else {
            return Ok(());
        };
        match self.store.failures(&principal_key(&principal.id)).await? {
            Some(f) if f.count >= limit.max_failures => {
                self.audit_refused(Some(principal), None);
                Err(locked(f.resets_in))
            }
            _ => Ok(()),
        }
    }

    /// The whole throttled verification of one attempt.
    /// `verify` is called only once the attempt holds its reservation (a verifier may
    /// start its work when called).
    async fn attempt<F, Fut>(
        &self,
        subject: Option<&str>,
        addr: Option<IpAddr>,
        verify: F,
    ) -> Result<Principal, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Principal, AuthError>>,
    {
        let keys = self.keys(subject, addr);
        self.reserve(&keys, subject).await?;
        let mut outcome = verify().await;
        if subject.is_none() {
            if let Ok(p) = &outcome {
                if let Err(e) = self.principal_lock(p).await {
                    outcome = Err(e);
                }
            }
        }
        self.settle(&keys, &outcome).await;
        outcome
    }
}

/// 429, with the wait in whole seconds rounded up: retrying at the announced time works.
fn locked(w: Duration) -> AuthError {
    crate::metrics::count(crate::metrics::THROTTLED_TOTAL);
    AuthError::too_many_attempts(Duration::from_secs(
        w.as_secs() + u64::from(w.subsec_nanos() > 0),
    ))
}

/// A verifier whose attempts are throttled per claimed principal (and per address, for
/// [`FromAddr`] credentials): for routes that verify credentials themselves, such as
/// login and token endpoints. Built by [`Throttle::verifier`]. Every credential it sees
/// is treated as guessable.
#[derive(Clone)]
pub struct ThrottledVerifier<V> {
    inner: V,
    throttle: Throttle,
}

impl<V> fmt::Debug for ThrottledVerifier<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottledVerifier")
            .field("throttle", &self.throttle)
            .finish_non_exhaustive()
    }
}

impl<V, C> Verifier<C> for ThrottledVerifier<V>
where
    V: Verifier<C>,
    C: AttemptSubject + Send + 'static,
{
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;

    fn verify(&self, credential: C) -> Self::Future {
        let subject = credential.attempt_subject().map(str::to_owned);
        let (inner, throttle) = (self.inner.clone(), self.throttle.clone());
        async move {
            throttle
                .attempt(subject.as_deref(), None, || inner.verify(credential))
                .await
        }
        .boxed()
    }
}

impl<V, C> Verifier<FromAddr<C>> for ThrottledVerifier<V>
where
    V: Verifier<C>,
    C: AttemptSubject + Send + 'static,
{
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;

    fn verify(&self, attempt: FromAddr<C>) -> Self::Future {
        let subject = attempt.credential.attempt_subject().map(str::to_owned);
        let (inner, throttle) = (self.inner.clone(), self.throttle.clone());
        async move {
            throttle
                .attempt(subject.as_deref(), attempt.addr, || {
                    inner.verify(attempt.credential)
                })
                .await
        }
        .boxed()
    }
}

impl Throttle {
    /// Throttles `verifier`'s attempts per claimed principal (and per address when it is
    /// given [`FromAddr`] credentials).
    pub fn verifier<V>(&self, verifier: V) -> ThrottledVerifier<V> {
        ThrottledVerifier {
            inner: verifier,
            throttle: self.clone(),
        }
    }

    /// A layer that throttles a whole route per client address: each request reserves
    /// a slot of its address's window before the route runs (429 when full); a `401`
    /// answer keeps it (a failed attempt), any other answer gives it back. For login and
    /// token routes, whose verifier [`verifier`](Self::verifier) throttles per principal.
    pub fn address_layer(&self) -> AddressThrottleLayer {
        AddressThrottleLayer {
            throttle: self.clone(),
            responder: SharedResponder::default(),
            paths: None,
        }
    }
}

/// Per-address throttling of a route; built by [`Throttle::address_layer`].
#[derive(Clone, Debug)]
pub struct AddressThrottleLayer {
    throttle: Throttle,
    responder: SharedResponder,
    paths: Option<Arc<[String]>>,
}

impl AddressThrottleLayer {
    /// Sets the shape of the 429 / 503 answers (default JSON).
    pub fn responder(mut self, responder: impl ErrorResponder) -> Self {
        self.responder = SharedResponder(Arc::new(responder));
        self
    }

    /// Throttles only requests to exactly these paths (the login routes of a router that
    /// also serves token routes, which must never be locked out by an address's failures);
    /// every other request passes untouched.
    pub fn only_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.paths = Some(paths.into_iter().map(Into::into).collect());
        self
    }
}

impl<S> Layer<S> for AddressThrottleLayer {
    type Service = AddressThrottle<S>;

    fn layer(&self, inner: S) -> AddressThrottle<S> {
        AddressThrottle {
            inner,
            throttle: self.throttle.clone(),
            responder: self.responder.clone(),
            paths: self.paths.clone(),
        }
    }
}

/// The service built by [`AddressThrottleLayer`].
#[derive(Clone, Debug)]
pub struct AddressThrottle<S> {
    inner: S,
    throttle: Throttle,
    responder: SharedResponder,
    paths: Option<Arc<[String]>>,
}

crate::inner_service_accessors!(AddressThrottle<S>);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AddressThrottle<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    /// Boxed (the attempt awaits the store around the inner call); polled after completion,
    /// it answers like every middleware future here ([`ShortCircuit`]).
    type Future = ShortCircuit<BoxFuture<'static, Result<Response<ResBody>, S::Error>>, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = req.uri().path();
        if let Some(paths) = &self.paths {
            if !paths.iter().any(|p| p == path) {
                return ShortCircuit::Inner(inner.call(req).boxed());
            }
        }
        let (throttle, responder) = (self.throttle.clone(), self.responder.clone());
        let addr = throttle.client_addr(req.extensions(), req.headers());
        let attempt = async move {
            let keys = throttle.keys(None, addr);
            if let Err(e) = throttle.reserve(&keys, None).await {
                return Ok(finish(responder.0.respond(&e), &e, &[]).map(ResBody::from));
            }
            let res = inner.call(req).await;
            if !matches!(&res, Ok(r) if r.status() == StatusCode::UNAUTHORIZED) {
                throttle.release_all(&keys).await;
            }
            res
        };
        ShortCircuit::Inner(attempt.boxed())
    }
}

/// A credential with what throttling needs to know about its attempt.
pub struct Attempt<C> {
    credential: C,
    guessable: bool,
    subject: Option<String>,
    addr: Option<IpAddr>,
}

impl<C> fmt::Debug for Attempt<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("guessable", &self.guessable)
            .field("subject", &self.subject)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// A scheme whose attempts are throttled; built by [`AuthnLayer::throttle`].
#[derive(Clone)]
pub struct Throttled<Sc> {
    inner: Sc,
    throttle: Throttle,
}

impl<Sc> fmt::Debug for Throttled<Sc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttled")
            .field("throttle", &self.throttle)
            .finish_non_exhaustive()
    }
}

impl<Sc> Throttled<Sc> {
    /// Throttles `inner` with `throttle`.
    pub fn new(inner: Sc, throttle: Throttle) -> Self {
        Self { inner, throttle }
    }
}

impl<Sc> Scheme for Throttled<Sc>
where
    Sc: Scheme,
    Sc::Credential: AttemptSubject,
{
    type Credential = Attempt<Sc::Credential>;
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;
    type Body = Sc::Body;

    fn extract(&self, head: &Parts) -> Extraction<Self::Credential> {
        match self.inner.extract(head) {
            Extraction::Found(credential) => {
                // Tokens and keys are never counted: no subject copy, no address lookup.
                let guessable = self.throttle.is_guessable(&credential);
                let (subject, addr) = if guessable {
                    (
                        credential.attempt_subject().map(str::to_owned),
                        self.throttle.client_addr(&head.extensions, &head.headers),
                    )
                } else {
                    (None, None)
                };
                Extraction::Found(Attempt {
                    guessable,
                    subject,
                    addr,
                    credential,
                })
            }
            Extraction::Absent => Extraction::Absent,
            Extraction::Rejected(e) => Extraction::Rejected(e),
        }
    }

    fn body_limit(&self, attempt: &Self::Credential) -> Option<usize> {
        self.inner.body_limit(&attempt.credential)
    }

    fn extract_body(
        &self,
        attempt: Self::Credential,
        head: &Parts,
        body: &Bytes,
    ) -> Result<Self::Credential, AuthError> {
        let Attempt {
            credential,
            guessable,
            subject,
            addr,
        } = attempt;
        Ok(Attempt {
            credential: self.inner.extract_body(credential, head, body)?,
            guessable,
            subject,
            addr,
        })
    }

    fn verify(&self, attempt: Self::Credential) -> Self::Future {
        let (inner, throttle) = (self.inner.clone(), self.throttle.clone());
        async move {
            if !attempt.guessable {
                return inner.verify(attempt.credential).await;
            }
            throttle
                .attempt(attempt.subject.as_deref(), attempt.addr, || {
                    inner.verify(attempt.credential)
                })
                .await
        }
        .boxed()
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        self.inner.hide(head, mode);
    }

    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        self.inner.challenges(error, out);
    }

    fn slots(&self, out: &mut Vec<crate::scheme::CredentialSlot>) {
        self.inner.slots(out);
    }

    fn requirements(&self, out: &mut Vec<Vec<crate::scheme::CredentialSlot>>) {
        self.inner.requirements(out);
    }
}

impl<Sc: Scheme> AuthnLayer<Sc>
where
    Sc::Credential: AttemptSubject,
{
    /// Throttles failed attempts on this layer's schemes (429 with `Retry-After`). See
    /// [`throttle`](crate::throttle).
    pub fn throttle(self, throttle: Throttle) -> AuthnLayer<Throttled<Sc>> {
        AuthnLayer {
            scheme: Throttled::new(self.scheme, throttle),
            options: self.options,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use http::{Request, Response};
    use tower::{ServiceBuilder, ServiceExt};

    use super::*;
    use crate::clock::ManualClock;
    use crate::https_redirect::PeerAddr;
    use crate::{BasicAuthLayer, HeaderTokenLayer};

    fn at(mut req: Request<()>, from: &str) -> Request<()> {
        req.extensions_mut()
            .insert(PeerAddr(from.parse::<SocketAddr>().unwrap()));
        req
    }

    fn basic(user: &str, password: &str, from: &str) -> Request<()> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let req = Request::get("/")
            .header("authorization", format!("Basic {b64}"))
            .body(())
            .unwrap();
        at(req, from)
    }

    fn header(name: &str, value: &str, from: &str) -> Request<()> {
        at(
            Request::get("/").header(name, value).body(()).unwrap(),
            from,
        )
    }

    async fn status<S>(svc: &S, req: Request<()>) -> (u16, Option<String>, Bytes)
    where
        S: tower::Service<Request<()>, Response = Response<Bytes>, Error = Infallible> + Clone,
    {
        let res = svc.clone().oneshot(req).await.unwrap();
        let retry = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (res.status().as_u16(), retry, res.into_body())
    }

    fn users(c: BasicCredentials) -> futures_util::future::Ready<Result<Principal, AuthError>> {
        use secrecy::ExposeSecret;
        ready(
            if c.username == "alice" && c.password.expose_secret() == "right" {
                Ok(Principal::user("alice"))
            } else {
                Err(AuthError::invalid("wrong"))
            },
        )
    }

    /// Tokens: `good` is the server; `ha1b-right` is alice's HA1B.
    fn tokens(t: TokenCredential) -> futures_util::future::Ready<Result<Principal, AuthError>> {
        ready(match t.expose() {
            "good" => Ok(Principal::server("server")),
            "ha1b-right" => Ok(Principal::user("alice").with_scheme("ha1b")),
            _ => Err(AuthError::invalid("unknown token")),
        })
    }

    fn echo()
    -> impl tower::Service<Request<()>, Response = Response<Bytes>, Error = Infallible> + Clone
    {
        tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Bytes::new()))
        })
    }

    fn store(clock: &ManualClock) -> MemoryAttempts {
        MemoryAttempts::new().with_clock(clock.clone())
    }

    #[tokio::test]
    async fn locks_per_principal_without_revealing_accounts() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let throttle = Throttle::with_store(store(&clock))
            .per_principal(3, Duration::from_secs(60))
            .without_per_address();
        let svc = ServiceBuilder::new()
            .layer(BasicAuthLayer::new(users).throttle(throttle))
            .service(echo());
        // A real account and a missing one answer alike, failure by failure.
        for user in ["alice", "nobody"] {
            for _ in 0..3 {
                assert_eq!(
                    status(&svc, basic(user, "guess", "192.0.2.1:1")).await.0,
                    401
                );
            }
            let (code, retry, body) = status(&svc, basic(user, "guess", "192.0.2.1:1")).await;
            assert_eq!(code, 429);
            assert_eq!(retry.as_deref(), Some("60"));
            assert_eq!(
                body,
                r#"{"error":"too_many_attempts","message":"Too many failed attempts; try again later."}"#
            );
        }
        // While locked, even the right password answers 429; another user is unaffected.
        assert_eq!(
            status(&svc, basic("alice", "right", "192.0.2.1:1")).await.0,
            429
        );
        assert_eq!(
            status(&svc, basic("bob", "guess", "192.0.2.1:1")).await.0,
            401
        );
        // The announced wait is exact, rounded up to whole seconds.
        clock.advance(Duration::from_millis(59_500));
        let (code, retry, _) = status(&svc, basic("alice", "right", "192.0.2.1:1")).await;
        assert_eq!((code, retry.as_deref()), (429, Some("1")));
        clock.advance(Duration::from_millis(500));
        assert_eq!(
            status(&svc, basic("alice", "right", "192.0.2.1:1")).await.0,
            200
        );
    }

    #[tokio::test]
    async fn a_burst_of_concurrent_guesses_gets_only_the_limit_verified() {
        let verified = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(AtomicBool::new(false));
        let (v, g) = (Arc::clone(&verified), Arc::clone(&gate));
        let slow = move |c: BasicCredentials| {
            v.fetch_add(1, Ordering::SeqCst);
            let g = Arc::clone(&g);
            async move {
                // Every verification stays in flight until the whole burst has arrived.
                while !g.load(Ordering::SeqCst) {
                    tokio::task::yield_now().await;
                }
                users(c).await
            }
        };
        let throttle = Throttle::new().per_principal(5, Duration::from_secs(60));
        let svc = ServiceBuilder::new()
            .layer(BasicAuthLayer::new(slow).throttle(throttle))
            .service(echo());
        let burst = (0..40).map(|i| {
            let svc = svc.clone();
            let password = if i == 39 { "right" } else { "guess" };
            async move {
                status(&svc, basic("alice", password, &format!("198.51.100.{i}:1")))
                    .await
                    .0
            }
        });
        let open = async {
            for _ in 0..200 {
                tokio::task::yield_now().await;
            }
            gate.store(true, Ordering::SeqCst);
            0
        };
        let (mut codes, _) =
            futures_util::future::join(futures_util::future::join_all(burst), open).await;
        codes.sort_unstable();
        assert_eq!(
            verified.load(Ordering::SeqCst),
            5,
            "only the limit is verified"
        );
        assert_eq!(codes.iter().filter(|&&c| c == 429).count(), 35);
        assert!(
            !codes.contains(&200),
            "the right password came after the limit"
        );
    }

    #[tokio::test]
    async fn counts_per_address_but_never_locks_out_tokens() {
        // A manual clock: the exact Retry-After below must not depend on the test's speed.
        let clock = ManualClock::at_unix(1_700_000_000);
        let throttle = Throttle::with_store(store(&clock))
            .per_principal(2, Duration::from_secs(60))
            .per_address(4, Duration::from_secs(30));
        let svc = ServiceBuilder::new()
            .layer(
                BasicAuthLayer::new(users)
                    .or(HeaderTokenLayer::new("X-Token", tokens))
                    .throttle(throttle),
            )
            .service(echo());
        // One failure, then a success: alice's count starts over.
        assert_eq!(
            status(&svc, basic("alice", "x", "192.0.2.1:1")).await.0,
            401
        );
        assert_eq!(
            status(&svc, basic("alice", "right", "192.0.2.1:1")).await.0,
            200
        );
        // Thirty bad tokens from one address count nothing and lock nothing.
        for _ in 0..30 {
            assert_eq!(
                status(&svc, header("x-token", "guess", "192.0.2.1:2"))
                    .await
                    .0,
                401
            );
        }
        assert_eq!(
            status(&svc, header("x-token", "good", "192.0.2.1:2"))
                .await
                .0,
            200
        );
        assert_eq!(
            status(&svc, basic("alice", "right", "192.0.2.1:3")).await.0,
            200
        );
        // Password guesses for several users reach the address's limit of 4 (1 so far).
        for user in ["bob", "carol", "dave"] {
            assert_eq!(status(&svc, basic(user, "x", "192.0.2.1:4")).await.0, 401);
        }
        let (code, retry, _) = status(&svc, basic("alice", "right", "192.0.2.1:3")).await;
        assert_eq!((code, retry.as_deref()), (429, Some("30")));
        // A token from the locked address still works; another address is not locked.
        assert_eq!(
            status(&svc, header("x-token", "good", "192.0.2.1:2"))
                .await
                .0,
            200
        );
        assert_eq!(
            status(&svc, basic("alice", "right", "198.51.100.9:1"))
                .await
                .0,
            200
        );
    }

    #[tokio::test]
    async fn a_password_equivalent_token_obeys_its_principals_lock() {
        let ha1b = CredentialLocation::Header(http::HeaderName::from_static("x-ha1b"));
        let throttle = Throttle::new()
            .per_principal(2, Duration::from_secs(60))
            .per_address(3, Duration::from_secs(60))
            .password_equivalent_at(ha1b);
        let svc = ServiceBuilder::new()
            .layer(
                BasicAuthLayer::new(users)
                    .or(HeaderTokenLayer::new("X-HA1B", tokens))
                    .throttle(throttle),
            )
            .service(echo());
        assert_eq!(
            status(&svc, header("x-ha1b", "ha1b-right", "192.0.2.1:1"))
                .await
                .0,
            200
        );
        // Lock alice with two wrong passwords from elsewhere.
        for from in ["198.51.100.1:1", "198.51.100.2:1"] {
            assert_eq!(status(&svc, basic("alice", "x", from)).await.0, 401);
        }
        // Her right HA1B is refused while she is locked.
        assert_eq!(
            status(&svc, header("x-ha1b", "ha1b-right", "192.0.2.1:1"))
                .await
                .0,
            429
        );
        // HA1B guesses count per address.
        for _ in 0..3 {
            assert_eq!(
                status(&svc, header("x-ha1b", "guess", "203.0.113.5:1"))
                    .await
                    .0,
                401
            );
        }
        assert_eq!(
            status(&svc, header("x-ha1b", "guess", "203.0.113.5:1"))
                .await
                .0,
            429
        );
    }

    #[tokio::test]
    async fn forwarded_addresses_only_from_trusted_proxies() {
        let throttle = Throttle::new()
            .without_per_principal()
            .per_address(1, Duration::from_secs(60));
        let svc = ServiceBuilder::new()
            .layer(BasicAuthLayer::new(users).throttle(throttle))
            .service(echo());
        let via = |client: &str, peer: &str| {
            let mut r = basic("bob", "x", peer);
            r.headers_mut()
                .insert("x-forwarded-for", client.parse().unwrap());
            r
        };
        // Behind the loopback proxy, two clients are counted apart.
        assert_eq!(
            status(&svc, via("198.51.100.1", "127.0.0.1:9")).await.0,
            401
        );
        assert_eq!(
            status(&svc, via("198.51.100.2", "127.0.0.1:9")).await.0,
            401
        );
        assert_eq!(
            status(&svc, via("198.51.100.1", "127.0.0.1:9")).await.0,
            429
        );
        // A stranger cannot pick an address by sending the header.
        assert_eq!(
            status(&svc, via("198.51.100.3", "192.0.2.9:1")).await.0,
            401
        );
        assert_eq!(
            status(&svc, via("198.51.100.4", "192.0.2.9:1")).await.0,
            429
        );
    }

    #[tokio::test]
    async fn a_store_that_cannot_answer_fails_closed() {
        struct Down;
        impl AttemptStore for Down {
            fn reserve<'a>(
                &'a self,
                _: &'a [(String, Limit)],
            ) -> BoxFuture<'a, Result<Reservation, StoreError>> {
                ready(Err(StoreError::new("down"))).boxed()
            }
            fn release<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
                ready(Err(StoreError::new("down"))).boxed()
            }
            fn failures<'a>(
                &'a self,
                _: &'a str,
            ) -> BoxFuture<'a, Result<Option<Failures>, StoreError>> {
                ready(Err(StoreError::new("down"))).boxed()
            }
            fn clear<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
                ready(Err(StoreError::new("down"))).boxed()
            }
        }
        let svc = ServiceBuilder::new()
            .layer(BasicAuthLayer::new(users).throttle(Throttle::with_store(Down)))
            .service(echo());
        assert_eq!(
            status(&svc, basic("alice", "right", "192.0.2.1:1")).await.0,
            503
        );
    }

    #[tokio::test]
    async fn a_throttled_verifier_counts_per_principal_and_per_address() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let throttle = Throttle::with_store(store(&clock))
            .per_principal(1, Duration::from_secs(30))
            .per_address(2, Duration::from_secs(90));
        let v = throttle.verifier(users);
        let cred = |u: &str, p: &str| BasicCredentials {
            username: u.into(),
            password: p.to_owned().into(),
        };
        assert_eq!(
            v.verify(cred("alice", "x")).await.unwrap_err().status(),
            401
        );
        let locked = v.verify(cred("alice", "right")).await.unwrap_err();
        assert_eq!(
            (locked.status().as_u16(), locked.retry_after()),
            (429, Some(Duration::from_secs(30)))
        );
        // Spraying usernames from one address stops at the address's limit.
        let from = |u: &str| FromAddr {
            credential: cred(u, "x"),
            addr: Some("192.0.2.8".parse().unwrap()),
        };
        assert_eq!(v.verify(from("u1")).await.unwrap_err().status(), 401);
        assert_eq!(v.verify(from("u2")).await.unwrap_err().status(), 401);
        let sprayed = v.verify(from("u3")).await.unwrap_err();
        assert_eq!(
            (sprayed.status().as_u16(), sprayed.retry_after()),
            (429, Some(Duration::from_secs(90)))
        );
    }

    #[tokio::test]
    async fn the_address_layer_counts_401_answers() {
        // A manual clock: the exact Retry-After below must not depend on the test's speed.
        let clock = ManualClock::at_unix(1_700_000_000);
        let throttle = Throttle::with_store(store(&clock)).per_address(2, Duration::from_secs(60));
        let svc = ServiceBuilder::new()
            .layer(throttle.address_layer().only_paths(["/", "/login"]))
            .service(tower::service_fn(|req: Request<()>| async move {
                let ok = req.headers().contains_key("x-right");
                let mut res = Response::new(Bytes::new());
                if !ok {
                    *res.status_mut() = StatusCode::UNAUTHORIZED;
                }
                Ok::<_, Infallible>(res)
            }));
        let right = || header("x-right", "1", "192.0.2.3:1");
        let wrong = || header("x-wrong", "1", "192.0.2.3:1");
        for _ in 0..5 {
            assert_eq!(
                status(&svc, right()).await.0,
                200,
                "successes are given back"
            );
        }
        assert_eq!(status(&svc, wrong()).await.0, 401);
        assert_eq!(status(&svc, wrong()).await.0, 401);
        let (code, retry, _) = status(&svc, right()).await;
        assert_eq!((code, retry.as_deref()), (429, Some("60")));
        assert_eq!(
            status(&svc, header("x-right", "1", "192.0.2.4:1")).await.0,
            200
        );
        // Other paths are not throttled at all.
        let mut token_route = header("x-right", "1", "192.0.2.3:1");
        *token_route.uri_mut() = "/check".parse().unwrap();
        assert_eq!(status(&svc, token_route).await.0, 200);
    }

    #[tokio::test]
    async fn a_full_table_refuses_new_keys_and_never_shortens_a_lock() {
        let clock = ManualClock::at_unix(1_700_000_000);
        // Two keys per shard.
        let m = MemoryAttempts::with_capacity(128).with_clock(clock.clone());
        let limit = |max, secs| Limit {
            max_failures: max,
            window: Duration::from_secs(secs),
        };
        let reserve = |k: &str, l: Limit| {
            let keys = vec![(k.to_owned(), l)];
            let m = m.clone();
            async move { m.reserve(&keys).await }
        };
        assert_eq!(
            reserve("alice", limit(1, 600)).await.unwrap(),
            Reservation::Granted
        );
        let alice_locked = Reservation::Locked {
            resets_in: Duration::from_secs(600),
        };
        assert_eq!(reserve("alice", limit(1, 600)).await.unwrap(), alice_locked);
        // Junk until shards are full: then new keys are refused (503), never evicting.
        let mut refused = Vec::new();
        for i in 0..10_000 {
            let key = format!("junk{i}");
            if reserve(&key, limit(5, 60)).await.is_err() {
                refused.push(key);
            }
        }
        assert!(!refused.is_empty(), "a bounded table refuses once full");
        let n: usize = m.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(n <= 128, "{n} keys in a table of 128");
        assert_eq!(reserve("alice", limit(1, 600)).await.unwrap(), alice_locked);
        // Ended windows make room again: refused keys now fit.
        clock.advance(Duration::from_secs(61));
        for key in refused.iter().take(64) {
            reserve(key, limit(5, 60)).await.unwrap();
            m.clear(key).await.unwrap();
        }
        assert_eq!(m.failures("alice").await.unwrap().map(|f| f.count), Some(1));
        // Release gives one back; the last one removes the key.
        reserve("bob", limit(5, 60)).await.unwrap();
        reserve("bob", limit(5, 60)).await.unwrap();
        m.release("bob").await.unwrap();
        assert_eq!(m.failures("bob").await.unwrap().map(|f| f.count), Some(1));
        m.release("bob").await.unwrap();
        assert!(m.failures("bob").await.unwrap().is_none());
        // Two keys are reserved together or not at all.
        let both = vec![
            ("carol".to_owned(), limit(5, 60)),
            ("alice".to_owned(), limit(1, 600)),
        ];
        assert!(matches!(
            m.reserve(&both).await.unwrap(),
            Reservation::Locked { .. }
        ));
        assert!(m.failures("carol").await.unwrap().is_none());
        m.clear("alice").await.unwrap();
        assert!(m.failures("alice").await.unwrap().is_none());
    }
}
