//! The gateway contract (GATEWAY.md), route by route, over real HTTP on 127.0.0.1:0.
//!
//! The gateway's own modules are compiled in here, so every test builds a gateway from an
//! explicit configuration; `binary_contract` runs the built example itself.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use http::Method;
use serde_json::{Value, json};
use support::{Answer, Server, basic, field, get as http_get, send, vectors};
use tower_authn::UserStore as _;
use tower_authn::jwt::{Algorithm, Claims, JwtIssuer, SigningKey};

const SHARED: &str = "gateway-shared-token";
const JWT_SECRET: &str = "gateway-test-secret-0123456789abcdef";
const CCAI_SECRET: &str = "ccai-company-secret-0123456789";
const GOOGLE_CLIENT: &str = "1234567890-abcdef.apps.googleusercontent.com";
const FB_APP: &str = "123456789012345";
const FB_SECRET: &str = "fb-test-app-secret";
const FB_GOOD: &str = "EAAgoodUserToken";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A mock Graph API: `debug_token` answers valid for `FB_GOOD`, invalid otherwise, and
/// refuses a wrong app token.
async fn mock_graph() -> SocketAddr {
    async fn debug_token(Query(q): Query<HashMap<String, String>>) -> axum::Json<Value> {
        let app_ok =
            q.get("access_token").map(String::as_str) == Some(&format!("{FB_APP}|{FB_SECRET}"));
        let valid = app_ok && q.get("input_token").map(String::as_str) == Some(FB_GOOD);
        axum::Json(json!({"data": {
            "app_id": FB_APP, "type": "USER", "application": "Test App",
            "expires_at": now() + 3600, "is_valid": valid, "issued_at": now() - 60,
            "scopes": ["email", "public_profile"], "user_id": "10158000000000001"
        }}))
    }
    support::serve(Router::new().route("/v19.0/debug_token", get(debug_token))).await
}

/// A gateway with every source configured: Google keys from a JWKS file, Facebook through
/// the mock Graph server. `overrides` replace variables (an empty value unsets one).
async fn gateway(overrides: &[(&str, &str)]) -> Server {
    let jwks = support::jwks_file();
    let graph = mock_graph().await;
    let mut env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0".to_owned()),
        ("PLAY_AUTH_TOKEN", SHARED.to_owned()),
        ("GATEWAY_JWT_SECRET", JWT_SECRET.to_owned()),
        ("CCAI_COMPANY_NAME", "ACME".to_owned()),
        ("CCAI_COMPANY_SECRET", CCAI_SECRET.to_owned()),
        ("GOOGLE_CLIENT_IDS", format!("other-client,{GOOGLE_CLIENT}")),
        ("GOOGLE_JWKS", jwks),
        ("FACEBOOK_APP_ID", FB_APP.to_owned()),
        ("FACEBOOK_APP_SECRET", FB_SECRET.to_owned()),
        ("FACEBOOK_GRAPH_URL", format!("http://{graph}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let router = app::build(&config).await.expect("gateway");
    Server::at(support::serve(router).await)
}

/// A Google ID token signed with the fixture key, valid now.
fn google_token(aud: &str) -> String {
    let v = vectors("google-id-token.json");
    let key = SigningKey::rsa_pem(
        Algorithm::RS256,
        v["private_key_pkcs8_pem"].as_str().expect("pem"),
    )
    .expect("rsa key")
    .with_kid("test-kid-1");
    let claims = Claims::new()
        .with("iss", "https://accounts.google.com")
        .with("aud", aud)
        .with("sub", "110169484474386276334")
        .with("email", "alice@example.com")
        .with("email_verified", true)
        .with("iat", now())
        .with("exp", now() + 3600);
    JwtIssuer::new(key).sign(&claims).expect("sign")
}

fn ha1b_alice() -> String {
    tower_authn::password::ha1b("alice", "sip.example.com", "wonderland")
}

fn who(a: &Answer) -> (String, String, String) {
    let j = a.json();
    let s = |k: &str| j[k].as_str().unwrap_or("null").to_owned();
    (s("id"), s("kind"), s("scheme"))
}

fn triple(id: &str, kind: &str, scheme: &str) -> (String, String, String) {
    (id.to_owned(), kind.to_owned(), scheme.to_owned())
}

#[tokio::test]
async fn every_scheme_on_whoami_and_its_own_route() {
    let gw = gateway(&[]).await;
    assert_eq!(gw.get("/healthz", &[]).await.status, 200);

    let alice = basic("alice", "wonderland");
    let a = gw.get("/whoami", &[("authorization", &alice)]).await;
    assert_eq!(a.status, 200);
    assert_eq!(who(&a), triple("alice", "user", "basic"));
    assert_eq!(a.json()["name"], "Alice Liddell");
    assert_eq!(a.json()["email"], "alice@example.com");
    assert_eq!(a.json()["roles"], json!(["admin"]));
    let bob = gw
        .get(
            "/basic/whoami",
            &[("authorization", &basic("bob@example.com", "builder"))],
        )
        .await;
    assert_eq!(who(&bob), triple("bob@example.com", "user", "basic"));

    // The shared server token in X-Auth-Token and ?token=.
    for (path, headers) in [
        ("/token/whoami", vec![("x-auth-token", SHARED)]),
        ("/whoami", vec![("x-auth-token", SHARED)]),
    ] {
        let a = gw.get(path, &headers).await;
        assert_eq!(
            (a.status.as_u16(), who(&a).1),
            (200, "server".to_owned()),
            "{path}"
        );
    }
    let q = gw.get(&format!("/token/whoami?token={SHARED}"), &[]).await;
    assert_eq!(who(&q).2, "token");

    // A token issued by the XiVO login.
    let login = gw
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(login.status, 200);
    let xivo = field(&login, "/token");
    assert_eq!(
        who(&gw.get(&format!("/token/whoami?token={xivo}"), &[]).await),
        triple("alice", "user", "token")
    );
    assert_eq!(
        who(&gw
            .get("/whoami", &[("authorization", &format!("Bearer {xivo}"))])
            .await)
        .0,
        "alice"
    );

    // A gateway JWT from Opentact's /rest/auth, in every place it is allowed.
    let rest = gw.get("/rest/auth", &[("authorization", &alice)]).await;
    let jwt = field(&rest, "/payload/token");
    for (path, headers) in [
        (format!("/jwt/whoami?jwt={jwt}"), vec![]),
        (
            "/jwt/whoami".to_owned(),
            vec![("authorization", format!("Bearer {jwt}"))],
        ),
        (
            "/jwt/whoami".to_owned(),
            vec![("x-auth-token", jwt.clone())],
        ),
        (format!("/whoami?jwt={jwt}"), vec![]),
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = gw.get(&path, &h).await;
        assert_eq!(who(&a), triple("alice", "user", "jwt"), "{path}");
        assert_eq!(a.json()["name"], "Alice Liddell");
    }

    // A Volt MX claims token.
    let vx = gw
        .post_json(
            "/authService/accounts/login",
            &[],
            json!({"userid": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(vx.status, 200);
    let claims = field(&vx, "/claims_token/value");
    for path in ["/claims/whoami", "/whoami"] {
        let a = gw.get(path, &[("x-voltmx-authorization", &claims)]).await;
        assert_eq!(who(&a), triple("alice", "user", "claims"), "{path}");
    }

    let d = gw
        .get(
            "/device/whoami",
            &[("x-device-authtoken", "demo-device-token")],
        )
        .await;
    assert_eq!(
        (who(&d).1, who(&d).2),
        ("device".to_owned(), "device-token".to_owned())
    );
    assert_eq!(d.json()["app_id"], "demo-app");
    let k = gw
        .get("/app/whoami", &[("x-voltmx-app-api-key", "demo-app-key-1")])
        .await;
    assert_eq!(who(&k), triple("demo-app", "app", "app-api-key"));
    assert_eq!(
        who(&gw
            .get("/whoami", &[("x-voltmx-app-api-key", "demo-app-key-1")])
            .await)
        .2,
        "app-api-key"
    );

    let pair = gw
        .get("/api/v1/oauth/accesstoken", &[("authorization", &alice)])
        .await;
    assert_eq!(pair.status, 200);
    let (at, asec) = (field(&pair, "/AccessToken"), field(&pair, "/AccessSecret"));
    let m = gw
        .get(
            "/messaging/whoami",
            &[("accesstoken", &at), ("accesssecret", &asec)],
        )
        .await;
    assert_eq!(who(&m).2, "access-secret");

    let h = gw
        .get(
            &format!("/ha1b/whoami?ha1b={}", ha1b_alice().to_uppercase()),
            &[],
        )
        .await;
    assert_eq!(who(&h), triple("alice", "user", "ha1b"));
    assert_eq!(
        who(&gw
            .get("/whoami", &[("x-auth-ha1b-token", &ha1b_alice())])
            .await)
        .2,
        "ha1b"
    );

    let g = gw
        .get(
            "/google/whoami",
            &[("x-auth-google-token", &google_token(GOOGLE_CLIENT))],
        )
        .await;
    assert_eq!(who(&g), triple("110169484474386276334", "user", "google"));
    assert_eq!(g.json()["email"], "alice@example.com");
    let gq = gw
        .get(
            &format!("/whoami?google_token={}", google_token(GOOGLE_CLIENT)),
            &[],
        )
        .await;
    assert_eq!(who(&gq).2, "google");

    let f = gw
        .get(&format!("/facebook/whoami?facebook_token={FB_GOOD}"), &[])
        .await;
    assert_eq!(who(&f), triple("10158000000000001", "user", "facebook"));
    assert_eq!(
        who(&gw
            .get("/whoami", &[("x-auth-facebook-token", FB_GOOD)])
            .await)
        .2,
        "facebook"
    );
}

#[tokio::test]
async fn failures_answer_per_contract() {
    let gw = gateway(&[]).await;

    // No credential: 401 with a challenge for every accepted scheme.
    let none = gw.get("/whoami", &[]).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.json(),
        json!({"error": "missing_credentials", "message": "Authentication is required."})
    );
    let challenges = none.challenges();
    for scheme in [
        "Basic ",
        "Bearer ",
        "Token ",
        "VoltMX ",
        "DeviceToken ",
        "ApiKey ",
        "AccessSecret ",
        "HA1B ",
        "Google ",
        "Facebook ",
    ] {
        assert!(
            challenges.iter().any(|c| c.starts_with(scheme)),
            "{scheme} missing from {challenges:?}"
        );
    }
    assert!(challenges.contains(&r#"Basic realm="gateway", charset="UTF-8""#.to_owned()));

    // An unknown user and a wrong password: byte-identical answers.
    let wrong = gw
        .get(
            "/whoami",
            &[("authorization", &basic("alice", "looking-glass"))],
        )
        .await;
    let unknown = gw
        .get(
            "/whoami",
            &[("authorization", &basic("mallory", "looking-glass"))],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        (wrong.body.clone(), wrong.challenges()),
        (unknown.body.clone(), unknown.challenges())
    );

    // A present-but-invalid credential is rejected even when a later one is valid.
    let mixed = gw
        .get(
            "/whoami",
            &[
                ("authorization", &basic("alice", "nope")),
                ("x-voltmx-app-api-key", "demo-app-key-1"),
            ],
        )
        .await;
    assert_eq!(mixed.status, 401);

    // Duplicates and malformed credentials: 400.
    for (path, headers) in [
        (
            format!("/whoami?token={SHARED}"),
            vec![("x-auth-token", SHARED)],
        ),
        (
            "/token/whoami".to_owned(),
            vec![("x-auth-token", SHARED), ("x-auth-token", SHARED)],
        ),
        (
            format!("/ha1b/whoami?ha1b={}", ha1b_alice()),
            vec![("x-auth-ha1b-token", ha1b_alice().leak() as &str)],
        ),
        ("/whoami".to_owned(), vec![("authorization", "Basic !!!")]),
        (
            "/ha1b/whoami".to_owned(),
            vec![("x-auth-ha1b-token", "not-32-hex")],
        ),
        (
            "/messaging/whoami".to_owned(),
            vec![("accesstoken", "only-half")],
        ),
    ] {
        let a = gw.get(&path, &headers).await;
        assert_eq!(a.status, 400, "{path} {headers:?}");
        assert!(
            a.json()["error"]
                .as_str()
                .is_some_and(|e| e.ends_with("_credentials")),
            "{:?}",
            a.json()
        );
    }

    // Each route accepts only its schemes.
    assert_eq!(
        gw.get("/basic/whoami", &[("x-auth-token", SHARED)])
            .await
            .status,
        401
    );
    assert_eq!(
        gw.get(
            "/device/whoami",
            &[("x-voltmx-app-api-key", "demo-app-key-1")]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        gw.get("/app/whoami", &[("x-voltmx-app-api-key", "wrong-key")])
            .await
            .status,
        401
    );
    assert_eq!(
        gw.get("/device/whoami", &[("x-device-authtoken", "wrong")])
            .await
            .status,
        401
    );
    assert_eq!(
        gw.get("/ha1b/whoami", &[("x-auth-ha1b-token", &"0".repeat(32))])
            .await
            .status,
        401
    );

    // A claims token is not a gateway JWT, and the other way round.
    let vx = gw
        .post_json(
            "/authService/accounts/login",
            &[],
            json!({"userid": "alice", "password": "wonderland"}),
        )
        .await;
    let claims = field(&vx, "/claims_token/value");
    assert_eq!(
        gw.get(&format!("/jwt/whoami?jwt={claims}"), &[])
            .await
            .status,
        401
    );
    let rest = gw
        .get(
            "/rest/auth",
            &[("authorization", &basic("alice", "wonderland"))],
        )
        .await;
    let jwt = field(&rest, "/payload/token");
    assert_eq!(
        gw.get("/claims/whoami", &[("x-voltmx-authorization", &jwt)])
            .await
            .status,
        401
    );

    // Admin: role admin required.
    assert_eq!(
        gw.get(
            "/admin/whoami",
            &[("authorization", &basic("alice", "wonderland"))]
        )
        .await
        .status,
        200
    );
    let bob = gw
        .get(
            "/admin/whoami",
            &[("authorization", &basic("bob@example.com", "builder"))],
        )
        .await;
    assert_eq!(
        (bob.status.as_u16(), bob.json()["error"].clone()),
        (403, json!("forbidden"))
    );
    assert_eq!(
        gw.get("/admin/whoami", &[("x-auth-token", SHARED)])
            .await
            .status,
        403
    );

    // Google: wrong audience, garbage; Facebook: invalid token.
    assert_eq!(
        gw.get(
            "/google/whoami",
            &[("x-auth-google-token", &google_token("999-other"))]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        gw.get("/google/whoami", &[("x-auth-google-token", "a.b.c")])
            .await
            .status,
        401
    );
    assert_eq!(
        gw.get(
            "/facebook/whoami",
            &[("x-auth-facebook-token", "EAAbadToken")]
        )
        .await
        .status,
        401
    );

    // Unset shared token: shared-token auth rejects everything, never open.
    let closed = gateway(&[("PLAY_AUTH_TOKEN", "")]).await;
    assert_eq!(
        closed
            .get("/token/whoami", &[("x-auth-token", SHARED)])
            .await
            .status,
        401
    );
    assert_eq!(
        closed
            .get("/token/whoami", &[("x-auth-token", "x")])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn unloadable_google_keys_fail_closed() {
    let gw = gateway(&[("GOOGLE_JWKS", "/nonexistent/jwks.json")]).await;
    let a = gw
        .get(
            "/google/whoami",
            &[("x-auth-google-token", &google_token(GOOGLE_CLIENT))],
        )
        .await;
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["error"], "unavailable");
    let down = gateway(&[("GOOGLE_JWKS", "http://127.0.0.1:9/certs")]).await;
    assert_eq!(
        down.get(
            "/google/whoami",
            &[("x-auth-google-token", &google_token(GOOGLE_CLIENT))]
        )
        .await
        .status,
        503
    );
    let fb_down = gateway(&[("FACEBOOK_GRAPH_URL", "http://127.0.0.1:9")]).await;
    assert_eq!(
        fb_down
            .get("/facebook/whoami", &[("x-auth-facebook-token", FB_GOOD)])
            .await
            .status,
        503
    );
}

#[tokio::test]
async fn xivo_flow() {
    let gw = gateway(&[]).await;
    let login = gw
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.json()["login"], "alice");
    assert!(login.json()["TTL"].as_u64().is_some_and(|t| t > 0));
    let token = field(&login, "/token");

    let check = gw
        .get(
            "/xuc/api/2.0/auth/check",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(check.status, 200);
    let renewed = field(&check, "/token");
    assert_ne!(renewed, token);
    // The old token stays valid until its own TTL.
    assert_eq!(
        gw.get(&format!("/token/whoami?token={token}"), &[])
            .await
            .status,
        200
    );
    assert_eq!(
        gw.get("/token/whoami", &[("x-auth-token", &renewed)])
            .await
            .status,
        200
    );

    let bad = gw
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            json!({"login": "alice", "password": "x"}),
        )
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["error"], "InvalidCredentials");
    let garbage = send(
        Method::POST,
        &gw.url("/xuc/api/2.0/auth/login"),
        &[("content-type", "application/json")],
        "{",
    )
    .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.json()["error"], "InvalidJson");
    let invalid = gw
        .get(
            "/xuc/api/2.0/auth/check",
            &[("authorization", "Bearer not-a-token")],
        )
        .await;
    assert_eq!(
        (invalid.status.as_u16(), invalid.json()["error"].clone()),
        (401, json!("InvalidToken"))
    );
}

#[tokio::test]
async fn voltmx_flow() {
    let gw = gateway(&[]).await;
    let form = send(
        Method::POST,
        &gw.url("/authService/accounts/login"),
        &[("content-type", "application/x-www-form-urlencoded")],
        "userid=alice&password=wonderland",
    )
    .await;
    assert_eq!(form.status, 200);
    let j = form.json();
    assert!(j["profile"].is_object(), "{j}");
    let exp_ms = j["claims_token"]["exp"].as_u64().expect("exp");
    assert!(exp_ms > now() * 1000, "exp is in milliseconds: {exp_ms}");
    let first = j["refresh_token"].as_str().expect("refresh").to_owned();

    let refreshed = gw
        .post_json(
            "/authService/accounts/refresh",
            &[],
            json!({"refresh_token": first}),
        )
        .await;
    assert_eq!(refreshed.status, 200);
    let second = field(&refreshed, "/refresh_token");
    let newest_claims = field(&refreshed, "/claims_token/value");
    let claims_ok = |token: String| {
        let gw = gw.clone();
        async move {
            gw.get("/claims/whoami", &[("x-voltmx-authorization", &token)])
                .await
                .status
        }
    };
    assert_eq!(claims_ok(newest_claims.clone()).await, 200);
    // The old refresh token stops working, and presenting it again revokes the family.
    assert_eq!(
        gw.post_json(
            "/authService/accounts/refresh",
            &[],
            json!({"refresh_token": first})
        )
        .await
        .status,
        401
    );
    assert_eq!(
        gw.post_json(
            "/authService/accounts/refresh",
            &[],
            json!({"refresh_token": second})
        )
        .await
        .status,
        401
    );
    // Revoking the family reaches what it minted: its newest claims token is refused too.
    assert_eq!(claims_ok(newest_claims).await, 401);

    // App API key management, as an admin's claims token.
    let login = gw
        .post_json(
            "/authService/accounts/login",
            &[],
            json!({"userid": "alice", "password": "wonderland"}),
        )
        .await;
    let alice = field(&login, "/claims_token/value");
    let login = gw
        .post_json(
            "/authService/accounts/login",
            &[],
            json!({"userid": "bob@example.com", "password": "builder"}),
        )
        .await;
    let bob = field(&login, "/claims_token/value");
    let add = gw
        .post_json(
            "/api/v1/applications/key",
            &[("x-voltmx-authorization", &alice)],
            json!({"appId": "demo-app", "neverExpires": true, "description": "ci"}),
        )
        .await;
    assert_eq!(add.status, 200, "{:?}", add.json());
    let key = field(&add, "/id");
    assert_eq!(
        who(&gw
            .get("/app/whoami", &[("x-voltmx-app-api-key", &key)])
            .await)
        .0,
        "demo-app"
    );
    let list = gw
        .get(
            "/api/v1/applications/key?appId=demo-app",
            &[("x-voltmx-authorization", &alice)],
        )
        .await;
    assert_eq!(list.status, 200);
    assert!(
        !String::from_utf8_lossy(&list.body).contains(&key),
        "keys are listed masked"
    );
    let forbidden = gw
        .post_json(
            "/api/v1/applications/key",
            &[("x-voltmx-authorization", &bob)],
            json!({"appId": "demo-app", "neverExpires": true}),
        )
        .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(gw.get("/api/v1/applications/key", &[]).await.status, 401);
    let deleted = send(
        Method::DELETE,
        &gw.url(&format!("/api/v1/applications/key/{key}")),
        &[("x-voltmx-authorization", &alice)],
        "",
    )
    .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.json());
    assert_eq!(
        gw.get("/app/whoami", &[("x-voltmx-app-api-key", &key)])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn opentact_and_ccai() {
    let gw = gateway(&[]).await;
    let rest = gw
        .get(
            "/rest/auth",
            &[("authorization", &basic("bob@example.com", "builder"))],
        )
        .await;
    assert_eq!(rest.status, 200);
    assert_eq!(rest.json()["success"], true);
    let bad = gw
        .get(
            "/rest/auth",
            &[("authorization", &basic("bob@example.com", "nope"))],
        )
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["success"], false);
    assert_eq!(bad.json()["status"], 401);

    let token = gw
        .get(
            "/auth/token",
            &[("authorization", &basic("alice", "wonderland"))],
        )
        .await;
    assert_eq!(token.status, 200);
    assert_eq!(
        token
            .headers
            .get("cache-control")
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-store")
    );
    let jwt = field(&token, "/token");
    let verifier = tower_authn::platforms::ccai::verifier("ACME", CCAI_SECRET).expect("verifier");
    let claims = verifier
        .verify_token(&jwt)
        .expect("a CCAI token")
        .into_claims();
    assert_eq!(claims["iss"], "ACME");
    assert_eq!(claims["identifier"], "alice");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    assert_eq!(gw.get("/auth/token", &[]).await.status, 401);
    // A device is not a user.
    assert_eq!(
        gw.get(
            "/auth/token",
            &[("x-device-authtoken", "demo-device-token")]
        )
        .await
        .status,
        403
    );
}

#[tokio::test]
async fn signed_server_to_server_requests() {
    use tower_authn::s2s::Signer;
    let gw = gateway(&[]).await;
    let signer = Signer::new(
        "s2s-app-id-123",
        "CRM Connector",
        "s3cr3t-k3y-0123456789abcdef",
    );
    let sign = |method: Method, path: &str, ct: Option<&str>, body: &str| {
        let mut b = http::Request::builder().method(method).uri(gw.url(path));
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        let (mut parts, body) = b
            .body(bytes::Bytes::from(body.to_owned()))
            .expect("request")
            .into_parts();
        let body = signer.sign_parts(&mut parts, body).expect("signed");
        (parts, body)
    };
    async fn run(parts: http::request::Parts, body: bytes::Bytes) -> Answer {
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        send(parts.method, &parts.uri.to_string(), &h, body).await
    }

    let (parts, body) = sign(
        Method::GET,
        "/api/v1/PBX/CallHistory/?Count=10&start=0",
        None,
        "",
    );
    let ok = run(parts, body).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    assert_eq!(
        ok.json(),
        json!({"type": "result", "result": {"app": "s2s-app-id-123", "method": "GET", "path": "/api/v1/PBX/CallHistory/"}})
    );

    let (parts, body) = sign(
        Method::POST,
        "/api/v1/Originate/",
        Some("application/x-www-form-urlencoded"),
        "from=101&to=102",
    );
    assert_eq!(run(parts, body).await.status, 200);

    // Tampered query: 401 in Wildix's shape.
    let (mut parts, body) = sign(Method::GET, "/api/v1/PBX/CallHistory/?count=10", None, "");
    parts.uri = gw
        .url("/api/v1/PBX/CallHistory/?count=11")
        .parse()
        .expect("uri");
    let tampered = run(parts, body).await;
    assert_eq!(tampered.status, 401);
    assert_eq!(tampered.json()["type"], "error");
    assert!(tampered.json()["reason"].is_string());

    // Unsigned.
    assert_eq!(gw.get("/api/v1/PBX/CallHistory/", &[]).await.status, 401);
    // Over the body limit: 413.
    let big = "a=".to_owned() + &"x".repeat(2 * 1024 * 1024);
    let (parts, body) = sign(
        Method::POST,
        "/api/v1/Originate/",
        Some("application/x-www-form-urlencoded"),
        &big,
    );
    assert_eq!(run(parts, body).await.status, 413);
}

/// The built binary: first stdout line, warnings on stderr, graceful shutdown on SIGTERM.
#[test]
fn binary_contract() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    // Tests live in target/<profile>/deps; `cargo test` / nextest build the examples beside it.
    let exe = std::env::current_exe().expect("test binary");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let gateway = profile_dir
        .join("examples")
        .join(format!("gateway{}", std::env::consts::EXE_SUFFIX));
    assert!(
        gateway.exists(),
        "{} was not built (run the tests with cargo test or nextest)",
        gateway.display()
    );

    let mut child = Command::new(&gateway)
        .env("GATEWAY_ADDR", "127.0.0.1:0")
        .env_remove("PLAY_AUTH_TOKEN")
        .env_remove("GATEWAY_JWT_SECRET")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gateway");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    let addr = first
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    let addr: SocketAddr = addr.parse().expect("IP:PORT");
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let health = runtime.block_on(http_get(&format!("http://{addr}/healthz"), &[]));
    assert_eq!(health.status, 200);
    let closed = runtime.block_on(http_get(
        &format!("http://{addr}/token/whoami?token=x"),
        &[],
    ));
    assert_eq!(closed.status, 401);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gateway did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert!(
        stderr.contains("warning: PLAY_AUTH_TOKEN is unset"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: GATEWAY_JWT_SECRET is unset"),
        "{stderr}"
    );
}

/// The gateway's configuration from exactly `pairs` (no process environment).
fn config_of(pairs: &[(&str, &str)]) -> Result<config::Config, String> {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config::Config::from_lookup(|k| env.get(k).cloned())
}

#[test]
fn configuration_is_validated() {
    let cfg = config_of;
    assert!(
        cfg(&[("GATEWAY_JWT_SECRET", "too-short")])
            .unwrap_err()
            .contains("32 bytes")
    );
    assert!(cfg(&[("GATEWAY_ADDR", "not-an-address")]).is_err());
    assert!(cfg(&[("FACEBOOK_APP_ID", "1")]).is_err());
    let ok = cfg(&[]).expect("defaults");
    assert_eq!(ok.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(ok.ccai_company_name, "ACME");
    assert_eq!(ok.facebook_graph_version, "v19.0");
    assert!(ok.warnings.iter().any(|w| w.contains("PLAY_AUTH_TOKEN")));
    let debug = format!(
        "{:?}",
        cfg(&[
            ("PLAY_AUTH_TOKEN", "hunter2-token"),
            ("GATEWAY_JWT_SECRET", JWT_SECRET)
        ])
        .expect("cfg")
    );
    assert!(
        !debug.contains("hunter2") && !debug.contains(JWT_SECRET),
        "{debug}"
    );
}

/// Issue 11 item 3: guessing stops, and stops only guessing.
#[tokio::test]
async fn throttling_locks_guessable_credentials_and_never_tokens() {
    let gw = gateway(&[("GATEWAY_THROTTLE", "1")]).await;
    // The test client is on loopback, the default trusted proxy: X-Forwarded-For names
    // the client.
    let from = |i: u32| format!("198.51.100.{i}");
    // Five wrong passwords for alice from five addresses lock her.
    for i in 1..=5 {
        let a = gw
            .get(
                "/basic/whoami",
                &[
                    ("authorization", &basic("alice", "guess")),
                    ("x-forwarded-for", &from(i)),
                ],
            )
            .await;
        assert_eq!(a.status, 401);
    }
    let right = gw
        .get(
            "/basic/whoami",
            &[
                ("authorization", &basic("alice", "wonderland")),
                ("x-forwarded-for", &from(6)),
            ],
        )
        .await;
    assert_eq!(right.status, 429);
    // Her right HA1B is no side door.
    let ha1b = gw
        .get(
            "/ha1b/whoami",
            &[
                ("x-auth-ha1b-token", &ha1b_alice()),
                ("x-forwarded-for", &from(7)),
            ],
        )
        .await;
    assert_eq!(ha1b.status, 429);
    // Forty bad tokens from one address lock out nothing: its valid token still works.
    for _ in 0..40 {
        let a = gw
            .get(
                "/token/whoami",
                &[
                    ("x-auth-token", "not-a-token"),
                    ("x-forwarded-for", &from(8)),
                ],
            )
            .await;
        assert_eq!(a.status, 401);
    }
    let token = gw
        .get(
            "/token/whoami",
            &[("x-auth-token", SHARED), ("x-forwarded-for", &from(8))],
        )
        .await;
    assert_eq!(token.status, 200);
    // Spraying usernames at a login route from one address stops at its limit (30).
    let mut statuses = Vec::new();
    for i in 0..31 {
        let a = gw
            .post_json(
                "/xuc/api/2.0/auth/login",
                &[("x-forwarded-for", &from(9))],
                json!({"login": format!("user{i}"), "password": "guess"}),
            )
            .await;
        statuses.push(a.status.as_u16());
    }
    assert!(statuses[..30].iter().all(|&s| s == 401), "{statuses:?}");
    assert_eq!(statuses[30], 429);
    // The token routes of that router are not throttled per address.
    let check = gw
        .get(
            "/xuc/api/2.0/auth/check",
            &[("x-auth-token", "nope"), ("x-forwarded-for", &from(9))],
        )
        .await;
    assert_ne!(check.status, 429);
}

/// Issue 11: a user disabled through the library loses every credential issued before:
/// XiVO token (and its renewal), gateway JWT, claims token, access pair, HA1B and Basic,
/// at once (the memory store's changes reach every cache and verifier).
#[tokio::test]
async fn a_disabled_user_loses_every_credential() {
    let env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", SHARED),
        ("GATEWAY_JWT_SECRET", JWT_SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let identities = gateway::identities::Identities::demo().expect("demo identities");
    let (router, store) = app::build_on_memory(&config, identities)
        .await
        .expect("gateway");
    let gw = Server::at(support::serve(router).await);
    let probes = support::alice_credentials(&gw).await;
    for probe in &probes {
        assert_eq!(
            support::probe_status(&gw, probe).await,
            200,
            "{} before",
            probe.0
        );
    }

    assert!(store.disable_user("alice").await.expect("disable"));
    for probe in &probes {
        assert_eq!(
            support::probe_status(&gw, probe).await,
            401,
            "{} after",
            probe.0
        );
    }
}

/// `GATEWAY_DISABLED_USERS` disables the users it names at start (every credential and
/// login of theirs is refused) and leaves the others alone; a name that is not a user
/// stops the start.
#[tokio::test]
async fn gateway_disabled_users_are_refused_from_the_start() {
    let gw = gateway(&[("GATEWAY_DISABLED_USERS", "alice")]).await;
    let alice = basic("alice", "wonderland");
    assert_eq!(
        gw.get("/basic/whoami", &[("authorization", &alice)])
            .await
            .status,
        401
    );
    let login = gw
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(login.status, 401, "{:?}", login.json());
    let ha1b = ha1b_alice();
    assert_eq!(
        gw.get("/ha1b/whoami", &[("x-auth-ha1b-token", &ha1b)])
            .await
            .status,
        401
    );
    let bob = basic("bob@example.com", "builder");
    assert_eq!(
        gw.get("/basic/whoami", &[("authorization", &bob)])
            .await
            .status,
        200
    );

    let config = config_of(&[
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("GATEWAY_DISABLED_USERS", "alice,mallory"),
    ])
    .expect("config");
    let Err(err) = app::build(&config).await else {
        panic!("an unknown user stops the start");
    };
    assert!(err.to_string().contains("mallory"), "{err}");
}

/// `GATEWAY_KEY_PEPPER`: required with `REDIS_URL`, at least 32 bytes, and random (with a
/// warning) in memory mode; never printed.
#[test]
fn the_key_pepper_is_required_with_redis_and_never_shown() {
    let cfg = config_of;
    let err = cfg(&[("REDIS_URL", "redis://127.0.0.1:1/")]).err().unwrap();
    assert!(err.contains("GATEWAY_KEY_PEPPER is required"), "{err}");
    let err = cfg(&[("GATEWAY_KEY_PEPPER", "short")]).err().unwrap();
    assert!(err.contains("at least 32 bytes"), "{err}");
    let memory = cfg(&[]).unwrap();
    assert!(
        memory
            .warnings
            .iter()
            .any(|w| w.contains("GATEWAY_KEY_PEPPER")),
        "{:?}",
        memory.warnings
    );
    let pepper = "a-pepper-of-at-least-thirty-two-bytes!!";
    let set = cfg(&[("GATEWAY_KEY_PEPPER", pepper)]).unwrap();
    assert!(
        !set.warnings
            .iter()
            .any(|w| w.contains("GATEWAY_KEY_PEPPER"))
    );
    assert!(!format!("{set:?}").contains(pepper));
    // The stored digests are keyed by it: the same key digests alike under one pepper.
    let again = cfg(&[("GATEWAY_KEY_PEPPER", pepper)]).unwrap();
    assert!(
        set.key_hasher()
            .digest("k")
            .ct_eq(&again.key_hasher().digest("k"))
    );
    assert!(
        !set.key_hasher()
            .digest("k")
            .ct_eq(&memory.key_hasher().digest("k"))
    );
}

/// Issue 10: the token services read exactly one JSON object with unique keys, and only as
/// JSON or form: duplicate keys cannot pick the last login, and a cross-site `text/plain`
/// form (no preflight) cannot post a login.
#[tokio::test]
async fn token_services_refuse_duplicate_keys_and_other_media_types() {
    let gw = gateway(&[]).await;
    let duplicate = r#"{"login":"bob@example.com","login":"alice","password":"wonderland"}"#;
    let xivo = |content_type: &'static str, body: &'static str| {
        let gw = gw.clone();
        async move {
            let mut headers = vec![];
            if !content_type.is_empty() {
                headers.push(("content-type", content_type));
            }
            send(
                Method::POST,
                &gw.url("/xuc/api/2.0/auth/login"),
                &headers,
                body,
            )
            .await
        }
    };
    let refused = xivo("application/json", duplicate).await;
    assert_eq!(refused.status, 400, "{:?}", refused.json());
    assert!(refused.json().get("token").is_none());
    let good = r#"{"login":"alice","password":"wonderland"}"#;
    for content_type in [
        "text/plain",
        "",
        "application/x-www-form-urlencoded; x=1, text/plain",
    ] {
        assert_eq!(
            xivo(content_type, good).await.status,
            415,
            "{content_type:?}"
        );
    }
    assert_eq!(xivo("application/json", good).await.status, 200);

    let voltmx_duplicate = send(
        Method::POST,
        &gw.url("/authService/accounts/login"),
        &[("content-type", "application/json")],
        r#"{"userid":"bob@example.com","userid":"alice","password":"wonderland"}"#,
    )
    .await;
    assert_eq!(voltmx_duplicate.status, 400);
    let voltmx_text = send(
        Method::POST,
        &gw.url("/authService/accounts/login"),
        &[("content-type", "text/plain")],
        "userid=alice&password=wonderland",
    )
    .await;
    assert_eq!(voltmx_text.status, 415);
}
