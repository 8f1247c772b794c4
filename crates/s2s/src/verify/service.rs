use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower_service::Service;

use super::{ResponseFuture, SignatureVerifier, VerifySignatureLayer};
use crate::BoxError;
use crate::store::AppStore;

/// A service that only lets verified signed requests through to `S`; see
/// [`VerifySignatureLayer`].
///
/// The inner service receives the request with its body buffered (a [`Full`] of the exact
/// bytes that arrived) and the app's [`Principal`](tower_authn_core::Principal) in the
/// extensions.
pub struct VerifySignature<S, St> {
    inner: S,
    verifier: Arc<SignatureVerifier<St>>,
}

impl<S, St> VerifySignature<S, St> {
    /// Wraps `inner` with `verifier`.
    pub fn new(inner: S, verifier: SignatureVerifier<St>) -> Self {
        Self {
            inner,
            verifier: Arc::new(verifier),
        }
    }

    pub(crate) fn from_shared(inner: S, verifier: Arc<SignatureVerifier<St>>) -> Self {
        Self { inner, verifier }
    }

    /// A [`VerifySignatureLayer`] with `verifier`.
    pub fn layer(verifier: SignatureVerifier<St>) -> VerifySignatureLayer<St> {
        VerifySignatureLayer::new(verifier)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming `self`.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, St> Clone for VerifySignature<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            verifier: self.verifier.clone(),
        }
    }
}

impl<S: fmt::Debug, St: fmt::Debug> fmt::Debug for VerifySignature<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifySignature")
            .field("inner", &self.inner)
            .field("verifier", &self.verifier)
            .finish()
    }
}

impl<S, St, B, ResBody> Service<Request<B>> for VerifySignature<S, St>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone,
    St: AppStore,
    B: Body,
    B::Error: Into<BoxError>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, St, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = req.into_parts();
        match self.verifier.check_head(&parts) {
            Ok(pending) => {
                let lookup = self.verifier.store().find_app(&pending.app_id);
                ResponseFuture::lookup(lookup, pending, parts, body, inner, self.verifier.clone())
            }
            Err(e) => ResponseFuture::rejected(self.verifier.reject(&e, None).map(ResBody::from)),
        }
    }
}
