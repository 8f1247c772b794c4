//! Login sessions renewed by their own token ([`Sessions`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::audit::{Actor, AuditAction, AuditEvent, AuditSink};
use crate::store::generate_key;
use crate::{
    AuthError, ErrorKind, KeyKind, KeyRecord, KeyStore, KeyVerifier, Principal, UserStore,
    new_key_id,
};

use super::current_user::{SharedUsers, current};
use super::issuer::{IssuedToken, OpaqueTokenIssuer, delete_oldest_of_family, stored_principal};

/// The default absolute session lifetime (the gateway's `GATEWAY_SESSION_MAX_SECS`).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The default number of live tokens one session may hold: the one being renewed, its
/// successor, and one spare for a client that renews a little early.
pub const DEFAULT_MAX_LIVE_TOKENS: usize = 3;

fn marker_id(session: &str) -> String {
    format!("session:{session}")
}

/// XiVO sessions: what a login starts and every `auth/check` renewal continues.
///
/// A login starts a session (a marker record with the session's absolute end) and issues
/// its first token. A renewal issues a new token of the same session, never past the
/// session's end ([`Sessions::max_lifetime`], default 24 h, however often it is renewed),
/// keeps at most [`Sessions::max_live_tokens`] live tokens per session (the oldest are
/// deleted), and re-reads the user: one deleted or disabled since gets nothing (and the
/// session ends), one whose roles changed gets a token with the new roles. Logout ends the
/// session: every token of it stops at once.
///
/// ```
/// use std::time::Duration;
/// use tower_authn_core::issue::OpaqueTokenIssuer;
/// use tower_authn_core::issue::Sessions;
/// use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
/// use tower_authn_core::{Principal, UserStoreExt, Verifier};
/// use tower_authn_core::credential::TokenCredential;
/// use tower_authn_core::CredentialLocation;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let users = MemoryUserStore::new();
/// users.add_user("alice", "wonderland", |u| u.with_roles(["admin"])).unwrap();
/// let sessions = Sessions::new(OpaqueTokenIssuer::new(MemoryKeyStore::new()), users)
///     .max_lifetime(Duration::from_secs(8 * 3600));
/// let first = sessions.start(&Principal::user("alice")).await.unwrap();
/// let presented = TokenCredential::new(first.expose(), CredentialLocation::Query("token".into()));
/// let who = sessions.verifier().verify(presented).await.unwrap();
/// let renewed = sessions.renew(&who).await.unwrap();
/// assert_eq!(renewed.ttl_secs(), 3600);
/// sessions.end(&who).await.unwrap(); // logout: both tokens stop working
/// # }
/// ```
#[derive(Clone)]
pub struct Sessions<K> {
    tokens: OpaqueTokenIssuer<K>,
    users: SharedUsers,
    max_lifetime: Duration,
    max_live: usize,
}

impl<K> fmt::Debug for Sessions<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("max_lifetime", &self.max_lifetime)
            .field("max_live_tokens", &self.max_live)
            .finish_non_exhaustive()
    }
}

impl<K: KeyStore + Clone> Sessions<K> {
    /// Sessions whose tokens `tokens` issues (its lifetime is each token's TTL) and whose
    /// users are re-read from `users` on every renewal.
    pub fn new(tokens: OpaqueTokenIssuer<K>, users: impl UserStore) -> Self {
        Self {
            tokens,
            users: Arc::new(users),
            max_lifetime: DEFAULT_MAX_LIFETIME,
            max_live: DEFAULT_MAX_LIVE_TOKENS,
        }
    }

    /// Tells `sink` of every session started ([`AuditAction::Issued`], the first token),
    /// renewed ([`AuditAction::Renewed`], the new token), ended
    /// ([`AuditAction::FamilyRevoked`], the session as the family) and of every live token
    /// the cap deletes ([`AuditAction::Deleted`]). The default is the issuer's sink.
    pub fn with_audit(mut self, sink: impl AuditSink) -> Self {
        let audit = self.tokens.auditor().clone().with_sink(sink);
        self.tokens.set_auditor(audit);
        self
    }

    /// Names `actor` as who makes the changes in audit events. Without it, the actor is
    /// the principal starting, renewing or ending its session (the system when a session
    /// ends because its user is gone).
    pub fn acting_as(mut self, actor: impl Into<Actor>) -> Self {
        let audit = self.tokens.auditor().clone().with_actor(actor.into());
        self.tokens.set_auditor(audit);
        self
    }

    /// The absolute lifetime of a session from its login, however often it is renewed.
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// The most live tokens one session holds (at least 1); a renewal past it deletes the
    /// oldest (so a session holds at most this many records, however often it renews).
    pub fn max_live_tokens(mut self, n: usize) -> Self {
        self.max_live = n.max(1);
        self
    }

    /// The verifier for the sessions' tokens (the issuer's).
    pub fn verifier(&self) -> KeyVerifier<K> {
        self.tokens.verifier()
    }

    fn store(&self) -> &K {
        self.tokens.store()
    }

    /// Starts a session for `principal` (at login) and issues its first token.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the store fails.
    pub async fn start(&self, principal: &Principal) -> Result<IssuedToken, AuthError> {
        let session = new_key_id();
        let now = self.tokens.clock().now();
        let end = now + self.max_lifetime;
        // The marker's digest is of a key nobody ever sees: it can never be presented.
        let marker = KeyRecord::new(
            marker_id(&session),
            KeyKind::IssuedToken,
            self.store().key_hasher().digest(&generate_key()),
            stored_principal(principal, "session", end),
            now,
        )
        .expires_at(Some(end))
        .with_family(session.clone());
        self.store().put(marker).await?;
        let until = end.min(now + self.tokens.lifetime());
        Ok(self
            .tokens
            .issue_until(principal, Some(&session), now, until, AuditAction::Issued)
            .await?
            .0)
    }

    /// The session of a principal its [`verifier`](Self::verifier) proved, and the record
    /// of the token it presented.
    async fn session_of(&self, principal: &Principal) -> Result<(String, KeyRecord), AuthError> {
        let id = principal
            .key_id
            .as_deref()
            .ok_or_else(|| AuthError::invalid("not a session token"))?;
        let record = self
            .store()
            .find_by_id(KeyKind::IssuedToken, id)
            .await?
            .filter(|r| r.principal.kind == principal.kind && r.principal.id == principal.id)
            .ok_or_else(|| AuthError::invalid("unknown session token"))?;
        let session = record
            .family
            .clone()
            .ok_or_else(|| AuthError::invalid("token without a session"))?;
        Ok((session, record))
    }

    /// Issues a new token of the session `principal` (proved by [`verifier`](Self::verifier))
    /// belongs to, with the user's current roles, expiring at the latest when the session
    /// ends; then revokes the session's oldest tokens beyond the cap.
    ///
    /// # Errors
    ///
    /// `Expired` when the session has reached its absolute lifetime, `Revoked` when it was
    /// ended, `InvalidCredentials` when the token is not a session's or its user is gone or
    /// disabled (the session then ends), `Unavailable` when a store fails.
    pub async fn renew(&self, principal: &Principal) -> Result<IssuedToken, AuthError> {
        let (session, record) = self.session_of(principal).await?;
        let marker = self
            .store()
            .find_by_id(KeyKind::IssuedToken, &marker_id(&session))
            .await?
            .filter(|m| !m.revoked)
            .ok_or_else(|| AuthError::revoked(format!("session {session} ended")))?;
        let now = self.tokens.clock().now();
        let end = marker.expires_at.unwrap_or(now);
        if end <= now {
            return Err(AuthError::expired(format!(
                "session {session} reached its lifetime"
            )));
        }
        let fresh = match current(self.users.as_ref(), &record.principal).await {
            Ok(p) => p,
            Err(e) if e.kind() == ErrorKind::InvalidCredentials => {
                self.end_session(&record.principal, &session, Actor::System)
                    .await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let until = end.min(now + self.tokens.lifetime());
        let (issued, new_id) = self
            .tokens
            .issue_until(&fresh, Some(&session), now, until, AuditAction::Renewed)
            .await?;
        self.enforce_cap(&record.principal, &session, &new_id, now)
            .await?;
        Ok(issued)
    }

    /// Deletes the oldest live tokens of `session` so that at most the cap remain, the one
    /// just issued (`keep`) always among them. Run after issuing, so renewals that race
    /// still end within the cap.
    async fn enforce_cap(
        &self,
        owner: &Principal,
        session: &str,
        keep: &str,
        now: SystemTime,
    ) -> Result<(), AuthError> {
        let marker = marker_id(session);
        // The newest `cap - 1` others stay beside the new one.
        delete_oldest_of_family(
            self.store(),
            KeyKind::IssuedToken,
            owner,
            session,
            |r| {
                r.id != marker
                    && r.id != keep
                    && !r.revoked
                    && r.expires_at.is_none_or(|at| at > now)
            },
            self.max_live - 1,
            Some((self.tokens.auditor(), now)),
        )
        .await
    }

    /// Ends the session `principal` (proved by [`verifier`](Self::verifier)) belongs to
    /// (logout): its marker and every token of it are revoked.
    ///
    /// # Errors
    ///
    /// `InvalidCredentials` when the token is not a session's, `Unavailable` when the store
    /// fails.
    pub async fn end(&self, principal: &Principal) -> Result<(), AuthError> {
        let (session, record) = self.session_of(principal).await?;
        let actor = self.tokens.auditor().actor_or(|| Actor::of(principal));
        self.end_session(&record.principal, &session, actor).await
    }

    async fn end_session(
        &self,
        owner: &Principal,
        session: &str,
        actor: Actor,
    ) -> Result<(), AuthError> {
        // The marker first: a renewal in flight finds the session ended.
        self.store()
            .revoke(KeyKind::IssuedToken, &marker_id(session))
            .await?;
        for r in self
            .store()
            .list(KeyKind::IssuedToken, Some(&owner.id))
            .await?
        {
            if r.family.as_deref() == Some(session) && r.principal.kind == owner.kind && !r.revoked
            {
                self.store().revoke(KeyKind::IssuedToken, &r.id).await?;
            }
        }
        tracing::debug!(session, "xivo session ended");
        self.tokens.auditor().emit(
            AuditEvent::new(AuditAction::FamilyRevoked, actor, self.tokens.clock().now())
                .owner(owner)
                .key(KeyKind::IssuedToken, marker_id(session))
                .family(session),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::{Clock, ManualClock};
    use crate::credential::TokenCredential;
    use crate::memory::{MemoryKeyStore, MemoryUserStore};
    use crate::{CredentialLocation, UserRecord, Verifier};

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    struct Fixture {
        clock: ManualClock,
        keys: MemoryKeyStore,
        users: MemoryUserStore,
        sessions: Sessions<MemoryKeyStore>,
    }

    fn fixture(max_lifetime: Duration) -> Fixture {
        let clock = ManualClock::at_unix(1_700_000_000);
        let keys = MemoryKeyStore::new();
        let users = MemoryUserStore::new().with_clock(Arc::new(clock.clone()));
        users.insert(UserRecord::new("alice", "$argon2id$v=19$x").with_roles(["admin"]));
        let tokens = OpaqueTokenIssuer::new(keys.clone())
            .ttl(HOUR)
            .with_clock(Arc::new(clock.clone()));
        let sessions = Sessions::new(tokens, users.clone()).max_lifetime(max_lifetime);
        Fixture {
            clock,
            keys,
            users,
            sessions,
        }
    }

    impl Fixture {
        async fn who(&self, token: &IssuedToken) -> Result<Principal, AuthError> {
            let presented =
                TokenCredential::new(token.expose(), CredentialLocation::Query("token".into()));
            self.sessions.verifier().verify(presented).await
        }

        async fn live_tokens(&self) -> usize {
            let now = self.clock.now();
            self.keys
                .list(KeyKind::IssuedToken, Some("alice"))
                .await
                .unwrap()
                .iter()
                .filter(|r| !r.id.starts_with("session:"))
                .filter(|r| !r.revoked && r.expires_at.is_none_or(|at| at > now))
                .count()
        }
    }

    /// 60 chained renewals, one every 30 minutes: no token expires after the session's
    /// 24 h, so the session is over then whatever the client does.
    #[tokio::test]
    async fn chained_renewals_never_outlive_the_session() {
        let f = fixture(DEFAULT_MAX_LIFETIME);
        let end = f.clock.now() + DEFAULT_MAX_LIFETIME;
        let mut token = f.sessions.start(&Principal::user("alice")).await.unwrap();
        let mut renewed = 0;
        for _ in 0..60 {
            f.clock.advance(HOUR / 2);
            let Ok(who) = f.who(&token).await else {
                assert!(
                    f.clock.now() >= end,
                    "a token died before the session's end"
                );
                break;
            };
            let next = f.sessions.renew(&who).await.unwrap();
            assert!(
                next.expires_at() <= end,
                "renewal {renewed} outlives the session"
            );
            token = next;
            renewed += 1;
        }
        // Renewals at 0.5 h .. 23.5 h (47); at 24 h the last token has expired with the
        // session.
        assert_eq!(renewed, 47);
        assert_eq!(f.live_tokens().await, 0);
    }

    /// A renewal with a token still live (a clock behind, a marker ended early) after the
    /// session's end is refused as `expired`.
    #[tokio::test]
    async fn a_renewal_past_the_session_end_is_expired() {
        let f = fixture(Duration::from_secs(10));
        let token = f.sessions.start(&Principal::user("alice")).await.unwrap();
        let who = f.who(&token).await.unwrap();
        f.clock.advance(Duration::from_secs(10));
        assert_eq!(f.sessions.renew(&who).await.unwrap_err().code(), "expired");
    }

    /// 30 renewals of one token (each presenting it, as a client does): the session keeps
    /// at most the cap of live tokens, so the presented one is deleted once the cap is
    /// passed and its later renewals are refused; the newest tokens stay.
    #[tokio::test]
    async fn renewing_one_token_many_times_keeps_the_cap() {
        let f = fixture(DEFAULT_MAX_LIFETIME);
        let first = f.sessions.start(&Principal::user("alice")).await.unwrap();
        let (mut renewed, mut last) = (0, None);
        for _ in 0..30 {
            f.clock.advance(Duration::from_secs(1));
            let Ok(who) = f.who(&first).await else {
                continue;
            };
            last = Some(f.sessions.renew(&who).await.unwrap());
            renewed += 1;
        }
        assert_eq!(renewed, DEFAULT_MAX_LIVE_TOKENS);
        assert_eq!(f.live_tokens().await, DEFAULT_MAX_LIVE_TOKENS);
        assert!(f.who(&last.unwrap()).await.is_ok(), "the newest stays live");
        assert!(f.who(&first).await.is_err(), "the oldest was deleted");
        // The store holds the session's marker and its live tokens, nothing more.
        let stored = f
            .keys
            .list(KeyKind::IssuedToken, Some("alice"))
            .await
            .unwrap();
        assert_eq!(stored.len(), 1 + DEFAULT_MAX_LIVE_TOKENS);
    }

    /// A user disabled since the login gets nothing from a renewal, and the session ends:
    /// the other live tokens of it stop too. One whose roles changed gets the new roles.
    #[tokio::test]
    async fn renewal_rereads_the_user_and_ends_the_session_of_a_disabled_one() {
        let f = fixture(DEFAULT_MAX_LIFETIME);
        let first = f.sessions.start(&Principal::user("alice")).await.unwrap();
        let who = f.who(&first).await.unwrap();
        let alice = f.users.find_user("alice").await.unwrap().unwrap();
        f.users.put_user(alice.with_roles(["user"])).await.unwrap();
        f.clock.advance(Duration::from_secs(1));
        let second = f.sessions.renew(&who).await.unwrap();
        let renewed = f.who(&second).await.unwrap();
        assert_eq!(renewed.roles, ["user"]);

        assert!(f.users.disable_user("alice").await.unwrap());
        let err = f.sessions.renew(&renewed).await.unwrap_err();
        assert_eq!(err.code(), "invalid_credentials");
        assert!(f.who(&first).await.is_err() && f.who(&second).await.is_err());
        assert_eq!(f.live_tokens().await, 0);
    }

    /// Logout ends the session: every token of it stops, and renewing one is `revoked`; a
    /// second session of the same user is untouched.
    #[tokio::test]
    async fn logout_ends_only_its_session() {
        let f = fixture(DEFAULT_MAX_LIFETIME);
        let first = f.sessions.start(&Principal::user("alice")).await.unwrap();
        let who = f.who(&first).await.unwrap();
        let second = f.sessions.renew(&who).await.unwrap();
        let other = f.sessions.start(&Principal::user("alice")).await.unwrap();
        f.sessions.end(&who).await.unwrap();
        assert!(f.who(&first).await.is_err() && f.who(&second).await.is_err());
        assert_eq!(f.sessions.renew(&who).await.unwrap_err().code(), "revoked");
        let still = f.who(&other).await.unwrap();
        assert!(f.sessions.renew(&still).await.is_ok());
    }
}
