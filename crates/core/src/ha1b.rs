//! HA1B (Opentact, SIP): `md5(login@domain:domain:password)` as a credential, sent in
//! `X-Auth-HA1B-Token` or `?ha1b=`, as 32 hex digits in either case.
//!
//! An HA1B is a password equivalent: it is stored only as a digest of its normalized
//! (lowercase) hex, looked up by that digest (one lookup, whatever the number of users) and
//! compared in constant time. Anything that is not 32 hex digits is malformed (400).
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_authn_core::ha1b::Ha1bVerifier;
//! use tower_authn_core::memory::MemoryKeyStore;
//! use tower_authn_core::Principal;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let ha1b = Ha1bVerifier::new(MemoryKeyStore::new());
//! // md5("alice@sip.example.com:sip.example.com:secret")
//! ha1b.register("48d2196d7c9e2829258edccf96575c09", Principal::user("alice")).await.unwrap();
//!
//! let svc = ServiceBuilder::new().layer(ha1b.into_layer()).service_fn(|req: Request<()>| async move {
//!     let p = req.extensions().get::<Principal>().cloned().expect("authenticated");
//!     Ok::<_, Infallible>(Response::new(Bytes::from(format!("{} {}", p.id, p.scheme))))
//! });
//! let req = Request::get("/?ha1b=48D2196D7C9E2829258EDCCF96575C09").body(()).unwrap();
//! assert_eq!(svc.clone().oneshot(req).await.unwrap().into_body(), "alice ha1b");
//!
//! let req = Request::get("/").header("x-auth-ha1b-token", "not-hex").body(()).unwrap();
//! assert_eq!(svc.oneshot(req).await.unwrap().status(), 400);
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use futures_util::future::{BoxFuture, FutureExt};
use secrecy::{ExposeSecret, SecretString};

use crate::clock::{SharedClock, SystemClock};
use crate::credential::TokenCredential;
use crate::error::AuthError;
use crate::principal::Principal;
use crate::schemes::HeaderTokenLayer;
use crate::store::{KeyKind, KeyRecord, KeyStore, UserRecord};
use crate::verifier::Verifier;

/// The header an HA1B arrives in.
pub const HA1B_HEADER: &str = "X-Auth-HA1B-Token";
/// The query parameter an HA1B arrives in.
pub const HA1B_QUERY: &str = "ha1b";

/// Normalizes a presented HA1B: exactly 32 ASCII hex digits, either case, to lowercase.
/// `None` for anything else. Never panics.
///
/// ```
/// use secrecy::ExposeSecret;
/// use tower_authn_core::ha1b::normalize_ha1b;
///
/// let n = normalize_ha1b("48D2196D7C9E2829258EDCCF96575C09").unwrap();
/// assert_eq!(n.expose_secret(), "48d2196d7c9e2829258edccf96575c09");
/// assert!(normalize_ha1b("48d2196d7c9e2829258edccf96575c0").is_none()); // 31 digits
/// assert!(normalize_ha1b("48d2196d7c9e2829258edccf96575c0g").is_none()); // not hex
/// ```
pub fn normalize_ha1b(text: &str) -> Option<SecretString> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(SecretString::from(text.to_ascii_lowercase()))
}

/// Verifies HA1B tokens against a [`KeyStore`] ([`KeyKind::Ha1b`] records); scheme `ha1b`.
///
/// Register each user's HA1B with [`register`](Self::register) (or
/// [`register_user`](Self::register_user) for a [`UserRecord`] that carries one); the store
/// keeps a digest of the normalized hex, never the HA1B.
#[derive(Clone)]
pub struct Ha1bVerifier<K> {
    store: K,
    clock: SharedClock,
}

impl<K> Ha1bVerifier<K> {
    /// Verifies against `store`.
    pub fn new(store: K) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` for expiry of registered HA1Bs.
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// The store.
    pub fn store(&self) -> &K {
        &self.store
    }
}

impl<K: KeyStore + Clone> Ha1bVerifier<K> {
    /// Registers `ha1b` (32 hex digits, either case) for `principal`, replacing the
    /// principal's previous one. The record's id is the principal's id.
    ///
    /// # Errors
    ///
    /// [`AuthError::malformed`] when `ha1b` is not 32 hex digits; `Unavailable` when the
    /// store fails.
    pub fn register<'a>(
        &'a self,
        ha1b: &str,
        principal: Principal,
    ) -> BoxFuture<'a, Result<KeyRecord, AuthError>> {
        let normalized = normalize_ha1b(ha1b);
        async move {
            let normalized =
                normalized.ok_or_else(|| AuthError::malformed("HA1B is not 32 hex digits"))?;
            let digest = self.store.key_hasher().digest(normalized.expose_secret());
            let mut principal = principal.with_scheme("ha1b");
            principal.location = None;
            let record = KeyRecord::new(
                principal.id.clone(),
                KeyKind::Ha1b,
                digest,
                principal,
                self.clock.now(),
            );
            self.store.put(record.clone()).await?;
            Ok(record)
        }
        .boxed()
    }

    /// Registers the HA1B a [`UserRecord`] carries (`Ok(None)` when it has none, or when
    /// the user is disabled: a disabled user's HA1B is removed instead).
    ///
    /// The HA1B of a user who is later disabled, deleted or changed is refused by the
    /// verifier when it is wrapped with
    /// [`for_live_users`](crate::user_state::UserStateExt::for_live_users), as every other
    /// credential of the user is.
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register).
    pub fn register_user<'a>(
        &'a self,
        user: &UserRecord,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, AuthError>> {
        let ha1b = user
            .ha1b
            .as_ref()
            .map(|h| SecretString::from(h.expose_secret().to_owned()));
        let principal = user.principal();
        let disabled = user.disabled;
        async move {
            if disabled {
                self.store.delete(KeyKind::Ha1b, &principal.id).await?;
                return Ok(None);
            }
            match ha1b {
                Some(h) => self.register(h.expose_secret(), principal).await.map(Some),
                None => Ok(None),
            }
        }
        .boxed()
    }

    /// The Opentact layer: `X-Auth-HA1B-Token` or `?ha1b=`, challenge `HA1B`, scheme `ha1b`.
    pub fn into_layer(self) -> HeaderTokenLayer<Self> {
        HeaderTokenLayer::new(HA1B_HEADER, self)
            .with_query(HA1B_QUERY)
            .challenge_scheme("HA1B")
            .scheme_name("ha1b")
    }
}

impl<K> fmt::Debug for Ha1bVerifier<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ha1bVerifier").finish_non_exhaustive()
    }
}

impl<K: KeyStore + Clone> Verifier<TokenCredential> for Ha1bVerifier<K> {
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;

    fn verify(&self, credential: TokenCredential) -> Self::Future {
        let normalized = normalize_ha1b(credential.expose());
        let digest = normalized.map(|n| self.store.key_hasher().digest(n.expose_secret()));
        let (store, clock) = (self.store.clone(), Arc::clone(&self.clock));
        async move {
            let digest = digest.ok_or_else(|| AuthError::malformed("HA1B is not 32 hex digits"))?;
            let record = store
                .find_by_digest(KeyKind::Ha1b, digest)
                .await?
                .filter(|r| r.digest.ct_eq(&digest))
                .ok_or_else(|| AuthError::invalid("unknown HA1B"))?;
            if record.revoked {
                return Err(AuthError::revoked(format!("HA1B of {} revoked", record.id)));
            }
            if record.expires_at.is_some_and(|at| at <= clock.now()) {
                return Err(AuthError::expired(format!("HA1B of {} expired", record.id)));
            }
            let mut p = record.principal;
            if p.scheme.is_empty() {
                p.scheme = "ha1b".into();
            }
            Ok(p)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryKeyStore;
    use crate::principal::CredentialLocation;

    fn cred(t: &str) -> TokenCredential {
        TokenCredential::new(t, CredentialLocation::Query("ha1b".into()))
    }

    #[tokio::test]
    async fn either_case_verifies_and_only_digests_are_stored() {
        let keys = MemoryKeyStore::new();
        let v = Ha1bVerifier::new(keys.clone());
        let rec = v
            .register("48D2196D7C9E2829258EDCCF96575C09", Principal::user("alice"))
            .await
            .unwrap();
        assert!(!format!("{rec:?}").contains("48d2196d"));
        for t in [
            "48d2196d7c9e2829258edccf96575c09",
            "48D2196D7C9E2829258EDCCF96575C09",
            "48d2196D7c9e2829258EDCcf96575c09",
        ] {
            let p = v.verify(cred(t)).await.unwrap();
            assert_eq!((p.id.as_str(), &*p.scheme), ("alice", "ha1b"));
        }
    }

    #[tokio::test]
    async fn wrong_and_malformed() {
        let v = Ha1bVerifier::new(MemoryKeyStore::new());
        v.register("48d2196d7c9e2829258edccf96575c09", Principal::user("alice"))
            .await
            .unwrap();
        // HA1 (without the @domain) is a different digest: unknown, 401.
        assert_eq!(
            v.verify(cred("a0bbf6034b8565747c15ee9850d9215a"))
                .await
                .unwrap_err()
                .status(),
            401
        );
        for bad in [
            "",
            "48d2196d7c9e2829258edccf96575c0",
            "48d2196d7c9e2829258edccf96575c099",
            "zz".repeat(16).as_str(),
            "é".repeat(16).as_str(),
        ] {
            assert_eq!(
                v.verify(cred(bad)).await.unwrap_err().status(),
                400,
                "{bad}"
            );
        }
        assert_eq!(
            v.register("xyz", Principal::user("bob"))
                .await
                .unwrap_err()
                .status(),
            400
        );
    }

    #[tokio::test]
    async fn re_registering_replaces_and_revoking_refuses() {
        let keys = MemoryKeyStore::new();
        let v = Ha1bVerifier::new(keys.clone());
        v.register("48d2196d7c9e2829258edccf96575c09", Principal::user("alice"))
            .await
            .unwrap();
        v.register("a0bbf6034b8565747c15ee9850d9215a", Principal::user("alice"))
            .await
            .unwrap();
        assert_eq!(
            v.verify(cred("48d2196d7c9e2829258edccf96575c09"))
                .await
                .unwrap_err()
                .status(),
            401
        );
        assert!(
            v.verify(cred("a0bbf6034b8565747c15ee9850d9215a"))
                .await
                .is_ok()
        );
        keys.revoke(KeyKind::Ha1b, "alice").await.unwrap();
        assert_eq!(
            v.verify(cred("a0bbf6034b8565747c15ee9850d9215a"))
                .await
                .unwrap_err()
                .code(),
            "revoked"
        );
    }

    #[tokio::test]
    async fn a_disabled_users_ha1b_is_refused() {
        use crate::memory::MemoryUserStore;
        use crate::store::UserStore;
        use crate::user_state::UserStateExt;
        let (keys, users) = (MemoryKeyStore::new(), MemoryUserStore::new());
        let alice = UserRecord::new("alice", "$phc")
            .with_roles(["admin"])
            .with_ha1b("48d2196d7c9e2829258edccf96575c09");
        users.put_user(alice.clone()).await.unwrap();
        let v = Ha1bVerifier::new(keys.clone());
        assert!(v.register_user(&alice).await.unwrap().is_some());
        let live = v.clone().for_live_users(users.clone());
        let good = || cred("48d2196d7c9e2829258edccf96575c09");
        assert!(live.verify(good()).await.unwrap().has_role("admin"));
        // Roles follow the user; disabled, the HA1B stops.
        users
            .put_user(alice.clone().with_roles(["user"]))
            .await
            .unwrap();
        assert_eq!(live.verify(good()).await.unwrap().roles, ["user"]);
        users.disable_user("alice").await.unwrap();
        assert_eq!(
            live.verify(good()).await.unwrap_err().code(),
            "invalid_credentials"
        );
        // Registering a disabled user removes the HA1B from the key store.
        let mut disabled = alice;
        disabled.disabled = true;
        assert!(v.register_user(&disabled).await.unwrap().is_none());
        assert_eq!(v.verify(good()).await.unwrap_err().status(), 401);
    }

    #[test]
    fn normalize_never_panics_on_odd_input() {
        for s in [
            "\u{0}",
            "ａ",
            "0x48d2196d7c9e2829258edccf96575c",
            " 48d2196d7c9e2829258edccf96575c0",
        ] {
            assert!(normalize_ha1b(s).is_none());
        }
    }
}
