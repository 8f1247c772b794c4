//! [`AccessPairs`]: access-token + access-secret pairs (Volt MX messaging), for
//! [`AccessSecretLayer`](crate::AccessSecretLayer) to check.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;

use super::issuer::stored_principal;
use crate::audit::{Actor, AuditAction, AuditEvent, AuditSink, Auditor};
use crate::clock::{Clock, SharedClock, SystemClock};
use crate::store::generate_key;
use crate::{AuthError, KeyKind, KeyRecord, KeyStore, Principal, new_key_id};

/// An access pair just issued: both halves are shown to the client this once.
#[derive(Debug)]
pub struct IssuedPair {
    /// The access token (sent as `AccessToken`).
    pub token: SecretString,
    /// The access secret (sent as `AccessSecret`).
    pub secret: SecretString,
    /// When the pair stops working.
    pub expires_at: SystemTime,
}

/// Issues access pairs into a key store: the token and the secret are stored as digests
/// (one [`KeyKind::AccessToken`] record), valid for [`ttl`](Self::ttl) on the issuer's
/// clock.
///
/// ```
/// use tower_authn_core::issue::AccessPairs;
/// use tower_authn_core::memory::MemoryKeyStore;
/// use tower_authn_core::{KeyStoreExt, Principal, Verifier};
/// use tower_authn_core::credential::AccessPair;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryKeyStore::new();
/// let pairs = AccessPairs::new(store.clone());
/// let pair = pairs.issue(&Principal::user("alice")).await.unwrap();
/// let presented = AccessPair { token: pair.token.clone().into(), secret: pair.secret.clone().into() };
/// assert_eq!(store.access_pair_verifier().verify(presented).await.unwrap().id, "alice");
/// # }
/// ```
#[derive(Clone)]
pub struct AccessPairs<K> {
    store: K,
    ttl: Duration,
    clock: SharedClock,
    audit: Auditor,
}

impl<K> fmt::Debug for AccessPairs<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessPairs")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<K: KeyStore> AccessPairs<K> {
    /// Pairs in `store`, valid for one hour.
    pub fn new(store: K) -> Self {
        Self {
            store,
            ttl: Duration::from_secs(3600),
            clock: Arc::new(SystemClock),
            audit: Auditor::default(),
        }
    }

    /// Tells `sink` of every pair issued ([`AuditAction::Issued`], the token half's record);
    /// the default is [`TracingAudit`](crate::audit::TracingAudit).
    pub fn with_audit(mut self, sink: impl AuditSink) -> Self {
        self.audit = self.audit.with_sink(sink);
        self
    }

    /// Names `actor` as who issues in audit events. Without it, the actor is the principal
    /// the pair is issued to.
    pub fn acting_as(mut self, actor: impl Into<Actor>) -> Self {
        self.audit = self.audit.with_actor(actor.into());
        self
    }

    /// How long a pair works.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Uses `clock` for creation and expiry times.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Issues a pair for `principal`.
    ///
    /// # Errors
    ///
    /// `unavailable` (503) when the store cannot write it.
    pub async fn issue(&self, principal: &Principal) -> Result<IssuedPair, AuthError> {
        let now = self.clock.now();
        let expires_at = now + self.ttl;
        let (token, secret) = (generate_key(), generate_key());
        let hasher = self.store.key_hasher();
        // The verifier names the scheme (`access-secret`) when the pair is used.
        let record = KeyRecord::new(
            new_key_id(),
            KeyKind::AccessToken,
            hasher.digest(&token),
            stored_principal(principal, "", expires_at),
            now,
        )
        .with_secret_digest(hasher.digest(&secret))
        .expires_at(Some(expires_at));
        let actor = self.audit.actor_or(|| Actor::of(principal));
        let event = AuditEvent::new(AuditAction::Issued, actor, now).record(&record);
        self.store.put(record).await?;
        self.audit.emit(event);
        Ok(IssuedPair {
            token: token.into(),
            secret: secret.into(),
            expires_at,
        })
    }
}
