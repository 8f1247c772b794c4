//! Opentact preset: `GET /rest/auth` with Basic `email:password` answers
//! `{"success": true, "payload": {..., "token"}}`; failures answer
//! `{"success": false, "message", "status", "meta", "fields"}`.
//!
//! The token is whatever the [`TokenIssuer`] issues: a JWT (the `tower-authn-jwt` issuer,
//! Opentact's own format) or an opaque token. Clients then send it in `X-Auth-Token` or
//! `?jwt=` ([`token_layer`]). The rest of Opentact's surface is in the core: HA1B
//! (`Ha1bVerifier::into_layer`) and the plain-HTTP redirect (`HttpsRedirectLayer`).
//!
//! ```
//! use axum::Router;
//! use tower_authn_axum::{issuer::OpaqueTokenIssuer, opentact};
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::UserStoreExt;
//!
//! let users = MemoryUserStore::new();
//! let tokens = OpaqueTokenIssuer::new(MemoryKeyStore::new()).ttl(std::time::Duration::from_secs(86_400));
//! let app: Router = opentact::router(users.password_verifier(), tokens.clone())
//!     .route("/rest/whoami", axum::routing::get(|| async { "ok" }).route_layer(opentact::token_layer(tokens.verifier())));
//! # let _ = app;
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value, json};
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::respond::json_response;
use tower_authn_core::{AuthError, BasicAuthLayer, HeaderTokenLayer, Principal, Verifier};

use crate::issuer::TokenIssuer;
use crate::reply::{failure, json as json_reply, split_name};

/// The token route.
pub const AUTH_PATH: &str = "/rest/auth";

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

/// The Opentact error shape: use as `.responder(opentact::errors)`.
pub fn errors(error: &AuthError) -> http::Response<Bytes> {
    json_response(
        error.status(),
        error_body(error.status(), error.message(), error.code(), Map::new()).to_string(),
    )
}

/// Opentact's JWT (or issued token) in `X-Auth-Token` or `?jwt=`, with the Opentact error
/// shape; scheme `jwt` unless the verifier names another.
pub fn token_layer<C: Verifier<TokenCredential>>(verifier: C) -> HeaderTokenLayer<C> {
    HeaderTokenLayer::new("X-Auth-Token", verifier)
        .with_query("jwt")
        .scheme_name("jwt")
        .responder(errors)
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
    let basic = BasicAuthLayer::new(passwords)
        .realm("opentact")
        .responder(errors);
    Router::new()
        .route(AUTH_PATH, get(auth::<I>).route_layer(basic))
        .with_state(Arc::new(issuer))
}

async fn auth<I: TokenIssuer>(State(issuer): State<Arc<I>>, principal: Principal) -> Response {
    match issuer.issue(&principal, None).await {
        Ok(token) => {
            let mut body = payload(&principal);
            body.insert("token".into(), Value::from(token.expose()));
            json_reply(StatusCode::OK, &json!({ "success": true, "payload": body }))
        }
        Err(e) => failure(errors, &e),
    }
}
