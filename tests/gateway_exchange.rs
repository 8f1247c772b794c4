//! The gateway's XiVO credential exchanges (GATEWAY.md "XiVO credential exchange") over real
//! HTTP, against a CAS server and an OpenID Connect provider on 127.0.0.1:0: each trade gives
//! a XiVO token that works on the token routes and renews with `auth/check`, and each
//! refusal answers XiVO's code. (Kerberos against a real KDC: `tests/gateway_kerberos.rs`.)

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;
#[path = "../crates/jwt/tests/support/keys.rs"]
mod keys;
#[path = "../crates/exchange/tests/support/peers.rs"]
mod peers;

use gateway::{app, config};

use std::collections::HashMap;

use peers::{CasServer, OidcServer};
use support::{Answer, Server};
use tower_authn::jwt::{Claims, JwtIssuer, SigningKey};

const CAS: &str = "/xuc/api/2.0/auth/cas";
const OIDC: &str = "/xuc/api/2.0/auth/oidc";
const SSO: &str = "/xuc/api/2.0/auth/sso";
const SERVICE: &str = "https://cti.example/login";
const AUDIENCE: &str = "xuc";

async fn gateway(vars: &[(&str, &str)]) -> Server {
    let mut env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", "gateway-shared-token"),
        ("GATEWAY_JWT_SECRET", "gateway-test-secret-0123456789abcdef"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in vars {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    Server::at(support::serve(app::build(&config).await.expect("gateway")).await)
}

fn assert_xivo_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.json()["error"], code, "{answer:?}");
    assert!(answer.json()["message"].is_string());
}

/// The token of a trade works where XiVO tokens do, and renews.
async fn assert_token_works(gw: &Server, answer: &Answer, login: &str) {
    assert_eq!(answer.status, 200, "{answer:?}");
    let body = answer.json();
    assert_eq!(body["login"], login);
    assert!(body["TTL"].as_u64().unwrap() > 0);
    let token = body["token"].as_str().unwrap().to_owned();
    let whoami = gw.get("/whoami", &[("X-Auth-Token", &token)]).await;
    assert_eq!(whoami.status, 200, "{whoami:?}");
    assert_eq!(whoami.json()["id"], login);
    let renewed = gw
        .get(
            "/xuc/api/2.0/auth/check",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(renewed.status, 200, "{renewed:?}");
    assert_eq!(renewed.json()["login"], login);
}

fn cas_query(ticket: &str, service: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("service", service)
        .append_pair("ticket", ticket)
        .finish();
    format!("{CAS}?{q}")
}

#[tokio::test]
async fn cas_ticket_for_a_token_once() {
    let cas = CasServer::start().await;
    cas.set_reusable(true); // the gateway's own ledger must refuse the replay
    let gw = gateway(&[
        ("CAS_SERVER_URL", &cas.url),
        (
            "CAS_SERVICES",
            &format!("https://other.example/, {SERVICE}"),
        ),
    ])
    .await;
    let ticket = cas.issue("alice", SERVICE);
    let answer = gw.get(&cas_query(&ticket, SERVICE), &[]).await;
    assert_token_works(&gw, &answer, "alice").await;

    let replay = gw.get(&cas_query(&ticket, SERVICE), &[]).await;
    assert_xivo_error(&replay, 401, "CasServerInvalidTicket");

    let unknown = gw.get(&cas_query("ST-0-forged", SERVICE), &[]).await;
    assert_xivo_error(&unknown, 401, "CasServerInvalidTicket");

    let mallory = gw
        .get(&cas_query(&cas.issue("mallory", SERVICE), SERVICE), &[])
        .await;
    assert_xivo_error(&mallory, 404, "UserNotFound");

    let evil = "https://evil.example/";
    let other = gw
        .get(&cas_query(&cas.issue("alice", evil), evil), &[])
        .await;
    assert_eq!(other.status, 400, "{other:?}");
    for bad in [
        CAS.to_owned(),
        format!("{CAS}?ticket=ST-1-a"),
        format!("{}&ticket=ST-2-b", cas_query("ST-1-a", SERVICE)),
        cas_query("not-a-ticket", SERVICE),
    ] {
        assert_eq!(gw.get(&bad, &[]).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn cas_server_down_or_unset_is_503() {
    let down = peers::unreachable_url().await;
    let gw = gateway(&[("CAS_SERVER_URL", &down), ("CAS_SERVICES", SERVICE)]).await;
    assert_xivo_error(
        &gw.get(&cas_query("ST-1-a", SERVICE), &[]).await,
        503,
        "UnhandledError",
    );
    let gw = gateway(&[]).await;
    assert_xivo_error(
        &gw.get(&cas_query("ST-1-a", SERVICE), &[]).await,
        503,
        "UnhandledError",
    );
}

fn oidc_key() -> SigningKey {
    SigningKey::ec_pem(keys::EC256).unwrap().with_kid("oidc-1")
}

fn oidc_token(issuer: &str, audience: &str, user: &str) -> String {
    JwtIssuer::new(oidc_key())
        .with_issuer(issuer)
        .with_audiences([audience])
        .issue(
            Claims::new()
                .with("sub", format!("id-{user}"))
                .with("preferred_username", user),
        )
        .unwrap()
}

#[tokio::test]
async fn oidc_token_for_a_token() {
    let jwks = serde_json::json!({ "keys": [oidc_key().public_jwk().unwrap()] }).to_string();
    let idp = OidcServer::start(jwks).await;
    let gw = gateway(&[("OIDC_ISSUER", &idp.issuer), ("OIDC_AUDIENCE", AUDIENCE)]).await;
    let bearer = |t: &str| format!("Bearer {t}");

    let answer = gw
        .get(
            OIDC,
            &[(
                "authorization",
                &bearer(&oidc_token(&idp.issuer, AUDIENCE, "alice")),
            )],
        )
        .await;
    assert_token_works(&gw, &answer, "alice").await;

    let missing = gw.get(OIDC, &[]).await;
    assert_xivo_error(&missing, 401, "InvalidToken");
    assert!(missing.challenges().iter().any(|c| c.starts_with("Bearer")));
    for bad in [
        oidc_token(&idp.issuer, "another-app", "alice"),
        oidc_token("https://evil.example", AUDIENCE, "alice"),
        "garbage.token.here".to_owned(),
    ] {
        assert_xivo_error(
            &gw.get(OIDC, &[("authorization", &bearer(&bad))]).await,
            401,
            "InvalidToken",
        );
    }
    let mallory = gw
        .get(
            OIDC,
            &[(
                "authorization",
                &bearer(&oidc_token(&idp.issuer, AUDIENCE, "mallory")),
            )],
        )
        .await;
    assert_xivo_error(&mallory, 404, "UserNotFound");
}

#[tokio::test]
async fn oidc_provider_down_or_unset_is_503() {
    let idp = OidcServer::start(String::new()).await;
    idp.set_down(true);
    let gw = gateway(&[("OIDC_ISSUER", &idp.issuer), ("OIDC_AUDIENCE", AUDIENCE)]).await;
    let t = format!("Bearer {}", oidc_token(&idp.issuer, AUDIENCE, "alice"));
    assert_xivo_error(
        &gw.get(OIDC, &[("authorization", &t)]).await,
        503,
        "UnhandledError",
    );
    let gw = gateway(&[]).await;
    assert_xivo_error(
        &gw.get(OIDC, &[("authorization", &t)]).await,
        503,
        "UnhandledError",
    );
}

#[tokio::test]
async fn sso_without_a_keytab_is_503() {
    let gw = gateway(&[]).await;
    let answer = gw.get(SSO, &[("authorization", "Negotiate YIIB")]).await;
    assert_xivo_error(&answer, 503, "UnhandledError");
}

#[tokio::test]
async fn half_configured_providers_stop_the_gateway() {
    for vars in [
        &[("CAS_SERVER_URL", "http://127.0.0.1:1/cas")][..],
        &[("CAS_SERVICES", SERVICE)][..],
        &[("OIDC_ISSUER", "http://127.0.0.1:1")][..],
        &[("OIDC_AUDIENCE", AUDIENCE)][..],
    ] {
        let env: HashMap<&str, &str> = vars.iter().copied().collect();
        assert!(
            config::Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).is_err(),
            "{vars:?}"
        );
    }
}
