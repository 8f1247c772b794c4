//! The user's current state reaches every credential: [`LiveUsers`], built with
//! [`UserStateExt::for_live_users`], wraps any verifier so that a credential proving a user
//! works only while that user exists, is enabled, and has not changed since the credential
//! was issued, and carries the user's current roles, name and email.
//!
//! After the inner verifier answers a [`PrincipalKind::User`], the wrapper reads the user
//! from the [`UserStore`] and refuses the credential when:
//!
//! - the user no longer exists, or is disabled (`invalid_credentials`: the same public
//!   answer as an unknown credential);
//! - the credential was issued before the user's [`epoch`](UserRecord::epoch) (`revoked`).
//!   Every change made through the store's writing methods raises the epoch, so a change
//!   ends every session issued before it, even after a disabled user is enabled again.
//!
//! When a credential was issued is what the principal says:
//! [`issued_at`](crate::PrincipalData::issued_at) (set by the key-store verifiers from the
//! record's creation, to the millisecond), else the attribute [`ISSUED_AT_MS`], else a JWT's
//! `iat` claim (whole seconds: a JWT issued within the second of a change is given the benefit of
//! the doubt). A principal that says neither (Basic, HA1B: password equivalents checked
//! against the current record) is checked for existence and state only.
//!
//! Other principals (apps, devices, servers) pass through untouched. Users that are not in
//! this store (Google, Facebook subjects) must not go through the wrapper: it would refuse
//! them.
//!
//! A store failure is `unavailable` (503): the wrapper fails closed. Put a verification
//! cache *outside* the wrapper: the stores announce every user change
//! ([`Invalidation::Principal`](crate::Invalidation::Principal)), and the cache drops the
//! user's entries before the change returns here and as soon as it is heard elsewhere.
//!
//! ```
//! use tower_authn_core::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::user_state::UserStateExt;
//! use tower_authn_core::credential::TokenCredential;
//! use tower_authn_core::{CredentialLocation, KeyStoreExt, Principal, UserRecord, UserStore, Verifier};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let users = MemoryUserStore::new();
//! users.put_user(UserRecord::new("alice", "$argon2id$v=19$...").with_roles(["admin"])).await.unwrap();
//! let keys = MemoryKeyStore::new();
//! let verifier = keys.verifier(KeyKind::IssuedToken).for_live_users(users.clone());
//!
//! let (_, token) = keys.issue_key(KeyKind::IssuedToken, Principal::user("alice"), None).await.unwrap();
//! let presented = || TokenCredential::new(token.clone(), CredentialLocation::Query("token".into()));
//! let alice = verifier.verify(presented()).await.unwrap();
//! assert!(alice.has_role("admin")); // the roles are the user's current ones
//!
//! users.disable_user("alice").await.unwrap();
//! assert!(verifier.verify(presented()).await.is_err()); // her token died with her account
//! # }
//! ```

use std::fmt;
use std::time::SystemTime;

use futures_util::future::{BoxFuture, FutureExt};
use serde_json::Value;

use crate::error::AuthError;
use crate::principal::{Principal, PrincipalKind};
use crate::store::{UserRecord, UserStore};
use crate::verifier::Verifier;

/// The principal attribute that says when the credential that proved it was issued, in
/// milliseconds since the Unix epoch, for verifiers that cannot set
/// [`PrincipalData::issued_at`](crate::PrincipalData::issued_at) (the key-store verifiers
/// set the field).
pub const ISSUED_AT_MS: &str = "issued_at_ms";

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The epoch a user gets from a change at `now`, after `previous`: later than both, so it
/// always rises, even for two changes within one millisecond.
pub fn next_epoch(previous: u64, now: SystemTime) -> u64 {
    previous.saturating_add(1).max(unix_millis(now))
}

/// When the credential that proved `principal` was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuedAt {
    /// To the millisecond ([`ISSUED_AT_MS`]).
    Millis(u64),
    /// To the second (a JWT's `iat`).
    Secs(u64),
}

impl IssuedAt {
    /// Whether a credential issued then may still work for a user whose epoch is `epoch`.
    pub fn is_current(self, epoch: u64) -> bool {
        match self {
            Self::Millis(ms) => ms >= epoch,
            // Some instant of that second may be at or after the epoch.
            Self::Secs(s) => s.saturating_add(1).saturating_mul(1000) > epoch,
        }
    }
}

fn whole(v: &Value) -> Option<u64> {
    // A float (fractional `iat`) counts from its second.
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// When the credential that proved `principal` was issued, if it says.
pub fn issued_at(principal: &Principal) -> Option<IssuedAt> {
    if let Some(at) = principal.issued_at {
        return Some(IssuedAt::Millis(unix_millis(at)));
    }
    if let Some(ms) = principal.attributes.get(ISSUED_AT_MS).and_then(whole) {
        return Some(IssuedAt::Millis(ms));
    }
    principal
        .attributes
        .get("iat")
        .and_then(whole)
        .map(IssuedAt::Secs)
}

/// Checks `principal` (a user's) against `user`, the user's current record: refuses a
/// missing or disabled user and a credential issued before the user's epoch; otherwise the
/// principal with the user's current roles, name and email. Principals that are not users
/// pass unchanged.
///
/// For a service that handles a user's credential without a verifier (a token renewal, a
/// refresh): read the user, then call this.
///
/// # Errors
///
/// `invalid_credentials` for a missing or disabled user, `revoked` for a credential issued
/// before the user's epoch.
pub fn check_user(principal: Principal, user: Option<&UserRecord>) -> Result<Principal, AuthError> {
    if principal.kind != PrincipalKind::User {
        return Ok(principal);
    }
    let Some(user) = user else {
        return Err(AuthError::invalid(format!(
            "user {} no longer exists",
            principal.id
        )));
    };
    if user.disabled {
        return Err(AuthError::invalid(format!("user {} disabled", user.login)));
    }
    if issued_at(&principal).is_some_and(|at| !at.is_current(user.epoch)) {
        return Err(AuthError::revoked(format!(
            "credential of {} issued before the user's last change",
            user.login
        )));
    }
    let mut p = principal;
    // Written only when changed: a principal shared with a cache stays shared (no copy).
    if p.roles != user.roles || p.name != user.name || p.email != user.email {
        let data = &mut *p;
        data.roles.clone_from(&user.roles);
        data.name.clone_from(&user.name);
        data.email.clone_from(&user.email);
    }
    Ok(p)
}

/// Reads the user `principal` proves from `users` and [`check_user`]s it; principals that
/// are not users pass without a lookup.
///
/// # Errors
///
/// As [`check_user`]; `unavailable` when the store cannot answer.
pub fn current_principal<'a, U: UserStore + ?Sized>(
    users: &'a U,
    principal: Principal,
) -> BoxFuture<'a, Result<Principal, AuthError>> {
    async move {
        if principal.kind != PrincipalKind::User {
            return Ok(principal);
        }
        let user = users.find_user(&principal.id).await?;
        check_user(principal, user.as_ref())
    }
    .boxed()
}

/// A verifier whose user principals are checked against the user's current state. See the
/// [module docs](self).
#[derive(Clone)]
pub struct LiveUsers<V, U> {
    inner: V,
    users: U,
}

impl<V, U> LiveUsers<V, U> {
    /// Checks `inner`'s user principals against `users`.
    pub fn new(inner: V, users: U) -> Self {
        Self { inner, users }
    }

    /// The wrapped verifier.
    pub fn get_ref(&self) -> &V {
        &self.inner
    }
}

impl<V, U> fmt::Debug for LiveUsers<V, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveUsers").finish_non_exhaustive()
    }
}

impl<V, U, C> Verifier<C> for LiveUsers<V, U>
where
    V: Verifier<C>,
    U: UserStore + Clone,
    C: Send + 'static,
{
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;

    fn verify(&self, credential: C) -> Self::Future {
        let verified = self.inner.verify(credential);
        let users = self.users.clone();
        async move {
            let principal = verified.await?;
            current_principal(&users, principal).await
        }
        .boxed()
    }
}

/// `.for_live_users(users)` on every [`Verifier`].
pub trait UserStateExt<C>: Verifier<C> + Sized {
    /// Accepts this verifier's user principals only while the user exists, is enabled and
    /// has not changed since the credential was issued, with the user's current roles.
    fn for_live_users<U: UserStore + Clone>(self, users: U) -> LiveUsers<Self, U> {
        LiveUsers::new(self, users)
    }
}

impl<C, V: Verifier<C>> UserStateExt<C> for V {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::credential::TokenCredential;
    use crate::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
    use crate::principal::CredentialLocation;
    use crate::store::KeyStore;
    use crate::verifiers::KeyStoreExt;

    #[test]
    fn an_unchanged_user_leaves_the_principal_shared_and_a_change_is_carried() {
        let user = UserRecord::new("alice", "$argon2id$").with_roles(["admin"]);
        let cached = Principal::user("alice").with_roles(["admin"]);
        let checked = check_user(cached.clone(), Some(&user)).unwrap();
        assert!(
            checked.shares_data_with(&cached),
            "no copy when nothing changed"
        );
        let demoted = user.with_roles(["user"]);
        let checked = check_user(cached.clone(), Some(&demoted)).unwrap();
        assert_eq!(checked.roles, ["user"]);
        assert_eq!(
            cached.roles,
            ["admin"],
            "the cached principal is not changed"
        );
    }

    fn cred(t: &str) -> TokenCredential {
        TokenCredential::new(t, CredentialLocation::Query("token".into()))
    }

    /// Issues a token at the manual clock's time.
    async fn issue(keys: &MemoryKeyStore, clock: &ManualClock, p: Principal) -> String {
        let token = crate::store::generate_key();
        let record = crate::store::KeyRecord::new(
            crate::new_key_id(),
            KeyKind::IssuedToken,
            keys.key_hasher().digest(&token),
            p,
            clock.now(),
        );
        keys.put(record).await.unwrap();
        token
    }

    fn alice() -> UserRecord {
        UserRecord::new("alice", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
            .with_name("Alice")
            .with_roles(["admin"])
    }

    #[tokio::test]
    async fn a_token_dies_with_its_users_account_and_carries_current_roles() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let users = MemoryUserStore::new().with_clock(Arc::new(clock.clone()));
        users.put_user(alice()).await.unwrap();
        let keys = MemoryKeyStore::new().with_clock(Arc::new(clock.clone()));
        let v = keys
            .verifier(KeyKind::IssuedToken)
            .with_clock(Arc::new(clock.clone()))
            .for_live_users(users.clone());
        clock.advance(Duration::from_millis(5));
        let token = issue(
            &keys,
            &clock,
            Principal::user("alice").with_roles(["admin"]),
        )
        .await;
        let p = v.verify(cred(&token)).await.unwrap();
        assert!(p.has_role("admin"));
        assert_eq!(p.name.as_deref(), Some("Alice"));

        // Roles changed: the token issued before the change is revoked.
        clock.advance(Duration::from_millis(5));
        users.put_user(alice().with_roles(["user"])).await.unwrap();
        assert_eq!(v.verify(cred(&token)).await.unwrap_err().code(), "revoked");
        // One issued after the change works, with the new roles.
        clock.advance(Duration::from_millis(5));
        let fresh = issue(&keys, &clock, Principal::user("alice")).await;
        let p = v.verify(cred(&fresh)).await.unwrap();
        assert_eq!(p.roles, ["user"]);

        // Disabled: refused like an unknown credential; enabled again: still dead.
        assert!(users.disable_user("alice").await.unwrap());
        assert_eq!(
            v.verify(cred(&fresh)).await.unwrap_err().code(),
            "invalid_credentials"
        );
        assert!(users.set_disabled("alice", false).await.unwrap());
        assert_eq!(v.verify(cred(&fresh)).await.unwrap_err().code(), "revoked");

        // Deleted, then created again: nothing issued before comes back.
        assert!(users.delete_user("alice").await.unwrap());
        assert_eq!(
            v.verify(cred(&fresh)).await.unwrap_err().code(),
            "invalid_credentials"
        );
        clock.advance(Duration::from_millis(1));
        users.put_user(alice()).await.unwrap();
        assert_eq!(v.verify(cred(&fresh)).await.unwrap_err().code(), "revoked");
        assert!(!users.disable_user("nobody").await.unwrap());
    }

    #[tokio::test]
    async fn apps_pass_and_store_failures_fail_closed() {
        let keys = MemoryKeyStore::new();
        let v = keys
            .verifier(KeyKind::AppApiKey)
            .for_live_users(MemoryUserStore::new());
        let (_, key) = keys
            .issue_key(KeyKind::AppApiKey, Principal::app("alice"), None)
            .await
            .unwrap();
        // An app whose id equals a missing user's login is still an app.
        assert_eq!(v.verify(cred(&key)).await.unwrap().id, "alice");

        #[derive(Clone)]
        struct Down;
        impl UserStore for Down {
            fn find_user<'a>(
                &'a self,
                _: &'a str,
            ) -> BoxFuture<'a, Result<Option<UserRecord>, crate::StoreError>> {
                futures_util::future::ready(Err(crate::StoreError::new("down"))).boxed()
            }
        }
        let ok = |_: TokenCredential| async { Ok(Principal::user("alice")) };
        let err = ok.for_live_users(Down).verify(cred("x")).await.unwrap_err();
        assert_eq!(err.status(), 503);
        assert!(
            Down.put_user(alice()).await.is_err(),
            "read-only by default"
        );
        let unknown = ok
            .for_live_users(MemoryUserStore::new())
            .verify(cred("x"))
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), "invalid_credentials");
    }

    #[test]
    fn issue_times() {
        let at = |k: &str, v: Value| Principal::user("u").with_attribute(k, v);
        assert_eq!(
            issued_at(&at(ISSUED_AT_MS, 1_700_000_000_123_u64.into())),
            Some(IssuedAt::Millis(1_700_000_000_123))
        );
        assert_eq!(
            issued_at(&at("iat", 1_700_000_000_u64.into())),
            Some(IssuedAt::Secs(1_700_000_000))
        );
        // The field, set by the key-store verifiers, wins over any attribute or claim.
        let stamped = at("iat", 5_u64.into()).with_issued_at(
            SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_456),
        );
        assert_eq!(
            issued_at(&stamped),
            Some(IssuedAt::Millis(1_700_000_000_456))
        );
        assert_eq!(
            issued_at(&at("iat", 1.7e9.into())),
            Some(IssuedAt::Secs(1_700_000_000))
        );
        assert_eq!(issued_at(&at("iat", "soon".into())), None);
        assert_eq!(issued_at(&at("iat", (-5).into())), None);
        // Milliseconds: exact. Seconds: any instant of the second may be after the epoch.
        assert!(IssuedAt::Millis(1_000).is_current(1_000));
        assert!(!IssuedAt::Millis(999).is_current(1_000));
        assert!(IssuedAt::Secs(1).is_current(1_999));
        assert!(!IssuedAt::Secs(1).is_current(2_000));
        // The epoch always rises.
        let t = ManualClock::at_unix(10).now();
        assert_eq!(next_epoch(0, t), 10_000);
        assert_eq!(next_epoch(10_000, t), 10_001);
    }

    #[tokio::test]
    async fn a_jwt_issued_before_the_change_is_refused() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let users = MemoryUserStore::new().with_clock(Arc::new(clock.clone()));
        users.put_user(alice()).await.unwrap();
        clock.advance(Duration::from_secs(2));
        let jwt = Principal::user("alice").with_attribute("iat", 1_700_000_001_u64);
        let claims = move |_: TokenCredential| {
            let jwt = jwt.clone();
            async move { Ok(jwt) }
        };
        let v = claims.for_live_users(users.clone());
        assert!(v.verify(cred("jwt")).await.is_ok());
        users.put_user(alice()).await.unwrap();
        assert_eq!(v.verify(cred("jwt")).await.unwrap_err().code(), "revoked");
    }
}
