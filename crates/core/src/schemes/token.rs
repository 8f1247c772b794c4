//! Token schemes: a secret in named headers, `Authorization: Bearer` and/or query
//! parameters. One credential per request: a second copy anywhere (two header lines, a
//! header and a query parameter, even equal ones) is a 400.
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
use crate::credential::{PresentedSecret, TokenCredential};
use crate::error::{AuthError, ErrorKind};
use crate::head::{
    AuthorizationMatch, authorization_credentials, hide_authorization, hide_header, hide_query,
    is_token68, query_values,
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

    fn new(label: &'static str, challenge: &'static str) -> Self {
        Self {
            headers: Vec::new(),
            header_label: None,
            bearer: false,
            queries: Vec::new(),
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
            let is_bearer = |v: &&http::HeaderValue| {
                authorization_credentials(v.as_bytes(), "Bearer") != AuthorizationMatch::Other
            };
            if let Some(value) = lines.iter().find(is_bearer) {
                if lines.iter().nth(1).is_some() {
                    // Authorization is a singleton; two lines are ambiguous whatever their schemes.
                    return Extraction::Rejected(
                        AuthError::duplicate("two Authorization header lines").at(at),
                    );
                }
                // RFC 6750 §2.1: exactly one b64token, after exactly one space.
                let candidate = match authorization_credentials(value.as_bytes(), "Bearer") {
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
        match found {
            None => Extraction::Absent,
            Some(Ok(c)) => Extraction::Found(c),
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
    }

    fn slots(&self, out: &mut Vec<CredentialSlot>) {
        out.extend(self.headers.iter().cloned().map(CredentialSlot::Header));
        if self.bearer {
            out.push(CredentialSlot::Authorization("bearer"));
        }
        out.extend(self.queries.iter().cloned().map(CredentialSlot::Query));
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
