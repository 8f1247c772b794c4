//! axum extractors for [`Principal`] (axum-core only; the core never depends on axum).

use std::fmt;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::header::CACHE_CONTROL;
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use crate::principal::Principal;
use crate::respond::{AnonymousPass, json_response};

/// The rejection of the [`Principal`] extractor.
///
/// A handler takes `Principal` (the request must be authenticated) or `Option<Principal>`
/// (behind an [`optional`](crate::AuthnLayer::optional) layer). When `Principal` is missing,
/// this rejection tells two cases apart:
///
/// - an optional layer let an anonymous request through: 401 `missing_credentials`, in the
///   shape of that layer's responder;
/// - no auth layer ran at all (the route lacks its `.route_layer(..)`): a server bug, not the
///   client's fault, so 500 with a JSON body saying the server is misconfigured, and one
///   error-level log line per request naming the problem.
///
/// Usable in your own extractors:
///
/// ```
/// use axum_core::extract::FromRequestParts;
/// use http::request::Parts;
/// use tower_authn_core::{Principal, PrincipalRejection};
///
/// /// An admin, or the principal's rejection.
/// struct Admin(Principal);
///
/// impl<S: Send + Sync> FromRequestParts<S> for Admin {
///     type Rejection = PrincipalRejection;
///
///     async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
///         Principal::from_request_parts(parts, state).await.map(Admin)
///     }
/// }
/// ```
pub struct PrincipalRejection {
    kind: Kind,
}

enum Kind {
    /// An optional layer passed the request anonymously.
    Anonymous(AnonymousPass),
    /// No auth layer ran.
    NoLayer,
}

impl PrincipalRejection {
    /// The status it answers: 401 after an optional layer, 500 when no layer ran.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            Kind::Anonymous(_) => StatusCode::UNAUTHORIZED,
            Kind::NoLayer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether no auth layer ran on the route: a configuration error of the server.
    pub fn is_missing_layer(&self) -> bool {
        matches!(self.kind, Kind::NoLayer)
    }
}

impl fmt::Debug for PrincipalRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalRejection")
            .field("status", &self.status().as_u16())
            .finish()
    }
}

impl fmt::Display for PrincipalRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Anonymous(_) => f.write_str("no credentials"),
            Kind::NoLayer => f.write_str(MISSING_LAYER),
        }
    }
}

impl std::error::Error for PrincipalRejection {}

const MISSING_LAYER: &str =
    "Principal extractor on a route without an auth layer: add .route_layer(..)";

/// Marks a request whose missing layer was already logged, so it is logged once per request
/// however many extractors ask.
#[derive(Clone, Copy)]
struct MissingLayerLogged;

impl IntoResponse for PrincipalRejection {
    fn into_response(self) -> Response {
        let res = match self.kind {
            Kind::Anonymous(pass) => pass.missing(),
            Kind::NoLayer => {
                let body = serde_json::json!({
                    "error": "server_misconfigured",
                    "message": "the server is misconfigured; this is not a problem with the request",
                });
                let mut res = json_response(StatusCode::INTERNAL_SERVER_ERROR, body.to_string());
                res.headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                res
            }
        };
        res.map(axum_core::body::Body::from)
    }
}

fn rejection(parts: &mut Parts) -> PrincipalRejection {
    if let Some(pass) = parts.extensions.get::<AnonymousPass>() {
        return PrincipalRejection {
            kind: Kind::Anonymous(pass.clone()),
        };
    }
    if parts.extensions.insert(MissingLayerLogged).is_none() {
        // The path only: a query may hold a credential.
        tracing::error!(path = parts.uri.path(), "{MISSING_LAYER}");
    }
    PrincipalRejection {
        kind: Kind::NoLayer,
    }
}

/// `Principal` as a handler argument: 401 (in the layer's shape) when an optional layer let
/// the request through anonymously, 500 when no auth layer ran.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = PrincipalRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Principal>() {
            Some(p) => Ok(p.clone()),
            None => Err(rejection(parts)),
        }
    }
}

/// `Option<Principal>` as a handler argument: `None` for anonymous requests (optional auth).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}
