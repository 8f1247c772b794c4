//! [`NegotiateScheme`]: the [`Acceptor`] as an engine [`Scheme`], for `AuthnLayer` and its
//! compositions.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use http::header::AUTHORIZATION;
use http::request::Parts;
use tower_authn_core::head::hide_authorization;
use tower_authn_core::scheme::CredentialSlot;
use tower_authn_core::{
    AuthError, AuthnLayer, Challenge, CredentialLocation, Extraction, HideCredentials, NoBody,
    Principal, Scheme,
};

use crate::acceptor::Acceptor;
use crate::header::{NEGOTIATE, parse_authorization};

/// A SPNEGO token taken from `Authorization: Negotiate`, on its way to the [`Acceptor`].
/// Its `Debug` shows the length only.
pub struct NegotiateToken(Vec<u8>);

impl NegotiateToken {
    /// The token bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for NegotiateToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NegotiateToken(<{} bytes>)", self.0.len())
    }
}

/// `Authorization: Negotiate` as an engine scheme: [`parse_authorization`] to extract,
/// [`Acceptor::accept`] to verify, `WWW-Authenticate: Negotiate` to challenge.
///
/// The principal is [`Accepted::principal`](crate::Accepted::principal): id
/// `alice@EXAMPLE.COM`, name `alice`, scheme `negotiate`.
///
/// The engine answers with the inner service's response and has no place for a success
/// header, so the acceptor's reply token (the mutual-authentication answer) is not sent.
/// Browsers and `curl --negotiate` do not require it; a client that asks for mutual
/// authentication and insists on checking it needs [`Acceptor::accept`] called directly,
/// with [`Accepted::reply_header`](crate::Accepted::reply_header) put on the response.
///
/// ```no_run
/// use tower_authn_core::AuthnLayer;
/// use tower_authn_kerberos::{Acceptor, DEFAULT_SERVICE, NegotiateScheme};
///
/// let acceptor = Acceptor::new(DEFAULT_SERVICE)?; // reads KRB5_KTNAME, at startup
/// let layer = AuthnLayer::from_scheme(NegotiateScheme::new(acceptor));
/// # let _ = layer;
/// # Ok::<(), tower_authn_kerberos::AcceptorError>(())
/// ```
#[derive(Clone, Debug)]
pub struct NegotiateScheme {
    acceptor: Acceptor,
}

impl NegotiateScheme {
    /// The scheme around `acceptor`.
    pub fn new(acceptor: Acceptor) -> Self {
        Self { acceptor }
    }

    /// The acceptor.
    pub fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }
}

/// [`NegotiateScheme`] as a layer.
pub type NegotiateLayer = AuthnLayer<NegotiateScheme>;

fn location() -> CredentialLocation {
    CredentialLocation::Authorization(Cow::Borrowed(NEGOTIATE))
}

/// The verification future of [`NegotiateScheme`].
pub type NegotiateFuture = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send>>;

impl Scheme for NegotiateScheme {
    type Credential = NegotiateToken;
    type Future = NegotiateFuture;
    type Body = NoBody;

    fn extract(&self, head: &Parts) -> Extraction<NegotiateToken> {
        let mut lines = head.headers.get_all(AUTHORIZATION).iter();
        let Some(value) = lines.next() else {
            return Extraction::Absent;
        };
        let parsed = parse_authorization(value.as_bytes());
        if lines.next().is_some() {
            // Authorization is a singleton; two lines are ambiguous whatever their schemes.
            return Extraction::Rejected(
                AuthError::duplicate("two Authorization header lines").at(location()),
            );
        }
        match parsed {
            Ok(Some(token)) => Extraction::Found(NegotiateToken(token)),
            Ok(None) => Extraction::Absent,
            Err(e) => Extraction::Rejected(e.at(location())),
        }
    }

    fn verify(&self, credential: NegotiateToken) -> NegotiateFuture {
        let accepted = self.acceptor.accept(credential.0);
        Box::pin(async move {
            match accepted.await {
                Ok(a) => Ok(a.principal()),
                Err(e) => Err(e.at(location())),
            }
        })
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        hide_authorization(&mut head.headers, NEGOTIATE, mode);
    }

    fn challenges(&self, _error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        out.push(Challenge::new(NEGOTIATE));
    }

    fn slots(&self, out: &mut Vec<CredentialSlot>) {
        out.push(CredentialSlot::Authorization("negotiate"));
    }
}
