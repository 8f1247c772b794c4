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
use tower_authn_core::{Attributes, AuthError, Principal, Verifier};

use crate::algorithm::Algorithm;
use crate::claims::{ClaimIndex, ClaimName, Picked, REGISTERED, unique_names};
use crate::compact::{Compact, Failure, KnownHeaders, parse_object};
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
    fn new(claims: Map<String, Value>, compact: Compact<'_>, header_json: Box<[u8]>) -> Self {
        Self {
            header_json,
            header: OnceLock::new(),
            claims,
            algorithm: compact.alg,
            kid: compact.kid,
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

/// Checks a parsed token's signature against `keys`.
///
/// Key selection (RFC 7515 §4.1.4 makes `kid` a hint; RFC 8725 §3.10 says to treat it as
/// attacker-controlled): a `kid` selects the keys of the set with exactly that `kid`, and a
/// `kid` that no key has is refused, whatever else the set holds, so a made-up `kid` can never
/// fall through to some other key. A token without `kid` is checked with the keys that have no
/// `kid` either or, when every key is named, with the only key of a one-key set (the token
/// then cannot be meant for any other); against several named keys it is refused. A key is
/// tried only for algorithms it allows.
fn check_signature(
    compact: &Compact<'_>,
    keys: &KeySet,
    validation: &Validation,
) -> Result<(), Failure> {
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
    Ok(())
}

/// Verifies a parsed token against `keys` and `validation` at `now` (Unix seconds), and
/// maps it to a principal.
///
/// The claims are parsed once, for the members the rules and the mapping read
/// ([`Picked`]); their JSON text becomes the principal's attributes, parsed only if read.
pub(crate) fn verify_compact<K>(
    compact: Compact<'_>,
    keys: &KeySet,
    inner: &Inner<K>,
) -> Result<Principal, Failure> {
    let (validation, mapping, now) = (&inner.validation, &inner.mapping, inner.now());
    check_signature(&compact, keys, validation)?;
    inner.prepared.headers.remember(&compact);
    let json = compact.claims_json()?;
    let Some(mut picked) = Picked::wanting(&inner.prepared.claim_names) else {
        // A mapping reading more claims than are picked: from a map of them all.
        let claims = parse_object(json.as_bytes())
            .ok_or(Failure::Invalid("jwt: claims not a JSON object"))?;
        let index = ClaimIndex::new(&claims);
        validation.check_claims(&index, now)?;
        let mut principal = mapping.build(&index, &[], compact.kid)?;
        principal.attributes = claims.into();
        return Ok(principal);
    };
    if !picked.parse(&json) {
        return Err(Failure::Invalid("jwt: claims not a JSON object"));
    }
    validation.check_claims(&picked, now)?;
    let mut principal = mapping.build(&picked, &inner.prepared.slots, compact.kid)?;
    drop(picked);
    principal.attributes = Attributes::from_json_object(json);
    Ok(principal)
}

/// Verifies a parsed token as [`verify_compact`] does, keeping its header and claims for
/// [`VerifiedJwt`] instead of mapping it.
pub(crate) fn verify_compact_with_header<K>(
    compact: Compact<'_>,
    keys: &KeySet,
    inner: &Inner<K>,
) -> Result<VerifiedJwt, Failure> {
    check_signature(&compact, keys, &inner.validation)?;
    inner.prepared.headers.remember(&compact);
    let claims = compact.claims()?;
    inner
        .validation
        .check_claims(&ClaimIndex::new(&claims), inner.now())?;
    let header_json = compact.header_json();
    Ok(VerifiedJwt::new(claims, compact, header_json))
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
    /// Made from the rules and the mapping whenever they change.
    pub(crate) prepared: Prepared,
}

/// What a verifier derives from its rules and mapping once, not per token.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// The top-level claims the rules and the mapping read, each once (what is [`Picked`]),
    /// the rules' first.
    claim_names: Box<[ClaimName]>,
    /// Where the mapping's paths start among `claim_names` ([`ClaimsMapping::slots`]).
    slots: Box<[Option<usize>]>,
    /// The headers of tokens that verified, not parsed again.
    pub(crate) headers: KnownHeaders,
}

impl Prepared {
    fn of(mapping: &ClaimsMapping) -> Self {
        let claim_names = unique_names(REGISTERED.into_iter().chain(mapping.claim_names()));
        Self {
            slots: mapping.slots(&claim_names),
            claim_names,
            headers: KnownHeaders::default(),
        }
    }
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
        let inner = &*self.inner;
        Ok(verify_compact_with_header(
            inner.parse(token)?,
            &inner.keys,
            inner,
        )?)
    }

    /// Verifies `token` and maps it to a [`Principal`].
    ///
    /// # Errors
    ///
    /// See the type docs.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let inner = &*self.inner;
        Ok(verify_compact(inner.parse(token)?, &inner.keys, inner)?)
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
                prepared: Prepared::of(&ClaimsMapping::default()),
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
        inner.prepared = Prepared::of(&inner.mapping);
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
    /// The token's structure and header, checked against the rules (a header this verifier
    /// has seen verify is recognised, not parsed again).
    pub(crate) fn parse<'t>(&self, token: &'t str) -> Result<Compact<'t>, Failure> {
        Compact::parse_known(
            token,
            self.validation.header_rules(),
            &self.prepared.headers,
        )
    }

    pub(crate) fn now(&self) -> i64 {
        i64::try_from(unix_secs(self.clock.now())).unwrap_or(i64::MAX)
    }

    pub(crate) fn principal(&self, verified: VerifiedJwt) -> Result<Principal, AuthError> {
        let mut principal =
            self.mapping
                .build(&ClaimIndex::new(&verified.claims), &[], verified.kid)?;
        principal.attributes = verified.claims.into(); // moved, not copied
        Ok(principal)
    }
}

impl Verifier<TokenCredential> for JwtVerifier<KeySet> {
    type Future = Ready<Result<Principal, AuthError>>;

    fn verify(&self, credential: TokenCredential) -> Self::Future {
        let result = self.authenticate(credential.expose());
        ready(result.map(|p| p.with_location(credential.location)))
    }
}
