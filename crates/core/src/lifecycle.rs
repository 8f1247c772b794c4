//! Key lifecycle through the [`KeyStore`] trait: rotation with overlap, revocation of every
//! key of an owner, and expiry. Issuing is [`KeyStoreExt::issue_key`](crate::KeyStoreExt::issue_key); revoking one key is
//! [`KeyStore::revoke`]; refresh-token families are `tower-authn-axum`'s `RefreshTokens`.
//!
//! Rotation issues a new key for the same principal and shortens the old key's life to
//! `overlap`: clients switch over while both work, then the old one expires on its own
//! (or is revoked early). Every step is a store write, so caches in front of the store hear
//! of it ([`invalidate`](crate::invalidate)).
//!
//! Each change is an audit event ([`AuditAction::Rotated`] naming the new key,
//! [`AuditAction::Revoked`] per key revoked): to the [`TracingAudit`] sink by the system
//! with [`rotate_key_at`](KeyLifecycleExt::rotate_key_at) and
//! [`revoke_all`](KeyLifecycleExt::revoke_all), to a sink and actor of your choice with
//! [`rotate_key_audited`](KeyLifecycleExt::rotate_key_audited) and
//! [`revoke_all_audited`](KeyLifecycleExt::revoke_all_audited).
//!
//! ```
//! use std::time::Duration;
//! use tower_authn_core::lifecycle::KeyLifecycleExt;
//! use tower_authn_core::memory::{KeyKind, MemoryKeyStore};
//! use tower_authn_core::{KeyStoreExt, Principal};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let keys = MemoryKeyStore::new();
//! let (old, _old_key) = keys.issue_key(KeyKind::AppApiKey, Principal::app("demo"), None).await.unwrap();
//! let rotated = keys.rotate_key(KeyKind::AppApiKey, &old.id, Duration::from_secs(3600)).await.unwrap().unwrap();
//! assert_eq!(rotated.record.principal.id, "demo");
//! assert!(rotated.old.expires_at.is_some()); // the old key now ends within the hour
//! # }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use futures_util::future::{BoxFuture, FutureExt};
use secrecy::{ExposeSecret, SecretString};

use crate::audit::{Actor, AuditAction, AuditEvent, AuditSink, TracingAudit};
use crate::error::StoreError;
use crate::store::{KeyKind, KeyRecord, KeyStore, generate_key};
use crate::verifiers::new_key_id;

/// A key just rotated: the new record, its key (shown this once) and the old record as it
/// now is.
pub struct Rotated {
    /// The new key's record.
    pub record: KeyRecord,
    /// The new key.
    pub key: SecretString,
    /// The old key's record, with its shortened expiry.
    pub old: KeyRecord,
}

impl Rotated {
    /// The new key, to hand to the client.
    pub fn expose(&self) -> &str {
        self.key.expose_secret()
    }
}

impl fmt::Debug for Rotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotated")
            .field("record", &self.record)
            .field("key", &"[REDACTED]")
            .field("old", &self.old)
            .finish()
    }
}

/// Lifecycle operations on every cloneable [`KeyStore`]. See the [module docs](self).
pub trait KeyLifecycleExt: KeyStore + Clone + Sized {
    /// Rotates key `id` of `kind`: a new key for the same principal (same description,
    /// same expiry), and the old one's expiry brought forward to `overlap` from now (never
    /// pushed back). `Ok(None)` when there is no live key `id`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails. The new key is written first: a failure after
    /// it leaves the old key as it was, never neither.
    fn rotate_key<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
        overlap: Duration,
    ) -> BoxFuture<'a, Result<Option<Rotated>, StoreError>> {
        self.rotate_key_at(kind, id, overlap, SystemTime::now())
    }

    /// [`rotate_key`](Self::rotate_key) at `now` (an injected clock's time).
    ///
    /// # Errors
    ///
    /// As [`rotate_key`](Self::rotate_key).
    fn rotate_key_at<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
        overlap: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<Rotated>, StoreError>> {
        self.rotate_key_audited(kind, id, overlap, now, &TracingAudit, Actor::System)
    }

    /// [`rotate_key_at`](Self::rotate_key_at), telling `audit` of the rotation (one
    /// [`AuditAction::Rotated`] event naming the new key, by `actor`) once both writes
    /// are done.
    ///
    /// # Errors
    ///
    /// As [`rotate_key`](Self::rotate_key).
    fn rotate_key_audited<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
        overlap: Duration,
        now: SystemTime,
        audit: &'a dyn AuditSink,
        actor: Actor,
    ) -> BoxFuture<'a, Result<Option<Rotated>, StoreError>> {
        async move {
            let Some(mut old) = self.find_by_id(kind, id).await? else {
                return Ok(None);
            };
            if old.revoked || old.expires_at.is_some_and(|at| at <= now) {
                return Ok(None);
            }
            let key = generate_key();
            let mut record = KeyRecord::new(
                new_key_id(),
                kind,
                self.key_hasher().digest(&key),
                old.principal.clone(),
                now,
            )
            .expires_at(old.expires_at);
            record.description.clone_from(&old.description);
            record.family.clone_from(&old.family);
            if old.hint.is_some() {
                record.hint = Some(mask(&key));
            }
            self.put(record.clone()).await?;
            let until = now + overlap;
            old.expires_at = Some(old.expires_at.map_or(until, |at| at.min(until)));
            old.updated_at = Some(now);
            self.put(old.clone()).await?;
            audit.record(AuditEvent::new(AuditAction::Rotated, actor, now).record(&record));
            Ok(Some(Rotated {
                record,
                key: SecretString::from(key),
                old,
            }))
        }
        .boxed()
    }

    /// Revokes every live key of `kind` owned by `owner` (an app's keys, a user's tokens);
    /// returns how many were revoked.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails (keys revoked before the failure stay revoked).
    fn revoke_all<'a>(
        &'a self,
        kind: KeyKind,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        self.revoke_all_audited(kind, owner, SystemTime::now(), &TracingAudit, Actor::System)
    }

    /// [`revoke_all`](Self::revoke_all) at `now`, telling `audit` of each key revoked (one
    /// [`AuditAction::Revoked`] event per key, by `actor`).
    ///
    /// # Errors
    ///
    /// As [`revoke_all`](Self::revoke_all).
    fn revoke_all_audited<'a>(
        &'a self,
        kind: KeyKind,
        owner: &'a str,
        now: SystemTime,
        audit: &'a dyn AuditSink,
        actor: Actor,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        async move {
            let mut n = 0;
            for r in self.list(kind, Some(owner)).await? {
                if !r.revoked && self.revoke(kind, &r.id).await? {
                    n += 1;
                    audit.record(
                        AuditEvent::new(AuditAction::Revoked, actor.clone(), now).record(&r),
                    );
                }
            }
            Ok(n)
        }
        .boxed()
    }
}

impl<K: KeyStore + Clone> KeyLifecycleExt for K {}

/// The listing hint of a key: its first and last four characters.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "********".to_owned();
    }
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rotation, overlap and revocation run in the store conformance suite
    // (`crate::conformance`), on the memory store and on Redis.

    #[test]
    fn masks() {
        assert_eq!(mask("abcdefghijklmnop"), "abcd****mnop");
        assert_eq!(mask("short"), "********");
    }
}
