//! Kerberos single sign-on for tower-authn: SPNEGO over HTTP (RFC 4559), accepted by MIT
//! Kerberos through GSSAPI ([`libgssapi`]).
//!
//! A browser or `curl --negotiate` in a Kerberos realm answers the challenge
//! `WWW-Authenticate: Negotiate` with `Authorization: Negotiate <base64 SPNEGO token>`,
//! the token wrapping a Kerberos ticket for `HTTP/<host>@REALM`. The server checks it with
//! the service key from its keytab and learns who the client is (`alice@EXAMPLE.COM`),
//! without any password crossing the wire.
//!
//! ```no_run
//! # async fn handle(authorization: &http::HeaderValue) -> Result<(), tower_authn_core::AuthError> {
//! use tower_authn_kerberos::{Acceptor, DEFAULT_SERVICE, parse_authorization_header};
//!
//! // At startup (reads the keytab named by KRB5_KTNAME): fails when it has no HTTP key.
//! let acceptor = Acceptor::new(DEFAULT_SERVICE).map_err(tower_authn_core::AuthError::from)?;
//!
//! // Per request: `None` means another scheme (answer 401 with `challenge()`).
//! if let Some(token) = parse_authorization_header(authorization)? {
//!     let accepted = acceptor.accept(token).await?;
//!     assert_eq!(accepted.client(), "alice@EXAMPLE.COM");
//!     // Put `accepted.reply_header()` on the response as WWW-Authenticate (mutual auth).
//! }
//! # Ok(()) }
//! ```
//!
//! # What is refused
//!
//! - `parse_authorization`: anything but `Negotiate`, exactly one space and strict, padded
//!   standard base64 of at most [`MAX_TOKEN_BYTES`] (64 KiB) is `malformed` (400).
//! - `Acceptor::accept`: every GSSAPI failure is `invalid_credentials` (401): a defective
//!   token, a ticket for a service whose key is not in the keytab, an expired ticket, an
//!   authenticator outside the clock skew (`clockskew` of `krb5.conf`, 5 minutes by
//!   default), a replayed authenticator (MIT's replay cache), NTLM, and any exchange that
//!   needs a second round trip. Only the server's own trouble (keytab or replay cache
//!   unreadable) is `unavailable` (503), and so is a full acceptor (`busy`, 503 with
//!   `Retry-After`).
//!
//! # Linking
//!
//! The `acceptor` feature (default) links the system's GSSAPI library, MIT Kerberos'
//! `libgssapi_krb5` on Linux: building needs its headers (`libkrb5-dev`), `libclang`
//! (bindgen) and `pkg-config`. That is why this is a crate of its own, off the default
//! build. Without the feature only the header codec is built.
//!
//! # Features
//!
//! - `acceptor` (default): [`Acceptor`], [`Accepted`], and [`NegotiateScheme`], the acceptor
//!   as an engine scheme for `AuthnLayer` (without the mutual-authentication reply: see
//!   its docs).
//! - `test-kdc`: [`test_kdc`], a real MIT KDC started by tests.

mod header;

#[cfg(feature = "acceptor")]
mod acceptor;
#[cfg(feature = "acceptor")]
mod scheme;
#[cfg(feature = "test-kdc")]
pub mod test_kdc;

pub use header::{
    MAX_TOKEN_BYTES, NEGOTIATE, challenge, parse_authorization, parse_authorization_header,
    reply_header,
};

#[cfg(feature = "acceptor")]
pub use acceptor::{Accepted, Acceptor, AcceptorError, DEFAULT_RETRY_AFTER, DEFAULT_SERVICE};
#[cfg(feature = "acceptor")]
pub use scheme::{NegotiateFuture, NegotiateLayer, NegotiateScheme, NegotiateToken};
