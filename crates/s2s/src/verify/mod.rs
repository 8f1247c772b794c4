//! Verifying: the server side of signed server-to-server requests.
//!
//! [`SignatureVerifier`] checks one request the way a Wildix PBX does, and
//! [`SignatureVerifier::layer`] puts it in front of a service as a scheme of the core engine
//! ([`SignedRequest`] in an [`AuthnLayer`]), so a signed route composes like any other:
//! `.or(..)`, `.and(..)`, `.optional()`, `.require(..)`, `.throttle(..)`,
//! `.responder(..)`, `.hide_credentials(..)`:
//!
//! 1. `X-APP-ID` names the app; the [`AppStore`] gives its name and secret. An unknown app
//!    gets the same 401 as a wrong signature.
//! 2. `Authorization: Bearer <jwt>`: the header must say `alg: HS256` (nothing else, `none`
//!    included, is accepted) and the HMAC must match, compared in constant time.
//! 3. `iat` / `exp`: not expired (`now > exp + leeway`), not issued in the future
//!    (`iat > now + leeway`), and a lifetime of at most the maximum. `iss` must be the app
//!    name (configurable).
//! 4. `sign.alg` is `sha256`, and `sign.headers` (an array, or an object `{"0":..}`) lists
//!    `Host` and `X-APP-ID`.
//! 5. The canonical request is rebuilt from what arrived: method, path as received, the
//!    listed headers as received, the query and body parsed with PHP's semantics, and its
//!    SHA-256 compared with `sign.hash` in constant time. The body is buffered up to a limit
//!    (413 above it) and the inner service receives it intact (the scheme is
//!    [`Buffered`](tower_authn_core::Buffered): the request body must be `From<Bytes>`, as
//!    axum's `Body` and `Full<Bytes>` are).
//!
//! Whatever the signature cannot cover is refused with 400 before the inner service runs
//! (see the crate README, "Which requests are refused"): a non-empty body that is not a form
//! or JSON ([`coverage::body_type`](crate::coverage::body_type)) or has a `Content-Encoding`,
//! a second `Content-Type` or `Host` line, a signed header sent twice, a `Host` other than the
//! authority of an absolute-form target, and a path that percent-decoding would change
//! ([`coverage::path_is_stable`](crate::coverage::path_is_stable)).
//!
//! The principal is the app: `Principal::app(app_id)` with scheme `s2s` and the app name.
//! Failures answer in the Wildix shape ([`WildixErrors`]) unless the layer is given another
//! responder.
//!
//! ```
//! use bytes::Bytes;
//! use http::Request;
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_authn_core::Principal;
//! use tower_authn_s2s::{App, MemoryAppStore, SignatureVerifier, Signer};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let apps = MemoryAppStore::new().with_app("app-1", App::new("CRM Connector", "secret"));
//! let server = ServiceBuilder::new()
//!     .layer(SignatureVerifier::new(apps).layer())
//!     .service_fn(|req: Request<Full<Bytes>>| async move {
//!         let app = req.extensions().get::<Principal>().unwrap().id.clone();
//!         Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(app))))
//!     });
//!
//! // A request signed by the client side...
//! let signer = Signer::new("app-1", "CRM Connector", "secret");
//! let (mut parts, body) = Request::get("http://pbx.local/api/v1/Originate/?b=1&A=2")
//!     .body(Bytes::new()).unwrap().into_parts();
//! let body = signer.sign_parts(&mut parts, body).unwrap();
//! let res = server.clone().oneshot(Request::from_parts(parts, Full::new(body))).await.unwrap();
//! assert_eq!(res.status(), 200);
//!
//! // ...and one that is not.
//! let res = server.oneshot(Request::get("/api/v1/Originate/").body(Full::new(Bytes::new())).unwrap())
//!     .await.unwrap();
//! assert_eq!(res.status(), 401);
//! # }
//! ```

mod framing;
mod scheme;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::header::{AUTHORIZATION, CONTENT_LENGTH};
use http::request::Parts;
use subtle::ConstantTimeEq;
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};
use tower_authn_core::{AuthError, AuthnLayer, CredentialLocation, ErrorKind, Principal};

use crate::canonical::{CanonicalError, CanonicalRequest};
use crate::php::{Array, Key, ParseLimits, Value, parse_str, url_decode};
use crate::respond::WildixErrors;
use crate::sign::X_APP_ID;
use crate::store::{App, AppStore};
use crate::token::{Claims, UnverifiedToken};

pub use scheme::{SignedCredential, SignedRequest};

/// The layer that verifies signed requests: the core [`AuthnLayer`] around a
/// [`SignedRequest`], answering in the Wildix shape. Built by [`SignatureVerifier::layer`].
pub type VerifySignatureLayer<St> = AuthnLayer<SignedRequest<St>>;

/// The scheme name on the principal.
pub const SCHEME: &str = "s2s";

/// Checks signed requests for the apps of an [`AppStore`].
///
/// Defaults: leeway 60 s, maximum token lifetime 3600 s, `iss` must equal the app name,
/// bodies up to 1 MiB, PHP's `parse_str` limits. The layer's options (responder, default
/// [`WildixErrors`]; credential hiding, default: `Authorization` removed) are set on
/// [`layer`](Self::layer)'s [`AuthnLayer`].
pub struct SignatureVerifier<St> {
    store: St,
    clock: SharedClock,
    leeway: Duration,
    max_lifetime: Duration,
    check_issuer: bool,
    body_limit: usize,
    limits: ParseLimits,
}

impl<St: fmt::Debug> fmt::Debug for SignatureVerifier<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field("store", &self.store)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .field("check_issuer", &self.check_issuer)
            .field("body_limit", &self.body_limit)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What the head of a request told us, before the app is looked up.
pub(crate) struct Pending {
    pub(crate) app_id: String,
    pub(crate) token: UnverifiedToken,
}

/// A token whose signature and claims checked out.
pub(crate) struct Verified {
    pub(crate) app_id: String,
    pub(crate) app: App,
    pub(crate) claims: Claims,
}

/// A fixed key for the HMAC we compute when the app is unknown, so that an unknown app
/// costs the same as a wrong signature.
const DUMMY_KEY: &[u8] = b"tower-authn-s2s: no such app, constant work";

impl<St: AppStore> SignatureVerifier<St> {
    /// A verifier for the apps in `store`.
    pub fn new(store: St) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            leeway: Duration::from_secs(60),
            max_lifetime: Duration::from_secs(3600),
            check_issuer: true,
            body_limit: 1024 * 1024,
            limits: ParseLimits::default(),
        }
    }

    /// Uses `clock` for the `iat` / `exp` checks.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How far `iat` may be in the future and `exp` in the past (default 60 s).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest `exp - iat` accepted (default 3600 s).
    pub fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    /// Whether `iss` must equal the app name (default `true`).
    pub fn check_issuer(mut self, check: bool) -> Self {
        self.check_issuer = check;
        self
    }

    /// The largest body buffered, in bytes (default 1 MiB); larger bodies get 413.
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// Bounds for parsing the query string and form bodies.
    pub fn with_parse_limits(mut self, limits: ParseLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The layer that puts this verifier in front of a service: an [`AuthnLayer`] of
    /// [`SignedRequest`], answering in the Wildix shape ([`WildixErrors`]).
    pub fn layer(self) -> VerifySignatureLayer<St> {
        AuthnLayer::from_scheme(SignedRequest::new(self)).responder(WildixErrors)
    }

    /// Verifies a whole request (head and buffered body) without a service around it.
    ///
    /// # Errors
    ///
    /// The [`AuthError`] the layer would answer with.
    pub async fn verify(&self, parts: &Parts, body: &[u8]) -> Result<Principal, AuthError> {
        let at = || CredentialLocation::Headers("X-APP-ID, Authorization".into());
        let pending = self
            .check_head(parts)?
            .ok_or_else(|| AuthError::missing().at(at()))?;
        let found = self.store.find_app(&pending.app_id).await;
        let verified = self.check_token(pending, found)?;
        self.check_body_len(parts, body.len())?;
        self.check_request(parts, body, &verified.claims)?;
        Ok(Self::principal(&verified))
    }

    /// Step 1: `X-APP-ID` and a parseable HS256 bearer token; `None` when either is absent
    /// (or the `Authorization` is not Bearer).
    pub(crate) fn check_head(&self, parts: &Parts) -> Result<Option<Pending>, AuthError> {
        let at = || CredentialLocation::Headers("X-APP-ID, Authorization".into());
        let app_id = framing::single(parts, &X_APP_ID)?;
        let auth = framing::single(parts, &AUTHORIZATION)?;
        let (Some(app_id), Some(auth)) = (app_id, auth) else {
            return Ok(None);
        };
        let app_id = app_id
            .to_str()
            .map_err(|_| AuthError::malformed("X-APP-ID is not visible ASCII").at(at()))?
            .trim();
        if app_id.is_empty() {
            return Err(AuthError::malformed("empty X-APP-ID").at(at()));
        }
        let auth = auth.as_bytes();
        let token = match auth.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => {
                auth.get(7..).unwrap_or_default()
            }
            _ => return Ok(None),
        };
        let token = std::str::from_utf8(token)
            .map_err(|_| AuthError::malformed("bearer token is not ASCII").at(at()))?
            .trim();
        let token = UnverifiedToken::parse(token).map_err(|e| match e {
            crate::token::TokenError::Algorithm => AuthError::invalid("token alg is not HS256"),
            _ => AuthError::malformed("bearer token is not a JWT"),
        })?;
        framing::check_head(parts)?;
        Ok(Some(Pending {
            app_id: app_id.to_owned(),
            token,
        }))
    }

    /// Step 2: the app, the HMAC, and the claims.
    pub(crate) fn check_token(
        &self,
        pending: Pending,
        found: Result<Option<App>, tower_authn_core::StoreError>,
    ) -> Result<Verified, AuthError> {
        let app = match found {
            Ok(Some(app)) => app,
            Ok(None) => {
                // Same work as a wrong signature, same answer.
                let _ = pending.token.verify(DUMMY_KEY);
                return Err(AuthError::invalid("unknown app id"));
            }
            Err(e) => return Err(e.into()),
        };
        if !pending.token.verify(app.key()) {
            return Err(AuthError::invalid("bad token signature"));
        }
        let claims = pending
            .token
            .claims()
            .map_err(|e| AuthError::invalid(format!("token claims: {e}")))?;
        let now = i64::try_from(unix_secs(self.clock.now())).unwrap_or(i64::MAX);
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let max_life = i64::try_from(self.max_lifetime.as_secs()).unwrap_or(i64::MAX);
        if now > claims.exp.saturating_add(leeway) {
            return Err(AuthError::expired("token expired"));
        }
        if claims.iat > now.saturating_add(leeway) {
            return Err(AuthError::invalid("token issued in the future"));
        }
        if claims.exp < claims.iat || claims.exp.saturating_sub(claims.iat) > max_life {
            return Err(AuthError::invalid("token lifetime out of bounds"));
        }
        if self.check_issuer && claims.iss != app.name() {
            return Err(AuthError::invalid("iss is not the app name"));
        }
        if claims.sign.alg != "sha256" {
            return Err(AuthError::invalid("sign.alg is not sha256"));
        }
        let lists = |name: &str| {
            claims
                .sign
                .headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
        };
        if !lists("host") || !lists("x-app-id") {
            return Err(AuthError::invalid("sign.headers lacks Host or X-APP-ID"));
        }
        Ok(Verified {
            app_id: pending.app_id,
            app,
            claims,
        })
    }

    /// The declared body length, against the limit.
    pub(crate) fn check_declared_len(&self, parts: &Parts) -> Result<(), AuthError> {
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match declared {
            Some(n) if n > self.body_limit as u64 => Err(self.too_large()),
            _ => Ok(()),
        }
    }

    fn check_body_len(&self, parts: &Parts, len: usize) -> Result<(), AuthError> {
        self.check_declared_len(parts)?;
        if len > self.body_limit {
            return Err(self.too_large());
        }
        Ok(())
    }

    pub(crate) fn too_large(&self) -> AuthError {
        AuthError::new(ErrorKind::PayloadTooLarge, "request body over the limit")
    }

    pub(crate) fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Step 3: the canonical request rebuilt from what arrived, against `sign.hash`.
    pub(crate) fn check_request(
        &self,
        parts: &Parts,
        body: &[u8],
        claims: &Claims,
    ) -> Result<(), AuthError> {
        let mut headers = Array::new();
        for name in &claims.sign.headers {
            let value = framing::signed_header(parts, name)?;
            headers.insert(Key::from(name.as_str()), Value::Str(value.to_vec()));
        }

        let params = match parts.uri.query() {
            Some(q) => parse_str(q.as_bytes(), &self.limits)
                .map_err(|e| AuthError::malformed(format!("query: {e}")))?,
            None => Array::new(),
        };

        // A body the canonical form does not cover must not reach the inner service.
        let body = framing::body_params(parts, body, &self.limits)?;

        let expected = claims.sign.hash.as_bytes();
        let matches = |path: &[u8]| -> Result<bool, AuthError> {
            let hash = CanonicalRequest {
                method: parts.method.as_str(),
                path,
                headers: &headers,
                params: &params,
                body: &body,
            }
            .hash()
            .map_err(|e| match e {
                CanonicalError::CaseCollision(_) => {
                    AuthError::malformed(format!("parameters: {e}"))
                }
                _ => AuthError::malformed(format!("canonical request: {e}")),
            })?;
            Ok(hash.as_bytes().ct_eq(expected).into())
        };
        let path = parts.uri.path().as_bytes();
        if matches(path)? {
            return Ok(());
        }
        // Safe: `check_head` refused paths whose decoding moves a segment boundary.
        if path.contains(&b'%') && matches(&percent_decode(path))? {
            return Ok(());
        }
        Err(AuthError::invalid("sign.hash does not match the request"))
    }

    pub(crate) fn principal(v: &Verified) -> Principal {
        let expires = u64::try_from(v.claims.exp).unwrap_or(0);
        Principal::app(v.app_id.clone())
            .with_scheme(SCHEME)
            .with_name(v.app.name())
            .with_app_id(v.app_id.clone())
            .with_location(CredentialLocation::Headers(
                "X-APP-ID, Authorization".into(),
            ))
            .with_expires_at(UNIX_EPOCH + Duration::from_secs(expires))
    }

    pub(crate) fn store(&self) -> &St {
        &self.store
    }
}

/// `%XX` decoding only (no `+`), for the fallback path comparison.
fn percent_decode(path: &[u8]) -> Vec<u8> {
    // url_decode also turns `+` into a space; keep `+` as it is in a path.
    let mut out = Vec::with_capacity(path.len());
    for chunk in path.split_inclusive(|&c| c == b'+') {
        let (text, plus) = match chunk.split_last() {
            Some((b'+', rest)) => (rest, true),
            _ => (chunk, false),
        };
        out.extend_from_slice(&url_decode(text));
        if plus {
            out.push(b'+');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decode_keeps_plus() {
        assert_eq!(percent_decode(b"/a%20b+c/%2"), b"/a b+c/%2");
    }
}
