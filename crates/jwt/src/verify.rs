//! [`JwtVerifier`]: checks a JWT against a key set and rules, and maps it to a [`Principal`].
//!
//! With an in-memory [`KeySet`] verification is synchronous and its [`Verifier`] future is
//! `std::future::Ready`: nothing is boxed. With a `RemoteJwks` (feature `remote`) it is a
//! boxed future, since keys may have to be fetched.
//!
//! ```
//! use tower_authn_core::clock::ManualClock;
//! use tower_authn_jwt::{Algorithm, JwtIssuer, JwtVerifier, KeySet, SigningKey, Validation};
//!
//! let clock = ManualClock::at_unix(1_700_000_000);
//! let key = SigningKey::hmac(Algorithm::HS256, [42u8; 32])?.with_kid("k1");
//! let issuer = JwtIssuer::new(key.clone()).with_issuer("me").with_clock(clock.clone());
//! let token = issuer.issue_for_subject("alice")?;
//!
//! let verifier = JwtVerifier::new(KeySet::new().with_key(key.verifying_key()?))
//!     .with_validation(Validation::new().with_issuers(["me"]))
//!     .with_clock(clock);
//! let principal = verifier.authenticate(&token).unwrap();
//! assert_eq!(principal.id, "alice");
//! assert_eq!(principal.key_id.as_deref(), Some("k1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::{Ready, ready};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{AuthError, Principal, Verifier};

use crate::algorithm::Algorithm;
use crate::compact::{Compact, Failure, parse_object};
use crate::key::{KeyError, KeySet, MAX_SIGNATURE_BYTES, VerifyingKey};
use crate::mapping::ClaimsMapping;
use crate::validation::Validation;

/// A token whose signature and claims were checked.
#[derive(Clone)]
pub struct VerifiedJwt {
    /// The decoded header JSON, parsed into `header` on the first [`header`](Self::header)
    /// call only: verifying does not build the map.
    header_json: Box<[u8]>,
    header: OnceLock<Map<String, Value>>,
    claims: Map<String, Value>,
    algorithm: Algorithm,
    kid: Option<String>,
}

impl fmt::Debug for VerifiedJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedJwt")
            .field("header", self.header())
            .field("claims", &self.claims)
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish()
    }
}

impl VerifiedJwt {
    fn new(checked: Checked, header_json: Box<[u8]>) -> Self {
        Self {
            header_json,
            header: OnceLock::new(),
            claims: checked.claims,
            algorithm: checked.algorithm,
            kid: checked.kid,
        }
    }

    /// The protected header (parsed from the received header on the first call).
    pub fn header(&self) -> &Map<String, Value> {
        // It already passed the strict header parse, which accepts no more than this one.
        self.header
            .get_or_init(|| parse_object(&self.header_json).unwrap_or_default())
    }

    /// The claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The claims, owned.
    pub fn into_claims(self) -> Map<String, Value> {
        self.claims
    }

    /// The algorithm it was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The `kid` header, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// What a verification yields before anyone asks for the header.
pub(crate) struct Checked {
    pub(crate) claims: Map<String, Value>,
    pub(crate) algorithm: Algorithm,
    pub(crate) kid: Option<String>,
}

/// Verifies a parsed token against `keys`, at `now` (Unix seconds).
///
/// Key selection (RFC 7515 §4.1.4 makes `kid` a hint; RFC 8725 §3.10 says to treat it as
/// attacker-controlled): a `kid` selects the keys of the set with exactly that `kid`, and a
/// `kid` that no key has is refused, whatever else the set holds, so a made-up `kid` can never
/// fall through to some other key. A token without `kid` is checked with the keys that have no
/// `kid` either or, when every key is named, with the only key of a one-key set (the token
/// then cannot be meant for any other); against several named keys it is refused. A key is
/// tried only for algorithms it allows.
pub(crate) fn verify_compact(
    compact: Compact<'_>,
    keys: &KeySet,
    validation: &Validation,
    now: i64,
) -> Result<Checked, Failure> {
    if keys.is_empty() {
        return Err(Failure::Unavailable("jwt: no verification key"));
    }
    let alg = compact.alg;
    if !validation.allows(alg) {
        return Err(Failure::Invalid("jwt: alg not allowed"));
    }
    let input = compact.signing_input.as_bytes();
    let mut buf = [0u8; MAX_SIGNATURE_BYTES];
    let signature = compact.signature(&mut buf);
    let check = |k: &VerifyingKey| signature.is_some_and(|s| k.verify_signature(alg, input, s));
    let verified = match &compact.kid {
        Some(kid) => {
            if !keys.contains_kid(kid) {
                return Err(Failure::UnknownKid);
            }
            keys.get(kid).any(check)
        }
        None => {
            let mut unnamed = keys.iter().filter(|k| k.kid().is_none()).peekable();
            if unnamed.peek().is_some() {
                unnamed.any(check)
            } else if keys.len() == 1 {
                keys.iter().any(check)
            } else {
                return Err(Failure::Invalid("jwt: no kid, and several named keys"));
            }
        }
    };
    if !verified {
        return Err(Failure::Invalid(
            "jwt: no key verifies the signature with this alg",
        ));
    }
    let claims = compact.claims()?;
    validation.check_claims(&claims, now)?;
    Ok(Checked {
        claims,
        algorithm: alg,
        kid: compact.kid,
    })
}

/// [`verify_compact`], keeping the header for [`VerifiedJwt::header`].
pub(crate) fn verify_compact_with_header(
    compact: Compact<'_>,
    keys: &KeySet,
    validation: &Validation,
    now: i64,
) -> Result<VerifiedJwt, Failure> {
    let header_json = compact.header_json();
    let checked = verify_compact(compact, keys, validation, now)?;
    Ok(VerifiedJwt::new(checked, header_json))
}

/// Verifies JWTs with the keys `K` (a [`KeySet`], or a `RemoteJwks`), [`Validation`] rules
/// and a [`ClaimsMapping`].
///
/// Plug it into a token layer: `HeaderTokenLayer::bearer(verifier)`,
/// `HeaderTokenLayer::new("X-Auth-Token", verifier)` or `QueryTokenLayer::new("jwt", verifier)`.
///
/// Errors: an expired token is [`AuthError::expired`]; anything else wrong is
/// [`AuthError::invalid`]; no key to check with is [`AuthError::unavailable`] (503, fail
/// closed). The detail (for logs) says which rule failed; it never holds the token.
pub struct JwtVerifier<K = KeySet> {
    inner: Arc<Inner<K>>,
}

#[derive(Clone)]
pub(crate) struct Inner<K> {
    pub(crate) keys: K,
    pub(crate) validation: Validation,
    pub(crate) mapping: ClaimsMapping,
    pub(crate) clock: SharedClock,
}

impl<K> Clone for JwtVerifier<K> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: fmt::Debug> fmt::Debug for JwtVerifier<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.inner.keys)
            .field("validation", &self.inner.validation)
            .field("mapping", &self.inner.mapping)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier<KeySet> {
    /// A verifier over an in-memory key set, with default rules and mapping.
    pub fn new(keys: KeySet) -> Self {
        Self::with_keys(keys)
    }

    /// A verifier of HS256 tokens signed with `secret`, with default rules and mapping: one
    /// name for `JwtVerifier::new(KeySet::new().with_key(VerifyingKey::hmac(secret)?))`.
    ///
    /// ```
    /// use tower_authn_jwt::JwtVerifier;
    ///
    /// let verifier = JwtVerifier::hs256(b"a shared secret of at least 32 bytes")?;
    /// // HeaderTokenLayer::bearer(verifier), QueryTokenLayer::new("jwt", verifier), ...
    /// # let _ = verifier;
    /// # Ok::<(), tower_authn_jwt::KeyError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An empty secret.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Ok(Self::new(
            KeySet::new().with_key(VerifyingKey::hmac(secret)?),
        ))
    }

    /// Verifies `token` and returns its header and claims.
    ///
    /// # Errors
    ///
    /// See the type docs.
    pub fn verify_token(&self, token: &str) -> Result<VerifiedJwt, AuthError> {
        let compact = Compact::parse(token, self.inner.validation.header_rules())?;
        Ok(verify_compact_with_header(
            compact,
            &self.inner.keys,
            &self.inner.validation,
            self.now(),
        )?)
    }

    /// Verifies `token` and maps it to a [`Principal`].
    ///
    /// # Errors
    ///
    /// See the type docs.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let compact = Compact::parse(token, self.inner.validation.header_rules())?;
        let checked = verify_compact(
            compact,
            &self.inner.keys,
            &self.inner.validation,
            self.now(),
        )?;
        self.inner.principal_of(checked)
    }
}

impl<K> JwtVerifier<K> {
    /// A verifier over any key source, with default rules and mapping.
    pub fn with_keys(keys: K) -> Self {
        crate::key::ensure_crypto_provider();
        Self {
            inner: Arc::new(Inner {
                keys,
                validation: Validation::default(),
                mapping: ClaimsMapping::default(),
                clock: Arc::new(SystemClock),
            }),
        }
    }

    fn update(self, f: impl FnOnce(&mut Inner<K>)) -> Self
    where
        K: Clone,
    {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Replaces the rules.
    pub fn with_validation(self, validation: Validation) -> Self
    where
        K: Clone,
    {
        self.update(|i| i.validation = validation)
    }

    /// Replaces the claims mapping.
    pub fn with_mapping(self, mapping: ClaimsMapping) -> Self
    where
        K: Clone,
    {
        self.update(|i| i.mapping = mapping)
    }

    /// Replaces the clock (tests, replays of recorded tokens).
    pub fn with_clock(self, clock: impl Clock) -> Self
    where
        K: Clone,
    {
        self.update(|i| i.clock = Arc::new(clock))
    }

    /// The key source.
    pub fn keys(&self) -> &K {
        &self.inner.keys
    }

    /// The rules.
    pub fn validation(&self) -> &Validation {
        &self.inner.validation
    }

    /// The claims mapping.
    pub fn mapping(&self) -> &ClaimsMapping {
        &self.inner.mapping
    }

    #[cfg(feature = "remote")]
    pub(crate) fn inner(&self) -> &Arc<Inner<K>> {
        &self.inner
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.now()
    }

    /// Maps verified claims to a principal (`key_id` is the token's `kid`).
    ///
    /// # Errors
    ///
    /// [`AuthError::invalid`] when the subject claim is missing.
    pub fn principal(&self, verified: VerifiedJwt) -> Result<Principal, AuthError> {
        self.inner.principal(verified)
    }
}

impl<K> Inner<K> {
    pub(crate) fn now(&self) -> i64 {
        i64::try_from(unix_secs(self.clock.now())).unwrap_or(i64::MAX)
    }

    pub(crate) fn principal(&self, verified: VerifiedJwt) -> Result<Principal, AuthError> {
        self.principal_of(Checked {
            claims: verified.claims,
            algorithm: verified.algorithm,
            kid: verified.kid,
        })
    }

    /// The claims move into the principal's attributes (no copy).
    pub(crate) fn principal_of(&self, checked: Checked) -> Result<Principal, AuthError> {
        self.mapping
            .build(std::borrow::Cow::Owned(checked.claims), checked.kid)
    }
}

impl Verifier<TokenCredential> for JwtVerifier<KeySet> {
    type Future = Ready<Result<Principal, AuthError>>;

    fn verify(&self, credential: TokenCredential) -> Self::Future {
        let result = self.authenticate(credential.expose());
        ready(result.map(|p| p.with_location(credential.location)))
    }
}
