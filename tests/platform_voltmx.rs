//! The Volt MX example server over real HTTP: login (JSON, form, Basic), the claims token,
//! refresh rotation and reuse, the OAuth access pair, app API key management round trip,
//! device tokens, and every documented error answer.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/voltmx.rs"]
mod example;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::Method;
use serde_json::Value;
use support::{Answer, get, send, serve};
use tower_authn::clock::ManualClock;
use tower_authn::memory::MemoryUserStore;

const LOGIN: &str = "/authService/accounts/login";
const REFRESH: &str = "/authService/accounts/refresh";
const KEYS: &str = "/api/v1/applications/key";
const JSON: (&str, &str) = (
    "content-type",
    "application/json;charset=UTF-8;charset=UTF-8",
);
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn users() -> MemoryUserStore {
    static USERS: OnceLock<MemoryUserStore> = OnceLock::new();
    USERS
        .get_or_init(|| example::demo::users().unwrap())
        .clone()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn start() -> (String, ManualClock) {
    let clock = ManualClock::at_unix(now_secs());
    let app = example::app(users(), Arc::new(clock.clone()))
        .await
        .unwrap();
    (format!("http://{}", serve(app).await), clock)
}

async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    send(Method::POST, url, headers, body.to_owned()).await
}

/// Volt MX's error shape: exactly `{status, code, message}`, `status` matching the HTTP
/// status; returns the status and the code.
fn error_of(a: &Answer) -> (u16, String) {
    let j = a.json();
    assert_eq!(j.as_object().map(|o| o.len()), Some(3), "{j}");
    assert_eq!(j["status"].as_u64(), Some(u64::from(a.status.as_u16())));
    assert!(j["message"].is_string());
    (
        a.status.as_u16(),
        j["code"].as_str().unwrap_or_default().to_owned(),
    )
}

fn tokens_of(a: &Answer) -> (String, String) {
    assert_eq!(a.status, 200, "{:?}", a.body);
    let j = a.json();
    (
        j["claims_token"]["value"].as_str().unwrap().to_owned(),
        j["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn login_claims_refresh_rotation_and_reuse() {
    let (base, clock) = start().await;

    // JSON, form and Basic logins all answer Volt MX's shape.
    let json = post(
        &format!("{base}{LOGIN}"),
        &[JSON],
        r#"{"userid":"alice","password":"wonderland"}"#,
    )
    .await;
    assert_eq!(json.status, 200);
    assert_eq!(json.headers["cache-control"], "no-store");
    let j = json.json();
    assert_eq!(
        j["profile"],
        serde_json::json!({"email": "alice@example.com", "userid": "alice", "firstname": "Alice", "lastname": "Liddell"})
    );
    assert_eq!(
        j["claims_token"]["exp"].as_u64(),
        Some((now_secs_of(&clock) + 3600) * 1000)
    );
    let form = post(
        &format!("{base}{LOGIN}"),
        &[FORM],
        "userid=bob%40example.com&password=builder",
    )
    .await;
    assert_eq!(form.json()["profile"]["userid"], "bob@example.com");
    let basic = post(
        &format!("{base}{LOGIN}"),
        &[("authorization", "Basic YWxpY2U6d29uZGVybGFuZA==")],
        "",
    )
    .await;
    assert_eq!(basic.status, 200);

    // The claims token in X-VoltMX-Authorization.
    let (claims, first) = tokens_of(&json);
    let me = get(
        &format!("{base}/claims/whoami"),
        &[("x-voltmx-authorization", &claims)],
    )
    .await;
    assert_eq!(
        (me.json()["id"].as_str(), me.json()["scheme"].as_str()),
        (Some("alice"), Some("claims"))
    );

    // Refresh (form, then JSON): a new pair each time, the old refresh token spent.
    let r1 = post(
        &format!("{base}{REFRESH}"),
        &[FORM],
        &format!("refresh_token={first}"),
    )
    .await;
    let (claims2, second) = tokens_of(&r1);
    assert_eq!(r1.json()["profile"]["userid"], "alice");
    assert_ne!(second, first);
    let r2 = post(
        &format!("{base}{REFRESH}"),
        &[JSON],
        &format!(r#"{{"refresh_token":"{second}"}}"#),
    )
    .await;
    let (claims3, third) = tokens_of(&r2);
    assert_eq!(
        get(
            &format!("{base}/claims/whoami"),
            &[("x-voltmx-authorization", &claims3)]
        )
        .await
        .status,
        200
    );

    // Reusing a spent refresh token: 401, and the whole family is revoked, the newest
    // refresh token and the claims tokens issued in it included.
    let reuse = post(
        &format!("{base}{REFRESH}"),
        &[FORM],
        &format!("refresh_token={first}"),
    )
    .await;
    // The same public answer as an unknown token (issue 11): nothing tells which tokens exist.
    assert_eq!(error_of(&reuse), (401, "invalid_credentials".to_owned()));
    let newest = post(
        &format!("{base}{REFRESH}"),
        &[FORM],
        &format!("refresh_token={third}"),
    )
    .await;
    assert_eq!(error_of(&newest).0, 401);
    for c in [&claims, &claims2, &claims3] {
        let a = get(
            &format!("{base}/claims/whoami"),
            &[("x-voltmx-authorization", c)],
        )
        .await;
        assert_eq!(error_of(&a), (401, "revoked".to_owned()));
    }
    // Bob's family is untouched.
    let (bob_claims, _) = tokens_of(&form);
    assert_eq!(
        get(
            &format!("{base}/claims/whoami"),
            &[("x-voltmx-authorization", &bob_claims)]
        )
        .await
        .status,
        200
    );

    // Claims tokens expire; logout revokes a family.
    clock.advance(Duration::from_secs(3600));
    let expired = get(
        &format!("{base}/claims/whoami"),
        &[("x-voltmx-authorization", &bob_claims)],
    )
    .await;
    assert_eq!(error_of(&expired), (401, "expired".to_owned()));
    let (_, bob_refresh) = tokens_of(&form);
    let out = post(
        &format!("{base}/authService/accounts/logout"),
        &[FORM],
        &format!("token={bob_refresh}"),
    )
    .await;
    assert_eq!(out.status, 200);
    let after = post(
        &format!("{base}{REFRESH}"),
        &[FORM],
        &format!("refresh_token={bob_refresh}"),
    )
    .await;
    assert_eq!(error_of(&after).0, 401);
}

fn now_secs_of(clock: &ManualClock) -> u64 {
    use tower_authn::clock::Clock as _;
    clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn oauth_access_pair_device_and_app_keys() {
    let (base, _) = start().await;
    let pair = get(
        &format!("{base}/api/v1/oauth/accesstoken"),
        &[("authorization", "Basic YWxpY2U6d29uZGVybGFuZA==")],
    )
    .await;
    assert_eq!(pair.status, 200);
    let (at, sec) = (
        pair.json()["AccessToken"].as_str().unwrap().to_owned(),
        pair.json()["AccessSecret"].as_str().unwrap().to_owned(),
    );
    assert_eq!(pair.json().as_object().unwrap().len(), 2);
    let m = get(
        &format!("{base}/messaging/whoami"),
        &[("accesstoken", &at), ("accesssecret", &sec)],
    )
    .await;
    assert_eq!(
        (m.json()["id"].as_str(), m.json()["scheme"].as_str()),
        (Some("alice"), Some("access-secret"))
    );
    let wrong = get(
        &format!("{base}/messaging/whoami"),
        &[("accesstoken", &at), ("accesssecret", "nope")],
    )
    .await;
    assert_eq!(error_of(&wrong).0, 401);
    let half = get(&format!("{base}/messaging/whoami"), &[("accesstoken", &at)]).await;
    assert!(matches!(error_of(&half).0, 400 | 401));
    let no_basic = get(&format!("{base}/api/v1/oauth/accesstoken"), &[]).await;
    assert_eq!(error_of(&no_basic), (401, "missing_credentials".to_owned()));
    assert!(no_basic.challenges()[0].starts_with("Basic"));

    let dev = get(
        &format!("{base}/device/whoami"),
        &[("x-device-authtoken", "demo-device-token")],
    )
    .await;
    assert_eq!(
        (dev.json()["kind"].as_str(), dev.json()["app_id"].as_str()),
        (Some("device"), Some("demo-app"))
    );
    let app = get(
        &format!("{base}/app/whoami"),
        &[("x-voltmx-app-api-key", "demo-app-key-1")],
    )
    .await;
    assert_eq!(
        (app.json()["id"].as_str(), app.json()["scheme"].as_str()),
        (Some("demo-app"), Some("app-api-key"))
    );
    let basic = get(
        &format!("{base}/basic/whoami"),
        &[("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")],
    )
    .await;
    assert_eq!(error_of(&basic), (401, "invalid_credentials".to_owned()));
}

async fn claims_of(base: &str, body: &str) -> String {
    tokens_of(&post(&format!("{base}{LOGIN}"), &[FORM], body).await).0
}

#[tokio::test]
async fn app_key_management_round_trip() {
    let (base, clock) = start().await;
    let admin = claims_of(&base, "userid=alice&password=wonderland").await;
    let user = claims_of(&base, "userid=bob%40example.com&password=builder").await;
    let auth = [("x-voltmx-authorization", admin.as_str()), FORM];

    // Add: the new key is its own id, shown this once.
    let added = post(
        &format!("{base}{KEYS}"),
        &auth,
        "appId=push-app&neverExpires=true&description=first",
    )
    .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    assert_eq!(added.json().as_object().unwrap().len(), 2);
    assert!(added.json()["message"].is_string());
    let key = added.json()["id"].as_str().unwrap().to_owned();
    let used = get(
        &format!("{base}/app/whoami"),
        &[("x-voltmx-app-api-key", &key)],
    )
    .await;
    assert_eq!(used.json()["app_id"], "push-app");

    // List and details mask the key.
    let list = get(&format!("{base}{KEYS}?appId=push-app"), &[auth[0]]).await;
    assert_eq!(list.status, 200);
    assert!(!String::from_utf8_lossy(&list.body).contains(&key));
    assert_eq!(list.json()["result"].as_array().unwrap().len(), 1);
    let details = get(&format!("{base}{KEYS}/{key}"), &[auth[0]]).await;
    assert!(!String::from_utf8_lossy(&details.body).contains(&key));
    let d = &details.json()["result"];
    assert_eq!(
        (
            details.json()["status"].as_u64(),
            d["neverExpires"].as_bool()
        ),
        (Some(200), Some(true))
    );
    assert_eq!(
        (d["description"].as_str(), d["appId"].as_str()),
        (Some("first"), Some("push-app"))
    );
    assert_eq!(
        d["appAPIKey"].as_str().unwrap(),
        format!("{}****{}", &key[..4], &key[key.len() - 4..])
    );
    assert_eq!(d["expiresOn"], Value::Null);
    let created = d["createdOn"].as_str().unwrap();
    assert!(
        created.len() == 19 && created.as_bytes()[2] == b'/' && created.as_bytes()[10] == b' ',
        "{created}"
    );

    // Modify: description and expiry (mm/dd/yyyy hh:mm:ss), then it expires.
    let modified = post(
        &format!("{base}{KEYS}/{key}"),
        &auth,
        "expiresOn=12/31/2099%2023:59:59&description=second",
    )
    .await;
    assert_eq!(modified.status, 200, "{:?}", modified.body);
    assert!(!String::from_utf8_lossy(&modified.body).contains(&key));
    let d = get(&format!("{base}{KEYS}/{key}"), &[auth[0]]).await.json()["result"].clone();
    assert_eq!(
        (d["description"].as_str(), d["neverExpires"].as_bool()),
        (Some("second"), Some(false))
    );
    assert_eq!(d["expiresOn"], "12/31/2099 23:59:59");
    // JSON bodies work too.
    let json_auth = [("x-voltmx-authorization", admin.as_str()), JSON];
    // On the server's (manual) clock: the real one moves on while the test runs.
    let soon = tower_authn::platforms::voltmx::format_voltmx_time(
        tower_authn::clock::Clock::now(&clock) + Duration::from_secs(120),
    );
    let j = post(
        &format!("{base}{KEYS}/{key}"),
        &json_auth,
        &format!(r#"{{"expiresOn":"{soon}","neverExpires":false}}"#),
    )
    .await;
    assert_eq!(j.status, 200);
    clock.advance(Duration::from_secs(121));
    let expired = get(
        &format!("{base}/app/whoami"),
        &[("x-voltmx-app-api-key", &key)],
    )
    .await;
    assert_eq!(error_of(&expired), (401, "expired".to_owned()));

    // Renew by regenerating: the new key is shown once, the old one stops working.
    let renewed = post(
        &format!("{base}{KEYS}/{key}"),
        &auth,
        "neverExpires=true&regenerate=true",
    )
    .await;
    let new_key = renewed.json()["id"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    assert_eq!(
        get(
            &format!("{base}/app/whoami"),
            &[("x-voltmx-app-api-key", &new_key)]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        error_of(&get(&format!("{base}{KEYS}/{key}"), &[auth[0]]).await),
        (400, "not_found".to_owned())
    );

    // Delete.
    let deleted = send(
        Method::DELETE,
        &format!("{base}{KEYS}/{new_key}"),
        &[auth[0]],
        "",
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert!(!String::from_utf8_lossy(&deleted.body).contains(&new_key));
    assert_eq!(
        error_of(
            &get(
                &format!("{base}/app/whoami"),
                &[("x-voltmx-app-api-key", &new_key)]
            )
            .await
        )
        .0,
        401
    );
    let again = send(
        Method::DELETE,
        &format!("{base}{KEYS}/{new_key}"),
        &[auth[0]],
        "",
    )
    .await;
    assert_eq!(error_of(&again), (400, "not_found".to_owned()));

    // Validation: 400 with Volt MX's shape, nothing stored.
    let long = "d".repeat(101);
    for bad in [
        format!("appId=x&neverExpires=true&description={long}"),
        "appId=x&expiresOn=2030-01-01".to_owned(),
        "appId=x&expiresOn=01/01/2001%2000:00:00".to_owned(),
        "appId=x".to_owned(),
        "neverExpires=true".to_owned(),
        "appId=x&neverExpires=maybe".to_owned(),
        "appId=x&appId=y&neverExpires=true".to_owned(),
    ] {
        let a = post(&format!("{base}{KEYS}"), &auth, &bad).await;
        assert_eq!(error_of(&a), (400, "invalid_request".to_owned()), "{bad}");
    }
    let exact = post(
        &format!("{base}{KEYS}"),
        &auth,
        &format!("appId=x&neverExpires=true&description={}", "d".repeat(100)),
    )
    .await;
    assert_eq!(exact.status, 200);
    let bad_json = post(&format!("{base}{KEYS}"), &json_auth, "{").await;
    assert_eq!(error_of(&bad_json), (400, "invalid_request".to_owned()));
    let list = get(&format!("{base}{KEYS}?appId=x"), &[auth[0]]).await;
    assert_eq!(list.json()["result"].as_array().unwrap().len(), 1);

    // Only admins, and only with a claims token.
    let bob = post(
        &format!("{base}{KEYS}"),
        &[("x-voltmx-authorization", &user), FORM],
        "appId=x&neverExpires=true",
    )
    .await;
    assert_eq!(error_of(&bob), (403, "forbidden".to_owned()));
    let anon = get(&format!("{base}{KEYS}?appId=x"), &[]).await;
    assert_eq!(error_of(&anon), (401, "missing_credentials".to_owned()));
}

#[tokio::test]
async fn documented_login_errors() {
    let (base, _) = start().await;
    let wrong = post(
        &format!("{base}{LOGIN}"),
        &[FORM],
        "userid=alice&password=nope",
    )
    .await;
    let unknown = post(
        &format!("{base}{LOGIN}"),
        &[FORM],
        "userid=mallory&password=nope",
    )
    .await;
    assert_eq!(error_of(&wrong), (401, "invalid_credentials".to_owned()));
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));

    for (headers, body) in [
        ([JSON], "{"),
        ([JSON], r#"{"userid":"alice"}"#),
        ([JSON], r#"{"userid":["alice"],"password":"x"}"#),
        ([FORM], "userid=alice"),
    ] {
        let a = post(&format!("{base}{LOGIN}"), &headers, body).await;
        assert_eq!(error_of(&a), (400, "invalid_request".to_owned()), "{body}");
    }
    let none = post(&format!("{base}{LOGIN}"), &[], "").await;
    assert_eq!(error_of(&none).0, 401);
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:wonderland");
    let bad_basic = post(
        &format!("{base}{LOGIN}"),
        &[("authorization", "Basic %%%")],
        "",
    )
    .await;
    assert_eq!(error_of(&bad_basic).0, 400);
    let both = post(
        &format!("{base}{LOGIN}"),
        &[("authorization", &format!("Basic {basic}")), FORM],
        "userid=a&password=b",
    )
    .await;
    assert_eq!(error_of(&both).0, 400);

    let missing = post(&format!("{base}{REFRESH}"), &[FORM], "").await;
    assert_eq!(error_of(&missing), (400, "invalid_request".to_owned()));
    let unknown = post(&format!("{base}{REFRESH}"), &[FORM], "refresh_token=nope").await;
    assert_eq!(error_of(&unknown), (401, "invalid_credentials".to_owned()));
    let bad_claims = get(
        &format!("{base}/claims/whoami"),
        &[("x-voltmx-authorization", "nope")],
    )
    .await;
    assert_eq!(
        error_of(&bad_claims),
        (401, "invalid_credentials".to_owned())
    );
}
