//! [`Scheme`]: where a credential is (sync extraction) and who it is (async verification).

use std::future::Future;

use http::request::Parts;

use crate::challenge::Challenge;
use crate::error::AuthError;
use crate::principal::Principal;

/// What extraction found on the request head.
#[derive(Debug)]
pub enum Extraction<C> {
    /// No credential of this scheme: try the next scheme, else 401 (or pass, if optional).
    Absent,
    /// A credential to verify.
    Found(C),
    /// A credential is present but unusable (malformed, duplicated, incomplete): the inner
    /// service is never called, and no later scheme is tried.
    Rejected(AuthError),
}

/// What to do with a credential header once it has been verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HideCredentials {
    /// Remove the header before the inner service sees the request (default).
    #[default]
    Remove,
    /// Keep the header but mark it sensitive (HPACK never-index, redacted by logging layers).
    MarkSensitive,
}

/// An authentication scheme: an extractor plus a verifier.
///
/// The generic [`AuthnLayer`](crate::AuthnLayer) drives it: `extract` on the request head
/// (no I/O), then `verify` (async), then `hide`, then the principal goes into the request's
/// extensions. Schemes compose with [`SchemeExt::or`] (any-of) and [`SchemeExt::and`] (all-of).
pub trait Scheme: Clone + Send + Sync + 'static {
    /// The credential type handed from extraction to verification.
    type Credential: Send + 'static;
    /// The verification future.
    type Future: Future<Output = Result<Principal, AuthError>> + Send + 'static;

    /// Finds this scheme's credential in the request head. Never panics, whatever the bytes.
    fn extract(&self, head: &Parts) -> Extraction<Self::Credential>;

    /// Resolves the credential to a principal.
    fn verify(&self, credential: Self::Credential) -> Self::Future;

    /// Strips this scheme's credentials from the head before the inner service sees it.
    fn hide(&self, head: &mut Parts, mode: HideCredentials);

    /// Appends this scheme's `WWW-Authenticate` challenges. `error` is the failure being
    /// answered, so a Bearer challenge can carry RFC 6750's `error=` for its own credential.
    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>);
}

/// Combinators on every [`Scheme`].
pub trait SchemeExt: Scheme + Sized {
    /// Any-of: the first scheme whose credential is present decides; a present-but-invalid
    /// credential is rejected and never handed to `other` (no downgrade).
    fn or<B: Scheme>(self, other: B) -> crate::combinator::AnyOf<Self, B> {
        crate::combinator::AnyOf::new(self, other)
    }

    /// All-of: both credentials must be present and valid; the principal is `self`'s.
    fn and<B: Scheme>(self, other: B) -> crate::combinator::AllOf<Self, B> {
        crate::combinator::AllOf::new(self, other)
    }
}

impl<S: Scheme> SchemeExt for S {}
