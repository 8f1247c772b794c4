//! Signing: what a client adds to a request so that a Wildix-style server accepts it.
//!
//! [`Signer`] holds the app's credentials (id, name, secret) and a clock. It signs a request
//! the way the reference PHP client does (`Host` and `X-APP-ID` headers, an HS256 JWT in
//! `Authorization: Bearer` whose `sign.hash` covers the canonical request), with one rule of
//! our own: the query and form keys it sends are already lowercased and sorted, recursively,
//! so the request on the wire *is* its canonical form, and a server verifies it however it
//! rebuilds the canonical string. What cannot be verified is refused: keys that differ only
//! in case, (through the typed API) `null` values and empty arrays, which PHP's
//! `http_build_query` would leave out of the URL while the signature covers them, a body
//! that is neither a form nor JSON, a path that percent-decoding would change, and a
//! repeated `Host`, `Content-Type` or signed header: the verifier refuses all of them.
//!
//! [`SignRequestLayer`] applies a [`Signer`] to every request of a tower client
//! (hyper-util, or anything that is a `Service<http::Request<_>>`).
//!
//! ```
//! use http::Request;
//! use tower_authn_core::clock::ManualClock;
//! use tower_authn_s2s::Signer;
//!
//! let signer = Signer::new("s2s-app-id-123", "CRM Connector", "s3cr3t-k3y-0123456789abcdef")
//!     .with_clock(ManualClock::at_unix(1_700_000_000));
//! let req = Request::get("https://pbx.example.wildixin.com/api/v1/PBX/CallHistory/?Count=10&start=0")
//!     .body(bytes::Bytes::new())
//!     .unwrap();
//! let (mut parts, body) = req.into_parts();
//! let body = signer.sign_parts(&mut parts, body).unwrap();
//! assert_eq!(parts.uri.query(), Some("count=10&start=0"));
//! assert_eq!(parts.headers["host"], "pbx.example.wildixin.com");
//! assert_eq!(parts.headers["x-app-id"], "s2s-app-id-123");
//! assert!(parts.headers["authorization"].to_str().unwrap().starts_with("Bearer eyJ0eXAi"));
//! assert!(body.is_empty());
//! ```

mod future;
mod layer;
mod php_client;
mod service;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue, Method, Uri};
use secrecy::SecretString;
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};

use crate::canonical::{CanonicalError, CanonicalRequest, Collisions, canonicalize};
use crate::coverage::{BodyType, body_type, path_is_stable};
use crate::php::{
    Array, JsonError, Key, ParseError, ParseLimits, Value, build_query, json_decode, parse_str,
};
use crate::token::{Claims, SignClaim};

pub use future::ResponseFuture;
pub use layer::SignRequestLayer;
pub use php_client::{PhpClientCall, PhpClientRequest};
pub use service::SignRequest;

/// The `X-APP-ID` header.
pub static X_APP_ID: HeaderName = HeaderName::from_static("x-app-id");

/// Why a request could not be signed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignError {
    /// The query string or form body is ambiguous under PHP's `parse_str`.
    Params(ParseError),
    /// Two keys differ only in case, so they would be signed as one.
    Canonical(CanonicalError),
    /// A `null` value or an empty array, which `http_build_query` leaves out of the request.
    Unsendable(String),
    /// The JSON body is not a JSON object or array.
    Json(JsonError),
    /// A non-empty body without a `Content-Type`: it could not be covered by the signature.
    UntypedBody,
    /// A non-empty body the signature cannot cover: its `Content-Type` is neither a form nor
    /// JSON ([`BodyType::Uncovered`]), or it has a
    /// `Content-Encoding`.
    UncoveredBody,
    /// A path whose percent-decoding would change its segments, or with dot segments
    /// (see [`path_is_stable`]).
    UnstablePath,
    /// A header the verifier reads once (`Host`, `Content-Type`, a signed header) is on the
    /// request more than once.
    RepeatedHeader(HeaderName),
    /// No `Host`: neither a header, nor a host in the URI, nor [`Signer::with_host`].
    NoHost,
    /// A value cannot be put in a header or URI; the text says which.
    Invalid(&'static str),
    /// Reading the request body failed.
    Body(crate::BoxError),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Params(e) => write!(f, "cannot sign the parameters: {e}"),
            SignError::Canonical(e) => write!(f, "cannot sign the parameters: {e}"),
            SignError::Unsendable(k) => {
                write!(
                    f,
                    "cannot sign {k:?}: null values and empty arrays are not sent"
                )
            }
            SignError::Json(e) => write!(f, "cannot sign the JSON body: {e}"),
            SignError::UntypedBody => f.write_str("cannot sign a body without a Content-Type"),
            SignError::UncoveredBody => f.write_str(
                "cannot sign a body that is neither a form nor JSON, or has a Content-Encoding",
            ),
            SignError::UnstablePath => {
                f.write_str("cannot sign a path with %2F, %5C, %2E or dot segments")
            }
            SignError::RepeatedHeader(name) => {
                write!(f, "cannot sign a request with more than one {name} header")
            }
            SignError::NoHost => f.write_str("cannot sign a request without a host"),
            SignError::Invalid(what) => write!(f, "cannot sign the request: invalid {what}"),
            SignError::Body(e) => write!(f, "cannot read the request body: {e}"),
        }
    }
}

impl std::error::Error for SignError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignError::Params(e) => Some(e),
            SignError::Canonical(e) => Some(e),
            SignError::Json(e) => Some(e),
            SignError::Body(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<ParseError> for SignError {
    fn from(e: ParseError) -> Self {
        SignError::Params(e)
    }
}

impl From<CanonicalError> for SignError {
    fn from(e: CanonicalError) -> Self {
        SignError::Canonical(e)
    }
}

/// The parts of a request to sign, already in the form they will be sent.
#[derive(Clone, Copy, Debug)]
pub struct SignInput<'a> {
    /// The method, exactly as sent.
    pub method: &'a str,
    /// The path, exactly as sent (no query).
    pub path: &'a str,
    /// The `Host` value, exactly as sent.
    pub host: &'a str,
    /// Extra headers to sign, in order, before `Host` and `X-APP-ID` (such as `Content-Type`).
    pub headers: &'a [(&'a str, &'a str)],
    /// The query parameters.
    pub params: &'a Array,
    /// The body parameters (ignored for `GET` and `DELETE`): a form body, or a JSON body when
    /// `headers` has a JSON `Content-Type`.
    pub body: &'a Array,
}

/// A signature: the canonical request, its hash, the claims and the JWT.
///
/// `Debug` does not show the token.
#[derive(Clone)]
pub struct Signature {
    canonical: Vec<u8>,
    claims: Claims,
    token: SecretString,
}

impl Signature {
    /// The canonical request that was hashed.
    pub fn canonical(&self) -> &[u8] {
        &self.canonical
    }

    /// The hex SHA-256 of the canonical request (`sign.hash`).
    pub fn hash(&self) -> &str {
        &self.claims.sign.hash
    }

    /// The JWT claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The compact JWT.
    pub fn token(&self) -> &SecretString {
        &self.token
    }

    /// `Bearer <jwt>`, marked sensitive.
    pub fn authorization(&self) -> HeaderValue {
        use secrecy::ExposeSecret;
        let mut v = HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret()))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
        v.set_sensitive(true);
        v
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("canonical", &String::from_utf8_lossy(&self.canonical))
            .field("claims", &self.claims)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

/// Signs requests for one app: its id, name and secret, a token lifetime and a clock.
///
/// The id, name and secret are trimmed, as the reference client does. `Debug` never shows
/// the secret.
#[derive(Clone)]
pub struct Signer {
    inner: Arc<SignerConfig>,
}

#[derive(Clone)]
struct SignerConfig {
    app_id: String,
    app_name: String,
    secret: SecretString,
    host: Option<String>,
    ttl: Duration,
    clock: SharedClock,
    limits: ParseLimits,
    sign_headers: Vec<String>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner;
        f.debug_struct("Signer")
            .field("app_id", &c.app_id)
            .field("app_name", &c.app_name)
            .field("secret", &"[REDACTED]")
            .field("host", &c.host)
            .field("ttl", &c.ttl)
            .field("sign_headers", &c.sign_headers)
            .finish_non_exhaustive()
    }
}

/// Title-case for the header names we list in `sign.headers` (`Content-Type`).
fn display_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("x-app-id") {
        return "X-APP-ID".to_owned();
    }
    let mut out = String::with_capacity(name.len());
    let mut up = true;
    for c in name.chars() {
        out.push(if up {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        up = c == '-';
    }
    out
}

/// The host part of `host` (a hostname, or a URL as the reference client is configured).
fn host_only(host: &str) -> String {
    let host = host.trim();
    if host.contains("://") {
        if let Ok(uri) = host.parse::<Uri>() {
            if let Some(h) = uri.host() {
                return h.to_owned();
            }
        }
    }
    host.to_owned()
}

/// The one value of header `name`, refusing a repeated header.
fn one<'a>(
    headers: &'a http::HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a HeaderValue>, SignError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(SignError::RepeatedHeader(name.clone()));
    }
    Ok(first)
}

/// Refuses values `http_build_query` would not send (`null`, empty arrays).
fn check_sendable(a: &Array, path: &str) -> Result<(), SignError> {
    for (k, v) in a.iter() {
        let name = if path.is_empty() {
            String::from_utf8_lossy(&k.as_bytes()).into_owned()
        } else {
            format!("{path}[{}]", String::from_utf8_lossy(&k.as_bytes()))
        };
        match v {
            Value::Null => return Err(SignError::Unsendable(name)),
            Value::Array(inner) if inner.is_empty() => return Err(SignError::Unsendable(name)),
            Value::Array(inner) => check_sendable(inner, &name)?,
            _ => {}
        }
    }
    Ok(())
}

impl Signer {
    /// A signer for the app `app_id` named `app_name` with `secret`; tokens live 300 s (as
    /// with the PHP client) and time comes from the system clock.
    pub fn new(
        app_id: impl Into<String>,
        app_name: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        let secret: String = secret.into();
        Self {
            inner: Arc::new(SignerConfig {
                app_id: app_id.into().trim().to_owned(),
                app_name: app_name.into().trim().to_owned(),
                secret: SecretString::from(secret.trim().to_owned()),
                host: None,
                ttl: Duration::from_secs(300),
                clock: Arc::new(SystemClock),
                limits: ParseLimits::default(),
                sign_headers: vec!["Content-Type".to_owned()],
            }),
        }
    }

    fn config_mut(&mut self) -> &mut SignerConfig {
        Arc::make_mut(&mut self.inner)
    }

    /// Uses `clock` for `iat` and `exp`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.config_mut().clock = Arc::new(clock);
        self
    }

    /// Tokens expire `ttl` after they are issued (whole seconds).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.config_mut().ttl = ttl;
        self
    }

    /// The `Host` to send and sign when a request has no `Host` header. A URL is reduced to
    /// its host, without the port, as the reference client does. Without it, the host of the
    /// request's URI is used.
    pub fn with_host(mut self, host: impl AsRef<str>) -> Self {
        self.config_mut().host = Some(host_only(host.as_ref()));
        self
    }

    /// Also signs header `name` whenever a request carries it (listed before `Host` and
    /// `X-APP-ID`). `Content-Type` is signed by default.
    pub fn sign_header(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        let c = self.config_mut();
        if !c.sign_headers.iter().any(|h| h.eq_ignore_ascii_case(&name)) {
            c.sign_headers.push(name);
        }
        self
    }

    /// Bounds for parsing query strings and form bodies.
    pub fn with_parse_limits(mut self, limits: ParseLimits) -> Self {
        self.config_mut().limits = limits;
        self
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The app name (the `iss` claim).
    pub fn app_name(&self) -> &str {
        &self.inner.app_name
    }

    /// Wraps a client service so that it signs every request.
    pub fn layer(&self) -> SignRequestLayer {
        SignRequestLayer::new(self.clone())
    }

    fn now(&self) -> i64 {
        i64::try_from(unix_secs(self.inner.clock.now())).unwrap_or(i64::MAX)
    }

    /// Signs `input` now.
    ///
    /// # Errors
    ///
    /// [`SignError`] when keys of the parameters or body differ only in case, or hold `null`
    /// values or empty arrays, or the path is not [stable](crate::coverage::path_is_stable).
    pub fn sign(&self, input: &SignInput<'_>) -> Result<Signature, SignError> {
        self.sign_at(input, self.now())
    }

    /// Signs `input` as if the time were `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// As [`Signer::sign`].
    pub fn sign_at(&self, input: &SignInput<'_>, now: i64) -> Result<Signature, SignError> {
        if !path_is_stable(input.path.as_bytes()) {
            return Err(SignError::UnstablePath);
        }
        check_sendable(input.params, "")?;
        let no_body = matches!(input.method, "GET" | "DELETE");
        let json = input.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("content-type") && body_type(v.as_bytes()) == BodyType::Json
        });
        // JSON carries nulls and empty arrays; a form body, like the query, does not.
        if !no_body && !json {
            check_sendable(input.body, "")?;
        }
        let mut headers = Array::new();
        for (name, value) in input.headers {
            if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("x-app-id") {
                continue;
            }
            headers.insert(Key::from(*name), Value::from(*value));
        }
        headers.insert("Host", input.host);
        headers.insert("X-APP-ID", self.inner.app_id.as_str());
        let empty = Array::new();
        let body = if no_body { &empty } else { input.body };
        let canonical = CanonicalRequest {
            method: input.method,
            path: input.path.as_bytes(),
            headers: &headers,
            params: input.params,
            body,
        };
        Ok(self.signature(canonical.to_bytes()?, &headers, now))
    }

    /// The signature over the canonical `bytes`, listing `headers` in `sign.headers`.
    pub(crate) fn signature(&self, bytes: Vec<u8>, headers: &Array, now: i64) -> Signature {
        let ttl = i64::try_from(self.inner.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: self.inner.app_name.clone(),
            iat: now,
            exp: now.saturating_add(ttl),
            sign: SignClaim {
                alg: "sha256".to_owned(),
                headers: headers
                    .keys()
                    .map(|k| String::from_utf8_lossy(&k.as_bytes()).into_owned())
                    .collect(),
                hash: crate::canonical::sha256_hex(&bytes),
            },
        };
        let token = SecretString::from(claims.encode(&self.inner.secret));
        Signature {
            canonical: bytes,
            claims,
            token,
        }
    }

    /// Signs an HTTP request in place, as [`SignRequestLayer`] does, and returns the body to
    /// send:
    ///
    /// - the query is rewritten with lowercased, sorted keys (the canonical form);
    /// - a `GET` or `DELETE` body is dropped; an `application/x-www-form-urlencoded` body is
    ///   rewritten like the query; a JSON body is signed as it is (its keys may not differ only
    ///   in case); any other non-empty body is refused ([`SignError::UncoveredBody`]), since
    ///   the signature could not cover it and the verifier refuses it;
    /// - `Host` (when missing), `X-APP-ID` and `Authorization` are set, and `Content-Length`
    ///   follows the body.
    ///
    /// # Errors
    ///
    /// [`SignError`] when the request cannot be signed so that it verifies.
    pub fn sign_parts(
        &self,
        parts: &mut http::request::Parts,
        body: Bytes,
    ) -> Result<Bytes, SignError> {
        self.sign_parts_at(parts, body, self.now())
    }

    /// [`Signer::sign_parts`] at the time `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// As [`Signer::sign_parts`].
    pub fn sign_parts_at(
        &self,
        parts: &mut http::request::Parts,
        body: Bytes,
        now: i64,
    ) -> Result<Bytes, SignError> {
        let limits = &self.inner.limits;

        // Query: lowercased and sorted on the wire.
        let params = match parts.uri.query() {
            Some(q) => canonicalize(&parse_str(q.as_bytes(), limits)?)?,
            None => Array::new(),
        };
        let path = parts.uri.path().to_owned();
        if !path_is_stable(path.as_bytes()) {
            return Err(SignError::UnstablePath);
        }
        let query = build_query(&params);
        let target = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let mut uri = parts.uri.clone().into_parts();
        uri.path_and_query = Some(
            target
                .parse()
                .map_err(|_| SignError::Invalid("path or query"))?,
        );
        let new_uri = Uri::from_parts(uri).map_err(|_| SignError::Invalid("URI"))?;

        // Body.
        // Body: a form or JSON, or nothing (the verifier refuses the rest).
        let content_type = one(&parts.headers, &CONTENT_TYPE)?.map(HeaderValue::as_bytes);
        let no_body = parts.method == Method::GET || parts.method == Method::DELETE;
        let (body_params, wire_body) = if no_body || body.is_empty() {
            (Array::new(), Bytes::new())
        } else if parts.headers.contains_key(CONTENT_ENCODING) {
            return Err(SignError::UncoveredBody);
        } else {
            match content_type.map(body_type) {
                None => return Err(SignError::UntypedBody),
                Some(BodyType::Uncovered) => return Err(SignError::UncoveredBody),
                Some(BodyType::Form) => {
                    let a = canonicalize(&parse_str(&body, limits)?)?;
                    let wire = Bytes::from(build_query(&a));
                    (a, wire)
                }
                Some(BodyType::Json) => match json_decode(&body).map_err(SignError::Json)? {
                    Value::Array(a) => {
                        // Refuse keys that differ only in case anywhere in the document.
                        let mut scratch = Vec::new();
                        crate::canonical::canonical_data(&a, Collisions::Reject, &mut scratch)?;
                        (a, body)
                    }
                    _ => return Err(SignError::Json(JsonError::Syntax(0))),
                },
            }
        };

        // Headers.
        let host = match one(&parts.headers, &HOST)? {
            Some(h) => h
                .to_str()
                .map_err(|_| SignError::Invalid("Host"))?
                .to_owned(),
            None => {
                let h = self
                    .inner
                    .host
                    .clone()
                    .or_else(|| parts.uri.host().map(str::to_owned))
                    .ok_or(SignError::NoHost)?;
                let v = HeaderValue::from_str(&h).map_err(|_| SignError::Invalid("Host"))?;
                parts.headers.insert(HOST, v);
                h
            }
        };
        let app_id =
            HeaderValue::from_str(&self.inner.app_id).map_err(|_| SignError::Invalid("app id"))?;
        parts.headers.insert(X_APP_ID.clone(), app_id);

        let mut extra: Vec<(String, String)> = Vec::new();
        for name in &self.inner.sign_headers {
            let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                return Err(SignError::Invalid("signed header name"));
            };
            if let Some(v) = one(&parts.headers, &header)? {
                let v = v
                    .to_str()
                    .map_err(|_| SignError::Invalid("signed header"))?;
                extra.push((display_name(name), v.to_owned()));
            }
        }
        let extra_refs: Vec<(&str, &str)> = extra
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let signature = self.sign_at(
            &SignInput {
                method: parts.method.as_str(),
                path: &path,
                host: &host,
                headers: &extra_refs,
                params: &params,
                body: &body_params,
            },
            now,
        )?;

        parts.uri = new_uri;
        parts
            .headers
            .insert(AUTHORIZATION, signature.authorization());
        if wire_body.is_empty() {
            parts.headers.remove(CONTENT_LENGTH);
        } else {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(wire_body.len()));
        }
        Ok(wire_body)
    }
}
