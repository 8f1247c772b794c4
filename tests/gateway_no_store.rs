//! `Cache-Control: no-store` on every answer of the gateway (GATEWAY.md) that carries a
//! token or a secret, over real HTTP: XiVO login and check (renewal), Volt MX login and
//! refresh, the access-pair endpoint, app key creation and regeneration, Opentact's
//! `/rest/auth`, CCAI's `/auth/token`; and on the other answers of those routes (listings,
//! logout, failures), so no cache keeps what a token route said.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};

use std::collections::HashMap;

use http::Method;
use serde_json::json;
use support::{Answer, Server, basic, field, send};

async fn gateway() -> Server {
    let env: HashMap<&str, &str> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", "gateway-shared-token"),
        ("GATEWAY_JWT_SECRET", "gateway-test-secret-0123456789abcdef"),
        ("CCAI_COMPANY_NAME", "ACME"),
        ("CCAI_COMPANY_SECRET", "ccai-company-secret-0123456789"),
    ]
    .into_iter()
    .collect();
    let config =
        config::Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("config");
    Server::at(support::serve(app::build(&config).await.expect("gateway")).await)
}

/// `answer` is `status` and carries `Cache-Control: no-store` (exactly that).
#[track_caller]
fn no_store(what: &str, answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{what}: {:?}", answer.json());
    let values: Vec<_> = answer.headers.get_all("cache-control").iter().collect();
    assert_eq!(values, ["no-store"], "{what}: {:?}", answer.headers);
}

#[tokio::test]
async fn every_token_answer_is_no_store() {
    let gw = gateway().await;
    let alice = basic("alice", "wonderland");

    // XiVO: login, check (a renewed token), logout.
    let login = gw
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    no_store("xivo login", &login, 200);
    let bearer = format!("Bearer {}", field(&login, "/token"));
    let check = gw
        .get("/xuc/api/2.0/auth/check", &[("authorization", &bearer)])
        .await;
    no_store("xivo check", &check, 200);
    assert_ne!(format!("Bearer {}", field(&check, "/token")), bearer);
    let logout = send(
        Method::POST,
        &gw.url("/xuc/api/2.0/auth/logout"),
        &[("authorization", &bearer)],
        "",
    )
    .await;
    no_store("xivo logout", &logout, 204);

    // Volt MX: login (claims and refresh token), refresh (a new pair).
    let login = gw
        .post_json(
            "/authService/accounts/login",
            &[],
            json!({"userid": "alice", "password": "wonderland"}),
        )
        .await;
    no_store("voltmx login", &login, 200);
    let claims = field(&login, "/claims_token/value");
    let refreshed = gw
        .post_json(
            "/authService/accounts/refresh",
            &[],
            json!({"refresh_token": field(&login, "/refresh_token")}),
        )
        .await;
    no_store("voltmx refresh", &refreshed, 200);
    field(&refreshed, "/refresh_token");

    // The access pair.
    let pair = gw
        .get("/api/v1/oauth/accesstoken", &[("authorization", &alice)])
        .await;
    no_store("access token", &pair, 200);
    field(&pair, "/AccessSecret");

    // App keys: created (the key itself), regenerated (a new key), listed, shown, deleted.
    let admin = [("x-voltmx-authorization", claims.as_str())];
    let added = gw
        .post_json(
            "/api/v1/applications/key",
            &admin,
            json!({"appId": "demo-app", "neverExpires": true}),
        )
        .await;
    no_store("app key creation", &added, 200);
    let key = field(&added, "/id");
    let regenerated = gw
        .post_json(
            &format!("/api/v1/applications/key/{key}"),
            &admin,
            json!({"regenerate": true}),
        )
        .await;
    no_store("app key regeneration", &regenerated, 200);
    let key = field(&regenerated, "/id");
    assert_eq!(
        gw.get("/app/whoami", &[("x-voltmx-app-api-key", &key)])
            .await
            .status,
        200,
        "the regenerated key is a real key"
    );
    let listed = gw
        .get("/api/v1/applications/key?appId=demo-app", &admin)
        .await;
    no_store("app key listing", &listed, 200);
    let shown = gw
        .get(&format!("/api/v1/applications/key/{key}"), &admin)
        .await;
    no_store("app key details", &shown, 200);
    let deleted = send(
        Method::DELETE,
        &gw.url(&format!("/api/v1/applications/key/{key}")),
        &admin,
        "",
    )
    .await;
    no_store("app key deletion", &deleted, 200);

    // Opentact and CCAI.
    let rest = gw.get("/rest/auth", &[("authorization", &alice)]).await;
    no_store("opentact auth", &rest, 200);
    field(&rest, "/payload/token");
    let ccai = gw.get("/auth/token", &[("authorization", &alice)]).await;
    no_store("ccai token", &ccai, 200);
    field(&ccai, "/token");
}

#[tokio::test]
async fn the_token_routes_failures_are_no_store_too() {
    let gw = gateway().await;
    let wrong = basic("alice", "not-her-password");
    let failures = [
        (
            "xivo login",
            gw.post_json(
                "/xuc/api/2.0/auth/login",
                &[],
                json!({"login": "alice", "password": "x"}),
            )
            .await,
            401,
        ),
        (
            "xivo check",
            gw.get(
                "/xuc/api/2.0/auth/check",
                &[("authorization", "Bearer not-a-token")],
            )
            .await,
            401,
        ),
        (
            "voltmx login",
            gw.post_json(
                "/authService/accounts/login",
                &[],
                json!({"userid": "alice", "password": "x"}),
            )
            .await,
            401,
        ),
        (
            "voltmx refresh",
            gw.post_json(
                "/authService/accounts/refresh",
                &[],
                json!({"refresh_token": "not-a-refresh-token"}),
            )
            .await,
            401,
        ),
        (
            "access token",
            gw.get("/api/v1/oauth/accesstoken", &[("authorization", &wrong)])
                .await,
            401,
        ),
        (
            "app key creation",
            gw.post_json(
                "/api/v1/applications/key",
                &[],
                json!({"appId": "demo-app", "neverExpires": true}),
            )
            .await,
            401,
        ),
        (
            "opentact auth",
            gw.get("/rest/auth", &[("authorization", &wrong)]).await,
            401,
        ),
        (
            "ccai token",
            gw.get("/auth/token", &[("authorization", &wrong)]).await,
            401,
        ),
    ];
    for (what, answer, status) in &failures {
        no_store(what, answer, *status);
    }
}
