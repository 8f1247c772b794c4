//! Turning an [`AuthError`] into a response; the body shape is pluggable per layer.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response};

use crate::challenge::Challenge;
use crate::error::{AuthError, ErrorKind};

/// Builds the status and body of a failure. The auth layer adds the `WWW-Authenticate`
/// challenges to a 401 (unless the responder set its own) and `Retry-After` when the error
/// carries one (a 429, a busy 503).
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

/// One body per [`ErrorKind`], rendered once: an answer is a reference count, not a
/// serialization (the body says only the kind's public code and message).
struct Bodies(Box<[Bytes]>);

impl Bodies {
    fn new(render: impl Fn(ErrorKind) -> serde_json::Value) -> Self {
        Self(
            ErrorKind::ALL
                .iter()
                .map(|&kind| Bytes::from(render(kind).to_string()))
                .collect(),
        )
    }

    fn get(&self, kind: ErrorKind) -> Bytes {
        self.0.get(kind.index()).cloned().unwrap_or_default()
    }
}

fn json_with(status: http::StatusCode, body: Bytes, content_type: &'static str) -> Response<Bytes> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

impl ErrorResponder for JsonErrors {
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        static BODIES: std::sync::LazyLock<Bodies> = std::sync::LazyLock::new(|| {
            Bodies::new(
                |kind| serde_json::json!({ "error": kind.code(), "message": kind.message() }),
            )
        });
        json_with(error.status(), BODIES.get(error.kind()), "application/json")
    }
}

/// RFC 9457 problem details, as `application/problem+json`:
/// `{"type", "title", "status", "detail", "code"}`.
///
/// `detail` is the error's public message ([`AuthError::message`]), never its internal
/// detail (which goes to the logs); `code` (an extension member) is its stable machine code.
/// `type` is `about:blank` with `title` the status's reason phrase, unless
/// [`with_type_base`](Self::with_type_base) names a URI per code.
///
/// ```
/// use tower_authn_core::{AuthError, BasicAuthLayer, ErrorResponder, ProblemJson};
///
/// let r = ProblemJson::new().respond(&AuthError::invalid("wrong password for alice"));
/// assert_eq!(r.status(), 401);
/// assert_eq!(r.headers()["content-type"], "application/problem+json");
/// let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
/// assert_eq!(body["type"], "about:blank");
/// assert_eq!(body["title"], "Unauthorized");
/// assert_eq!(body["status"], 401);
/// assert_eq!(body["code"], "invalid_credentials");
/// assert!(!body.to_string().contains("alice"));
///
/// // On a layer:
/// # let verify = |_c: tower_authn_core::credential::BasicCredentials| async {
/// #     Err::<tower_authn_core::Principal, _>(AuthError::invalid("no"))
/// # };
/// let layer = BasicAuthLayer::new(verify).responder(ProblemJson::new());
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct ProblemJson {
    bodies: Arc<Bodies>,
}

impl Default for ProblemJson {
    fn default() -> Self {
        Self {
            bodies: Arc::new(problem_bodies(None)),
        }
    }
}

impl fmt::Debug for ProblemJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProblemJson").finish_non_exhaustive()
    }
}

fn problem_bodies(type_base: Option<&str>) -> Bodies {
    Bodies::new(|kind| {
        let status = kind.status();
        let kind_uri = match type_base {
            Some(base) => format!("{base}{}", kind.code()),
            None => "about:blank".to_owned(),
        };
        serde_json::json!({
            "type": kind_uri,
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": kind.message(),
            "code": kind.code(),
        })
    })
}

impl ProblemJson {
    /// Problems of type `about:blank`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Problems of type `<base><code>` (`https://api.example.com/problems/` gives
    /// `https://api.example.com/problems/invalid_credentials`), for an API that documents
    /// each code at its own URI.
    pub fn with_type_base(mut self, base: impl Into<String>) -> Self {
        self.bodies = Arc::new(problem_bodies(Some(&base.into())));
        self
    }
}

impl ErrorResponder for ProblemJson {
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        json_with(
            error.status(),
            self.bodies.get(error.kind()),
            "application/problem+json",
        )
    }
}

/// A JSON response with `status` and `body`.
pub fn json_response(status: http::StatusCode, body: String) -> Response<Bytes> {
    json_with(status, Bytes::from(body), "application/json")
}

/// Completes a responder's answer: challenges on a 401, `Retry-After` whenever the error
/// carries one ([`AuthError::too_many_attempts`] 429, [`AuthError::busy`] 503; whole seconds,
/// at least 1), and `Cache-Control: no-store` so no cache keeps an auth failure.
pub fn finish(
    res: Response<Bytes>,
    error: &AuthError,
    challenges: &[Challenge],
) -> Response<Bytes> {
    finish_with(res, error, || render(challenges))
}

/// The header values of `challenges`.
pub(crate) fn render(challenges: &[Challenge]) -> Arc<[HeaderValue]> {
    challenges.iter().map(Challenge::to_header_value).collect()
}

/// [`finish`], asking for the rendered challenges only when the answer is a 401 that does
/// not carry its own (the engine hands over the ones it rendered once).
pub(crate) fn finish_with(
    mut res: Response<Bytes>,
    error: &AuthError,
    challenges: impl FnOnce() -> Arc<[HeaderValue]>,
) -> Response<Bytes> {
    let unauthorized = res.status() == http::StatusCode::UNAUTHORIZED;
    let headers = res.headers_mut();
    if unauthorized && !headers.contains_key(WWW_AUTHENTICATE) {
        for c in challenges().iter() {
            headers.append(WWW_AUTHENTICATE, c.clone());
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
pub(crate) struct SharedResponder(pub(crate) Arc<dyn ErrorResponder>);

impl fmt::Debug for SharedResponder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorResponder")
    }
}

impl Default for SharedResponder {
    fn default() -> Self {
        Self(Arc::new(JsonErrors))
    }
}

/// Put into a request's extensions by an auth layer that let the request through without a
/// principal (an optional layer, no credential): the layer's responder, so the `Principal`
/// extractor answers a 401 in the layer's shape. Its absence tells the extractor that no
/// auth layer ran at all.
#[derive(Clone, Debug)]
pub(crate) struct AnonymousPass {
    responder: SharedResponder,
    /// The layer's challenges for a missing credential, rendered when the layer was built.
    challenges: Arc<[HeaderValue]>,
}

impl AnonymousPass {
    pub(crate) fn new(responder: SharedResponder, challenges: Arc<[HeaderValue]>) -> Self {
        Self {
            responder,
            challenges,
        }
    }

    /// The answer for a request the layer let through but whose handler needs a principal:
    /// 401 `missing_credentials` in the layer's shape, with the layer's challenges
    /// (RFC 9110 §15.5.2: a 401 carries `WWW-Authenticate`).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn missing(&self) -> Response<Bytes> {
        let error = AuthError::missing();
        finish_with(self.responder.0.respond(&error), &error, || {
            Arc::clone(&self.challenges)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn finished(error: &AuthError) -> Response<Bytes> {
        finish(JsonErrors.respond(error), error, &[Challenge::new("Basic")])
    }

    #[test]
    fn a_busy_503_carries_retry_after() {
        let res = finished(&AuthError::busy("queue full", Duration::from_secs(3)));
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()[RETRY_AFTER], "3");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
        assert!(!res.headers().contains_key(WWW_AUTHENTICATE));
    }

    #[test]
    fn a_429_carries_retry_after_and_a_plain_503_none() {
        let res = finished(&AuthError::too_many_attempts(Duration::from_secs(60)));
        assert_eq!(res.status(), 429);
        assert_eq!(res.headers()[RETRY_AFTER], "60");
        let res = finished(&AuthError::unavailable("store down"));
        assert_eq!(res.status(), 503);
        assert!(!res.headers().contains_key(RETRY_AFTER));
    }

    #[test]
    fn problem_json_says_the_public_message_never_the_detail() {
        let error = AuthError::expired("token tok-123 for alice expired at 12:00");
        let res = ProblemJson::new()
            .with_type_base("https://api.example.com/problems/")
            .respond(&error);
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()[CONTENT_TYPE], "application/problem+json");
        let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "https://api.example.com/problems/expired",
                "title": "Unauthorized",
                "status": 401,
                "detail": error.message(),
                "code": "expired",
            })
        );
        let text = String::from_utf8_lossy(res.body());
        assert!(
            !text.contains("tok-123") && !text.contains("alice"),
            "{text}"
        );
    }

    #[test]
    fn problem_json_titles_follow_the_status() {
        for (error, status, title) in [
            (AuthError::malformed("x"), 400, "Bad Request"),
            (AuthError::forbidden("x"), 403, "Forbidden"),
            (AuthError::unavailable("x"), 503, "Service Unavailable"),
        ] {
            let res = ProblemJson::new().respond(&error);
            let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
            assert_eq!(body["status"], status);
            assert_eq!(body["title"], title);
            assert_eq!(body["type"], "about:blank");
        }
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let res = finished(&AuthError::busy("queue full", Duration::from_millis(10)));
        assert_eq!(res.headers()[RETRY_AFTER], "1");
    }
}
