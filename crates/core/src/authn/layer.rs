use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::service::{Authn, Shared};
use crate::authorize::Requirement;
use crate::combinator::{AllOf, AnyOf};
use crate::respond::{ErrorResponder, SharedResponder};
use crate::scheme::{HideCredentials, Scheme};

/// Authenticates requests with a [`Scheme`] and inserts the [`Principal`](crate::Principal)
/// into the request's extensions.
///
/// Built by the named layers (`BasicAuthLayer::new`, ...) or [`AuthnLayer::from_scheme`];
/// options: [`optional`](Self::optional), [`responder`](Self::responder),
/// [`hide_credentials`](Self::hide_credentials), [`require`](Self::require); compose with
/// [`or`](Self::or) and [`and`](Self::and).
#[derive(Clone)]
pub struct AuthnLayer<Sc> {
    pub(crate) scheme: Sc,
    pub(crate) options: Options,
}

/// Options shared by every scheme's layer.
#[derive(Clone, Default)]
pub(crate) struct Options {
    pub(crate) responder: SharedResponder,
    pub(crate) optional: bool,
    pub(crate) hide: HideCredentials,
    pub(crate) requirement: Option<Requirement>,
}

impl<Sc: Scheme> AuthnLayer<Sc> {
    /// A layer for `scheme` with default options: required, JSON errors, credential
    /// headers removed.
    pub fn from_scheme(scheme: Sc) -> Self {
        Self {
            scheme,
            options: Options::default(),
        }
    }

    /// Anonymous requests (no credential of any accepted scheme) pass through without a
    /// principal; present-but-bad credentials are still rejected.
    pub fn optional(mut self) -> Self {
        self.options.optional = true;
        self
    }

    /// Sets the failure body shape (default [`JsonErrors`](crate::JsonErrors)).
    pub fn responder(mut self, responder: impl ErrorResponder) -> Self {
        self.options.responder = SharedResponder(Arc::new(responder));
        self
    }

    /// What to do with credential headers once verified (default: remove them). Query
    /// credentials are always removed from the URI.
    pub fn hide_credentials(mut self, mode: HideCredentials) -> Self {
        self.options.hide = mode;
        self
    }

    /// After authentication, the principal must meet `requirement`, else 403.
    pub fn require(mut self, requirement: Requirement) -> Self {
        self.options.requirement = Some(requirement);
        self
    }

    /// Any-of: this layer's scheme first, then `other`'s. The first scheme whose credential
    /// is present decides. Options are this layer's.
    pub fn or<B: Scheme>(self, other: AuthnLayer<B>) -> AuthnLayer<AnyOf<Sc, B>> {
        AuthnLayer {
            scheme: AnyOf::new(self.scheme, other.scheme),
            options: self.options,
        }
    }

    /// All-of: both credentials are required. Options are this layer's.
    pub fn and<B: Scheme>(self, other: AuthnLayer<B>) -> AuthnLayer<AllOf<Sc, B>> {
        AuthnLayer {
            scheme: AllOf::new(self.scheme, other.scheme),
            options: self.options,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> &Sc {
        &self.scheme
    }

    /// Changes the scheme (used by the named layers' builder methods).
    pub(crate) fn map_scheme(mut self, f: impl FnOnce(Sc) -> Sc) -> Self {
        self.scheme = f(self.scheme);
        self
    }
}

impl<S, Sc: Scheme> Layer<S> for AuthnLayer<Sc> {
    type Service = Authn<S, Sc>;

    fn layer(&self, inner: S) -> Self::Service {
        Authn::from_shared(
            inner,
            Arc::new(Shared {
                scheme: self.scheme.clone(),
                options: self.options.clone(),
            }),
        )
    }
}

impl<Sc> fmt::Debug for AuthnLayer<Sc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Schemes hold verifiers and stores with secrets: print only the options.
        f.debug_struct("AuthnLayer")
            .field("scheme", &std::any::type_name::<Sc>())
            .field("optional", &self.options.optional)
            .field("hide", &self.options.hide)
            .finish_non_exhaustive()
    }
}
