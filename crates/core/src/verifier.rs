//! [`Verifier`]: who does this credential belong to? Async, typed and pluggable.
//!
//! Implemented for async closures and, through [`ServiceVerifier`], for any `tower::Service`,
//! so a database lookup plugs in without writing a layer.
//!
//! # A closure with state
//!
//! A verifier is called once per request, so its closure must be `Fn`: it may not give away
//! what it captured. Capture the state in an `Arc` and clone the `Arc` into each call's
//! future:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use tower_authn_core::prelude::*;
//!
//! let passwords = Arc::new(HashMap::from([("alice".to_owned(), "wonderland".to_owned())]));
//! let verify = move |c: BasicCredentials| {
//!     let passwords = Arc::clone(&passwords); // one clone per call ...
//!     async move {
//!         // ... moved into this call's future.
//!         match passwords.get(c.username()) {
//!             Some(p) if p == c.expose_password() => Ok(Principal::user(c.username())),
//!             _ => Err(AuthError::invalid("unknown user or wrong password")),
//!         }
//!     }
//! };
//! let layer = BasicAuthLayer::new(verify);
//! # let _ = layer;
//! ```
//!
//! (A toy: compare real passwords with the memory store's `password_verifier()`, which
//! checks PHC hashes in constant time.) Without the clone, `async move` takes `passwords`
//! out of the closure, which can then run only once, and the layer refuses it:
//!
//! ```compile_fail,E0525
//! # use std::collections::HashMap;
//! # use std::sync::Arc;
//! # use tower_authn_core::prelude::*;
//! let passwords = Arc::new(HashMap::from([("alice".to_owned(), "wonderland".to_owned())]));
//! let layer = BasicAuthLayer::new(move |c: BasicCredentials| async move {
//!     match passwords.get(c.username()) {
//!         Some(p) if p == c.expose_password() => Ok(Principal::user(c.username())),
//!         _ => Err(AuthError::invalid("unknown user or wrong password")),
//!     }
//! });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;
use tower_service::Service;

use crate::error::AuthError;
use crate::principal::Principal;

/// Resolves a credential of type `C` to a [`Principal`].
///
/// ```
/// use tower_authn_core::{AuthError, Principal, Verifier, credential::BasicCredentials};
///
/// let verifier = |c: BasicCredentials| async move {
///     if c.username() == "Aladdin" && c.expose_password() == "open sesame" {
///         Ok(Principal::user(c.username))
///     } else {
///         Err(AuthError::invalid("wrong user or password"))
///     }
/// };
/// # fn assert_verifier<V: Verifier<BasicCredentials>>(_: &V) {}
/// assert_verifier(&verifier);
/// ```
pub trait Verifier<C>: Clone + Send + Sync + 'static {
    /// The verification future.
    type Future: Future<Output = Result<Principal, AuthError>> + Send + 'static;

    /// Verifies `credential`.
    ///
    /// # Errors
    ///
    /// [`AuthError`] with kind `InvalidCredentials`, `Expired` or `Revoked` when the credential
    /// is not good, `Unavailable` when the backend cannot answer (the request fails closed).
    fn verify(&self, credential: C) -> Self::Future;
}

/// Combinators on every [`Verifier`].
pub trait VerifierExt<C>: Verifier<C> + Sized {
    /// Tries `other` when `self` answers `invalid_credentials` (it does not know the
    /// credential). Any other answer stands: an expired, revoked or unavailable answer is
    /// never retried elsewhere. For one credential slot that accepts several token kinds
    /// (a shared token, an issued token or a JWT in `X-Auth-Token`).
    ///
    /// ```
    /// use tower_authn_core::{SharedTokenVerifier, Verifier, VerifierExt};
    /// use tower_authn_core::credential::TokenCredential;
    /// use tower_authn_core::CredentialLocation;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let either = SharedTokenVerifier::new("one").or_else(SharedTokenVerifier::new("two"));
    /// let at = || CredentialLocation::Query("token".into());
    /// assert!(either.verify(TokenCredential::new("two", at())).await.is_ok());
    /// assert!(either.verify(TokenCredential::new("three", at())).await.is_err());
    /// # }
    /// ```
    fn or_else<B: Verifier<C>>(self, other: B) -> OrElse<Self, B>
    where
        C: Clone + Send + 'static,
    {
        OrElse {
            first: self,
            second: other,
        }
    }
}

impl<C, V: Verifier<C>> VerifierExt<C> for V {}

/// Any [`Verifier`] of `C` behind one type: for a verifier chosen at run time (a
/// configuration that may or may not name a key source), or a struct field that should
/// not carry the verifier's type. One boxed future per verification.
///
/// ```
/// use tower_authn_core::{AuthError, BoxVerifier, SharedTokenVerifier};
/// use tower_authn_core::credential::TokenCredential;
///
/// let configured: Option<&str> = None;
/// let verifier: BoxVerifier<TokenCredential> = match configured {
///     Some(token) => BoxVerifier::new(SharedTokenVerifier::new(token)),
///     None => BoxVerifier::failing(AuthError::unavailable("no server token configured")),
/// };
/// # let _ = verifier;
/// ```
pub struct BoxVerifier<C>(
    std::sync::Arc<
        dyn Fn(C) -> futures_util::future::BoxFuture<'static, Result<Principal, AuthError>>
            + Send
            + Sync,
    >,
);

impl<C: Send + 'static> BoxVerifier<C> {
    /// Boxes `verifier`.
    pub fn new<V: Verifier<C>>(verifier: V) -> Self {
        Self(std::sync::Arc::new(move |c| Box::pin(verifier.verify(c))))
    }

    /// A verifier that answers `error` to everything (a source that is not configured or
    /// cannot be loaded: fail closed).
    pub fn failing(error: AuthError) -> Self {
        Self(std::sync::Arc::new(move |_| {
            Box::pin(std::future::ready(Err(error.clone())))
        }))
    }
}

impl<C> Clone for BoxVerifier<C> {
    fn clone(&self) -> Self {
        Self(std::sync::Arc::clone(&self.0))
    }
}

impl<C> fmt::Debug for BoxVerifier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxVerifier")
    }
}

impl<C: Send + 'static> Verifier<C> for BoxVerifier<C> {
    type Future = futures_util::future::BoxFuture<'static, Result<Principal, AuthError>>;

    fn verify(&self, credential: C) -> Self::Future {
        (self.0)(credential)
    }
}

/// The verifier built by [`VerifierExt::or_else`].
#[derive(Clone, Debug)]
pub struct OrElse<A, B> {
    first: A,
    second: B,
}

impl<A, B, C> Verifier<C> for OrElse<A, B>
where
    A: Verifier<C>,
    B: Verifier<C>,
    C: Clone + Send + 'static,
{
    type Future = OrElseFuture<A::Future, B, C>;

    fn verify(&self, credential: C) -> Self::Future {
        let first = self.first.verify(credential.clone());
        OrElseFuture {
            state: OrElseState::First {
                future: first,
                next: Some((self.second.clone(), credential)),
            },
        }
    }
}

/// The future of [`OrElse`].
#[pin_project]
pub struct OrElseFuture<F, B: Verifier<C>, C> {
    #[pin]
    state: OrElseState<F, B, C>,
}

#[pin_project(project = OrElseProj)]
enum OrElseState<F, B: Verifier<C>, C> {
    First {
        #[pin]
        future: F,
        next: Option<(B, C)>,
    },
    Second(#[pin] B::Future),
}

impl<F, B: Verifier<C>, C> fmt::Debug for OrElseFuture<F, B, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrElseFuture").finish_non_exhaustive()
    }
}

impl<F, B, C> Future for OrElseFuture<F, B, C>
where
    F: Future<Output = Result<Principal, AuthError>>,
    B: Verifier<C>,
{
    type Output = Result<Principal, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                OrElseProj::First { future, next } => match std::task::ready!(future.poll(cx)) {
                    Err(e) if e.kind() == crate::ErrorKind::InvalidCredentials => match next.take()
                    {
                        Some((second, credential)) => {
                            let future = second.verify(credential);
                            this.state.set(OrElseState::Second(future));
                        }
                        None => return Poll::Ready(Err(e)),
                    },
                    other => return Poll::Ready(other),
                },
                OrElseProj::Second(future) => return future.poll(cx),
            }
        }
    }
}

impl<F, Fut, C> Verifier<C> for F
where
    F: Fn(C) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Principal, AuthError>> + Send + 'static,
{
    type Future = Fut;

    fn verify(&self, credential: C) -> Fut {
        self(credential)
    }
}

/// Adapts a `tower::Service<C, Response = Principal>` into a [`Verifier`].
///
/// Each verification clones the service, waits for readiness and calls it once. Service
/// errors convert with `Into<AuthError>`; use [`AuthError::unavailable`] for backend failures.
///
/// ```
/// use tower_authn_core::{AuthError, Principal, ServiceVerifier, credential::TokenCredential};
///
/// let svc = tower::service_fn(|t: TokenCredential| async move {
///     if t.expose() == "demo" { Ok(Principal::app("demo")) } else { Err(AuthError::invalid("unknown")) }
/// });
/// let verifier = ServiceVerifier::new(svc);
/// # let _ = verifier;
/// ```
#[derive(Clone)]
pub struct ServiceVerifier<S> {
    service: S,
}

impl<S> ServiceVerifier<S> {
    /// Wraps `service`.
    pub fn new(service: S) -> Self {
        Self { service }
    }
}

impl<S> fmt::Debug for ServiceVerifier<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceVerifier").finish_non_exhaustive()
    }
}

impl<S, C> Verifier<C> for ServiceVerifier<S>
where
    S: Service<C, Response = Principal> + Clone + Send + Sync + 'static,
    S::Error: Into<AuthError>,
    S::Future: Send + 'static,
    C: Send + 'static,
{
    type Future = ServiceVerifyFuture<S, C>;

    fn verify(&self, credential: C) -> Self::Future {
        ServiceVerifyFuture {
            state: ServiceVerifyState::Ready {
                service: self.service.clone(),
                credential: Some(credential),
            },
        }
    }
}

/// The future of a [`ServiceVerifier`]: poll_ready, then call once.
#[pin_project]
pub struct ServiceVerifyFuture<S: Service<C>, C> {
    #[pin]
    state: ServiceVerifyState<S, C>,
}

#[pin_project(project = StateProj)]
enum ServiceVerifyState<S: Service<C>, C> {
    Ready { service: S, credential: Option<C> },
    Calling(#[pin] S::Future),
}

impl<S: Service<C>, C> fmt::Debug for ServiceVerifyFuture<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceVerifyFuture")
            .finish_non_exhaustive()
    }
}

impl<S, C> Future for ServiceVerifyFuture<S, C>
where
    S: Service<C, Response = Principal>,
    S::Error: Into<AuthError>,
{
    type Output = Result<Principal, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Ready {
                    service,
                    credential,
                } => {
                    if let Err(e) = std::task::ready!(service.poll_ready(cx)) {
                        return Poll::Ready(Err(e.into()));
                    }
                    let Some(credential) = credential.take() else {
                        return Poll::Ready(Err(AuthError::unavailable(
                            "verifier polled after completion",
                        )));
                    };
                    let fut = service.call(credential);
                    this.state.set(ServiceVerifyState::Calling(fut));
                }
                StateProj::Calling(fut) => return fut.poll(cx).map_err(Into::into),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::TokenCredential;
    use crate::principal::CredentialLocation;

    #[tokio::test]
    async fn or_else_retries_only_unknown_credentials() {
        let expired = |_: TokenCredential| async { Err::<Principal, _>(AuthError::expired("old")) };
        let unknown =
            |_: TokenCredential| async { Err::<Principal, _>(AuthError::invalid("who?")) };
        let down =
            |_: TokenCredential| async { Err::<Principal, _>(AuthError::unavailable("down")) };
        let ok = |_: TokenCredential| async { Ok(Principal::app("b")) };
        let c = || TokenCredential::new("t", CredentialLocation::Query("token".into()));
        assert_eq!(unknown.or_else(ok).verify(c()).await.unwrap().id, "b");
        assert_eq!(
            expired.or_else(ok).verify(c()).await.unwrap_err().code(),
            "expired"
        );
        assert_eq!(
            down.or_else(ok).verify(c()).await.unwrap_err().status(),
            503
        );
        assert_eq!(
            unknown
                .or_else(unknown)
                .verify(c())
                .await
                .unwrap_err()
                .code(),
            "invalid_credentials"
        );
    }

    #[tokio::test]
    async fn service_verifier_calls_service() {
        let svc = tower::service_fn(|t: TokenCredential| async move {
            if t.expose() == "good" {
                Ok::<_, AuthError>(Principal::app("a"))
            } else {
                Err(AuthError::invalid("bad"))
            }
        });
        let v = ServiceVerifier::new(svc);
        let loc = || CredentialLocation::Query("token".into());
        assert_eq!(
            v.verify(TokenCredential::new("good", loc()))
                .await
                .unwrap()
                .id,
            "a"
        );
        assert_eq!(
            v.verify(TokenCredential::new("bad", loc()))
                .await
                .unwrap_err()
                .status(),
            401
        );
    }
}
