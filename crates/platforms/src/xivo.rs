//! XiVO / XiVO CC (xuc) preset: the login, check and logout routes and the
//! `{error, message}` error shape, so XiVO clients work unchanged.
//!
//! | route | request | answer |
//! |---|---|---|
//! | `POST /xuc/api/2.0/auth/login` | `Content-Type: application/json`, `{"login", "password"}` | `{"login", "token", "TTL"}` (seconds); starts a session |
//! | `GET /xuc/api/2.0/auth/check` | `Authorization: Bearer <token>` | a renewed `{"login", "token", "TTL"}` of the same session; the old token stays valid until its own expiry while among the session's newest `max_live_tokens` (3), and none outlives the session (24 h) |
//! | `POST /xuc/api/2.0/auth/logout` | `Authorization: Bearer <token>` | `204`: the session ends, every token of it stops working |
//!
//! | `GET /xuc/api/2.0/auth/sso`, `/auth/cas`, `/auth/oidc` | a Kerberos ticket, a CAS service ticket, an OpenID Connect token | the same `{"login", "token", "TTL"}`: see [`exchange`] and [`exchange_router`] |
//!
//! XiVO documents no logout route; this one is ours. Renewals stay within the session's
//! absolute lifetime, keep a bounded number of live tokens and re-read the user (see
//! [`Sessions`]).
//!
//! Errors: `{"error": "<code>", "message": "<text>"}` with `InvalidCredentials` (401),
//! `InvalidJson` (400 for a body that is not the expected JSON or repeats a key, 415 for a
//! body that is not `application/json`), `InvalidToken` (401, or 400 when malformed),
//! `TokenExpired` (401), `NotAllowed` (403), `TooManyAttempts` (429), `UnhandledError`
//! (503). The issued tokens work on other routes with `X-Auth-Token` or `?token=` through
//! [`token_layer`].
//!
//! ```
//! use axum::Router;
//! use tower_authn_core::issue::{OpaqueTokenIssuer, Sessions};
//! use tower_authn_platforms::xivo;
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::UserStoreExt;
//!
//! let users = MemoryUserStore::new();
//! let sessions = Sessions::new(OpaqueTokenIssuer::new(MemoryKeyStore::new()), users.clone());
//! let app: Router = Router::new().merge(xivo::router(users.password_verifier(), sessions));
//! # let _ = app;
//! ```

pub mod exchange;

pub use exchange::{CAS_PATH, OIDC_PATH, Providers, SSO_PATH, exchange_router};

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use tower_authn_axum::login::{LoginError, LoginFields, parse_login};
use tower_authn_axum::reply::{failure, json_reply, no_content, read_body, unsupported_media_type};
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::issue::IssuedToken;
pub use tower_authn_core::issue::Sessions;
use tower_authn_core::respond::json_response;
use tower_authn_core::{
    AuthError, ErrorKind, ErrorResponder, HeaderTokenLayer, KeyStore, Principal, Verifier,
};

/// The login route.
pub const LOGIN_PATH: &str = "/xuc/api/2.0/auth/login";
/// The check (renew) route.
pub const CHECK_PATH: &str = "/xuc/api/2.0/auth/check";
/// The logout route (ours: XiVO documents none).
pub const LOGOUT_PATH: &str = "/xuc/api/2.0/auth/logout";
/// The header XiVO clients send their token in.
pub const TOKEN_HEADER: &str = "X-Auth-Token";
/// The query parameter XiVO clients send their token in.
pub const TOKEN_QUERY: &str = "token";
/// The environment variable holding XiVO's shared server token
/// (`SharedTokenVerifier::from_env(xivo::PLAY_AUTH_TOKEN)`).
pub const PLAY_AUTH_TOKEN: &str = "PLAY_AUTH_TOKEN";
/// The login request's fields: `{"login", "password"}`, JSON only.
pub const LOGIN_FIELDS: LoginFields = LoginFields {
    user: "login",
    password: "password",
    json: true,
    form: false,
    basic: false,
};

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

/// XiVO's `{error, message}` body for `error` under `code`.
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

/// The XiVO error shape for token-protected routes: `.responder(xivo::Errors)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Errors;

impl ErrorResponder for Errors {
    fn respond(&self, error: &AuthError) -> http::Response<Bytes> {
        shape(token_error_code(error.kind()), error)
    }
}

/// The XiVO error shape for the login route.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoginErrors;

impl ErrorResponder for LoginErrors {
    fn respond(&self, error: &AuthError) -> http::Response<Bytes> {
        shape(login_error_code(error.kind()), error)
    }
}

/// XiVO's API tokens on any route: `X-Auth-Token` or `?token=`, in the XiVO error shape
/// (the shared server token, [`PLAY_AUTH_TOKEN`], or a login's token from
/// [`Sessions::verifier`]).
pub fn token_layer<C: Verifier<TokenCredential>>(verifier: C) -> HeaderTokenLayer<C> {
    HeaderTokenLayer::new(TOKEN_HEADER, verifier)
        .with_query(TOKEN_QUERY)
        .responder(Errors)
}

struct Shared<V, K> {
    passwords: V,
    sessions: Sessions<K>,
}

/// The login, check and logout routes: `passwords` checks logins, `sessions` issues,
/// renews and ends the sessions' tokens (check and logout verify the Bearer token with
/// [`Sessions::verifier`]).
pub fn router<V, K>(passwords: V, sessions: Sessions<K>) -> Router
where
    V: Verifier<BasicCredentials>,
    K: KeyStore + Clone,
{
    let bearer = HeaderTokenLayer::bearer(sessions.verifier()).responder(Errors);
    Router::new()
        .route(LOGIN_PATH, post(login::<V, K>))
        .route(CHECK_PATH, get(check::<V, K>).route_layer(bearer.clone()))
        .route(LOGOUT_PATH, post(logout::<V, K>).route_layer(bearer))
        .with_state(Arc::new(Shared {
            passwords,
            sessions,
        }))
}

fn answer(principal: &Principal, token: &IssuedToken) -> Response {
    json_reply(
        StatusCode::OK,
        &json!({ "login": principal.id, "token": token.expose(), "TTL": token.ttl_secs() }),
    )
}

async fn login<V, K>(
    State(shared): State<Arc<Shared<V, K>>>,
    headers: HeaderMap,
    body: Body,
) -> Response
where
    V: Verifier<BasicCredentials>,
    K: KeyStore + Clone,
{
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return failure(&LoginErrors, &e),
    };
    let credentials = match parse_login(&headers, &body, LOGIN_FIELDS) {
        Ok(c) => c,
        Err(LoginError::UnsupportedMediaType) => {
            return unsupported_media_type(&json!({
                "error": "InvalidJson",
                "message": "The request body must be application/json.",
            }));
        }
        Err(e) => {
            return failure(
                &LoginErrors,
                &AuthError::malformed(format!("xivo login: {e}")),
            );
        }
    };
    let principal = match shared.passwords.verify(credentials).await {
        Ok(p) => p,
        Err(e) => return failure(&LoginErrors, &e),
    };
    match shared.sessions.start(&principal).await {
        Ok(token) => answer(&principal, &token),
        Err(e) => failure(&LoginErrors, &e),
    }
}

async fn check<V, K>(State(shared): State<Arc<Shared<V, K>>>, principal: Principal) -> Response
where
    V: Verifier<BasicCredentials>,
    K: KeyStore + Clone,
{
    match shared.sessions.renew(&principal).await {
        Ok(token) => answer(&principal, &token),
        Err(e) => failure(&Errors, &e),
    }
}

async fn logout<V, K>(State(shared): State<Arc<Shared<V, K>>>, principal: Principal) -> Response
where
    V: Verifier<BasicCredentials>,
    K: KeyStore + Clone,
{
    match shared.sessions.end(&principal).await {
        Ok(()) => no_content(),
        Err(e) => failure(&Errors, &e),
    }
}
