//! Google CCAI Platform preset: the token endpoint the embedded SDKs call,
//! `GET /auth/token` → `{"token": "<JWT>"}` (`Cache-Control: no-store`).
//!
//! The route is generic over a [`TokenIssuer`]: any closure through
//! [`issuer_fn`](crate::issuer::issuer_fn), such as one around `tower-authn-jwt`'s
//! `CcaiIssuer::issue_for` (see `examples/ccai.rs`) or one that signs [`CcaiClaims`] (HS256
//! with the company secret) itself. The route carries no auth of its own: put the user schemes of
//! your site in front of it with `route_layer`.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use axum::Router;
//! use tower_authn_axum::ccai::{self, CcaiClaims};
//! use tower_authn_axum::issuer::{IssuedToken, issuer_fn};
//!
//! let issuer = issuer_fn(|p: &tower_authn_core::Principal| {
//!     let now = SystemTime::now();
//!     let claims = CcaiClaims::for_principal("ACME", p, now);
//!     let jwt = format!("signed({})", serde_json::to_string(&claims).unwrap()); // sign HS256 here
//!     Ok(IssuedToken::new(jwt, now, Duration::from_secs(3600)))
//! });
//! let app: Router = ccai::router(issuer);
//! # let _ = app;
//! ```

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use serde::Serialize;
use serde_json::json;
use tower_authn_core::clock::unix_secs;
use tower_authn_core::{JsonErrors, Principal};

use crate::issuer::TokenIssuer;
use crate::reply::{failure, json as json_reply};

/// The token route.
pub const TOKEN_PATH: &str = "/auth/token";
/// CCAI tokens live one hour.
pub const TOKEN_LIFETIME_SECS: u64 = 3600;

/// The claims CCAI expects, in its order: `iss` (the company name), `iat`, `exp = iat +
/// 3600`, `identifier`, `name`, `email` (empty when unknown), as `tower-authn-jwt`'s
/// `CcaiIssuer` signs them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CcaiClaims {
    /// The company name.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expiry (Unix seconds), `iat + 3600`.
    pub exp: u64,
    /// The user's stable identifier.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
}

impl CcaiClaims {
    /// The claims for `principal` issued by `company` at `now`: its id, name and email.
    pub fn for_principal(company: &str, principal: &Principal, now: SystemTime) -> Self {
        let iat = unix_secs(now);
        Self {
            iss: company.to_owned(),
            iat,
            exp: iat + TOKEN_LIFETIME_SECS,
            identifier: principal.id.clone(),
            name: principal.name.clone().unwrap_or_default(),
            email: principal.email.clone().unwrap_or_default(),
        }
    }
}

/// `GET /auth/token` answering `{"token"}` from `issuer` for the authenticated principal
/// (401 without one).
pub fn router<I: TokenIssuer>(issuer: I) -> Router {
    Router::new()
        .route(TOKEN_PATH, get(token::<I>))
        .with_state(Arc::new(issuer))
}

async fn token<I: TokenIssuer>(State(issuer): State<Arc<I>>, principal: Principal) -> Response {
    match issuer.issue(&principal, None).await {
        Ok(t) => json_reply(StatusCode::OK, &json!({ "token": t.expose() })),
        Err(e) => failure(
            |e| tower_authn_core::ErrorResponder::respond(&JsonErrors, e),
            &e,
        ),
    }
}
