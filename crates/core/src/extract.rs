//! axum extractors for [`Principal`] (axum-core only; the core never depends on axum).

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::AuthError;
use crate::principal::Principal;
use crate::respond::{ErrorResponder, JsonErrors, finish};

/// The rejection of the [`Principal`] extractor: 401 `missing_credentials`.
#[derive(Debug)]
pub struct MissingPrincipal;

impl IntoResponse for MissingPrincipal {
    fn into_response(self) -> Response {
        let e = AuthError::missing();
        finish(JsonErrors.respond(&e), &e, &[]).map(axum_core::body::Body::from)
    }
}

/// `Principal` as a handler argument: 401 when no auth layer authenticated the request.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = MissingPrincipal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(MissingPrincipal)
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
