//! Answers of token-service routes: a JSON body no cache keeps, a failure in a responder's
//! shape, and a bounded body read. The routers of this crate and the platform presets use
//! them; a route of your own answers the same way with them.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, PRAGMA};
use http::{HeaderValue, StatusCode};
use serde_json::Value;
use tower_authn_core::respond::{finish, json_response};
use tower_authn_core::{AuthError, ErrorKind, ErrorResponder};

/// The largest request body a token route reads (a login is a few hundred bytes).
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON answer that no cache keeps (RFC 6749 §5.1: token responses are `no-store`): the
/// core's one JSON builder (`respond::json_response`) plus the cache headers.
pub fn json_reply(status: StatusCode, value: &Value) -> Response {
    let mut res = json_response(status, value.to_string()).map(Body::from);
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `204 No Content` that no cache keeps (a logout, a login that sets a cookie).
pub fn no_content() -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `415` with `value`, a platform's error body: the body is neither JSON nor a form.
pub fn unsupported_media_type(value: &Value) -> Response {
    json_reply(StatusCode::UNSUPPORTED_MEDIA_TYPE, value)
}

/// A failure in a platform's shape, completed like the auth layer completes its own
/// (`Cache-Control: no-store`, `Retry-After` on a 429).
pub fn failure(responder: &impl ErrorResponder, error: &AuthError) -> Response {
    tracing::debug!(
        code = error.code(),
        detail = error.detail(),
        "token service rejected"
    );
    finish(responder.respond(error), error, &[]).map(Body::from)
}

/// Reads a whole request body of at most [`BODY_LIMIT`] bytes.
///
/// # Errors
///
/// `PayloadTooLarge` (413) when it is larger or cannot be read; each router answers it in
/// its platform's shape.
pub async fn read_body(body: Body) -> Result<Bytes, AuthError> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        AuthError::new(
            ErrorKind::PayloadTooLarge,
            "request body too large or unreadable",
        )
    })
}
