//! Token introspection (RFC 7662): ask the party that issued an opaque token whether it is
//! active, cache the answer briefly, and map it to a [`Principal`].
//!
//! [`IntrospectionVerifier`] works with any [`Introspect`]: [`Rfc7662Introspector`] for a
//! standard endpoint, [`FacebookDebugToken`](crate::facebook::FacebookDebugToken) for
//! Facebook's Graph API, or your own. Answers are cached by the SHA-256 of the token (never
//! the token itself) in a bounded map: active ones for a short TTL (never past the token's
//! `exp`), inactive ones for a shorter one; concurrent checks of one token share one call.
//! [`IntrospectionVerifier::invalidate`] drops a revoked token at once.
//!
//! When the introspector cannot answer (`unavailable`), a circuit opens
//! ([`CircuitConfig`]): cache misses answer 503 at once, without a call, until a back-off
//! (1 s, doubling up to 60 s by default) has passed; then one call is let through as a probe,
//! and its answer closes the circuit or doubles the back-off. Cached answers are served
//! throughout.
//!
//! ```
//! use serde_json::json;
//! use tower_authn_core::AuthError;
//! use tower_authn_jwt::introspection::{Introspection, IntrospectionVerifier, IntrospectFuture};
//!
//! let introspect = |token: String| -> IntrospectFuture {
//!     Box::pin(async move {
//!         Ok::<_, AuthError>(if token == "good" {
//!             Introspection::active(json!({"sub": "alice", "scope": "read"}).as_object().unwrap().clone())
//!         } else {
//!             Introspection::inactive()
//!         })
//!     })
//! };
//! let verifier = IntrospectionVerifier::new(introspect);
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! # rt.block_on(async {
//! let principal = verifier.authenticate("good").await.unwrap();
//! assert_eq!(principal.id, "alice");
//! assert!(verifier.authenticate("bad").await.is_err());
//! # });
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{StatusCode, Uri};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{AuthError, Principal, Verifier};

use crate::circuit::{Admit, Breaker, CircuitConfig};
use crate::compact::parse_object;
use crate::fetch::{HttpFetcher, fetch_with_timeout};
use crate::key::KeyError;
use crate::mapping::ClaimsMapping;
use crate::validation::Validation;

/// The future an [`Introspect`] returns.
pub type IntrospectFuture = Pin<Box<dyn Future<Output = Result<Introspection, AuthError>> + Send>>;

/// Asks whether a token is active.
///
/// Answer `Ok(Introspection::inactive())` when the issuer says no, and
/// `Err(AuthError::unavailable(..))` when it could not be asked.
pub trait Introspect: Send + Sync + 'static {
    /// Introspects `token`.
    fn introspect(&self, token: String) -> IntrospectFuture;
}

impl<F> Introspect for F
where
    F: Fn(String) -> IntrospectFuture + Send + Sync + 'static,
{
    fn introspect(&self, token: String) -> IntrospectFuture {
        self(token)
    }
}

/// An introspection answer: active or not, and the claims (RFC 7662 §2.2: `sub`, `exp`,
/// `scope`, `client_id`, `username`, ...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Introspection {
    active: bool,
    claims: Map<String, Value>,
}

impl Introspection {
    /// An active token with `claims`.
    pub fn active(claims: Map<String, Value>) -> Self {
        Self {
            active: true,
            claims,
        }
    }

    /// An inactive (unknown, expired, revoked) token.
    pub fn inactive() -> Self {
        Self::default()
    }

    /// Reads an RFC 7662 response body: active only when `"active": true`.
    ///
    /// # Errors
    ///
    /// The body is not a JSON object.
    pub fn from_rfc7662(body: &[u8]) -> Result<Self, AuthError> {
        let claims = parse_object(body)
            .ok_or_else(|| AuthError::unavailable("introspection: not a JSON object"))?;
        let active = claims.get("active") == Some(&Value::Bool(true));
        Ok(if active {
            Self::active(claims)
        } else {
            Self::inactive()
        })
    }

    /// Whether the token is active.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

type Digest32 = [u8; 32];
type SharedIntrospection = Shared<BoxFuture<'static, Result<Introspection, AuthError>>>;

/// A bounded TTL map of introspection answers, keyed by token digest, and the circuit of
/// the source they come from.
#[derive(Default)]
struct Cache {
    entries: HashMap<Digest32, (Introspection, SystemTime)>,
    in_flight: HashMap<Digest32, SharedIntrospection>,
    breaker: Breaker,
}

impl Cache {
    fn new(circuit: CircuitConfig) -> Self {
        Self {
            breaker: Breaker::new(circuit),
            ..Self::default()
        }
    }

    fn get(&mut self, key: &Digest32, now: SystemTime) -> Option<Introspection> {
        match self.entries.get(key) {
            Some((answer, until)) if now < *until => Some(answer.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn insert(
        &mut self,
        key: Digest32,
        answer: Introspection,
        until: SystemTime,
        now: SystemTime,
        capacity: usize,
    ) {
        if capacity == 0 || until <= now {
            return;
        }
        if self.entries.len() >= capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (_, t)| now < *t);
            if self.entries.len() >= capacity {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(key, (answer, until));
    }
}

struct Inner<I> {
    introspector: Arc<I>,
    mapping: ClaimsMapping,
    validation: Validation,
    clock: SharedClock,
    ttl: Duration,
    negative_ttl: Duration,
    capacity: usize,
    cache: Mutex<Cache>,
}

impl<I> Inner<I> {
    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Verifies opaque tokens by introspection, with a small cache (see the module docs).
///
/// Defaults: positive answers cached 60 s, negative 10 s, at most 10 000 entries; claims
/// checked with `Validation::new().allow_missing_exp().accept_any_audience()` (a present
/// `exp` still counts); mapping `sub` → id, scheme `introspection`.
pub struct IntrospectionVerifier<I> {
    inner: Arc<Inner<I>>,
}

impl<I> Clone for IntrospectionVerifier<I> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<I> fmt::Debug for IntrospectionVerifier<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("mapping", &self.inner.mapping)
            .field("validation", &self.inner.validation)
            .field("ttl", &self.inner.ttl)
            .field("negative_ttl", &self.inner.negative_ttl)
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl<I: Introspect> IntrospectionVerifier<I> {
    /// A verifier asking `introspector`, with the defaults.
    pub fn new(introspector: I) -> Self {
        Self {
            inner: Arc::new(Inner {
                introspector: Arc::new(introspector),
                mapping: ClaimsMapping::new().with_scheme("introspection"),
                validation: Validation::new().allow_missing_exp().accept_any_audience(),
                clock: Arc::new(SystemClock),
                ttl: Duration::from_secs(60),
                negative_ttl: Duration::from_secs(10),
                capacity: 10_000,
                cache: Mutex::new(Cache::default()),
            }),
        }
    }

    /// A reconfigured verifier (with an empty cache; clones made before keep the old one).
    fn update(self, f: impl FnOnce(&mut Inner<I>)) -> Self {
        let old = &self.inner;
        let mut inner = Inner {
            introspector: Arc::clone(&old.introspector),
            mapping: old.mapping.clone(),
            validation: old.validation.clone(),
            clock: Arc::clone(&old.clock),
            ttl: old.ttl,
            negative_ttl: old.negative_ttl,
            capacity: old.capacity,
            cache: Mutex::new(Cache::new(old.lock().breaker.config().clone())),
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Replaces the claims mapping.
    #[must_use]
    pub fn with_mapping(self, mapping: ClaimsMapping) -> Self {
        self.update(|i| i.mapping = mapping)
    }

    /// Replaces the claim rules (time claims, `iss`, `aud`).
    #[must_use]
    pub fn with_validation(self, validation: Validation) -> Self {
        self.update(|i| i.validation = validation)
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        self.update(|i| i.clock = Arc::new(clock))
    }

    /// How long answers are cached: `ttl` for active tokens (never past their `exp`),
    /// `negative_ttl` for inactive ones; zero turns that caching off.
    #[must_use]
    pub fn with_cache_ttl(self, ttl: Duration, negative_ttl: Duration) -> Self {
        self.update(|i| {
            i.ttl = ttl;
            i.negative_ttl = negative_ttl;
        })
    }

    /// When the introspector counts as down and how long before it is probed again
    /// (default: after one failure, 1 s doubling up to 60 s).
    #[must_use]
    pub fn with_circuit(self, circuit: CircuitConfig) -> Self {
        self.update(|i| i.cache = Mutex::new(Cache::new(circuit)))
    }

    /// The most answers kept (0 turns the cache off).
    #[must_use]
    pub fn with_cache_capacity(self, capacity: usize) -> Self {
        self.update(|i| i.capacity = capacity)
    }

    /// Whether the introspector is known down: its last call failed, and cache misses
    /// answer 503 until a probe succeeds.
    pub fn is_source_down(&self) -> bool {
        self.inner.lock().breaker.is_open()
    }

    /// The introspector.
    pub fn introspector(&self) -> &I {
        &self.inner.introspector
    }

    /// Drops the cached answer for `token` (call it when a token is revoked).
    pub fn invalidate(&self, token: &str) {
        self.inner.lock().entries.remove(&digest(token));
    }

    /// Drops every cached answer.
    pub fn clear(&self) {
        self.inner.lock().entries.clear();
    }

    /// The introspection answer for `token`: cached, joined, or asked.
    ///
    /// # Errors
    ///
    /// [`AuthError::unavailable`] when the introspector could not answer.
    pub async fn introspect(&self, token: &str) -> Result<Introspection, AuthError> {
        let key = digest(token);
        let call = {
            let mut cache = self.inner.lock();
            if let Some(answer) = cache.get(&key, self.inner.clock.now()) {
                return Ok(answer);
            }
            match cache.in_flight.get(&key) {
                Some(call) => call.clone(),
                None => {
                    let admit = cache.breaker.admit(self.inner.clock.now());
                    if admit == Admit::Refuse {
                        return Err(AuthError::unavailable(
                            "introspection: source down (circuit open)",
                        ));
                    }
                    let call = self.start(key, token.to_owned(), admit);
                    cache.in_flight.insert(key, call.clone());
                    // Driven to the end even if every caller gives up, so a probe is never
                    // left out forever and the answer still lands in the cache.
                    if let Ok(handle) = tokio::runtime::Handle::try_current() {
                        let call = call.clone();
                        handle.spawn(async move {
                            let _ = call.await;
                        });
                    }
                    call
                }
            }
        };
        call.await
    }

    fn start(&self, key: Digest32, token: String, admit: Admit) -> SharedIntrospection {
        let weak: Weak<Inner<I>> = Arc::downgrade(&self.inner);
        async move {
            // Asked outside the cache lock, and without keeping the verifier alive meanwhile.
            let call = match weak.upgrade() {
                Some(inner) => inner.introspector.introspect(token),
                None => return Err(AuthError::unavailable("introspection: verifier dropped")),
            };
            let result = call.await;
            if let Some(inner) = weak.upgrade() {
                let now = inner.clock.now();
                let mut cache = inner.lock();
                cache.in_flight.remove(&key);
                match &result {
                    Ok(_) => cache.breaker.success(),
                    Err(e) if e.kind() == tower_authn_core::ErrorKind::Unavailable => {
                        if !cache.breaker.is_open() || admit == Admit::Probe {
                            tracing::warn!(
                                reason = e.detail(),
                                "introspection source failed; answering 503 until it is probed again"
                            );
                        }
                        cache.breaker.failure(admit, now);
                    }
                    // Refused before the source was asked (a token unusable in a URL).
                    Err(_) => cache.breaker.release(admit),
                }
                if let Ok(answer) = &result {
                    let until = if answer.is_active() {
                        let exp =
                            answer
                                .claims()
                                .get("exp")
                                .and_then(Value::as_u64)
                                .and_then(|s| {
                                    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s))
                                });
                        let ttl = now.checked_add(inner.ttl).unwrap_or(now);
                        exp.map_or(ttl, |exp| exp.min(ttl))
                    } else {
                        now.checked_add(inner.negative_ttl).unwrap_or(now)
                    };
                    cache.insert(key, answer.clone(), until, now, inner.capacity);
                }
            }
            result
        }
        .boxed()
        .shared()
    }

    /// Introspects `token`, checks the claims and maps them to a [`Principal`].
    ///
    /// # Errors
    ///
    /// [`AuthError::invalid`] for an inactive token or failed rule, [`AuthError::expired`]
    /// past `exp`, [`AuthError::unavailable`] when the introspector could not answer.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let answer = self.introspect(token).await?;
        if !answer.is_active() {
            return Err(AuthError::invalid("introspection: token not active"));
        }
        let now = i64::try_from(unix_secs(self.inner.clock.now())).unwrap_or(i64::MAX);
        self.inner.validation.check_claims(answer.claims(), now)?;
        self.inner.mapping.principal(answer.claims())
    }
}

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

impl<I: Introspect> Verifier<TokenCredential> for IntrospectionVerifier<I> {
    type Future = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send>>;

    fn verify(&self, credential: TokenCredential) -> Self::Future {
        let verifier = self.clone();
        Box::pin(async move {
            let principal = verifier.authenticate(credential.expose()).await?;
            Ok(principal.with_location(credential.location))
        })
    }
}

/// A standard RFC 7662 endpoint: `POST` the token as a form, authenticated with HTTP Basic
/// client credentials.
pub struct Rfc7662Introspector {
    endpoint: Uri,
    client_id: String,
    client_secret: SecretString,
    fetcher: Arc<dyn HttpFetcher>,
    timeout: Duration,
}

impl fmt::Debug for Rfc7662Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rfc7662Introspector")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Rfc7662Introspector {
    /// An introspector for `endpoint`, authenticating as `client_id` / `client_secret`;
    /// 5 s timeout.
    ///
    /// # Errors
    ///
    /// `endpoint` is not an absolute URI.
    pub fn new(
        endpoint: &str,
        client_id: impl Into<String>,
        client_secret: SecretString,
        fetcher: impl HttpFetcher,
    ) -> Result<Self, KeyError> {
        let endpoint: Uri = endpoint
            .parse()
            .map_err(|_| KeyError::new("endpoint does not parse"))?;
        if endpoint.scheme().is_none() || endpoint.authority().is_none() {
            return Err(KeyError::new("endpoint is not absolute"));
        }
        Ok(Self {
            endpoint,
            client_id: client_id.into(),
            client_secret,
            fetcher: Arc::new(fetcher),
            timeout: Duration::from_secs(5),
        })
    }

    /// The time limit of one call.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn request(&self, token: &str) -> Result<http::Request<Bytes>, AuthError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        // RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic.
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(&self.client_id),
            enc(self.client_secret.expose_secret())
        ));
        let mut auth = http::HeaderValue::try_from(format!("Basic {basic}"))
            .map_err(|_| AuthError::unavailable("introspection: bad client credentials"))?;
        auth.set_sensitive(true);
        http::Request::post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, auth)
            .body(Bytes::from(body))
            .map_err(|_| AuthError::unavailable("introspection: request not buildable"))
    }
}

impl Introspect for Rfc7662Introspector {
    fn introspect(&self, token: String) -> IntrospectFuture {
        let request = self.request(&token);
        let fetcher = Arc::clone(&self.fetcher);
        let timeout = self.timeout;
        Box::pin(async move {
            let response = fetch_with_timeout(&*fetcher, request?, timeout)
                .await
                .map_err(|_| AuthError::unavailable("introspection: endpoint unreachable"))?;
            if response.status() != StatusCode::OK {
                return Err(AuthError::unavailable("introspection: status not 200"));
            }
            Introspection::from_rfc7662(response.body())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower_authn_core::clock::ManualClock;

    #[test]
    fn rfc7662_body() {
        assert!(
            Introspection::from_rfc7662(br#"{"active":true,"sub":"a"}"#)
                .unwrap()
                .is_active()
        );
        assert!(
            !Introspection::from_rfc7662(br#"{"active":"true","sub":"a"}"#)
                .unwrap()
                .is_active()
        );
        assert!(
            !Introspection::from_rfc7662(br#"{"active":false}"#)
                .unwrap()
                .is_active()
        );
        assert!(!Introspection::from_rfc7662(br#"{}"#).unwrap().is_active());
        assert!(Introspection::from_rfc7662(b"[]").is_err());
    }

    #[test]
    fn cache_is_bounded() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut cache = Cache::default();
        for i in 0..10u8 {
            let until = now + Duration::from_secs(100 + u64::from(i));
            cache.insert([i; 32], Introspection::inactive(), until, now, 4);
        }
        assert_eq!(cache.entries.len(), 4);
        assert!(cache.get(&[9; 32], now).is_some());
        assert!(
            cache.get(&[0; 32], now).is_none(),
            "the soonest-expiring entries go first"
        );
        assert!(
            cache
                .get(&[9; 32], now + Duration::from_secs(200))
                .is_none(),
            "expired entries are not served"
        );
    }

    #[tokio::test]
    async fn caches_and_invalidates() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let introspect = move |_token: String| -> IntrospectFuture {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                Ok(Introspection::active(
                    serde_json::json!({"sub": "a", "exp": 2000})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                ))
            })
        };
        let clock = ManualClock::at_unix(1000);
        let v = IntrospectionVerifier::new(introspect).with_clock(clock.clone());
        assert_eq!(v.authenticate("t").await.unwrap().id, "a");
        assert_eq!(v.authenticate("t").await.unwrap().id, "a");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        v.invalidate("t");
        v.authenticate("t").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        clock.advance(Duration::from_secs(61));
        v.authenticate("t").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "the TTL ran out");
        clock.set_unix(2060); // exp + the default 60 s leeway
        assert_eq!(
            v.authenticate("t").await.unwrap_err().kind(),
            tower_authn_core::ErrorKind::Expired
        );
    }

    #[tokio::test]
    async fn concurrent_checks_share_one_call() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let introspect = move |_token: String| -> IntrospectFuture {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(Introspection::active(
                    serde_json::json!({"sub": "a"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                ))
            })
        };
        let v = IntrospectionVerifier::new(introspect);
        let all = futures_util::future::join_all((0..8).map(|_| v.authenticate("t"))).await;
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unavailable_is_not_cached_and_opens_the_circuit() {
        let calls = Arc::new(AtomicUsize::new(0));
        let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (counter, is_up) = (Arc::clone(&calls), Arc::clone(&up));
        let introspect = move |_token: String| -> IntrospectFuture {
            counter.fetch_add(1, Ordering::SeqCst);
            let up = is_up.load(Ordering::SeqCst);
            Box::pin(async move {
                if up {
                    Ok(Introspection::active(
                        serde_json::json!({"sub": "a"})
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    ))
                } else {
                    Err(AuthError::unavailable("down"))
                }
            })
        };
        let clock = ManualClock::at_unix(1000);
        let v = IntrospectionVerifier::new(introspect).with_clock(clock.clone());
        assert_eq!(v.authenticate("t").await.unwrap_err().status(), 503);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Open: every other request answers 503 at once, without a call, whatever its token.
        for i in 0..50 {
            let e = v.authenticate(&format!("t{i}")).await.unwrap_err();
            assert_eq!(e.detail(), "introspection: source down (circuit open)");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // After the back-off, one probe; it fails, and the back-off doubles (2 s).
        clock.advance(Duration::from_secs(1));
        assert_eq!(v.authenticate("t").await.unwrap_err().status(), 503);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        clock.advance(Duration::from_millis(1999));
        assert_eq!(v.authenticate("t").await.unwrap_err().status(), 503);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // The source is back: the next probe closes the circuit.
        up.store(true, Ordering::SeqCst);
        clock.advance(Duration::from_millis(1));
        assert_eq!(v.authenticate("t").await.unwrap().id, "a");
        assert_eq!(v.authenticate("u").await.unwrap().id, "a");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn rfc7662_request_shape() {
        let fetcher = |req: http::Request<Bytes>| async move {
            assert_eq!(req.method(), http::Method::POST);
            assert_eq!(req.uri(), "https://as.example/introspect");
            assert_eq!(req.headers()[AUTHORIZATION], "Basic Y2xpZW50OnMlM0FjcmV0");
            assert_eq!(req.body(), "token=abc%2B1&token_type_hint=access_token");
            Ok(http::Response::new(Bytes::from_static(
                br#"{"active":true,"sub":"u1","scope":"a b"}"#,
            )))
        };
        let i = Rfc7662Introspector::new(
            "https://as.example/introspect",
            "client",
            SecretString::from("s:cret"),
            fetcher,
        )
        .unwrap();
        assert!(!format!("{i:?}").contains("s:cret"));
        let p = IntrospectionVerifier::new(i)
            .authenticate("abc+1")
            .await
            .unwrap();
        assert_eq!(p.id, "u1");
        assert_eq!(p.scopes, ["a", "b"]);
        assert_eq!(p.scheme, "introspection");
    }
}
