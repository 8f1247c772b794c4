//! XiVO / XiVO CC (xuc) preset: the login and check routes and the `{error, message}`
//! error shape, so XiVO clients work unchanged.
//!
//! | route | request | answer |
//! |---|---|---|
//! | `POST /xuc/api/2.0/auth/login` | JSON `{"login", "password"}` | `{"login", "token", "TTL"}` (seconds) |
//! | `GET /xuc/api/2.0/auth/check` | `Authorization: Bearer <token>` | a renewed `{"login", "token", "TTL"}`; the old token stays valid until its own expiry |
//!
//! Errors: `{"error": "<code>", "message": "<text>"}` with `InvalidCredentials` (401),
//! `InvalidJson` (400), `InvalidToken` (401, or 400 when malformed), `TokenExpired` (401),
//! `NotAllowed` (403), `TooManyAttempts` (429), `UnhandledError` (503). The issued tokens
//! work on other routes with `X-Auth-Token` or `?token=` through
//! `HeaderTokenLayer::new("X-Auth-Token", verifier).with_query("token").responder(xivo::errors)`.
//!
//! ```
//! use axum::Router;
//! use tower_authn_axum::issuer::OpaqueTokenIssuer;
//! use tower_authn_axum::xivo;
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::UserStoreExt;
//!
//! let users = MemoryUserStore::new();
//! let tokens = OpaqueTokenIssuer::new(MemoryKeyStore::new());
//! let app: Router = Router::new().merge(xivo::router(users.password_verifier(), tokens.clone(), tokens.verifier()));
//! # let _ = app;
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::respond::json_response;
use tower_authn_core::{AuthError, ErrorKind, HeaderTokenLayer, Principal, Verifier};

use crate::issuer::TokenIssuer;
use crate::login::{LoginFields, parse_login};
use crate::reply::{failure, json as json_reply, read_body};

/// The login route.
pub const LOGIN_PATH: &str = "/xuc/api/2.0/auth/login";
/// The check (renew) route.
pub const CHECK_PATH: &str = "/xuc/api/2.0/auth/check";

/// XiVO's error code for a failure on a token-protected route.
pub fn token_error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Expired => "TokenExpired",
        ErrorKind::Forbidden => "NotAllowed",
        ErrorKind::Unavailable => "UnhandledError",
        ErrorKind::TooManyAttempts => "TooManyAttempts",
        ErrorKind::PayloadTooLarge => "InvalidJson",
        _ => "InvalidToken",
    }
}

/// XiVO's error code for a failed login.
pub fn login_error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::MalformedCredentials
        | ErrorKind::DuplicateCredentials
        | ErrorKind::PayloadTooLarge => "InvalidJson",
        ErrorKind::Unavailable => "UnhandledError",
        ErrorKind::TooManyAttempts => "TooManyAttempts",
        ErrorKind::Forbidden => "NotAllowed",
        _ => "InvalidCredentials",
    }
}

fn shape(code: &str, error: &AuthError) -> http::Response<Bytes> {
    let message = match code {
        "InvalidJson" => "The request body is not the expected JSON.",
        _ => error.message(),
    };
    json_response(
        error.status(),
        json!({ "error": code, "message": message }).to_string(),
    )
}

/// The XiVO error shape for token-protected routes: use as `.responder(xivo::errors)`.
pub fn errors(error: &AuthError) -> http::Response<Bytes> {
    shape(token_error_code(error.kind()), error)
}

/// The XiVO error shape for the login route.
pub fn login_errors(error: &AuthError) -> http::Response<Bytes> {
    shape(login_error_code(error.kind()), error)
}

struct Shared<V, I> {
    passwords: V,
    issuer: I,
}

/// The login and check routes. `passwords` checks logins, `issuer` issues the tokens and
/// `tokens` verifies them on check (for an [`OpaqueTokenIssuer`](crate::issuer::OpaqueTokenIssuer):
/// its `verifier()`).
pub fn router<V, I, C>(passwords: V, issuer: I, tokens: C) -> Router
where
    V: Verifier<BasicCredentials>,
    I: TokenIssuer,
    C: Verifier<TokenCredential>,
{
    let shared = Arc::new(Shared { passwords, issuer });
    let check_auth = HeaderTokenLayer::bearer(tokens).responder(errors);
    Router::new()
        .route(LOGIN_PATH, post(login::<V, I>))
        .route(CHECK_PATH, get(check::<V, I>).route_layer(check_auth))
        .with_state(shared)
}

async fn answer<V, I: TokenIssuer>(
    shared: &Shared<V, I>,
    principal: &Principal,
) -> Result<Response, AuthError> {
    let token = shared.issuer.issue(principal, None).await?;
    Ok(json_reply(
        StatusCode::OK,
        &json!({ "login": principal.id, "token": token.expose(), "TTL": token.ttl_secs() }),
    ))
}

async fn login<V, I>(
    State(shared): State<Arc<Shared<V, I>>>,
    headers: HeaderMap,
    body: Body,
) -> Response
where
    V: Verifier<BasicCredentials>,
    I: TokenIssuer,
{
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return failure(login_errors, &e),
    };
    let credentials = match parse_login(&headers, &body, LoginFields::XIVO) {
        Ok(c) => c,
        Err(e) => {
            return failure(
                login_errors,
                &AuthError::malformed(format!("xivo login: {e}")),
            );
        }
    };
    let principal = match shared.passwords.verify(credentials).await {
        Ok(p) => p,
        Err(e) => return failure(login_errors, &e),
    };
    answer(&shared, &principal)
        .await
        .unwrap_or_else(|e| failure(login_errors, &e))
}

async fn check<V, I>(State(shared): State<Arc<Shared<V, I>>>, principal: Principal) -> Response
where
    V: Verifier<BasicCredentials>,
    I: TokenIssuer,
{
    answer(&shared, &principal)
        .await
        .unwrap_or_else(|e| failure(errors, &e))
}
