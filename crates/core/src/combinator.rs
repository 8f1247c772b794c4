//! Composing schemes: [`AnyOf`] (the first present credential decides) and [`AllOf`]
//! (two proofs), plus the [`WithLocation`] future every scheme uses.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::future::{Join, join};
use http::request::Parts;
use pin_project::pin_project;

use crate::challenge::Challenge;
use crate::error::AuthError;
use crate::principal::{CredentialLocation, Principal};
use crate::scheme::{Extraction, HideCredentials, Scheme};

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
}

/// The future of [`AnyOf`].
#[pin_project(project = EitherProj)]
#[derive(Debug)]
pub enum EitherFuture<A, B> {
    /// The first scheme's.
    Left(#[pin] A),
    /// The second scheme's.
    Right(#[pin] B),
}

impl<A, B, T> Future for EitherFuture<A, B>
where
    A: Future<Output = T>,
    B: Future<Output = T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.project() {
            EitherProj::Left(f) => f.poll(cx),
            EitherProj::Right(f) => f.poll(cx),
        }
    }
}

/// All-of composition: both credentials must be present and valid.
///
/// The principal is the first scheme's; the second's id, kind and scheme are kept in its
/// `attributes["second_factor"]`. One credential without the other is a 401.
#[derive(Clone, Debug)]
pub struct AllOf<A, B> {
    first: A,
    second: B,
}

impl<A, B> AllOf<A, B> {
    /// Both `first` and `second`.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }
}

impl<A: Scheme, B: Scheme> Scheme for AllOf<A, B> {
    type Credential = (A::Credential, B::Credential);
    type Future = AllOfFuture<A::Future, B::Future>;

    fn extract(&self, head: &Parts) -> Extraction<Self::Credential> {
        match (self.first.extract(head), self.second.extract(head)) {
            (Extraction::Rejected(e), _) | (_, Extraction::Rejected(e)) => Extraction::Rejected(e),
            (Extraction::Found(a), Extraction::Found(b)) => Extraction::Found((a, b)),
            (Extraction::Absent, Extraction::Absent) => Extraction::Absent,
            _ => Extraction::Rejected(AuthError::new(
                crate::ErrorKind::MissingCredentials,
                "only one of two required credentials",
            )),
        }
    }

    fn verify(&self, (a, b): Self::Credential) -> Self::Future {
        AllOfFuture {
            inner: join(self.first.verify(a), self.second.verify(b)),
        }
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        self.first.hide(head, mode);
        self.second.hide(head, mode);
    }

    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        self.first.challenges(error, out);
        self.second.challenges(error, out);
    }
}

/// The future of [`AllOf`].
#[pin_project]
pub struct AllOfFuture<A: Future, B: Future> {
    // Both halves always run to the end, so which one failed does not show in timing.
    #[pin]
    inner: Join<A, B>,
}

impl<A: Future, B: Future> std::fmt::Debug for AllOfFuture<A, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllOfFuture").finish_non_exhaustive()
    }
}

impl<A, B> Future for AllOfFuture<A, B>
where
    A: Future<Output = Result<Principal, AuthError>>,
    B: Future<Output = Result<Principal, AuthError>>,
{
    type Output = Result<Principal, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (first, second) = ready!(self.project().inner.poll(cx));
        let (mut first, second) = (first?, second?);
        first.attributes.insert(
            "second_factor".to_owned(),
            serde_json::json!({ "id": second.id, "kind": second.kind.as_str(), "scheme": second.scheme }),
        );
        Poll::Ready(Ok(first))
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
