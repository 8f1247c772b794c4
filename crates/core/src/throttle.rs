//! Failed-attempt throttling: too many wrong credentials for one principal, or from one
//! client address, and the next attempts answer `429 Too Many Attempts` with `Retry-After`
//! until the window ends. Off by default; one line turns it on:
//! [`AuthnLayer::throttle`]`(`[`Throttle::new()`]`)`.
//!
//! - The principal is the one the credential *claims* (a Basic user-id, see
//!   [`AttemptSubject`]), counted the same whether or not the account exists, so a 429
//!   tells nothing about accounts. Tokens claim no one: they count per address only.
//! - While locked, the credential is not even verified (a right password answers 429 too),
//!   and a success clears its principal's count (not its address's).
//! - Counts live in an [`AttemptStore`]: [`MemoryAttempts`] for one instance,
//!   `tower-authn-redis` to share them. A store that cannot answer fails closed (503).
//! - The client address comes from the request's extensions ([`Throttle::peer_addr`]);
//!   forwarded headers are not trusted. No address: per-principal counting only.
//!
//! ```
//! use std::convert::Infallible;
//! use std::net::SocketAddr;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_authn_core::throttle::Throttle;
//! use tower_authn_core::https_redirect::PeerAddr;
//! use tower_authn_core::{AuthError, BasicAuthLayer, Principal, credential::BasicCredentials};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let verify = |_: BasicCredentials| async move { Err::<Principal, _>(AuthError::invalid("wrong")) };
//! let svc = ServiceBuilder::new()
//!     .layer(BasicAuthLayer::new(verify).throttle(Throttle::new().per_principal(2, std::time::Duration::from_secs(60))))
//!     .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(Bytes::new())) });
//!
//! let attempt = || {
//!     let mut req = Request::get("/").header("authorization", "Basic bm9ib2R5Omd1ZXNz").body(()).unwrap();
//!     req.extensions_mut().insert(PeerAddr("192.0.2.7:5000".parse::<SocketAddr>().unwrap()));
//!     req
//! };
//! assert_eq!(svc.clone().oneshot(attempt()).await.unwrap().status(), 401);
//! assert_eq!(svc.clone().oneshot(attempt()).await.unwrap().status(), 401);
//! let locked = svc.oneshot(attempt()).await.unwrap();
//! assert_eq!(locked.status(), 429);
//! assert_eq!(locked.headers()["retry-after"], "60");
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, ready};
use http::request::Parts;
use sha2::{Digest, Sha256};

use crate::authn::AuthnLayer;
use crate::challenge::Challenge;
use crate::combinator::Either;
use crate::credential::{AccessPair, BasicCredentials, TokenCredential};
use crate::error::{AuthError, ErrorKind, StoreError};
use crate::https_redirect::{PeerLookup, default_peer_lookup};
use crate::principal::Principal;
use crate::scheme::{Extraction, HideCredentials, Scheme};
use crate::verifier::Verifier;

/// Failures counted against one key in its current window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    /// How many.
    pub count: u32,
    /// How long until the window ends and the count starts over.
    pub resets_in: Duration,
}

/// Where failure counts live. Keys are opaque strings made by [`Throttle`] (digests of
/// the principal, the address); a window starts at its key's first failure.
pub trait AttemptStore: Send + Sync + 'static {
    /// The failures of `key` in its current window, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer (the attempt fails closed with 503).
    fn failures<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Failures>, StoreError>>;

    /// Counts one failure of `key`, starting a window of `window` if none is running, and
    /// returns the new count.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    fn record_failure<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<Failures, StoreError>>;

    /// Forgets the failures of `key`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<T: AttemptStore + ?Sized> AttemptStore for Arc<T> {
    fn failures<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Failures>, StoreError>> {
        (**self).failures(key)
    }

    fn record_failure<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<Failures, StoreError>> {
        (**self).record_failure(key, window)
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).clear(key)
    }
}

/// Failure counts in memory, for one instance; bounded (the windows closest to their end
/// go first when it is full). Clones share the counts.
#[derive(Clone)]
pub struct MemoryAttempts {
    counts: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
    capacity: usize,
}

impl Default for MemoryAttempts {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryAttempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.counts.lock().map(|c| c.len()).unwrap_or(0);
        f.debug_struct("MemoryAttempts")
            .field("keys", &n)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryAttempts {
    /// Up to 100 000 keys.
    pub fn new() -> Self {
        Self::with_capacity(100_000)
    }

    /// Up to `capacity` keys (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            counts: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AttemptStore for MemoryAttempts {
    fn failures<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Failures>, StoreError>> {
        let now = Instant::now();
        let found = self.lock().get(key).and_then(|&(count, ends)| {
            (ends > now).then(|| Failures {
                count,
                resets_in: ends - now,
            })
        });
        ready(Ok(found)).boxed()
    }

    fn record_failure<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<Failures, StoreError>> {
        let now = Instant::now();
        let mut counts = self.lock();
        if !counts.contains_key(key) && counts.len() >= self.capacity {
            counts.retain(|_, (_, ends)| *ends > now);
            if counts.len() >= self.capacity {
                let soonest = counts
                    .iter()
                    .min_by_key(|(_, (_, ends))| *ends)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    counts.remove(&k);
                }
            }
        }
        let slot = counts.entry(key.to_owned()).or_insert((0, now + window));
        if slot.1 <= now {
            *slot = (0, now + window);
        }
        slot.0 = slot.0.saturating_add(1);
        let failures = Failures {
            count: slot.0,
            resets_in: slot.1 - now,
        };
        ready(Ok(failures)).boxed()
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.lock().remove(key);
        ready(Ok(())).boxed()
    }
}

/// The principal a credential claims, for per-principal throttling.
///
/// Implemented for the core credentials: a Basic user-id claims its user; tokens, keys and
/// pairs claim no one (`None`: they count per address only). For a custom credential,
/// `impl AttemptSubject for MyCredential {}` counts it per address.
pub trait AttemptSubject {
    /// The claimed principal, if the credential names one.
    fn attempt_subject(&self) -> Option<&str> {
        None
    }
}

impl AttemptSubject for BasicCredentials {
    fn attempt_subject(&self) -> Option<&str> {
        Some(&self.username)
    }
}

impl AttemptSubject for TokenCredential {}

impl AttemptSubject for AccessPair {}

impl<A: AttemptSubject, B: AttemptSubject> AttemptSubject for Either<A, B> {
    fn attempt_subject(&self) -> Option<&str> {
        match self {
            Self::Left(a) => a.attempt_subject(),
            Self::Right(b) => b.attempt_subject(),
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
}

/// How many failures a window allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Failures allowed; the next attempt in the window answers 429.
    pub max_failures: u32,
    /// The window, from its first failure.
    pub window: Duration,
}

/// The throttling settings. See the [module docs](self).
#[derive(Clone)]
pub struct Throttle {
    store: Arc<dyn AttemptStore>,
    per_principal: Option<Limit>,
    per_address: Option<Limit>,
    peer: PeerLookup,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("per_principal", &self.per_principal)
            .field("per_address", &self.per_address)
            .finish_non_exhaustive()
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

impl Throttle {
    /// In memory: 5 failures per principal and 30 per client address, each per 15 minutes.
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
        }
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

    /// How to find the client address in a request's extensions (default: a
    /// [`PeerAddr`](crate::https_redirect::PeerAddr) or a `SocketAddr`; axum's
    /// `ConnectInfo`: `tower_authn_axum::connect_info_peer`).
    pub fn peer_addr(mut self, lookup: PeerLookup) -> Self {
        self.peer = lookup;
        self
    }

    /// The counting keys of an attempt, with their limits.
    fn keys(&self, subject: Option<&str>, addr: Option<IpAddr>) -> Vec<(String, Limit, bool)> {
        let mut keys = Vec::with_capacity(2);
        if let (Some(limit), Some(subject)) = (self.per_principal, subject) {
            let digest = Sha256::digest(subject.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            keys.push((format!("principal:{hex}"), limit, true));
        }
        if let (Some(limit), Some(addr)) = (self.per_address, addr) {
            keys.push((format!("address:{addr}"), limit, false));
        }
        keys
    }

    async fn check(&self, keys: &[(String, Limit, bool)]) -> Result<(), AuthError> {
        let mut wait: Option<Duration> = None;
        for (key, limit, _) in keys {
            let Some(f) = self.store.failures(key).await? else {
                continue;
            };
            if f.count >= limit.max_failures {
                wait = Some(wait.map_or(f.resets_in, |w| w.max(f.resets_in)));
            }
        }
        match wait {
            // Whole seconds, rounded up: retrying at the announced time always works.
            Some(w) => Err(AuthError::too_many_attempts(Duration::from_secs(
                w.as_secs() + u64::from(w.subsec_nanos() > 0),
            ))),
            None => Ok(()),
        }
    }

    async fn record(&self, keys: &[(String, Limit, bool)], outcome: &Result<Principal, AuthError>) {
        match outcome {
            Err(e) if e.kind() == ErrorKind::InvalidCredentials => {
                for (key, limit, _) in keys {
                    if let Err(e) = self.store.record_failure(key, limit.window).await {
                        tracing::warn!(error = %e, "failed attempt not counted");
                    }
                }
            }
            Ok(_) => {
                for (key, _, principal) in keys {
                    if !*principal {
                        continue;
                    }
                    if let Err(e) = self.store.clear(key).await {
                        tracing::warn!(error = %e, "attempt count not cleared");
                    }
                }
            }
            Err(_) => {}
        }
    }
}

/// A verifier whose failed attempts are throttled per claimed principal (it never sees
/// the request, so not per address): for routes that verify credentials themselves, such
/// as login endpoints. Built by [`Throttle::verifier`].
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
        let keys = self.throttle.keys(credential.attempt_subject(), None);
        let (inner, throttle) = (self.inner.clone(), self.throttle.clone());
        async move {
            throttle.check(&keys).await?;
            let outcome = inner.verify(credential).await;
            throttle.record(&keys, &outcome).await;
            outcome
        }
        .boxed()
    }
}

impl Throttle {
    /// Throttles `verifier`'s failed attempts per claimed principal.
    pub fn verifier<V>(&self, verifier: V) -> ThrottledVerifier<V> {
        ThrottledVerifier {
            inner: verifier,
            throttle: self.clone(),
        }
    }
}

/// A credential with what throttling needs to know about its attempt.
pub struct Attempt<C> {
    credential: C,
    subject: Option<String>,
    addr: Option<IpAddr>,
}

impl<C> fmt::Debug for Attempt<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("subject", &self.subject)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// A scheme whose failed attempts are throttled; built by [`AuthnLayer::throttle`].
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

    fn extract(&self, head: &Parts) -> Extraction<Self::Credential> {
        match self.inner.extract(head) {
            Extraction::Found(credential) => Extraction::Found(Attempt {
                subject: credential.attempt_subject().map(str::to_owned),
                addr: (self.throttle.peer)(&head.extensions),
                credential,
            }),
            Extraction::Absent => Extraction::Absent,
            Extraction::Rejected(e) => Extraction::Rejected(e),
        }
    }

    fn verify(&self, attempt: Self::Credential) -> Self::Future {
        let (inner, throttle) = (self.inner.clone(), self.throttle.clone());
        async move {
            let keys = throttle.keys(attempt.subject.as_deref(), attempt.addr);
            throttle.check(&keys).await?;
            let outcome = inner.verify(attempt.credential).await;
            throttle.record(&keys, &outcome).await;
            outcome
        }
        .boxed()
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        self.inner.hide(head, mode);
    }

    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        self.inner.challenges(error, out);
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

    use bytes::Bytes;
    use http::{Request, Response};
    use tower::{ServiceBuilder, ServiceExt};

    use super::*;
    use crate::https_redirect::PeerAddr;
    use crate::{BasicAuthLayer, HeaderTokenLayer};

    fn basic(user: &str, password: &str, from: &str) -> Request<()> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut req = Request::get("/")
            .header("authorization", format!("Basic {b64}"))
            .body(())
            .unwrap();
        req.extensions_mut()
            .insert(PeerAddr(from.parse::<SocketAddr>().unwrap()));
        req
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

    fn echo()
    -> impl tower::Service<Request<()>, Response = Response<Bytes>, Error = Infallible> + Clone
    {
        tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Bytes::new()))
        })
    }

    #[tokio::test]
    async fn locks_per_principal_without_revealing_accounts() {
        let throttle = Throttle::new()
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
    }

    #[tokio::test]
    async fn locks_per_address_and_success_clears_the_principal() {
        let throttle = Throttle::new()
            .per_principal(2, Duration::from_secs(60))
            .per_address(4, Duration::from_secs(30));
        let svc = ServiceBuilder::new()
            .layer(
                BasicAuthLayer::new(users)
                    .or(HeaderTokenLayer::new("X-Token", |_: TokenCredential| {
                        ready(Err::<Principal, _>(AuthError::invalid("unknown token")))
                    }))
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
        assert_eq!(
            status(&svc, basic("alice", "x", "192.0.2.1:1")).await.0,
            401
        );
        assert_eq!(
            status(&svc, basic("alice", "right", "192.0.2.1:1")).await.0,
            200
        );
        // Tokens count per address: two more failures reach the address's limit of 4.
        for _ in 0..2 {
            let mut req = Request::get("/")
                .header("x-token", "guess")
                .body(())
                .unwrap();
            req.extensions_mut()
                .insert(PeerAddr("192.0.2.1:2".parse::<SocketAddr>().unwrap()));
            assert_eq!(status(&svc, req).await.0, 401);
        }
        let (code, retry, _) = status(&svc, basic("alice", "right", "192.0.2.1:3")).await;
        assert_eq!((code, retry.as_deref()), (429, Some("30")));
        // Another address is not locked.
        assert_eq!(
            status(&svc, basic("alice", "right", "198.51.100.9:1"))
                .await
                .0,
            200
        );
    }

    #[tokio::test]
    async fn a_store_that_cannot_answer_fails_closed() {
        struct Down;
        impl AttemptStore for Down {
            fn failures<'a>(
                &'a self,
                _: &'a str,
            ) -> BoxFuture<'a, Result<Option<Failures>, StoreError>> {
                ready(Err(StoreError::new("down"))).boxed()
            }
            fn record_failure<'a>(
                &'a self,
                _: &'a str,
                _: Duration,
            ) -> BoxFuture<'a, Result<Failures, StoreError>> {
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
    async fn a_throttled_verifier_counts_per_claimed_principal() {
        let throttle = Throttle::new().per_principal(1, Duration::from_secs(30));
        let v = throttle.verifier(users);
        let cred = |p: &str| BasicCredentials {
            username: "alice".into(),
            password: p.to_owned().into(),
        };
        assert_eq!(v.verify(cred("x")).await.unwrap_err().status(), 401);
        let locked = v.verify(cred("right")).await.unwrap_err();
        assert_eq!(
            (locked.status().as_u16(), locked.retry_after()),
            (429, Some(Duration::from_secs(30)))
        );
    }

    #[tokio::test]
    async fn memory_attempts_are_bounded_and_windowed() {
        let m = MemoryAttempts::with_capacity(2);
        m.record_failure("a", Duration::from_secs(10))
            .await
            .unwrap();
        m.record_failure("b", Duration::from_secs(20))
            .await
            .unwrap();
        let c = m
            .record_failure("c", Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(c.count, 1);
        // "a" ended soonest and went.
        assert!(m.failures("a").await.unwrap().is_none());
        assert_eq!(m.failures("b").await.unwrap().map(|f| f.count), Some(1));
        let ended = m.record_failure("z", Duration::ZERO).await.unwrap();
        assert_eq!(ended.count, 1);
        assert!(
            m.failures("z").await.unwrap().is_none(),
            "a window of zero is over"
        );
        m.clear("b").await.unwrap();
        assert!(m.failures("b").await.unwrap().is_none());
    }
}
