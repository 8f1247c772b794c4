//! Two gateways (GATEWAY.md) on one Redis (`REDIS_URL`), over real HTTP, as two instances
//! behind a load balancer: what one creates the other accepts, what one revokes the other
//! refuses, a Redis stopped mid-traffic makes both answer 503 with zero false accepts, and
//! when Redis is back traffic recovers without a restart.
//!
//! Each test starts its own `redis-server` on a free port (and fails without one). No
//! wall-clock bound is asserted and no fixed sleep stands in for an event: the tests poll
//! for the event itself with a generous deadline.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};
#[path = "../crates/redis/tests/support/server.rs"]
mod redis_server;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use redis_server::RedisServer;
use serde_json::json;
use support::{Server, basic, field, send};

const JWT_SECRET: &str = "gateway-test-secret-0123456789abcdef";

/// How long a test waits for an event before it fails: generous, nothing here is about
/// speed (two shared cores).
const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `event` until it holds; fails the test, naming `what`, past [`DEADLINE`].
async fn eventually(what: &str, mut event: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !event().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A gateway on the Redis at `redis`, with the secrets every instance shares.
async fn gateway(redis: &RedisServer, extra: &[(&str, &str)]) -> Server {
    let mut env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0".to_owned()),
        ("PLAY_AUTH_TOKEN", "gateway-shared-token".to_owned()),
        ("GATEWAY_JWT_SECRET", JWT_SECRET.to_owned()),
        (
            "CCAI_COMPANY_SECRET",
            "ccai-company-secret-0123456789".to_owned(),
        ),
        ("REDIS_URL", redis.url()),
        (
            "GATEWAY_KEY_PEPPER",
            "gateway-key-pepper-of-32-bytes-or-more".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let router = app::build(&config).await.expect("gateway on redis");
    Server::at(support::serve(router).await)
}

/// An admin's Volt MX claims token, from `gw`'s login.
async fn admin_claims(gw: &Server) -> String {
    let login = gw
        .post_json(
            "/authService/accounts/login",
            &[],
            json!({"userid": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.json());
    field(&login, "/claims_token/value")
}

/// Adds an app API key for `demo-app` through `gw`'s key management.
async fn add_app_key(gw: &Server, claims: &str) -> String {
    let add = gw
        .post_json(
            "/api/v1/applications/key",
            &[("x-voltmx-authorization", claims)],
            json!({"appId": "demo-app", "neverExpires": true}),
        )
        .await;
    assert_eq!(add.status, 200, "{:?}", add.json());
    field(&add, "/id")
}

async fn delete_app_key(gw: &Server, claims: &str, key: &str) {
    let deleted = send(
        Method::DELETE,
        &gw.url(&format!("/api/v1/applications/key/{key}")),
        &[("x-voltmx-authorization", claims)],
        "",
    )
    .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.json());
}

async fn app_whoami(gw: &Server, key: &str) -> u16 {
    gw.get("/app/whoami", &[("x-voltmx-app-api-key", key)])
        .await
        .status
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_users_keys_tokens_and_revocations() {
    let redis = RedisServer::start();
    let a = gateway(&redis, &[]).await;
    let b = gateway(&redis, &[]).await;

    // The demo identities, seeded once by whichever started first.
    let alice = b
        .get(
            "/basic/whoami",
            &[("authorization", &basic("alice", "wonderland"))],
        )
        .await;
    assert_eq!(
        (alice.status.as_u16(), field(&alice, "/id")),
        (200, "alice".to_owned())
    );
    assert_eq!(app_whoami(&b, "demo-app-key-1").await, 200);
    let claims = admin_claims(&a).await;
    let listed = b
        .get(
            "/api/v1/applications/key?appId=demo-app",
            &[("x-voltmx-authorization", &claims)],
        )
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body.windows(8).filter(|w| w == b"demo key").count(),
        1,
        "the demo key is seeded once: {:?}",
        listed.json()
    );

    // A key created on A is accepted by B (twice: the second answer is B's cache).
    let key = add_app_key(&a, &claims).await;
    assert_eq!(app_whoami(&b, &key).await, 200);
    assert_eq!(app_whoami(&b, &key).await, 200);

    // Revoked (deleted) on A: B refuses it.
    delete_app_key(&a, &claims, &key).await;
    eventually("B refuses a key deleted on A", async || {
        app_whoami(&b, &key).await == 401
    })
    .await;
    assert_eq!(app_whoami(&a, &key).await, 401);

    // A XiVO login token issued by A works on B.
    let login = a
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(login.status, 200);
    let token = field(&login, "/token");
    let who = b.get("/token/whoami", &[("x-auth-token", &token)]).await;
    assert_eq!(
        (who.status.as_u16(), field(&who, "/id")),
        (200, "alice".to_owned())
    );

    // Refresh tokens: rotated on B, reused on A, and the whole family dies everywhere.
    let login = a
        .post_json(
            "/authService/accounts/login",
            &[],
            json!({"userid": "alice", "password": "wonderland"}),
        )
        .await;
    let first = field(&login, "/refresh_token");
    let rotated = b
        .post_json(
            "/authService/accounts/refresh",
            &[],
            json!({"refresh_token": first}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.json());
    let second = field(&rotated, "/refresh_token");
    let reuse = a
        .post_json(
            "/authService/accounts/refresh",
            &[],
            json!({"refresh_token": first}),
        )
        .await;
    assert_eq!(reuse.status, 401);
    let newest = b
        .post_json(
            "/authService/accounts/refresh",
            &[],
            json!({"refresh_token": second}),
        )
        .await;
    assert_eq!(newest.status, 401, "reuse on A revoked the family on B");

    // Who changed which key, and when, is one trail for both instances: the key added and
    // deleted on A, the session started on A and the refresh rotated on B and its family
    // revoked on A are all in the shared stream.
    eventually(
        "every lifecycle change in the shared audit stream",
        async || {
            let trail = audit_trail(&redis);
            ["issued", "deleted", "rotated", "family_revoked_on_reuse"]
                .iter()
                .all(|action| trail.contains(&format!("action\n{action}\n")))
        },
    )
    .await;
    let trail = audit_trail(&redis);
    for secret in [
        key.as_str(),
        token.as_str(),
        first.as_str(),
        second.as_str(),
    ] {
        assert!(!trail.contains(secret), "a secret in the audit trail");
    }
}

/// The audit stream both gateways write (`authn:audit`), as `redis-cli` prints it.
fn audit_trail(redis: &RedisServer) -> String {
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port().to_string(),
            "XRANGE",
            "authn:audit",
            "-",
            "+",
        ])
        .output()
        .expect("redis-cli (scripts/deps installs redis-server, which brings it)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the traffic saw, in order: (gateway, credential, status).
type Log = Arc<Mutex<Vec<(usize, &'static str, u16)>>>;

/// Whether `log`, from entry `from` on, holds `status` for `what` on every gateway.
fn seen_on_both(log: &Log, from: usize, what: &str, status: u16) -> bool {
    let log = log.lock().unwrap();
    (0..2).all(|gw| {
        log[from.min(log.len())..]
            .iter()
            .any(|&(g, w, s)| g == gw && w == what && s == status)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_traffic_answers_503_with_no_false_accept_then_recovers() {
    let mut redis = RedisServer::start();
    let a = Arc::new(gateway(&redis, &[]).await);
    let b = Arc::new(gateway(&redis, &[]).await);
    let claims = admin_claims(&a).await;
    let good = add_app_key(&a, &claims).await;
    let revoked = add_app_key(&a, &claims).await;
    assert_eq!(app_whoami(&b, &revoked).await, 200);
    delete_app_key(&a, &claims, &revoked).await;
    eventually("B refuses a key deleted on A", async || {
        app_whoami(&b, &revoked).await == 401
    })
    .await;
    assert_eq!(app_whoami(&b, &good).await, 200);

    // Traffic on both gateways, logged as it goes: a good key, a revoked key, an unknown
    // key, a wrong password. It stops when told (or with the test's runtime).
    let stop = Arc::new(AtomicBool::new(false));
    let log: Log = Arc::default();
    let traffic = {
        let (a, b, stop, log) = (
            Arc::clone(&a),
            Arc::clone(&b),
            Arc::clone(&stop),
            Arc::clone(&log),
        );
        let (good, revoked) = (good.clone(), revoked.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                for (i, gw) in [&a, &b].into_iter().enumerate() {
                    for (what, status) in [
                        ("good", app_whoami(gw, &good).await),
                        ("revoked", app_whoami(gw, &revoked).await),
                        ("unknown", app_whoami(gw, "no-such-key-0123456789").await),
                        (
                            "wrong password",
                            gw.get(
                                "/basic/whoami",
                                &[("authorization", &basic("alice", "not-her-password"))],
                            )
                            .await
                            .status
                            .as_u16(),
                        ),
                    ] {
                        log.lock().unwrap().push((i, what, status));
                    }
                }
            }
        })
    };
    eventually("the traffic was served before the outage", async || {
        seen_on_both(&log, 0, "good", 200)
    })
    .await;

    // Redis stops: both gateways fail closed (503) for the key that was good, and the
    // traffic sees it.
    redis.stop();
    for gw in [&a, &b] {
        eventually("a gateway answers 503 without Redis", async || {
            app_whoami(gw, &good).await == 503
        })
        .await;
    }
    let down = gw_statuses(&a, &b, &good).await;
    assert_eq!(down, [503, 503]);
    eventually("the traffic saw the outage on both gateways", async || {
        seen_on_both(&log, 0, "good", 503)
    })
    .await;

    // Redis is back (same data): traffic recovers on both without a restart.
    redis.restart();
    for gw in [&a, &b] {
        eventually("a gateway recovered when Redis came back", async || {
            app_whoami(gw, &good).await == 200
        })
        .await;
    }
    let recovered = log.lock().unwrap().len();
    eventually("the traffic recovered on both gateways", async || {
        seen_on_both(&log, recovered, "good", 200)
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    traffic.await.expect("traffic");
    let log = std::mem::take(&mut *log.lock().unwrap());

    // Zero false accepts, before, during and after the outage.
    let statuses = |what: &str, gw: Option<usize>| -> Vec<u16> {
        log.iter()
            .filter(|&&(g, w, _)| w == what && gw.is_none_or(|gw| gw == g))
            .map(|&(_, _, s)| s)
            .collect()
    };
    for what in ["revoked", "unknown", "wrong password"] {
        let seen = statuses(what, None);
        assert!(!seen.is_empty());
        assert!(
            seen.iter().all(|s| *s == 401 || *s == 503),
            "{what}: {seen:?}"
        );
    }
    let good_seen = statuses("good", None);
    assert!(
        good_seen.iter().all(|s| *s == 200 || *s == 503),
        "{good_seen:?}"
    );
    for gw in 0..2 {
        let on = statuses("good", Some(gw));
        assert!(on.contains(&503), "the outage was seen on gateway {gw}");
        assert_eq!(
            on.last(),
            Some(&200),
            "the traffic recovered on gateway {gw}"
        );
    }
    assert_eq!(app_whoami(&b, &revoked).await, 401);
}

async fn gw_statuses(a: &Server, b: &Server, key: &str) -> [u16; 2] {
    [app_whoami(a, key).await, app_whoami(b, key).await]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_throttled_across_gateways_without_revealing_accounts() {
    let redis = RedisServer::start();
    let on = [("GATEWAY_THROTTLE", "1")];
    let a = gateway(&redis, &on).await;
    let b = gateway(&redis, &on).await;
    // Five failures for a real user and for a missing one, spread over both gateways.
    for user in ["bob@example.com", "nobody@example.com"] {
        for i in 0..5 {
            let gw = if i % 2 == 0 { &a } else { &b };
            let failed = gw
                .get("/basic/whoami", &[("authorization", &basic(user, "guess"))])
                .await;
            assert_eq!(failed.status, 401);
        }
    }
    // The sixth answers 429 on either gateway, identically for both accounts, even with
    // the right password; the login route counts the same attempts.
    let bob = b
        .get(
            "/basic/whoami",
            &[("authorization", &basic("bob@example.com", "builder"))],
        )
        .await;
    let nobody = a
        .get(
            "/basic/whoami",
            &[("authorization", &basic("nobody@example.com", "guess"))],
        )
        .await;
    for locked in [&bob, &nobody] {
        assert_eq!(locked.status, 429);
        let retry: u64 = locked.headers["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=900).contains(&retry), "{retry}");
    }
    assert_eq!(bob.body, nobody.body);
    let login = a
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            json!({"login": "bob@example.com", "password": "builder"}),
        )
        .await;
    assert_eq!(login.status, 429);
    // Another user is not locked.
    let alice = a
        .get(
            "/basic/whoami",
            &[("authorization", &basic("alice", "wonderland"))],
        )
        .await;
    assert_eq!(alice.status, 200);
}

/// Issue 11: a user disabled in the shared store loses every credential on every gateway,
/// what another gateway issued included (polled: a gateway hears the change, it is not
/// timed here; `cargo run -p tower-authn-redis --example propagation` measures how soon);
/// and a gateway started with `GATEWAY_DISABLED_USERS` disables the user for all of them.
#[tokio::test]
async fn a_user_disabled_in_redis_loses_every_credential_on_every_gateway() {
    use tower_authn::UserStore as _;

    let redis = RedisServer::start();
    let (a, b) = (gateway(&redis, &[]).await, gateway(&redis, &[]).await);
    let probes = support::alice_credentials(&a).await;
    for gw in [&a, &b] {
        for probe in &probes {
            assert_eq!(
                support::probe_status(gw, probe).await,
                200,
                "{} before",
                probe.0
            );
        }
    }

    // Disabled through the library, on a third handle of the same Redis.
    let stores = tower_authn::redis::RedisStores::connect(
        tower_authn::redis::RedisConfig::new(redis.url())
            .key_pepper("gateway-key-pepper-of-32-bytes-or-more"),
    )
    .expect("redis");
    assert!(stores.users().disable_user("alice").await.expect("disable"));
    let deadline = Instant::now() + Duration::from_secs(10);
    for gw in [&a, &b] {
        for probe in &probes {
            loop {
                let status = support::probe_status(gw, probe).await;
                if status == 401 {
                    break;
                }
                assert_eq!(
                    status, 200,
                    "{}: only 200 until the change is heard",
                    probe.0
                );
                assert!(Instant::now() < deadline, "{} still accepted", probe.0);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    // A gateway started with GATEWAY_DISABLED_USERS=bob disables him for the others too.
    let bob = basic("bob@example.com", "builder");
    assert_eq!(
        a.get("/basic/whoami", &[("authorization", &bob)])
            .await
            .status,
        200
    );
    let _c = gateway(&redis, &[("GATEWAY_DISABLED_USERS", "bob@example.com")]).await;
    loop {
        let status = a
            .get("/basic/whoami", &[("authorization", &bob)])
            .await
            .status;
        if status == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(10),
            "bob still accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The variable only ever disables: a start without it enables nobody (a user disabled
    // by an operator stays disabled however often gateways restart).
    let _d = gateway(&redis, &[]).await;
    assert_eq!(
        a.get("/basic/whoami", &[("authorization", &bob)])
            .await
            .status,
        401
    );
    assert_eq!(
        support::probe_status(&a, probes.last().expect("basic")).await,
        401
    );
}
