//! Turning an [`AuthError`] into a response; the body shape is pluggable per layer.

use std::fmt;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response};

use crate::challenge::Challenge;
use crate::error::AuthError;

/// Builds the status and body of a failure. The auth layer adds the `WWW-Authenticate`
/// challenges to a 401 (unless the responder set its own) and `Retry-After` to a 429.
///
/// Implemented for closures `Fn(&AuthError) -> Response<Bytes>`:
///
/// ```
/// use bytes::Bytes;
/// use http::Response;
/// use tower_authn_core::{AuthError, ErrorResponder};
///
/// // XiVO's shape: {"error": "...", "message": "..."}
/// let xivo = |e: &AuthError| {
///     let body = serde_json::json!({"error": "InvalidCredentials", "message": e.message()});
///     Response::builder().status(e.status()).body(Bytes::from(body.to_string())).unwrap()
/// };
/// let r = xivo.respond(&AuthError::invalid("bad password"));
/// assert_eq!(r.status(), 401);
/// ```
pub trait ErrorResponder: Send + Sync + 'static {
    /// The response for `error`. It must hold no request-specific data (no echo of the
    /// credential, no time or request id), so different failures of one kind look the same.
    fn respond(&self, error: &AuthError) -> Response<Bytes>;
}

impl<F> ErrorResponder for F
where
    F: Fn(&AuthError) -> Response<Bytes> + Send + Sync + 'static,
{
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        self(error)
    }
}

/// The default body: `{"error": "<code>", "message": "<text>"}` as `application/json`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonErrors;

impl ErrorResponder for JsonErrors {
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        let body = serde_json::json!({ "error": error.code(), "message": error.message() });
        json_response(error.status(), body.to_string())
    }
}

/// A JSON response with `status` and `body`.
pub fn json_response(status: http::StatusCode, body: String) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// Completes a responder's answer: challenges on a 401, `Retry-After` on a 429, and
/// `Cache-Control: no-store` so no cache keeps an auth failure.
pub fn finish(
    mut res: Response<Bytes>,
    error: &AuthError,
    challenges: &[Challenge],
) -> Response<Bytes> {
    let status = res.status();
    let headers = res.headers_mut();
    if status == http::StatusCode::UNAUTHORIZED && !headers.contains_key(WWW_AUTHENTICATE) {
        for c in challenges {
            headers.append(WWW_AUTHENTICATE, c.to_header_value());
        }
    }
    if let Some(after) = error.retry_after() {
        let secs = after.as_secs().max(1);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            headers.insert(RETRY_AFTER, v);
        }
    }
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// A shared, type-erased responder.
#[derive(Clone)]
pub(crate) struct SharedResponder(pub(crate) std::sync::Arc<dyn ErrorResponder>);

impl fmt::Debug for SharedResponder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorResponder")
    }
}

impl Default for SharedResponder {
    fn default() -> Self {
        Self(std::sync::Arc::new(JsonErrors))
    }
}
