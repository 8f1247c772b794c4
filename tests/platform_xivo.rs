//! The XiVO example server over real HTTP: login, every place the token goes, check
//! (renew), expiry, logout, and every documented error answer.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/xivo.rs"]
mod example;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::Method;
use serde_json::Value;
use support::{Answer, get, send, serve};
use tower_authn::SharedTokenVerifier;
use tower_authn::clock::ManualClock;
use tower_authn::memory::MemoryUserStore;

const LOGIN: &str = "/xuc/api/2.0/auth/login";
const CHECK: &str = "/xuc/api/2.0/auth/check";
const JSON: (&str, &str) = ("content-type", "application/json");

fn users() -> MemoryUserStore {
    static USERS: OnceLock<MemoryUserStore> = OnceLock::new();
    USERS
        .get_or_init(|| example::demo::users().unwrap())
        .clone()
}

async fn start() -> (String, ManualClock) {
    let clock = ManualClock::at_unix(1_700_000_000);
    let app = example::app(
        users(),
        SharedTokenVerifier::new("s3rver"),
        Arc::new(clock.clone()),
    );
    (format!("http://{}", serve(app).await), clock)
}

async fn login(base: &str, body: &str) -> Answer {
    send(
        Method::POST,
        &format!("{base}{LOGIN}"),
        &[JSON],
        body.to_owned(),
    )
    .await
}

/// XiVO's error shape: exactly `{error, message}`; returns the status and the code.
fn error_of(a: &Answer) -> (u16, Value) {
    let j = a.json();
    assert_eq!(j.as_object().map(|o| o.len()), Some(2), "{j}");
    assert!(j["message"].is_string());
    (a.status.as_u16(), j["error"].clone())
}

#[tokio::test]
async fn login_use_check_expire_logout() {
    let (base, clock) = start().await;
    let ok = login(&base, r#"{"login":"alice","password":"wonderland"}"#).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers["cache-control"], "no-store");
    let j = ok.json();
    assert_eq!(
        (j["login"].as_str(), j["TTL"].as_u64()),
        (Some("alice"), Some(3600))
    );
    assert_eq!(j.as_object().unwrap().len(), 3);
    let token = j["token"].as_str().unwrap().to_owned();

    // Every place the token goes.
    let h = get(&format!("{base}/whoami"), &[("x-auth-token", &token)]).await;
    assert_eq!(
        (
            h.status.as_u16(),
            h.json()["id"].as_str(),
            h.json()["scheme"].as_str()
        ),
        (200, Some("alice"), Some("token"))
    );
    assert_eq!(h.json()["name"], "Alice Liddell");
    let q = get(&format!("{base}/whoami?token={token}"), &[]).await;
    assert_eq!(q.json()["location"], "query:token");
    // The shared server token works in the same places.
    let s = get(&format!("{base}/whoami?token=s3rver"), &[]).await;
    assert_eq!(
        (s.status.as_u16(), s.json()["kind"].as_str()),
        (200, Some("server"))
    );

    // Check renews: a new token, and the old one still works until its own expiry.
    clock.advance(Duration::from_secs(1800));
    let bearer = format!("Bearer {token}");
    let c = get(&format!("{base}{CHECK}"), &[("authorization", &bearer)]).await;
    assert_eq!(c.status, 200);
    let renewed = c.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, token);
    assert_eq!(
        (c.json()["login"].as_str(), c.json()["TTL"].as_u64()),
        (Some("alice"), Some(3600))
    );
    assert_eq!(
        get(&format!("{base}/whoami"), &[("x-auth-token", &token)])
            .await
            .status,
        200
    );

    // The old token expires at its own TTL; the renewed one lives on.
    clock.advance(Duration::from_secs(1800));
    let expired = get(&format!("{base}{CHECK}"), &[("authorization", &bearer)]).await;
    assert_eq!(error_of(&expired).0, 401);
    assert_eq!(expired.json()["error"], "TokenExpired");
    let expired_api = get(&format!("{base}/whoami"), &[("x-auth-token", &token)]).await;
    assert_eq!(expired_api.json()["error"], "TokenExpired");
    assert_eq!(
        get(&format!("{base}/whoami"), &[("x-auth-token", &renewed)])
            .await
            .status,
        200
    );

    // Logout revokes it.
    let out = send(
        Method::POST,
        &format!("{base}/xuc/api/2.0/auth/logout"),
        &[("authorization", &format!("Bearer {renewed}"))],
        "",
    )
    .await;
    assert_eq!(out.status, 204);
    let revoked = get(&format!("{base}/whoami"), &[("x-auth-token", &renewed)]).await;
    assert_eq!(
        (revoked.status.as_u16(), revoked.json()["error"].as_str()),
        (401, Some("InvalidToken"))
    );
}

#[tokio::test]
async fn documented_errors() {
    let (base, _) = start().await;

    // Wrong password and unknown user: byte-identical answers.
    let wrong = login(&base, r#"{"login":"alice","password":"nope"}"#).await;
    let unknown = login(&base, r#"{"login":"mallory","password":"nope"}"#).await;
    assert_eq!(error_of(&wrong), (401, "InvalidCredentials".into()));
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));

    for bad in [
        "not json",
        "{",
        "[]",
        r#"{"login":"alice"}"#,
        r#"{"login":1,"password":"x"}"#,
        "",
    ] {
        let a = login(&base, bad).await;
        assert_eq!(error_of(&a), (400, "InvalidJson".into()), "{bad}");
    }

    // Check without a token, with a wrong one, with a malformed one.
    let none = get(&format!("{base}{CHECK}"), &[]).await;
    assert_eq!(error_of(&none), (401, "InvalidToken".into()));
    assert!(none.challenges()[0].starts_with("Bearer"));
    let wrong = get(
        &format!("{base}{CHECK}"),
        &[("authorization", "Bearer not-a-token")],
    )
    .await;
    assert_eq!(error_of(&wrong), (401, "InvalidToken".into()));
    let malformed = get(
        &format!("{base}{CHECK}"),
        &[("authorization", "Bearer a b")],
    )
    .await;
    assert_eq!(malformed.status, 400);

    // The same credential twice (header and query) is a 400, even when equal.
    let dup = get(
        &format!("{base}/whoami?token=s3rver"),
        &[("x-auth-token", "s3rver")],
    )
    .await;
    assert_eq!(dup.status, 400);
    assert_eq!(
        get(&format!("{base}/whoami"), &[]).await.json()["error"],
        "InvalidToken"
    );
}

#[path = "../crates/exchange/tests/support/peers.rs"]
mod peers;

/// The example's exchange routes: a CAS ticket traded for a token that works on `/whoami`
/// and renews; an unknown user is 404; an exchange with no provider answers 503.
#[tokio::test]
async fn example_trades_a_cas_ticket_for_a_token() {
    use tower_authn::exchange::cas::CasValidator;
    use tower_authn::jwt::HyperFetcher;
    use tower_authn::platforms::xivo::Providers;

    let cas = peers::CasServer::start().await;
    let service = "https://cti.example/login";
    let providers = Providers::new()
        .with_cas(CasValidator::new(&cas.url, [service], HyperFetcher::new()).unwrap());
    let app = example::app_with(
        users(),
        SharedTokenVerifier::new("s3rver"),
        Arc::new(tower_authn::clock::SystemClock),
        providers,
    );
    let base = format!("http://{}", serve(app).await);
    let trade = |ticket: String| {
        let base = base.clone();
        async move {
            get(
                &format!("{base}/xuc/api/2.0/auth/cas?service={service}&ticket={ticket}"),
                &[],
            )
            .await
        }
    };
    let answer = trade(cas.issue("alice", service)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["login"], "alice");
    let token = answer.json()["token"].as_str().unwrap().to_owned();
    let whoami = get(&format!("{base}/whoami"), &[("X-Auth-Token", &token)]).await;
    assert_eq!(whoami.json()["id"], "alice");
    let check = get(
        &format!("{base}{CHECK}"),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(check.status, 200);

    let unknown = trade(cas.issue("mallory", service)).await;
    assert_eq!(
        (unknown.status.as_u16(), &unknown.json()["error"]),
        (404, &Value::from("UserNotFound"))
    );
    let oidc = get(
        &format!("{base}/xuc/api/2.0/auth/oidc"),
        &[("authorization", "Bearer x.y.z")],
    )
    .await;
    assert_eq!(
        (oidc.status.as_u16(), &oidc.json()["error"]),
        (503, &Value::from("UnhandledError"))
    );
}
