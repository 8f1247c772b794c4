use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::{AuthnLayer, Options};
use crate::error::AuthError;
use crate::respond::finish;
use crate::scheme::{Extraction, Scheme};

/// The service built by [`AuthnLayer`].
pub struct Authn<S, Sc> {
    inner: S,
    shared: Arc<Shared<Sc>>,
}

pub(crate) struct Shared<Sc> {
    pub(crate) scheme: Sc,
    pub(crate) options: Options,
}

impl<Sc: Scheme> Shared<Sc> {
    /// The full failure answer for `error`, challenges included.
    pub(crate) fn reject<B: From<Bytes>>(&self, error: &AuthError) -> Response<B> {
        tracing::debug!(code = error.code(), detail = error.detail(), location = ?error.location(), "authentication rejected");
        let mut challenges = Vec::new();
        self.scheme.challenges(Some(error), &mut challenges);
        let res = finish(
            self.options.responder().0.respond(error),
            error,
            &challenges,
        );
        res.map(B::from)
    }
}

impl<S, Sc: Scheme> Authn<S, Sc> {
    /// Wraps `inner` with `scheme` and default options.
    pub fn new(inner: S, scheme: Sc) -> Self {
        Self::from_shared(
            inner,
            Arc::new(Shared {
                scheme,
                options: Options::default(),
            }),
        )
    }

    /// The layer, as tower's convention has it.
    pub fn layer(scheme: Sc) -> AuthnLayer<Sc> {
        AuthnLayer::from_scheme(scheme)
    }

    pub(crate) fn from_shared(inner: S, shared: Arc<Shared<Sc>>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, Sc> Clone for Authn<S, Sc> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, Sc> fmt::Debug for Authn<S, Sc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authn")
            .field("inner", &self.inner)
            .field("scheme", &std::any::type_name::<Sc>())
            .finish_non_exhaustive()
    }
}

impl<S, Sc, ReqBody, ResBody> Service<Request<ReqBody>> for Authn<S, Sc>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    Sc: Scheme,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Sc, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        match self.shared.scheme.extract(&parts) {
            Extraction::Found(credential) => {
                let verify = self.shared.scheme.verify(credential);
                // The ready service goes into the future; a clone takes its place (tower's
                // standard move for services whose call outlives `&mut self`).
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::verifying(verify, inner, parts, body, Arc::clone(&self.shared))
            }
            // A requirement cannot be met anonymously: optional with a requirement is a 401.
            Extraction::Absent if self.shared.options.passes_anonymous() => {
                ResponseFuture::calling(self.inner.call(Request::from_parts(parts, body)))
            }
            Extraction::Absent => ResponseFuture::ready(self.shared.reject(&AuthError::missing())),
            Extraction::Rejected(error) => ResponseFuture::ready(self.shared.reject(&error)),
        }
    }
}
