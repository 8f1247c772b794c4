//! [`ShortCircuit`]: the response future of a middleware that either calls its inner
//! service or answers at once (a rejection, a redirect), without boxing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Response, StatusCode};
use pin_project::pin_project;

/// Either the inner service's future, or a response decided before calling it.
#[pin_project(project = ShortCircuitProj)]
#[derive(Debug)]
pub enum ShortCircuit<F, B> {
    /// The inner service answers.
    Inner(#[pin] F),
    /// The middleware answered itself.
    Answered(Option<Response<B>>),
}

impl<F, B, E> Future for ShortCircuit<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<Bytes>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ShortCircuitProj::Inner(f) => f.poll(cx),
            ShortCircuitProj::Answered(r) => Poll::Ready(Ok(r.take().unwrap_or_else(|| {
                // Polled after completion: a caller bug; answer rather than panic.
                let mut res = Response::new(B::from(Bytes::new()));
                *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                res
            }))),
        }
    }
}
