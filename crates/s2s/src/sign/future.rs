use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Request;
use http::request::Parts;
use http_body::Body;
use http_body_util::Full;
use http_body_util::combinators::Collect;
use pin_project::pin_project;
use tower_authn_core::short_circuit::PolledAfterCompletion;
use tower_service::Service;

use super::{SignError, Signer};
use crate::BoxError;

/// The response future of [`SignRequest`](super::SignRequest): reads the body, signs, then
/// calls the inner service. Polled after completion, it answers `Err` of
/// [`PolledAfterCompletion`].
#[pin_project]
pub struct ResponseFuture<B, S>
where
    B: Body,
    S: Service<Request<Full<Bytes>>>,
{
    #[pin]
    state: State<B, S>,
}

// One future per request: boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[pin_project(project = StateProj)]
enum State<B, S>
where
    B: Body,
    S: Service<Request<Full<Bytes>>>,
{
    Reading {
        #[pin]
        body: Collect<B>,
        parts: Option<Parts>,
        inner: Option<S>,
        signer: Signer,
    },
    Calling {
        #[pin]
        fut: S::Future,
    },
    Done,
}

impl<B, S> ResponseFuture<B, S>
where
    B: Body,
    S: Service<Request<Full<Bytes>>>,
{
    pub(super) fn new(parts: Parts, body: Collect<B>, inner: S, signer: Signer) -> Self {
        Self {
            state: State::Reading {
                body,
                parts: Some(parts),
                inner: Some(inner),
                signer,
            },
        }
    }
}

impl<B, S> std::fmt::Debug for ResponseFuture<B, S>
where
    B: Body,
    S: Service<Request<Full<Bytes>>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<B, S> Future for ResponseFuture<B, S>
where
    B: Body,
    B::Error: Into<BoxError>,
    S: Service<Request<Full<Bytes>>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Reading {
                    body,
                    parts,
                    inner,
                    signer,
                } => {
                    let collected = ready!(body.poll(cx));
                    let (Some(mut parts), Some(mut inner)) = (parts.take(), inner.take()) else {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(PolledAfterCompletion.into()));
                    };
                    let bytes = match collected {
                        Ok(c) => c.to_bytes(),
                        Err(e) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(Box::new(SignError::Body(e.into()))));
                        }
                    };
                    let signer = signer.clone();
                    match signer.sign_parts(&mut parts, bytes) {
                        Ok(body) => {
                            let req = Request::from_parts(parts, Full::new(body));
                            this.state.set(State::Calling {
                                fut: inner.call(req),
                            });
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "s2s: request not signed");
                            this.state.set(State::Done);
                            return Poll::Ready(Err(Box::new(e)));
                        }
                    }
                }
                StateProj::Calling { fut } => {
                    let res = ready!(fut.poll(cx)).map_err(Into::into);
                    this.state.set(State::Done);
                    return Poll::Ready(res);
                }
                StateProj::Done => return Poll::Ready(Err(PolledAfterCompletion.into())),
            }
        }
    }
}
