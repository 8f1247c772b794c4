//! [`Exchange`]: a verified external identity in, a local session token out.

use std::fmt;

use http::StatusCode;
use tower_authn_core::issue::{IssuedToken, Sessions};
use tower_authn_core::{AuthError, KeyStore, Principal};

use crate::identity::ExternalIdentity;
use crate::mapping::IdentityMapper;

/// Why an exchange gave no token.
#[derive(Debug)]
pub enum ExchangeError {
    /// The credential was malformed (400), refused (401), the user is not allowed (403), or a
    /// provider or store could not answer (503): the error's own kind says which.
    Auth(AuthError),
    /// The identity is proved but no local user maps to it (404): the provider vouched for
    /// the client, so saying so leaks nothing a password guess could use.
    UnknownUser,
}

impl ExchangeError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Auth(e) => e.status(),
            Self::UnknownUser => StatusCode::NOT_FOUND,
        }
    }
}

impl From<AuthError> for ExchangeError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auth(e) => write!(f, "{}: {}", e.code(), e.detail()),
            Self::UnknownUser => f.write_str("no local user for the external identity"),
        }
    }
}

impl std::error::Error for ExchangeError {}

/// Trades verified external identities for session tokens: the mapper names the local
/// principal, the [`Sessions`] issue its token (renewable and revocable like a login's).
pub struct Exchange<M, K> {
    mapper: M,
    sessions: Sessions<K>,
}

impl<M: Clone, K: KeyStore + Clone> Clone for Exchange<M, K> {
    fn clone(&self) -> Self {
        Self {
            mapper: self.mapper.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

impl<M, K> fmt::Debug for Exchange<M, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange").finish_non_exhaustive()
    }
}

impl<M: IdentityMapper, K: KeyStore + Clone> Exchange<M, K> {
    /// Maps identities with `mapper` and starts a session in `sessions` for each.
    pub fn new(mapper: M, sessions: Sessions<K>) -> Self {
        Self { mapper, sessions }
    }

    /// The sessions the tokens belong to.
    pub fn sessions(&self) -> &Sessions<K> {
        &self.sessions
    }

    /// Maps `identity` to its local principal and starts a session for it.
    ///
    /// # Errors
    ///
    /// See [`ExchangeError`].
    pub async fn trade(
        &self,
        identity: &ExternalIdentity,
    ) -> Result<(Principal, IssuedToken), ExchangeError> {
        let principal = self.mapper.map(identity).await?;
        let token = self.sessions.start(&principal).await?;
        tracing::debug!(
            target: "authn",
            provider = identity.provider.as_str(),
            principal = %principal.id,
            "external identity exchanged for a token"
        );
        Ok((principal, token))
    }
}
