//! Refresh tokens with rotation: each one works once, and presenting a used one again
//! revokes its whole family, the newest token included (OAuth 2.0 Security BCP §4.14).
//!
//! A family starts at login and gets a marker record; every rotation checks the marker, so
//! revoking a family is one write that no in-flight rotation can outrun. Tokens are stored
//! as [`KeyKind::RefreshToken`] digests; opaque access tokens issued in the family
//! ([`KeyKind::IssuedToken`] records of the same store) are revoked with it.
//!
//! ```
//! use tower_authn_axum::refresh::RefreshTokens;
//! use tower_authn_core::memory::MemoryKeyStore;
//! use tower_authn_core::Principal;
//! use secrecy::ExposeSecret;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let refresh = RefreshTokens::new(MemoryKeyStore::new());
//! let first = refresh.start(&Principal::user("alice")).await.unwrap();
//! let second = refresh.rotate(first.token.expose_secret()).await.unwrap();
//! assert_eq!(second.principal.id, "alice");
//!
//! // The first token was used: presenting it again revokes the family, the second included.
//! assert_eq!(refresh.rotate(first.token.expose_secret()).await.unwrap_err().code(), "revoked");
//! assert_eq!(refresh.rotate(second.token.expose_secret()).await.unwrap_err().code(), "revoked");
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use tower_authn_core::clock::{SharedClock, SystemClock};
use tower_authn_core::store::generate_key;
use tower_authn_core::{AuthError, KeyKind, KeyRecord, KeyStore, Principal, new_key_id};

use crate::issuer::stored_principal;

/// A refresh token just issued, with the principal and family it belongs to.
pub struct RefreshGrant {
    /// Who the token refreshes for.
    pub principal: Principal,
    /// The family id (shared by every rotation since the login).
    pub family: String,
    /// The refresh token, shown to the client this once.
    pub token: SecretString,
    /// When it expires.
    pub expires_at: SystemTime,
}

impl fmt::Debug for RefreshGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshGrant")
            .field("principal", &self.principal.id)
            .field("family", &self.family)
            .field("token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Issues and rotates refresh tokens in a [`KeyStore`]. See the [module docs](self).
#[derive(Clone)]
pub struct RefreshTokens<K> {
    store: K,
    ttl: Duration,
    clock: SharedClock,
}

impl<K> fmt::Debug for RefreshTokens<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn marker_id(family: &str) -> String {
    format!("family:{family}")
}

fn owner_of(p: &Principal) -> &str {
    p.app_id.as_deref().unwrap_or(&p.id)
}

impl<K> RefreshTokens<K> {
    /// Refresh tokens in `store`, each valid 14 days from its issue.
    pub fn new(store: K) -> Self {
        Self {
            store,
            ttl: Duration::from_secs(14 * 24 * 3600),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the lifetime of each refresh token.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Uses `clock` for issue and expiry times.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

impl<K: KeyStore + Clone> RefreshTokens<K> {
    /// Starts a new family for `principal` (at login) and issues its first token.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the store fails.
    pub async fn start(&self, principal: &Principal) -> Result<RefreshGrant, AuthError> {
        let family = new_key_id();
        let now = self.clock.now();
        let stored = stored_principal(principal, "refresh", now + self.ttl);
        // The marker's digest is of a key nobody ever sees: it can never be presented.
        let marker_digest = self.store.key_hasher().digest(&generate_key());
        let marker = KeyRecord::new(
            marker_id(&family),
            KeyKind::RefreshToken,
            marker_digest,
            stored.clone(),
            now,
        )
        .with_family(family.clone());
        self.store.put(marker).await?;
        self.issue_in(family, stored, now).await
    }

    async fn issue_in(
        &self,
        family: String,
        principal: Principal,
        now: SystemTime,
    ) -> Result<RefreshGrant, AuthError> {
        let token = generate_key();
        let expires_at = now + self.ttl;
        let digest = self.store.key_hasher().digest(&token);
        let principal = principal.with_expires_at(expires_at);
        let record = KeyRecord::new(
            new_key_id(),
            KeyKind::RefreshToken,
            digest,
            principal.clone(),
            now,
        )
        .expires_at(Some(expires_at))
        .with_family(family.clone());
        self.store.put(record).await?;
        Ok(RefreshGrant {
            principal,
            family,
            token: SecretString::from(token),
            expires_at,
        })
    }

    async fn family_live(&self, family: &str) -> Result<bool, AuthError> {
        Ok(self
            .store
            .find_by_id(KeyKind::RefreshToken, &marker_id(family))
            .await?
            .is_some_and(|m| !m.revoked))
    }

    /// Exchanges `presented` for a new token of the same family. The presented token stops
    /// working; presenting it (or any earlier one) again revokes the family.
    ///
    /// # Errors
    ///
    /// `InvalidCredentials` for an unknown token, `Expired` for an expired one, `Revoked`
    /// for a used or revoked one (and then the family is revoked), `Unavailable` when the
    /// store fails.
    pub async fn rotate(&self, presented: &str) -> Result<RefreshGrant, AuthError> {
        let digest = self.store.key_hasher().digest(presented);
        let record = self
            .store
            .find_by_digest(KeyKind::RefreshToken, digest)
            .await?
            .filter(|r| r.digest.ct_eq(&digest))
            .ok_or_else(|| AuthError::invalid("unknown refresh token"))?;
        let Some(family) = record.family.clone() else {
            return Err(AuthError::invalid("refresh token without a family"));
        };
        if record.revoked {
            self.revoke_family(owner_of(&record.principal), &family)
                .await?;
            return Err(AuthError::revoked(format!(
                "refresh token {} reused: family {family} revoked",
                record.id
            )));
        }
        if !self.family_live(&family).await? {
            return Err(AuthError::revoked(format!("family {family} revoked")));
        }
        let now = self.clock.now();
        if record.expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::expired(format!(
                "refresh token {} expired",
                record.id
            )));
        }
        // Single use, atomically: of two racing rotations only one gets the record; the
        // other is a reuse.
        let Some(record) = self
            .store
            .consume(KeyKind::RefreshToken, &record.id)
            .await?
        else {
            self.revoke_family(owner_of(&record.principal), &family)
                .await?;
            return Err(AuthError::revoked(format!(
                "refresh token {} raced: family {family} revoked",
                record.id
            )));
        };
        let grant = self.issue_in(family.clone(), record.principal, now).await?;
        // A reuse elsewhere may have revoked the family meanwhile: then the new token dies too.
        if !self.family_live(&family).await? {
            self.revoke_family(owner_of(&grant.principal), &family)
                .await?;
            return Err(AuthError::revoked(format!(
                "family {family} revoked during rotation"
            )));
        }
        Ok(grant)
    }

    /// Revokes the family of `presented` (logout). `Ok(false)` when the token is unknown.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the store fails.
    pub async fn revoke(&self, presented: &str) -> Result<bool, AuthError> {
        let digest = self.store.key_hasher().digest(presented);
        let record = self
            .store
            .find_by_digest(KeyKind::RefreshToken, digest)
            .await?
            .filter(|r| r.digest.ct_eq(&digest));
        match record {
            Some(r) => match r.family {
                Some(family) => {
                    self.revoke_family(owner_of(&r.principal), &family).await?;
                    Ok(true)
                }
                None => Ok(self.store.revoke(KeyKind::RefreshToken, &r.id).await?),
            },
            None => Ok(false),
        }
    }

    /// Revokes every refresh token of `family` (owned by `owner`) and the opaque access
    /// tokens issued in it. The marker goes first, so a rotation in flight cannot escape.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the store fails.
    pub async fn revoke_family(&self, owner: &str, family: &str) -> Result<(), AuthError> {
        self.store
            .revoke(KeyKind::RefreshToken, &marker_id(family))
            .await?;
        for kind in [KeyKind::RefreshToken, KeyKind::IssuedToken] {
            for r in self.store.list(kind, Some(owner)).await? {
                if r.family.as_deref() == Some(family) && !r.revoked {
                    self.store.revoke(kind, &r.id).await?;
                }
            }
        }
        tracing::debug!(family, "refresh-token family revoked");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use tower_authn_core::clock::ManualClock;
    use tower_authn_core::memory::MemoryKeyStore;

    use super::*;
    use crate::issuer::{OpaqueTokenIssuer, TokenIssuer};

    #[tokio::test]
    async fn rotation_reuse_and_expiry() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = MemoryKeyStore::new();
        let refresh = RefreshTokens::new(keys.clone())
            .ttl(Duration::from_secs(100))
            .with_clock(Arc::new(clock.clone()));
        let issuer = OpaqueTokenIssuer::new(keys.clone()).with_clock(Arc::new(clock.clone()));
        let alice = Principal::user("alice").with_roles(["admin"]);

        let a = refresh.start(&alice).await.unwrap();
        let access = issuer.issue(&alice, Some(&a.family)).await.unwrap();
        let b = refresh.rotate(a.token.expose_secret()).await.unwrap();
        assert_eq!(b.family, a.family);
        assert_eq!(b.principal.roles, ["admin"]);
        assert!(!format!("{b:?}").contains(b.token.expose_secret()));

        // Reuse of a: family revoked, b and the access token included.
        assert_eq!(
            refresh
                .rotate(a.token.expose_secret())
                .await
                .unwrap_err()
                .code(),
            "revoked"
        );
        assert_eq!(
            refresh
                .rotate(b.token.expose_secret())
                .await
                .unwrap_err()
                .code(),
            "revoked"
        );
        let access_rec = keys
            .list(KeyKind::IssuedToken, Some("alice"))
            .await
            .unwrap();
        assert!(access_rec.iter().all(|r| r.revoked), "{access_rec:?}");
        assert!(issuer.revoke(access.expose()).await.unwrap());

        // Expiry and unknown tokens.
        let c = refresh.start(&alice).await.unwrap();
        clock.advance(Duration::from_secs(100));
        assert_eq!(
            refresh
                .rotate(c.token.expose_secret())
                .await
                .unwrap_err()
                .code(),
            "expired"
        );
        assert_eq!(
            refresh.rotate("nope").await.unwrap_err().code(),
            "invalid_credentials"
        );

        // Logout revokes the family.
        let d = refresh.start(&alice).await.unwrap();
        assert!(refresh.revoke(d.token.expose_secret()).await.unwrap());
        assert_eq!(
            refresh
                .rotate(d.token.expose_secret())
                .await
                .unwrap_err()
                .code(),
            "revoked"
        );
        assert!(!refresh.revoke("nope").await.unwrap());
    }

    #[tokio::test]
    async fn concurrent_rotations_leave_no_live_token() {
        let keys = MemoryKeyStore::new();
        let refresh = RefreshTokens::new(keys.clone());
        let a = refresh.start(&Principal::user("alice")).await.unwrap();
        let (x, y) = tokio::join!(
            refresh.rotate(a.token.expose_secret()),
            refresh.rotate(a.token.expose_secret())
        );
        // At most one wins; if one did, the loser's reuse revoked the family, winner included.
        let winners: Vec<_> = [x, y].into_iter().filter_map(Result::ok).collect();
        for w in winners {
            assert!(refresh.rotate(w.token.expose_secret()).await.is_err());
        }
    }
}
