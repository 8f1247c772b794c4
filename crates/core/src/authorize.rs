//! Authorization after authentication: roles, scopes or a predicate; 403 when unmet.
//!
//! Use [`AuthnLayer::require`](crate::AuthnLayer::require) on an auth layer, or
//! [`RequireLayer`] on a route whose principal an outer layer already set.
//!
//! ```
//! use tower_authn_core::{Principal, Requirement};
//!
//! let admins = Requirement::role("admin");
//! assert!(admins.check(&Principal::user("alice").with_roles(["admin"])).is_ok());
//! assert_eq!(admins.check(&Principal::user("bob")).unwrap_err().status(), 403);
//! ```

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::AuthError;
use crate::principal::Principal;
use crate::respond::{ErrorResponder, SharedResponder, finish};
use crate::short_circuit::ShortCircuit;

/// What an authenticated principal must have.
#[derive(Clone)]
pub struct Requirement {
    check: Arc<dyn Fn(&Principal) -> bool + Send + Sync>,
    label: Arc<str>,
}

impl Requirement {
    /// The principal must have `role`.
    pub fn role(role: impl Into<String>) -> Self {
        let role = role.into();
        let label = format!("role {role}");
        Self::predicate(label, move |p| p.has_role(&role))
    }

    /// The principal must have at least one of `roles`.
    pub fn any_role<I, R>(roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        let label = format!("any role of {roles:?}");
        Self::predicate(label, move |p| roles.iter().any(|r| p.has_role(r)))
    }

    /// The principal must have every one of `scopes`.
    pub fn scopes<I, R>(scopes: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let label = format!("scopes {scopes:?}");
        Self::predicate(label, move |p| scopes.iter().all(|s| p.has_scope(s)))
    }

    /// The principal must satisfy `check`; `label` names the rule in logs.
    pub fn predicate(
        label: impl Into<String>,
        check: impl Fn(&Principal) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            check: Arc::new(check),
            label: Arc::from(label.into()),
        }
    }

    /// `Ok` when `principal` meets the requirement.
    ///
    /// # Errors
    ///
    /// [`AuthError::forbidden`] (403) when it does not.
    pub fn check(&self, principal: &Principal) -> Result<(), AuthError> {
        if (self.check)(principal) {
            Ok(())
        } else {
            Err(AuthError::forbidden(format!(
                "{} lacks {}",
                principal.id, self.label
            )))
        }
    }
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Requirement").field(&self.label).finish()
    }
}

/// A layer that checks the [`Principal`] an outer auth layer inserted: none → 401,
/// requirement unmet → 403.
#[derive(Clone, Debug)]
pub struct RequireLayer {
    requirement: Requirement,
    responder: SharedResponder,
}

impl RequireLayer {
    /// Requires `requirement`.
    pub fn new(requirement: Requirement) -> Self {
        Self {
            requirement,
            responder: SharedResponder::default(),
        }
    }

    /// Sets the failure body shape.
    pub fn responder(mut self, responder: impl ErrorResponder) -> Self {
        self.responder = SharedResponder(Arc::new(responder));
        self
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Require<S> {
        Require {
            inner,
            requirement: self.requirement.clone(),
            responder: self.responder.clone(),
        }
    }
}

/// The service built by [`RequireLayer`].
#[derive(Clone, Debug)]
pub struct Require<S> {
    inner: S,
    requirement: Requirement,
    responder: SharedResponder,
}

impl<S> Require<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, requirement: Requirement) -> Self {
        RequireLayer::new(requirement).layer(inner)
    }

    /// The layer.
    pub fn layer(requirement: Requirement) -> RequireLayer {
        RequireLayer::new(requirement)
    }
}

crate::inner_service_accessors!(Require<S>);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RequireFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let outcome = match req.extensions().get::<Principal>() {
            None => Err(AuthError::missing()),
            Some(p) => self.requirement.check(p),
        };
        match outcome {
            Ok(()) => ShortCircuit::Inner(self.inner.call(req)),
            Err(e) => {
                tracing::debug!(
                    code = e.code(),
                    detail = e.detail(),
                    "authorization rejected"
                );
                let res = finish(self.responder.0.respond(&e), &e, &[]).map(ResBody::from);
                ShortCircuit::Answered(Some(res))
            }
        }
    }
}

/// The response future of [`Require`].
pub type RequireFuture<F, B> = ShortCircuit<F, B>;
