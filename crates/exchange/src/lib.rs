//! Trading external credentials for local API tokens.
//!
//! A client proves who it is to a provider the server trusts (a Kerberos KDC, a CAS server,
//! an OpenID Connect provider) and trades that proof for the server's own token. The steps
//! are the same for every provider:
//!
//! 1. **Verify** the external credential: [`cas::CasValidator`] (CAS 3.0 service tickets),
//!    [`oidc::OidcProvider`] (OpenID Connect tokens through discovery and JWKS), or a
//!    [`NegotiateAcceptor`] (Kerberos over SPNEGO, feature `kerberos`). Each yields an
//!    [`ExternalIdentity`].
//! 2. **Map** it to a local principal with an [`IdentityMapper`]: by default [`ByLogin`], the
//!    local user with the identity's login; a hook may refuse, or provision a missing user.
//!    An identity without a local user is [`ExchangeError::UnknownUser`], never created
//!    silently.
//! 3. **Issue** a session token for it through the token services ([`Exchange`] over
//!    [`Sessions`](tower_authn_core::issue::Sessions)): the same token a password login
//!    gives, renewable and revocable the same way.
//!
//! Every provider fails closed: when it cannot be reached the answer is 503, never a token.
//! The XiVO routes that expose the three exchanges are in `tower-authn-platforms` (`xivo`).
//!
//! ```
//! use tower_authn_core::issue::{OpaqueTokenIssuer, Sessions};
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::UserRecord;
//! use tower_authn_exchange::{ByLogin, Exchange, ExchangeError, ExternalIdentity, Provider};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let users = MemoryUserStore::new();
//! users.insert(UserRecord::new("alice", "!no-password"));
//! let sessions = Sessions::new(OpaqueTokenIssuer::new(MemoryKeyStore::new()), users.clone());
//! let exchange = Exchange::new(ByLogin::new(users), sessions);
//!
//! let alice = ExternalIdentity::new(Provider::Kerberos, "alice@EXAMPLE.COM", "alice");
//! let (principal, token) = exchange.trade(&alice).await.unwrap();
//! assert_eq!((principal.id.as_str(), &*principal.scheme), ("alice", "kerberos"));
//! assert!(!token.expose().is_empty());
//!
//! let mallory = ExternalIdentity::new(Provider::Kerberos, "mallory@EXAMPLE.COM", "mallory");
//! assert!(matches!(exchange.trade(&mallory).await, Err(ExchangeError::UnknownUser)));
//! # });
//! ```

pub mod cas;
mod exchange;
mod identity;
#[cfg(feature = "kerberos")]
mod kerberos;
mod mapping;
mod negotiate;
pub mod oidc;

pub use exchange::{Exchange, ExchangeError};
pub use identity::{ExternalIdentity, Provider};
pub use mapping::{ByLogin, Decision, IdentityMapper};
pub use negotiate::{NEGOTIATE, NegotiateAcceptor, Negotiated};
