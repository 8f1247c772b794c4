//! The Opentact example server over real HTTP: the plain-HTTP redirect, `/rest/auth` with
//! Basic, the JWT in `X-Auth-Token` and `?jwt=`, the HA1B in `X-Auth-HA1B-Token` and
//! `?ha1b=`, and every documented error answer.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/opentact.rs"]
mod example;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Answer, basic, get, serve};
use tower_authn::clock::ManualClock;
use tower_authn::https_redirect::TrustedProxy;
use tower_authn::memory::MemoryUserStore;

const SECRET: &str = "opentact-example-secret-0123456789abcdef";
const HTTPS: (&str, &str) = ("x-forwarded-proto", "https");

fn users() -> MemoryUserStore {
    static USERS: OnceLock<MemoryUserStore> = OnceLock::new();
    USERS
        .get_or_init(|| example::demo::users().unwrap())
        .clone()
}

async fn start(trusted: Vec<TrustedProxy>) -> (String, ManualClock) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = ManualClock::at_unix(now);
    let origin = "https://api.opentact.example".parse().unwrap();
    let app = example::app(users(), SECRET, clock.clone(), trusted, origin)
        .await
        .unwrap();
    let addr = serve(app).await;
    (format!("http://{addr}"), clock)
}

fn loopback() -> Vec<TrustedProxy> {
    vec!["127.0.0.1".parse().unwrap()]
}

/// Opentact's failure shape: exactly `{success: false, message, status, meta, fields}`.
fn error_of(a: &Answer) -> u16 {
    let j = a.json();
    assert_eq!(j.as_object().map(|o| o.len()), Some(5), "{j}");
    assert_eq!(j["success"], false);
    assert!(
        j["message"].is_string() && j["meta"].is_string() && j["fields"].is_object(),
        "{j}"
    );
    assert_eq!(j["status"].as_u64(), Some(u64::from(a.status.as_u16())));
    a.status.as_u16()
}

#[tokio::test]
async fn plain_http_is_redirected_and_forwarded_proto_needs_a_trusted_proxy() {
    let (base, _) = start(loopback()).await;
    let plain = get(
        &format!("{base}/rest/auth?x=1&y=%20"),
        &[("authorization", &basic("bob@example.com", "builder"))],
    )
    .await;
    assert_eq!(plain.status, 302);
    assert_eq!(
        plain.headers["location"],
        "https://api.opentact.example/rest/auth?x=1&y=%20"
    );
    assert!(plain.body.is_empty());
    // The client's Host never picks the target.
    let evil = get(&format!("{base}/rest/auth"), &[("host", "evil.example")]).await;
    assert_eq!(
        (
            evil.status.as_u16(),
            evil.headers["location"].to_str().unwrap()
        ),
        (302, "https://api.opentact.example/rest/auth")
    );
    // Only a trusted proxy's X-Forwarded-Proto counts.
    assert_eq!(get(&format!("{base}/healthz"), &[HTTPS]).await.status, 200);
    let (untrusting, _) = start(Vec::new()).await;
    let spoofed = get(&format!("{untrusting}/healthz"), &[HTTPS]).await;
    assert_eq!(spoofed.status, 302);
    let other: TrustedProxy = "10.0.0.0/8".parse().unwrap();
    let (elsewhere, _) = start(vec![other]).await;
    assert_eq!(
        get(&format!("{elsewhere}/healthz"), &[HTTPS]).await.status,
        302
    );
}

#[tokio::test]
async fn rest_auth_then_every_place_the_credentials_go() {
    let (base, clock) = start(loopback()).await;
    let bob = basic("bob@example.com", "builder");
    let auth = get(
        &format!("{base}/rest/auth"),
        &[HTTPS, ("authorization", &bob)],
    )
    .await;
    assert_eq!(auth.status, 200);
    assert_eq!(auth.headers["cache-control"], "no-store");
    let j = auth.json();
    assert_eq!(j["success"], true);
    let p = &j["payload"];
    assert_eq!(
        (p["email"].as_str(), p["role"].as_str()),
        (Some("bob@example.com"), Some("user"))
    );
    assert_eq!(
        (
            p["first_name"].as_str(),
            p["last_name"].as_str(),
            p["uuid"].as_str()
        ),
        (Some("Bob"), Some("Builder"), Some("bob@example.com"))
    );
    let token = p["token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let h = get(
        &format!("{base}/rest/whoami"),
        &[HTTPS, ("x-auth-token", &token)],
    )
    .await;
    assert_eq!(
        (
            h.status.as_u16(),
            h.json()["id"].as_str(),
            h.json()["scheme"].as_str()
        ),
        (200, Some("bob@example.com"), Some("jwt"))
    );
    let q = get(&format!("{base}/rest/whoami?jwt={token}"), &[HTTPS]).await;
    assert_eq!(
        (q.status.as_u16(), q.json()["location"].as_str()),
        (200, Some("query:jwt"))
    );
    let b = get(
        &format!("{base}/rest/whoami"),
        &[HTTPS, ("authorization", &bob)],
    )
    .await;
    assert_eq!(b.json()["scheme"], "basic");

    // HA1B, hex in either case, header or query.
    let ha1b = tower_authn::password::ha1b("alice", example::demo::SIP_DOMAIN, "wonderland");
    for (uri, headers) in [
        (
            format!("{base}/rest/whoami"),
            vec![HTTPS, ("x-auth-ha1b-token", ha1b.as_str())],
        ),
        (
            format!("{base}/rest/whoami?ha1b={}", ha1b.to_uppercase()),
            vec![HTTPS],
        ),
    ] {
        let a = get(&uri, &headers).await;
        assert_eq!(
            (
                a.status.as_u16(),
                a.json()["id"].as_str(),
                a.json()["scheme"].as_str()
            ),
            (200, Some("alice"), Some("ha1b"))
        );
    }

    // The JWT lives 24 hours (plus the verifier's leeway).
    clock.advance(Duration::from_secs(25 * 3600)); // past the leeway too
    let expired = get(
        &format!("{base}/rest/whoami"),
        &[HTTPS, ("x-auth-token", &token)],
    )
    .await;
    assert_eq!(error_of(&expired), 401);
}

#[tokio::test]
async fn documented_errors() {
    let (base, _) = start(loopback()).await;
    let wrong = get(
        &format!("{base}/rest/auth"),
        &[HTTPS, ("authorization", &basic("bob@example.com", "nope"))],
    )
    .await;
    let unknown = get(
        &format!("{base}/rest/auth"),
        &[HTTPS, ("authorization", &basic("eve@example.com", "nope"))],
    )
    .await;
    assert_eq!(error_of(&wrong), 401);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(wrong.json()["meta"], "invalid_credentials");

    let none = get(&format!("{base}/rest/auth"), &[HTTPS]).await;
    assert_eq!(error_of(&none), 401);
    assert!(none.challenges()[0].starts_with("Basic realm=\"opentact\""));
    let malformed = get(
        &format!("{base}/rest/auth"),
        &[HTTPS, ("authorization", "Basic !!!")],
    )
    .await;
    assert_eq!(error_of(&malformed), 400);

    let bad_jwt = get(
        &format!("{base}/rest/whoami"),
        &[HTTPS, ("x-auth-token", "a.b.c")],
    )
    .await;
    assert!(matches!(error_of(&bad_jwt), 400 | 401));
    for bad in [
        "not-hex",
        "48d2196d7c9e2829258edccf96575c0",
        "48d2196d7c9e2829258edccf96575c0z",
    ] {
        let a = get(
            &format!("{base}/rest/whoami"),
            &[HTTPS, ("x-auth-ha1b-token", bad)],
        )
        .await;
        assert_eq!(error_of(&a), 400, "{bad}");
        assert_eq!(a.json()["meta"], "malformed_credentials");
    }
    let wrong_ha1b = get(
        &format!("{base}/rest/whoami?ha1b=a0bbf6034b8565747c15ee9850d9215a"),
        &[HTTPS],
    )
    .await;
    assert_eq!(error_of(&wrong_ha1b), 401);
    let twice = get(
        &format!("{base}/rest/whoami?ha1b=a0bbf6034b8565747c15ee9850d9215a"),
        &[
            HTTPS,
            ("x-auth-ha1b-token", "a0bbf6034b8565747c15ee9850d9215a"),
        ],
    )
    .await;
    assert_eq!(error_of(&twice), 400);
    let anon = get(&format!("{base}/rest/whoami"), &[HTTPS]).await;
    assert_eq!(error_of(&anon), 401);
    assert_eq!(anon.challenges().len(), 3, "{:?}", anon.challenges());
}
