use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use pin_project::pin_project;
use tower_authn_core::AuthError;
use tower_service::Service;

use super::{Pending, SignatureVerifier, Verified};
use crate::BoxError;
use crate::store::AppStore;

/// The response future of [`VerifySignature`](super::VerifySignature): app lookup, body
/// buffering, verification, then the inner service.
#[pin_project]
pub struct ResponseFuture<S, St, B>
where
    S: Service<Request<Full<Bytes>>>,
    St: AppStore,
    B: Body,
    B::Error: Into<BoxError>,
{
    #[pin]
    state: State<S, St, B>,
}

struct Ctx<S, St, B> {
    parts: Parts,
    body: Option<B>,
    inner: S,
    verifier: Arc<SignatureVerifier<St>>,
}

// One future per request: boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[pin_project(project = StateProj)]
enum State<S, St, B>
where
    S: Service<Request<Full<Bytes>>>,
    St: AppStore,
    B: Body,
    B::Error: Into<BoxError>,
{
    LookingUp {
        #[pin]
        lookup: St::Future,
        pending: Option<Pending>,
        ctx: Option<Ctx<S, St, B>>,
    },
    Reading {
        #[pin]
        body: Collect<Limited<B>>,
        verified: Option<Verified>,
        ctx: Option<Ctx<S, St, B>>,
    },
    Calling {
        #[pin]
        fut: S::Future,
    },
    Rejected {
        response: Option<S::Response>,
    },
}

impl<S, St, B> ResponseFuture<S, St, B>
where
    S: Service<Request<Full<Bytes>>>,
    St: AppStore,
    B: Body,
    B::Error: Into<BoxError>,
{
    pub(super) fn lookup(
        lookup: St::Future,
        pending: Pending,
        parts: Parts,
        body: B,
        inner: S,
        verifier: Arc<SignatureVerifier<St>>,
    ) -> Self {
        let ctx = Ctx {
            parts,
            body: Some(body),
            inner,
            verifier,
        };
        Self {
            state: State::LookingUp {
                lookup,
                pending: Some(pending),
                ctx: Some(ctx),
            },
        }
    }

    pub(super) fn rejected(response: S::Response) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }
}

impl<S, St, B> std::fmt::Debug for ResponseFuture<S, St, B>
where
    S: Service<Request<Full<Bytes>>>,
    St: AppStore,
    B: Body,
    B::Error: Into<BoxError>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

fn reject<St: AppStore, ResBody: From<Bytes>>(
    verifier: &SignatureVerifier<St>,
    error: &AuthError,
    app_id: &str,
) -> Response<ResBody> {
    verifier.reject(error, Some(app_id)).map(ResBody::from)
}

impl<S, St, B, ResBody> Future for ResponseFuture<S, St, B>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
    St: AppStore,
    B: Body,
    B::Error: Into<BoxError>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::LookingUp {
                    lookup,
                    pending,
                    ctx,
                } => {
                    let found = ready!(lookup.poll(cx));
                    let (Some(pending), Some(mut ctx)) = (pending.take(), ctx.take()) else {
                        return Poll::Pending;
                    };
                    let app_id = pending.app_id.clone();
                    let checked = ctx
                        .verifier
                        .check_token(pending, found)
                        .and_then(|v| ctx.verifier.check_declared_len(&ctx.parts).map(|()| v));
                    match checked {
                        Ok(verified) => {
                            let limit = ctx.verifier.body_limit();
                            let Some(body) = ctx.body.take() else {
                                return Poll::Pending;
                            };
                            let body = Limited::new(body, limit).collect();
                            this.state.set(State::Reading {
                                body,
                                verified: Some(verified),
                                ctx: Some(ctx),
                            });
                        }
                        Err(e) => {
                            let res = reject(&ctx.verifier, &e, &app_id);
                            this.state.set(State::Rejected {
                                response: Some(res),
                            });
                        }
                    }
                }
                StateProj::Reading {
                    body,
                    verified,
                    ctx,
                } => {
                    let collected = ready!(body.poll(cx));
                    let (Some(verified), Some(mut ctx)) = (verified.take(), ctx.take()) else {
                        return Poll::Pending;
                    };
                    let bytes = match collected {
                        Ok(c) => c.to_bytes(),
                        Err(e) => {
                            let error = if e.downcast_ref::<LengthLimitError>().is_some() {
                                ctx.verifier.too_large()
                            } else {
                                AuthError::malformed("request body could not be read")
                            };
                            let res = reject(&ctx.verifier, &error, &verified.app_id);
                            this.state.set(State::Rejected {
                                response: Some(res),
                            });
                            continue;
                        }
                    };
                    match ctx
                        .verifier
                        .check_request(&ctx.parts, &bytes, &verified.claims)
                    {
                        Ok(()) => {
                            tracing::debug!(app_id = %verified.app_id, "s2s: request verified");
                            let principal = SignatureVerifier::<St>::principal(&verified);
                            ctx.verifier.hide(&mut ctx.parts);
                            ctx.parts.extensions.insert(principal);
                            let req = Request::from_parts(ctx.parts, Full::new(bytes));
                            let fut = ctx.inner.call(req);
                            this.state.set(State::Calling { fut });
                        }
                        Err(e) => {
                            let res = reject(&ctx.verifier, &e, &verified.app_id);
                            this.state.set(State::Rejected {
                                response: Some(res),
                            });
                        }
                    }
                }
                StateProj::Calling { fut } => return fut.poll(cx),
                StateProj::Rejected { response } => {
                    return match response.take() {
                        Some(res) => Poll::Ready(Ok(res)),
                        None => Poll::Pending,
                    };
                }
            }
        }
    }
}
