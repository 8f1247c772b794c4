//! Composing schemes: [`AnyOf`] (the first present credential decides) and [`AllOf`]
//! (two proofs), [`Branch`] (one side of a layer composition, with the requirement and
//! hiding that side was configured with), plus the [`WithLocation`] future every scheme
//! uses.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::{Join, Map, OptionFuture, join};
use http::request::Parts;
use pin_project::pin_project;

use crate::authorize::Requirement;
use crate::challenge::Challenge;
use crate::error::AuthError;
use crate::principal::{CredentialLocation, Principal};
use crate::scheme::{BodyMode, Extraction, HideCredentials, Scheme};

/// A credential of one of two schemes.
#[derive(Debug)]
pub enum Either<A, B> {
    /// The first scheme's.
    Left(A),
    /// The second scheme's.
    Right(B),
}

/// Any-of composition of two schemes (nest for more: `a.or(b).or(c)`).
///
/// The first scheme whose credential is present decides: a present-but-invalid credential
/// is rejected and never handed to the next scheme, so a bad token cannot be "downgraded"
/// to a weaker scheme. When none is present the 401 carries every scheme's challenge.
///
/// ```
/// use tower_authn_core::{AuthnLayer, BasicAuthLayer, HeaderTokenLayer, SchemeExt};
/// # use tower_authn_core::{AuthError, Principal, credential::{BasicCredentials, TokenCredential}};
/// # let basic = |_: BasicCredentials| async { Err::<Principal, _>(AuthError::invalid("x")) };
/// # let token = |_: TokenCredential| async { Err::<Principal, _>(AuthError::invalid("x")) };
/// let layer = BasicAuthLayer::new(basic).or(HeaderTokenLayer::bearer(token));
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct AnyOf<A, B> {
    first: A,
    second: B,
}

impl<A, B> AnyOf<A, B> {
    /// `first`, then `second`.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }
}

impl<A: Scheme, B: Scheme> Scheme for AnyOf<A, B> {
    type Credential = Either<A::Credential, B::Credential>;
    type Future = EitherFuture<A::Future, B::Future>;
    type Body = <A::Body as BodyMode>::With<B::Body>;

    fn extract(&self, head: &Parts) -> Extraction<Self::Credential> {
        match self.first.extract(head) {
            Extraction::Found(c) => Extraction::Found(Either::Left(c)),
            Extraction::Rejected(e) => Extraction::Rejected(e),
            Extraction::Absent => match self.second.extract(head) {
                Extraction::Found(c) => Extraction::Found(Either::Right(c)),
                Extraction::Rejected(e) => Extraction::Rejected(e),
                Extraction::Absent => Extraction::Absent,
            },
        }
    }

    fn body_limit(&self, credential: &Self::Credential) -> Option<usize> {
        // Only the side that decides reads the body.
        match credential {
            Either::Left(c) => self.first.body_limit(c),
            Either::Right(c) => self.second.body_limit(c),
        }
    }

    fn extract_body(
        &self,
        credential: Self::Credential,
        head: &Parts,
        body: &Bytes,
    ) -> Result<Self::Credential, AuthError> {
        Ok(match credential {
            Either::Left(c) => Either::Left(self.first.extract_body(c, head, body)?),
            Either::Right(c) => Either::Right(self.second.extract_body(c, head, body)?),
        })
    }

    fn verify(&self, credential: Self::Credential) -> Self::Future {
        match credential {
            Either::Left(c) => EitherFuture::Left(self.first.verify(c)),
            Either::Right(c) => EitherFuture::Right(self.second.verify(c)),
        }
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        // Every accepted credential is stripped, not only the deciding one: the inner
        // service never sees a credential.
        self.first.hide(head, mode);
        self.second.hide(head, mode);
    }

    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        self.first.challenges(error, out);
        self.second.challenges(error, out);
    }

    fn slots(&self, out: &mut Vec<crate::scheme::CredentialSlot>) {
        self.first.slots(out);
        self.second.slots(out);
    }

    fn requirements(&self, out: &mut Vec<Vec<crate::scheme::CredentialSlot>>) {
        self.first.requirements(out);
        self.second.requirements(out);
    }
}

/// The future of [`AnyOf`]: the deciding side's.
pub type EitherFuture<A, B> = futures_util::future::Either<A, B>;

/// All-of composition: both credentials must be present and valid.
///
/// The principal is the first scheme's; the second's id, kind and scheme are kept in its
/// `attributes["second_factor"]`. One credential without the other is a 401, unless the
/// missing side was made optional ([`with_optional`](Self::with_optional)): then the
/// present one decides alone (and is still checked). Both verifications always run to the
/// end.
#[derive(Clone, Debug)]
pub struct AllOf<A, B> {
    first: A,
    second: B,
    first_optional: bool,
    second_optional: bool,
}

impl<A, B> AllOf<A, B> {
    /// Both `first` and `second`.
    pub fn new(first: A, second: B) -> Self {
        Self {
            first,
            second,
            first_optional: false,
            second_optional: false,
        }
    }

    /// Lets the first (or second) credential be absent when the other is present.
    pub fn with_optional(mut self, first: bool, second: bool) -> Self {
        self.first_optional = first;
        self.second_optional = second;
        self
    }
}

impl<A: Scheme, B: Scheme> Scheme for AllOf<A, B> {
    type Credential = (Option<A::Credential>, Option<B::Credential>);
    type Future = AllOfFuture<A::Future, B::Future>;
    type Body = <A::Body as BodyMode>::With<B::Body>;

    fn extract(&self, head: &Parts) -> Extraction<Self::Credential> {
        let only_one = || {
            Extraction::Rejected(AuthError::new(
                crate::ErrorKind::MissingCredentials,
                "only one of two required credentials",
            ))
        };
        match (self.first.extract(head), self.second.extract(head)) {
            (Extraction::Rejected(e), _) | (_, Extraction::Rejected(e)) => Extraction::Rejected(e),
            (Extraction::Found(a), Extraction::Found(b)) => Extraction::Found((Some(a), Some(b))),
            (Extraction::Absent, Extraction::Absent) => Extraction::Absent,
            (Extraction::Found(a), Extraction::Absent) if self.second_optional => {
                Extraction::Found((Some(a), None))
            }
            (Extraction::Absent, Extraction::Found(b)) if self.first_optional => {
                Extraction::Found((None, Some(b)))
            }
            (Extraction::Found(_), Extraction::Absent)
            | (Extraction::Absent, Extraction::Found(_)) => only_one(),
        }
    }

    fn body_limit(&self, (a, b): &Self::Credential) -> Option<usize> {
        let first = a.as_ref().and_then(|a| self.first.body_limit(a));
        let second = b.as_ref().and_then(|b| self.second.body_limit(b));
        first.max(second)
    }

    fn extract_body(
        &self,
        (a, b): Self::Credential,
        head: &Parts,
        body: &Bytes,
    ) -> Result<Self::Credential, AuthError> {
        // Each side that asked for the body gets it (the larger limit was read).
        let a = match a {
            Some(a) if self.first.body_limit(&a).is_some() => {
                Some(self.first.extract_body(a, head, body)?)
            }
            a => a,
        };
        let b = match b {
            Some(b) if self.second.body_limit(&b).is_some() => {
                Some(self.second.extract_body(b, head, body)?)
            }
            b => b,
        };
        Ok((a, b))
    }

    fn verify(&self, (a, b): Self::Credential) -> Self::Future {
        let first: OptionFuture<A::Future> = a.map(|a| self.first.verify(a)).into();
        let second: OptionFuture<B::Future> = b.map(|b| self.second.verify(b)).into();
        // Both halves always run to the end, so which one failed does not show in timing.
        let both: fn(_) -> _ = both_principals;
        join(first, second).map(both)
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        self.first.hide(head, mode);
        self.second.hide(head, mode);
    }

    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        self.first.challenges(error, out);
        self.second.challenges(error, out);
    }

    fn slots(&self, out: &mut Vec<crate::scheme::CredentialSlot>) {
        self.first.slots(out);
        self.second.slots(out);
    }

    fn requirements(&self, out: &mut Vec<Vec<crate::scheme::CredentialSlot>>) {
        // Both sides at once: every way of meeting the first with every way of meeting the
        // second (an optional side may also be absent).
        let (mut first, mut second) = (Vec::new(), Vec::new());
        self.first.requirements(&mut first);
        self.second.requirements(&mut second);
        if self.first_optional {
            first.push(Vec::new());
        }
        if self.second_optional {
            second.push(Vec::new());
        }
        for a in &first {
            for b in &second {
                if out.len() >= crate::scheme::MAX_REQUIREMENTS {
                    return;
                }
                let mut both = a.clone();
                both.extend(b.iter().filter(|slot| !a.contains(slot)).cloned());
                if !both.is_empty() {
                    out.push(both);
                }
            }
        }
    }
}

/// What the two halves of an [`AllOf`] verified (`None`: that side was absent).
pub type BothOutcomes = (
    Option<Result<Principal, AuthError>>,
    Option<Result<Principal, AuthError>>,
);

/// The future of [`AllOf`]: both verifications, run to the end, then the first principal
/// with the second's in `attributes["second_factor"]`.
pub type AllOfFuture<A, B> =
    Map<Join<OptionFuture<A>, OptionFuture<B>>, fn(BothOutcomes) -> Result<Principal, AuthError>>;

fn both_principals((first, second): BothOutcomes) -> Result<Principal, AuthError> {
    let (first, second) = (first.transpose()?, second.transpose()?);
    match (first, second) {
        (Some(mut first), Some(second)) => {
            first.attributes.insert(
                "second_factor".to_owned(),
                serde_json::json!({ "id": second.id, "kind": second.kind.as_str(), "scheme": second.scheme }),
            );
            Ok(first)
        }
        (Some(one), None) | (None, Some(one)) => Ok(one),
        // Extraction never hands over two absent halves.
        (None, None) => Err(AuthError::missing()),
    }
}

/// One side of a layer composition ([`AuthnLayer::or`](crate::AuthnLayer::or) /
/// [`and`](crate::AuthnLayer::and)): the scheme with the requirement and the credential
/// hiding its layer was configured with, so composing never drops them.
#[derive(Clone, Debug)]
pub struct Branch<Sc> {
    scheme: Sc,
    requirement: Option<Requirement>,
    hide: Option<HideCredentials>,
}

impl<Sc> Branch<Sc> {
    /// `scheme`, whose principals must meet `requirement` (403 otherwise), its credentials
    /// hidden as `hide` says (or as the composition says, when `None`).
    pub fn new(
        scheme: Sc,
        requirement: Option<Requirement>,
        hide: Option<HideCredentials>,
    ) -> Self {
        Self {
            scheme,
            requirement,
            hide,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> &Sc {
        &self.scheme
    }
}

impl<Sc: Scheme> Scheme for Branch<Sc> {
    type Credential = Sc::Credential;
    type Future = Checked<Sc::Future>;
    type Body = Sc::Body;

    fn extract(&self, head: &Parts) -> Extraction<Self::Credential> {
        self.scheme.extract(head)
    }

    fn body_limit(&self, credential: &Self::Credential) -> Option<usize> {
        self.scheme.body_limit(credential)
    }

    fn extract_body(
        &self,
        credential: Self::Credential,
        head: &Parts,
        body: &Bytes,
    ) -> Result<Self::Credential, AuthError> {
        self.scheme.extract_body(credential, head, body)
    }

    fn verify(&self, credential: Self::Credential) -> Self::Future {
        Checked {
            inner: self.scheme.verify(credential),
            requirement: self.requirement.clone(),
        }
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        self.scheme.hide(head, self.hide.unwrap_or(mode));
    }

    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        self.scheme.challenges(error, out);
    }

    fn slots(&self, out: &mut Vec<crate::scheme::CredentialSlot>) {
        self.scheme.slots(out);
    }

    fn requirements(&self, out: &mut Vec<Vec<crate::scheme::CredentialSlot>>) {
        self.scheme.requirements(out);
    }
}

/// The future of [`Branch`]: the scheme's verification, then its requirement.
#[pin_project]
pub struct Checked<F> {
    #[pin]
    inner: F,
    requirement: Option<Requirement>,
}

impl<F> std::fmt::Debug for Checked<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("requirement", &self.requirement)
            .finish_non_exhaustive()
    }
}

impl<F> Future for Checked<F>
where
    F: Future<Output = Result<Principal, AuthError>>,
{
    type Output = Result<Principal, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let principal = ready!(this.inner.poll(cx))?;
        if let Some(requirement) = this.requirement {
            requirement.check(&principal)?;
        }
        Poll::Ready(Ok(principal))
    }
}

/// Records the credential location on the verifier's principal (unless it set one) and on
/// its error, so logs and RFC 6750 challenges know where the credential was.
#[pin_project]
#[derive(Debug)]
pub struct WithLocation<F> {
    #[pin]
    inner: F,
    location: Option<CredentialLocation>,
    default_scheme: &'static str,
}

impl<F> WithLocation<F> {
    pub(crate) fn new(
        inner: F,
        location: CredentialLocation,
        default_scheme: &'static str,
    ) -> Self {
        Self {
            inner,
            location: Some(location),
            default_scheme,
        }
    }
}

impl<F> Future for WithLocation<F>
where
    F: Future<Output = Result<Principal, AuthError>>,
{
    type Output = Result<Principal, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        let location = this.location.take();
        Poll::Ready(match out {
            Ok(mut p) => {
                if p.location.is_none() {
                    p.location = location;
                }
                if p.scheme.is_empty() {
                    p.scheme = (*this.default_scheme).into();
                }
                Ok(p)
            }
            Err(e) if e.location().is_none() => match location {
                Some(l) => Err(e.at(l)),
                None => Err(e),
            },
            Err(e) => Err(e),
        })
    }
}
