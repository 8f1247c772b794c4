//! Ready-made verifiers over the store traits, plus the shared server token.

use std::fmt;
use std::future::Ready;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::future::{BoxFuture, FutureExt};
use secrecy::ExposeSecret;

use crate::clock::{SharedClock, SystemClock};
use crate::credential::{AccessPair, TokenCredential};
use crate::error::AuthError;
use crate::principal::Principal;
use crate::store::{KeyDigest, KeyHasher, KeyKind, KeyRecord, KeyStore, generate_key};
use crate::verifier::Verifier;
#[cfg(feature = "password")]
use crate::{credential::BasicCredentials, store::UserStore};

/// Checks a live record: not revoked, not expired.
fn check_live(record: &KeyRecord, now: SystemTime) -> Result<(), AuthError> {
    if record.revoked {
        return Err(AuthError::revoked(format!(
            "{} key {} revoked",
            record.kind.as_str(),
            record.id
        )));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Err(AuthError::expired(format!(
            "{} key {} expired",
            record.kind.as_str(),
            record.id
        )));
    }
    Ok(())
}

/// The principal of a key record, saying when the record was issued (so that a user's
/// later change can end it: [`user_state`](crate::user_state)).
fn issued_principal(mut principal: Principal, created_at: SystemTime) -> Principal {
    principal.issued_at = Some(created_at);
    principal
}

fn scheme_of(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::SharedToken | KeyKind::IssuedToken | KeyKind::RefreshToken => "token",
        KeyKind::DeviceToken => "device-token",
        KeyKind::AppApiKey => "app-api-key",
        KeyKind::AccessToken => "access-secret",
        KeyKind::Ha1b => "ha1b",
    }
}

/// Verifies a token of one [`KeyKind`] against a [`KeyStore`]: looked up by digest,
/// compared in constant time, revoked and expired keys refused, store failure → 503.
#[derive(Clone)]
pub struct KeyVerifier<K> {
    store: K,
    kind: KeyKind,
    clock: SharedClock,
}

impl<K> KeyVerifier<K> {
    /// Verifies keys of `kind` in `store`.
    pub fn new(store: K, kind: KeyKind) -> Self {
        Self {
            store,
            kind,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` for expiry.
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }
}

impl<K> fmt::Debug for KeyVerifier<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVerifier")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What a key verifier's future is: the answer at once when the store gave it at once
/// ([`KeyStore::find_for_verification_now`]), else the boxed lookup.
pub type KeyVerifyFuture = futures_util::future::Either<
    Ready<Result<Principal, AuthError>>,
    BoxFuture<'static, Result<Principal, AuthError>>,
>;

/// Answers from what the store found for the digest `digest` of kind `kind`.
fn key_principal(
    found: Result<Option<KeyRecord>, crate::error::StoreError>,
    kind: KeyKind,
    digest: &KeyDigest,
    now: SystemTime,
) -> Result<Principal, AuthError> {
    let record = found?
        .filter(|r| r.digest.ct_eq(digest))
        .ok_or_else(|| AuthError::invalid(format!("unknown {}", kind.as_str())))?;
    check_live(&record, now)?;
    Ok(record_principal(record, scheme_of(kind)))
}

/// The principal a live record proves: its key id, when it was issued, its scheme (when the
/// stored principal names none) and its expiry (when the stored principal has none), so
/// that a cache never answers for it past the record's end.
fn record_principal(record: KeyRecord, scheme: &'static str) -> Principal {
    let mut p = issued_principal(record.principal, record.created_at);
    p.key_id = Some(record.id);
    if p.scheme.is_empty() {
        p.scheme = scheme.into();
    }
    if p.expires_at.is_none() {
        p.expires_at = record.expires_at;
    }
    p
}

impl<K: KeyStore + Clone> Verifier<TokenCredential> for KeyVerifier<K> {
    type Future = KeyVerifyFuture;

    fn verify(&self, credential: TokenCredential) -> Self::Future {
        let digest = self.store.key_hasher().digest(credential.expose());
        let kind = self.kind;
        if let Some(found) = self.store.find_for_verification_now(kind, &digest) {
            return std::future::ready(key_principal(found, kind, &digest, self.clock.now()))
                .left_future();
        }
        let (store, clock) = (self.store.clone(), Arc::clone(&self.clock));
        async move {
            let found = store.find_by_digest(kind, digest).await;
            key_principal(found, kind, &digest, clock.now())
        }
        .boxed()
        .right_future()
    }
}

/// Verifies an `AccessToken` + `AccessSecret` pair: the token is looked up by digest, the
/// secret's digest compared in constant time.
#[derive(Clone)]
pub struct AccessPairVerifier<K> {
    keys: KeyVerifier<K>,
}

impl<K> AccessPairVerifier<K> {
    /// Verifies pairs in `store`.
    pub fn new(store: K) -> Self {
        Self {
            keys: KeyVerifier::new(store, KeyKind::AccessToken),
        }
    }

    /// Uses `clock` for expiry.
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.keys = self.keys.with_clock(clock);
        self
    }
}

impl<K> fmt::Debug for AccessPairVerifier<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessPairVerifier").finish_non_exhaustive()
    }
}

/// Answers from what the store found for the access token's digest `token`, the secret's
/// digest being `secret`.
fn pair_principal(
    found: Result<Option<KeyRecord>, crate::error::StoreError>,
    token: &KeyDigest,
    secret: &KeyDigest,
    now: SystemTime,
) -> Result<Principal, AuthError> {
    let record = found?;
    // Both halves are checked before answering, so a right token with a wrong secret and
    // an unknown token take the same path.
    let ok = record.as_ref().is_some_and(|r| {
        let secret_ok = r.secret_digest.is_some_and(|d| d.ct_eq(secret));
        r.digest.ct_eq(token) & secret_ok
    });
    let record = record
        .filter(|_| ok)
        .ok_or_else(|| AuthError::invalid("unknown access pair"))?;
    check_live(&record, now)?;
    Ok(record_principal(record, scheme_of(KeyKind::AccessToken)))
}

impl<K: KeyStore + Clone> Verifier<AccessPair> for AccessPairVerifier<K> {
    type Future = KeyVerifyFuture;

    fn verify(&self, pair: AccessPair) -> Self::Future {
        let store = &self.keys.store;
        let hasher = store.key_hasher();
        let (token, secret) = (
            hasher.digest(pair.token.expose_secret()),
            hasher.digest(pair.secret.expose_secret()),
        );
        if let Some(found) = store.find_for_verification_now(KeyKind::AccessToken, &token) {
            let now = self.keys.clock.now();
            return std::future::ready(pair_principal(found, &token, &secret, now)).left_future();
        }
        let (store, clock) = (store.clone(), Arc::clone(&self.keys.clock));
        async move {
            let found = store.find_by_digest(KeyKind::AccessToken, token).await;
            pair_principal(found, &token, &secret, clock.now())
        }
        .boxed()
        .right_future()
    }
}

/// Convenience methods on every cloneable [`KeyStore`].
pub trait KeyStoreExt: KeyStore + Clone + Sized {
    /// A verifier for keys of `kind`.
    fn verifier(&self, kind: KeyKind) -> KeyVerifier<Self> {
        KeyVerifier::new(self.clone(), kind)
    }

    /// A verifier for access pairs.
    fn access_pair_verifier(&self) -> AccessPairVerifier<Self> {
        AccessPairVerifier::new(self.clone())
    }

    /// Issues a new random key of `kind` for `principal`; returns the record and the
    /// plaintext, which is shown this once and never stored. The issue is an audit event
    /// ([`AuditAction::Issued`](crate::audit::AuditAction::Issued) by the system) on the
    /// default [`TracingAudit`](crate::audit::TracingAudit) sink; name the sink and the actor
    /// with [`issue_key_audited`](Self::issue_key_audited).
    fn issue_key(
        &self,
        kind: KeyKind,
        principal: Principal,
        expires_at: Option<SystemTime>,
    ) -> BoxFuture<'_, Result<(KeyRecord, String), crate::StoreError>> {
        self.issue_key_audited(
            kind,
            principal,
            expires_at,
            &crate::audit::TracingAudit,
            crate::audit::Actor::System,
        )
    }

    /// [`issue_key`](Self::issue_key), telling `audit` of the new key (one
    /// [`AuditAction::Issued`](crate::audit::AuditAction::Issued) event by `actor`) once it
    /// is stored; nothing is told when the store fails.
    fn issue_key_audited<'a>(
        &'a self,
        kind: KeyKind,
        principal: Principal,
        expires_at: Option<SystemTime>,
        audit: &'a dyn crate::audit::AuditSink,
        actor: crate::audit::Actor,
    ) -> BoxFuture<'a, Result<(KeyRecord, String), crate::StoreError>> {
        let plaintext = generate_key();
        let id = new_key_id();
        let stored = self.insert_plaintext(kind, id, &plaintext, principal, expires_at);
        async move {
            let record = stored.await?;
            audit.record(
                crate::audit::AuditEvent::new(
                    crate::audit::AuditAction::Issued,
                    actor,
                    record.created_at,
                )
                .record(&record),
            );
            Ok((record, plaintext))
        }
        .boxed()
    }

    /// Stores a key whose plaintext is known (seeded demo keys, the shared token, keys
    /// migrated from elsewhere), as a digest.
    fn insert_plaintext(
        &self,
        kind: KeyKind,
        id: String,
        plaintext: &str,
        principal: Principal,
        expires_at: Option<SystemTime>,
    ) -> BoxFuture<'_, Result<KeyRecord, crate::StoreError>> {
        let digest = self.key_hasher().digest(plaintext);
        let record =
            KeyRecord::new(id, kind, digest, principal, SystemTime::now()).expires_at(expires_at);
        async move {
            self.put(record.clone()).await?;
            Ok(record)
        }
        .boxed()
    }

    /// Issues an access pair for `principal`: returns the record, the access token and the
    /// access secret (both shown this once).
    fn issue_access_pair(
        &self,
        principal: Principal,
        expires_at: Option<SystemTime>,
    ) -> BoxFuture<'_, Result<(KeyRecord, String, String), crate::StoreError>> {
        let (token, secret) = (generate_key(), generate_key());
        let hasher = self.key_hasher();
        let record = KeyRecord::new(
            new_key_id(),
            KeyKind::AccessToken,
            hasher.digest(&token),
            principal,
            SystemTime::now(),
        )
        .with_secret_digest(hasher.digest(&secret))
        .expires_at(expires_at);
        async move {
            self.put(record.clone()).await?;
            Ok((record, token, secret))
        }
        .boxed()
    }
}

impl<K: KeyStore + Clone> KeyStoreExt for K {}

/// A fresh public key id (not secret): 16 random bytes as hex.
pub fn new_key_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies Basic credentials against a [`UserStore`] of PHC password hashes.
///
/// Every check runs on a [`HashPool`](tower_authn_password::HashPool) (the process-wide
/// [`HashPool::global`](tower_authn_password::HashPool::global) unless
/// [`with_pool`](Self::with_pool) gives one), never on the async executor, whatever the
/// features: at most the pool's workers hash at once, each in its one reused memory block.
/// When the pool's queue is full the answer is `503 unavailable` with `Retry-After`
/// ([`AuthError::busy`]); the check is never skipped.
///
/// An unknown user costs the same as a wrong password (a dummy verification runs on the
/// same pool), and both answer `invalid_credentials`. A stored hash the pool cannot use is
/// `unavailable` (a fault of the store, not of the client).
#[cfg(feature = "password")]
#[derive(Clone)]
pub struct PasswordVerifier<U> {
    users: U,
    /// `None`: the process-wide pool, started only when a check first needs it.
    pool: Option<tower_authn_password::HashPool>,
    retry_after: std::time::Duration,
}

#[cfg(feature = "password")]
impl<U> PasswordVerifier<U> {
    /// Verifies against `users` on the process-wide hashing pool.
    pub fn new(users: U) -> Self {
        Self {
            users,
            pool: None,
            retry_after: std::time::Duration::from_secs(1),
        }
    }

    /// Hashes on `pool` instead of the process-wide one (its size and queue bound this
    /// verifier, and every other that shares it).
    pub fn with_pool(mut self, pool: tower_authn_password::HashPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The `Retry-After` sent when the pool is busy (default 1 s; whole seconds, at least 1).
    pub fn retry_after(mut self, retry_after: std::time::Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The pool this verifier hashes on (for its [`stats`](tower_authn_password::HashPool::stats)).
    pub fn pool(&self) -> &tower_authn_password::HashPool {
        match &self.pool {
            Some(pool) => pool,
            None => tower_authn_password::HashPool::global(),
        }
    }
}

#[cfg(feature = "password")]
impl<U> fmt::Debug for PasswordVerifier<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordVerifier")
            .field("pool", &self.pool)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "password")]
impl<U: UserStore + Clone> Verifier<BasicCredentials> for PasswordVerifier<U> {
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;

    fn verify(&self, credentials: BasicCredentials) -> Self::Future {
        use tower_authn_password::VerifyError;

        let users = self.users.clone();
        let pool = self.pool().clone();
        let retry_after = self.retry_after;
        async move {
            let BasicCredentials { username, password } = credentials;
            let user = users.find_user(&username).await?;
            // The stored hash and the password stay secrets until a worker uses them.
            let matched = match &user {
                Some(u) => pool.verify(u.password_hash.clone(), password).await,
                None => pool.verify_dummy(password).await,
            };
            let matched = match matched {
                Ok(matched) => matched,
                Err(VerifyError::Busy) => {
                    return Err(AuthError::busy(
                        "password hashing queue is full",
                        retry_after,
                    ));
                }
                Err(VerifyError::Unusable(e)) => {
                    return Err(AuthError::unavailable(format!(
                        "stored hash of {username} unusable: {e}"
                    )));
                }
                Err(e) => {
                    return Err(AuthError::unavailable(format!(
                        "password check of {username} failed: {e}"
                    )));
                }
            };
            match user {
                Some(u) if matched && !u.disabled => Ok(u.principal().with_scheme("basic")),
                Some(u) if u.disabled => {
                    Err(AuthError::invalid(format!("user {username} disabled")))
                }
                Some(_) => Err(AuthError::invalid(format!("wrong password for {username}"))),
                None => Err(AuthError::invalid(format!("unknown user {username}"))),
            }
        }
        .boxed()
    }
}

/// Convenience methods on every cloneable [`UserStore`].
#[cfg(feature = "password")]
pub trait UserStoreExt: UserStore + Clone + Sized {
    /// A Basic-credentials verifier over this store.
    fn password_verifier(&self) -> PasswordVerifier<Self> {
        PasswordVerifier::new(self.clone())
    }
}

#[cfg(feature = "password")]
impl<U: UserStore + Clone> UserStoreExt for U {}

/// The shared server token (XiVO's `PLAY_AUTH_TOKEN` convention): one secret that
/// authenticates a server. Unset or empty rejects everything; it is never "open".
///
/// ```
/// use tower_authn_core::SharedTokenVerifier;
///
/// let from_env = SharedTokenVerifier::from_env("PLAY_AUTH_TOKEN_THAT_IS_UNSET");
/// assert!(!from_env.is_configured());
/// assert!(!format!("{:?}", SharedTokenVerifier::new("s3cret")).contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct SharedTokenVerifier {
    digest: Option<KeyDigest>,
    principal: Arc<Principal>,
}

impl SharedTokenVerifier {
    /// Accepts exactly `token` (an empty token accepts nothing).
    pub fn new(token: impl AsRef<str>) -> Self {
        let token = token.as_ref();
        let digest = (!token.is_empty()).then(|| KeyHasher::Sha256.digest(token));
        Self {
            digest,
            principal: Arc::new(Principal::server("server").with_scheme("token")),
        }
    }

    /// Reads the token from environment variable `var`; unset or empty accepts nothing.
    pub fn from_env(var: &str) -> Self {
        Self::new(std::env::var(var).unwrap_or_default())
    }

    /// Sets the principal the token authenticates as (default: server `server`).
    pub fn principal(mut self, principal: Principal) -> Self {
        self.principal = Arc::new(principal);
        self
    }

    /// Whether a non-empty token is configured.
    pub fn is_configured(&self) -> bool {
        self.digest.is_some()
    }
}

impl fmt::Debug for SharedTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokenVerifier")
            .field("configured", &self.is_configured())
            .finish_non_exhaustive()
    }
}

impl Verifier<TokenCredential> for SharedTokenVerifier {
    type Future = Ready<Result<Principal, AuthError>>;

    fn verify(&self, credential: TokenCredential) -> Self::Future {
        // Digests of equal length are compared, so the time does not depend on the length
        // or content of either token.
        let presented = KeyHasher::Sha256.digest(credential.expose());
        std::future::ready(match &self.digest {
            Some(d) if d.ct_eq(&presented) => Ok((*self.principal).clone()),
            Some(_) => Err(AuthError::invalid("wrong shared token")),
            None => Err(AuthError::invalid("no shared token configured")),
        })
    }
}
