//! Audit events in Redis, against a private redis-server: two instances of one deployment
//! write to one capped stream `P:audit`; entries carry the action, key, subject, actor and
//! time, never a secret; the stream stays capped; recording never waits.

#[path = "support/server.rs"]
mod server;

use std::collections::HashMap;
use std::time::Duration;

use secrecy::ExposeSecret;
use server::RedisServer;
use tower_authn_core::audit::{Actor, AuditAction, AuditEvent, AuditSink};
use tower_authn_core::clock::ManualClock;
use tower_authn_core::issue::{AppKeys, Expiry, OpaqueTokenIssuer, TokenIssuer};
use tower_authn_core::{KeyKind, KeyStore, Principal};
use tower_authn_redis::{RedisConfig, RedisStores};

/// Now, in whole seconds: the store expires records by real time.
fn t0() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn connect(server: &RedisServer, prefix: &str) -> RedisStores {
    RedisStores::connect(
        RedisConfig::new(server.url())
            .key_pepper(*b"test pepper, shared by instances")
            .prefix(prefix),
    )
    .unwrap()
}

type Entry = (String, HashMap<String, String>);

async fn entries(server: &RedisServer, stream: &str) -> Vec<Entry> {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let raw: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    raw.into_iter()
        .map(|(id, flat)| {
            let fields = flat
                .chunks(2)
                .map(|kv| (kv[0].clone(), kv.get(1).cloned().unwrap_or_default()))
                .collect();
            (id, fields)
        })
        .collect()
}

async fn xlen(server: &RedisServer, stream: &str) -> usize {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("XLEN")
        .arg(stream)
        .query_async(&mut conn)
        .await
        .unwrap()
}

fn field<'a>(entry: &'a Entry, name: &str) -> Option<&'a str> {
    entry.1.get(name).map(String::as_str)
}

#[tokio::test]
async fn two_instances_share_one_trail_without_secrets() {
    let server = RedisServer::start();
    let (one, two) = (connect(&server, "shop"), connect(&server, "shop"));
    let (audit_one, audit_two) = (one.audit().unwrap(), two.audit().unwrap());
    assert_eq!(audit_one.stream(), "shop:audit");
    let t0 = t0();
    let clock = ManualClock::at_unix(t0);

    let issuer = OpaqueTokenIssuer::new(one.keys())
        .with_clock(clock.clone())
        .with_audit(audit_one.clone());
    let token = issuer.issue(&Principal::user("alice"), None).await.unwrap();
    let token_id = one
        .keys()
        .find_by_digest(
            KeyKind::IssuedToken,
            one.keys().key_hasher().digest(token.expose()),
        )
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(issuer.revoke(token.expose()).await.unwrap());
    // Written before the other instance writes: the order below is deterministic.
    audit_one.flush().await.unwrap();

    let apps = AppKeys::new(two.keys())
        .with_clock(clock.clone())
        .with_audit(audit_two.clone())
        .acting_as(&Principal::user("root"));
    let (record, key) = apps.add("demo-app", Expiry::Never, None).await.unwrap();
    assert!(apps.delete(key.expose_secret()).await.unwrap().is_some());

    audit_one.flush().await.unwrap();
    audit_two.flush().await.unwrap();
    let all = entries(&server, "shop:audit").await;
    assert_eq!(all.len(), 4, "{all:?}");
    let actions: Vec<_> = all.iter().map(|e| field(e, "action").unwrap()).collect();
    assert_eq!(actions, ["issued", "revoked", "issued", "deleted"]);

    let issued = &all[0];
    assert_eq!(field(issued, "key_kind"), Some("issued"));
    assert_eq!(field(issued, "key_id"), Some(token_id.as_str()));
    assert_eq!(field(issued, "subject"), Some("alice"));
    assert_eq!(field(issued, "subject_kind"), Some("user"));
    assert_eq!(field(issued, "actor"), Some("user:alice"));
    assert_eq!(field(issued, "outcome"), Some("succeeded"));
    assert_eq!(field(issued, "at"), Some(format!("{t0}000").as_str()));
    assert_eq!(field(issued, "family"), None);

    let deleted = &all[3];
    assert_eq!(field(deleted, "key_kind"), Some("app-key"));
    assert_eq!(field(deleted, "key_id"), Some(record.id.as_str()));
    assert_eq!(field(deleted, "subject"), Some("demo-app"));
    assert_eq!(field(deleted, "actor"), Some("user:root"));

    let shown = format!("{all:?}");
    assert!(!shown.contains(token.expose()));
    assert!(!shown.contains(key.expose_secret()));
    assert_eq!((audit_one.dropped(), audit_two.dropped()), (0, 0));

    // Another deployment's trail is its own.
    let other = connect(&server, "other").audit().unwrap();
    other.record(AuditEvent::new(
        AuditAction::Revoked,
        Actor::System,
        std::time::SystemTime::now(),
    ));
    other.flush().await.unwrap();
    assert_eq!(entries(&server, "other:audit").await.len(), 1);
    assert_eq!(entries(&server, "shop:audit").await.len(), 4);
}

#[tokio::test]
async fn the_stream_stays_capped() {
    let server = RedisServer::start();
    let stores = connect(&server, "cap");
    let audit = stores.audit_with(10, 4096).unwrap();
    for i in 0..1000u64 {
        audit.record(
            AuditEvent::new(
                AuditAction::Issued,
                Actor::System,
                std::time::UNIX_EPOCH + Duration::from_secs(i),
            )
            .key(KeyKind::AppApiKey, format!("key-{i}")),
        );
    }
    audit.flush().await.unwrap();
    assert_eq!(audit.dropped(), 0);
    // `MAXLEN ~` trims whole stream nodes (100 entries each by default): about 10, never
    // the 1000 written.
    let len = xlen(&server, "cap:audit").await;
    assert!((10..=200).contains(&len), "{len} entries kept");
    let last = entries(&server, "cap:audit").await.pop().unwrap();
    assert_eq!(field(&last, "key_id"), Some("key-999"));
}

/// With Redis down, recording returns at once and the events are counted as dropped:
/// a login never waits for the audit trail.
#[tokio::test]
async fn recording_never_waits_for_a_redis_down() {
    let mut server = RedisServer::start();
    let stores = connect(&server, "down");
    let audit = stores.audit_with(100, 2).unwrap();
    server.stop();
    for _ in 0..50 {
        audit.record(AuditEvent::new(
            AuditAction::Revoked,
            Actor::System,
            std::time::SystemTime::now(),
        ));
    }
    audit.flush().await.unwrap();
    assert_eq!(audit.dropped(), 50, "each event dropped or not written");
}
