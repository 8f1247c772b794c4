use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use pin_project::pin_project;
use tower_service::Service;

use super::service::Shared;
use crate::scheme::{ReadBody, Scheme};
use crate::short_circuit::PolledAfterCompletion;

/// The response future of [`Authn`](super::Authn): reading the body (for a scheme that
/// needs it), verifying, then calling the inner service; or an immediate failure answer.
/// No boxing. Polled after completion, it answers [`PolledAfterCompletion::response`].
#[pin_project]
pub struct ResponseFuture<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>>,
    Sc: Scheme,
    Sc::Body: ReadBody<ReqBody>,
{
    #[pin]
    state: State<S, Sc, ReqBody>,
}

/// What a state hands to the next one; `None` once handed on.
struct Ctx<S, Sc: Scheme, T> {
    parts: Parts,
    inner: S,
    shared: Arc<Shared<Sc>>,
    carry: T,
}

// The states carry the request head; boxing it would cost an allocation per request to save
// a few hundred bytes in a future that is moved once.
#[allow(clippy::large_enum_variant)]
#[pin_project(project = StateProj)]
enum State<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>>,
    Sc: Scheme,
    Sc::Body: ReadBody<ReqBody>,
{
    Reading {
        #[pin]
        read: <Sc::Body as ReadBody<ReqBody>>::Read,
        ctx: Option<Ctx<S, Sc, Sc::Credential>>,
    },
    Verifying {
        #[pin]
        verify: Sc::Future,
        /// When the verify step started, when its time is recorded ([`crate::metrics`], the
        /// `authn` debug event).
        started: Option<Instant>,
        ctx: Option<Ctx<S, Sc, ReqBody>>,
    },
    Calling {
        #[pin]
        future: S::Future,
    },
    Answered {
        response: Option<S::Response>,
    },
}

impl<S, Sc, ReqBody> ResponseFuture<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>>,
    Sc: Scheme,
    Sc::Body: ReadBody<ReqBody>,
{
    pub(crate) fn reading(
        read: <Sc::Body as ReadBody<ReqBody>>::Read,
        credential: Sc::Credential,
        parts: Parts,
        inner: S,
        shared: Arc<Shared<Sc>>,
    ) -> Self {
        let ctx = Ctx {
            parts,
            inner,
            shared,
            carry: credential,
        };
        Self {
            state: State::Reading {
                read,
                ctx: Some(ctx),
            },
        }
    }

    pub(crate) fn verifying(
        verify: Sc::Future,
        started: Option<Instant>,
        inner: S,
        parts: Parts,
        body: ReqBody,
        shared: Arc<Shared<Sc>>,
    ) -> Self {
        let ctx = Ctx {
            parts,
            inner,
            shared,
            carry: body,
        };
        Self {
            state: State::Verifying {
                verify,
                started,
                ctx: Some(ctx),
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
            state: State::Answered {
                response: Some(response),
            },
        }
    }
}

impl<S, Sc, ReqBody, ResBody> Future for ResponseFuture<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    Sc: Scheme,
    Sc::Body: ReadBody<ReqBody>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Reading { read, ctx } => {
                    let read = ready!(read.poll(cx));
                    let Some(ctx) = ctx.take() else {
                        return Poll::Ready(Ok(PolledAfterCompletion::response()));
                    };
                    let scheme = &ctx.shared.scheme;
                    let verified = read.and_then(|(bytes, body)| {
                        let credential = scheme.extract_body(ctx.carry, &ctx.parts, &bytes)?;
                        let started = super::service::start_clock();
                        Ok((scheme.verify(credential), started, body))
                    });
                    match verified {
                        Ok((verify, started, body)) => State::Verifying {
                            verify,
                            started,
                            ctx: Some(Ctx {
                                parts: ctx.parts,
                                inner: ctx.inner,
                                shared: ctx.shared,
                                carry: body,
                            }),
                        },
                        Err(e) => State::Answered {
                            response: Some(ctx.shared.reject(&e, None)),
                        },
                    }
                }
                StateProj::Verifying {
                    verify,
                    started,
                    ctx,
                } => {
                    let outcome = ready!(verify.poll(cx));
                    let elapsed = started.map(|s| s.elapsed());
                    let Some(Ctx {
                        mut parts,
                        mut inner,
                        shared,
                        carry: body,
                    }) = ctx.take()
                    else {
                        return Poll::Ready(Ok(PolledAfterCompletion::response()));
                    };
                    let checked = outcome.and_then(|principal| {
                        if let Some(requirement) = &shared.options.requirement {
                            requirement.check(&principal)?;
                        }
                        Ok(principal)
                    });
                    match checked {
                        Ok(principal) => {
                            shared.accepted(&principal, elapsed);
                            shared
                                .scheme
                                .hide(&mut parts, shared.options.hide.unwrap_or_default());
                            parts.extensions.insert(principal);
                            State::Calling {
                                future: inner.call(Request::from_parts(parts, body)),
                            }
                        }
                        Err(e) => State::Answered {
                            response: Some(shared.reject(&e, elapsed)),
                        },
                    }
                }
                StateProj::Calling { future } => {
                    let out = ready!(future.poll(cx));
                    // The inner future is done: it is never polled again.
                    this.state.set(State::Answered { response: None });
                    return Poll::Ready(out);
                }
                StateProj::Answered { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .unwrap_or_else(PolledAfterCompletion::response)));
                }
            };
            this.state.set(next);
        }
    }
}

impl<S, Sc, ReqBody> fmt::Debug for ResponseFuture<S, Sc, ReqBody>
where
    S: Service<Request<ReqBody>>,
    Sc: Scheme,
    Sc::Body: ReadBody<ReqBody>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
