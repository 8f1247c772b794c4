//! [`RemoteJwks`]: a key set published at a URL (a JWKS endpoint), cached and refreshed.
//!
//! - Cached for the response's `Cache-Control: max-age` (less `Age`), clamped between
//!   [`RemoteJwksConfig::with_min_ttl`] and [`RemoteJwksConfig::with_max_ttl`].
//! - Refreshed in the background (a spawned task) once 80% of that time has passed, so
//!   requests keep using the current keys meanwhile.
//! - A token whose `kid` is unknown triggers one refresh, at most once per
//!   [`RemoteJwksConfig::with_min_refresh_interval`]; otherwise it is simply invalid.
//! - Every fetch is single-flight (concurrent callers share it), time-limited, and runs with
//!   no lock held.
//! - A failed fetch opens a circuit: no fetch goes out until a back-off has passed
//!   ([`RemoteJwksConfig::with_failure_backoff`], doubling after each failed probe up to
//!   [`RemoteJwksConfig::with_max_failure_backoff`]); meanwhile requests that need a fetch
//!   answer 503 at once, and then exactly one probe is sent.
//! - When refreshes fail, the last good keys stay in use for
//!   [`RemoteJwksConfig::with_max_stale`] past their expiry; after that, and when no key was
//!   ever had, verification fails closed with 503 (`unavailable`).
//!
//! ```
//! use bytes::Bytes;
//! use tower_authn_jwt::{FetchError, JwtVerifier, RemoteJwks, Validation};
//!
//! // In production: HyperFetcher::new() (plain HTTP) or HyperFetcher::with_connector(tls).
//! let fixture = |_request: http::Request<Bytes>| async {
//!     let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",
//!         "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//!     let mut response = http::Response::new(Bytes::from(jwks));
//!     response.headers_mut().insert("cache-control", "max-age=3600".parse().unwrap());
//!     Ok::<_, FetchError>(response)
//! };
//! let jwks = RemoteJwks::new("https://idp.example/.well-known/jwks.json", fixture)?;
//! let verifier = JwtVerifier::with_keys(jwks.clone())
//!     .with_validation(Validation::new().with_issuers(["https://idp.example"]).with_audiences(["api"]));
//! // HeaderTokenLayer::bearer(verifier)
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! rt.block_on(async {
//!     let keys = jwks.prefetch().await.unwrap(); // optional warm-up at startup
//!     assert!(keys.contains_kid("k1"));
//! });
//! assert_eq!(jwks.fetch_count(), 1);
//! # let _ = verifier;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use http::header::{ACCEPT, AGE, CACHE_CONTROL};
use http::{HeaderMap, StatusCode, Uri};
use tower_authn_core::clock::{Clock, SharedClock, SystemClock};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{AuthError, Principal, Verifier};

use crate::circuit::{Admit, Breaker, CircuitConfig};
use crate::compact::{Compact, Failure};
use crate::fetch::{FetchError, HttpFetcher, fetch_with_timeout};
use crate::key::{KeyError, KeySet};
use crate::verify::Inner as VerifierInner;
use crate::verify::{JwtVerifier, VerifiedJwt, verify_compact, verify_compact_with_header};

/// Why a request that needs a fetch is refused while the source is known down.
const CIRCUIT_OPEN: &str = "jwks: source down (circuit open)";

/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// Timing of a [`RemoteJwks`].
#[derive(Clone, Debug)]
pub struct RemoteJwksConfig {
    timeout: Duration,
    default_ttl: Duration,
    min_ttl: Duration,
    max_ttl: Duration,
    min_refresh_interval: Duration,
    failure_backoff: Duration,
    max_failure_backoff: Duration,
    max_stale: Duration,
}

impl Default for RemoteJwksConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            min_refresh_interval: Duration::from_secs(30),
            failure_backoff: Duration::from_secs(5),
            max_failure_backoff: Duration::from_secs(300),
            max_stale: Duration::from_secs(6 * 3600),
        }
    }
}

impl RemoteJwksConfig {
    /// Defaults: 5 s timeout; 10 min cache without `max-age`; `max-age` clamped to
    /// 1 min ..= 24 h; unknown-`kid` refreshes at most every 30 s; after a failed fetch 5 s
    /// before the next, doubling after each failed retry up to 5 min; last good keys kept
    /// 6 h past expiry during an outage.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time limit of one fetch.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long keys are cached when the response has no `max-age`.
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// The shortest cache time, whatever the response says (`no-cache` included).
    pub fn with_min_ttl(mut self, ttl: Duration) -> Self {
        self.min_ttl = ttl;
        self
    }

    /// The longest cache time, whatever the response says.
    pub fn with_max_ttl(mut self, ttl: Duration) -> Self {
        self.max_ttl = ttl;
        self
    }

    /// The least time between two fetches caused by unknown `kid`s.
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// After a failed fetch, how long before another is tried (the first back-off of the
    /// circuit; it doubles after each failed retry).
    pub fn with_failure_backoff(mut self, backoff: Duration) -> Self {
        self.failure_backoff = backoff;
        self
    }

    /// The longest back-off between retries while the source keeps failing.
    pub fn with_max_failure_backoff(mut self, backoff: Duration) -> Self {
        self.max_failure_backoff = backoff;
        self
    }

    fn circuit(&self) -> CircuitConfig {
        CircuitConfig::new()
            .with_initial_backoff(self.failure_backoff)
            .with_max_backoff(self.max_failure_backoff)
    }

    /// How long past their expiry the last good keys stay in use while fetches fail.
    pub fn with_max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    fn ttl(&self, headers: &HeaderMap) -> Duration {
        let ttl = max_age(headers).unwrap_or(self.default_ttl);
        ttl.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl))
    }
}

/// `max-age` less `Age`; `no-store` / `no-cache` count as zero. `None` when absent.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age") {
                if let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok()) {
                    found = Some(secs);
                }
            }
        }
    }
    let age = headers
        .get(AGE)
        .and_then(|a| a.to_str().ok())
        .and_then(|a| a.trim().parse::<u64>().ok())
        .unwrap_or(0);
    found.map(|secs| Duration::from_secs(secs.saturating_sub(age)))
}

/// Why a fetch gave no keys (cloned to every caller that shared it).
#[derive(Clone, Debug)]
struct FetchFailure(&'static str);

type SharedFetch = Shared<BoxFuture<'static, Result<KeySet, FetchFailure>>>;

struct Cached {
    keys: KeySet,
    refresh_at: SystemTime,
    drop_at: SystemTime,
    ttl: Duration,
}

struct State {
    cached: Option<Cached>,
    last_attempt: Option<SystemTime>,
    breaker: Breaker,
    in_flight: Option<SharedFetch>,
}

impl State {
    fn new(config: &RemoteJwksConfig) -> Self {
        Self {
            cached: None,
            last_attempt: None,
            breaker: Breaker::new(config.circuit()),
            in_flight: None,
        }
    }
}

struct Inner {
    uri: Uri,
    fetcher: Arc<dyn HttpFetcher>,
    config: RemoteJwksConfig,
    clock: SharedClock,
    state: Mutex<State>,
    fetches: AtomicU64,
}

/// A JWKS fetched from a URL, cached and refreshed (see the module docs).
///
/// Cheap to clone: clones share the cache.
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("uri", &self.inner.uri)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn elapsed(since: Option<SystemTime>, now: SystemTime, window: Duration) -> bool {
    since.is_none_or(|t| now.duration_since(t).map_or(true, |d| d >= window))
}

impl RemoteJwks {
    /// A key set at `uri`, fetched through `fetcher`, with default timing.
    ///
    /// # Errors
    ///
    /// `uri` is not an absolute URI.
    pub fn new(uri: &str, fetcher: impl HttpFetcher) -> Result<Self, KeyError> {
        Self::with_config(uri, fetcher, RemoteJwksConfig::default())
    }

    /// A key set at `uri` with explicit timing.
    ///
    /// # Errors
    ///
    /// `uri` is not an absolute URI.
    pub fn with_config(
        uri: &str,
        fetcher: impl HttpFetcher,
        config: RemoteJwksConfig,
    ) -> Result<Self, KeyError> {
        let uri: Uri = uri
            .parse()
            .map_err(|_| KeyError::new("JWKS URI does not parse"))?;
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(KeyError::new("JWKS URI is not absolute"));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                uri,
                fetcher: Arc::new(fetcher),
                clock: Arc::new(SystemClock),
                state: Mutex::new(State::new(&config)),
                config,
                fetches: AtomicU64::new(0),
            }),
        })
    }

    /// Replaces the clock that cache times are measured with (tests). Call before first use.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        let inner = Inner {
            uri: self.inner.uri.clone(),
            fetcher: Arc::clone(&self.inner.fetcher),
            config: self.inner.config.clone(),
            clock: Arc::new(clock),
            state: Mutex::new(State::new(&self.inner.config)),
            fetches: AtomicU64::new(0),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Whether the source is known down: the last fetch failed, and requests that need a
    /// fetch answer 503 until a probe succeeds (for health checks, metrics and tests).
    pub fn is_source_down(&self) -> bool {
        self.inner.lock().breaker.is_open()
    }

    /// How many fetches were started (for metrics and tests).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Fetches the keys now (a startup warm-up), sharing a fetch already under way.
    ///
    /// # Errors
    ///
    /// [`AuthError::unavailable`] when no usable key set could be fetched.
    pub async fn prefetch(&self) -> Result<KeySet, AuthError> {
        let fetch = {
            let mut state = self.inner.lock();
            self.admit(&mut state)
                .ok_or_else(|| AuthError::unavailable(CIRCUIT_OPEN))?
        };
        fetch.await.map_err(|f| AuthError::unavailable(f.0))
    }

    /// The keys to verify with now: cached ones, or a fetch when there are none.
    ///
    /// # Errors
    ///
    /// [`AuthError::unavailable`] when no key can be had.
    pub async fn keys(&self) -> Result<KeySet, AuthError> {
        Ok(self.current().await?)
    }

    async fn current(&self) -> Result<KeySet, Failure> {
        let fetch = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            let usable = state
                .cached
                .as_ref()
                .filter(|c| now < c.drop_at)
                .map(|c| c.keys.clone());
            if let Some(keys) = usable {
                let due = state.cached.as_ref().is_some_and(|c| now >= c.refresh_at);
                if due && state.in_flight.is_none() {
                    // A background refresh (started and driven by `admit`), if the circuit lets one out.
                    let _ = self.admit(&mut state);
                }
                return Ok(keys);
            }
            state.cached = None;
            match &state.in_flight {
                // While the source is known down, only the probe waits for it.
                Some(_) if state.breaker.is_open() => {
                    return Err(Failure::Unavailable(CIRCUIT_OPEN));
                }
                Some(fetch) => fetch.clone(),
                None => self
                    .admit(&mut state)
                    .ok_or(Failure::Unavailable(CIRCUIT_OPEN))?,
            }
        };
        fetch.await.map_err(|f| Failure::Unavailable(f.0))
    }

    /// A refresh for a token whose `kid` is unknown: joins a fetch under way, else starts
    /// one unless the last started less than `min_refresh_interval` ago or the circuit is
    /// open. `None`: no refresh.
    async fn refresh_for_unknown_kid(&self) -> Option<KeySet> {
        let fetch = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            if let Some(fetch) = &state.in_flight {
                fetch.clone()
            } else if elapsed(
                state.last_attempt,
                now,
                self.inner.config.min_refresh_interval,
            ) {
                self.admit(&mut state)?
            } else {
                return None;
            }
        };
        fetch.await.ok()
    }

    /// Starts a fetch if the circuit lets one out now (or returns the one under way).
    fn admit(&self, state: &mut MutexGuard<'_, State>) -> Option<SharedFetch> {
        if let Some(fetch) = &state.in_flight {
            return Some(fetch.clone());
        }
        match state.breaker.admit(self.inner.clock.now()) {
            Admit::Refuse => None,
            admit => Some(self.start(state, admit)),
        }
    }

    /// Starts a fetch admitted as `admit`. The fetch updates the cache and the circuit
    /// itself, and is spawned, so it completes even if every caller gives up; it holds only
    /// a weak reference.
    fn start(&self, state: &mut MutexGuard<'_, State>, admit: Admit) -> SharedFetch {
        state.last_attempt = Some(self.inner.clock.now());
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let fetch = async move {
            let Some(inner) = weak.upgrade() else {
                return Err(FetchFailure("jwks: source dropped"));
            };
            let result = inner.fetch().await;
            let now = inner.clock.now();
            let mut state = inner.lock();
            state.in_flight = None;
            match result {
                Ok((keys, ttl)) => {
                    let refresh_at = now.checked_add(ttl.mul_f64(0.8)).unwrap_or(now);
                    let expires_at = now.checked_add(ttl).unwrap_or(now);
                    let drop_at = expires_at
                        .checked_add(inner.config.max_stale)
                        .unwrap_or(expires_at);
                    state.cached = Some(Cached {
                        keys: keys.clone(),
                        refresh_at,
                        drop_at,
                        ttl,
                    });
                    state.breaker.success();
                    #[cfg(feature = "metrics")]
                    metrics::counter!(tower_authn_core::metrics::JWKS_REFRESHES_TOTAL).increment(1);
                    Ok(keys)
                }
                Err(failure) => {
                    state.breaker.failure(admit, now);
                    #[cfg(feature = "metrics")]
                    metrics::counter!(tower_authn_core::metrics::JWKS_REFRESH_FAILURES_TOTAL)
                        .increment(1);
                    tracing::warn!(
                        reason = failure.0,
                        retry_in_ms = state
                            .breaker
                            .retry_in(now)
                            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                        "JWKS fetch failed; keeping the last good keys, not fetching again until the back-off ends"
                    );
                    Err(failure)
                }
            }
        }
        .boxed()
        .shared();
        state.in_flight = Some(fetch.clone());
        spawn(fetch.clone());
        fetch
    }

    /// Spawns a task that refreshes the keys every time 80% of their cache time has passed,
    /// so that they are fresh even when no request comes. It ends when every clone of this
    /// `RemoteJwks` is dropped.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn_refresher(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let wait = {
                    let Some(inner) = weak.upgrade() else { return };
                    let jwks = RemoteJwks { inner };
                    let fetch = {
                        let mut state = jwks.inner.lock();
                        jwks.admit(&mut state)
                    };
                    if let Some(fetch) = fetch {
                        let _ = fetch.await;
                    }
                    let state = jwks.inner.lock();
                    let now = jwks.inner.clock.now();
                    match (&state.cached, state.breaker.retry_in(now)) {
                        (_, Some(retry)) => retry,
                        (Some(c), None) => c.ttl.mul_f64(0.8),
                        (None, None) => jwks.inner.config.failure_backoff,
                    }
                };
                tokio::time::sleep(wait.max(Duration::from_secs(1))).await;
            }
        })
    }
}

/// Drives a background fetch when a runtime is at hand (else the next caller will).
fn spawn(fetch: SharedFetch) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            let _ = fetch.await;
        });
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave this state half-written: every update is one assignment.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn fetch(&self) -> Result<(KeySet, Duration), FetchFailure> {
        let request = http::Request::get(self.uri.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .body(Bytes::new())
            .map_err(|_| FetchFailure("jwks: request not buildable"))?;
        let response = fetch_with_timeout(&*self.fetcher, request, self.config.timeout)
            .await
            .map_err(|e: FetchError| {
                if e.is_timeout() {
                    FetchFailure("jwks: fetch timed out")
                } else {
                    FetchFailure("jwks: fetch failed")
                }
            })?;
        if response.status() != StatusCode::OK {
            return Err(FetchFailure("jwks: status not 200"));
        }
        if response.body().len() > MAX_JWKS_BYTES {
            return Err(FetchFailure("jwks: document too large"));
        }
        let keys = crate::jwk::parse_jwks(response.body(), false)
            .map_err(|_| FetchFailure("jwks: not a JWKS document"))?;
        if keys.is_empty() {
            return Err(FetchFailure("jwks: no usable key"));
        }
        Ok((keys, self.config.ttl(response.headers())))
    }
}

impl JwtVerifier<RemoteJwks> {
    /// Verifies `token` against the remote keys (fetching them if needed) and returns its
    /// header and claims. A malformed token is refused before any fetch.
    ///
    /// # Errors
    ///
    /// [`AuthError::expired`], [`AuthError::invalid`], or [`AuthError::unavailable`] when no
    /// key can be had.
    pub async fn verify_token(&self, token: &str) -> Result<VerifiedJwt, AuthError> {
        self.verify_with(token, verify_compact_with_header).await
    }

    /// Verifies `token` and maps it to a [`Principal`].
    ///
    /// # Errors
    ///
    /// See [`verify_token`](Self::verify_token).
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify_with(token, verify_compact).await
    }

    /// Parses, fetches the keys (refreshing once for an unknown `kid`) and runs `verify`.
    async fn verify_with<T>(
        &self,
        token: &str,
        verify: fn(Compact<'_>, &KeySet, &VerifierInner<RemoteJwks>) -> Result<T, Failure>,
    ) -> Result<T, AuthError> {
        let inner = self.inner();
        let compact = inner.parse(token)?;
        let keys = inner.keys.current().await?;
        match verify(compact, &keys, inner) {
            Err(Failure::UnknownKid) => {
                let Some(keys) = inner.keys.refresh_for_unknown_kid().await else {
                    return Err(Failure::UnknownKid.into());
                };
                Ok(verify(inner.parse(token)?, &keys, inner)?)
            }
            other => Ok(other?),
        }
    }
}

impl Verifier<TokenCredential> for JwtVerifier<RemoteJwks> {
    type Future = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send>>;

    fn verify(&self, credential: TokenCredential) -> Self::Future {
        let verifier = self.clone();
        Box::pin(async move {
            let principal = verifier.authenticate(credential.expose()).await?;
            Ok(principal.with_location(credential.location))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn cache_control() {
        assert_eq!(
            max_age(&headers(&[(
                "cache-control",
                "public, max-age=19204, must-revalidate"
            )])),
            Some(Duration::from_secs(19204))
        );
        assert_eq!(
            max_age(&headers(&[("cache-control", "Max-Age=\"60\"")])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            max_age(&headers(&[
                ("cache-control", "max-age=600"),
                ("age", "100")
            ])),
            Some(Duration::from_secs(500))
        );
        assert_eq!(
            max_age(&headers(&[("cache-control", "no-store")])),
            Some(Duration::ZERO)
        );
        assert_eq!(max_age(&headers(&[("cache-control", "max-age=abc")])), None);
        assert_eq!(max_age(&headers(&[])), None);
        let config = RemoteJwksConfig::new();
        assert_eq!(
            config.ttl(&headers(&[("cache-control", "max-age=1")])),
            Duration::from_secs(60)
        );
        assert_eq!(
            config.ttl(&headers(&[("cache-control", "max-age=999999999")])),
            Duration::from_secs(86400)
        );
        assert_eq!(config.ttl(&headers(&[])), Duration::from_secs(600));
    }

    #[test]
    fn uri_must_be_absolute() {
        let fetcher = |_r: http::Request<Bytes>| async {
            Err::<http::Response<Bytes>, _>(FetchError::new("offline"))
        };
        assert!(RemoteJwks::new("/relative", fetcher).is_err());
        assert!(RemoteJwks::new("not a uri", fetcher).is_err());
        assert!(RemoteJwks::new("https://www.googleapis.com/oauth2/v3/certs", fetcher).is_ok());
    }
}
