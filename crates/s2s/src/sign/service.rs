use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tower_service::Service;

use super::{ResponseFuture, SignRequestLayer, Signer};
use crate::BoxError;

/// A client service that signs each request before passing it on; see [`SignRequestLayer`].
///
/// The request body is read whole (to sign it), then passed on as a [`Full`] body. Requests
/// that cannot be signed so that they verify fail with a [`SignError`](super::SignError),
/// and are never sent.
#[derive(Clone, Debug)]
pub struct SignRequest<S> {
    inner: S,
    signer: Signer,
}

impl<S> SignRequest<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, signer: Signer) -> Self {
        Self { inner, signer }
    }

    /// A [`SignRequestLayer`] with `signer`.
    pub fn layer(signer: Signer) -> SignRequestLayer {
        SignRequestLayer::new(signer)
    }
}

tower_authn_core::inner_service_accessors!(SignRequest<S>);

impl<S, B> Service<Request<B>> for SignRequest<S>
where
    S: Service<Request<Full<Bytes>>> + Clone,
    S::Error: Into<BoxError>,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<B, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The ready service goes with the request; a clone stays for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = req.into_parts();
        ResponseFuture::new(parts, body.collect(), inner, self.signer.clone())
    }
}
