//! "Every change is one Lua script, so a record and its indexes are never half-written"
//! (crate docs, README): watched with `MONITOR`, each change of the key store (put, revoke,
//! consume, delete) reaches Redis as exactly one command, a script, and the invalidation
//! it announces is published from inside that script.

#[path = "support/server.rs"]
mod server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use server::RedisServer;
use tower_authn_core::{KeyKind, KeyRecord, KeyStore, Principal};
use tower_authn_redis::{RedisConfig, RedisStores};

/// Every line `MONITOR` printed, in order, from a thread of its own.
fn monitor(url: &str) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let () = redis::cmd("MONITOR").query(&mut conn).unwrap();
    let out = Arc::clone(&lines);
    std::thread::spawn(move || {
        while let Ok(value) = conn.recv_response() {
            let line = match value {
                redis::Value::SimpleString(s) => s,
                other => format!("{other:?}"),
            };
            out.lock().unwrap().push(line);
        }
    });
    lines
}

/// The lines between the markers `begin` and `end`, once `end` was seen.
async fn between(
    lines: &Arc<Mutex<Vec<String>>>,
    marker: &mut redis::Connection,
    begin: &str,
    end: &str,
) -> Vec<String> {
    let _: String = redis::cmd("ECHO").arg(end).query(marker).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        {
            let lines = lines.lock().unwrap();
            let at = |m: &str| lines.iter().position(|l| l.contains(&format!("\"{m}\"")));
            if let (Some(b), Some(e)) = (at(begin), at(end)) {
                return lines[b + 1..e].to_vec();
            }
        }
        assert!(Instant::now() < deadline, "MONITOR never showed {end}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_store_change_is_one_script_that_also_publishes() {
    let server = RedisServer::start();
    // A slow heartbeat, so that nothing but the changes runs meanwhile.
    let stores = RedisStores::connect(
        RedisConfig::new(server.url())
            .key_pepper(*b"test pepper, shared by instances")
            .heartbeat(Duration::from_secs(3600))
            .max_silence(Duration::from_secs(7200)),
    )
    .unwrap();
    let keys = stores.keys();
    let record = |id: &str| {
        KeyRecord::new(
            id,
            KeyKind::RefreshToken,
            keys.key_hasher().digest(&format!("secret-of-{id}")),
            Principal::user("alice"),
            SystemTime::now(),
        )
        .with_family("family-1")
    };
    // Once each first: the scripts get loaded (EVALSHA, NOSCRIPT, SCRIPT LOAD ...).
    keys.put(record("warm")).await.unwrap();
    keys.revoke(KeyKind::RefreshToken, "warm").await.unwrap();
    keys.put(record("warm")).await.unwrap();
    keys.consume(KeyKind::RefreshToken, "warm").await.unwrap();
    keys.delete(KeyKind::RefreshToken, "warm").await.unwrap();

    let lines = monitor(&server.url());
    let mut marker = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: String = redis::cmd("ECHO")
        .arg("begin-0")
        .query(&mut marker)
        .unwrap();
    let mut changes = 0;
    for step in 0..4 {
        let (begin, end) = (format!("begin-{step}"), format!("begin-{}", step + 1));
        let what = match step {
            0 => {
                keys.put(record("r1")).await.unwrap();
                "put"
            }
            1 => {
                assert!(keys.revoke(KeyKind::RefreshToken, "r1").await.unwrap());
                "revoke"
            }
            2 => {
                keys.put(record("r2")).await.unwrap();
                assert!(
                    keys.consume(KeyKind::RefreshToken, "r2")
                        .await
                        .unwrap()
                        .is_some()
                );
                "put + consume"
            }
            _ => {
                assert!(keys.delete(KeyKind::RefreshToken, "r1").await.unwrap());
                "delete"
            }
        };
        let seen = between(&lines, &mut marker, &begin, &end).await;
        // Commands sent by a client, not run by a script ("[0 lua]").
        let sent: Vec<&String> = seen.iter().filter(|l| !l.contains(" lua] ")).collect();
        let expected = if step == 2 { 2 } else { 1 };
        assert_eq!(sent.len(), expected, "{what}: {seen:#?}");
        for command in &sent {
            assert!(
                command.contains("\"EVALSHA\"") || command.contains("\"EVAL\""),
                "{what}: {command}"
            );
        }
        let published = seen
            .iter()
            .filter(|l| l.contains(" lua] ") && l.contains("\"PUBLISH\""))
            .count();
        assert_eq!(published, expected, "{what}: {seen:#?}");
        changes += sent.len();
    }
    assert_eq!(changes, 5);
}
