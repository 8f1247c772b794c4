//! Audit events: who changed which key or token, when, and how it ended.
//!
//! Every key and token lifecycle change the issuers make (a token issued, a refresh token
//! rotated, a session renewed or ended, a key revoked, a family revoked because a spent
//! refresh token came back, an app key deleted) and every login the throttle refuses is
//! told to an [`AuditSink`] as one [`AuditEvent`]: the action, the key's kind and id, whose
//! key it is (the subject), who did it (the [`Actor`]), when (the issuer's clock) and the
//! outcome. An event never carries a secret or a digest: ids, kinds and owners only.
//!
//! Each issuer takes a sink with `with_audit` ([`OpaqueTokenIssuer`](crate::issue::OpaqueTokenIssuer),
//! [`RefreshTokens`](crate::issue::RefreshTokens), [`Sessions`](crate::issue::Sessions),
//! [`AccessPairs`](crate::issue::AccessPairs), [`AppKeys`](crate::issue::AppKeys),
//! [`Throttle`](crate::Throttle)); without one, events go to [`TracingAudit`] (target
//! `authn::audit`). [`MemoryAudit`] keeps them, for tests and embedding.
//!
//! ```
//! use tower_authn_core::audit::{AuditAction, MemoryAudit};
//! use tower_authn_core::issue::{OpaqueTokenIssuer, TokenIssuer};
//! use tower_authn_core::memory::MemoryKeyStore;
//! use tower_authn_core::Principal;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let audit = MemoryAudit::new();
//! let issuer = OpaqueTokenIssuer::new(MemoryKeyStore::new()).with_audit(audit.clone());
//! let token = issuer.issue(&Principal::user("alice"), None).await.unwrap();
//! let events = audit.events();
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].action, AuditAction::Issued);
//! assert_eq!(events[0].subject.as_deref(), Some("alice"));
//! assert!(!format!("{:?}", events[0]).contains(token.expose()));
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::principal::{Principal, PrincipalKind};
use crate::store::{KeyKind, KeyRecord};

/// The `tracing` target [`TracingAudit`] emits at.
pub const AUDIT_TARGET: &str = "authn::audit";

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// A key or token was issued (a login, a session or refresh family started, an app key
    /// added, an access pair issued).
    Issued,
    /// A key or token was replaced by a new one (a refresh-token rotation, a key rotated
    /// with overlap, an app key regenerated). The event names the new key.
    Rotated,
    /// A session was renewed: a new token of the same session (the event names it).
    Renewed,
    /// A key's expiry or description was changed (an app key modified without a new key).
    Modified,
    /// One key or token was revoked.
    Revoked,
    /// A whole family was revoked: a refresh-token family at logout (or when its user is
    /// gone), a session at its end.
    FamilyRevoked,
    /// A refresh-token family was revoked because a spent token of it was presented again
    /// (or two rotations raced): the sign of a stolen token.
    FamilyRevokedOnReuse,
    /// A key was deleted.
    Deleted,
    /// A login was refused because its principal or address is past the throttle's limit.
    LoginThrottled,
}

impl AuditAction {
    /// A short stable name (`issued`, `rotated`, `renewed`, `modified`, `revoked`,
    /// `family_revoked`, `family_revoked_on_reuse`, `deleted`, `login_throttled`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Rotated => "rotated",
            Self::Renewed => "renewed",
            Self::Modified => "modified",
            Self::Revoked => "revoked",
            Self::FamilyRevoked => "family_revoked",
            Self::FamilyRevokedOnReuse => "family_revoked_on_reuse",
            Self::Deleted => "deleted",
            Self::LoginThrottled => "login_throttled",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the audited change ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditOutcome {
    /// The change was made (it is in the store).
    Succeeded,
    /// The attempt was refused (a throttled login).
    Refused,
}

impl AuditOutcome {
    /// `succeeded` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Refused => "refused",
        }
    }
}

/// Who made a change: a principal (its id and kind), or the system itself (a reuse
/// detection, a throttle, an administrative call whose caller was not given).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Actor {
    /// No principal: the library's own decision, or a caller that was not named.
    #[default]
    System,
    /// A principal.
    Principal {
        /// Its id.
        id: String,
        /// Its kind.
        kind: PrincipalKind,
    },
}

impl Actor {
    /// The principal `p` (its id and kind only).
    pub fn of(p: &Principal) -> Self {
        Self::Principal {
            id: p.id.clone(),
            kind: p.kind,
        }
    }
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Self::of(p)
    }
}

impl fmt::Display for Actor {
    /// `system`, or `kind:id` (`user:alice`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::Principal { id, kind } => write!(f, "{}:{id}", kind.as_str()),
        }
    }
}

/// One lifecycle change. Never a secret, never a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEvent {
    /// What changed.
    pub action: AuditAction,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The kind of key concerned, if one is.
    pub key_kind: Option<KeyKind>,
    /// The id of the key record concerned (the new one for a rotation or renewal), if one
    /// is. A record id, never the key.
    pub key_id: Option<String>,
    /// Whose key it is: its owner's principal id (for an app, its app id); for a throttled
    /// login, the claimed principal, if the credential named one.
    pub subject: Option<String>,
    /// The owner's kind, when known.
    pub subject_kind: Option<PrincipalKind>,
    /// Who made the change.
    pub actor: Actor,
    /// When (the issuer's clock).
    pub at: SystemTime,
    /// The refresh-token family or session the key belongs to, if any.
    pub family: Option<String>,
}

impl AuditEvent {
    /// A succeeded `action` by `actor` at `at`, about no key yet.
    pub fn new(action: AuditAction, actor: Actor, at: SystemTime) -> Self {
        Self {
            action,
            outcome: AuditOutcome::Succeeded,
            key_kind: None,
            key_id: None,
            subject: None,
            subject_kind: None,
            actor,
            at,
            family: None,
        }
    }

    /// About the key of `record`: its kind, id, owner and family (nothing secret of it).
    pub fn record(mut self, record: &KeyRecord) -> Self {
        self.key_kind = Some(record.kind);
        self.key_id = Some(record.id.clone());
        self.family.clone_from(&record.family);
        self.owner(&record.principal)
    }

    /// Whose key: the owner `p` (its app id for an app key, else its id, and its kind).
    pub fn owner(mut self, p: &Principal) -> Self {
        self.subject = Some(p.app_id.clone().unwrap_or_else(|| p.id.clone()));
        self.subject_kind = Some(p.kind);
        self
    }

    /// Sets the key kind and id.
    pub fn key(mut self, kind: KeyKind, id: impl Into<String>) -> Self {
        self.key_kind = Some(kind);
        self.key_id = Some(id.into());
        self
    }

    /// Sets the family.
    pub fn family(mut self, family: impl Into<String>) -> Self {
        self.family = Some(family.into());
        self
    }

    /// Sets the outcome.
    pub fn outcome(mut self, outcome: AuditOutcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Milliseconds since the Unix epoch of [`at`](Self::at) (0 before it).
    pub fn at_millis(&self) -> u64 {
        self.at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Where audit events go.
///
/// [`record`](Self::record) is called on the request's path, right after the change is
/// written: it must be cheap and must never block or wait on I/O. A sink that ships events
/// somewhere (a log pipeline, a database, a Redis stream) buffers or forwards them (a
/// bounded channel to a task, a fire-and-forget write) and drops or counts what it cannot
/// keep rather than slow a login down.
///
/// Implemented by [`TracingAudit`] (the default), [`MemoryAudit`], `Arc`s of sinks,
/// closures through [`audit_fn`], and pairs: `(TracingAudit, redis_audit)` tells both (the
/// log and a shared trail), the first first.
pub trait AuditSink: Send + Sync + 'static {
    /// Takes one event.
    fn record(&self, event: AuditEvent);
}

impl<T: AuditSink + ?Sized> AuditSink for Arc<T> {
    fn record(&self, event: AuditEvent) {
        (**self).record(event);
    }
}

impl<A: AuditSink, B: AuditSink> AuditSink for (A, B) {
    fn record(&self, event: AuditEvent) {
        self.0.record(event.clone());
        self.1.record(event);
    }
}

/// An [`AuditSink`] from a closure.
///
/// ```
/// use tower_authn_core::audit::{audit_fn, AuditEvent};
///
/// let sink = audit_fn(|e: AuditEvent| eprintln!("{} by {}", e.action, e.actor));
/// # let _ = sink;
/// ```
pub fn audit_fn<F>(f: F) -> AuditFn<F>
where
    F: Fn(AuditEvent) + Send + Sync + 'static,
{
    AuditFn(f)
}

/// The sink made by [`audit_fn`].
#[derive(Clone)]
pub struct AuditFn<F>(F);

impl<F> fmt::Debug for AuditFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditFn")
    }
}

impl<F> AuditSink for AuditFn<F>
where
    F: Fn(AuditEvent) + Send + Sync + 'static,
{
    fn record(&self, event: AuditEvent) {
        (self.0)(event);
    }
}

/// The default sink: each event is one `tracing` event at level INFO and target
/// [`AUDIT_TARGET`] (`authn::audit`), with the fields `action`, `outcome`, `key_kind`,
/// `key_id`, `subject`, `subject_kind`, `actor`, `at` (milliseconds since the Unix epoch)
/// and `family`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingAudit;

impl AuditSink for TracingAudit {
    fn record(&self, e: AuditEvent) {
        tracing::info!(
            target: "authn::audit",
            action = e.action.as_str(),
            outcome = e.outcome.as_str(),
            key_kind = e.key_kind.map(KeyKind::as_str),
            key_id = e.key_id.as_deref(),
            subject = e.subject.as_deref(),
            subject_kind = e.subject_kind.map(PrincipalKind::as_str),
            actor = %e.actor,
            at = e.at_millis(),
            family = e.family.as_deref(),
            "audit"
        );
    }
}

/// How many events a [`MemoryAudit`] keeps by default.
pub const DEFAULT_MEMORY_AUDIT_CAPACITY: usize = 10_000;

/// A sink that keeps the latest events in memory (for tests, and for embedding: an admin
/// page showing recent changes). Clones share the events. At most its capacity are kept:
/// the oldest go first.
#[derive(Clone)]
pub struct MemoryAudit {
    events: Arc<Mutex<VecDeque<AuditEvent>>>,
    capacity: usize,
}

impl Default for MemoryAudit {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryAudit")
            .field("events", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryAudit {
    /// Keeps the latest [`DEFAULT_MEMORY_AUDIT_CAPACITY`] events.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_MEMORY_AUDIT_CAPACITY)
    }

    /// Keeps the latest `capacity` events (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            events: Arc::new(Mutex::new(VecDeque::new())),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<AuditEvent>> {
        // A panic while holding the lock leaves a valid queue: keep going.
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The events kept, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.lock().iter().cloned().collect()
    }

    /// Takes the events kept, oldest first, leaving none.
    pub fn take(&self) -> Vec<AuditEvent> {
        self.lock().drain(..).collect()
    }

    /// How many events are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, event: AuditEvent) {
        let mut events = self.lock();
        if events.len() >= self.capacity {
            events.pop_front();
        }
        events.push_back(event);
    }
}

/// What an issuer holds: its sink and, when given, the actor of its calls.
#[derive(Clone)]
pub(crate) struct Auditor {
    sink: Arc<dyn AuditSink>,
    actor: Option<Actor>,
}

impl Default for Auditor {
    fn default() -> Self {
        Self {
            sink: Arc::new(TracingAudit),
            actor: None,
        }
    }
}

impl fmt::Debug for Auditor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auditor")
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl Auditor {
    pub(crate) fn with_sink(mut self, sink: impl AuditSink) -> Self {
        self.sink = Arc::new(sink);
        self
    }

    pub(crate) fn with_actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// The actor given to the issuer, else `fallback` (the principal proved by the call,
    /// or the system).
    pub(crate) fn actor_or(&self, fallback: impl FnOnce() -> Actor) -> Actor {
        self.actor.clone().unwrap_or_else(fallback)
    }

    pub(crate) fn emit(&self, event: AuditEvent) {
        self.sink.record(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_audit_keeps_the_latest() {
        let audit = MemoryAudit::with_capacity(2);
        for id in ["a", "b", "c"] {
            audit.record(
                AuditEvent::new(AuditAction::Revoked, Actor::System, UNIX_EPOCH)
                    .key(KeyKind::AppApiKey, id),
            );
        }
        let ids: Vec<_> = audit
            .events()
            .into_iter()
            .map(|e| e.key_id.unwrap_or_default())
            .collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(audit.take().len(), 2);
        assert!(audit.is_empty());
    }

    #[test]
    fn actors_display() {
        assert_eq!(Actor::System.to_string(), "system");
        assert_eq!(
            Actor::of(&Principal::user("alice")).to_string(),
            "user:alice"
        );
    }

    #[test]
    fn closures_and_arcs_are_sinks() {
        let audit = MemoryAudit::new();
        let inner = audit.clone();
        let sink: Arc<dyn AuditSink> = Arc::new(audit_fn(move |e| inner.record(e)));
        Arc::clone(&sink).record(AuditEvent::new(
            AuditAction::Deleted,
            Actor::System,
            UNIX_EPOCH,
        ));
        assert_eq!(audit.len(), 1);
    }
}
