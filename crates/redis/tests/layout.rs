//! The key store's layout in Redis (issue 14): what a key costs in Redis memory, and the
//! records earlier versions wrote (JSON, a hash per record) still read, changed and
//! moved to the compact layout when written again.

#![allow(clippy::print_stdout)]

#[path = "support/server.rs"]
mod server;

use futures_util::future::join_all;
use server::RedisServer;
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::issue::{AppKeys, Expiry};
use tower_authn_core::{
    CredentialLocation, KeyHasher, KeyKind, KeyStore, KeyStoreExt, Principal, Verifier,
};
use tower_authn_redis::{RedisConfig, RedisStores};

const PEPPER: &[u8; 32] = b"test pepper, shared by instances";

fn stores(server: &RedisServer) -> RedisStores {
    RedisStores::connect(RedisConfig::new(server.url()).key_pepper(*PEPPER)).expect("redis url")
}

fn conn(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn used_memory(server: &RedisServer) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut conn(server))
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO memory says used_memory")
}

/// Adds `n` app keys of `apps` apps through the key API (a masked hint each, never
/// expiring); the Redis memory they take, per key.
async fn bytes_per_app_key(n: usize, apps: usize) -> i64 {
    let server = RedisServer::start();
    let keys = AppKeys::new(stores(&server).keys());
    // The scripts loaded, the connection up.
    keys.insert_plaintext("warm-up", "warm-up-key-00000000000", Expiry::Never, None)
        .await
        .unwrap();
    let before = used_memory(&server);
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let adds = chunk.iter().map(|&i| {
            let (app, key) = (format!("app-{:04}", i % apps), format!("k{i:042}"));
            let keys = keys.clone();
            async move {
                keys.insert_plaintext(&app, &key, Expiry::Never, None)
                    .await
                    .unwrap()
            }
        });
        join_all(adds).await;
    }
    let per_key = (used_memory(&server) - before) / n as i64;
    println!("redis: {n} app keys of {apps} apps take {per_key} B each (INFO used_memory)");
    per_key
}

#[tokio::test]
async fn a_hundred_thousand_app_keys_take_at_most_300_bytes_each() {
    // 1,373 B per key before the compact layout (JSON records, two Redis keys per record).
    let per_key = bytes_per_app_key(100_000, 1_000).await;
    assert!(per_key <= 300, "{per_key} B per key");
}

#[tokio::test]
async fn the_keys_of_one_big_app_take_at_most_400_bytes_each() {
    // An owner's hash of more than 128 records is no longer a listpack: ~56 B more a key.
    let per_key = bytes_per_app_key(20_000, 1).await;
    assert!(per_key <= 400, "{per_key} B per key");
}

/// A record as versions before the compact layout wrote it (`keys.rs` then): a hash of
/// the JSON, the digest in hex, the owner and the revoked flag; a digest key; an owner set.
fn write_legacy(server: &RedisServer, kind: &str, id: &str, digest_hex: &str, owner: &str) {
    let json = format!(
        r#"{{"id":"{id}","kind":"{kind}","digest":"{digest_hex}","secret_digest":null,"principal":{{"id":"{owner}","kind":"app","scheme":"app-api-key","name":null,"email":null,"roles":["push"],"scopes":[],"app_id":"{owner}","key_id":null,"expires_at":null,"attributes":{{}}}},"created_at":1700000000123,"expires_at":null,"description":"from before","family":null,"hint":"abcd****wxyz","updated_at":null}}"#
    );
    let mut c = conn(server);
    let _: i64 = redis::cmd("HSET")
        .arg(format!("authn:key:{kind}:{id}"))
        .arg("rec")
        .arg(json)
        .arg("digest")
        .arg(digest_hex)
        .arg("owner")
        .arg(owner)
        .arg("revoked")
        .arg("0")
        .query(&mut c)
        .unwrap();
    let () = redis::cmd("SET")
        .arg(format!("authn:digest:{kind}:{digest_hex}"))
        .arg(id)
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("SADD")
        .arg(format!("authn:owner:{kind}:{owner}"))
        .arg(id)
        .query(&mut c)
        .unwrap();
}

fn exists(server: &RedisServer, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query::<i64>(&mut conn(server))
        .unwrap()
        == 1
}

#[tokio::test]
async fn records_of_the_json_layout_are_read_changed_and_moved_when_written() {
    let server = RedisServer::start();
    let keys = stores(&server).keys();
    let hasher = KeyHasher::hmac(PEPPER.to_vec());
    let hex = |key: &str| hasher.digest(key).to_hex();
    for (id, key) in [("old1", "legacy-key-1"), ("old2", "legacy-key-2")] {
        write_legacy(&server, "app-key", id, &hex(key), "legacy-app");
    }
    write_legacy(
        &server,
        "refresh",
        "old-r",
        &hex("legacy-refresh"),
        "legacy-app",
    );
    let at = || CredentialLocation::Query("key".into());
    let verify = keys.verifier(KeyKind::AppApiKey);

    // Found by digest (verified) and by id, as they were.
    let who = verify
        .verify(TokenCredential::new("legacy-key-1", at()))
        .await
        .unwrap();
    assert_eq!(
        (who.id.as_str(), who.key_id.as_deref(), who.roles.as_slice()),
        ("legacy-app", Some("old1"), ["push".to_owned()].as_slice())
    );
    let old1 = keys
        .find_by_id(KeyKind::AppApiKey, "old1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old1.description.as_deref(), Some("from before"));
    assert_eq!(old1.hint.as_deref(), Some("abcd****wxyz"));

    // Listed beside the records of the new layout.
    keys.issue_key(
        KeyKind::AppApiKey,
        Principal::app("legacy-app").with_app_id("legacy-app"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        keys.list(KeyKind::AppApiKey, Some("legacy-app"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(keys.list(KeyKind::AppApiKey, None).await.unwrap().len(), 3);

    // Revoked, consumed, deleted.
    assert!(keys.revoke(KeyKind::AppApiKey, "old2").await.unwrap());
    let refused = verify
        .verify(TokenCredential::new("legacy-key-2", at()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "revoked");
    assert!(keys.delete(KeyKind::AppApiKey, "old2").await.unwrap());
    assert!(!exists(&server, "authn:key:app-key:old2"));
    assert!(!exists(
        &server,
        &format!("authn:digest:app-key:{}", hex("legacy-key-2"))
    ));
    let first = keys.consume(KeyKind::RefreshToken, "old-r").await.unwrap();
    assert!(first.is_some_and(|r| !r.revoked));
    assert!(
        keys.consume(KeyKind::RefreshToken, "old-r")
            .await
            .unwrap()
            .is_none()
    );

    // Written again, a record moves to the compact layout: nothing of it stays in the old.
    let mut changed = old1;
    changed.description = Some("moved".to_owned());
    keys.put(changed).await.unwrap();
    assert!(!exists(&server, "authn:key:app-key:old1"));
    assert!(!exists(
        &server,
        &format!("authn:digest:app-key:{}", hex("legacy-key-1"))
    ));
    assert!(!exists(&server, "authn:owner:app-key:legacy-app"));
    let who = verify
        .verify(TokenCredential::new("legacy-key-1", at()))
        .await
        .unwrap();
    assert_eq!(who.key_id.as_deref(), Some("old1"));
    let moved = keys
        .find_by_id(KeyKind::AppApiKey, "old1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.description.as_deref(), Some("moved"));
    assert_eq!(
        keys.list(KeyKind::AppApiKey, Some("legacy-app"))
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_later_record_with_the_same_digest_replaces_the_earlier() {
    let server = RedisServer::start();
    let keys = stores(&server).keys();
    let d = keys.key_hasher().digest("one-secret");
    let rec = |id: &str| {
        tower_authn_core::KeyRecord::new(
            id,
            KeyKind::DeviceToken,
            d,
            Principal::device("phone").with_app_id("demo"),
            std::time::SystemTime::now(),
        )
    };
    keys.put(rec("a")).await.unwrap();
    keys.put(rec("b")).await.unwrap();
    let found = keys.find_by_digest(KeyKind::DeviceToken, d).await.unwrap();
    assert_eq!(found.map(|r| r.id).as_deref(), Some("b"));
    assert!(
        keys.find_by_id(KeyKind::DeviceToken, "a")
            .await
            .unwrap()
            .is_none()
    );
    let listed = keys.list(KeyKind::DeviceToken, Some("demo")).await.unwrap();
    assert_eq!(listed.len(), 1);
}
