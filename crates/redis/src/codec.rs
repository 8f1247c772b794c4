//! How records look in Redis: JSON without secrets (digests in hex, PHC strings), times in
//! milliseconds since the Unix epoch.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tower_authn_core::{
    KeyDigest, KeyKind, KeyRecord, Principal, PrincipalKind, StoreError, UserRecord,
};

/// Every key kind, for reading a kind back from its name.
const KINDS: [KeyKind; 7] = [
    KeyKind::SharedToken,
    KeyKind::DeviceToken,
    KeyKind::AppApiKey,
    KeyKind::AccessToken,
    KeyKind::IssuedToken,
    KeyKind::RefreshToken,
    KeyKind::Ha1b,
];

/// The kind named `name` (its [`KeyKind::as_str`]).
pub(crate) fn kind_named(name: &str) -> Option<KeyKind> {
    KINDS.into_iter().find(|k| k.as_str() == name)
}

pub(crate) fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn hex_digest(text: &str) -> Result<KeyDigest, StoreError> {
    let bytes = text.as_bytes();
    let mut out = [0u8; 32];
    if bytes.len() != 64 {
        return Err(StoreError::new(
            "redis: a stored digest is not 64 hex digits",
        ));
    }
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16);
        let lo = (pair[1] as char).to_digit(16);
        match (hi, lo, out.get_mut(i)) {
            (Some(h), Some(l), Some(slot)) => *slot = u8::try_from(h * 16 + l).unwrap_or(0),
            _ => return Err(StoreError::new("redis: a stored digest is not hex")),
        }
    }
    Ok(KeyDigest(out))
}

fn principal_kind(name: &str) -> PrincipalKind {
    match name {
        "app" => PrincipalKind::App,
        "device" => PrincipalKind::Device,
        "server" => PrincipalKind::Server,
        _ => PrincipalKind::User,
    }
}

/// A principal as stored behind a key (no location: the request that uses it sets it).
#[derive(Serialize, Deserialize)]
struct PrincipalBody {
    id: String,
    kind: String,
    #[serde(default)]
    scheme: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

impl PrincipalBody {
    fn of(p: &Principal) -> Self {
        Self {
            id: p.id.clone(),
            kind: p.kind.as_str().to_owned(),
            scheme: p.scheme.to_string(),
            name: p.name.clone(),
            email: p.email.clone(),
            roles: p.roles.clone(),
            scopes: p.scopes.clone(),
            app_id: p.app_id.clone(),
            key_id: p.key_id.clone(),
            expires_at: p.expires_at.map(millis),
            attributes: p.attributes.clone(),
        }
    }

    fn into_principal(self) -> Principal {
        let mut p = Principal::new(principal_kind(&self.kind), self.id)
            .with_scheme(Cow::Owned(self.scheme))
            .with_roles(self.roles)
            .with_scopes(self.scopes)
            .with_attributes(self.attributes);
        p.name = self.name;
        p.email = self.email;
        p.app_id = self.app_id;
        p.key_id = self.key_id;
        p.expires_at = self.expires_at.map(time);
        p
    }
}

/// A key record without its `revoked` flag (kept beside it, so revoking is one field).
#[derive(Serialize, Deserialize)]
struct RecordBody {
    id: String,
    kind: String,
    digest: String,
    #[serde(default)]
    secret_digest: Option<String>,
    principal: PrincipalBody,
    created_at: u64,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    hint: Option<String>,
    #[serde(default)]
    updated_at: Option<u64>,
}

/// The JSON of `record` (no `revoked`).
pub(crate) fn encode_record(record: &KeyRecord) -> Result<String, StoreError> {
    let body = RecordBody {
        id: record.id.clone(),
        kind: record.kind.as_str().to_owned(),
        digest: record.digest.to_hex(),
        secret_digest: record.secret_digest.map(|d| d.to_hex()),
        principal: PrincipalBody::of(&record.principal),
        created_at: millis(record.created_at),
        expires_at: record.expires_at.map(millis),
        description: record.description.clone(),
        family: record.family.clone(),
        hint: record.hint.clone(),
        updated_at: record.updated_at.map(millis),
    };
    serde_json::to_string(&body).map_err(|_| StoreError::new("redis: record not encodable"))
}

/// The record stored as `json`, revoked or not.
pub(crate) fn decode_record(json: &str, revoked: bool) -> Result<KeyRecord, StoreError> {
    let body: RecordBody = serde_json::from_str(json)
        .map_err(|_| StoreError::new("redis: a stored key record is unreadable"))?;
    let kind = kind_named(&body.kind)
        .ok_or_else(|| StoreError::new("redis: a stored key record has an unknown kind"))?;
    let mut record = KeyRecord::new(
        body.id,
        kind,
        hex_digest(&body.digest)?,
        body.principal.into_principal(),
        time(body.created_at),
    )
    .expires_at(body.expires_at.map(time));
    record.secret_digest = body.secret_digest.as_deref().map(hex_digest).transpose()?;
    record.revoked = revoked;
    record.description = body.description;
    record.family = body.family;
    record.hint = body.hint;
    record.updated_at = body.updated_at.map(time);
    Ok(record)
}

/// A user as stored: the password only as its PHC string, never an HA1B.
#[derive(Serialize, Deserialize)]
struct UserBody {
    /// Written by the store's script, in front of the rest (see `users.rs`).
    #[serde(default, skip_serializing)]
    epoch: u64,
    login: String,
    password_hash: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
    #[serde(default)]
    disabled: bool,
}

/// The JSON of `user`. Refuses a password that is not a PHC string (`$alg$...`), so a
/// plaintext password can never be written by mistake.
pub(crate) fn encode_user(user: &UserRecord) -> Result<String, StoreError> {
    let phc = user.password_hash.expose_secret();
    if !phc.starts_with('$') || phc.len() < 8 {
        return Err(StoreError::new(
            "redis: a user's password must be stored as a PHC string",
        ));
    }
    let body = UserBody {
        epoch: 0,
        login: user.login.clone(),
        password_hash: phc.to_owned(),
        name: user.name.clone(),
        email: user.email.clone(),
        roles: user.roles.clone(),
        attributes: user.attributes.clone(),
        disabled: user.disabled,
    };
    serde_json::to_string(&body).map_err(|_| StoreError::new("redis: user not encodable"))
}

/// The user stored as `json`.
pub(crate) fn decode_user(json: &str) -> Result<UserRecord, StoreError> {
    let body: UserBody = serde_json::from_str(json)
        .map_err(|_| StoreError::new("redis: a stored user is unreadable"))?;
    let mut user = UserRecord::new(body.login, body.password_hash).with_roles(body.roles);
    user.name = body.name;
    user.email = body.email;
    user.attributes = body.attributes;
    user.disabled = body.disabled;
    user.epoch = body.epoch;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_authn_core::KeyHasher;

    #[test]
    fn records_round_trip_without_secrets() {
        let hasher = KeyHasher::Sha256;
        let p = Principal::app("demo")
            .with_app_id("demo")
            .with_scheme("app-api-key")
            .with_roles(["r"])
            .with_attribute("n", 12_345_678_901_234_567_u64);
        let mut r = KeyRecord::new(
            "id1",
            KeyKind::AccessToken,
            hasher.digest("the-key"),
            p,
            time(1_700_000_000_123),
        )
        .expires_at(Some(time(1_800_000_000_000)))
        .with_secret_digest(hasher.digest("the-secret"))
        .with_family("fam")
        .with_hint("abcd****wxyz")
        .with_description("d");
        r.updated_at = Some(time(1_700_000_001_000));
        let json = encode_record(&r).unwrap();
        assert!(!json.contains("the-key") && !json.contains("the-secret"));
        let back = decode_record(&json, true).unwrap();
        assert!(back.revoked);
        assert!(back.digest.ct_eq(&r.digest));
        assert_eq!(
            back.secret_digest.map(|d| d.to_hex()),
            r.secret_digest.map(|d| d.to_hex())
        );
        assert_eq!(back.principal, r.principal);
        assert_eq!(
            (back.created_at, back.expires_at, back.updated_at),
            (r.created_at, r.expires_at, r.updated_at)
        );
        assert_eq!(
            (back.family, back.hint, back.description),
            (r.family, r.hint, r.description)
        );
        assert!(decode_record("{", false).is_err());
        assert!(decode_record(&json.replace(&r.digest.to_hex(), "zz"), false).is_err());
        for k in KINDS {
            assert_eq!(kind_named(k.as_str()), Some(k));
        }
    }

    #[test]
    fn users_keep_only_phc_strings() {
        let u = UserRecord::new("alice", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
            .with_name("Alice")
            .with_roles(["admin"])
            .with_ha1b("48d2196d7c9e2829258edccf96575c09");
        let json = encode_user(&u).unwrap();
        assert!(!json.contains("48d2196d"), "an HA1B is never written");
        let back = decode_user(&json).unwrap();
        assert_eq!(
            (back.login.as_str(), back.roles.as_slice()),
            ("alice", ["admin".to_owned()].as_slice())
        );
        assert!(back.ha1b.is_none());
        assert!(encode_user(&UserRecord::new("bob", "plaintext-password")).is_err());
    }
}
