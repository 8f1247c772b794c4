//! How records look in Redis, without secrets (digests, PHC strings), times in milliseconds
//! since the Unix epoch: users as JSON; key records in a compact binary form
//! ([`encode_key`]), and the JSON form of earlier versions still read ([`decode_record`]).

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tower_authn_core::varint;
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
    #[cfg(test)]
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
            attributes: p.attributes.as_map().clone(),
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

/// The JSON of `record` (no `revoked`), as earlier versions wrote it.
#[cfg(test)]
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

/// The record stored as `json` by earlier versions, revoked or not.
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

// The binary key record (version 1). What the Lua scripts read comes first, at fixed
// places: byte 0 the version (1; a JSON record starts with `{`), byte 1 revoked (0 or 1:
// revoking is one SETRANGE), then the owner and the encoded id, each as a 16-bit big-endian
// length and its bytes. The rest only Rust reads: created (varint ms), expires (varint, 0:
// never, else ms + 1), a byte of which optional fields follow, those fields, the principal.
// Strings are a varint length and their bytes. No field names: a record of an app key with
// a masked hint is about 60 bytes, where the JSON was about 450.

/// The version byte of a binary key record.
const V1: u8 = 1;

// Optional fields of a record.
const R_SECRET: u8 = 1;
const R_DESCRIPTION: u8 = 1 << 1;
const R_FAMILY: u8 = 1 << 2;
const R_HINT: u8 = 1 << 3;
/// The hint is `abcd****wxyz`: its 8 visible bytes follow, without a length.
const R_MASKED_HINT: u8 = 1 << 4;
const R_UPDATED: u8 = 1 << 5;

// Fields of a principal.
const P_ID_IS_OWNER: u16 = 1;
const P_APP_ID_IS_OWNER: u16 = 1 << 1;
const P_NAME: u16 = 1 << 2;
const P_EMAIL: u16 = 1 << 3;
const P_ROLES: u16 = 1 << 4;
const P_SCOPES: u16 = 1 << 5;
const P_KEY_ID: u16 = 1 << 6;
const P_EXPIRES: u16 = 1 << 7;
const P_ATTRIBUTES: u16 = 1 << 8;
/// Every principal field this version writes.
const P_KNOWN: u16 = (1 << 9) - 1;

/// Schemes written as one byte; 255: the scheme's text follows.
const SCHEMES: [&str; 9] = [
    "",
    "app-api-key",
    "token",
    "refresh",
    "device-token",
    "access-secret",
    "ha1b",
    "basic",
    "jwt",
];
const SCHEME_TEXT: u8 = u8::MAX;

const PRINCIPAL_KINDS: [PrincipalKind; 4] = [
    PrincipalKind::User,
    PrincipalKind::App,
    PrincipalKind::Device,
    PrincipalKind::Server,
];

/// The one-character code of a kind in key names.
pub(crate) fn kind_code(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::SharedToken => "s",
        KeyKind::DeviceToken => "d",
        KeyKind::AppApiKey => "a",
        KeyKind::AccessToken => "x",
        KeyKind::IssuedToken => "i",
        KeyKind::RefreshToken => "r",
        KeyKind::Ha1b => "h",
        // A kind of a later core: its name (longer than every code).
        _ => kind.as_str(),
    }
}

/// An id as key names and records hold it: `1` and the 16 bytes of 32 lowercase hex
/// digits (a generated id), else `0` and the id's bytes.
pub(crate) fn encode_id(id: &str) -> Vec<u8> {
    let b = id.as_bytes();
    if b.len() == 32 {
        let mut out = Vec::with_capacity(17);
        out.push(1);
        for pair in b.chunks_exact(2) {
            match (lower_hex(pair[0]), lower_hex(pair[1])) {
                (Some(h), Some(l)) => out.push((h << 4) | l),
                _ => break,
            }
        }
        if out.len() == 17 {
            return out;
        }
    }
    let mut out = Vec::with_capacity(b.len() + 1);
    out.push(0);
    out.extend_from_slice(b);
    out
}

fn lower_hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn decode_id(bytes: &[u8]) -> Option<String> {
    match bytes.split_first()? {
        (1, hex) if hex.len() == 16 => Some(hex.iter().map(|b| format!("{b:02x}")).collect()),
        (0, text) => std::str::from_utf8(text).ok().map(str::to_owned),
        _ => None,
    }
}

/// Who owns `record` in listings: its principal's app id, or its id.
pub(crate) fn owner_of(record: &KeyRecord) -> &str {
    record
        .principal
        .app_id
        .as_deref()
        .unwrap_or(&record.principal.id)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    varint::put(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_short(out: &mut Vec<u8>, bytes: &[u8], what: &str) -> Result<(), StoreError> {
    let len = u16::try_from(bytes.len()).map_err(|_| {
        StoreError::new(format!("redis: a key's {what} is longer than 65535 bytes"))
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn masked(hint: &str) -> Option<&[u8]> {
    let b = hint.as_bytes();
    (b.len() == 12 && hint.is_ascii() && &b[4..8] == b"****").then_some(b)
}

/// The binary form of `record` (its digest and kind are in the Redis key's name).
///
/// # Errors
///
/// When the owner or the id is longer than 65535 bytes, or the attributes cannot be written
/// as JSON.
pub(crate) fn encode_key(record: &KeyRecord) -> Result<Vec<u8>, StoreError> {
    let owner = owner_of(record);
    let mut out = Vec::with_capacity(96);
    out.push(V1);
    out.push(u8::from(record.revoked));
    put_short(&mut out, owner.as_bytes(), "owner")?;
    put_short(&mut out, &encode_id(&record.id), "id")?;
    varint::put(&mut out, millis(record.created_at));
    varint::put(
        &mut out,
        record.expires_at.map_or(0, |t| millis(t).saturating_add(1)),
    );

    let hint = record.hint.as_deref().map(|h| (h, masked(h)));
    let mut fields = 0;
    for (flag, set) in [
        (R_SECRET, record.secret_digest.is_some()),
        (R_DESCRIPTION, record.description.is_some()),
        (R_FAMILY, record.family.is_some()),
        (R_HINT, matches!(hint, Some((_, None)))),
        (R_MASKED_HINT, matches!(hint, Some((_, Some(_))))),
        (R_UPDATED, record.updated_at.is_some()),
    ] {
        if set {
            fields |= flag;
        }
    }
    out.push(fields);
    if let Some(d) = &record.secret_digest {
        out.extend_from_slice(&d.0);
    }
    for s in [&record.description, &record.family].into_iter().flatten() {
        put_str(&mut out, s);
    }
    match hint {
        Some((h, None)) => put_str(&mut out, h),
        Some((_, Some(b))) => {
            out.extend_from_slice(&b[..4]);
            out.extend_from_slice(&b[8..]);
        }
        None => {}
    }
    if let Some(t) = record.updated_at {
        varint::put(&mut out, millis(t));
    }

    let p = &record.principal;
    let mut flags = 0;
    for (flag, set) in [
        (P_ID_IS_OWNER, p.id == owner),
        (P_APP_ID_IS_OWNER, p.app_id.is_some()),
        (P_NAME, p.name.is_some()),
        (P_EMAIL, p.email.is_some()),
        (P_ROLES, !p.roles.is_empty()),
        (P_SCOPES, !p.scopes.is_empty()),
        (P_KEY_ID, p.key_id.is_some()),
        (P_EXPIRES, p.expires_at.is_some()),
        (P_ATTRIBUTES, !p.attributes.is_empty()),
    ] {
        if set {
            flags |= flag;
        }
    }
    let kind = PRINCIPAL_KINDS
        .iter()
        .position(|k| *k == p.kind)
        .unwrap_or(0);
    out.push(kind as u8);
    out.extend_from_slice(&flags.to_le_bytes());
    match SCHEMES.iter().position(|s| *s == p.scheme) {
        Some(code) => out.push(code as u8),
        None => {
            out.push(SCHEME_TEXT);
            put_str(&mut out, &p.scheme);
        }
    }
    if flags & P_ID_IS_OWNER == 0 {
        put_str(&mut out, &p.id);
    }
    for s in [&p.name, &p.email].into_iter().flatten() {
        put_str(&mut out, s);
    }
    for list in [&p.roles, &p.scopes] {
        if !list.is_empty() {
            varint::put(&mut out, list.len() as u64);
            for s in list {
                put_str(&mut out, s);
            }
        }
    }
    if let Some(k) = &p.key_id {
        put_str(&mut out, k);
    }
    if let Some(t) = p.expires_at {
        varint::put(&mut out, millis(t));
    }
    if !p.attributes.is_empty() {
        let json = serde_json::to_string(&p.attributes)
            .map_err(|_| StoreError::new("redis: attributes not encodable"))?;
        put_str(&mut out, &json);
    }
    Ok(out)
}

/// Reads a binary record; `None` at the first thing out of place (it never panics).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (b, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        varint::take(&mut self.0)
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.varint()?).ok()?;
        std::str::from_utf8(self.bytes(len)?).ok()
    }

    /// A string if `present` (`Some(None)` when not).
    fn text_if(&mut self, present: bool) -> Option<Option<String>> {
        if present {
            self.str().map(|s| Some(s.to_owned()))
        } else {
            Some(None)
        }
    }

    fn short(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_be_bytes([self.byte()?, self.byte()?]);
        self.bytes(usize::from(len))
    }

    fn strings(&mut self) -> Option<Vec<String>> {
        let n = self.varint()?;
        // Each string takes at least a byte: a count beyond what is left is corrupt.
        if n > self.0.len() as u64 {
            return None;
        }
        (0..n).map(|_| self.str().map(str::to_owned)).collect()
    }
}

fn read_key(bytes: &[u8], kind: KeyKind, digest: KeyDigest) -> Option<KeyRecord> {
    let mut r = Reader(bytes);
    if r.byte()? != V1 {
        return None;
    }
    let revoked = r.byte()? == 1;
    let owner = std::str::from_utf8(r.short()?).ok()?;
    let id = decode_id(r.short()?)?;
    let created_at = time(r.varint()?);
    let expires_at = match r.varint()? {
        0 => None,
        n => Some(time(n - 1)),
    };
    let fields = r.byte()?;
    let secret_digest = if fields & R_SECRET != 0 {
        Some(KeyDigest(r.bytes(32)?.try_into().ok()?))
    } else {
        None
    };
    let description = r.text_if(fields & R_DESCRIPTION != 0)?;
    let family = r.text_if(fields & R_FAMILY != 0)?;
    let mut hint = r.text_if(fields & R_HINT != 0)?;
    if fields & R_MASKED_HINT != 0 {
        let b = r.bytes(8)?;
        if !b.is_ascii() {
            return None;
        }
        let mut h = String::with_capacity(12);
        h.extend(b[..4].iter().map(|&c| char::from(c)));
        h.push_str("****");
        h.extend(b[4..].iter().map(|&c| char::from(c)));
        hint = Some(h);
    }
    let updated_at = if fields & R_UPDATED != 0 {
        Some(time(r.varint()?))
    } else {
        None
    };

    let kind_of = *PRINCIPAL_KINDS.get(usize::from(r.byte()?))?;
    let flags = u16::from_le_bytes([r.byte()?, r.byte()?]);
    if fields & !(R_UPDATED * 2 - 1) != 0 || flags & !P_KNOWN != 0 {
        return None; // a field this version does not know
    }
    let scheme = match r.byte()? {
        SCHEME_TEXT => Cow::Owned(r.str()?.to_owned()),
        code => Cow::Borrowed(*SCHEMES.get(usize::from(code))?),
    };
    let pid = if flags & P_ID_IS_OWNER != 0 {
        owner.to_owned()
    } else {
        r.str()?.to_owned()
    };
    let mut p = Principal::new(kind_of, pid).with_scheme(scheme);
    if flags & P_APP_ID_IS_OWNER != 0 {
        p.app_id = Some(owner.to_owned());
    }
    if flags & P_NAME != 0 {
        p.name = Some(r.str()?.to_owned());
    }
    if flags & P_EMAIL != 0 {
        p.email = Some(r.str()?.to_owned());
    }
    if flags & P_ROLES != 0 {
        p.roles = r.strings()?;
    }
    if flags & P_SCOPES != 0 {
        p.scopes = r.strings()?;
    }
    if flags & P_KEY_ID != 0 {
        p.key_id = Some(r.str()?.to_owned());
    }
    if flags & P_EXPIRES != 0 {
        p.expires_at = Some(time(r.varint()?));
    }
    if flags & P_ATTRIBUTES != 0 {
        p.attributes = serde_json::from_str(r.str()?).ok()?;
    }
    if !r.0.is_empty() {
        return None;
    }

    let mut record = KeyRecord::new(id, kind, digest, p, created_at).expires_at(expires_at);
    record.revoked = revoked;
    record.secret_digest = secret_digest;
    record.description = description;
    record.family = family;
    record.hint = hint;
    record.updated_at = updated_at;
    Some(record)
}

/// A key record as Redis holds it: binary (`digest`: the one in the record's key name,
/// `legacy_revoked` unused), or the JSON of earlier versions (which holds its digest;
/// `legacy_revoked`: the hash field beside it).
///
/// # Errors
///
/// When the record cannot be read.
pub(crate) fn decode_key(
    blob: &[u8],
    kind: KeyKind,
    digest: Option<KeyDigest>,
    legacy_revoked: bool,
) -> Result<KeyRecord, StoreError> {
    match blob.first() {
        Some(&V1) => digest
            .and_then(|d| read_key(blob, kind, d))
            .ok_or_else(|| StoreError::new("redis: a stored key record is unreadable")),
        _ => {
            let json = std::str::from_utf8(blob)
                .map_err(|_| StoreError::new("redis: a stored key record is unreadable"))?;
            decode_record(json, legacy_revoked)
        }
    }
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

    #[test]
    fn binary_records_keep_every_field_and_no_field_names() {
        let hasher = KeyHasher::Sha256;
        let p = Principal::user("alice")
            .with_scheme("custom-scheme")
            .with_name("Alice")
            .with_email("alice@example.com")
            .with_roles(["admin", "user"])
            .with_scopes(["read"])
            .with_key_id("kid")
            .with_expires_at(time(1_900_000_000_000))
            .with_attribute("n", 12_345_678_901_234_567_u64);
        let mut r = KeyRecord::new(
            "refresh:family:f1",
            KeyKind::RefreshToken,
            hasher.digest("the-key"),
            p,
            time(1_700_000_000_123),
        )
        .expires_at(Some(time(1_800_000_000_000)))
        .with_secret_digest(hasher.digest("the-secret"))
        .with_family("fam")
        .with_hint("********")
        .with_description("d");
        r.updated_at = Some(time(1_700_000_001_000));
        r.revoked = true;
        let bin = encode_key(&r).unwrap();
        let back = decode_key(&bin, r.kind, Some(r.digest), false).unwrap();
        assert_eq!(back.id, r.id);
        assert!(back.revoked);
        assert!(back.digest.ct_eq(&r.digest));
        assert!(back.secret_digest.unwrap().ct_eq(&r.secret_digest.unwrap()));
        assert_eq!(back.principal, r.principal);
        assert_eq!(
            (back.created_at, back.expires_at, back.updated_at),
            (r.created_at, r.expires_at, r.updated_at)
        );
        assert_eq!(
            (&back.family, &back.hint, &back.description),
            (&r.family, &r.hint, &r.description)
        );

        // An app key as the key API writes it: small, and its id and hint compact.
        let app = Principal::app("app-0001")
            .with_app_id("app-0001")
            .with_scheme("app-api-key");
        let key = KeyRecord::new(
            "0123456789abcdef0123456789abcdef",
            KeyKind::AppApiKey,
            hasher.digest("k"),
            app,
            time(1_700_000_000_123),
        )
        .with_hint("abcd****wxyz");
        let bin = encode_key(&key).unwrap();
        assert!(bin.len() <= 52, "{} bytes", bin.len());
        assert!(!String::from_utf8_lossy(&bin).contains("app_id"));
        let back = decode_key(&bin, key.kind, Some(key.digest), false).unwrap();
        assert_eq!(
            (back.id.as_str(), back.hint.as_deref()),
            (key.id.as_str(), Some("abcd****wxyz"))
        );
        assert_eq!(back.principal, key.principal);
        assert_eq!(back.created_at, key.created_at);

        // Every prefix of a record, and junk, is refused, never a panic.
        let full = encode_key(&r).unwrap();
        for n in 0..full.len() {
            assert!(decode_key(&full[..n], r.kind, Some(r.digest), false).is_err());
        }
        for junk in [
            &[1u8, 0, 0xff, 0xff][..],
            &[1, 1, 0, 0, 0, 1, 2],
            &[0xff; 40],
        ] {
            assert!(decode_key(junk, r.kind, Some(r.digest), false).is_err());
        }
        // The JSON of earlier versions is still read.
        let json = encode_record(&r).unwrap();
        let old = decode_key(json.as_bytes(), r.kind, None, true).unwrap();
        assert!(old.revoked && old.digest.ct_eq(&r.digest));
        assert_eq!(old.principal, r.principal);
    }

    #[test]
    fn ids_are_encoded_compactly_and_unambiguously() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(encode_id(hex).len(), 17);
        assert_eq!(decode_id(&encode_id(hex)).as_deref(), Some(hex));
        for id in [
            "k1",
            "0123456789ABCDEF0123456789abcdef",
            "\u{1}x",
            "family:abc",
        ] {
            assert_eq!(encode_id(id)[0], 0);
            assert_eq!(decode_id(&encode_id(id)).as_deref(), Some(id));
        }
        assert!(decode_id(&[1, 2, 3]).is_none() && decode_id(&[]).is_none());
    }
}
