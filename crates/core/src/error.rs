//! [`AuthError`]: why a request was not authenticated, with a stable code and status.
//!
//! The public answer (status, code, message) depends only on the [`ErrorKind`]; the exact
//! reason is kept in a private detail that goes to `tracing` at debug level. So an unknown
//! user and a wrong password give byte-identical answers.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::principal::CredentialLocation;

/// The outcome classes every scheme, combinator and store shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No credential was presented (401).
    MissingCredentials,
    /// A credential was presented but cannot be parsed (400).
    MalformedCredentials,
    /// The same credential arrived more than once: two header lines, or header and query (400).
    DuplicateCredentials,
    /// The credential is well-formed but wrong: unknown user, wrong password, unknown key (401).
    InvalidCredentials,
    /// The credential was valid once and has expired (401).
    Expired,
    /// The credential was revoked (401).
    Revoked,
    /// Authenticated, but not allowed to do this (403).
    Forbidden,
    /// A store or key source could not answer; the request fails closed (503).
    Unavailable,
    /// Too many failed attempts (429).
    TooManyAttempts,
    /// The request body is larger than the scheme will buffer (413).
    PayloadTooLarge,
}

impl ErrorKind {
    /// Every kind, in declaration order (the index of a kind's precomputed answers).
    pub(crate) const ALL: [ErrorKind; 10] = [
        Self::MissingCredentials,
        Self::MalformedCredentials,
        Self::DuplicateCredentials,
        Self::InvalidCredentials,
        Self::Expired,
        Self::Revoked,
        Self::Forbidden,
        Self::Unavailable,
        Self::TooManyAttempts,
        Self::PayloadTooLarge,
    ];

    /// This kind's position in [`ALL`](Self::ALL).
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The stable machine code (`missing_credentials`, `invalid_credentials`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::MalformedCredentials => "malformed_credentials",
            Self::DuplicateCredentials => "duplicate_credentials",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Forbidden => "forbidden",
            Self::Unavailable => "unavailable",
            Self::TooManyAttempts => "too_many_attempts",
            Self::PayloadTooLarge => "payload_too_large",
        }
    }

    /// The HTTP status this kind answers with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingCredentials | Self::InvalidCredentials | Self::Expired | Self::Revoked => {
                StatusCode::UNAUTHORIZED
            }
            Self::MalformedCredentials | Self::DuplicateCredentials => StatusCode::BAD_REQUEST,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The public, human-readable message. It never says which part of a credential was wrong.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingCredentials => "Authentication is required.",
            Self::MalformedCredentials => "The credentials are malformed.",
            Self::DuplicateCredentials => "The credentials were sent more than once.",
            Self::InvalidCredentials => "The credentials are not valid.",
            Self::Expired => "The credentials have expired.",
            Self::Revoked => "The credentials have been revoked.",
            Self::Forbidden => "Not allowed.",
            Self::Unavailable => "Authentication is temporarily unavailable.",
            Self::TooManyAttempts => "Too many failed attempts; try again later.",
            Self::PayloadTooLarge => "The request body is too large.",
        }
    }
}

/// Why a request was not authenticated.
///
/// ```
/// use tower_authn_core::{AuthError, ErrorKind};
///
/// let e = AuthError::invalid("no such user");
/// assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
/// assert_eq!(e.status(), 401);
/// // The detail is for logs only; Display shows the public message.
/// assert_eq!(e.to_string(), "invalid_credentials: The credentials are not valid.");
/// ```
#[derive(Clone)]
pub struct AuthError {
    kind: ErrorKind,
    detail: Cow<'static, str>,
    location: Option<CredentialLocation>,
    retry_after: Option<Duration>,
}

impl AuthError {
    /// An error of `kind` with a private `detail` for logs. The detail must hold no secret.
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            location: None,
            retry_after: None,
        }
    }

    /// [`ErrorKind::MissingCredentials`].
    pub fn missing() -> Self {
        Self::new(ErrorKind::MissingCredentials, "no credentials")
    }

    /// [`ErrorKind::MalformedCredentials`].
    pub fn malformed(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::MalformedCredentials, detail)
    }

    /// [`ErrorKind::DuplicateCredentials`].
    pub fn duplicate(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::DuplicateCredentials, detail)
    }

    /// [`ErrorKind::InvalidCredentials`].
    pub fn invalid(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidCredentials, detail)
    }

    /// [`ErrorKind::Expired`].
    pub fn expired(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Expired, detail)
    }

    /// [`ErrorKind::Revoked`].
    pub fn revoked(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Revoked, detail)
    }

    /// [`ErrorKind::Forbidden`].
    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Forbidden, detail)
    }

    /// [`ErrorKind::Unavailable`]: a backend could not answer.
    pub fn unavailable(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unavailable, detail)
    }

    /// [`ErrorKind::Unavailable`] because the server is at capacity (the password hashing
    /// queue is full, for one): `503` with `Retry-After`, telling the client when to retry.
    /// It fails closed like any other `unavailable`; only the header differs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_authn_core::AuthError;
    ///
    /// let e = AuthError::busy("hashing queue full", Duration::from_secs(1));
    /// assert_eq!((e.status().as_u16(), e.code()), (503, "unavailable"));
    /// assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    /// ```
    pub fn busy(detail: impl Into<Cow<'static, str>>, retry_after: Duration) -> Self {
        let mut e = Self::new(ErrorKind::Unavailable, detail);
        e.retry_after = Some(retry_after);
        e
    }

    /// [`ErrorKind::TooManyAttempts`], telling the client when to retry.
    pub fn too_many_attempts(retry_after: Duration) -> Self {
        let mut e = Self::new(ErrorKind::TooManyAttempts, "throttled");
        e.retry_after = Some(retry_after);
        e
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The public message.
    pub fn message(&self) -> &'static str {
        self.kind.message()
    }

    /// The private detail, for logs.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Where the offending credential was, when known.
    pub fn location(&self) -> Option<&CredentialLocation> {
        self.location.as_ref()
    }

    /// Records where the offending credential was.
    pub fn at(mut self, location: CredentialLocation) -> Self {
        self.location = Some(location);
        self
    }

    /// When to retry: set for [`ErrorKind::TooManyAttempts`] and for a
    /// [`busy`](Self::busy) [`ErrorKind::Unavailable`]; sent as `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("detail", &self.detail)
            .field("location", &self.location)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for AuthError {}

/// A store or key source failed; verifiers turn it into [`ErrorKind::Unavailable`].
#[derive(Debug, Clone)]
pub struct StoreError(Cow<'static, str>);

impl StoreError {
    /// A store failure with a private detail (no secrets).
    pub fn new(detail: impl Into<Cow<'static, str>>) -> Self {
        Self(detail.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        crate::metrics::count(crate::metrics::STORE_ERRORS_TOTAL);
        AuthError::new(ErrorKind::Unavailable, e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_sits_at_its_index() {
        for (i, kind) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i, "{kind:?}");
        }
    }

    #[test]
    fn status_map() {
        assert_eq!(ErrorKind::MissingCredentials.status(), 401);
        assert_eq!(ErrorKind::MalformedCredentials.status(), 400);
        assert_eq!(ErrorKind::DuplicateCredentials.status(), 400);
        assert_eq!(ErrorKind::InvalidCredentials.status(), 401);
        assert_eq!(ErrorKind::Expired.status(), 401);
        assert_eq!(ErrorKind::Revoked.status(), 401);
        assert_eq!(ErrorKind::Forbidden.status(), 403);
        assert_eq!(ErrorKind::Unavailable.status(), 503);
        assert_eq!(ErrorKind::TooManyAttempts.status(), 429);
    }

    #[test]
    fn busy_is_unavailable_with_a_retry_after() {
        let e = AuthError::busy("queue full", Duration::from_secs(2));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.status(), 503);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(AuthError::unavailable("down").retry_after(), None);
    }

    #[test]
    fn store_error_fails_closed() {
        let e: AuthError = StoreError::new("connection refused").into();
        assert_eq!(e.status(), 503);
        assert_eq!(e.code(), "unavailable");
    }
}
