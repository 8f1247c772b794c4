//! Audit events: one per lifecycle change, with the right action, key, subject, actor and
//! time, and never a secret.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::future::{Ready, ready};
use secrecy::ExposeSecret;
use tower_authn_core::audit::{
    AUDIT_TARGET, Actor, AuditAction, AuditEvent, AuditOutcome, AuditSink, MemoryAudit,
    TracingAudit,
};
use tower_authn_core::clock::{Clock, ManualClock};
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::issue::{
    AccessPairs, AppKeys, Expiry, KeyChanges, OpaqueTokenIssuer, RefreshTokens, Sessions,
    TokenIssuer,
};
use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
use tower_authn_core::throttle::MemoryAttempts;
use tower_authn_core::{
    AuthError, CredentialLocation, KeyKind, KeyLifecycleExt, KeyStore, KeyStoreExt, Principal,
    PrincipalKind, Throttle, UserRecord, Verifier,
};

const T0: u64 = 1_700_000_000;

struct Fixture {
    clock: ManualClock,
    keys: MemoryKeyStore,
    audit: MemoryAudit,
}

fn fixture() -> Fixture {
    Fixture {
        clock: ManualClock::at_unix(T0),
        keys: MemoryKeyStore::new(),
        audit: MemoryAudit::new(),
    }
}

impl Fixture {
    /// Moves the clock on and answers the new time.
    fn tick(&self) -> SystemTime {
        self.clock.advance(Duration::from_secs(7));
        self.clock.now()
    }

    /// The one event recorded since the last call.
    fn one(&self) -> AuditEvent {
        let mut events = self.audit.take();
        assert_eq!(events.len(), 1, "{events:#?}");
        events.remove(0)
    }

    async fn id_of(&self, kind: KeyKind, secret: &str) -> String {
        let digest = self.keys.key_hasher().digest(secret);
        self.keys
            .find_by_digest(kind, digest)
            .await
            .unwrap()
            .unwrap()
            .id
    }
}

fn user(id: &str) -> Actor {
    Actor::Principal {
        id: id.to_owned(),
        kind: PrincipalKind::User,
    }
}

#[track_caller]
fn check(
    e: &AuditEvent,
    action: AuditAction,
    kind: KeyKind,
    key_id: &str,
    subject: &str,
    actor: &Actor,
    at: SystemTime,
) {
    assert_eq!(e.action, action, "{e:?}");
    assert_eq!(e.outcome, AuditOutcome::Succeeded, "{e:?}");
    assert_eq!(e.key_kind, Some(kind), "{e:?}");
    assert_eq!(e.key_id.as_deref(), Some(key_id), "{e:?}");
    assert_eq!(e.subject.as_deref(), Some(subject), "{e:?}");
    assert_eq!(&e.actor, actor, "{e:?}");
    assert_eq!(e.at, at, "{e:?}");
}

/// No event's Debug output holds any of `secrets`.
#[track_caller]
fn no_secret(events: &[AuditEvent], secrets: &[String]) {
    assert!(!secrets.is_empty());
    for e in events {
        let shown = format!("{e:?} {e:#?}");
        for s in secrets {
            assert!(!shown.contains(s.as_str()), "{shown} shows a secret");
        }
    }
}

/// Every event is also kept here, to check them all for secrets at the end of a test.
fn tee(f: &Fixture) -> (impl AuditSink + Clone, MemoryAudit) {
    let all = MemoryAudit::new();
    let (a, b) = (f.audit.clone(), all.clone());
    let sink = Arc::new(tower_authn_core::audit::audit_fn(move |e: AuditEvent| {
        b.record(e.clone());
        a.record(e);
    }));
    (sink, all)
}

#[tokio::test]
async fn opaque_tokens_issued_and_revoked() {
    let f = fixture();
    let (sink, all) = tee(&f);
    let issuer = OpaqueTokenIssuer::new(f.keys.clone())
        .with_clock(f.clock.clone())
        .with_audit(sink);
    let alice = Principal::user("alice").with_scheme("basic");

    let t = issuer.issue(&alice, Some("fam-1")).await.unwrap();
    let id = f.id_of(KeyKind::IssuedToken, t.expose()).await;
    let e = f.one();
    check(
        &e,
        AuditAction::Issued,
        KeyKind::IssuedToken,
        &id,
        "alice",
        &user("alice"),
        f.clock.now(),
    );
    assert_eq!(e.family.as_deref(), Some("fam-1"));
    assert_eq!(e.subject_kind, Some(PrincipalKind::User));

    let at = f.tick();
    assert!(issuer.revoke(t.expose()).await.unwrap());
    check(
        &f.one(),
        AuditAction::Revoked,
        KeyKind::IssuedToken,
        &id,
        "alice",
        &user("alice"),
        at,
    );
    // Already revoked, or unknown: no change, no event.
    assert!(issuer.revoke(t.expose()).await.unwrap());
    assert!(!issuer.revoke("unknown").await.unwrap());
    assert!(f.audit.is_empty());

    // An administrator acting for her is named as the actor.
    let admin = Principal::user("root");
    let by_admin = issuer.clone().acting_as(&admin);
    let t2 = by_admin.issue(&alice, None).await.unwrap();
    let e = f.one();
    assert_eq!((e.actor.clone(), e.family.clone()), (user("root"), None));
    assert_eq!(e.subject.as_deref(), Some("alice"));

    no_secret(
        &all.events(),
        &[t.expose().to_owned(), t2.expose().to_owned()],
    );
}

#[tokio::test]
async fn refresh_rotation_reuse_and_logout() {
    let f = fixture();
    let (sink, all) = tee(&f);
    let refresh = RefreshTokens::new(f.keys.clone())
        .with_clock(f.clock.clone())
        .with_audit(sink);
    let alice = Principal::user("alice");
    let mut secrets = Vec::new();

    let a = refresh.start(&alice).await.unwrap();
    secrets.push(a.token.expose_secret().to_owned());
    let a_id = f
        .id_of(KeyKind::RefreshToken, a.token.expose_secret())
        .await;
    let e = f.one();
    check(
        &e,
        AuditAction::Issued,
        KeyKind::RefreshToken,
        &a_id,
        "alice",
        &user("alice"),
        f.clock.now(),
    );
    assert_eq!(e.family.as_deref(), Some(a.family.as_str()));

    let at = f.tick();
    let b = refresh.rotate(a.token.expose_secret()).await.unwrap();
    secrets.push(b.token.expose_secret().to_owned());
    let b_id = f
        .id_of(KeyKind::RefreshToken, b.token.expose_secret())
        .await;
    let e = f.one();
    check(
        &e,
        AuditAction::Rotated,
        KeyKind::RefreshToken,
        &b_id,
        "alice",
        &user("alice"),
        at,
    );
    assert_eq!(e.family.as_deref(), Some(a.family.as_str()));

    // Reuse of a: the family is revoked, by the system, naming the reused token.
    let at = f.tick();
    assert!(refresh.rotate(a.token.expose_secret()).await.is_err());
    let e = f.one();
    check(
        &e,
        AuditAction::FamilyRevokedOnReuse,
        KeyKind::RefreshToken,
        &a_id,
        "alice",
        &Actor::System,
        at,
    );
    assert_eq!(e.family.as_deref(), Some(a.family.as_str()));
    // b belongs to the revoked family: refused, and it is a reuse too (b is revoked).
    assert!(refresh.rotate(b.token.expose_secret()).await.is_err());
    assert_eq!(f.one().action, AuditAction::FamilyRevokedOnReuse);
    // Unknown tokens change nothing.
    assert!(refresh.rotate("never-issued").await.is_err());
    assert!(f.audit.is_empty());

    // Logout revokes the family, by its holder.
    let c = refresh.start(&alice).await.unwrap();
    secrets.push(c.token.expose_secret().to_owned());
    let c_id = f
        .id_of(KeyKind::RefreshToken, c.token.expose_secret())
        .await;
    assert_eq!(f.one().action, AuditAction::Issued);
    let at = f.tick();
    assert!(refresh.revoke(c.token.expose_secret()).await.unwrap());
    let e = f.one();
    check(
        &e,
        AuditAction::FamilyRevoked,
        KeyKind::RefreshToken,
        &c_id,
        "alice",
        &user("alice"),
        at,
    );
    assert_eq!(e.family.as_deref(), Some(c.family.as_str()));

    // An administrative revocation of a family: by the system unless named.
    let d = refresh.start(&alice).await.unwrap();
    secrets.push(d.token.expose_secret().to_owned());
    f.audit.take();
    refresh.revoke_family("alice", &d.family).await.unwrap();
    let e = f.one();
    assert_eq!(
        (e.action, e.actor.clone(), e.subject.as_deref()),
        (AuditAction::FamilyRevoked, Actor::System, Some("alice"))
    );
    assert_eq!(e.family.as_deref(), Some(d.family.as_str()));

    no_secret(&all.events(), &secrets);
}

#[tokio::test]
async fn a_user_gone_revokes_the_family_by_the_system() {
    let f = fixture();
    let users = MemoryUserStore::new();
    users.insert(UserRecord::new("alice", "$argon2id$v=19$x"));
    let refresh = RefreshTokens::new(f.keys.clone())
        .with_clock(f.clock.clone())
        .with_users(users.clone())
        .with_audit(f.audit.clone());
    let a = refresh.start(&Principal::user("alice")).await.unwrap();
    f.audit.take();
    let mut off = UserRecord::new("alice", "$argon2id$v=19$x");
    off.disabled = true;
    users.insert(off);
    let at = f.tick();
    assert!(refresh.rotate(a.token.expose_secret()).await.is_err());
    let e = f.one();
    assert_eq!(
        (e.action, e.actor.clone(), e.at),
        (AuditAction::FamilyRevoked, Actor::System, at)
    );
}

#[tokio::test]
async fn sessions_start_renew_cap_and_end() {
    let f = fixture();
    let (sink, all) = tee(&f);
    let users = MemoryUserStore::new().with_clock(f.clock.clone());
    users.insert(UserRecord::new("alice", "$argon2id$v=19$x"));
    let tokens = OpaqueTokenIssuer::new(f.keys.clone()).with_clock(f.clock.clone());
    let sessions = Sessions::new(tokens, users.clone())
        .max_live_tokens(2)
        .with_audit(sink);
    let who = |t: &str| {
        let presented = TokenCredential::new(t, CredentialLocation::Query("token".into()));
        sessions.verifier().verify(presented)
    };
    let mut secrets = Vec::new();

    let first = sessions.start(&Principal::user("alice")).await.unwrap();
    secrets.push(first.expose().to_owned());
    let first_id = f.id_of(KeyKind::IssuedToken, first.expose()).await;
    let e = f.one();
    check(
        &e,
        AuditAction::Issued,
        KeyKind::IssuedToken,
        &first_id,
        "alice",
        &user("alice"),
        f.clock.now(),
    );
    let session = e.family.clone().unwrap();

    let at = f.tick();
    let p = who(first.expose()).await.unwrap();
    let second = sessions.renew(&p).await.unwrap();
    secrets.push(second.expose().to_owned());
    let second_id = f.id_of(KeyKind::IssuedToken, second.expose()).await;
    let e = f.one();
    check(
        &e,
        AuditAction::Renewed,
        KeyKind::IssuedToken,
        &second_id,
        "alice",
        &user("alice"),
        at,
    );
    assert_eq!(e.family.as_deref(), Some(session.as_str()));

    // A third live token passes the cap of 2: the oldest is deleted, by the system.
    let at = f.tick();
    let third = sessions.renew(&p).await.unwrap();
    secrets.push(third.expose().to_owned());
    let third_id = f.id_of(KeyKind::IssuedToken, third.expose()).await;
    let events = f.audit.take();
    assert_eq!(events.len(), 2, "{events:#?}");
    check(
        &events[0],
        AuditAction::Renewed,
        KeyKind::IssuedToken,
        &third_id,
        "alice",
        &user("alice"),
        at,
    );
    check(
        &events[1],
        AuditAction::Deleted,
        KeyKind::IssuedToken,
        &first_id,
        "alice",
        &Actor::System,
        at,
    );

    // Logout: one event for the session, by her.
    let at = f.tick();
    let p3 = who(third.expose()).await.unwrap();
    sessions.end(&p3).await.unwrap();
    let e = f.one();
    assert_eq!(
        (e.action, e.actor.clone(), e.at, e.family.as_deref()),
        (
            AuditAction::FamilyRevoked,
            user("alice"),
            at,
            Some(session.as_str())
        )
    );
    assert_eq!(e.subject.as_deref(), Some("alice"));

    // A disabled user's renewal ends the session, by the system.
    let other = sessions.start(&Principal::user("alice")).await.unwrap();
    secrets.push(other.expose().to_owned());
    f.audit.take();
    let p = who(other.expose()).await.unwrap();
    let mut off = UserRecord::new("alice", "$argon2id$v=19$x");
    off.disabled = true;
    users.insert(off);
    assert!(sessions.renew(&p).await.is_err());
    let e = f.one();
    assert_eq!(
        (e.action, e.actor),
        (AuditAction::FamilyRevoked, Actor::System)
    );

    no_secret(&all.events(), &secrets);
}

#[tokio::test]
async fn access_pairs_issued() {
    let f = fixture();
    let pairs = AccessPairs::new(f.keys.clone())
        .with_clock(f.clock.clone())
        .with_audit(f.audit.clone());
    let pair = pairs.issue(&Principal::app("demo")).await.unwrap();
    let id = f
        .id_of(KeyKind::AccessToken, pair.token.expose_secret())
        .await;
    let events = f.audit.events();
    let e = f.one();
    check(
        &e,
        AuditAction::Issued,
        KeyKind::AccessToken,
        &id,
        "demo",
        &Actor::Principal {
            id: "demo".into(),
            kind: PrincipalKind::App,
        },
        f.clock.now(),
    );
    no_secret(
        &events,
        &[
            pair.token.expose_secret().to_owned(),
            pair.secret.expose_secret().to_owned(),
        ],
    );
}

#[tokio::test]
async fn app_keys_add_renew_regenerate_revoke_delete() {
    let f = fixture();
    let (sink, all) = tee(&f);
    let keys = AppKeys::new(f.keys.clone())
        .with_clock(f.clock.clone())
        .with_audit(sink);
    let mut secrets = Vec::new();

    let (record, key) = keys
        .add("demo-app", Expiry::Never, Some("push".into()))
        .await
        .unwrap();
    secrets.push(key.expose_secret().to_owned());
    check(
        &f.one(),
        AuditAction::Issued,
        KeyKind::AppApiKey,
        &record.id,
        "demo-app",
        &Actor::System,
        f.clock.now(),
    );

    // Renewed (a new expiry) by a named administrator.
    let admin = Principal::user("root");
    let by_admin = keys.clone().acting_as(&admin);
    let at = f.tick();
    let until = at + Duration::from_secs(3600);
    let changes = KeyChanges {
        expiry: Some(Expiry::At(until)),
        ..KeyChanges::default()
    };
    by_admin
        .modify(key.expose_secret(), changes)
        .await
        .unwrap()
        .unwrap();
    check(
        &f.one(),
        AuditAction::Modified,
        KeyKind::AppApiKey,
        &record.id,
        "demo-app",
        &user("root"),
        at,
    );

    // Regenerated: a rotation of the same record.
    let at = f.tick();
    let regenerate = KeyChanges {
        regenerate: true,
        ..KeyChanges::default()
    };
    let (_, fresh) = keys
        .modify(key.expose_secret(), regenerate)
        .await
        .unwrap()
        .unwrap();
    let fresh = fresh.unwrap();
    secrets.push(fresh.expose_secret().to_owned());
    check(
        &f.one(),
        AuditAction::Rotated,
        KeyKind::AppApiKey,
        &record.id,
        "demo-app",
        &Actor::System,
        at,
    );

    // Revoked once; a second revocation changes nothing.
    let at = f.tick();
    assert!(keys.revoke(fresh.expose_secret()).await.unwrap().is_some());
    check(
        &f.one(),
        AuditAction::Revoked,
        KeyKind::AppApiKey,
        &record.id,
        "demo-app",
        &Actor::System,
        at,
    );
    assert!(keys.revoke(fresh.expose_secret()).await.unwrap().is_none());
    assert!(keys.revoke("no-such-key").await.unwrap().is_none());
    assert!(f.audit.is_empty());
    assert!(
        keys.verifier()
            .verify(TokenCredential::new(
                fresh.expose_secret(),
                CredentialLocation::Query("k".into())
            ))
            .await
            .is_err()
    );

    // Deleted.
    let at = f.tick();
    assert!(keys.delete(fresh.expose_secret()).await.unwrap().is_some());
    check(
        &f.one(),
        AuditAction::Deleted,
        KeyKind::AppApiKey,
        &record.id,
        "demo-app",
        &Actor::System,
        at,
    );
    assert!(keys.delete(fresh.expose_secret()).await.unwrap().is_none());
    assert!(f.audit.is_empty());

    no_secret(&all.events(), &secrets);
}

#[tokio::test]
async fn a_key_issued_through_the_store_is_an_event() {
    let f = fixture();
    let admin = user("root");
    let (record, key) = f
        .keys
        .issue_key_audited(
            KeyKind::AppApiKey,
            Principal::app("crm"),
            None,
            &f.audit,
            admin.clone(),
        )
        .await
        .unwrap();
    let events = f.audit.events();
    check(
        &f.one(),
        AuditAction::Issued,
        KeyKind::AppApiKey,
        &record.id,
        "crm",
        &admin,
        record.created_at,
    );
    no_secret(&events, &[key]);
}

#[tokio::test]
async fn lifecycle_rotation_and_revoke_all() {
    let f = fixture();
    let (old, old_key) = f
        .keys
        .issue_key(KeyKind::DeviceToken, Principal::device("phone"), None)
        .await
        .unwrap();
    let at = f.tick();
    let admin = user("root");
    let rotated = f
        .keys
        .rotate_key_audited(
            KeyKind::DeviceToken,
            &old.id,
            Duration::from_secs(60),
            at,
            &f.audit,
            admin.clone(),
        )
        .await
        .unwrap()
        .unwrap();
    let events = f.audit.events();
    check(
        &f.one(),
        AuditAction::Rotated,
        KeyKind::DeviceToken,
        &rotated.record.id,
        "phone",
        &admin,
        at,
    );
    no_secret(&events, &[old_key.clone(), rotated.expose().to_owned()]);

    let at = f.tick();
    let n = f
        .keys
        .revoke_all_audited(KeyKind::DeviceToken, "phone", at, &f.audit, Actor::System)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let mut events = f.audit.take();
    events.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    let mut ids = [old.id.clone(), rotated.record.id.clone()];
    ids.sort();
    assert_eq!(events.len(), 2);
    for (e, id) in events.iter().zip(&ids) {
        check(
            e,
            AuditAction::Revoked,
            KeyKind::DeviceToken,
            id,
            "phone",
            &Actor::System,
            at,
        );
    }
}

fn passwords(c: BasicCredentials) -> Ready<Result<Principal, AuthError>> {
    ready(
        if c.username == "alice" && c.password.expose_secret() == "right" {
            Ok(Principal::user("alice"))
        } else {
            Err(AuthError::invalid("wrong"))
        },
    )
}

fn tokens(t: TokenCredential) -> Ready<Result<Principal, AuthError>> {
    ready(if t.expose() == "ha1b-right" {
        Ok(Principal::user("alice"))
    } else {
        Err(AuthError::invalid("unknown"))
    })
}

#[tokio::test]
async fn throttled_logins_are_refused_events() {
    let f = fixture();
    let throttle = Throttle::with_store(MemoryAttempts::new().with_clock(f.clock.clone()))
        .per_principal(1, Duration::from_secs(600))
        .without_per_address()
        .with_clock(f.clock.clone())
        .with_audit(f.audit.clone());
    let logins = throttle.verifier(passwords);

    // One wrong password is a failure, not past the throttle: no event.
    let wrong = logins
        .verify(BasicCredentials::new("alice", "wrong-pw-1"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "invalid_credentials");
    assert!(f.audit.is_empty());

    // The next is refused by the throttle (even the right password).
    let at = f.tick();
    let refused = logins
        .verify(BasicCredentials::new("alice", "right"))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 429);
    let e = f.one();
    assert_eq!(
        (e.action, e.outcome, e.actor.clone(), e.at),
        (
            AuditAction::LoginThrottled,
            AuditOutcome::Refused,
            Actor::System,
            at
        )
    );
    assert_eq!(
        (e.subject.as_deref(), e.key_id.as_deref()),
        (Some("alice"), None)
    );

    // A credential naming no one, once it proves a locked principal: refused too.
    let by_token = throttle.verifier(tokens);
    let cred = TokenCredential::new("ha1b-right", CredentialLocation::Query("t".into()));
    assert_eq!(by_token.verify(cred).await.unwrap_err().status(), 429);
    let e = f.one();
    assert_eq!(
        (e.action, e.subject.as_deref(), e.subject_kind),
        (
            AuditAction::LoginThrottled,
            Some("alice"),
            Some(PrincipalKind::User)
        )
    );
    no_secret(
        &[e],
        &[
            "wrong-pw-1".to_owned(),
            "right".to_owned(),
            "ha1b-right".to_owned(),
        ],
    );
}

/// One event seen: its target, level and fields.
type Seen = (String, tracing::Level, Vec<(String, String)>);

/// A subscriber that keeps every event's target, level and fields.
#[derive(Default, Clone)]
struct Collect {
    events: Arc<Mutex<Vec<Seen>>>,
}

struct Fields(Vec<(String, String)>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl tracing::Subscriber for Collect {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let meta = event.metadata();
        self.events
            .lock()
            .unwrap()
            .push((meta.target().to_owned(), *meta.level(), fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Collect {
    fn audit_events(&self) -> Vec<Vec<(String, String)>> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(target, level, _)| target == AUDIT_TARGET && *level == tracing::Level::INFO)
            .map(|(_, _, fields)| fields.clone())
            .collect()
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_tracing_sink_emits_at_authn_audit() {
    let collect = Collect::default();
    tracing::subscriber::with_default(collect.clone(), || {
        TracingAudit.record(
            AuditEvent::new(
                AuditAction::Revoked,
                user("root"),
                SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            )
            .key(KeyKind::AppApiKey, "key-1")
            .family("fam-1"),
        );
    });
    let events = collect.audit_events();
    assert_eq!(events.len(), 1);
    let fields = &events[0];
    assert_eq!(field(fields, "action"), Some("revoked"));
    assert_eq!(field(fields, "outcome"), Some("succeeded"));
    assert_eq!(field(fields, "key_kind"), Some("app-key"));
    assert_eq!(field(fields, "key_id"), Some("key-1"));
    assert_eq!(field(fields, "actor"), Some("user:root"));
    assert_eq!(field(fields, "at"), Some("1700000000123"));
    assert_eq!(field(fields, "family"), Some("fam-1"));
    // Absent fields are not emitted.
    assert_eq!(field(fields, "subject"), None);
}

/// Without `with_audit`, an issuer's events go to the tracing sink.
#[tokio::test]
async fn issuers_default_to_the_tracing_sink() {
    let collect = Collect::default();
    let _guard = tracing::subscriber::set_default(collect.clone());
    let issuer = OpaqueTokenIssuer::new(MemoryKeyStore::new()).with_clock(ManualClock::at_unix(T0));
    let t = issuer.issue(&Principal::user("alice"), None).await.unwrap();
    assert!(issuer.revoke(t.expose()).await.unwrap());
    let events = collect.audit_events();
    let actions: Vec<_> = events.iter().map(|f| field(f, "action")).collect();
    assert_eq!(actions, [Some("issued"), Some("revoked")]);
    assert_eq!(field(&events[0], "subject"), Some("alice"));
    assert_eq!(field(&events[0], "at"), Some("1700000000000"));
    let everything = format!("{:?}", collect.events.lock().unwrap());
    assert!(!everything.contains(t.expose()));
}
