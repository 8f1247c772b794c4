//! [`IdentityMapper`]: the rule that turns a verified [`ExternalIdentity`] into a local
//! [`Principal`]. The default, [`ByLogin`], finds the user whose login is the identity's;
//! a [`Decision`] hook may refuse one, or provision a user the store lacks. Nobody is created
//! silently.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tower_authn_core::{AuthError, Principal, UserRecord, UserStore};

use crate::exchange::ExchangeError;
use crate::identity::ExternalIdentity;

/// Maps a verified external identity to the local principal a token is issued for.
pub trait IdentityMapper: Send + Sync + 'static {
    /// The local principal of `identity`.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::UnknownUser`] when no local user matches, [`ExchangeError::Auth`] for
    /// a refusal (403 for a disabled user or one the rule refuses) or a store that cannot
    /// answer (503).
    fn map<'a>(
        &'a self,
        identity: &'a ExternalIdentity,
    ) -> BoxFuture<'a, Result<Principal, ExchangeError>>;
}

impl<T: IdentityMapper + ?Sized> IdentityMapper for Arc<T> {
    fn map<'a>(
        &'a self,
        identity: &'a ExternalIdentity,
    ) -> BoxFuture<'a, Result<Principal, ExchangeError>> {
        (**self).map(identity)
    }
}

/// What a [`ByLogin`] hook decides for an identity, given the local user found (if any).
#[derive(Debug)]
pub enum Decision {
    /// Use the user found (no user found: `UserNotFound`).
    Accept,
    /// Refuse the identity (403), whether or not a user exists.
    Refuse,
    /// Store this user (created or updated) and use it.
    Provision(UserRecord),
}

type Hook = dyn Fn(&ExternalIdentity, Option<&UserRecord>) -> Decision + Send + Sync;

/// The default rule: the local user whose login is [`ExternalIdentity::login`]; disabled
/// users are refused; an optional hook decides per identity.
pub struct ByLogin<U> {
    users: U,
    hook: Option<Arc<Hook>>,
}

impl<U: Clone> Clone for ByLogin<U> {
    fn clone(&self) -> Self {
        Self {
            users: self.users.clone(),
            hook: self.hook.clone(),
        }
    }
}

impl<U> fmt::Debug for ByLogin<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByLogin")
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl<U: UserStore> ByLogin<U> {
    /// Maps identities to the users of `users` by login.
    pub fn new(users: U) -> Self {
        Self { users, hook: None }
    }

    /// Lets `hook` accept, refuse or provision each identity (called with the user found).
    /// A provisioned user is written with [`UserStore::put_user`]; its password hash can be
    /// any string that is not a PHC hash, so no password logs it in.
    pub fn with_hook(
        mut self,
        hook: impl Fn(&ExternalIdentity, Option<&UserRecord>) -> Decision + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }
}

impl<U: UserStore> IdentityMapper for ByLogin<U> {
    fn map<'a>(
        &'a self,
        identity: &'a ExternalIdentity,
    ) -> BoxFuture<'a, Result<Principal, ExchangeError>> {
        Box::pin(async move {
            let found = self
                .users
                .find_user(&identity.login)
                .await
                .map_err(AuthError::from)?;
            let decision = match &self.hook {
                Some(hook) => hook(identity, found.as_ref()),
                None => Decision::Accept,
            };
            let user = match decision {
                Decision::Accept => found.ok_or(ExchangeError::UnknownUser)?,
                Decision::Refuse => {
                    return Err(
                        AuthError::forbidden("the mapping rule refused the identity").into(),
                    );
                }
                Decision::Provision(user) => {
                    if user.login != identity.login {
                        tracing::debug!(target: "authn", "provisioned user under another login");
                    }
                    self.users.put_user(user).await.map_err(AuthError::from)?
                }
            };
            if user.disabled {
                return Err(AuthError::forbidden("user disabled").into());
            }
            Ok(user.principal().with_scheme(identity.provider.as_str()))
        })
    }
}
