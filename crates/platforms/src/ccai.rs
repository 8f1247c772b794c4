//! Google CCAI Platform: the token endpoint a host serves to its embedded SDKs,
//! `GET /auth/token` → `{"token": "<JWT>"}` (`Cache-Control: no-store`), and the matching
//! verifier.
//!
//! The token is HS256 with the company secret, header `{"alg":"HS256","typ":"JWT"}`, claims
//! exactly `iss` (the company), `iat`, `exp = iat + 3600`, `identifier`, `name`, `email`, in
//! that order ([`CcaiIssuer`]). The route carries no auth of its own: put the user schemes
//! of your site in front of it with `route_layer`. Errors have the default JSON shape
//! ([`Errors`]).
//!
//! ```
//! use axum::Router;
//! use tower_authn_core::clock::ManualClock;
//! use tower_authn_core::{BasicAuthLayer, UserStoreExt, memory::MemoryUserStore};
//! use tower_authn_platforms::ccai::{self, CcaiIssuer};
//!
//! let issuer = CcaiIssuer::new("ACME", "a company secret of 32 bytes or more")?
//!     .with_clock(ManualClock::at_unix(1_700_000_000));
//! let token = issuer.issue("5b3c1d2e", "Alice Example", "alice@example.com")?;
//! let principal = issuer.verifier().authenticate(&token).unwrap();
//! assert_eq!(principal.id, "5b3c1d2e");
//! assert_eq!(principal.scheme, "ccai");
//!
//! let users = MemoryUserStore::new();
//! let app: Router = ccai::router(issuer).route_layer(BasicAuthLayer::new(users.password_verifier()));
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use futures_util::future::BoxFuture;
use http::StatusCode;
use serde_json::json;
use tower_authn_axum::reply::{failure, json_reply};
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};
use tower_authn_core::issue::{IssuedToken, TokenIssuer};
use tower_authn_core::{AuthError, Principal};
use tower_authn_jwt::{
    Algorithm, Claims, ClaimsMapping, IssueError, JwtIssuer, JwtVerifier, KeyError, KeySet,
    SigningKey, Validation, VerifyingKey,
};

/// The token route.
pub const TOKEN_PATH: &str = "/auth/token";
/// A CCAI token lives one hour.
pub const LIFETIME: Duration = Duration::from_secs(3600);
/// The scheme name on a verified CCAI principal.
pub const SCHEME: &str = "ccai";

/// CCAI's error shape: the default JSON body.
pub use tower_authn_core::JsonErrors as Errors;

/// Signs CCAI Platform tokens for one company; as a [`TokenIssuer`] it mints them for
/// [`router`].
#[derive(Clone)]
pub struct CcaiIssuer {
    company: String,
    jwt: JwtIssuer,
    secret: Arc<VerifyingKey>,
    clock: SharedClock,
}

impl fmt::Debug for CcaiIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CcaiIssuer")
            .field("company", &self.company)
            .field("key", self.jwt.key())
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
            jwt: JwtIssuer::new(key).with_type(Some("JWT")),
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
        self.jwt.sign(&claims)
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
        verifier_with_key(&self.company, (*self.secret).clone()).with_clock(Arc::clone(&self.clock))
    }
}

impl TokenIssuer for CcaiIssuer {
    fn issue<'a>(
        &'a self,
        principal: &'a Principal,
        _family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<IssuedToken, AuthError>> {
        crate::issued_jwt(self.issue_for(principal), "ccai")
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
                .with_scheme(SCHEME)
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

/// `GET /auth/token` answering `{"token"}` from `issuer` (a [`CcaiIssuer`], or any
/// [`TokenIssuer`]) for the authenticated principal (401 without one).
pub fn router<I: TokenIssuer>(issuer: I) -> Router {
    Router::new()
        .route(TOKEN_PATH, get(token::<I>))
        .with_state(Arc::new(issuer))
}

async fn token<I: TokenIssuer>(State(issuer): State<Arc<I>>, principal: Principal) -> Response {
    match issuer.issue(&principal, None).await {
        Ok(t) => json_reply(StatusCode::OK, &json!({ "token": t.expose() })),
        Err(e) => failure(&Errors, &e),
    }
}
