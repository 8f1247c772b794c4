//! Store traits: users and keys (shared tokens, device tokens, app API keys, access pairs,
//! issued tokens, refresh tokens). The in-memory implementations are in
//! [`memory`](crate::memory); `tower-authn-redis` shares them across instances.
//!
//! Secrets at rest: passwords as PHC strings, keys and tokens as a [`KeyDigest`] (plain or
//! keyed SHA-256). A store never sees a plaintext key.

use std::fmt;
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::StoreError;
use crate::principal::Principal;

/// A user as a store keeps them.
#[derive(Clone)]
#[non_exhaustive]
pub struct UserRecord {
    /// The login (the principal's id).
    pub login: String,
    /// The password as a PHC string (argon2id by default).
    pub password_hash: SecretString,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Other attributes (SIP domain, ...).
    pub attributes: Map<String, Value>,
    /// The user's HA1B (`md5(login@domain:domain:password)`), a password equivalent.
    pub ha1b: Option<SecretString>,
    /// A disabled user never authenticates, with any credential.
    pub disabled: bool,
    /// The user's revocation epoch, in milliseconds since the Unix epoch: a credential
    /// issued before it no longer works ([`user_state`](crate::user_state)). Every change
    /// made through [`UserStore::put_user`], [`UserStore::set_disabled`] or
    /// [`UserStore::delete_user`] raises it to at least the time of the change; `0` for a
    /// record that was never changed that way.
    pub epoch: u64,
}

impl UserRecord {
    /// A user with `login` and a PHC `password_hash`.
    pub fn new(login: impl Into<String>, password_hash: impl Into<String>) -> Self {
        Self {
            login: login.into(),
            password_hash: SecretString::from(password_hash.into()),
            name: None,
            email: None,
            roles: Vec::new(),
            attributes: Map::new(),
            ha1b: None,
            disabled: false,
            epoch: 0,
        }
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the roles.
    pub fn with_roles<I: IntoIterator<Item = R>, R: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the HA1B digest (hex).
    pub fn with_ha1b(mut self, ha1b: impl Into<String>) -> Self {
        self.ha1b = Some(SecretString::from(ha1b.into()));
        self
    }

    /// The principal this user authenticates as (scheme left for the verifier to set).
    pub fn principal(&self) -> Principal {
        let mut p = Principal::user(self.login.clone())
            .with_roles(self.roles.iter().cloned())
            .with_attributes(self.attributes.clone());
        p.name.clone_from(&self.name);
        p.email.clone_from(&self.email);
        p
    }
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("login", &self.login)
            .field("password_hash", &"[REDACTED]")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// Where users live.
///
/// The writing methods (`put_user`, `set_disabled`, `delete_user`) raise the user's
/// [`epoch`](UserRecord::epoch) and announce the change to the verification caches, so that
/// every credential issued for the user before the change stops working (see
/// [`user_state`](crate::user_state)). Their default answers that the store is read-only.
pub trait UserStore: Send + Sync + 'static {
    /// The user with `login`, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer (the request fails closed with 503).
    fn find_user<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>>;

    /// Inserts or replaces `user`; returns the record as stored, with its raised epoch.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails or cannot be written.
    fn put_user(&self, user: UserRecord) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        let _ = user;
        Box::pin(async { Err(read_only()) })
    }

    /// Disables (`true`) or enables (`false`) the user `login`; `false` when there is no such
    /// user. Either way the epoch rises: credentials issued before stay dead when the user
    /// is enabled again.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails or cannot be written.
    fn set_disabled<'a>(
        &'a self,
        login: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let _ = (login, disabled);
        Box::pin(async { Err(read_only()) })
    }

    /// Disables the user `login` ([`set_disabled`](Self::set_disabled)`(login, true)`).
    ///
    /// # Errors
    ///
    /// As [`set_disabled`](Self::set_disabled).
    fn disable_user<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.set_disabled(login, true)
    }

    /// Deletes the user `login`; `false` when there was none.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails or cannot be written.
    fn delete_user<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let _ = login;
        Box::pin(async { Err(read_only()) })
    }
}

fn read_only() -> StoreError {
    StoreError::new("this user store cannot change users")
}

impl<U: UserStore + ?Sized> UserStore for std::sync::Arc<U> {
    fn find_user<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        (**self).find_user(login)
    }

    fn put_user(&self, user: UserRecord) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        (**self).put_user(user)
    }

    fn set_disabled<'a>(
        &'a self,
        login: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).set_disabled(login, disabled)
    }

    fn delete_user<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).delete_user(login)
    }
}

/// The kinds of key a [`KeyStore`] keeps; each kind is its own namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyKind {
    /// A shared server token.
    SharedToken,
    /// A device token (`X-Device-AuthToken`).
    DeviceToken,
    /// An app API key (Volt MX: `X-VoltMX-App-API-Key`).
    AppApiKey,
    /// The token half of an access pair (`AccessToken` + `AccessSecret`).
    AccessToken,
    /// An opaque token issued by a login.
    IssuedToken,
    /// A refresh token.
    RefreshToken,
    /// A user's HA1B digest (`md5(login@domain:domain:password)`), a password equivalent,
    /// kept as a digest of its lowercase hex.
    Ha1b,
}

impl KeyKind {
    /// A short stable name (`shared`, `device`, `app-key`, `access`, `issued`, `refresh`, `ha1b`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SharedToken => "shared",
            Self::DeviceToken => "device",
            Self::AppApiKey => "app-key",
            Self::AccessToken => "access",
            Self::IssuedToken => "issued",
            Self::RefreshToken => "refresh",
            Self::Ha1b => "ha1b",
        }
    }
}

/// The SHA-256 digest (plain or keyed) of a key: what a store keeps and looks up by.
///
/// It has no `==`: comparing digests goes through [`ct_eq`](Self::ct_eq), in constant time,
/// so no caller can leak through timing how much of a digest matched.
///
/// ```compile_fail
/// use tower_authn_core::KeyHasher;
/// let h = KeyHasher::Sha256;
/// let _ = h.digest("a") == h.digest("b"); // KeyDigest is not PartialEq
/// ```
#[derive(Clone, Copy)]
pub struct KeyDigest(pub [u8; 32]);

impl KeyDigest {
    /// Constant-time equality.
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        // Four 64-bit words XORed and ORed together, then one constant-time test of the
        // result: no branch on the data, and a tenth of subtle's byte-by-byte slice
        // comparison (which fences every byte), on every key lookup.
        let word = |d: &[u8; 32], i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&d[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(w)
        };
        let diff = (0..4).fold(0u64, |acc, i| acc | (word(&self.0, i) ^ word(&other.0, i)));
        diff.ct_eq(&0).into()
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not the secret, but printing it whole helps no one.
        write!(f, "KeyDigest({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// How keys are digested before storage: HMAC-SHA256 with a server-side pepper (so a
/// stolen store is useless without the pepper: an HA1B, a password equivalent, cannot be
/// guessed offline from its digest), or plain SHA-256 when asked for explicitly.
///
/// The default is [`KeyHasher::random`]: a pepper made for this process, right for stores
/// that live and die with it (memory). A store shared between instances or restarts needs
/// one pepper everywhere ([`KeyHasher::hmac`]).
#[derive(Clone)]
pub enum KeyHasher {
    /// SHA-256 of the key's bytes, unkeyed: only for digests that must be reproducible
    /// without a secret. Never for password equivalents (HA1B).
    Sha256,
    /// HMAC-SHA256 keyed with a server secret.
    Hmac(std::sync::Arc<Pepper>),
}

/// A pepper, keyed once: each digest clones the prepared HMAC state instead of hashing the
/// key into it again (two SHA-256 blocks saved on every lookup). Never printed.
pub struct Pepper {
    prepared: Hmac<Sha256>,
    len: usize,
}

impl KeyHasher {
    /// A keyed hasher with `pepper`.
    pub fn hmac(pepper: impl Into<Vec<u8>>) -> Self {
        let pepper = SecretBox::new(pepper.into().into_boxed_slice());
        // HMAC accepts keys of any length.
        let prepared = <Hmac<Sha256> as Mac>::new_from_slice(pepper.expose_secret())
            .unwrap_or_else(|_| {
                <Hmac<Sha256> as Mac>::new_from_slice(&[0]).expect("HMAC takes any key")
            });
        Self::Hmac(std::sync::Arc::new(Pepper {
            prepared,
            len: pepper.expose_secret().len(),
        }))
    }

    /// A keyed hasher with a pepper of 32 random bytes, made for this process.
    pub fn random() -> Self {
        use rand::RngCore as _;
        let mut pepper = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut pepper);
        Self::hmac(pepper)
    }

    /// Whether digests are keyed with a pepper.
    pub fn is_keyed(&self) -> bool {
        matches!(self, Self::Hmac(_))
    }

    /// The pepper's length in bytes (0 when unkeyed), for configurations that set a floor.
    pub fn pepper_len(&self) -> usize {
        match self {
            Self::Sha256 => 0,
            Self::Hmac(pepper) => pepper.len,
        }
    }

    /// The digest of `key`.
    pub fn digest(&self, key: &str) -> KeyDigest {
        match self {
            Self::Sha256 => KeyDigest(Sha256::digest(key.as_bytes()).into()),
            Self::Hmac(pepper) => {
                let mut mac = pepper.prepared.clone();
                mac.update(key.as_bytes());
                KeyDigest(mac.finalize().into_bytes().into())
            }
        }
    }
}

impl Default for KeyHasher {
    /// [`KeyHasher::random`].
    fn default() -> Self {
        Self::random()
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper([REDACTED])")
    }
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha256 => f.write_str("KeyHasher::Sha256"),
            Self::Hmac(_) => f.write_str("KeyHasher::Hmac([REDACTED])"),
        }
    }
}

/// A key as a store keeps it: its digest, never the key.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct KeyRecord {
    /// A public identifier of the key (shown in listings, used to revoke).
    pub id: String,
    /// Its kind.
    pub kind: KeyKind,
    /// The digest of the key.
    pub digest: KeyDigest,
    /// For access pairs: the digest of the secret half.
    pub secret_digest: Option<KeyDigest>,
    /// Who the key authenticates as.
    pub principal: Principal,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it stops working (`None`: never).
    pub expires_at: Option<SystemTime>,
    /// Revoked keys never authenticate.
    pub revoked: bool,
    /// A free-text description.
    pub description: Option<String>,
    /// A family id (refresh-token rotation: reuse of an old token revokes the family).
    pub family: Option<String>,
    /// A masked form of the key for listings (`abcd****wxyz`), never enough to use it.
    pub hint: Option<String>,
    /// When the record was last modified (description, expiry), if ever.
    pub updated_at: Option<SystemTime>,
}

impl KeyRecord {
    /// A live record.
    pub fn new(
        id: impl Into<String>,
        kind: KeyKind,
        digest: KeyDigest,
        principal: Principal,
        created_at: SystemTime,
    ) -> Self {
        Self {
            id: id.into(),
            kind,
            digest,
            secret_digest: None,
            principal,
            created_at,
            expires_at: None,
            revoked: false,
            description: None,
            family: None,
            hint: None,
            updated_at: None,
        }
    }

    /// Sets the expiry.
    pub fn expires_at(mut self, at: Option<SystemTime>) -> Self {
        self.expires_at = at;
        self
    }

    /// Sets the secret half's digest.
    pub fn with_secret_digest(mut self, d: KeyDigest) -> Self {
        self.secret_digest = Some(d);
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }

    /// Sets the family.
    pub fn with_family(mut self, f: impl Into<String>) -> Self {
        self.family = Some(f.into());
        self
    }

    /// Sets the masked form shown in listings.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Where keys live. Every method is async and may fail with [`StoreError`] (→ 503).
pub trait KeyStore: Send + Sync + 'static {
    /// How this store digests keys.
    fn key_hasher(&self) -> &KeyHasher;

    /// The record whose digest is `digest`.
    fn find_by_digest(
        &self,
        kind: KeyKind,
        digest: KeyDigest,
    ) -> BoxFuture<'_, Result<Option<KeyRecord>, StoreError>>;

    /// The record whose digest is `digest`, when this store can say at once, without
    /// waiting on anything (a table in this process's memory); `None` when it must be asked
    /// with [`find_by_digest`](Self::find_by_digest), which is the default. The key
    /// verifiers ask this first, so a memory store answers a request with no boxed future.
    ///
    /// The record may leave out what verification does not read: `description`, `family`,
    /// `hint` and `updated_at`.
    fn find_for_verification_now(
        &self,
        kind: KeyKind,
        digest: &KeyDigest,
    ) -> Option<Result<Option<KeyRecord>, StoreError>> {
        let _ = (kind, digest);
        None
    }

    /// The record with public id `id`.
    fn find_by_id<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>>;

    /// Inserts or replaces (by id) a record.
    fn put(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Marks the record revoked; `false` if there is none.
    fn revoke<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Deletes the record; `false` if there is none.
    fn delete<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Every record of `kind` whose principal's `app_id` (or id, when it has no app id)
    /// is `owner`, or all of them.
    fn list<'a>(
        &'a self,
        kind: KeyKind,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>>;

    /// Revokes the record `id` and returns it as it was before, only if it was not revoked
    /// yet: of two calls racing for one id, exactly one gets `Some`. Single-use credentials
    /// (rotated refresh tokens) rely on it.
    ///
    /// The default is `find_by_id` then `revoke`, atomic only when the store serializes
    /// them; a store shared between instances must override it with one atomic operation.
    fn consume<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        Box::pin(async move {
            match self.find_by_id(kind, id).await? {
                Some(record) if !record.revoked => {
                    Ok(self.revoke(kind, id).await?.then_some(record))
                }
                _ => Ok(None),
            }
        })
    }
}

/// Generates a random key: 32 bytes from the OS CSPRNG, base64url without padding
/// (43 characters, 256 bits).
pub fn generate_key() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_differing_in_any_bit_are_unequal() {
        let d = KeyHasher::Sha256.digest("abc");
        assert!(d.ct_eq(&d));
        for byte in 0..32 {
            for bit in 0..8 {
                let mut other = d;
                other.0[byte] ^= 1 << bit;
                assert!(
                    !d.ct_eq(&other) && !other.ct_eq(&d),
                    "byte {byte} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn digests() {
        let plain = KeyHasher::Sha256.digest("abc");
        assert_eq!(
            plain.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let keyed = KeyHasher::hmac(b"pepper".to_vec()).digest("abc");
        assert!(!keyed.ct_eq(&plain));
        assert!(keyed.ct_eq(&KeyHasher::hmac(b"pepper".to_vec()).digest("abc")));
        // The default is keyed, with a pepper of its own.
        let (a, b) = (KeyHasher::default(), KeyHasher::default());
        assert!(a.is_keyed() && !KeyHasher::Sha256.is_keyed());
        assert!(!a.digest("abc").ct_eq(&b.digest("abc")));
        assert!(!a.digest("abc").ct_eq(&plain));
        assert!(!format!("{:?}", KeyHasher::hmac(b"pepper".to_vec())).contains("pepper"));
    }

    #[test]
    fn generated_keys_are_long_and_distinct() {
        let (a, b) = (generate_key(), generate_key());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
