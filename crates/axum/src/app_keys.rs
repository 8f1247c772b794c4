//! App API keys (Volt MX `X-VoltMX-App-API-Key`): add, list, details, modify / renew,
//! delete. The key is its own id, as in Volt MX: clients name it in the URL, the store finds
//! it by digest. Its plaintext is shown once, when it is created (or regenerated); listings
//! show a masked hint.
//!
//! ```
//! use tower_authn_axum::app_keys::{AppKeys, Expiry};
//! use tower_authn_core::memory::MemoryKeyStore;
//! use secrecy::ExposeSecret;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let keys = AppKeys::new(MemoryKeyStore::new());
//! let (record, key) = keys.add("demo-app", Expiry::Never, Some("push".into())).await.unwrap();
//! assert_eq!(record.principal.app_id.as_deref(), Some("demo-app"));
//! assert!(keys.find(key.expose_secret()).await.unwrap().is_some());
//! assert!(!record.hint.as_deref().unwrap().contains(&key.expose_secret()[4..12]));
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use tower_authn_core::clock::{SharedClock, SystemClock};
use tower_authn_core::store::generate_key;
use tower_authn_core::{
    AuthError, KeyKind, KeyRecord, KeyStore, KeyVerifier, Principal, PrincipalKind, new_key_id,
};

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
#[derive(Clone)]
pub struct AppKeys<K> {
    store: K,
    clock: SharedClock,
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
        }
    }

    /// Uses `clock` for creation, update and expiry times.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
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
/// use tower_authn_axum::app_keys::check_app_id;
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
        Ok(self
            .store
            .delete(KeyKind::AppApiKey, &record.id)
            .await?
            .then_some(record))
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Formats `t` as Volt MX does, `mm/dd/yyyy hh:mm:ss`, in UTC.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tower_authn_axum::app_keys::{format_voltmx_time, parse_voltmx_time};
///
/// let t = UNIX_EPOCH + Duration::from_secs(1_408_953_838);
/// assert_eq!(format_voltmx_time(t), "08/25/2014 08:03:58");
/// assert_eq!(parse_voltmx_time("08/25/2014 08:03:58"), Some(t));
/// assert_eq!(parse_voltmx_time("2014-08-25 08:03:58"), None);
/// ```
pub fn format_voltmx_time(t: SystemTime) -> String {
    let secs = i64::try_from(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
        .unwrap_or(i64::MAX / 2);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{m:02}/{d:02}/{y:04} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Parses `mm/dd/yyyy hh:mm:ss` (UTC) strictly: two-digit fields, a real date, 24-hour time.
/// `None` for anything else. Never panics.
pub fn parse_voltmx_time(text: &str) -> Option<SystemTime> {
    let b = text.trim().as_bytes();
    if b.len() != 19
        || b[2] != b'/'
        || b[5] != b'/'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = b.get(r)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let (m, d, y) = (num(0..2)?, num(3..5)?, num(6..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || hh > 23 || mm > 59 || ss > 59 || y < 1970 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d == 0 || d > month_days[usize::try_from(m - 1).ok()?] {
        return None;
    }
    let days = days_from_civil(i64::from(y), m, d);
    let secs = u64::try_from(days * 86_400 + i64::from(hh * 3600 + mm * 60 + ss)).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use tower_authn_core::clock::{Clock, ManualClock};
    use tower_authn_core::credential::TokenCredential;
    use tower_authn_core::memory::MemoryKeyStore;
    use tower_authn_core::{CredentialLocation, Verifier};

    use super::*;

    fn cred(k: &str) -> TokenCredential {
        TokenCredential::new(k, CredentialLocation::Query("k".into()))
    }

    #[test]
    fn voltmx_vectors_round_trip() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/vectors/voltmx.json"
        );
        // A missing vector file fails the test: it never silently checks half.
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("the Volt MX vectors must be at {path}: {e}"));
        {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let cases = v["claims_exp_ms_to_utc"].as_object().unwrap();
            assert!(!cases.is_empty(), "no vectors in {path}");
            for (ms, iso) in cases {
                let t = UNIX_EPOCH + Duration::from_millis(ms.parse().unwrap());
                let iso = iso.as_str().unwrap();
                // 2014-08-25T08:03:58+00:00 → 08/25/2014 08:03:58
                let expected = format!(
                    "{}/{}/{} {}",
                    &iso[5..7],
                    &iso[8..10],
                    &iso[0..4],
                    &iso[11..19]
                );
                assert_eq!(format_voltmx_time(t), expected);
                assert_eq!(parse_voltmx_time(&expected), Some(t));
            }
        }
        assert_eq!(
            parse_voltmx_time("02/29/2024 00:00:00")
                .map(format_voltmx_time)
                .as_deref(),
            Some("02/29/2024 00:00:00")
        );
        for bad in [
            "02/29/2023 00:00:00",
            "13/01/2024 00:00:00",
            "1/01/2024 00:00:00",
            "01/01/2024 24:00:00",
            "",
            "01/01/2024T00:00:00",
            "０1/01/2024 00:00:00",
        ] {
            assert_eq!(parse_voltmx_time(bad), None, "{bad}");
        }
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
