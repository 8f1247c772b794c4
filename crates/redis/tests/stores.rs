//! The Redis stores against a private redis-server: the key-store conformance suite (the
//! core's, also run on the memory store), digests only at rest, users, shared attempt counts, and failing closed while Redis is
//! down, then recovering without a restart.

#[path = "support/server.rs"]
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use server::RedisServer;
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::issue::RefreshTokens;
use tower_authn_core::throttle::{AttemptStore, Limit, Reservation, Throttle};
use tower_authn_core::{
    CredentialLocation, KeyHasher, KeyKind, KeyStore, KeyStoreExt, Principal, UserRecord,
    UserStore, UserStoreExt, Verifier,
};
use tower_authn_redis::{RedisConfig, RedisStores};

/// The pepper every instance of these tests shares.
const PEPPER: &[u8; 32] = b"test pepper, shared by instances";

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new(server.url()).key_pepper(*PEPPER)
}

fn stores(server: &RedisServer) -> RedisStores {
    RedisStores::connect(config(server)).expect("redis url")
}

fn at() -> CredentialLocation {
    CredentialLocation::Query("key".into())
}

#[tokio::test]
async fn the_redis_key_store_conforms() {
    let server = RedisServer::start();
    tower_authn_core::conformance::key_store(stores(&server).keys()).await;
}

#[tokio::test]
async fn the_redis_user_store_conforms() {
    let server = RedisServer::start();
    tower_authn_core::conformance::user_store(stores(&server).users()).await;
}

/// Every key name in Redis (binary: record keys end with a digest's 32 bytes).
fn all_keys(server: &RedisServer) -> Vec<Vec<u8>> {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    redis::cmd("KEYS").arg("*").query(&mut conn).unwrap()
}

/// Every value Redis holds, as text (bytes that are not UTF-8 as U+FFFD).
fn dump(server: &RedisServer) -> String {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = String::new();
    for k in all_keys(server) {
        let kind: String = redis::cmd("TYPE").arg(&k).query(&mut conn).unwrap();
        let items = |cmd: &str, conn: &mut redis::Connection| -> String {
            let items: Vec<Vec<u8>> = redis::cmd(cmd).arg(&k).query(conn).unwrap();
            format!("{:?}", items.iter().map(|i| text(i)).collect::<Vec<_>>())
        };
        let value = match kind.as_str() {
            "string" => text(
                &redis::cmd("GET")
                    .arg(&k)
                    .query::<Vec<u8>>(&mut conn)
                    .unwrap(),
            ),
            "hash" => items("HGETALL", &mut conn),
            "set" => items("SMEMBERS", &mut conn),
            other => other.to_owned(),
        };
        out.push_str(&format!("{} = {value}\n", text(&k)));
    }
    out
}

#[tokio::test]
async fn redis_holds_only_digests_and_phc_strings() {
    let server = RedisServer::start();
    let s = stores(&server);
    let keys = s.keys();
    let (_, app_key) = keys
        .issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
        .await
        .unwrap();
    let (_, token, secret) = keys
        .issue_access_pair(Principal::app("demo"), None)
        .await
        .unwrap();
    let phc = tower_authn_core::password::hash_password("wonderland").unwrap();
    let ha1b = tower_authn_core::password::ha1b("alice", "sip.example.com", "wonderland");
    let alice = UserRecord::new("alice", phc).with_ha1b(ha1b.clone());
    s.users().put_user(alice.clone()).await.unwrap();
    tower_authn_core::Ha1bVerifier::new(keys.clone())
        .register_user(&alice)
        .await
        .unwrap();
    let refresh = RefreshTokens::new(keys.clone());
    let grant = refresh.start(&Principal::user("alice")).await.unwrap();

    let everything = dump(&server);
    assert!(everything.contains("$argon2id$"), "{everything}");
    for secret in [
        app_key.as_str(),
        &token,
        &secret,
        "wonderland",
        &ha1b,
        grant.token.expose_secret(),
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} is in Redis:\n{everything}"
        );
        // Nor its unkeyed digest: what is there is keyed by the pepper, so a copy of Redis
        // cannot be searched offline (400k HA1B candidates a second on one core).
        let unkeyed = KeyHasher::Sha256.digest(secret).to_hex();
        assert!(
            !everything.contains(&unkeyed),
            "sha256({secret}) is in Redis"
        );
    }
    // A plaintext password is refused outright.
    assert!(
        s.users()
            .put_user(UserRecord::new("bob", "builder"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn users_are_shared_and_verified_by_their_phc_hash() {
    let server = RedisServer::start();
    let (a, b) = (stores(&server), stores(&server));
    let phc = tower_authn_core::password::hash_password("wonderland").unwrap();
    a.users()
        .put_user(
            UserRecord::new("alice", phc)
                .with_name("Alice")
                .with_roles(["admin"]),
        )
        .await
        .unwrap();
    let found = b.users().find_user("alice").await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_deref(), found.roles.as_slice()),
        (Some("Alice"), ["admin".to_owned()].as_slice())
    );
    let basic = |p: &str| BasicCredentials {
        username: "alice".into(),
        password: p.to_owned().into(),
    };
    let passwords = b.users().password_verifier();
    assert_eq!(
        passwords.verify(basic("wonderland")).await.unwrap().id,
        "alice"
    );
    assert_eq!(
        passwords.verify(basic("nope")).await.unwrap_err().status(),
        401
    );
    assert!(a.users().delete_user("alice").await.unwrap());
    assert!(!a.users().delete_user("alice").await.unwrap());
    assert_eq!(
        passwords
            .verify(basic("wonderland"))
            .await
            .unwrap_err()
            .status(),
        401
    );
}

#[tokio::test]
async fn attempt_counts_are_shared_between_instances() {
    let server = RedisServer::start();
    let (a, b) = (stores(&server).attempts(), stores(&server).attempts());
    let limit = Limit {
        max_failures: 3,
        window: Duration::from_secs(60),
    };
    let keys = vec![("principal:x".to_owned(), limit)];
    for _ in 0..3 {
        assert_eq!(a.reserve(&keys).await.unwrap(), Reservation::Granted);
    }
    // The other instance sees the full window and is refused.
    let Reservation::Locked { resets_in } = b.reserve(&keys).await.unwrap() else {
        panic!("a full window is locked on every instance");
    };
    // Redis's own TTL: within the window, and running (no bound on how much of it passed).
    assert!(resets_in <= limit.window && resets_in > Duration::ZERO);
    assert_eq!(b.failures("principal:x").await.unwrap().unwrap().count, 3);
    // A release gives one back to everyone; the last one removes the counter.
    b.release("principal:x").await.unwrap();
    assert_eq!(a.failures("principal:x").await.unwrap().unwrap().count, 2);
    assert_eq!(a.reserve(&keys).await.unwrap(), Reservation::Granted);
    // Two keys are reserved together or not at all.
    let both = vec![
        ("address:192.0.2.1".to_owned(), limit),
        ("principal:x".to_owned(), limit),
    ];
    assert!(matches!(
        a.reserve(&both).await.unwrap(),
        Reservation::Locked { .. }
    ));
    assert!(b.failures("address:192.0.2.1").await.unwrap().is_none());
    b.clear("principal:x").await.unwrap();
    assert!(a.failures("principal:x").await.unwrap().is_none());
    a.reserve(&keys).await.unwrap();
    a.release("principal:x").await.unwrap();
    assert!(a.failures("principal:x").await.unwrap().is_none());
}

#[tokio::test]
async fn a_burst_of_40_guesses_over_two_instances_gets_only_the_limit_verified() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use tower_authn_core::AuthError;
    use tower_authn_core::throttle::FromAddr;

    let server = RedisServer::start();
    let verified = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(AtomicBool::new(false));
    let (v, g) = (Arc::clone(&verified), Arc::clone(&gate));
    let guess = move |c: BasicCredentials| {
        v.fetch_add(1, Ordering::SeqCst);
        let g = Arc::clone(&g);
        async move {
            // Every verification stays in flight until the whole burst was answered.
            while !g.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if c.password.expose_secret() == "right" {
                Ok(Principal::user("alice"))
            } else {
                Err(AuthError::invalid("wrong"))
            }
        }
    };
    let instances = [stores(&server), stores(&server)].map(|s| {
        Throttle::with_store(s.attempts())
            .per_principal(5, Duration::from_secs(60))
            .verifier(guess.clone())
    });
    let burst = (0..40).map(|i| {
        let v = instances[i % 2].clone();
        let credential = BasicCredentials {
            username: "alice".into(),
            password: if i == 39 { "right" } else { "guess" }.to_owned().into(),
        };
        let addr = Some(format!("127.0.0.{}", i + 1).parse().unwrap());
        tokio::spawn(async move { v.verify(FromAddr { credential, addr }).await })
    });
    let handles: Vec<_> = burst.collect();
    // Poll for the 35 refusals (they never reach the verifier), then open the gate.
    let deadline = Instant::now() + Duration::from_secs(20);
    while handles.iter().filter(|h| h.is_finished()).count() < 35 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gate.store(true, Ordering::SeqCst);
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(
            h.await
                .unwrap()
                .map_or_else(|e| e.status().as_u16(), |_| 200),
        );
    }
    assert_eq!(
        verified.load(Ordering::SeqCst),
        5,
        "only the limit is verified"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 35);
    assert_eq!(statuses.iter().filter(|&&s| s == 401).count(), 5);
}

#[tokio::test]
async fn redis_down_fails_closed_and_comes_back_without_a_restart() {
    let mut server = RedisServer::start();
    let s = RedisStores::connect(config(&server).timeout(Duration::from_millis(300))).unwrap();
    let keys = s.keys();
    let (_, key) = keys
        .issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
        .await
        .unwrap();
    let verify = keys.verifier(KeyKind::AppApiKey);
    let cred = || TokenCredential::new(key.clone(), at());
    assert!(verify.verify(cred()).await.is_ok());

    server.stop();
    // A dead Redis is not waited on: the 300 ms call timeout answers (the generous bound
    // here only keeps a broken timeout from hanging the suite).
    let err = tokio::time::timeout(Duration::from_secs(30), verify.verify(cred()))
        .await
        .expect("a dead Redis is not waited on")
        .unwrap_err();
    assert_eq!(err.status(), 503);
    assert!(s.users().find_user("alice").await.is_err());
    assert!(s.ping().await.is_err());

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match verify.verify(cred()).await {
            Ok(p) => {
                assert_eq!(p.id, "demo");
                break;
            }
            Err(e) => {
                assert_eq!(e.status(), 503, "only 503 while Redis comes back");
                assert!(
                    Instant::now() < deadline,
                    "Redis is back but the store is not"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    s.ping().await.unwrap();
}

#[test]
fn connecting_needs_a_redis_url_a_pepper_and_a_runtime() {
    assert!(
        RedisStores::connect(RedisConfig::new("redis://127.0.0.1:1/").key_pepper(*PEPPER)).is_err(),
        "no runtime"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let err = RedisStores::connect(RedisConfig::new("postgres://nope").key_pepper(*PEPPER))
            .unwrap_err();
        assert!(!err.to_string().contains("nope"));
        // No pepper, or a short one: refused before anything is stored under it.
        let url = "redis://127.0.0.1:1/";
        let err = RedisStores::connect(RedisConfig::new(url)).unwrap_err();
        assert!(err.to_string().contains("key_pepper"), "{err}");
        let err = RedisStores::connect(RedisConfig::new(url).key_pepper(*b"short")).unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        let debug = format!("{:?}", RedisConfig::new(url).key_pepper(*PEPPER));
        assert!(!debug.contains("test pepper"), "{debug}");
        // Unkeyed digests only when chosen.
        assert!(RedisStores::connect(RedisConfig::new(url).key_hasher(KeyHasher::Sha256)).is_ok());
        let debug = format!("{:?}", RedisConfig::new("redis://user:hunter2@127.0.0.1/"));
        assert!(!debug.contains("hunter2"), "{debug}");
    });
}

#[tokio::test]
async fn user_writes_raise_one_rising_epoch_across_instances_and_end_older_credentials() {
    use tower_authn_core::cache::{CacheExt, VerificationCache};
    use tower_authn_core::user_state::UserStateExt;

    let server = RedisServer::start();
    let (a, b) = (stores(&server), stores(&server));
    let phc = tower_authn_core::password::hash_password("wonderland").unwrap();
    let first = a
        .users()
        .put_user(UserRecord::new("alice", phc).with_roles(["admin"]))
        .await
        .unwrap();
    assert!(first.epoch > 0, "the write gives an epoch");
    assert_eq!(
        b.users().find_user("alice").await.unwrap().unwrap().epoch,
        first.epoch
    );

    // B checks users live, behind a cache that hears every instance.
    let b_tokens = b
        .keys()
        .verifier(KeyKind::IssuedToken)
        .for_live_users(b.users())
        .cached(VerificationCache::new(b.invalidator()));
    let (_, token) = a
        .keys()
        .issue_key(KeyKind::IssuedToken, Principal::user("alice"), None)
        .await
        .unwrap();
    let cred = || TokenCredential::new(token.clone(), at());
    assert!(b_tokens.verify(cred()).await.unwrap().has_role("admin"));

    // Eight writers on two instances at once: every write lands, each raising the epoch.
    let writes = (0..8).map(|i| {
        let users = if i % 2 == 0 { a.users() } else { b.users() };
        async move { users.set_disabled("alice", i % 2 == 0).await }
    });
    for done in futures_util::future::join_all(writes).await {
        assert!(done.unwrap());
    }
    let after = a.users().find_user("alice").await.unwrap().unwrap();
    assert!(
        after.epoch >= first.epoch + 8,
        "{} after {}",
        after.epoch,
        first.epoch
    );

    // Enabled again on A: B still refuses the token issued before (its epoch is past), as
    // soon as it hears the change (poll; the bound only stops a hang).
    assert!(a.users().set_disabled("alice", false).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match b_tokens.verify(cred()).await {
            Err(e) if e.status() == 401 => break,
            other => {
                assert!(Instant::now() < deadline, "B still accepts: {other:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    // A token issued after the change works, with the roles the user has now. (Writes
    // faster than one a millisecond push the epoch past the clock: wait for the clock.)
    let changed = a
        .users()
        .put_user(
            a.users()
                .find_user("alice")
                .await
                .unwrap()
                .unwrap()
                .with_roles(["user"]),
        )
        .await
        .unwrap();
    while tower_authn_core::user_state::unix_millis(std::time::SystemTime::now()) <= changed.epoch {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (_, fresh) = a
        .keys()
        .issue_key(KeyKind::IssuedToken, Principal::user("alice"), None)
        .await
        .unwrap();
    let fresh = b_tokens
        .verify(TokenCredential::new(fresh, at()))
        .await
        .unwrap();
    assert!(fresh.has_role("user") && !fresh.has_role("admin"));

    // Deleted on B: gone for A, and disabling what is gone says so.
    assert!(b.users().delete_user("alice").await.unwrap());
    assert!(a.users().find_user("alice").await.unwrap().is_none());
    assert!(!a.users().set_disabled("alice", true).await.unwrap());
}

/// Issue 11, storage bounded: every key a login leaves in Redis expires, and an owner's set
/// of records stays near its live records however many were written.
#[tokio::test]
async fn what_logins_leave_in_redis_expires_and_owner_sets_stay_small() {
    let server = RedisServer::start();
    let s = RedisStores::connect(config(&server).retention(Duration::ZERO)).unwrap();
    let keys = s.keys();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let mut pttl = |key: &[u8]| -> i64 { redis::cmd("PTTL").arg(key).query(&mut conn).unwrap() };

    // A refresh family: its marker, the token, their id index entries and the owner's
    // records all expire (the marker with the family's life).
    let refresh = RefreshTokens::new(keys.clone()).family_life(Duration::from_secs(3600));
    let grant = refresh.start(&Principal::user("alice")).await.unwrap();
    let marker = keys
        .find_by_id(KeyKind::RefreshToken, &format!("family:{}", grant.family))
        .await
        .unwrap()
        .expect("the family's marker");
    let marker_key = [b"authn:r:r".as_slice(), &marker.digest.0].concat();
    for key in [marker_key.as_slice(), b"authn:o:r:alice"] {
        let ttl = pttl(key);
        assert!(
            ttl > 0 && ttl <= 3_600_000,
            "{}: PTTL {ttl}",
            String::from_utf8_lossy(key)
        );
    }
    // Everything in Redis now (marker, token, their id index buckets, the owner's hash)
    // expires.
    let everything = all_keys(&server);
    assert!(everything.len() >= 4, "{}", dump(&server));
    for key in &everything {
        assert!(
            pttl(key) > 0,
            "{} never expires",
            String::from_utf8_lossy(key)
        );
    }

    // 2,000 short-lived tokens of one owner, one after the other: the owner's set keeps a
    // handful of ids, not 2,000.
    for _ in 0..2000 {
        let soon = std::time::SystemTime::now() + Duration::from_millis(1);
        keys.issue_key(KeyKind::IssuedToken, Principal::user("bob"), Some(soon))
            .await
            .unwrap();
    }
    let members: i64 = redis::cmd("HLEN")
        .arg("authn:o:i:bob")
        .query(&mut client.get_connection().unwrap())
        .unwrap();
    assert!(
        members < 50,
        "the owner's hash holds {members} ids for ~1 live record"
    );
    // Nor do the id index's buckets keep them: they expire with their records.
    let mut conn = client.get_connection().unwrap();
    let buckets: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("authn:i:i:*")
        .query(&mut conn)
        .unwrap();
    let mut entries = 0;
    for b in &buckets {
        entries += redis::cmd("HLEN").arg(b).query::<i64>(&mut conn).unwrap();
    }
    assert!(
        entries < 50,
        "the id index holds {entries} ids for ~1 live record"
    );
    // A key that never expires keeps its owner's set.
    keys.issue_key(KeyKind::AppApiKey, Principal::app("demo"), None)
        .await
        .unwrap();
    assert_eq!(pttl(b"authn:o:a:demo"), -1);
}
