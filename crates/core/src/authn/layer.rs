use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use http::header::AUTHORIZATION;
use tower_layer::Layer;

use super::service::{Authn, Shared};
use crate::authorize::Requirement;
use crate::combinator::{AllOf, AnyOf, Branch};
use crate::respond::{ErrorResponder, SharedResponder};
use crate::scheme::{CredentialSlot, HideCredentials, Scheme};

/// Authenticates requests with a [`Scheme`] and inserts the [`Principal`](crate::Principal)
/// into the request's extensions.
///
/// Built by the named layers (`BasicAuthLayer::new`, ...) or [`AuthnLayer::from_scheme`];
/// options: [`optional`](Self::optional), [`responder`](Self::responder),
/// [`hide_credentials`](Self::hide_credentials), [`require`](Self::require),
/// [`preflight`](Self::preflight); compose with [`or`](Self::or) and [`and`](Self::and).
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
    pub(crate) preflight: Option<Preflight>,
}

/// What an [`AuthnLayer`] does with a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method` ([`AuthnLayer::preflight`]).
///
/// The Fetch standard has a browser send a preflight without credentials (no cookie, no
/// `Authorization`, none of the headers it asks to send), so an authenticating layer can only
/// refuse it, and the browser then never sends the real request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preflight {
    /// The inner service answers the preflight (tower-http's `CorsLayer`, or the router),
    /// called without a principal and without looking for credentials (default). The
    /// request carries the marker an [`optional`](AuthnLayer::optional) layer leaves, so an
    /// axum `Principal` extractor answers 401 and `Option<Principal>` is `None`.
    #[default]
    Pass,
    /// A preflight is authenticated like any other request (so, from a browser, a 401).
    Authenticate,
}

/// A composition's preflight choice: `Authenticate` when either side asks for it (a side
/// that authenticates preflights would not have them passed behind its back), else what
/// either side set.
fn merge_preflight(first: Option<Preflight>, second: Option<Preflight>) -> Option<Preflight> {
    match (first, second) {
        (Some(Preflight::Authenticate), _) | (_, Some(Preflight::Authenticate)) => {
            Some(Preflight::Authenticate)
        }
        (a, b) => a.or(b),
    }
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
    fn into_branch<Sc>(self, scheme: Sc) -> (Branch<Sc>, Merged) {
        let anonymous = self.passes_anonymous();
        (
            Branch::new(scheme, self.requirement, self.hide),
            Merged {
                responder: self.responder,
                anonymous,
                preflight: self.preflight,
            },
        )
    }
}

/// What a side of a composition hands to the composition's own options.
struct Merged {
    responder: Option<(SharedResponder, TypeId)>,
    anonymous: bool,
    preflight: Option<Preflight>,
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

    /// What to do with a CORS preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`): [`Preflight::Pass`] (default) calls the inner
    /// service without a principal and without looking for credentials (any it carries are
    /// stripped as after an acceptance, unverified); [`Preflight::Authenticate`]
    /// authenticates it like any request. An `OPTIONS` without both headers is no preflight
    /// and is always authenticated.
    ///
    /// Passing is safe: a browser never sends credentials on a preflight, so there is
    /// nothing to check, and the request reaches the inner service anonymous. An axum method
    /// router answers an `OPTIONS` it has no handler for with 405 (unless a `CorsLayer`
    /// answered first), and a handler that extracts `Principal` answers 401 (the request
    /// carries the marker an [`optional`](Self::optional) layer leaves), so no protected
    /// handler runs with a principal. Put tower-http's `CorsLayer` *outside* this layer:
    /// then every answer, 401s included, carries the CORS headers (a page can read the
    /// refusal and its challenges), and preflights are answered before authentication.
    /// Inside it works too, thanks to this option.
    ///
    /// Choose [`Preflight::Authenticate`] when the inner service serves `OPTIONS` without
    /// reading the principal, trusting the layer alone: a proxy that forwards every request
    /// upstream, a handler on every method (`any(..)`) that never extracts `Principal`.
    /// Passed, such a preflight reaches it unauthenticated.
    ///
    /// Set it on the outermost layer. Composed with [`or`](Self::or) / [`and`](Self::and),
    /// the composition authenticates preflights when either side asked for
    /// [`Preflight::Authenticate`], else passes them; setting it on the composition
    /// decides for both sides.
    pub fn preflight(mut self, preflight: Preflight) -> Self {
        self.options.preflight = Some(preflight);
        self
    }

    /// The request header names this layer's scheme reads its credentials from (named
    /// headers, and `authorization` once for every `Authorization` scheme), without
    /// duplicates and in the scheme's order: what a CORS layer must allow a page to send
    /// (tower-http's `CorsLayer::allow_headers`). Cookies, query parameters and the
    /// WebSocket subprotocol are not request headers a page sets, so they are not listed.
    ///
    /// ```
    /// # use tower_authn_core::{AuthError, Principal, credential::TokenCredential};
    /// # async fn v(_: TokenCredential) -> Result<Principal, AuthError> { Err(AuthError::invalid("x")) }
    /// use tower_authn_core::{CookieTokenLayer, HeaderTokenLayer};
    ///
    /// let layer = HeaderTokenLayer::new("X-Auth-Token", v)
    ///     .with_bearer()
    ///     .with_query("token")
    ///     .or(CookieTokenLayer::new("authn_session", v));
    /// assert_eq!(layer.credential_headers(), ["x-auth-token", "authorization"]);
    /// ```
    pub fn credential_headers(&self) -> Vec<HeaderName> {
        let mut slots = Vec::new();
        self.scheme.slots(&mut slots);
        let mut names: Vec<HeaderName> = Vec::new();
        for slot in slots {
            let name = match slot {
                CredentialSlot::Header(name) => name,
                CredentialSlot::Authorization(_) => AUTHORIZATION,
                _ => continue,
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Any-of: this layer's scheme first, then `other`'s. The first scheme whose credential
    /// is present decides.
    ///
    /// Composition never loosens either side: each side keeps its own requirement (403
    /// when its principal fails it) and credential hiding; the composition is optional
    /// when either side lets an anonymous request through (any-of: what either side
    /// accepts); the responder is the one either side set; preflights are authenticated
    /// when either side asked for it ([`preflight`](Self::preflight)). Options set on the
    /// composition afterwards apply to both sides.
    ///
    /// # Panics
    ///
    /// When both sides set different responders (set it on the composition instead), and
    /// when both read one credential slot (one header, query parameter or `Authorization`
    /// scheme: the second could never be reached; give one layer a verifier
    /// `a.or_else(b)` instead).
    pub fn or<B: Scheme>(self, other: AuthnLayer<B>) -> AuthnLayer<AnyOf<Branch<Sc>, Branch<B>>> {
        refuse_shared_slots(&self.scheme, &other.scheme);
        let (first, a) = self.options.into_branch(self.scheme);
        let (second, b) = other.options.into_branch(other.scheme);
        AuthnLayer {
            scheme: AnyOf::new(first, second),
            options: Options {
                responder: merge_responders(a.responder, b.responder),
                optional: a.anonymous || b.anonymous,
                hide: None,
                requirement: None,
                preflight: merge_preflight(a.preflight, b.preflight),
            },
        }
    }

    /// All-of: both credentials are required, each checked by its own scheme, both
    /// verifications run to the end; the principal is this layer's.
    ///
    /// Each side keeps its requirement and hiding; an optional side may be absent (its
    /// credential, when present, must still be valid), and the composition is optional only
    /// when both sides are; the responder is the one either side set; preflights are
    /// authenticated when either side asked for it.
    ///
    /// # Panics
    ///
    /// When both sides set different responders (set it on the composition instead).
    pub fn and<B: Scheme>(self, other: AuthnLayer<B>) -> AuthnLayer<AllOf<Branch<Sc>, Branch<B>>> {
        let (first, a) = self.options.into_branch(self.scheme);
        let (second, b) = other.options.into_branch(other.scheme);
        AuthnLayer {
            scheme: AllOf::new(first, second).with_optional(a.anonymous, b.anonymous),
            options: Options {
                responder: merge_responders(a.responder, b.responder),
                optional: a.anonymous && b.anonymous,
                hide: None,
                requirement: None,
                preflight: merge_preflight(a.preflight, b.preflight),
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
            .field("preflight", &self.options.preflight.unwrap_or_default())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::credential::TokenCredential;
    use crate::{
        AuthError, BasicAuthLayer, CookieTokenLayer, HeaderTokenLayer, Principal, QueryTokenLayer,
    };

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
    #[should_panic(expected = "both layers read the cookie sid")]
    fn two_schemes_on_one_cookie_are_refused() {
        let _ = HeaderTokenLayer::new("X-Auth-Token", token)
            .with_cookie("sid")
            .or(CookieTokenLayer::new("sid", token));
    }

    #[test]
    #[should_panic(expected = "subprotocol")]
    fn two_schemes_on_the_subprotocol_are_refused() {
        let _ = HeaderTokenLayer::new("X-Auth-Token", token)
            .with_subprotocol()
            .or(QueryTokenLayer::new("token", token).with_subprotocol());
    }

    #[test]
    #[should_panic(expected = "invalid cookie name")]
    fn a_bad_cookie_name_is_refused() {
        let _ = CookieTokenLayer::new("a b", token);
    }

    #[test]
    #[should_panic(expected = "not a serialized origin")]
    fn an_origin_with_a_path_is_refused() {
        let _ = CookieTokenLayer::new("sid", token).allow_origins(["https://a.example/app"]);
    }

    #[test]
    fn preflight_choices_merge_to_authenticate_when_either_side_asks() {
        use super::{Preflight, merge_preflight};
        let (p, a) = (Some(Preflight::Pass), Some(Preflight::Authenticate));
        assert_eq!(merge_preflight(None, None), None);
        assert_eq!(merge_preflight(p, None), p);
        assert_eq!(merge_preflight(None, a), a);
        assert_eq!(merge_preflight(p, a), a);
        assert_eq!(merge_preflight(a, p), a);
        let or = HeaderTokenLayer::new("X-A", token)
            .preflight(Preflight::Authenticate)
            .or(CookieTokenLayer::new("sid", token));
        assert_eq!(or.options.preflight, a);
        let and = HeaderTokenLayer::new("X-A", token)
            .and(HeaderTokenLayer::new("X-B", token).preflight(Preflight::Pass));
        assert_eq!(and.options.preflight, p);
        assert_eq!(and.preflight(Preflight::Authenticate).options.preflight, a);
    }

    #[test]
    fn credential_headers_are_the_header_slots_once() {
        let layer = BasicAuthLayer::new(basic)
            .or(HeaderTokenLayer::bearer(token).with_cookie("sid"))
            .or(HeaderTokenLayer::new("X-Auth-Token", token)
                .with_query("token")
                .with_subprotocol())
            .or(crate::AccessSecretLayer::new(
                |_: crate::credential::AccessPair| async {
                    Ok::<_, AuthError>(Principal::app("a"))
                },
            ));
        assert_eq!(
            layer.credential_headers(),
            [
                "authorization",
                "x-auth-token",
                "accesstoken",
                "accesssecret"
            ]
        );
        assert!(
            CookieTokenLayer::new("sid", token)
                .credential_headers()
                .is_empty()
        );
    }

    #[test]
    fn schemes_on_different_slots_compose() {
        let _ = BasicAuthLayer::new(basic)
            .or(HeaderTokenLayer::bearer(token))
            .or(HeaderTokenLayer::new("X-Auth-Token", token).with_query("token"))
            .or(QueryTokenLayer::new("jwt", token));
    }
}
