//! Logout: token revocation in the shape of RFC 7009. `POST` a form or JSON body with
//! `token` (a refresh token, whose whole family is revoked, or an access token) and get
//! `200` with an empty body, whether or not the token was known (RFC 7009 §2.2: the answer
//! tells an attacker nothing). A body without `token`, or that repeats a field or a key, is
//! `400 {"error": "invalid_request"}`; one that is neither `application/json` nor
//! `application/x-www-form-urlencoded` is `415`.
//!
//! ```
//! use axum::Router;
//! use tower_authn_axum::revocation;
//! use tower_authn_core::issue::{OpaqueTokenIssuer, RefreshTokens};
//! use tower_authn_core::memory::MemoryKeyStore;
//!
//! let keys = MemoryKeyStore::new();
//! let app: Router = revocation::router("/oauth/revoke", OpaqueTokenIssuer::new(keys.clone()), RefreshTokens::new(keys));
//! # let _ = app;
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use http::header::CACHE_CONTROL;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;
use tower_authn_core::{AuthError, JsonErrors, KeyStore};

use crate::login::{BodyKind, body_kind, form_fields, json_fields};
use crate::reply::{failure, json_reply, read_body};
use tower_authn_core::issue::RefreshTokens;
use tower_authn_core::issue::TokenIssuer;

struct Revoker<I, K> {
    issuer: I,
    refresh: RefreshTokens<K>,
}

/// The revocation route at `path`: refresh tokens through `refresh` (the family goes),
/// access tokens through `issuer`.
///
/// # Panics
///
/// When `path` is not a valid axum route path (a configuration error).
pub fn router<I: TokenIssuer, K: KeyStore + Clone>(
    path: &str,
    issuer: I,
    refresh: RefreshTokens<K>,
) -> Router {
    Router::new()
        .route(path, post(revoke::<I, K>))
        .with_state(Arc::new(Revoker { issuer, refresh }))
}

fn invalid_request() -> Response {
    json_reply(
        StatusCode::BAD_REQUEST,
        &json!({ "error": "invalid_request" }),
    )
}

async fn revoke<I: TokenIssuer, K: KeyStore + Clone>(
    State(r): State<Arc<Revoker<I, K>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(body) = read_body(body).await else {
        return invalid_request();
    };
    let token = match body_kind(&headers, &body) {
        BodyKind::Json => json_fields(&body, ["token"]),
        BodyKind::Form => form_fields(&body, ["token"]),
        BodyKind::Empty => None,
        BodyKind::Other => return crate::tokens::unsupported(),
    };
    let Some([Some(token)]) = token else {
        return invalid_request();
    };
    let outcome = async {
        if !r.refresh.revoke(&token).await? {
            r.issuer.revoke(&token).await?;
        }
        Ok::<_, AuthError>(())
    };
    match outcome.await {
        Ok(()) => {
            let mut res = Response::new(Body::empty());
            res.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => failure(&JsonErrors, &e),
    }
}
