//! Token schemes: a secret in named headers, `Authorization: Bearer`, query parameters,
//! cookies and/or a WebSocket subprotocol entry. One credential per request: a second copy
//! anywhere (two header lines, a header and a query parameter, a header and a cookie, even
//! equal ones) is a 400.
//!
//! # Browsers as clients
//!
//! - [`with_cookie`](HeaderTokenLayer::with_cookie) also reads the token from a cookie
//!   ([`crate::cookies`]: every `Cookie` line, strictly; twice is 400, a bad value 400), and
//!   [`CookieTokenLayer`] reads only a cookie, to compose after the header schemes
//!   (`headers.or(cookie)`). A cookie is not an HTTP authentication scheme: it adds no
//!   `WWW-Authenticate` challenge, so a `CookieTokenLayer` alone answers 401 without one;
//!   compose it with a header scheme. After acceptance the cookie is removed from the
//!   `Cookie` lines (the other cookies kept), whatever
//!   [`hide_credentials`](crate::AuthnLayer::hide_credentials) says.
//! - A browser attaches a cookie to requests from any page, so a request proven by the
//!   cookie whose method is not `GET`/`HEAD`/`OPTIONS` must carry an `Origin` that is the
//!   server's own or one listed with [`allow_origin`](HeaderTokenLayer::allow_origin), else
//!   403 before verification ([`crate::csrf`]). Headers, query parameters and subprotocol
//!   entries are not guarded: a page cannot attach them without holding the token.
//! - [`with_subprotocol`](HeaderTokenLayer::with_subprotocol) reads the token from a
//!   `Sec-WebSocket-Protocol` entry `authn.bearer.<token>` (browsers cannot set headers on a
//!   WebSocket handshake); the entry is removed after acceptance, so the server selects and
//!   echoes only the real protocol. A refusal answers before any upgrade.
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use tower::{Layer, ServiceExt};
//! use tower_authn_core::{HeaderTokenLayer, Principal, SharedTokenVerifier};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let layer = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver")).with_query("token");
//! let svc = layer.layer(tower::service_fn(|req: Request<()>| async move {
//!     // The credential never reaches the inner service: the parameter is gone.
//!     assert_eq!(req.uri(), "/calls?page=2");
//!     Ok::<_, Infallible>(Response::new(Bytes::from(req.extensions().get::<Principal>().unwrap().id.clone())))
//! }));
//! let req = Request::get("/calls?token=s3rver&page=2").body(()).unwrap();
//! assert_eq!(svc.clone().oneshot(req).await.unwrap().into_body(), "server");
//!
//! // Header and query together, even equal, is a 400.
//! let req = Request::get("/calls?token=s3rver").header("x-auth-token", "s3rver").body(()).unwrap();
//! assert_eq!(svc.oneshot(req).await.unwrap().status(), 400);
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;

use http::HeaderName;
use http::header::AUTHORIZATION;
use http::request::Parts;

use super::DEFAULT_REALM;
use crate::authn::AuthnLayer;
use crate::challenge::Challenge;
use crate::combinator::WithLocation;
use crate::cookies::{cookie_values, is_cookie_name, remove_cookies};
use crate::credential::{PresentedSecret, TokenCredential};
use crate::csrf::AllowedOrigins;
use crate::error::{AuthError, ErrorKind};
use crate::head::{
    AuthorizationMatch, SUBPROTOCOL_PREFIX, authorization_credentials, hide_authorization,
    hide_header, hide_query, is_token68, query_values, remove_subprotocol_tokens,
    subprotocol_tokens,
};
use crate::principal::CredentialLocation;
use crate::scheme::{CredentialSlot, Extraction, HideCredentials, Scheme};
use crate::verifier::Verifier;

/// Where a token scheme looks, and how it introduces itself in challenges.
#[derive(Clone, Debug)]
struct TokenSpec {
    headers: Vec<HeaderName>,
    /// The first header as configured (`X-Auth-Token`), for the challenge; `HeaderName`
    /// keeps only the lowercase form.
    header_label: Option<Cow<'static, str>>,
    bearer: bool,
    queries: Vec<Cow<'static, str>>,
    cookies: Vec<Cow<'static, str>>,
    /// Whether a `Sec-WebSocket-Protocol` entry `authn.bearer.<token>` carries the token.
    subprotocol: bool,
    /// Besides the server's own, the origins whose pages may send state-changing requests
    /// proven by the cookie.
    origins: AllowedOrigins,
    realm: Cow<'static, str>,
    challenge: Cow<'static, str>,
    label: &'static str,
}

/// A visible-ASCII token: what every platform's tokens, keys and JWTs are.
fn is_token_text(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|b| b.is_ascii_graphic())
}

/// The token in `value` from byte `skip` on, sharing the header's bytes, when `valid`
/// (the scheme's check of those bytes); else 400 with `malformed`.
fn header_token(
    value: &http::HeaderValue,
    skip: usize,
    valid: bool,
    at: &CredentialLocation,
    malformed: &'static str,
) -> Result<TokenCredential, AuthError> {
    match valid
        .then(|| PresentedSecret::from_header(value, skip))
        .flatten()
    {
        Some(token) => Ok(TokenCredential {
            token,
            location: at.clone(),
        }),
        None => Err(AuthError::malformed(malformed).at(at.clone())),
    }
}

impl TokenSpec {
    fn add_header(&mut self, name: &str) {
        self.headers.push(header_name(name));
        if self.header_label.is_none() {
            self.header_label = Some(Cow::Owned(name.to_owned()));
        }
    }

    fn add_cookie(&mut self, name: Cow<'static, str>) {
        assert!(
            is_cookie_name(&name),
            "invalid cookie name for a token scheme: {name:?}"
        );
        if !self.cookies.contains(&name) {
            self.cookies.push(name);
        }
    }

    fn new(label: &'static str, challenge: &'static str) -> Self {
        Self {
            headers: Vec::new(),
            header_label: None,
            bearer: false,
            queries: Vec::new(),
            cookies: Vec::new(),
            subprotocol: false,
            origins: AllowedOrigins::default(),
            realm: Cow::Borrowed(DEFAULT_REALM),
            challenge: Cow::Borrowed(challenge),
            label,
        }
    }

    fn extract(&self, head: &Parts) -> Extraction<TokenCredential> {
        let mut found: Option<Result<TokenCredential, AuthError>> = None;
        let mut take = |candidate: Result<TokenCredential, AuthError>, at: &CredentialLocation| {
            if found.is_some() {
                return Err(AuthError::duplicate(format!(
                    "token sent more than once (again at {at})"
                ))
                .at(at.clone()));
            }
            found = Some(candidate);
            Ok(())
        };
        for name in &self.headers {
            for value in head.headers.get_all(name) {
                let at = CredentialLocation::Header(name.clone());
                let candidate = header_token(
                    value,
                    0,
                    is_token_text(value.as_bytes()),
                    &at,
                    "token header is not visible ASCII",
                );
                if let Err(e) = take(candidate, &at) {
                    return Extraction::Rejected(e);
                }
            }
        }
        if self.bearer {
            let at = CredentialLocation::Authorization(Cow::Borrowed("Bearer"));
            let lines = head.headers.get_all(AUTHORIZATION);
            // Each line parsed once: the first that names Bearer, with what follows the name.
            let bearer = lines.iter().find_map(|v| {
                match authorization_credentials(v.as_bytes(), "Bearer") {
                    AuthorizationMatch::Other => None,
                    found => Some((v, found)),
                }
            });
            if let Some((value, found)) = bearer {
                if lines.iter().nth(1).is_some() {
                    // Authorization is a singleton; two lines are ambiguous whatever their schemes.
                    return Extraction::Rejected(
                        AuthError::duplicate("two Authorization header lines").at(at),
                    );
                }
                // RFC 6750 §2.1: exactly one b64token, after exactly one space.
                let candidate = match found {
                    AuthorizationMatch::Credentials(rest) => header_token(
                        value,
                        value.len() - rest.len(),
                        is_token68(rest),
                        &at,
                        "bearer: not a b64token",
                    ),
                    AuthorizationMatch::BadSeparator => Err(AuthError::malformed(
                        "bearer: not exactly one space before the token",
                    )
                    .at(at.clone())),
                    AuthorizationMatch::Empty | AuthorizationMatch::Other => {
                        Err(AuthError::malformed("bearer: no token").at(at.clone()))
                    }
                };
                if let Err(e) = take(candidate, &at) {
                    return Extraction::Rejected(e);
                }
            }
        }
        for name in &self.queries {
            for value in query_values(&head.uri, name) {
                let at = CredentialLocation::Query(name.clone());
                let candidate = if is_token_text(value.as_bytes()) {
                    Ok(TokenCredential::new(value.into_owned(), at.clone()))
                } else {
                    Err(AuthError::malformed("query token is not visible ASCII").at(at.clone()))
                };
                if let Err(e) = take(candidate, &at) {
                    return Extraction::Rejected(e);
                }
            }
        }
        for name in &self.cookies {
            let at = CredentialLocation::Cookie(name.clone());
            for value in cookie_values(&head.headers, name) {
                let candidate = match value {
                    Ok(token) => Ok(TokenCredential {
                        token,
                        location: at.clone(),
                    }),
                    Err(why) => Err(AuthError::malformed(why).at(at.clone())),
                };
                if let Err(e) = take(candidate, &at) {
                    return Extraction::Rejected(e);
                }
            }
        }
        if self.subprotocol {
            let at = CredentialLocation::Subprotocol(Cow::Borrowed(SUBPROTOCOL_PREFIX));
            for token in subprotocol_tokens(&head.headers) {
                let candidate = token
                    .map(|t| TokenCredential::new(t, at.clone()))
                    .map_err(|why| AuthError::malformed(why).at(at.clone()));
                if let Err(e) = take(candidate, &at) {
                    return Extraction::Rejected(e);
                }
            }
        }
        match found {
            None => Extraction::Absent,
            Some(Ok(c)) => {
                // A browser attaches the cookie by itself, whichever page sent the request.
                if matches!(c.location, CredentialLocation::Cookie(_)) {
                    if let Err(e) = self.origins.check(head) {
                        return Extraction::Rejected(e.at(c.location));
                    }
                }
                Extraction::Found(c)
            }
            Some(Err(e)) => Extraction::Rejected(e),
        }
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        for name in &self.headers {
            hide_header(&mut head.headers, name, mode);
        }
        if self.bearer {
            hide_authorization(&mut head.headers, "bearer", mode);
        }
        hide_query(head, &self.queries);
        // Always removed, like query parameters: other cookies and protocols share the line.
        remove_cookies(&mut head.headers, &self.cookies);
        if self.subprotocol {
            remove_subprotocol_tokens(&mut head.headers);
        }
    }

    fn slots(&self, out: &mut Vec<CredentialSlot>) {
        out.extend(self.headers.iter().cloned().map(CredentialSlot::Header));
        if self.bearer {
            out.push(CredentialSlot::Authorization("bearer"));
        }
        out.extend(self.queries.iter().cloned().map(CredentialSlot::Query));
        out.extend(self.cookies.iter().cloned().map(CredentialSlot::Cookie));
        if self.subprotocol {
            out.push(CredentialSlot::Subprotocol(Cow::Borrowed(
                SUBPROTOCOL_PREFIX,
            )));
        }
    }

    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        if self.bearer {
            let mut c = Challenge::new("Bearer").realm(self.realm.clone());
            let ours = error.filter(|e| {
                matches!(e.location(), Some(CredentialLocation::Authorization(s)) if s.eq_ignore_ascii_case("bearer"))
            });
            if let Some(e) = ours {
                // RFC 6750 §3.1 error codes for a bearer token that was presented.
                let code = match e.kind() {
                    ErrorKind::MalformedCredentials | ErrorKind::DuplicateCredentials => {
                        Some("invalid_request")
                    }
                    ErrorKind::InvalidCredentials | ErrorKind::Expired | ErrorKind::Revoked => {
                        Some("invalid_token")
                    }
                    ErrorKind::Forbidden => Some("insufficient_scope"),
                    _ => None,
                };
                if let Some(code) = code {
                    c = c
                        .param("error", code)
                        .param("error_description", e.message());
                }
            }
            out.push(c);
        }
        if !self.headers.is_empty() || !self.queries.is_empty() {
            let mut c = Challenge::new(self.challenge.clone()).realm(self.realm.clone());
            if let Some(h) = &self.header_label {
                c = c.param("header", h.clone());
            }
            if let Some(q) = self.queries.first() {
                c = c.param("query", q.clone());
            }
            out.push(c);
        }
    }
}

fn header_name(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes())
        .unwrap_or_else(|_| panic!("invalid header name for a token scheme: {name:?}"))
}

macro_rules! token_scheme {
    ($(#[$doc:meta])* $scheme:ident, $layer:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $scheme<V> {
            spec: TokenSpec,
            verifier: V,
        }

        impl<V> fmt::Debug for $scheme<V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($scheme)).field("spec", &self.spec).finish_non_exhaustive()
            }
        }

        impl<V: Verifier<TokenCredential>> Scheme for $scheme<V> {
            type Credential = TokenCredential;
            type Future = WithLocation<V::Future>;
            type Body = crate::scheme::NoBody;

            fn extract(&self, head: &Parts) -> Extraction<TokenCredential> {
                self.spec.extract(head)
            }

            fn verify(&self, credential: TokenCredential) -> Self::Future {
                let location = credential.location.clone();
                WithLocation::new(self.verifier.verify(credential), location, self.spec.label)
            }

            fn hide(&self, head: &mut Parts, mode: HideCredentials) {
                self.spec.hide(head, mode);
            }

            fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>) {
                self.spec.challenges(error, out);
            }

            fn slots(&self, out: &mut Vec<crate::scheme::CredentialSlot>) {
                self.spec.slots(out);
            }
        }

        impl<V: Verifier<TokenCredential>> AuthnLayer<$scheme<V>> {
            /// Also accepts the token in header `name`.
            ///
            /// # Panics
            ///
            /// When `name` is not a valid header name (a configuration error).
            pub fn with_header(self, name: &str) -> Self {
                self.map_scheme(|mut s| {
                    s.spec.add_header(name);
                    s
                })
            }

            /// Also accepts the token as `Authorization: Bearer <token>` (RFC 6750).
            pub fn with_bearer(self) -> Self {
                self.map_scheme(|mut s| {
                    s.spec.bearer = true;
                    s
                })
            }

            /// Also accepts the token in query parameter `name` (removed from the URI
            /// before the inner service sees it).
            pub fn with_query(self, name: impl Into<Cow<'static, str>>) -> Self {
                let name = name.into();
                self.map_scheme(|mut s| {
                    s.spec.queries.push(name);
                    s
                })
            }

            /// Also accepts the token in cookie `name` (every `Cookie` line is read; the
            /// cookie twice, or with an empty or non-`cookie-octet` value, is 400). The
            /// cookie adds no challenge, and is removed from the `Cookie` lines after
            /// acceptance (the other cookies stay).
            ///
            /// A request proven by the cookie whose method is not `GET`, `HEAD` or
            /// `OPTIONS` must carry an `Origin` that is the server's own or an
            /// [allowed](Self::allow_origin) one, else 403 before verification (cross-site
            /// request forgery; [`crate::csrf`]).
            ///
            /// # Panics
            ///
            /// When `name` is not a cookie name (an RFC 9110 token; a configuration error).
            pub fn with_cookie(self, name: impl Into<Cow<'static, str>>) -> Self {
                let name = name.into();
                self.map_scheme(|mut s| {
                    s.spec.add_cookie(name);
                    s
                })
            }

            /// Also accepts the token as a `Sec-WebSocket-Protocol` entry
            /// `authn.bearer.<token>` (RFC 6455 §4.1; the token must be RFC 9110 token
            /// characters, as JWTs and base64url tokens are). Two such entries are 400, a
            /// bad one 400. After acceptance the entry is removed from the header, the
            /// other entries kept, so the handler selects the real protocol (`cti`) and
            /// never echoes the token. A refusal is answered by the layer, before any
            /// upgrade.
            pub fn with_subprotocol(self) -> Self {
                self.map_scheme(|mut s| {
                    s.spec.subprotocol = true;
                    s
                })
            }

            /// Lets pages of `origin` (`https://app.example`) send state-changing requests
            /// proven by the [cookie](Self::with_cookie), besides the server's own origin
            /// (compared ASCII-case-insensitively; [`crate::csrf`]).
            ///
            /// # Panics
            ///
            /// When `origin` is not a serialized origin: `http://` or `https://`, a host,
            /// an optional port, no path (not even a trailing `/`) (a configuration error).
            pub fn allow_origin(self, origin: &str) -> Self {
                self.map_scheme(|mut s| {
                    s.spec.origins.allow(origin);
                    s
                })
            }

            /// [`allow_origin`](Self::allow_origin) for each of `origins`.
            ///
            /// # Panics
            ///
            /// When one is not a serialized origin (a configuration error).
            pub fn allow_origins<I>(self, origins: I) -> Self
            where
                I: IntoIterator,
                I::Item: AsRef<str>,
            {
                self.map_scheme(|mut s| {
                    for origin in origins {
                        s.spec.origins.allow(origin.as_ref());
                    }
                    s
                })
            }

            /// Sets the realm of the challenges.
            pub fn realm(self, realm: impl Into<Cow<'static, str>>) -> Self {
                let realm = realm.into();
                self.map_scheme(|mut s| {
                    s.spec.realm = realm;
                    s
                })
            }

            /// Sets the auth-scheme named in the challenge for header and query tokens.
            pub fn challenge_scheme(self, scheme: impl Into<Cow<'static, str>>) -> Self {
                let scheme = scheme.into();
                self.map_scheme(|mut s| {
                    s.spec.challenge = scheme;
                    s
                })
            }

            /// Sets the scheme name recorded on principals whose verifier sets none.
            pub fn scheme_name(self, label: &'static str) -> Self {
                self.map_scheme(|mut s| {
                    s.spec.label = label;
                    s
                })
            }
        }
    };
}

token_scheme!(
    /// A token in a named header (`X-Auth-Token`, ...) and/or `Authorization: Bearer`.
    HeaderToken,
    HeaderTokenLayer
);
token_scheme!(
    /// A token in a query parameter (`?token=`, `?jwt=`, ...).
    QueryToken,
    QueryTokenLayer
);
token_scheme!(
    /// A device token in `X-Device-AuthToken`.
    DeviceToken,
    DeviceTokenLayer
);
token_scheme!(
    /// An app API key in a header of its own.
    AppApiKey,
    AppApiKeyLayer
);
token_scheme!(
    /// A token in a cookie (a session cookie), with the cross-site request guard.
    CookieToken,
    CookieTokenLayer
);

/// A token in a named header and/or `Authorization: Bearer`.
///
/// ```
/// use tower_authn_core::{HeaderTokenLayer, SharedTokenVerifier};
///
/// // XiVO: the shared server token in X-Auth-Token or ?token=.
/// let shared = SharedTokenVerifier::new("s3cret-server-token");
/// let layer = HeaderTokenLayer::new("X-Auth-Token", shared).with_query("token");
/// # let _ = layer;
/// ```
pub type HeaderTokenLayer<V> = AuthnLayer<HeaderToken<V>>;

impl<V: Verifier<TokenCredential>> AuthnLayer<HeaderToken<V>> {
    /// A token in header `name`; scheme name `token`.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid header name (a configuration error).
    pub fn new(name: &str, verifier: V) -> Self {
        let mut spec = TokenSpec::new("token", "Token");
        spec.add_header(name);
        AuthnLayer::from_scheme(HeaderToken { spec, verifier })
    }

    /// A token in `Authorization: Bearer <token>` only (RFC 6750 §2.1).
    pub fn bearer(verifier: V) -> Self {
        let mut spec = TokenSpec::new("token", "Token");
        spec.bearer = true;
        AuthnLayer::from_scheme(HeaderToken { spec, verifier })
    }
}

/// A token in a query parameter, removed from the URI before the inner service sees it.
///
/// ```
/// use tower_authn_core::{QueryTokenLayer, SharedTokenVerifier};
///
/// let layer = QueryTokenLayer::new("token", SharedTokenVerifier::new("s3cret"));
/// # let _ = layer;
/// ```
pub type QueryTokenLayer<V> = AuthnLayer<QueryToken<V>>;

impl<V: Verifier<TokenCredential>> AuthnLayer<QueryToken<V>> {
    /// A token in query parameter `name`; scheme name `token`.
    pub fn new(name: impl Into<Cow<'static, str>>, verifier: V) -> Self {
        let mut spec = TokenSpec::new("token", "Token");
        spec.queries.push(name.into());
        AuthnLayer::from_scheme(QueryToken { spec, verifier })
    }
}

/// A device token in a header of its own (Volt MX's is `X-Device-AuthToken`).
///
/// ```
/// use tower_authn_core::{DeviceTokenLayer, KeyStoreExt, memory::{KeyKind, MemoryKeyStore}};
///
/// let keys = MemoryKeyStore::new();
/// let layer = DeviceTokenLayer::new("X-Device-AuthToken", keys.verifier(KeyKind::DeviceToken));
/// # let _ = layer;
/// ```
pub type DeviceTokenLayer<V> = AuthnLayer<DeviceToken<V>>;

impl<V: Verifier<TokenCredential>> AuthnLayer<DeviceToken<V>> {
    /// A device token in header `name`; scheme name `device-token`.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid header name (a configuration error).
    pub fn new(name: &str, verifier: V) -> Self {
        let mut spec = TokenSpec::new("device-token", "DeviceToken");
        spec.add_header(name);
        AuthnLayer::from_scheme(DeviceToken { spec, verifier })
    }
}

/// An app API key in a header of its own (Volt MX's is `X-VoltMX-App-API-Key`).
///
/// ```
/// use tower_authn_core::{AppApiKeyLayer, KeyStoreExt, memory::{KeyKind, MemoryKeyStore}};
///
/// let keys = MemoryKeyStore::new();
/// let layer = AppApiKeyLayer::new("X-App-Key", keys.verifier(KeyKind::AppApiKey));
/// # let _ = layer;
/// ```
pub type AppApiKeyLayer<V> = AuthnLayer<AppApiKey<V>>;

impl<V: Verifier<TokenCredential>> AuthnLayer<AppApiKey<V>> {
    /// An app key in header `name`; scheme name `app-api-key`.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid header name (a configuration error).
    pub fn new(name: &str, verifier: V) -> Self {
        let mut spec = TokenSpec::new("app-api-key", "ApiKey");
        spec.add_header(name);
        AuthnLayer::from_scheme(AppApiKey { spec, verifier })
    }
}

/// A token in a cookie only (a browser's session cookie), scheme name `cookie`: compose it
/// after the header schemes (`headers.or(cookie)`), so a request with a header token is
/// decided by it.
///
/// A cookie is not an HTTP authentication scheme, so this layer adds no `WWW-Authenticate`
/// challenge: alone it answers 401 without one (RFC 9110 wants one on a 401), which is why it
/// belongs beside a header scheme. A state-changing request (not `GET`/`HEAD`/`OPTIONS`)
/// proven by the cookie needs an `Origin` that is the server's own or an
/// [allowed](AuthnLayer::<CookieToken<V>>::allow_origin) one, else 403 before verification.
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use tower::{Layer, ServiceExt};
/// use tower_authn_core::{CookieTokenLayer, HeaderTokenLayer, SharedTokenVerifier};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let verifier = SharedTokenVerifier::new("s3ssion");
/// let layer = HeaderTokenLayer::bearer(verifier.clone())
///     .or(CookieTokenLayer::new("authn_session", verifier).allow_origin("https://app.example"));
/// let svc = layer.layer(tower::service_fn(|req: Request<()>| async move {
///     // The session cookie is gone, the others stay.
///     assert_eq!(req.headers()["cookie"], "theme=dark");
///     Ok::<_, Infallible>(Response::new(Bytes::new()))
/// }));
///
/// let post = |origin: &str| {
///     Request::post("/calls")
///         .header("host", "gw.example")
///         .header("origin", origin)
///         .header("cookie", "authn_session=s3ssion; theme=dark")
///         .body(())
///         .unwrap()
/// };
/// assert_eq!(svc.clone().oneshot(post("https://app.example")).await.unwrap().status(), 200);
/// assert_eq!(svc.clone().oneshot(post("https://gw.example")).await.unwrap().status(), 200);
/// assert_eq!(svc.oneshot(post("https://evil.example")).await.unwrap().status(), 403);
/// # }
/// ```
pub type CookieTokenLayer<V> = AuthnLayer<CookieToken<V>>;

impl<V: Verifier<TokenCredential>> AuthnLayer<CookieToken<V>> {
    /// A token in cookie `name`; scheme name `cookie`.
    ///
    /// # Panics
    ///
    /// When `name` is not a cookie name (an RFC 9110 token; a configuration error).
    pub fn new(name: impl Into<Cow<'static, str>>, verifier: V) -> Self {
        let mut spec = TokenSpec::new("cookie", "Token");
        spec.add_cookie(name.into());
        AuthnLayer::from_scheme(CookieToken { spec, verifier })
    }
}
