//! Google CCAI Platform: the token endpoint a host serves to its embedded SDKs, and the
//! matching verifier.
//!
//! The token is HS256 with the company secret, header `{"alg":"HS256","typ":"JWT"}`, claims
//! exactly `iss` (the company), `iat`, `exp = iat + 3600`, `identifier`, `name`, `email`, in
//! that order. [`CcaiTokenEndpoint`] is a tower `Service` to mount behind an auth layer: it
//! reads the [`Principal`] from the request extensions and answers `200 {"token": "..."}`
//! with `Cache-Control: no-store`, or 401 when no principal is there.
//!
//! ```
//! use tower_authn_core::clock::ManualClock;
//! use tower_authn_jwt::ccai::CcaiIssuer;
//!
//! let issuer = CcaiIssuer::new("ACME", "a company secret of 32 bytes or more")?
//!     .with_clock(ManualClock::at_unix(1_700_000_000));
//! let token = issuer.issue("5b3c1d2e", "Alice Example", "alice@example.com")?;
//! let principal = issuer.verifier().authenticate(&token).unwrap();
//! assert_eq!(principal.id, "5b3c1d2e");
//! assert_eq!(principal.scheme, "ccai");
//! // axum: .route_service("/ccai/token", CcaiTokenEndpoint::new(issuer)) behind an auth layer
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use http::{HeaderValue, StatusCode};
use http_body_util::Full;
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};
use tower_authn_core::{AuthError, Principal};
use tower_service::Service;

use crate::algorithm::Algorithm;
use crate::issue::{Claims, IssueError, sign};
use crate::key::{KeyError, KeySet, SigningKey, VerifyingKey};
use crate::mapping::ClaimsMapping;
use crate::validation::Validation;
use crate::verify::JwtVerifier;

/// A CCAI token lives one hour.
pub const LIFETIME: Duration = Duration::from_secs(3600);

/// Signs CCAI Platform tokens for one company.
#[derive(Clone)]
pub struct CcaiIssuer {
    company: String,
    key: SigningKey,
    secret: Arc<VerifyingKey>,
    clock: SharedClock,
}

impl fmt::Debug for CcaiIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CcaiIssuer")
            .field("company", &self.company)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl CcaiIssuer {
    /// An issuer for `company` (the `iss`) with the company `secret`.
    ///
    /// # Errors
    ///
    /// A secret shorter than 32 bytes: see [`with_any_length_secret`](Self::with_any_length_secret).
    pub fn new(company: impl Into<String>, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let key = SigningKey::hmac(Algorithm::HS256, secret.as_ref())?;
        Self::build(company.into(), key, secret.as_ref())
    }

    /// An issuer whose company secret, handed out by the platform, is shorter than 32 bytes.
    ///
    /// # Errors
    ///
    /// An empty secret.
    pub fn with_any_length_secret(
        company: impl Into<String>,
        secret: impl AsRef<[u8]>,
    ) -> Result<Self, KeyError> {
        let key = SigningKey::hmac_any_length(Algorithm::HS256, secret.as_ref())?;
        Self::build(company.into(), key, secret.as_ref())
    }

    fn build(company: String, key: SigningKey, secret: &[u8]) -> Result<Self, KeyError> {
        let verifying = VerifyingKey::hmac(secret)?.with_algorithms([Algorithm::HS256])?;
        Ok(Self {
            company,
            key,
            secret: Arc::new(verifying),
            clock: Arc::new(SystemClock),
        })
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The company (`iss`).
    pub fn company(&self) -> &str {
        &self.company
    }

    /// A token for `identifier` (the end user's id in the host), `name` and `email`.
    ///
    /// # Errors
    ///
    /// The key cannot sign.
    pub fn issue(&self, identifier: &str, name: &str, email: &str) -> Result<String, IssueError> {
        let iat = unix_secs(self.clock.now());
        let claims = Claims::new()
            .with("iss", self.company.as_str())
            .with("iat", iat)
            .with("exp", iat.saturating_add(LIFETIME.as_secs()))
            .with("identifier", identifier)
            .with("name", name)
            .with("email", email);
        sign(&self.key, Some("JWT"), &claims)
    }

    /// A token for `principal`: its id, name and email (empty when unset).
    ///
    /// # Errors
    ///
    /// The key cannot sign.
    pub fn issue_for(&self, principal: &Principal) -> Result<String, IssueError> {
        let name = principal.name.as_deref().unwrap_or_default();
        let email = principal.email.as_deref().unwrap_or_default();
        self.issue(&principal.id, name, email)
    }

    /// The verifier of this company's tokens (same clock).
    pub fn verifier(&self) -> JwtVerifier {
        verifier_with_key(&self.company, (*self.secret).clone())
            .with_shared_clock(Arc::clone(&self.clock))
    }
}

fn verifier_with_key(company: &str, key: VerifyingKey) -> JwtVerifier {
    JwtVerifier::new(KeySet::new().with_key(key))
        .with_validation(
            Validation::new()
                .with_algorithms([Algorithm::HS256])
                .with_issuers([company])
                .require_iat()
                .with_max_lifetime(LIFETIME),
        )
        .with_mapping(
            ClaimsMapping::new()
                .with_scheme("ccai")
                .with_subject("identifier")
                .without_roles()
                .without_scopes(),
        )
}

/// A verifier of CCAI tokens of `company`: HS256 only, `iss` = company, `iat` required, at most
/// one hour of lifetime; id from `identifier`, scheme `ccai`.
///
/// # Errors
///
/// An empty secret.
pub fn verifier(company: &str, secret: impl AsRef<[u8]>) -> Result<JwtVerifier, KeyError> {
    let key = VerifyingKey::hmac(secret)?.with_algorithms([Algorithm::HS256])?;
    Ok(verifier_with_key(company, key))
}

/// The token endpoint: `200 {"token": JWT}` for the authenticated [`Principal`] in the
/// request extensions, `401` without one. Never cached (`Cache-Control: no-store`).
#[derive(Clone, Debug)]
pub struct CcaiTokenEndpoint {
    issuer: CcaiIssuer,
}

impl CcaiTokenEndpoint {
    /// An endpoint issuing with `issuer`.
    pub fn new(issuer: CcaiIssuer) -> Self {
        Self { issuer }
    }

    /// The issuer.
    pub fn issuer(&self) -> &CcaiIssuer {
        &self.issuer
    }
}

fn json(status: StatusCode, body: &serde_json::Value) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

impl<B> Service<http::Request<B>> for CcaiTokenEndpoint {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = match request.extensions().get::<Principal>() {
            None => {
                let e = AuthError::missing();
                json(
                    StatusCode::UNAUTHORIZED,
                    &serde_json::json!({"error": e.code(), "message": e.message()}),
                )
            }
            Some(principal) => match self.issuer.issue_for(principal) {
                Ok(token) => json(StatusCode::OK, &serde_json::json!({ "token": token })),
                Err(e) => {
                    tracing::error!(error = %e, "ccai: cannot issue a token");
                    json(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &serde_json::json!({"error": "internal_error"}),
                    )
                }
            },
        };
        ready(Ok(response))
    }
}
