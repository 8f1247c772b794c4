use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use pin_project::pin_project;
use tower_service::Service;

use super::service::Shared;
use crate::error::AuthError;
use crate::scheme::Scheme;

/// The response future of [`Authn`](super::Authn): verifying, then calling the inner
/// service, or an immediate failure answer. No boxing.
#[pin_project]
pub struct ResponseFuture<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>>,
    Sc: Scheme,
{
    #[pin]
    state: State<S, Sc, ReqBody>,
}

// The verifying state carries the request head; boxing it would cost an allocation per
// request to save a few hundred bytes in a future that is moved once.
#[allow(clippy::large_enum_variant)]
#[pin_project(project = StateProj)]
enum State<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>>,
    Sc: Scheme,
{
    Verifying {
        #[pin]
        verify: Sc::Future,
        inner: S,
        request: Option<(Parts, ReqBody)>,
        shared: Arc<Shared<Sc>>,
    },
    Calling {
        #[pin]
        future: S::Future,
    },
    Ready {
        response: Option<S::Response>,
    },
}

impl<S, Sc, ReqBody> ResponseFuture<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>>,
    Sc: Scheme,
{
    pub(crate) fn verifying(
        verify: Sc::Future,
        inner: S,
        parts: Parts,
        body: ReqBody,
        shared: Arc<Shared<Sc>>,
    ) -> Self {
        Self {
            state: State::Verifying {
                verify,
                inner,
                request: Some((parts, body)),
                shared,
            },
        }
    }

    pub(crate) fn calling(future: S::Future) -> Self {
        Self {
            state: State::Calling { future },
        }
    }

    pub(crate) fn ready(response: S::Response) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

impl<S, Sc, ReqBody, ResBody> Future for ResponseFuture<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    Sc: Scheme,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Verifying {
                    verify,
                    inner,
                    request,
                    shared,
                } => {
                    let outcome = ready!(verify.poll(cx));
                    let Some((mut parts, body)) = request.take() else {
                        // Unreachable by construction: the state changes right below.
                        let e = AuthError::unavailable("auth future polled after completion");
                        return Poll::Ready(Ok(shared.reject(&e)));
                    };
                    let principal = match outcome {
                        Ok(p) => p,
                        Err(e) => return Poll::Ready(Ok(shared.reject(&e))),
                    };
                    if let Some(requirement) = &shared.options.requirement {
                        if let Err(e) = requirement.check(&principal) {
                            return Poll::Ready(Ok(shared.reject(&e)));
                        }
                    }
                    tracing::debug!(scheme = %principal.scheme, principal = %principal.id, kind = principal.kind.as_str(), "authenticated");
                    shared
                        .scheme
                        .hide(&mut parts, shared.options.hide.unwrap_or_default());
                    parts.extensions.insert(principal);
                    let future = inner.call(Request::from_parts(parts, body));
                    this.state.set(State::Calling { future });
                }
                StateProj::Calling { future } => return future.poll(cx),
                StateProj::Ready { response } => {
                    return match response.take() {
                        Some(r) => Poll::Ready(Ok(r)),
                        None => {
                            // Polled after completion: answer 503 rather than panic.
                            let mut r = Response::new(ResBody::from(Bytes::new()));
                            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                            Poll::Ready(Ok(r))
                        }
                    };
                }
            }
        }
    }
}

impl<S, Sc, ReqBody> fmt::Debug for ResponseFuture<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>>,
    Sc: Scheme,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
