//! Refresh tokens with rotation ([`RefreshTokens`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::audit::{Actor, AuditAction, AuditEvent, AuditSink, Auditor};
use crate::clock::{SharedClock, SystemClock};
use crate::store::generate_key;
use crate::{AuthError, KeyKind, KeyRecord, KeyStore, Principal, UserStore, Verifier, new_key_id};
use futures_util::future::{BoxFuture, FutureExt};
use secrecy::SecretString;
use serde_json::Value;

use super::current_user::{SharedUsers, current};
use super::issuer::{delete_oldest_of_family, stored_principal};

/// The claim (and [`PrincipalData::attributes`](crate::PrincipalData::attributes) key) that names the refresh-token family a
/// JWT was minted in; [`RefreshTokens::guard`] checks it on every verification.
pub const FAMILY_CLAIM: &str = "fam";

/// How many spent tokens of a family [`RefreshTokens`] remembers by default.
pub const DEFAULT_REMEMBER_SPENT: usize = 32;

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

/// Refresh tokens with rotation: each one works once, and presenting a used one again
/// revokes its whole family, the newest token included (OAuth 2.0 Security BCP §4.14).
///
/// A family starts at login and gets a marker record; every rotation checks the marker, so
/// revoking a family is one write that no in-flight rotation can outrun. Tokens are stored
/// as [`KeyKind::RefreshToken`] digests; opaque access tokens issued in the family
/// ([`KeyKind::IssuedToken`] records of the same store) are revoked with it.
///
/// ```
/// use tower_authn_core::issue::RefreshTokens;
/// use tower_authn_core::memory::MemoryKeyStore;
/// use tower_authn_core::Principal;
/// use secrecy::ExposeSecret;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let refresh = RefreshTokens::new(MemoryKeyStore::new());
/// let first = refresh.start(&Principal::user("alice")).await.unwrap();
/// let second = refresh.rotate(first.token.expose_secret()).await.unwrap();
/// assert_eq!(second.principal.id, "alice");
///
/// // The first token was used: presenting it again revokes the family, the second included.
/// // A spent, revoked, expired or unknown token all get the same public answer.
/// assert_eq!(refresh.rotate(first.token.expose_secret()).await.unwrap_err().code(), "invalid_credentials");
/// assert_eq!(refresh.rotate(second.token.expose_secret()).await.unwrap_err().code(), "invalid_credentials");
/// assert_eq!(refresh.rotate("never-issued").await.unwrap_err().code(), "invalid_credentials");
/// # }
/// ```
///
/// What a family mints dies with it: an opaque access token is a record of the family,
/// revoked with it; a JWT carries the family id in its [`FAMILY_CLAIM`] claim, and
/// [`RefreshTokens::guard`] wraps its verifier so that every verification checks the
/// family is still live. Give the store of users with [`RefreshTokens::with_users`] and a
/// refresh re-reads the user: a user deleted or disabled since gets nothing (and the family
/// is revoked), and what is minted carries the user's current roles.
///
/// A family lives at most [`RefreshTokens::family_life`] (90 days by default) from its
/// login, however often it rotates: no token of it expires later, and its marker expires
/// then too, so a store holds nothing of a family past its end (plus the store's
/// retention).
#[derive(Clone)]
pub struct RefreshTokens<K> {
    store: K,
    ttl: Duration,
    family_life: Duration,
    remember_spent: usize,
    clock: SharedClock,
    users: Option<SharedUsers>,
    audit: Auditor,
}

impl<K> fmt::Debug for RefreshTokens<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("ttl", &self.ttl)
            .field("family_life", &self.family_life)
            .field("checks_users", &self.users.is_some())
            .finish_non_exhaustive()
    }
}

fn marker_id(family: &str) -> String {
    format!("family:{family}")
}

fn owner_of(p: &Principal) -> &str {
    p.app_id.as_deref().unwrap_or(&p.id)
}

/// The one public answer for every refresh token that cannot be used (unknown, spent,
/// revoked, expired, or its user gone): telling them apart would tell an attacker which
/// tokens exist. The reason stays in the detail, for tracing.
fn unusable(detail: String) -> AuthError {
    AuthError::invalid(detail)
}

impl<K> RefreshTokens<K> {
    /// Refresh tokens in `store`, each valid 14 days from its issue.
    pub fn new(store: K) -> Self {
        Self {
            store,
            ttl: Duration::from_secs(14 * 24 * 3600),
            family_life: Duration::from_secs(90 * 24 * 3600),
            remember_spent: DEFAULT_REMEMBER_SPENT,
            clock: Arc::new(SystemClock),
            users: None,
            audit: Auditor::default(),
        }
    }

    /// Tells `sink` of every family started ([`AuditAction::Issued`], its first token),
    /// rotation ([`AuditAction::Rotated`], the new token), family revoked at logout or
    /// because its user is gone ([`AuditAction::FamilyRevoked`]) and family revoked because
    /// a spent token came back ([`AuditAction::FamilyRevokedOnReuse`], naming the reused
    /// token). The default is [`TracingAudit`](crate::audit::TracingAudit).
    pub fn with_audit(mut self, sink: impl AuditSink) -> Self {
        self.audit = self.audit.with_sink(sink);
        self
    }

    /// Names `actor` as who makes the changes in audit events. Without it, the actor is the
    /// principal logging in, rotating or logging out, and the system for a revocation on
    /// reuse (or because the user is gone) and for [`revoke_family`](RefreshTokens::revoke_family).
    pub fn acting_as(mut self, actor: impl Into<Actor>) -> Self {
        self.audit = self.audit.with_actor(actor.into());
        self
    }

    /// Re-reads each user from `users` on every rotation: a user deleted or disabled since
    /// the login gets nothing (and the family is revoked), and the new token and what it
    /// mints carry the user's current roles, name, email and attributes. Without it a
    /// refresh trusts the principal stored at login.
    pub fn with_users(mut self, users: impl UserStore) -> Self {
        self.users = Some(Arc::new(users));
        self
    }

    /// Sets the lifetime of each refresh token.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the absolute lifetime of a family, from its login: rotations never issue a token
    /// that outlives it, and the family's marker expires then.
    pub fn family_life(mut self, life: Duration) -> Self {
        self.family_life = life;
        self
    }

    /// How many spent tokens of each family are remembered (at least 1), so that presenting
    /// one again revokes the family. Older ones are deleted at the next rotation: a client
    /// rotating in a loop cannot grow the store, and a token that old is simply unknown
    /// (the same public answer, without revoking the family).
    pub fn remember_spent(mut self, n: usize) -> Self {
        self.remember_spent = n.max(1);
        self
    }

    /// Uses `clock` for issue and expiry times.
    pub fn with_clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
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
        let end = now + self.family_life;
        let stored = stored_principal(principal, "refresh", (now + self.ttl).min(end));
        // The marker's digest is of a key nobody ever sees: it can never be presented.
        let marker_digest = self.store.key_hasher().digest(&generate_key());
        let marker = KeyRecord::new(
            marker_id(&family),
            KeyKind::RefreshToken,
            marker_digest,
            stored.clone(),
            now,
        )
        .expires_at(Some(end))
        .with_family(family.clone());
        self.store.put(marker).await?;
        let actor = self.audit.actor_or(|| Actor::of(principal));
        self.issue_in(family, stored, now, Some(end), AuditAction::Issued, actor)
            .await
    }

    /// Issues a token of `family`, expiring at the family's `end` at the latest.
    async fn issue_in(
        &self,
        family: String,
        principal: Principal,
        now: SystemTime,
        end: Option<SystemTime>,
        action: AuditAction,
        actor: Actor,
    ) -> Result<RefreshGrant, AuthError> {
        let token = generate_key();
        let expires_at = end.map_or(now + self.ttl, |end| (now + self.ttl).min(end));
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
        let event = AuditEvent::new(action, actor, now).record(&record);
        self.store.put(record).await?;
        self.audit.emit(event);
        Ok(RefreshGrant {
            principal,
            family,
            token: SecretString::from(token),
            expires_at,
        })
    }

    async fn family_live(&self, family: &str) -> Result<bool, AuthError> {
        Ok(self.family_marker(family).await?.is_some())
    }

    /// The family's marker while the family is not revoked (a family of an older version
    /// may have a marker without an end).
    async fn family_marker(&self, family: &str) -> Result<Option<KeyRecord>, AuthError> {
        Ok(self
            .store
            .find_by_id(KeyKind::RefreshToken, &marker_id(family))
            .await?
            .filter(|m| !m.revoked))
    }

    /// Exchanges `presented` for a new token of the same family. The presented token stops
    /// working; presenting it (or any earlier one) again revokes the family.
    ///
    /// # Errors
    ///
    /// `InvalidCredentials` for every token that cannot be used: unknown, expired, used or
    /// revoked (and then the family is revoked), or whose user is gone or disabled (with
    /// [`with_users`](Self::with_users)); `Unavailable` when a store fails.
    pub async fn rotate(&self, presented: &str) -> Result<RefreshGrant, AuthError> {
        let digest = self.store.key_hasher().digest(presented);
        let record = self
            .store
            .find_by_digest(KeyKind::RefreshToken, digest)
            .await?
            .filter(|r| r.digest.ct_eq(&digest))
            .ok_or_else(|| unusable("unknown refresh token".to_owned()))?;
        let Some(family) = record.family.clone() else {
            return Err(unusable("refresh token without a family".to_owned()));
        };
        if record.revoked {
            let event = self.system_event(AuditAction::FamilyRevokedOnReuse, &record);
            self.revoke_family_of(&record.principal, &family, event)
                .await?;
            return Err(unusable(format!(
                "refresh token {} reused: family {family} revoked",
                record.id
            )));
        }
        let Some(marker) = self.family_marker(&family).await? else {
            return Err(unusable(format!("family {family} revoked")));
        };
        let now = self.clock.now();
        if record.expires_at.is_some_and(|at| at <= now) {
            return Err(unusable(format!("refresh token {} expired", record.id)));
        }
        let principal = match &self.users {
            Some(users) => match current(users.as_ref(), &record.principal).await {
                Ok(p) => p,
                Err(e) if e.kind() == crate::ErrorKind::InvalidCredentials => {
                    let event = self.system_event(AuditAction::FamilyRevoked, &record);
                    self.revoke_family_of(&record.principal, &family, event)
                        .await?;
                    return Err(unusable(format!("{}: family {family} revoked", e.detail())));
                }
                Err(e) => return Err(e),
            },
            None => record.principal.clone(),
        };
        // Single use, atomically: of two racing rotations only one gets the record; the
        // other is a reuse.
        if self
            .store
            .consume(KeyKind::RefreshToken, &record.id)
            .await?
            .is_none()
        {
            let event = self.system_event(AuditAction::FamilyRevokedOnReuse, &record);
            self.revoke_family_of(&record.principal, &family, event)
                .await?;
            return Err(unusable(format!(
                "refresh token {} raced: family {family} revoked",
                record.id
            )));
        }
        let actor = self.audit.actor_or(|| Actor::of(&record.principal));
        let grant = self
            .issue_in(
                family.clone(),
                principal,
                now,
                marker.expires_at,
                AuditAction::Rotated,
                actor,
            )
            .await?;
        // A reuse elsewhere may have revoked the family meanwhile: then the new token dies too.
        if !self.family_live(&family).await? {
            let event = self.system_event(AuditAction::FamilyRevoked, &record);
            self.revoke_family_of(&grant.principal, &family, event)
                .await?;
            return Err(unusable(format!("family {family} revoked during rotation")));
        }
        self.forget_spent(&record.principal, &family).await?;
        Ok(grant)
    }

    /// Wraps `verifier` (of JWTs minted by login and refresh) so that a principal whose
    /// [`FAMILY_CLAIM`] names a revoked family is refused (`Revoked`, 401), on every
    /// verification: after the reuse of a spent refresh token, the claims tokens of its
    /// family stop working at once instead of at their expiry. A principal without the
    /// claim passes as the inner verifier decided; one whose claim is not a string is
    /// refused.
    pub fn guard<V>(&self, verifier: V) -> FamilyGuard<V, K> {
        FamilyGuard {
            inner: verifier,
            refresh: self.clone(),
        }
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
            Some(r) => {
                let actor = self.audit.actor_or(|| Actor::of(&r.principal));
                match r.family.clone() {
                    Some(family) => {
                        let event =
                            AuditEvent::new(AuditAction::FamilyRevoked, actor, self.clock.now())
                                .record(&r);
                        self.revoke_family_of(&r.principal, &family, event).await?;
                        Ok(true)
                    }
                    None => {
                        let revoked = self.store.revoke(KeyKind::RefreshToken, &r.id).await?;
                        if revoked {
                            self.audit.emit(
                                AuditEvent::new(AuditAction::Revoked, actor, self.clock.now())
                                    .record(&r),
                            );
                        }
                        Ok(revoked)
                    }
                }
            }
            None => Ok(false),
        }
    }

    /// Revokes every refresh token of `family` (owned by `owner`) and the opaque access
    /// tokens issued in it. The marker goes first, so a rotation in flight cannot escape,
    /// and a JWT of the family fails [`guard`](Self::guard) from then on.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the store fails.
    pub async fn revoke_family(&self, owner: &str, family: &str) -> Result<(), AuthError> {
        let mut event = AuditEvent::new(
            AuditAction::FamilyRevoked,
            self.audit.actor_or(|| Actor::System),
            self.clock.now(),
        )
        .key(KeyKind::RefreshToken, marker_id(family))
        .family(family);
        event.subject = Some(owner.to_owned());
        self.revoke_matching(owner, family, |_| true, event).await
    }

    /// An event of `action` by the system about `record` (a revocation it decided).
    fn system_event(&self, action: AuditAction, record: &KeyRecord) -> AuditEvent {
        AuditEvent::new(action, Actor::System, self.clock.now()).record(record)
    }

    /// [`revoke_family`](Self::revoke_family) for the family of `principal`: only records of
    /// the same kind of principal are touched (an app named like a user is not that user).
    async fn revoke_family_of(
        &self,
        principal: &Principal,
        family: &str,
        event: AuditEvent,
    ) -> Result<(), AuthError> {
        let kind = principal.kind;
        self.revoke_matching(
            owner_of(principal),
            family,
            |r| r.principal.kind == kind,
            event,
        )
        .await
    }

    /// Deletes the family's spent tokens beyond the newest [`remember_spent`](Self::remember_spent).
    async fn forget_spent(&self, owner: &Principal, family: &str) -> Result<(), AuthError> {
        let marker = marker_id(family);
        delete_oldest_of_family(
            &self.store,
            KeyKind::RefreshToken,
            owner,
            family,
            |r| r.revoked && r.id != marker,
            self.remember_spent,
            None,
        )
        .await
    }

    async fn revoke_matching(
        &self,
        owner: &str,
        family: &str,
        keep: impl Fn(&KeyRecord) -> bool,
        event: AuditEvent,
    ) -> Result<(), AuthError> {
        self.store
            .revoke(KeyKind::RefreshToken, &marker_id(family))
            .await?;
        for kind in [KeyKind::RefreshToken, KeyKind::IssuedToken] {
            for r in self.store.list(kind, Some(owner)).await? {
                if r.family.as_deref() == Some(family) && !r.revoked && keep(&r) {
                    self.store.revoke(kind, &r.id).await?;
                }
            }
        }
        tracing::debug!(family, "refresh-token family revoked");
        self.audit.emit(event);
        Ok(())
    }
}

/// A verifier whose principals must belong to a live refresh-token family: see
/// [`RefreshTokens::guard`].
#[derive(Clone)]
pub struct FamilyGuard<V, K> {
    inner: V,
    refresh: RefreshTokens<K>,
}

impl<V, K> fmt::Debug for FamilyGuard<V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FamilyGuard").finish_non_exhaustive()
    }
}

impl<C, V, K> Verifier<C> for FamilyGuard<V, K>
where
    C: Send + 'static,
    V: Verifier<C>,
    K: KeyStore + Clone,
{
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;

    fn verify(&self, credential: C) -> Self::Future {
        let verified = self.inner.verify(credential);
        let refresh = self.refresh.clone();
        async move {
            let principal = verified.await?;
            match principal.attributes.get(FAMILY_CLAIM) {
                None => Ok(principal),
                Some(Value::String(family)) => {
                    if refresh.family_live(family).await? {
                        Ok(principal)
                    } else {
                        Err(AuthError::revoked(format!("family {family} revoked")))
                    }
                }
                Some(_) => Err(AuthError::invalid("family claim is not a string")),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::{Clock, ManualClock};
    use crate::credential::TokenCredential;
    use crate::memory::{MemoryKeyStore, MemoryUserStore};
    use crate::{CredentialLocation, UserRecord};
    use secrecy::ExposeSecret;

    use super::*;
    use crate::issue::{OpaqueTokenIssuer, TokenIssuer};

    async fn code(refresh: &RefreshTokens<MemoryKeyStore>, token: &SecretString) -> String {
        refresh
            .rotate(token.expose_secret())
            .await
            .unwrap_err()
            .code()
            .to_owned()
    }

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
        assert_eq!(code(&refresh, &a.token).await, "invalid_credentials");
        assert_eq!(code(&refresh, &b.token).await, "invalid_credentials");
        let access_rec = keys
            .list(KeyKind::IssuedToken, Some("alice"))
            .await
            .unwrap();
        assert!(access_rec.iter().all(|r| r.revoked), "{access_rec:?}");
        assert!(issuer.revoke(access.expose()).await.unwrap());

        // Expiry and unknown tokens.
        let c = refresh.start(&alice).await.unwrap();
        clock.advance(Duration::from_secs(100));
        assert_eq!(code(&refresh, &c.token).await, "invalid_credentials");
        assert_eq!(
            refresh.rotate("nope").await.unwrap_err().code(),
            "invalid_credentials"
        );

        // Logout revokes the family.
        let d = refresh.start(&alice).await.unwrap();
        assert!(refresh.revoke(d.token.expose_secret()).await.unwrap());
        assert_eq!(code(&refresh, &d.token).await, "invalid_credentials");
        assert!(!refresh.revoke("nope").await.unwrap());
    }

    #[tokio::test]
    async fn a_family_ends_at_its_life_however_often_it_rotates() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = MemoryKeyStore::new();
        let refresh = RefreshTokens::new(keys.clone())
            .ttl(Duration::from_secs(100))
            .family_life(Duration::from_secs(250))
            .with_clock(Arc::new(clock.clone()));
        let start = clock.now();
        let mut grant = refresh.start(&Principal::user("alice")).await.unwrap();
        let marker = keys
            .find_by_id(KeyKind::RefreshToken, &marker_id(&grant.family))
            .await
            .unwrap()
            .unwrap();
        let end = start + Duration::from_secs(250);
        assert_eq!(
            marker.expires_at,
            Some(end),
            "the marker ends with the family"
        );
        let mut expiries = vec![grant.expires_at];
        for _ in 0..3 {
            clock.advance(Duration::from_secs(80));
            grant = refresh.rotate(grant.token.expose_secret()).await.unwrap();
            expiries.push(grant.expires_at);
        }
        // 100 s each, until the family's end caps them (at 160 s the next would be 260 s).
        let secs: Vec<u64> = expiries
            .iter()
            .map(|t| t.duration_since(start).unwrap().as_secs())
            .collect();
        assert_eq!(secs, [100, 180, 250, 250]);
        clock.advance(Duration::from_secs(80));
        assert_eq!(code(&refresh, &grant.token).await, "invalid_credentials");
    }

    /// 100 rotations keep the family's newest spent tokens (a reuse of one revokes the
    /// family) and forget the older ones: the store holds marker + live + remembered.
    #[tokio::test]
    async fn rotating_in_a_loop_keeps_a_bounded_family() {
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = MemoryKeyStore::new();
        let refresh = RefreshTokens::new(keys.clone())
            .remember_spent(4)
            .with_clock(Arc::new(clock.clone()));
        let mut tokens = vec![refresh.start(&Principal::user("alice")).await.unwrap()];
        for _ in 0..100 {
            clock.advance(Duration::from_secs(1));
            let next = refresh
                .rotate(tokens.last().unwrap().token.expose_secret())
                .await
                .unwrap();
            tokens.push(next);
        }
        let stored = keys
            .list(KeyKind::RefreshToken, Some("alice"))
            .await
            .unwrap();
        assert_eq!(stored.len(), 1 + 1 + 4, "marker, live token, 4 spent");
        // A forgotten token is unknown: refused, and the family lives on.
        assert_eq!(
            code(&refresh, &tokens[0].token).await,
            "invalid_credentials"
        );
        assert!(refresh.family_live(&tokens[0].family).await.unwrap());
        // A remembered one is a reuse: the family dies, its newest token with it.
        assert_eq!(
            code(&refresh, &tokens[98].token).await,
            "invalid_credentials"
        );
        assert!(!refresh.family_live(&tokens[0].family).await.unwrap());
        assert_eq!(
            code(&refresh, &tokens[100].token).await,
            "invalid_credentials"
        );
    }

    #[tokio::test]
    async fn spent_and_unknown_tokens_answer_alike() {
        let refresh = RefreshTokens::new(MemoryKeyStore::new());
        let a = refresh.start(&Principal::user("alice")).await.unwrap();
        refresh.rotate(a.token.expose_secret()).await.unwrap();
        let spent = refresh.rotate(a.token.expose_secret()).await.unwrap_err();
        let unknown = refresh.rotate("never-issued").await.unwrap_err();
        assert_eq!(
            (spent.status(), spent.code(), spent.message()),
            (unknown.status(), unknown.code(), unknown.message())
        );
    }

    /// Eight rotations of one token at once, on several threads: exactly one gets past the
    /// single-use check (one new token is issued), and none leaves a live token behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotations_have_exactly_one_winner() {
        for _ in 0..20 {
            let keys = MemoryKeyStore::new();
            let refresh = RefreshTokens::new(keys.clone());
            let a = refresh.start(&Principal::user("alice")).await.unwrap();
            let token = a.token.expose_secret().to_owned();
            let first = a_id(&keys, &a).await;
            let racers: Vec<_> = (0..8)
                .map(|_| {
                    let (refresh, token) = (refresh.clone(), token.clone());
                    tokio::spawn(async move { refresh.rotate(&token).await })
                })
                .collect();
            let mut results = Vec::new();
            for r in racers {
                results.push(r.await.unwrap());
            }
            let issued: Vec<_> = keys
                .list(KeyKind::RefreshToken, Some("alice"))
                .await
                .unwrap()
                .into_iter()
                .filter(|r| !r.id.starts_with("family:") && r.id != first)
                .collect();
            assert_eq!(issued.len(), 1, "exactly one rotation issued a token");
            let oks = results.iter().filter(|r| r.is_ok()).count();
            assert!(oks <= 1, "{oks} rotations answered a new token");
            // The losers' reuse revoked the family: the winner's token is dead too.
            assert!(issued.iter().all(|r| r.revoked));
            for r in results.into_iter().flatten() {
                assert!(refresh.rotate(r.token.expose_secret()).await.is_err());
            }
        }
    }

    /// The id of the first token of `grant`'s family (the one presented in the race).
    async fn a_id(keys: &MemoryKeyStore, grant: &RefreshGrant) -> String {
        let digest = keys.key_hasher().digest(grant.token.expose_secret());
        keys.find_by_digest(KeyKind::RefreshToken, digest)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn refresh_rereads_the_user() {
        let users = MemoryUserStore::new();
        users
            .add_user("alice", "pw", |u| u.with_roles(["admin"]))
            .unwrap();
        let keys = MemoryKeyStore::new();
        let refresh = RefreshTokens::new(keys.clone()).with_users(users.clone());
        let alice = Principal::user("alice").with_roles(["admin"]);
        let a = refresh.start(&alice).await.unwrap();

        // Demoted: the next token carries the new roles.
        users.insert(UserRecord::new("alice", "x").with_roles(["user"]));
        let b = refresh.rotate(a.token.expose_secret()).await.unwrap();
        assert_eq!(b.principal.roles, ["user"]);

        // Disabled: nothing, and the family is gone.
        let mut off = UserRecord::new("alice", "x").with_roles(["user"]);
        off.disabled = true;
        users.insert(off);
        assert_eq!(code(&refresh, &b.token).await, "invalid_credentials");
        assert!(!refresh.family_live(&b.family).await.unwrap());

        // Deleted (a store that no longer has her): nothing either.
        let gone = RefreshTokens::new(keys).with_users(MemoryUserStore::new());
        let c = gone.start(&alice).await.unwrap();
        assert_eq!(code(&gone, &c.token).await, "invalid_credentials");
    }

    #[tokio::test]
    async fn guard_refuses_principals_of_a_revoked_family() {
        let keys = MemoryKeyStore::new();
        let refresh = RefreshTokens::new(keys);
        let a = refresh.start(&Principal::user("alice")).await.unwrap();
        let claims_of = |family: Value| {
            move |_: TokenCredential| {
                let p = Principal::user("alice").with_attribute(FAMILY_CLAIM, family.clone());
                futures_util::future::ready(Ok::<_, AuthError>(p))
            }
        };
        let cred = || TokenCredential::new("jwt", CredentialLocation::Query("t".into()));
        let live = refresh.guard(claims_of(Value::from(a.family.clone())));
        assert!(live.verify(cred()).await.is_ok());

        // Reuse of a spent token revokes the family: its claims token stops at once.
        let b = refresh.rotate(a.token.expose_secret()).await.unwrap();
        let _ = refresh.rotate(a.token.expose_secret()).await;
        assert!(refresh.rotate(b.token.expose_secret()).await.is_err());
        assert_eq!(live.verify(cred()).await.unwrap_err().code(), "revoked");

        let unknown = refresh.guard(claims_of(Value::from("no-such-family")));
        assert_eq!(unknown.verify(cred()).await.unwrap_err().code(), "revoked");
        let not_text = refresh.guard(claims_of(Value::from(7)));
        assert_eq!(not_text.verify(cred()).await.unwrap_err().status(), 401);
    }
}
