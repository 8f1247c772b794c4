//! App API keys ([`AppKeys`]).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::audit::{Actor, AuditAction, AuditEvent, AuditSink, Auditor};
use crate::clock::{SharedClock, SystemClock};
use crate::store::generate_key;
use crate::{
    AuthError, KeyKind, KeyRecord, KeyStore, KeyVerifier, Principal, PrincipalKind, new_key_id,
};
use secrecy::{ExposeSecret, SecretString};

/// The longest description Volt MX accepts, in characters.
pub const MAX_DESCRIPTION: usize = 100;
/// The longest app id accepted, in characters.
pub const MAX_APP_ID: usize = 64;
/// The longest key looked up; anything longer was never issued (keys are 43 characters).
const MAX_KEY_LEN: usize = 256;

/// When a key expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Never (`neverExpires: true`).
    Never,
    /// At this time.
    At(SystemTime),
}

impl Expiry {
    fn as_option(self) -> Option<SystemTime> {
        match self {
            Self::Never => None,
            Self::At(t) => Some(t),
        }
    }
}

/// A change to a key (Volt MX "modify"): each field left `None` stays as it is.
#[derive(Clone, Debug, Default)]
pub struct KeyChanges {
    /// A new expiry.
    pub expiry: Option<Expiry>,
    /// A new description.
    pub description: Option<String>,
    /// Replace the key with a new one (shown once); the old key stops working at once.
    pub regenerate: bool,
}

/// The masked form of a key for listings: its first and last four characters
/// (`abcd****wxyz`), or only stars for a short key.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "********".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// App API key management over a [`KeyStore`] ([`KeyKind::AppApiKey`] records).
///
/// App API keys (Volt MX `X-VoltMX-App-API-Key`): add, list, details, modify / renew,
/// delete. The key is its own id, as in Volt MX: clients name it in the URL, the store finds
/// it by digest. Its plaintext is shown once, when it is created (or regenerated); listings
/// show a masked hint.
///
/// ```
/// use tower_authn_core::issue::{AppKeys, Expiry};
/// use tower_authn_core::memory::MemoryKeyStore;
/// use secrecy::ExposeSecret;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let keys = AppKeys::new(MemoryKeyStore::new());
/// let (record, key) = keys.add("demo-app", Expiry::Never, Some("push".into())).await.unwrap();
/// assert_eq!(record.principal.app_id.as_deref(), Some("demo-app"));
/// assert!(keys.find(key.expose_secret()).await.unwrap().is_some());
/// assert!(!record.hint.as_deref().unwrap().contains(&key.expose_secret()[4..12]));
/// # }
/// ```
#[derive(Clone)]
pub struct AppKeys<K> {
    store: K,
    clock: SharedClock,
    audit: Auditor,
}

impl<K> fmt::Debug for AppKeys<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppKeys").finish_non_exhaustive()
    }
}

impl<K> AppKeys<K> {
    /// Keys in `store`.
    pub fn new(store: K) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            audit: Auditor::default(),
        }
    }

    /// Tells `sink` of every key added ([`AuditAction::Issued`]), modified
    /// ([`AuditAction::Modified`]; [`AuditAction::Rotated`] when regenerated), revoked
    /// ([`AuditAction::Revoked`]) and deleted ([`AuditAction::Deleted`]); the default is
    /// [`TracingAudit`](crate::audit::TracingAudit).
    pub fn with_audit(mut self, sink: impl AuditSink) -> Self {
        self.audit = self.audit.with_sink(sink);
        self
    }

    /// Names `actor` (the administrator calling) as who makes the changes in audit events;
    /// without it, the actor is the system. Cheap to call per request on a clone:
    /// `keys.clone().acting_as(&admin).delete(key)`.
    pub fn acting_as(mut self, actor: impl Into<Actor>) -> Self {
        self.audit = self.audit.with_actor(actor.into());
        self
    }

    /// Uses `clock` for creation, update and expiry times.
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
}

/// Checks a description: at most [`MAX_DESCRIPTION`] characters, no control characters.
///
/// # Errors
///
/// [`AuthError::malformed`] (400) otherwise.
pub fn check_description(d: &str) -> Result<(), AuthError> {
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(AuthError::malformed(
            "description longer than 100 characters",
        ));
    }
    if d.chars().any(char::is_control) {
        return Err(AuthError::malformed("description with control characters"));
    }
    Ok(())
}

/// Checks an app id: 1 to [`MAX_APP_ID`] ASCII letters, digits, `.`, `_` or `-`, starting
/// with a letter or digit. Nothing else is accepted (no spaces, no control or bidi
/// characters, nothing a listing or a log could render as something else).
///
/// ```
/// use tower_authn_core::issue::check_app_id;
///
/// assert!(check_app_id("demo-app").is_ok());
/// assert!(check_app_id("evil\u{202e}ppa").is_err());
/// assert!(check_app_id(&"a".repeat(65)).is_err());
/// ```
///
/// # Errors
///
/// [`AuthError::malformed`] (400) otherwise.
pub fn check_app_id(app_id: &str) -> Result<(), AuthError> {
    let mut bytes = app_id.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !first_ok || !rest_ok || app_id.len() > MAX_APP_ID {
        return Err(AuthError::malformed(format!(
            "appId must be 1 to {MAX_APP_ID} of A-Z a-z 0-9 . _ - and start with a letter or digit"
        )));
    }
    Ok(())
}

impl<K: KeyStore + Clone> AppKeys<K> {
    /// The verifier for `X-VoltMX-App-API-Key` (same store, same clock).
    pub fn verifier(&self) -> KeyVerifier<K> {
        KeyVerifier::new(self.store.clone(), KeyKind::AppApiKey).with_clock(Arc::clone(&self.clock))
    }

    fn principal(app_id: &str) -> Principal {
        Principal::app(app_id)
            .with_app_id(app_id)
            .with_scheme("app-api-key")
    }

    fn check_expiry(&self, expiry: Expiry) -> Result<(), AuthError> {
        match expiry {
            Expiry::At(t) if t <= self.clock.now() => {
                Err(AuthError::malformed("expiresOn is in the past"))
            }
            _ => Ok(()),
        }
    }

    /// Adds a new random key for `app_id`; returns the record and the key (shown once).
    ///
    /// # Errors
    ///
    /// `MalformedCredentials` (400) for an app id [`check_app_id`] refuses, a past expiry
    /// or a bad description; `Unavailable` when the store fails.
    pub async fn add(
        &self,
        app_id: &str,
        expiry: Expiry,
        description: Option<String>,
    ) -> Result<(KeyRecord, SecretString), AuthError> {
        let key = SecretString::from(generate_key());
        let record = self
            .insert_plaintext(app_id, key.expose_secret(), expiry, description)
            .await?;
        Ok((record, key))
    }

    /// Stores a key whose plaintext is known (seeded demo keys, migrations), as a digest.
    ///
    /// # Errors
    ///
    /// As [`add`](Self::add).
    pub async fn insert_plaintext(
        &self,
        app_id: &str,
        key: &str,
        expiry: Expiry,
        description: Option<String>,
    ) -> Result<KeyRecord, AuthError> {
        check_app_id(app_id)?;
        if let Some(d) = &description {
            check_description(d)?;
        }
        self.check_expiry(expiry)?;
        let digest = self.store.key_hasher().digest(key);
        let mut record = KeyRecord::new(
            new_key_id(),
            KeyKind::AppApiKey,
            digest,
            Self::principal(app_id),
            self.clock.now(),
        )
        .expires_at(expiry.as_option())
        .with_hint(mask_key(key));
        record.description = description;
        self.store.put(record.clone()).await?;
        self.emit(AuditAction::Issued, &record);
        Ok(record)
    }

    /// The record of `key`, if it exists (revoked or expired ones included).
    ///
    /// # Errors
    ///
    /// `Unavailable` when the store fails.
    pub async fn find(&self, key: &str) -> Result<Option<KeyRecord>, AuthError> {
        if key.len() > MAX_KEY_LEN {
            return Ok(None);
        }
        let digest = self.store.key_hasher().digest(key);
        Ok(self
            .store
            .find_by_digest(KeyKind::AppApiKey, digest)
            .await?
            .filter(|r| r.digest.ct_eq(&digest)))
    }

    /// Every key of `app_id`, or of every app. Only app principals' keys are listed: an
    /// app id never matches a user of the same name.
    ///
    /// # Errors
    ///
    /// `MalformedCredentials` (400) for an app id [`check_app_id`] refuses; `Unavailable`
    /// when the store fails.
    pub async fn list(&self, app_id: Option<&str>) -> Result<Vec<KeyRecord>, AuthError> {
        if let Some(id) = app_id {
            check_app_id(id)?;
        }
        let mut records = self.store.list(KeyKind::AppApiKey, app_id).await?;
        records.retain(|r| r.principal.kind == PrincipalKind::App);
        Ok(records)
    }

    /// Applies `changes` to `key`. Returns the updated record and, when regenerated, the
    /// new key (shown once); `Ok(None)` when there is no such key.
    ///
    /// # Errors
    ///
    /// `MalformedCredentials` (400) for a past expiry or a bad description; `Unavailable`
    /// when the store fails.
    pub async fn modify(
        &self,
        key: &str,
        changes: KeyChanges,
    ) -> Result<Option<(KeyRecord, Option<SecretString>)>, AuthError> {
        if let Some(d) = &changes.description {
            check_description(d)?;
        }
        if let Some(e) = changes.expiry {
            self.check_expiry(e)?;
        }
        let Some(mut record) = self.find(key).await? else {
            return Ok(None);
        };
        if let Some(e) = changes.expiry {
            record.expires_at = e.as_option();
        }
        if changes.description.is_some() {
            record.description = changes.description;
        }
        let fresh = changes
            .regenerate
            .then(|| SecretString::from(generate_key()));
        if let Some(new_key) = &fresh {
            // Same id: the store replaces the record and drops the old digest in one put.
            record.digest = self.store.key_hasher().digest(new_key.expose_secret());
            record.hint = Some(mask_key(new_key.expose_secret()));
        }
        record.updated_at = Some(self.clock.now());
        self.store.put(record.clone()).await?;
        let action = if fresh.is_some() {
            AuditAction::Rotated
        } else {
            AuditAction::Modified
        };
        self.emit(action, &record);
        Ok(Some((record, fresh)))
    }

    /// Deletes `key`; `false` when there is no such key.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the store fails.
    pub async fn delete(&self, key: &str) -> Result<Option<KeyRecord>, AuthError> {
        let Some(record) = self.find(key).await? else {
            return Ok(None);
        };
        let deleted = self.store.delete(KeyKind::AppApiKey, &record.id).await?;
        if deleted {
            self.emit(AuditAction::Deleted, &record);
        }
        Ok(deleted.then_some(record))
    }

    /// Revokes `key`: it stops working at once, and its record stays (listed as revoked)
    /// until deleted. `Ok(None)` when there is no such key or it was already revoked.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the store fails.
    pub async fn revoke(&self, key: &str) -> Result<Option<KeyRecord>, AuthError> {
        let Some(mut record) = self.find(key).await? else {
            return Ok(None);
        };
        if record.revoked || !self.store.revoke(KeyKind::AppApiKey, &record.id).await? {
            return Ok(None);
        }
        record.revoked = true;
        self.emit(AuditAction::Revoked, &record);
        Ok(Some(record))
    }

    /// Tells the sink of `action` on `record`, by the given actor or the system.
    fn emit(&self, action: AuditAction, record: &KeyRecord) {
        let actor = self.audit.actor_or(|| Actor::System);
        self.audit
            .emit(AuditEvent::new(action, actor, self.clock.now()).record(record));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use crate::clock::{Clock, ManualClock};
    use crate::credential::TokenCredential;
    use crate::memory::MemoryKeyStore;
    use crate::{CredentialLocation, Verifier};

    use super::*;

    fn cred(k: &str) -> TokenCredential {
        TokenCredential::new(k, CredentialLocation::Query("k".into()))
    }

    #[tokio::test]
    async fn an_app_named_like_a_user_is_not_that_user() {
        let store = MemoryKeyStore::new();
        let keys = AppKeys::new(store.clone());
        let (_, key) = keys.add("alice", Expiry::Never, None).await.unwrap();
        // A record of the same kind whose principal is the user alice (not an app key).
        let user_record = KeyRecord::new(
            "user-alice",
            KeyKind::AppApiKey,
            store.key_hasher().digest("not-an-app"),
            Principal::user("alice"),
            SystemTime::now(),
        );
        store.put(user_record).await.unwrap();
        let listed = keys.list(Some("alice")).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].principal.kind, PrincipalKind::App);
        let p = keys
            .verifier()
            .verify(cred(key.expose_secret()))
            .await
            .unwrap();
        assert_eq!((p.kind, p.id.as_str()), (PrincipalKind::App, "alice"));
    }

    #[test]
    fn masks() {
        assert_eq!(mask_key("abcdefghijklmnop"), "abcd****mnop");
        assert_eq!(mask_key("short"), "********");
    }

    #[tokio::test]
    async fn add_modify_regenerate_delete() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = AppKeys::new(MemoryKeyStore::new()).with_clock(Arc::new(clock.clone()));
        let (rec, key) = keys.add("app", Expiry::Never, None).await.unwrap();
        assert!(rec.expires_at.is_none());
        let p = keys
            .verifier()
            .verify(cred(key.expose_secret()))
            .await
            .unwrap();
        assert_eq!(
            (p.id.as_str(), p.app_id.as_deref(), &*p.scheme),
            ("app", Some("app"), "app-api-key")
        );

        let long = "x".repeat(101);
        assert_eq!(
            keys.add("app", Expiry::Never, Some(long.clone()))
                .await
                .unwrap_err()
                .status(),
            400
        );
        assert!(
            keys.add("app", Expiry::Never, Some("é".repeat(100)))
                .await
                .is_ok()
        );
        let past = Expiry::At(UNIX_EPOCH + Duration::from_secs(1_600_000_000));
        assert_eq!(keys.add("app", past, None).await.unwrap_err().status(), 400);
        let long_id = "a".repeat(MAX_APP_ID + 1);
        for bad in [
            " ",
            "",
            "evil\u{202e}ppa",
            "app id",
            "-app",
            "app\n",
            "appé",
            long_id.as_str(),
        ] {
            assert_eq!(
                keys.add(bad, Expiry::Never, None)
                    .await
                    .unwrap_err()
                    .status(),
                400,
                "{bad:?}"
            );
            assert!(keys.list(Some(bad)).await.is_err(), "{bad:?}");
        }
        let longest = "a".repeat(MAX_APP_ID);
        assert!(keys.add(&longest, Expiry::Never, None).await.is_ok());
        assert!(keys.add("demo-app_1.2", Expiry::Never, None).await.is_ok());

        let soon = Expiry::At(clock.now() + Duration::from_secs(10));
        let (updated, fresh) = keys
            .modify(
                key.expose_secret(),
                KeyChanges {
                    expiry: Some(soon),
                    description: Some("d".into()),
                    regenerate: false,
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert!(fresh.is_none());
        assert_eq!(updated.description.as_deref(), Some("d"));
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            keys.verifier()
                .verify(cred(key.expose_secret()))
                .await
                .unwrap_err()
                .code(),
            "expired"
        );

        let (_, fresh) = keys
            .modify(
                key.expose_secret(),
                KeyChanges {
                    expiry: Some(Expiry::Never),
                    regenerate: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        let fresh = fresh.unwrap();
        assert!(keys.find(key.expose_secret()).await.unwrap().is_none());
        assert!(
            keys.verifier()
                .verify(cred(fresh.expose_secret()))
                .await
                .is_ok()
        );
        assert!(
            keys.modify(key.expose_secret(), KeyChanges::default())
                .await
                .unwrap()
                .is_none()
        );

        assert_eq!(keys.list(Some("app")).await.unwrap().len(), 2);
        assert!(keys.find(&"k".repeat(10_000)).await.unwrap().is_none());
        assert!(keys.delete(fresh.expose_secret()).await.unwrap().is_some());
        assert!(keys.delete(fresh.expose_secret()).await.unwrap().is_none());
        assert_eq!(
            keys.verifier()
                .verify(cred(fresh.expose_secret()))
                .await
                .unwrap_err()
                .status(),
            401
        );
    }
}
