//! [`Scheme`]: where a credential is (sync extraction) and who it is (async verification),
//! and whether it needs the request body ([`BodyMode`]).
//!
//! # Schemes that need the body
//!
//! Most schemes read only the request head: their [`Scheme::Body`] is [`NoBody`], and the
//! engine never touches the body, whatever its type (`Request<()>` included). A scheme whose
//! verification covers the body (a signed request) says [`Buffered`] and, per credential,
//! how much it reads ([`Scheme::body_limit`]). Then, once extraction found its credential:
//!
//! 1. a declared `Content-Length` over the limit is `413` at once, else the body is read up to
//!    the limit (`413` beyond it, `400` when it cannot be read), with the layer's responder;
//! 2. [`Scheme::extract_body`] receives the bytes (and may refuse them);
//! 3. verification runs, and the inner service receives a body made of exactly the bytes
//!    that arrived (`ReqBody::from(bytes)`).
//!
//! An absent or malformed credential never causes a read. A [`Buffered`] scheme needs a
//! request body that implements [`http_body::Body`] (error `Into<BoxError>`) and
//! `From<Bytes>`: axum's `Body`, `http_body_util::Full<Bytes>`. A hyper server wraps its
//! `Incoming` first (`axum::body::Body::new`, for one). The inner service's request type is
//! unchanged.
//!
//! Compositions ([`AnyOf`](crate::AnyOf), [`AllOf`](crate::AllOf),
//! [`Branch`](crate::combinator::Branch), [`Throttled`](crate::throttle::Throttled)) are
//! [`Buffered`] when either side is, and hand the bytes to the side whose credential was
//! found: in `basic.or(signed)`, a Basic request is not buffered at all; an all-of of two
//! present credentials reads up to the larger of their limits.

use std::future::Future;

use bytes::Bytes;
use http::request::Parts;
use http_body::Body;
use http_body_util::{BodyExt, Collected, LengthLimitError, Limited};

use crate::challenge::Challenge;
use crate::error::{AuthError, ErrorKind};
use crate::principal::Principal;

/// A boxed error, as tower uses.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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

/// The most alternatives [`Scheme::requirements`] of an all-of lists (the product of two
/// sides grows fast; real layers stay far below).
pub const MAX_REQUIREMENTS: usize = 64;

/// Where on a request a scheme finds its credential ([`Scheme::slots`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSlot {
    /// `Authorization` with this auth-scheme, lowercase (`basic`, `bearer`).
    Authorization(&'static str),
    /// A named header.
    Header(http::HeaderName),
    /// A query parameter.
    Query(std::borrow::Cow<'static, str>),
    /// A cookie of the `Cookie` header, by name.
    Cookie(std::borrow::Cow<'static, str>),
    /// A `Sec-WebSocket-Protocol` entry with this prefix (`authn.bearer`).
    Subprotocol(std::borrow::Cow<'static, str>),
}

impl std::fmt::Display for CredentialSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Authorization(scheme) => write!(f, "Authorization: {scheme}"),
            Self::Header(name) => write!(f, "header {name}"),
            Self::Query(name) => write!(f, "query parameter {name}"),
            Self::Cookie(name) => write!(f, "cookie {name}"),
            Self::Subprotocol(prefix) => write!(f, "WebSocket subprotocol {prefix}"),
        }
    }
}

/// What to do with a credential header once it has been verified.
///
/// Only named headers and `Authorization` follow it: a query parameter, a cookie and a
/// `Sec-WebSocket-Protocol` entry that carried a credential are always removed (they share
/// their place with values the inner service needs, and marking would hide those too).
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
/// (no I/O), the body for a [`Buffered`] scheme ([module docs](self)), then `verify`
/// (async), then `hide`, then the principal goes into the request's extensions. Schemes
/// compose with [`SchemeExt::or`] (any-of) and [`SchemeExt::and`] (all-of).
pub trait Scheme: Clone + Send + Sync + 'static {
    /// The credential type handed from extraction to verification.
    type Credential: Send + 'static;
    /// The verification future.
    type Future: Future<Output = Result<Principal, AuthError>> + Send + 'static;
    /// Whether verification needs the request body: [`NoBody`] (every head-only scheme) or
    /// [`Buffered`].
    type Body: BodyMode;

    /// Finds this scheme's credential in the request head. Never panics, whatever the bytes.
    fn extract(&self, head: &Parts) -> Extraction<Self::Credential>;

    /// How many body bytes the verification of `credential` reads, or `None` when it needs
    /// none. Consulted only when [`Body`](Self::Body) is [`Buffered`]; default `None`.
    fn body_limit(&self, credential: &Self::Credential) -> Option<usize> {
        let _ = credential;
        None
    }

    /// Hands the buffered body to `credential` (called once, before `verify`, when
    /// [`body_limit`](Self::body_limit) gave a limit). Default: the credential unchanged.
    ///
    /// # Errors
    ///
    /// The answer for a body the scheme refuses (the inner service is never called).
    fn extract_body(
        &self,
        credential: Self::Credential,
        head: &Parts,
        body: &Bytes,
    ) -> Result<Self::Credential, AuthError> {
        let _ = (head, body);
        Ok(credential)
    }

    /// Resolves the credential to a principal.
    fn verify(&self, credential: Self::Credential) -> Self::Future;

    /// Strips this scheme's credentials from the head before the inner service sees it.
    fn hide(&self, head: &mut Parts, mode: HideCredentials);

    /// Appends this scheme's `WWW-Authenticate` challenges. `error` is the failure being
    /// answered, so a Bearer challenge can carry RFC 6750's `error=` for its own credential.
    ///
    /// The answer must depend only on the error's [`kind`](AuthError::kind) and
    /// [`location`](AuthError::location) (never its detail): the layer renders the
    /// challenges once per kind and location and reuses them for every refusal.
    fn challenges(&self, error: Option<&AuthError>, out: &mut Vec<Challenge>);

    /// Appends where this scheme's credential is found: what makes it present. Two sides
    /// of one [`or`](crate::AuthnLayer::or) that share a slot are refused when the layer
    /// is built (the second could never be reached). Default: none declared.
    fn slots(&self, out: &mut Vec<CredentialSlot>) {
        let _ = out;
    }

    /// Appends the ways a request can satisfy this scheme, each a set of slots that must all
    /// carry a credential: what an API description (OpenAPI's `security`) says the route
    /// accepts. Default: each of [`slots`](Self::slots) alone. A scheme that needs several
    /// credentials at once (an access pair, a signed request's app id and token) gives them
    /// as one set; [`AllOf`](crate::AllOf) gives the product of its sides (at most
    /// [`MAX_REQUIREMENTS`] sets).
    fn requirements(&self, out: &mut Vec<Vec<CredentialSlot>>) {
        let mut slots = Vec::new();
        self.slots(&mut slots);
        out.extend(slots.into_iter().map(|slot| vec![slot]));
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoBody {}
    impl Sealed for super::Buffered {}
}

/// Whether a [`Scheme`] needs the request body: [`NoBody`] or [`Buffered`] (sealed).
pub trait BodyMode: sealed::Sealed + Send + Sync + 'static {
    /// The mode of a composition of this mode with `Other`: [`Buffered`] when either is.
    type With<Other: BodyMode>: BodyMode;
}

/// The scheme reads only the request head; the body is never touched, whatever its type.
#[derive(Clone, Copy, Debug)]
pub enum NoBody {}

/// The scheme's verification needs the body, buffered up to [`Scheme::body_limit`].
#[derive(Clone, Copy, Debug)]
pub enum Buffered {}

impl BodyMode for NoBody {
    type With<Other: BodyMode> = Other;
}

impl BodyMode for Buffered {
    type With<Other: BodyMode> = Buffered;
}

/// How a [`BodyMode`] reads a request body of type `ReqBody`: [`NoBody`] for any body,
/// [`Buffered`] for bodies that are [`http_body::Body`] and `From<Bytes>`.
pub trait ReadBody<ReqBody>: BodyMode {
    /// Reads the body; yields the bytes and a body of exactly those bytes for the inner
    /// service.
    type Read: Future<Output = Result<(Bytes, ReqBody), AuthError>>;

    /// Starts reading up to `limit` bytes, or gives the body back when this mode reads none.
    ///
    /// # Errors
    ///
    /// The body, untouched, for [`NoBody`].
    fn start(body: ReqBody, limit: usize) -> Result<Self::Read, ReqBody>;
}

impl<ReqBody> ReadBody<ReqBody> for NoBody {
    // Never built: `start` gives the body back.
    type Read = std::future::Ready<Result<(Bytes, ReqBody), AuthError>>;

    fn start(body: ReqBody, _: usize) -> Result<Self::Read, ReqBody> {
        Err(body)
    }
}

type Collecting<B> = futures_util::future::Map<
    http_body_util::combinators::Collect<Limited<B>>,
    fn(Result<Collected<<B as Body>::Data>, BoxError>) -> Result<(Bytes, B), AuthError>,
>;

fn collected<B: Body + From<Bytes>>(
    read: Result<Collected<B::Data>, BoxError>,
) -> Result<(Bytes, B), AuthError> {
    match read {
        Ok(c) => {
            let bytes = c.to_bytes();
            Ok((bytes.clone(), B::from(bytes)))
        }
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(payload_too_large()),
        Err(_) => Err(AuthError::malformed("request body could not be read")),
    }
}

/// The `413` of a body over its scheme's limit.
pub(crate) fn payload_too_large() -> AuthError {
    AuthError::new(ErrorKind::PayloadTooLarge, "request body over the limit")
}

impl<B> ReadBody<B> for Buffered
where
    B: Body + From<Bytes>,
    B::Error: Into<BoxError>,
{
    type Read = Collecting<B>;

    fn start(body: B, limit: usize) -> Result<Self::Read, B> {
        use futures_util::FutureExt as _;
        let done: fn(_) -> _ = collected::<B>;
        Ok(Limited::new(body, limit).collect().map(done))
    }
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
