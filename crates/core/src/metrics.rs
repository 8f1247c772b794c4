//! The metrics tower-authn records, through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`): install any recorder (Prometheus, StatsD, ...) and they appear.
//!
//! This module is the closed list: no other name is ever recorded. Label values come from
//! a closed, server-configured set, never from a request: `scheme` is the scheme of the
//! accepted principal (set by the verifier, such as `basic`, `token`, `app-api-key`), or
//! for a refusal the credential slot the layer reads (`basic`, `bearer`,
//! `header:x-auth-token`, `query:token`, `cookie:authn_session`,
//! `subprotocol:authn.bearer`; `none` when no credential was present or looked for);
//! `outcome` is [`OUTCOME_OK`], [`OUTCOME_ANONYMOUS`], [`OUTCOME_PREFLIGHT`] or an
//! [`ErrorKind::code`](crate::ErrorKind::code) (`invalid_credentials`, ...). No label holds
//! an identity or a credential.
//!
//! With no recorder installed a recording costs a thread-local read, an atomic load and a
//! call into the no-op recorder: the layer keeps its metric keys built (no allocation per
//! request).

/// Counter, labels `scheme`, `outcome`: one per authentication decision of an
/// [`AuthnLayer`](crate::AuthnLayer).
pub const REQUESTS_TOTAL: &str = "authn_requests_total";
/// Histogram (seconds), label `scheme`: the time of the verify step, for every request that
/// reached it (accepted or refused).
pub const VERIFY_DURATION_SECONDS: &str = "authn_verify_duration_seconds";
/// Counter: verification cache lookups answered from the cache
/// (`cache::CachedVerifier`, feature `cache`).
pub const CACHE_HITS_TOTAL: &str = "authn_cache_hits_total";
/// Counter: verification cache lookups that went to the verifier.
pub const CACHE_MISSES_TOTAL: &str = "authn_cache_misses_total";
/// Gauge: password checks waiting for a worker of the bounded hashing pool.
pub const HASH_QUEUE_DEPTH: &str = "authn_hash_queue_depth";
/// Gauge: password checks running on the hashing pool's workers (at most its size).
pub const HASH_IN_USE: &str = "authn_hash_in_use";
/// Counter: password checks the hashing pool refused because it was full (answered `503`).
pub const HASH_REFUSED_TOTAL: &str = "authn_hash_refused_total";
/// Counter: store errors turned into an authentication answer (`503`).
pub const STORE_ERRORS_TOTAL: &str = "authn_store_errors_total";
/// Counter: attempts refused by the [`Throttle`](crate::Throttle) (`429`).
pub const THROTTLED_TOTAL: &str = "authn_throttled_total";
/// Counter: remote key set (JWKS) fetches that succeeded.
pub const JWKS_REFRESHES_TOTAL: &str = "authn_jwks_refreshes_total";
/// Counter: remote key set (JWKS) fetches that failed.
pub const JWKS_REFRESH_FAILURES_TOTAL: &str = "authn_jwks_refresh_failures_total";

/// Every metric name above, the closed list.
pub const ALL: &[&str] = &[
    REQUESTS_TOTAL,
    VERIFY_DURATION_SECONDS,
    CACHE_HITS_TOTAL,
    CACHE_MISSES_TOTAL,
    HASH_QUEUE_DEPTH,
    HASH_IN_USE,
    HASH_REFUSED_TOTAL,
    STORE_ERRORS_TOTAL,
    THROTTLED_TOTAL,
    JWKS_REFRESHES_TOTAL,
    JWKS_REFRESH_FAILURES_TOTAL,
];

/// The `outcome` of an accepted request.
pub const OUTCOME_OK: &str = "ok";
/// The `outcome` of a request without credential that an optional layer let through.
pub const OUTCOME_ANONYMOUS: &str = "anonymous";
/// The `outcome` of a CORS preflight let through without authentication
/// ([`Preflight::Pass`](crate::Preflight::Pass)); its `scheme` is [`SCHEME_NONE`].
pub const OUTCOME_PREFLIGHT: &str = "preflight";
/// The `scheme` of a decision on a request that carried no credential.
pub const SCHEME_NONE: &str = "none";

/// Adds one to the unlabelled counter `name` (one of this module's names).
#[inline]
pub(crate) fn count(name: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(name).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = name;
}

#[cfg(feature = "metrics")]
pub(crate) use meter::Meter;

#[cfg(feature = "metrics")]
mod meter {
    use std::borrow::Cow;
    use std::sync::{PoisonError, RwLock};
    use std::time::Duration;

    use metrics::{Key, Label, Level, Metadata};

    static METADATA: Metadata<'static> = Metadata::new("authn", Level::INFO, Some(module_path!()));

    /// At most this many (scheme, outcome) keys per layer are kept built; schemes come
    /// from the configuration and outcomes from a closed list, so real layers stay below.
    const MAX_KEYS: usize = 64;

    struct Keys {
        scheme: Cow<'static, str>,
        outcome: &'static str,
        requests: Key,
        verify: Key,
    }

    impl Keys {
        fn new(scheme: &str, outcome: &'static str) -> Self {
            let scheme: Cow<'static, str> = Cow::Owned(scheme.to_owned());
            let requests = Key::from_parts(
                super::REQUESTS_TOTAL,
                vec![
                    Label::new("scheme", scheme.to_string()),
                    Label::from_static_parts("outcome", outcome),
                ],
            );
            let verify = Key::from_parts(
                super::VERIFY_DURATION_SECONDS,
                vec![Label::new("scheme", scheme.to_string())],
            );
            Self {
                scheme,
                outcome,
                requests,
                verify,
            }
        }

        fn record(&self, verify: Option<Duration>) {
            metrics::with_recorder(|r| {
                r.register_counter(&self.requests, &METADATA).increment(1);
                if let Some(d) = verify {
                    r.register_histogram(&self.verify, &METADATA)
                        .record(d.as_secs_f64());
                }
            });
        }
    }

    /// One layer's decision metrics, keys built once per (scheme, outcome).
    #[derive(Default)]
    pub(crate) struct Meter {
        keys: RwLock<Vec<Keys>>,
    }

    impl Meter {
        /// Counts one decision, and the verify time when the verify step ran.
        pub(crate) fn decided(
            &self,
            scheme: &str,
            outcome: &'static str,
            verify: Option<Duration>,
        ) {
            let find = |k: &&Keys| k.outcome == outcome && k.scheme == scheme;
            {
                let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
                if let Some(k) = keys.iter().find(find) {
                    k.record(verify);
                    return;
                }
            }
            let built = Keys::new(scheme, outcome);
            built.record(verify);
            let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            if keys.len() < MAX_KEYS && !keys.iter().any(|k| find(&k)) {
                keys.push(built);
            }
        }
    }
}
