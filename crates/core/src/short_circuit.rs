//! [`ShortCircuit`]: the response future of a middleware that either calls its inner
//! service or answers at once (a rejection, a redirect), without boxing; and
//! [`PolledAfterCompletion`], the one answer of every middleware future of this workspace
//! polled again after it completed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Response, StatusCode};
use pin_project::pin_project;

use crate::respond::json_response;

/// Either the inner service's future, or a response decided before calling it. Polled after
/// completion (either way), it answers [`PolledAfterCompletion::response`].
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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.as_mut().project() {
            ShortCircuitProj::Inner(f) => {
                let out = ready!(f.poll(cx));
                // The inner future is done: it is never polled again.
                self.set(Self::Answered(None));
                Poll::Ready(out)
            }
            ShortCircuitProj::Answered(r) => {
                Poll::Ready(Ok(r.take().unwrap_or_else(PolledAfterCompletion::response)))
            }
        }
    }
}

/// A middleware future polled again after it completed: a caller bug, answered the same way
/// by every hand-written future of this workspace, never with a panic or a `Pending` that
/// never wakes.
///
/// A server middleware (whose error type is its inner service's) answers
/// [`PolledAfterCompletion::response`]: `500 Internal Server Error`,
/// `{"error":"polled_after_completion",..}`. A client middleware whose error type is its own
/// (the request-signing layer) answers `Err` of this error.
///
/// ```
/// use bytes::Bytes;
/// use tower_authn_core::short_circuit::PolledAfterCompletion;
///
/// let res = PolledAfterCompletion::response::<Bytes>();
/// assert_eq!(res.status(), 500);
/// assert_eq!(PolledAfterCompletion.to_string(), "future polled after completion");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolledAfterCompletion;

impl PolledAfterCompletion {
    /// The `500` answer.
    pub fn response<B: From<Bytes>>() -> Response<B> {
        tracing::error!("a middleware future was polled after it completed");
        let body =
            r#"{"error":"polled_after_completion","message":"future polled after completion"}"#;
        json_response(StatusCode::INTERNAL_SERVER_ERROR, body.to_owned()).map(B::from)
    }
}

impl fmt::Display for PolledAfterCompletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("future polled after completion")
    }
}

impl std::error::Error for PolledAfterCompletion {}

/// Writes `get_ref`, `get_mut` and `into_inner` for a middleware service whose field `inner`
/// holds the wrapped service of its first type parameter: `inner_service_accessors!(Authn<S, Sc>)`.
#[doc(hidden)]
#[macro_export]
macro_rules! inner_service_accessors {
    ($ty:ident < $s:ident $(, $g:ident)* >) => {
        impl<$s $(, $g)*> $ty<$s $(, $g)*> {
            /// The inner service.
            pub fn get_ref(&self) -> &$s {
                &self.inner
            }

            /// The inner service, mutably.
            pub fn get_mut(&mut self) -> &mut $s {
                &mut self.inner
            }

            /// Consumes `self`, returning the inner service.
            pub fn into_inner(self) -> $s {
                self.inner
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::FutureExt as _;

    use super::*;

    #[test]
    fn an_answered_future_polled_again_answers_500() {
        let mut f =
            ShortCircuit::<std::future::Ready<Result<Response<Bytes>, Infallible>>, _>::Answered(
                Some(Response::new(Bytes::from_static(b"first"))),
            );
        let first = (&mut f).now_or_never().unwrap().unwrap();
        assert_eq!(first.into_body(), "first");
        let again = (&mut f).now_or_never().unwrap().unwrap();
        assert_eq!(again.status(), 500);

        // An inner future is not polled again once it answered.
        let inner = Box::pin(async { Ok::<_, Infallible>(Response::new(Bytes::new())) });
        let mut f = ShortCircuit::Inner(inner);
        assert_eq!((&mut f).now_or_never().unwrap().unwrap().status(), 200);
        assert_eq!((&mut f).now_or_never().unwrap().unwrap().status(), 500);
    }
}
