//! What a login hands out ([`TokenIssuer`], [`OpaqueTokenIssuer`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::audit::{Actor, AuditAction, AuditEvent, AuditSink, Auditor};
use crate::clock::{SharedClock, SystemClock};
use crate::store::generate_key;
use crate::{AuthError, KeyKind, KeyRecord, KeyStore, KeyVerifier, Principal, new_key_id};
use futures_util::future::{BoxFuture, FutureExt, ready};
use secrecy::{ExposeSecret, SecretString};

/// A token just issued: the secret (shown to the client this once) and when it expires.
pub struct IssuedToken {
    token: SecretString,
    expires_at: SystemTime,
    ttl: Duration,
}

impl IssuedToken {
    /// A token valid for `ttl` from `issued_at`.
    pub fn new(token: impl Into<String>, issued_at: SystemTime, ttl: Duration) -> Self {
        Self {
            token: SecretString::from(token.into()),
            expires_at: issued_at + ttl,
            ttl,
        }
    }

    /// A JWT just signed, with its lifetime read from its own `iat` and `exp` claims (the
    /// signature is not checked: the caller signed it). For plugging a JWT issuer in through
    /// [`issuer_fn`].
    ///
    /// ```
    /// use tower_authn_core::issue::IssuedToken;
    ///
    /// // {"alg":"HS256","typ":"JWT"} . {"iat":1700000000,"exp":1700003600} . signature
    /// let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0.sig";
    /// let t = IssuedToken::from_jwt(jwt.to_owned()).unwrap();
    /// assert_eq!((t.ttl_secs(), t.expires_at_millis()), (3600, 1_700_003_600_000));
    /// ```
    ///
    /// # Errors
    ///
    /// [`AuthError::unavailable`] when `jwt` has no readable `exp` (a bug in the issuer).
    pub fn from_jwt(jwt: String) -> Result<Self, AuthError> {
        use base64::Engine as _;
        let claims = jwt
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
        let claim = |name: &str| {
            claims
                .as_ref()
                .and_then(|c| c.get(name))
                .and_then(serde_json::Value::as_u64)
        };
        let exp = claim("exp").ok_or_else(|| AuthError::unavailable("issued JWT has no exp"))?;
        let iat = claim("iat").unwrap_or(exp).min(exp);
        let issued_at = UNIX_EPOCH + Duration::from_secs(iat);
        Ok(Self::new(jwt, issued_at, Duration::from_secs(exp - iat)))
    }

    /// The token, to put in the response.
    pub fn expose(&self) -> &str {
        self.token.expose_secret()
    }

    /// When it expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Its lifetime in whole seconds (XiVO's `TTL`).
    pub fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// Its expiry in milliseconds since the Unix epoch (Volt MX's `claims_token.exp`).
    pub fn expires_at_millis(&self) -> u64 {
        self.expires_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Issues access tokens for authenticated principals.
///
/// Implemented by [`OpaqueTokenIssuer`], by closures through [`issuer_fn`], and (in
/// `tower-authn-jwt`) by the JWT issuers.
///
/// [`TokenIssuer`]: what a login (or a refresh, or a token endpoint) hands out.
///
/// The routers are generic over it, so an opaque token ([`OpaqueTokenIssuer`], stored as a
/// digest in a [`KeyStore`]) and a JWT (the `tower-authn-jwt` issuer, or any closure through
/// [`issuer_fn`]) plug into the same routes.
///
/// ```
/// use std::time::Duration;
/// use tower_authn_core::issue::{OpaqueTokenIssuer, TokenIssuer};
/// use tower_authn_core::credential::TokenCredential;
/// use tower_authn_core::memory::MemoryKeyStore;
/// use tower_authn_core::{CredentialLocation, Principal, Verifier};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let issuer = OpaqueTokenIssuer::new(MemoryKeyStore::new()).ttl(Duration::from_secs(3600));
/// let issued = issuer.issue(&Principal::user("alice"), None).await.unwrap();
/// assert_eq!(issued.ttl_secs(), 3600);
///
/// // The matching verifier finds it by digest.
/// let presented = TokenCredential::new(issued.expose(), CredentialLocation::Query("token".into()));
/// let who = issuer.verifier().verify(presented).await.unwrap();
/// assert_eq!(who.id, "alice");
/// # }
/// ```
pub trait TokenIssuer: Send + Sync + 'static {
    /// Issues a token for `principal`. `family` is the refresh-token family the token
    /// belongs to, if any, so revoking the family can revoke it too.
    ///
    /// # Errors
    ///
    /// [`AuthError`] (usually `Unavailable`) when the token cannot be issued or stored.
    fn issue<'a>(
        &'a self,
        principal: &'a Principal,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<IssuedToken, AuthError>>;

    /// Revokes a token this issuer issued; `Ok(false)` when it is unknown or the issuer
    /// cannot revoke (a stateless JWT issuer: the default).
    ///
    /// # Errors
    ///
    /// [`AuthError`] (`Unavailable`) when the store cannot answer.
    fn revoke<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        let _ = token;
        ready(Ok(false)).boxed()
    }
}

impl<T: TokenIssuer + ?Sized> TokenIssuer for Arc<T> {
    fn issue<'a>(
        &'a self,
        principal: &'a Principal,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<IssuedToken, AuthError>> {
        (**self).issue(principal, family)
    }

    fn revoke<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        (**self).revoke(token)
    }
}

/// A [`TokenIssuer`] from a synchronous closure (JWT signing is synchronous).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tower_authn_core::issue::{IssuedToken, issuer_fn};
///
/// let issuer = issuer_fn(|p: &tower_authn_core::Principal| {
///     Ok(IssuedToken::new(format!("demo-token-for-{}", p.id), SystemTime::now(), Duration::from_secs(60)))
/// });
/// # let _ = issuer;
/// ```
pub fn issuer_fn<F>(f: F) -> IssuerFn<F>
where
    F: Fn(&Principal) -> Result<IssuedToken, AuthError> + Send + Sync + 'static,
{
    IssuerFn(f)
}

/// The issuer made by [`issuer_fn`].
#[derive(Clone)]
pub struct IssuerFn<F>(F);

impl<F> fmt::Debug for IssuerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuerFn")
    }
}

impl<F> TokenIssuer for IssuerFn<F>
where
    F: Fn(&Principal) -> Result<IssuedToken, AuthError> + Send + Sync + 'static,
{
    fn issue<'a>(
        &'a self,
        principal: &'a Principal,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<IssuedToken, AuthError>> {
        ready((self.0)(principal)).boxed()
    }
}

/// A [`TokenIssuer`] from a synchronous closure that also receives the refresh-token
/// family the token is minted in (at login and at each refresh), so a JWT can carry it in
/// [`FAMILY_CLAIM`](super::refresh::FAMILY_CLAIM) for
/// [`RefreshTokens::guard`](super::refresh::RefreshTokens::guard) to check.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tower_authn_core::issue::{IssuedToken, family_issuer_fn};
///
/// let issuer = family_issuer_fn(|p: &tower_authn_core::Principal, family: Option<&str>| {
///     let claims = serde_json::json!({ "sub": p.id, "fam": family });
///     Ok(IssuedToken::new(format!("sign({claims})"), SystemTime::now(), Duration::from_secs(60)))
/// });
/// # let _ = issuer;
/// ```
pub fn family_issuer_fn<F>(f: F) -> FamilyIssuerFn<F>
where
    F: Fn(&Principal, Option<&str>) -> Result<IssuedToken, AuthError> + Send + Sync + 'static,
{
    FamilyIssuerFn(f)
}

/// The issuer made by [`family_issuer_fn`].
#[derive(Clone)]
pub struct FamilyIssuerFn<F>(F);

impl<F> fmt::Debug for FamilyIssuerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FamilyIssuerFn")
    }
}

impl<F> TokenIssuer for FamilyIssuerFn<F>
where
    F: Fn(&Principal, Option<&str>) -> Result<IssuedToken, AuthError> + Send + Sync + 'static,
{
    fn issue<'a>(
        &'a self,
        principal: &'a Principal,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<IssuedToken, AuthError>> {
        ready((self.0)(principal, family)).boxed()
    }
}

/// Issues random opaque tokens (256 bits, base64url) and stores only their digest in a
/// [`KeyStore`] as [`KeyKind::IssuedToken`] records; [`verifier`](Self::verifier) checks them.
#[derive(Clone)]
pub struct OpaqueTokenIssuer<K> {
    store: K,
    ttl: Duration,
    scheme: Cow<'static, str>,
    clock: SharedClock,
    audit: Auditor,
}

impl<K> OpaqueTokenIssuer<K> {
    /// Tokens in `store`, valid one hour, scheme `token`.
    pub fn new(store: K) -> Self {
        Self {
            store,
            ttl: Duration::from_secs(3600),
            scheme: Cow::Borrowed("token"),
            clock: Arc::new(SystemClock),
            audit: Auditor::default(),
        }
    }

    /// Tells `sink` of every token issued and revoked ([`AuditAction::Issued`],
    /// [`AuditAction::Revoked`]); the default is [`TracingAudit`](crate::audit::TracingAudit).
    pub fn with_audit(mut self, sink: impl AuditSink) -> Self {
        self.audit = self.audit.with_sink(sink);
        self
    }

    /// Names `actor` as who makes the changes in audit events (an administrator acting for
    /// a user). Without it, the actor is the principal a token is issued to or revoked for.
    pub fn acting_as(mut self, actor: impl Into<Actor>) -> Self {
        self.audit = self.audit.with_actor(actor.into());
        self
    }

    /// Sets the lifetime of issued tokens.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the scheme name the tokens authenticate with (`token`; Volt MX claims tokens:
    /// `claims`).
    pub fn scheme(mut self, scheme: impl Into<Cow<'static, str>>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Uses `clock` for issue and expiry times.
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// The store.
    pub fn store(&self) -> &K {
        &self.store
    }
}

impl<K: KeyStore + Clone> OpaqueTokenIssuer<K> {
    /// The lifetime of issued tokens.
    pub(crate) fn lifetime(&self) -> Duration {
        self.ttl
    }

    /// The clock.
    pub(crate) fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The audit sink and actor.
    pub(crate) fn auditor(&self) -> &Auditor {
        &self.audit
    }

    /// Sets the audit sink and actor (the sessions built on this issuer share them).
    pub(crate) fn set_auditor(&mut self, audit: Auditor) {
        self.audit = audit;
    }

    /// Issues a token in `family` that expires at `expires_at` (a XiVO session caps its
    /// tokens at the session's end); returns it with its record's id. The audit event
    /// names `action` (`Issued`, or `Renewed` for a session's renewal).
    pub(crate) async fn issue_until(
        &self,
        principal: &Principal,
        family: Option<&str>,
        now: SystemTime,
        expires_at: SystemTime,
        action: AuditAction,
    ) -> Result<(IssuedToken, String), AuthError> {
        let ttl = expires_at.duration_since(now).unwrap_or_default();
        let issued = IssuedToken::new(generate_key(), now, ttl);
        let digest = self.store.key_hasher().digest(issued.expose());
        let stored = stored_principal(principal, &self.scheme, issued.expires_at());
        let id = new_key_id();
        let mut record = KeyRecord::new(id.clone(), KeyKind::IssuedToken, digest, stored, now)
            .expires_at(Some(issued.expires_at()));
        if let Some(f) = family {
            record = record.with_family(f);
        }
        let event = AuditEvent::new(action, self.audit.actor_or(|| Actor::of(principal)), now)
            .record(&record);
        self.store.put(record).await?;
        self.audit.emit(event);
        Ok((issued, id))
    }

    /// The verifier for tokens this issuer issued (same store, same clock).
    pub fn verifier(&self) -> KeyVerifier<K> {
        KeyVerifier::new(self.store.clone(), KeyKind::IssuedToken)
            .with_clock(Arc::clone(&self.clock))
    }
}

impl<K> fmt::Debug for OpaqueTokenIssuer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueTokenIssuer")
            .field("ttl", &self.ttl)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// The principal as it is stored behind an issued credential: no location (the next
/// request sets its own), no key id (the record's id is), the given scheme and expiry.
pub(crate) fn stored_principal(
    principal: &Principal,
    scheme: &str,
    expires_at: SystemTime,
) -> Principal {
    let mut p = principal
        .clone()
        .with_scheme(scheme.to_owned())
        .with_expires_at(expires_at);
    p.location = None;
    p.key_id = None;
    p
}

impl<K: KeyStore + Clone> TokenIssuer for OpaqueTokenIssuer<K> {
    fn issue<'a>(
        &'a self,
        principal: &'a Principal,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<IssuedToken, AuthError>> {
        async move {
            let now = self.clock.now();
            Ok(self
                .issue_until(principal, family, now, now + self.ttl, AuditAction::Issued)
                .await?
                .0)
        }
        .boxed()
    }

    fn revoke<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        let digest = self.store.key_hasher().digest(token);
        async move {
            let record = self
                .store
                .find_by_digest(KeyKind::IssuedToken, digest)
                .await?
                .filter(|r| r.digest.ct_eq(&digest));
            match record {
                Some(r) => {
                    let revoked = self.store.revoke(KeyKind::IssuedToken, &r.id).await?;
                    if revoked && !r.revoked {
                        let actor = self.audit.actor_or(|| Actor::of(&r.principal));
                        self.audit.emit(
                            AuditEvent::new(AuditAction::Revoked, actor, self.clock.now())
                                .record(&r),
                        );
                    }
                    Ok(revoked)
                }
                None => Ok(false),
            }
        }
        .boxed()
    }
}

/// Deletes the oldest records of `kind` that `owner` holds in `family` and `counts` selects,
/// beyond the newest `keep`. Deleted, not revoked: a revoked record stays until it expires,
/// so a client renewing or rotating in a loop would grow the store by one record a call.
/// Sessions cap their live tokens with it, refresh families their remembered spent ones.
/// With `audit`, each deletion is an [`AuditAction::Deleted`] event by the system (a
/// session's live tokens; a refresh family's spent ones are housekeeping, not audited).
///
/// # Errors
///
/// `Unavailable` when the store fails.
pub(crate) async fn delete_oldest_of_family<K: KeyStore>(
    store: &K,
    kind: KeyKind,
    owner: &Principal,
    family: &str,
    counts: impl Fn(&KeyRecord) -> bool,
    keep: usize,
    audit: Option<(&Auditor, SystemTime)>,
) -> Result<(), AuthError> {
    let owner_id = owner.app_id.as_deref().unwrap_or(&owner.id);
    let mut members: Vec<KeyRecord> = store
        .list(kind, Some(owner_id))
        .await?
        .into_iter()
        .filter(|r| {
            r.family.as_deref() == Some(family) && r.principal.kind == owner.kind && counts(r)
        })
        .collect();
    members.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    for r in members.iter().skip(keep) {
        let deleted = store.delete(kind, &r.id).await?;
        if let (true, Some((audit, now))) = (deleted, audit) {
            audit.emit(AuditEvent::new(AuditAction::Deleted, Actor::System, now).record(r));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::clock::ManualClock;
    use crate::credential::TokenCredential;
    use crate::memory::MemoryKeyStore;
    use crate::{CredentialLocation, Verifier};

    use super::*;

    fn cred(t: &str) -> TokenCredential {
        TokenCredential::new(t, CredentialLocation::Query("token".into()))
    }

    #[tokio::test]
    async fn opaque_tokens_expire_and_revoke() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = MemoryKeyStore::new();
        let issuer = OpaqueTokenIssuer::new(keys.clone())
            .ttl(Duration::from_secs(60))
            .with_clock(Arc::new(clock.clone()));
        let p = Principal::user("alice").with_scheme("basic");
        let t = issuer.issue(&p, Some("fam")).await.unwrap();
        assert_eq!(t.expires_at_millis(), 1_700_000_060_000);
        assert!(!format!("{t:?}").contains(t.expose()));
        let who = issuer.verifier().verify(cred(t.expose())).await.unwrap();
        assert_eq!((who.id.as_str(), &*who.scheme), ("alice", "token"));
        // Only the digest is stored.
        let stored = keys
            .list(KeyKind::IssuedToken, Some("alice"))
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].family.as_deref(), Some("fam"));
        assert!(!format!("{stored:?}").contains(t.expose()));

        clock.advance(Duration::from_secs(60));
        assert_eq!(
            issuer
                .verifier()
                .verify(cred(t.expose()))
                .await
                .unwrap_err()
                .code(),
            "expired"
        );

        let t2 = issuer.issue(&p, None).await.unwrap();
        assert!(issuer.revoke(t2.expose()).await.unwrap());
        assert!(!issuer.revoke("unknown").await.unwrap());
        assert_eq!(
            issuer
                .verifier()
                .verify(cred(t2.expose()))
                .await
                .unwrap_err()
                .code(),
            "revoked"
        );
    }
}
