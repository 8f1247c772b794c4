//! Opentact: everything its clients send and expect, in one place.
//!
//! - Login: `GET /rest/auth` with Basic `email:password` answers
//!   `{"success": true, "payload": {..., "token"}}` ([`router`]).
//! - Tokens: Opentact's JWT ([`OpentactIssuer`]: HS256, the user's `uuid` as subject, a
//!   `role`, 24 hours of life) or any [`TokenIssuer`]'s token, sent back in [`HEADER`]
//!   (`X-Auth-Token`) or [`QUERY`] (`?jwt=`) ([`token_layer`], scheme `jwt`).
//! - Errors: `{"success": false, "message", "status", "meta", "fields"}` ([`Errors`]).
//! - HA1B digests (`Ha1bVerifier::into_layer`) and the plain-HTTP redirect
//!   (`HttpsRedirectLayer`) are generic mechanisms of the core.
//!
//! ```
//! use axum::Router;
//! use tower_authn_core::clock::ManualClock;
//! use tower_authn_core::memory::MemoryUserStore;
//! use tower_authn_core::UserStoreExt;
//! use tower_authn_platforms::opentact::{self, OpentactIssuer};
//!
//! let issuer = OpentactIssuer::new("a server secret of 32 bytes or more")?
//!     .with_clock(ManualClock::at_unix(1_700_000_000));
//! let token = issuer.issue("2984a1ca-fff7-4c59-a63b-3468179d7df7", "User")?;
//! assert!(issuer.verifier().authenticate(&token).unwrap().has_role("User"));
//!
//! let users = MemoryUserStore::new();
//! let api = opentact::token_layer(issuer.verifier());
//! let app: Router = opentact::router(users.password_verifier(), issuer)
//!     .route("/rest/whoami", axum::routing::get(|| async { "ok" }).route_layer(api));
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
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::StatusCode;
use serde_json::{Map, Value, json};
use tower_authn_axum::reply::{failure, json_reply};
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::issue::{IssuedToken, TokenIssuer};
use tower_authn_core::respond::json_response;
use tower_authn_core::{
    AuthError, BasicAuthLayer, ErrorResponder, HeaderTokenLayer, Principal, Verifier,
};
use tower_authn_jwt::{
    Algorithm, Claims, ClaimsMapping, IssueError, JwtIssuer, JwtVerifier, KeyError, KeySet,
    SigningKey, Validation, VerifyingKey,
};

use crate::split_name;

/// The token route.
pub const AUTH_PATH: &str = "/rest/auth";

/// The scheme name of Opentact's tokens.
pub const SCHEME: &str = "jwt";

/// The header Opentact takes its JWT from.
pub const HEADER: &str = "X-Auth-Token";

/// The query parameter Opentact takes its JWT from.
pub const QUERY: &str = "jwt";

/// An Opentact token lives 24 hours.
pub const LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The role written when a principal has none.
pub const DEFAULT_ROLE: &str = "User";

/// Signs Opentact-style tokens: `{"uuid", "role", "iat", "exp"}` in that order.
#[derive(Clone)]
pub struct OpentactIssuer {
    jwt: JwtIssuer,
    verifying: VerifyingKey,
    clock: SharedClock,
}

impl fmt::Debug for OpentactIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpentactIssuer")
            .field("key", self.jwt.key())
            .finish_non_exhaustive()
    }
}

impl OpentactIssuer {
    /// An issuer with the server `secret`.
    ///
    /// # Errors
    ///
    /// A secret shorter than 32 bytes: see [`with_any_length_secret`](Self::with_any_length_secret).
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let key = SigningKey::hmac(Algorithm::HS256, secret.as_ref())?;
        Self::build(key, secret.as_ref())
    }

    /// An issuer for an existing deployment whose secret is shorter than 32 bytes.
    ///
    /// # Errors
    ///
    /// An empty secret.
    pub fn with_any_length_secret(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let key = SigningKey::hmac_any_length(Algorithm::HS256, secret.as_ref())?;
        Self::build(key, secret.as_ref())
    }

    fn build(key: SigningKey, secret: &[u8]) -> Result<Self, KeyError> {
        let verifying = VerifyingKey::hmac(secret)?.with_algorithms([Algorithm::HS256])?;
        Ok(Self {
            jwt: JwtIssuer::new(key).with_type(Some("JWT")),
            verifying,
            clock: Arc::new(SystemClock),
        })
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A token for the user `uuid` with `role`.
    ///
    /// # Errors
    ///
    /// The key cannot sign.
    pub fn issue(&self, uuid: &str, role: &str) -> Result<String, IssueError> {
        let iat = unix_secs(self.clock.now());
        let claims = Claims::new()
            .with("uuid", uuid)
            .with("role", role)
            .with("iat", iat)
            .with("exp", iat.saturating_add(LIFETIME.as_secs()));
        self.jwt.sign(&claims)
    }

    /// A token for `principal`: its id, and its first role (else [`DEFAULT_ROLE`]).
    ///
    /// # Errors
    ///
    /// The key cannot sign.
    pub fn issue_for(&self, principal: &Principal) -> Result<String, IssueError> {
        let role = principal.roles.first().map_or(DEFAULT_ROLE, String::as_str);
        self.issue(&principal.id, role)
    }

    /// The matching verifier (same clock).
    pub fn verifier(&self) -> JwtVerifier {
        verifier_with_key(self.verifying.clone()).with_clock(Arc::clone(&self.clock))
    }
}

fn verifier_with_key(key: VerifyingKey) -> JwtVerifier {
    JwtVerifier::new(KeySet::new().with_key(key))
        .with_validation(
            Validation::new()
                .with_algorithms([Algorithm::HS256])
                .with_max_lifetime(LIFETIME),
        )
        .with_mapping(
            ClaimsMapping::new()
                .with_scheme(SCHEME)
                .with_subject("uuid")
                .with_roles(["role"])
                .without_scopes(),
        )
}

/// A verifier of Opentact-style tokens signed with `secret`: HS256 only, `exp` required, at
/// most 24 hours of lifetime; id from `uuid`, roles from `role`, scheme `jwt`.
///
/// # Errors
///
/// An empty secret.
pub fn verifier(secret: impl AsRef<[u8]>) -> Result<JwtVerifier, KeyError> {
    Ok(verifier_with_key(
        VerifyingKey::hmac(secret)?.with_algorithms([Algorithm::HS256])?,
    ))
}

/// Opentact's failure body for `status`: `meta` is the stable code, `fields` the per-field
/// problems (none for authentication failures).
pub fn error_body(
    status: StatusCode,
    message: &str,
    meta: &str,
    fields: Map<String, Value>,
) -> Value {
    json!({ "success": false, "message": message, "status": status.as_u16(), "meta": meta, "fields": fields })
}

/// The Opentact error shape: `.responder(opentact::Errors)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Errors;

impl ErrorResponder for Errors {
    fn respond(&self, error: &AuthError) -> http::Response<Bytes> {
        json_response(
            error.status(),
            error_body(error.status(), error.message(), error.code(), Map::new()).to_string(),
        )
    }
}

/// Opentact's JWT (or issued token) in `X-Auth-Token` or `?jwt=`, with the Opentact error
/// shape; scheme `jwt` unless the verifier names another.
pub fn token_layer<C: Verifier<TokenCredential>>(verifier: C) -> HeaderTokenLayer<C> {
    HeaderTokenLayer::new(HEADER, verifier)
        .with_query(QUERY)
        .scheme_name(SCHEME)
        .responder(Errors)
}

/// Basic `email:password` with realm `opentact` and the Opentact error shape (what
/// [`router`] puts in front of `/rest/auth`).
pub fn basic_layer<V: Verifier<BasicCredentials>>(passwords: V) -> BasicAuthLayer<V> {
    BasicAuthLayer::new(passwords)
        .realm("opentact")
        .responder(Errors)
}

/// The user part of `/rest/auth`'s payload: `uuid` (attribute, else the id), `email`,
/// `role` (the first role), `first_name`, `last_name`, then every other attribute as is.
pub fn payload(p: &Principal) -> Map<String, Value> {
    let mut out = Map::new();
    let (first, last) = split_name(p.name.as_deref());
    out.insert(
        "uuid".into(),
        p.attributes
            .get("uuid")
            .cloned()
            .unwrap_or_else(|| Value::from(p.id.clone())),
    );
    out.insert(
        "email".into(),
        Value::from(p.email.clone().unwrap_or_else(|| p.id.clone())),
    );
    out.insert(
        "role".into(),
        p.roles
            .first()
            .map_or(Value::Null, |r| Value::from(r.clone())),
    );
    out.insert("first_name".into(), first.map_or(Value::Null, Value::from));
    out.insert("last_name".into(), last.map_or(Value::Null, Value::from));
    for (k, v) in &p.attributes {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    out
}

/// `GET /rest/auth`: Basic `email:password` checked by `passwords`, answered with a token
/// from `issuer`.
pub fn router<V, I>(passwords: V, issuer: I) -> Router
where
    V: Verifier<BasicCredentials>,
    I: TokenIssuer,
{
    Router::new()
        .route(
            AUTH_PATH,
            get(auth::<I>).route_layer(basic_layer(passwords)),
        )
        .with_state(Arc::new(issuer))
}

async fn auth<I: TokenIssuer>(State(issuer): State<Arc<I>>, principal: Principal) -> Response {
    match issuer.issue(&principal, None).await {
        Ok(token) => {
            let mut body = payload(&principal);
            body.insert("token".into(), Value::from(token.expose()));
            json_reply(StatusCode::OK, &json!({ "success": true, "payload": body }))
        }
        Err(e) => failure(&Errors, &e),
    }
}

impl TokenIssuer for OpentactIssuer {
    fn issue<'a>(
        &'a self,
        principal: &'a Principal,
        _family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<IssuedToken, AuthError>> {
        crate::issued_jwt(self.issue_for(principal), "opentact")
    }
}
