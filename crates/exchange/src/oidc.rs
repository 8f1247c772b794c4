//! OpenID Connect: an ID or access token (a JWT) verified with the keys the provider
//! publishes, found through its discovery document.
//!
//! - Discovery (OpenID Connect Discovery 1.0 §4): `{issuer}/.well-known/openid-configuration`
//!   is fetched on first use; its `issuer` must be the configured one exactly (§4.3), its
//!   `jwks_uri` must be HTTPS unless the issuer itself is plain HTTP (development). Until a
//!   discovery succeeds, requests answer 503; a failed discovery is retried at most once per
//!   [`OidcProvider::with_discovery_retry`] (single-flight), so an outage is not multiplied
//!   by the request rate.
//! - Keys: the `jwks_uri` key set of the JWT crate ([`RemoteJwks`]): cached per
//!   `Cache-Control`, refreshed in the background, refetched once for an unknown `kid`, stale
//!   keys kept for a while when the provider goes down, 503 when no key can be had.
//! - Token: signed with an asymmetric algorithm the provider lists in
//!   `id_token_signing_alg_values_supported` (never HMAC, never `none`: a provider's public
//!   key can never serve as an HMAC secret); `iss` = the issuer; `aud` contains the audience;
//!   `exp` required, `nbf` / `iat` checked. The login is the configured claim (default
//!   `preferred_username`), which must be a non-empty string.
//!
//! ```
//! use bytes::Bytes;
//! use tower_authn_exchange::oidc::OidcProvider;
//! use tower_authn_jwt::FetchError;
//!
//! // In production: HyperFetcher::with_connector(an HTTPS connector).
//! let provider_down = |_request: http::Request<Bytes>| async {
//!     Err::<http::Response<Bytes>, _>(FetchError::new("connection refused"))
//! };
//! let oidc = OidcProvider::new("https://idp.example", "my-api", provider_down)?
//!     .with_user_claim("email");
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! // No discovery document: no key, so no token is accepted (503).
//! let refused = oidc.verify("a.b.c").await.unwrap_err();
//! assert_eq!(refused.status(), http::StatusCode::SERVICE_UNAVAILABLE);
//! # });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::ACCEPT;
use http::{HeaderValue, StatusCode, Uri};
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{AuthError, Principal, Verifier};
use tower_authn_jwt::{
    Algorithm, HttpFetcher, JwtVerifier, KeyFamily, RemoteJwks, RemoteJwksConfig, Validation,
};

use crate::identity::{ExternalIdentity, Provider};

/// The path of the discovery document below the issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The claim the login is read from unless configured otherwise.
pub const DEFAULT_USER_CLAIM: &str = "preferred_username";

/// The configuration could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfigError(String);

impl fmt::Display for OidcConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenID Connect configuration: {}", self.0)
    }
}

impl std::error::Error for OidcConfigError {}

struct Inner {
    issuer: String,
    audience: String,
    user_claim: String,
    fetcher: Arc<dyn HttpFetcher>,
    jwks_config: RemoteJwksConfig,
    verifier: OnceCell<JwtVerifier<RemoteJwks>>,
    /// When the last discovery failed: none is tried again before `retry`.
    failed_at: Mutex<Option<Instant>>,
    retry: Duration,
    timeout: Duration,
}

/// One OpenID Connect provider, one audience. Cheap to clone.
#[derive(Clone)]
pub struct OidcProvider {
    inner: Arc<Inner>,
}

impl fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("user_claim", &self.inner.user_claim)
            .field("discovered", &self.inner.verifier.initialized())
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// Tokens of `issuer` (its discovery document lives below it) meant for `audience`,
    /// fetched through `fetcher` (HTTPS in production).
    ///
    /// # Errors
    ///
    /// [`OidcConfigError`] when the issuer is not an absolute http(s) URL without query or
    /// fragment (Discovery §2), or the audience is empty.
    pub fn new(
        issuer: &str,
        audience: &str,
        fetcher: impl HttpFetcher,
    ) -> Result<Self, OidcConfigError> {
        let uri: Uri = issuer
            .parse()
            .map_err(|_| OidcConfigError(format!("issuer {issuer:?} is not a URL")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https"))
            || uri.authority().is_none()
            || uri.query().is_some()
            || issuer.contains('#')
        {
            return Err(OidcConfigError(format!(
                "issuer {issuer:?} is not an absolute http(s) URL without query"
            )));
        }
        if audience.is_empty() {
            return Err(OidcConfigError("the audience is empty".into()));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: issuer.to_owned(),
                audience: audience.to_owned(),
                user_claim: DEFAULT_USER_CLAIM.to_owned(),
                fetcher: Arc::new(fetcher),
                jwks_config: RemoteJwksConfig::default(),
                verifier: OnceCell::new(),
                failed_at: Mutex::new(None),
                retry: Duration::from_secs(10),
                timeout: Duration::from_secs(5),
            }),
        })
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Arc::get_mut(&mut self.inner).expect("configured before it is cloned")
    }

    /// Reads the login from `claim` (default [`DEFAULT_USER_CLAIM`]).
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    pub fn with_user_claim(mut self, claim: impl Into<String>) -> Self {
        self.inner_mut().user_claim = claim.into();
        self
    }

    /// The timing of the provider's key set (see [`RemoteJwksConfig`]).
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    pub fn with_jwks_config(mut self, config: RemoteJwksConfig) -> Self {
        self.inner_mut().jwks_config = config;
        self
    }

    /// After a failed discovery, the next one waits at least `retry` (default 10 s);
    /// meanwhile requests answer 503 at once.
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    pub fn with_discovery_retry(mut self, retry: Duration) -> Self {
        self.inner_mut().retry = retry;
        self
    }

    /// The time limit of the discovery request (default 5 s).
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.inner_mut().timeout = timeout;
        self
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Fetches the discovery document now (at startup, say) instead of on first use.
    ///
    /// # Errors
    ///
    /// 503 (`unavailable`) when the document cannot be had or is not valid.
    pub async fn discover(&self) -> Result<(), AuthError> {
        self.verifier().await.map(|_| ())
    }

    /// Verifies `token` and returns its user.
    ///
    /// # Errors
    ///
    /// 401 (`invalid` / `expired`) for a token that is not the provider's, not for this
    /// audience, expired, or without the user claim; 503 (`unavailable`) when the provider's
    /// keys cannot be had.
    pub async fn verify(&self, token: &str) -> Result<ExternalIdentity, AuthError> {
        let verifier = self.verifier().await?;
        let verified = verifier.verify_token(token).await?;
        let claims = verified.into_claims();
        let login = match claims.get(&self.inner.user_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(AuthError::invalid("oidc: no user claim")),
        };
        let subject = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => login.clone(),
        };
        Ok(ExternalIdentity::new(Provider::Oidc, subject, login).with_attributes(claims))
    }

    async fn verifier(&self) -> Result<&JwtVerifier<RemoteJwks>, AuthError> {
        if let Some(v) = self.inner.verifier.get() {
            return Ok(v);
        }
        let recently_failed = self
            .inner
            .failed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < self.inner.retry);
        if recently_failed {
            return Err(AuthError::unavailable(
                "oidc: provider discovery failed recently",
            ));
        }
        // Single-flight: concurrent callers wait for this one discovery.
        self.inner
            .verifier
            .get_or_try_init(|| async {
                match self.discover_now().await {
                    Ok(v) => Ok(v),
                    Err(e) => {
                        *self
                            .inner
                            .failed_at
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(Instant::now());
                        Err(e)
                    }
                }
            })
            .await
    }

    async fn discover_now(&self) -> Result<JwtVerifier<RemoteJwks>, AuthError> {
        let inner = &self.inner;
        let url = format!("{}{DISCOVERY_PATH}", inner.issuer.trim_end_matches('/'));
        let request = http::Request::get(url)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(Bytes::new())
            .map_err(|_| AuthError::unavailable("oidc: discovery URL"))?;
        let response = match tokio::time::timeout(inner.timeout, inner.fetcher.fetch(request)).await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!(target: "authn", error = %e, "oidc: discovery failed");
                return Err(AuthError::unavailable("oidc: provider unreachable"));
            }
            Err(_) => return Err(AuthError::unavailable("oidc: provider timed out")),
        };
        if response.status() != StatusCode::OK {
            tracing::warn!(target: "authn", status = %response.status(), "oidc: discovery answered an error");
            return Err(AuthError::unavailable("oidc: discovery answered an error"));
        }
        let document = parse_discovery(response.body(), &inner.issuer).map_err(|e| {
            tracing::warn!(target: "authn", error = %e, "oidc: discovery document refused");
            AuthError::unavailable("oidc: discovery document not usable")
        })?;
        let jwks = RemoteJwks::with_config(
            &document.jwks_uri,
            Arc::clone(&inner.fetcher),
            inner.jwks_config.clone(),
        )
        .map_err(|_| AuthError::unavailable("oidc: jwks_uri not usable"))?;
        Ok(JwtVerifier::with_keys(jwks).with_validation(
            Validation::new()
                .with_algorithms(document.algorithms)
                .with_issuers([inner.issuer.clone()])
                .with_audiences([inner.audience.clone()]),
        ))
    }
}

/// The provider's tokens as a credential of any token layer
/// (`HeaderTokenLayer::bearer(provider)`): the principal is a user whose id is the login
/// claim, scheme `oidc`, with the token's claims as attributes (`sub` among them).
impl Verifier<TokenCredential> for OidcProvider {
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;

    fn verify(&self, credential: TokenCredential) -> Self::Future {
        let provider = self.clone();
        Box::pin(async move {
            let identity = provider.verify(credential.expose()).await?;
            Ok(Principal::user(identity.login)
                .with_scheme(Provider::Oidc.as_str())
                .with_attributes(identity.attributes)
                .with_location(credential.location))
        })
    }
}

/// The identity of a principal this provider's [`Verifier`] proved (the login in `id`, the
/// claims in the attributes), for an [`Exchange`](crate::Exchange) behind a token layer.
pub fn identity_of(principal: &Principal) -> ExternalIdentity {
    let subject = match principal.attributes.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => principal.id.clone(),
    };
    ExternalIdentity::new(Provider::Oidc, subject, principal.id.clone())
        .with_attributes(principal.attributes.as_map().clone())
}

/// What the verifier needs from a discovery document.
#[derive(Debug, PartialEq)]
pub(crate) struct Discovery {
    pub(crate) jwks_uri: String,
    pub(crate) algorithms: Vec<Algorithm>,
}

/// Discovery §4.3: the document's `issuer` is the configured one, exactly; `jwks_uri` is
/// present and HTTPS (plain HTTP only when the issuer itself is). Algorithms: the
/// asymmetric ones among `id_token_signing_alg_values_supported` (all asymmetric ones this
/// crate knows when the provider lists none).
pub(crate) fn parse_discovery(body: &[u8], issuer: &str) -> Result<Discovery, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let doc = doc.as_object().ok_or("not a JSON object")?;
    match doc.get("issuer") {
        Some(Value::String(s)) if s == issuer => {}
        _ => return Err("its issuer is not the configured issuer".into()),
    }
    let jwks_uri = match doc.get("jwks_uri") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err("no jwks_uri".into()),
    };
    let uri: Uri = jwks_uri.parse().map_err(|_| "jwks_uri is not a URL")?;
    let allowed = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => issuer.starts_with("http://"),
        _ => false,
    };
    if !allowed || uri.authority().is_none() {
        return Err("jwks_uri is not an https URL".into());
    }
    let asymmetric = |a: &Algorithm| a.family() != KeyFamily::Hmac;
    let listed: Vec<Algorithm> = match doc.get("id_token_signing_alg_values_supported") {
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|s| s.parse().ok())
            .filter(asymmetric)
            .collect(),
        _ => Vec::new(),
    };
    let algorithms = if listed.is_empty() {
        Algorithm::ALL.into_iter().filter(asymmetric).collect()
    } else {
        listed
    };
    Ok(Discovery {
        jwks_uri,
        algorithms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://idp.example/realms/x";

    fn doc(issuer: &str, jwks: &str, algs: &str) -> String {
        format!(
            r#"{{"issuer":"{issuer}","jwks_uri":"{jwks}","id_token_signing_alg_values_supported":{algs}}}"#
        )
    }

    #[test]
    fn a_good_document() {
        let d = parse_discovery(
            doc(
                ISSUER,
                "https://idp.example/certs",
                r#"["RS256","HS256","none","ES256"]"#,
            )
            .as_bytes(),
            ISSUER,
        )
        .unwrap();
        assert_eq!(d.jwks_uri, "https://idp.example/certs");
        assert_eq!(d.algorithms, [Algorithm::RS256, Algorithm::ES256]);
    }

    #[test]
    fn hmac_only_or_nothing_listed_means_every_asymmetric_algorithm() {
        for algs in [r#"["HS256"]"#, "[]", "null"] {
            let d = parse_discovery(
                doc(ISSUER, "https://idp.example/certs", algs).as_bytes(),
                ISSUER,
            )
            .unwrap();
            assert!(d.algorithms.iter().all(|a| a.family() != KeyFamily::Hmac));
            assert_eq!(d.algorithms.len(), 9);
        }
    }

    #[test]
    fn refused_documents() {
        for (body, why) in [
            (
                doc("https://evil.example", "https://idp.example/certs", "[]"),
                "other issuer",
            ),
            (
                doc(&format!("{ISSUER}/"), "https://idp.example/certs", "[]"),
                "trailing slash",
            ),
            (
                doc(ISSUER, "http://idp.example/certs", "[]"),
                "http jwks for an https issuer",
            ),
            (doc(ISSUER, "file:///etc/passwd", "[]"), "not http"),
            (doc(ISSUER, "/certs", "[]"), "relative"),
            (format!(r#"{{"issuer":"{ISSUER}"}}"#), "no jwks_uri"),
            ("[]".to_owned(), "not an object"),
            ("{".to_owned(), "not JSON"),
        ] {
            assert!(parse_discovery(body.as_bytes(), ISSUER).is_err(), "{why}");
        }
    }

    #[test]
    fn a_plain_http_issuer_may_use_a_plain_http_jwks() {
        let issuer = "http://127.0.0.1:1234";
        assert!(
            parse_discovery(
                doc(issuer, "http://127.0.0.1:1234/jwks", "[]").as_bytes(),
                issuer
            )
            .is_ok()
        );
    }

    #[test]
    fn configuration_errors() {
        let f = |_r: http::Request<Bytes>| async {
            Err::<http::Response<Bytes>, _>(tower_authn_jwt::FetchError::new("x"))
        };
        assert!(OidcProvider::new("idp.example", "a", f).is_err());
        assert!(OidcProvider::new("ftp://idp.example", "a", f).is_err());
        assert!(OidcProvider::new("https://idp.example?x=1", "a", f).is_err());
        assert!(OidcProvider::new("https://idp.example", "", f).is_err());
        assert!(OidcProvider::new("https://idp.example", "a", f).is_ok());
    }
}
