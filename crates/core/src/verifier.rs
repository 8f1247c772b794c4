//! [`Verifier`]: who does this credential belong to? Async, typed and pluggable.
//!
//! Implemented for async closures and, through [`ServiceVerifier`], for any `tower::Service`,
//! so a database lookup plugs in without writing a layer.

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
/// use secrecy::ExposeSecret;
///
/// let verifier = |c: BasicCredentials| async move {
///     if c.username == "Aladdin" && c.password.expose_secret() == "open sesame" {
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
            state: ServiceVerifyState::Ready { service: self.service.clone(), credential: Some(credential) },
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
        f.debug_struct("ServiceVerifyFuture").finish_non_exhaustive()
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
                StateProj::Ready { service, credential } => {
                    if let Err(e) = std::task::ready!(service.poll_ready(cx)) {
                        return Poll::Ready(Err(e.into()));
                    }
                    let Some(credential) = credential.take() else {
                        return Poll::Ready(Err(AuthError::unavailable("verifier polled after completion")));
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
        assert_eq!(v.verify(TokenCredential::new("good", loc())).await.unwrap().id, "a");
        assert_eq!(v.verify(TokenCredential::new("bad", loc())).await.unwrap_err().status(), 401);
    }
}
