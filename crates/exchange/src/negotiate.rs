//! [`NegotiateAcceptor`]: what the single sign-on route needs from a SPNEGO (RFC 4559)
//! acceptor, so that routes are written without linking Kerberos. The MIT Kerberos acceptor
//! (`tower-authn-kerberos`) implements it behind this crate's `kerberos` feature.

use futures_util::future::BoxFuture;
use http::HeaderMap;
use tower_authn_core::AuthError;

use crate::identity::ExternalIdentity;

/// The auth-scheme of RFC 4559, and the bare challenge `WWW-Authenticate: Negotiate`.
pub const NEGOTIATE: &str = "Negotiate";

/// A client proved by `Authorization: Negotiate`.
#[derive(Debug)]
pub struct Negotiated {
    /// The client principal (`alice@EXAMPLE.COM`) and its login (`alice`).
    pub identity: ExternalIdentity,
    /// The mechanism's final token, for `WWW-Authenticate: Negotiate <base64>` on the
    /// answer (mutual authentication), when it gave one.
    pub reply: Option<Vec<u8>>,
}

/// Accepts SPNEGO credentials.
pub trait NegotiateAcceptor: Send + Sync + 'static {
    /// Verifies the `Authorization: Negotiate` credential in `headers`.
    ///
    /// # Errors
    ///
    /// `missing` (401 with the `Negotiate` challenge) without one, `malformed` (400) when
    /// it does not decode, `invalid` / `expired` (401) when the mechanism refuses it,
    /// `unavailable` or `busy` (503) when the acceptor cannot work.
    fn accept(&self, headers: &HeaderMap) -> BoxFuture<'static, Result<Negotiated, AuthError>>;
}

impl<T: NegotiateAcceptor + ?Sized> NegotiateAcceptor for std::sync::Arc<T> {
    fn accept(&self, headers: &HeaderMap) -> BoxFuture<'static, Result<Negotiated, AuthError>> {
        (**self).accept(headers)
    }
}
