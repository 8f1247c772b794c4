//! Forward authentication for other proxies (GATEWAY.md "Forward authentication for other
//! proxies"): nginx `auth_request`, Traefik `ForwardAuth` and Envoy `ext_authz` ask
//! `/forward-auth` about the original request; the answer is only what they understand.
//!
//! - The original URI (its query carries `?token=` and the like) is read from
//!   `X-Original-URI` (nginx) or `X-Forwarded-Uri` (Traefik), and only when the peer is a
//!   trusted proxy: anyone else could otherwise make the gateway judge a URI of their choice.
//! - `200` with an empty body and the identity in `X-Authn-Id`, `-Kind`, `-Scheme`, `-Roles`
//!   and `-Assertion` (an ES256 JWT for the upstream, 60 s, key at `/.well-known/jwks.json`);
//!   `401` with the challenges (in one `WWW-Authenticate` field, which every proxy passes
//!   on whole), `403`, `503`, each with its code in `X-Authn-Error` and no body.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, get};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use sha2::{Digest, Sha256};
use tower_authn::https_redirect::TrustedProxies;
use tower_authn::jwt::{Claims, JwtIssuer, SigningKey};
use tower_authn::{AuthError, Principal};

/// The path proxies ask (and any path below it, for Traefik's per-route addresses).
pub(crate) const PATH: &str = "/forward-auth";
/// Where the assertion key is published.
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";
/// How long an assertion is good for: one hop, now.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

const ID: HeaderName = HeaderName::from_static("x-authn-id");
const KIND: HeaderName = HeaderName::from_static("x-authn-kind");
const SCHEME: HeaderName = HeaderName::from_static("x-authn-scheme");
const ROLES: HeaderName = HeaderName::from_static("x-authn-roles");
const ASSERTION: HeaderName = HeaderName::from_static("x-authn-assertion");
const ERROR: HeaderName = HeaderName::from_static("x-authn-error");

/// The original URI headers, in the order they are read.
const ORIGINAL_URI: [&str; 2] = ["x-original-uri", "x-forwarded-uri"];

/// Signs the assertions and publishes their key.
pub(crate) struct Assertions {
    issuer: JwtIssuer,
    jwks: Bytes,
}

impl std::fmt::Debug for Assertions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertions").finish_non_exhaustive()
    }
}

impl Assertions {
    /// ES256 with the PKCS#8 PEM key `pem` (`GATEWAY_ASSERTION_KEY`), or a key made for this
    /// run; `iss` = `issuer`. The key id is the RFC 7638 thumbprint of the public key.
    pub(crate) fn new(pem: Option<&str>, issuer: &str) -> Result<Self, Box<dyn Error>> {
        let pem = match pem {
            Some(pem) => pem.to_owned(),
            None => random_p256_pem()?,
        };
        let key = SigningKey::ec_pem(pem.as_bytes())
            .map_err(|e| format!("GATEWAY_ASSERTION_KEY: not a P-256 PKCS#8 PEM key: {e}"))?;
        let public = key.public_jwk()?;
        let kid = thumbprint(&public)?;
        let key = key.with_kid(kid);
        let jwks = serde_json::json!({ "keys": [key.public_jwk()?] }).to_string();
        Ok(Self {
            issuer: JwtIssuer::new(key)
                .with_issuer(issuer)
                .with_lifetime(ASSERTION_LIFETIME),
            jwks: Bytes::from(jwks),
        })
    }

    fn sign(&self, p: &Principal) -> Result<String, AuthError> {
        let claims = Claims::new()
            .with("sub", p.id.as_str())
            .with("kind", p.kind.as_str())
            .with("scheme", &*p.scheme)
            .with("roles", p.roles.clone());
        self.issuer
            .issue(claims)
            .map_err(|e| AuthError::unavailable(format!("cannot sign the assertion: {e}")))
    }
}

fn random_p256_pem() -> Result<String, Box<dyn Error>> {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    Ok(key.to_pkcs8_pem(LineEnding::LF)?.to_string())
}

/// RFC 7638: SHA-256 of the required members in lexicographic order, base64url.
fn thumbprint(jwk: &serde_json::Value) -> Result<String, Box<dyn Error>> {
    let member = |k: &str| {
        jwk[k]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("public key without {k}"))
    };
    let canonical = format!(
        r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
        member("crv")?,
        member("kty")?,
        member("x")?,
        member("y")?
    );
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(canonical)))
}

/// The refusal shape: no body (proxies drop it), the code in `X-Authn-Error`; the engine
/// adds the `WWW-Authenticate` challenges to a 401.
pub(crate) fn errors(error: &AuthError) -> http::Response<Bytes> {
    let mut res = http::Response::new(Bytes::new());
    *res.status_mut() = error.status();
    res.headers_mut()
        .insert(ERROR, HeaderValue::from_static(error.code()));
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `/forward-auth`, `/forward-auth/...` behind `auth` (the schemes `/whoami` accepts but
/// signed requests, in the shape of [`errors`]), and the assertion key set.
pub(crate) fn router<L>(auth: L, assertions: Arc<Assertions>, trusted: TrustedProxies) -> Router
where
    L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    L::Service:
        tower::Service<Request, Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
    <L::Service as tower::Service<Request>>::Response: axum::response::IntoResponse + 'static,
    <L::Service as tower::Service<Request>>::Future: Send + 'static,
{
    let jwks = assertions.jwks.clone();
    Router::new()
        .route(PATH, any(grant))
        .route(&format!("{PATH}/{{*rest}}"), any(grant))
        .route_layer(auth)
        .with_state(assertions)
        // Outside the auth layer: the schemes must see the original URI's query.
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(trusted),
            original_uri,
        ))
        .route(
            JWKS_PATH,
            get(move || {
                let jwks = jwks.clone();
                async move {
                    let mut res = Response::new(Body::from(jwks));
                    let h = res.headers_mut();
                    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    h.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
                    res
                }
            }),
        )
}

/// The original URI a trusted proxy names, as a path and query; `Err` for a value that is
/// not one (two different values, or not an absolute path).
fn named_uri(headers: &HeaderMap) -> Result<Option<Uri>, ()> {
    let mut found: Option<&HeaderValue> = None;
    for name in ORIGINAL_URI {
        for value in headers.get_all(name) {
            match found {
                Some(f) if f != value => return Err(()),
                _ => found = Some(value),
            }
        }
    }
    let Some(value) = found else {
        return Ok(None);
    };
    let uri: Uri = value.to_str().map_err(|_| ())?.parse().map_err(|_| ())?;
    if uri.scheme().is_some() || !uri.path().starts_with('/') {
        return Err(());
    }
    Ok(Some(uri))
}

async fn original_uri(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let trusted_peer = tower_authn::axum::connect_info_peer(request.extensions())
        .is_some_and(|ip| trusted.contains(ip));
    if trusted_peer {
        match named_uri(request.headers()) {
            Ok(Some(uri)) => *request.uri_mut() = uri,
            Ok(None) => {}
            Err(()) => {
                return errors(&AuthError::malformed("forward-auth: bad original URI"))
                    .map(Body::from);
            }
        }
    }
    // From anyone else the headers are ignored: the query judged is the request's own.
    let mut res = next.run(request).await;
    join_challenges(res.headers_mut());
    res
}

/// One `WWW-Authenticate` field holding every challenge (RFC 9110 §11.6.1 allows a list):
/// nginx before 1.23 passes only the first field of an `auth_request` refusal on.
fn join_challenges(headers: &mut HeaderMap) {
    let values: Vec<HeaderValue> = headers.get_all(WWW_AUTHENTICATE).iter().cloned().collect();
    if values.len() < 2 {
        return;
    }
    let joined = values
        .iter()
        .map(HeaderValue::as_bytes)
        .collect::<Vec<_>>()
        .join(&b", "[..]);
    if let Ok(joined) = HeaderValue::from_bytes(&joined) {
        headers.insert(WWW_AUTHENTICATE, joined);
    }
}

fn header_text(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_bytes(text.as_bytes()).ok()
}

async fn grant(State(assertions): State<Arc<Assertions>>, principal: Principal) -> Response {
    let assertion = match assertions.sign(&principal) {
        Ok(a) => a,
        Err(e) => return errors(&e).map(Body::from),
    };
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in [
        (ID, principal.id.as_str()),
        (KIND, principal.kind.as_str()),
        (SCHEME, &*principal.scheme),
        (ROLES, &principal.roles.join(",")),
        (ASSERTION, assertion.as_str()),
    ] {
        // An id no header can carry (a control character) is refused rather than cut.
        let Some(value) = header_text(value) else {
            return errors(&AuthError::forbidden(
                "forward-auth: the identity does not fit a header",
            ))
            .map(Body::from);
        };
        h.insert(name, value);
    }
    res
}
