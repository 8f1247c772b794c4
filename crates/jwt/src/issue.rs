//! [`JwtIssuer`]: signs claims, or a [`Principal`], into a compact JWT.
//!
//! Claims keep the order they were given in ([`Claims`]), and the header is written as
//! `{"alg", "typ", "kid"}`, so a platform's tokens can be reproduced byte for byte.
//!
//! ```
//! use std::time::Duration;
//! use tower_authn_core::Principal;
//! use tower_authn_jwt::{Algorithm, Claims, JwtIssuer, SigningKey};
//!
//! let issuer = JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, [1u8; 32])?)
//!     .with_issuer("https://auth.example")
//!     .with_audiences(["api"])
//!     .with_lifetime(Duration::from_secs(900));
//! let token = issuer.issue_for(&Principal::user("alice").with_roles(["admin"]))?;
//! assert_eq!(token.split('.').count(), 3);
//!
//! let custom = issuer.issue(Claims::new().with("sub", "bob").with("tenant", "acme"))?;
//! # let _ = custom;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use tower_authn_core::Principal;
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};

use crate::b64;
use crate::key::{KeyError, SigningKey};
use crate::validation::Validation;

/// A token could not be issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueError(Cow<'static, str>);

impl IssueError {
    pub(crate) fn new(detail: impl Into<Cow<'static, str>>) -> Self {
        Self(detail.into())
    }
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot issue token: {}", self.0)
    }
}

impl std::error::Error for IssueError {}

impl From<KeyError> for IssueError {
    fn from(e: KeyError) -> Self {
        Self::new(e.to_string())
    }
}

/// Claims in the order they are written. Setting a name again replaces its value in place.
///
/// ```
/// use tower_authn_jwt::Claims;
///
/// let claims = Claims::new().with("b", 1).with("a", 2).with("b", 3);
/// assert_eq!(serde_json::to_string(&claims).unwrap(), r#"{"b":3,"a":2}"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims {
    entries: Vec<(String, Value)>,
}

impl Claims {
    /// No claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` (in place if present, else appended).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Sets `name` (in place if present, else appended).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(at).1)
    }

    /// The claims in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Self {
        Self {
            entries: map.into_iter().collect(),
        }
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Signs `claims` exactly as given, with the header `{"alg", "typ": "JWT", "kid"}`.
pub(crate) fn sign(
    key: &SigningKey,
    typ: Option<&str>,
    claims: &Claims,
) -> Result<String, IssueError> {
    let mut header = Claims::new().with("alg", key.algorithm().as_str());
    if let Some(typ) = typ {
        header.set("typ", typ);
    }
    if let Some(kid) = key.kid() {
        header.set("kid", kid);
    }
    let header =
        serde_json::to_vec(&header).map_err(|_| IssueError::new("header not serializable"))?;
    let payload =
        serde_json::to_vec(claims).map_err(|_| IssueError::new("claims not serializable"))?;
    let mut token = b64::encode(header);
    token.push('.');
    token.push_str(&b64::encode(payload));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&signature);
    Ok(token)
}

/// Issues signed JWTs: adds `iss`, `aud`, `iat`, `exp` and `jti` to the claims given.
#[derive(Clone)]
pub struct JwtIssuer {
    key: SigningKey,
    issuer: Option<String>,
    audiences: Vec<String>,
    lifetime: Duration,
    jti: bool,
    typ: Option<String>,
    clock: SharedClock,
}

impl fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("key", &self.key)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("lifetime", &self.lifetime)
            .field("jti", &self.jti)
            .field("typ", &self.typ)
            .finish_non_exhaustive()
    }
}

/// The claims an issuer writes itself; a caller's claims of these names are replaced.
const REGISTERED: [&str; 5] = ["iss", "aud", "iat", "exp", "jti"];

impl JwtIssuer {
    /// An issuer signing with `key`: lifetime one hour, a random `jti`, `typ: "JWT"`.
    pub fn new(key: SigningKey) -> Self {
        Self {
            key,
            issuer: None,
            audiences: Vec::new(),
            lifetime: Duration::from_secs(3600),
            jti: true,
            typ: Some("JWT".to_owned()),
            clock: Arc::new(SystemClock),
        }
    }

    /// The `iss` claim.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` claim: one audience is written as a string, several as an array.
    pub fn with_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// `exp - iat` (default one hour).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Leaves out the random `jti`.
    pub fn without_jti(mut self) -> Self {
        self.jti = false;
        self
    }

    /// The header `typ` (default `JWT`; `None` leaves it out).
    pub fn with_type(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_owned);
        self
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The lifetime of the tokens issued (`exp - iat`).
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The rules that accept what this issuer issues and nothing looser: its `iss` and `aud`
    /// (when set), its key's algorithm, its `typ` (required when it writes one), `iat`
    /// required, and a maximum lifetime of [`lifetime`](Self::lifetime), so a token signed
    /// with the same key but living longer (a leaked key's ten-year token) is refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_authn_jwt::{Algorithm, JwtIssuer, JwtVerifier, KeySet, SigningKey};
    ///
    /// let issuer = JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, [3u8; 32])?)
    ///     .with_issuer("me")
    ///     .with_lifetime(Duration::from_secs(900));
    /// let verifier = JwtVerifier::new(KeySet::new().with_key(issuer.key().verifying_key()?))
    ///     .with_validation(issuer.validation());
    /// assert_eq!(verifier.validation().max_lifetime(), Some(Duration::from_secs(900)));
    /// assert!(verifier.authenticate(&issuer.issue_for_subject("alice")?).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validation(&self) -> Validation {
        let mut rules = Validation::new()
            .with_algorithms([self.key.algorithm()])
            .with_max_lifetime(self.lifetime)
            .require_iat();
        if let Some(iss) = &self.issuer {
            rules = rules.with_issuers([iss.as_str()]);
        }
        if !self.audiences.is_empty() {
            rules = rules.with_audiences(self.audiences.iter().map(String::as_str));
        }
        if let Some(typ) = &self.typ {
            rules = rules.with_types([typ.as_str()]);
        }
        rules
    }

    /// Signs `claims` with the registered claims added: `iss`, `aud`, `iat`, `exp`, `jti` first
    /// (in that order), then the caller's claims in their order.
    ///
    /// # Errors
    ///
    /// The key cannot sign (a malformed key).
    pub fn issue(&self, claims: Claims) -> Result<String, IssueError> {
        let iat = unix_secs(self.clock.now());
        let mut out = Claims::new();
        if let Some(iss) = &self.issuer {
            out.set("iss", iss.as_str());
        }
        match self.audiences.as_slice() {
            [] => {}
            [one] => out.set("aud", one.as_str()),
            many => out.set("aud", many.to_vec()),
        }
        out.set("iat", iat);
        out.set("exp", iat.saturating_add(self.lifetime.as_secs()));
        if self.jti {
            let mut id = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut id);
            out.set("jti", b64::encode(id));
        }
        for (name, value) in claims.entries {
            if !REGISTERED.contains(&name.as_str()) {
                out.set(name, value);
            }
        }
        self.sign(&out)
    }

    /// Issues a token whose `sub` is `subject`.
    ///
    /// # Errors
    ///
    /// See [`issue`](Self::issue).
    pub fn issue_for_subject(&self, subject: impl Into<String>) -> Result<String, IssueError> {
        self.issue(Claims::new().with("sub", subject.into()))
    }

    /// Issues a token for `principal`: `sub` (its id), `name`, `email`, `roles` and `scope`
    /// (space-separated) when set.
    ///
    /// # Errors
    ///
    /// See [`issue`](Self::issue).
    pub fn issue_for(&self, principal: &Principal) -> Result<String, IssueError> {
        let mut claims = Claims::new().with("sub", principal.id.as_str());
        if let Some(name) = &principal.name {
            claims.set("name", name.as_str());
        }
        if let Some(email) = &principal.email {
            claims.set("email", email.as_str());
        }
        if !principal.roles.is_empty() {
            claims.set("roles", principal.roles.clone());
        }
        if !principal.scopes.is_empty() {
            claims.set("scope", principal.scopes.join(" "));
        }
        self.issue(claims)
    }

    /// Signs `claims` exactly as given, adding nothing.
    ///
    /// # Errors
    ///
    /// The key cannot sign.
    pub fn sign(&self, claims: &Claims) -> Result<String, IssueError> {
        sign(&self.key, self.typ.as_deref(), claims)
    }
}
