use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::service::{Authn, Shared};
use crate::authorize::Requirement;
use crate::combinator::{AllOf, AnyOf, Branch};
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

/// Options shared by every scheme's layer. `None` is "not set": the default applies, and
/// a composition can tell an explicit choice from a default one.
#[derive(Clone, Default)]
pub(crate) struct Options {
    /// The responder, with its type: two layers configured with the same responder type
    /// (`opentact::errors` on both sides) compose; different ones do not.
    pub(crate) responder: Option<(SharedResponder, TypeId)>,
    pub(crate) optional: bool,
    pub(crate) hide: Option<HideCredentials>,
    pub(crate) requirement: Option<Requirement>,
}

impl Options {
    /// Whether a request with no credential passes: optional, and no requirement (a
    /// requirement cannot be met anonymously).
    pub(crate) fn passes_anonymous(&self) -> bool {
        self.optional && self.requirement.is_none()
    }

    /// The responder, or the default one.
    pub(crate) fn responder(&self) -> SharedResponder {
        self.responder
            .as_ref()
            .map(|(r, _)| r.clone())
            .unwrap_or_default()
    }

    /// Splits into what a branch of a composition keeps for itself (its requirement and
    /// hiding) and what the composition must merge (responder, optional).
    fn into_branch<Sc>(self, scheme: Sc) -> (Branch<Sc>, Option<(SharedResponder, TypeId)>, bool) {
        let anonymous = self.passes_anonymous();
        (
            Branch::new(scheme, self.requirement, self.hide),
            self.responder,
            anonymous,
        )
    }
}

/// The one responder of a composition: the one either side set.
///
/// # Panics
///
/// When both sides set responders of different types (a configuration error: one answer
/// cannot have two shapes; set the responder on the composition instead). Two responders
/// of one type are one shape: the first side's answers.
fn merge_responders(
    first: Option<(SharedResponder, TypeId)>,
    second: Option<(SharedResponder, TypeId)>,
) -> Option<(SharedResponder, TypeId)> {
    match (first, second) {
        (Some(a), Some(b)) => {
            assert!(
                a.1 == b.1,
                "AuthnLayer::or/and: both layers set a different responder; set one on the \
                 composition (`a.or(b).responder(r)`) instead"
            );
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

/// Two sides of an any-of that read one credential slot: the first always decides there,
/// so the second could never be reached. A configuration error, refused at build time.
///
/// # Panics
///
/// When `first` and `second` share a slot.
fn refuse_shared_slots<A: Scheme, B: Scheme>(first: &A, second: &B) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    first.slots(&mut a);
    second.slots(&mut b);
    if let Some(shared) = a.iter().find(|slot| b.contains(slot)) {
        panic!(
            "AuthnLayer::or: both layers read the {shared}, so the second could never be \
             reached; accept several kinds of credential in one slot with one layer whose \
             verifier is `a.or_else(b)` (VerifierExt::or_else)"
        );
    }
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
    pub fn responder<R: ErrorResponder>(mut self, responder: R) -> Self {
        self.options.responder = Some((SharedResponder(Arc::new(responder)), TypeId::of::<R>()));
        self
    }

    /// What to do with credential headers once verified (default: remove them). Query
    /// credentials are always removed from the URI.
    pub fn hide_credentials(mut self, mode: HideCredentials) -> Self {
        self.options.hide = Some(mode);
        self
    }

    /// After authentication, the principal must meet `requirement`, else 403.
    pub fn require(mut self, requirement: Requirement) -> Self {
        self.options.requirement = Some(requirement);
        self
    }

    /// Any-of: this layer's scheme first, then `other`'s. The first scheme whose credential
    /// is present decides.
    ///
    /// Composition never loosens either side: each side keeps its own requirement (403
    /// when its principal fails it) and credential hiding; the composition is optional
    /// when either side lets an anonymous request through (any-of: what either side
    /// accepts); the responder is the one either side set. Options set on the composition
    /// afterwards apply to both sides.
    ///
    /// # Panics
    ///
    /// When both sides set different responders (set it on the composition instead), and
    /// when both read one credential slot (one header, query parameter or `Authorization`
    /// scheme: the second could never be reached; give one layer a verifier
    /// `a.or_else(b)` instead).
    pub fn or<B: Scheme>(self, other: AuthnLayer<B>) -> AuthnLayer<AnyOf<Branch<Sc>, Branch<B>>> {
        refuse_shared_slots(&self.scheme, &other.scheme);
        let (first, r1, anon1) = self.options.into_branch(self.scheme);
        let (second, r2, anon2) = other.options.into_branch(other.scheme);
        AuthnLayer {
            scheme: AnyOf::new(first, second),
            options: Options {
                responder: merge_responders(r1, r2),
                optional: anon1 || anon2,
                hide: None,
                requirement: None,
            },
        }
    }

    /// All-of: both credentials are required, each checked by its own scheme, both
    /// verifications run to the end; the principal is this layer's.
    ///
    /// Each side keeps its requirement and hiding; an optional side may be absent (its
    /// credential, when present, must still be valid), and the composition is optional only
    /// when both sides are; the responder is the one either side set.
    ///
    /// # Panics
    ///
    /// When both sides set different responders (set it on the composition instead).
    pub fn and<B: Scheme>(self, other: AuthnLayer<B>) -> AuthnLayer<AllOf<Branch<Sc>, Branch<B>>> {
        let (first, r1, anon1) = self.options.into_branch(self.scheme);
        let (second, r2, anon2) = other.options.into_branch(other.scheme);
        AuthnLayer {
            scheme: AllOf::new(first, second).with_optional(anon1, anon2),
            options: Options {
                responder: merge_responders(r1, r2),
                optional: anon1 && anon2,
                hide: None,
                requirement: None,
            },
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
            Arc::new(Shared::new(self.scheme.clone(), self.options.clone())),
        )
    }
}

impl<Sc> fmt::Debug for AuthnLayer<Sc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Schemes hold verifiers and stores with secrets: print only the options.
        f.debug_struct("AuthnLayer")
            .field("scheme", &std::any::type_name::<Sc>())
            .field("optional", &self.options.optional)
            .field("requirement", &self.options.requirement)
            .field("hide", &self.options.hide)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::credential::TokenCredential;
    use crate::{AuthError, BasicAuthLayer, HeaderTokenLayer, Principal, QueryTokenLayer};

    async fn token(_: TokenCredential) -> Result<Principal, AuthError> {
        Ok(Principal::server("s"))
    }

    async fn basic(_: crate::credential::BasicCredentials) -> Result<Principal, AuthError> {
        Ok(Principal::user("u"))
    }

    #[test]
    #[should_panic(expected = "both layers read the header x-auth-token")]
    fn two_schemes_on_one_header_are_refused_pointing_to_or_else() {
        let _ = HeaderTokenLayer::new("X-Auth-Token", token)
            .or(HeaderTokenLayer::new("x-auth-token", token));
    }

    #[test]
    #[should_panic(expected = "or_else")]
    fn two_schemes_on_one_query_parameter_are_refused() {
        let _ = HeaderTokenLayer::new("X-Auth-Token", token)
            .with_query("token")
            .or(QueryTokenLayer::new("token", token));
    }

    #[test]
    fn schemes_on_different_slots_compose() {
        let _ = BasicAuthLayer::new(basic)
            .or(HeaderTokenLayer::bearer(token))
            .or(HeaderTokenLayer::new("X-Auth-Token", token).with_query("token"))
            .or(QueryTokenLayer::new("jwt", token));
    }
}
