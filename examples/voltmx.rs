//! A Volt MX Foundry Engagement compatible server: accounts login / refresh (claims token in
//! `X-VoltMX-Authorization`), the OAuth access pair (`AccessToken` + `AccessSecret`), app
//! API keys (`X-VoltMX-App-API-Key`, managed under `/api/v1/applications/key` by admins),
//! device tokens (`X-Device-AuthToken`) and Basic.
//!
//! ```sh
//! cargo run --example voltmx
//! ```

// An example server talks to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod demo;

use demo::whoami;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tower_authn::axum::revocation;
use tower_authn::clock::{SharedClock, SystemClock};
use tower_authn::issue::{AccessPairs, AppKeys, Expiry, OpaqueTokenIssuer, RefreshTokens};
use tower_authn::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
use tower_authn::platforms::voltmx;
use tower_authn::{
    AccessSecretLayer, BasicAuthLayer, KeyStoreExt, Principal, Requirement, UserStoreExt,
};

/// The server, with the demo app key `demo-app-key-1` and device token `demo-device-token`.
pub async fn app(
    users: MemoryUserStore,
    clock: SharedClock,
) -> Result<Router, Box<dyn std::error::Error>> {
    let keys = MemoryKeyStore::new();
    let claims = OpaqueTokenIssuer::new(keys.clone())
        .scheme("claims")
        .with_clock(Arc::clone(&clock));
    let refresh = RefreshTokens::new(keys.clone()).with_clock(Arc::clone(&clock));
    let app_keys = AppKeys::new(keys.clone()).with_clock(Arc::clone(&clock));
    app_keys
        .insert_plaintext(
            "demo-app",
            "demo-app-key-1",
            Expiry::Never,
            Some("demo key".into()),
        )
        .await?;
    let device = Principal::device("demo-device").with_app_id("demo-app");
    keys.insert_plaintext(
        KeyKind::DeviceToken,
        "demo-device".into(),
        "demo-device-token",
        device,
        None,
    )
    .await?;

    let basic = BasicAuthLayer::new(users.password_verifier()).responder(voltmx::Errors);
    let claims_auth = voltmx::claims_layer(claims.verifier());
    let admin = claims_auth.clone().require(Requirement::role("admin"));
    let pair = AccessSecretLayer::new(keys.access_pair_verifier().with_clock(Arc::clone(&clock)))
        .responder(voltmx::Errors);
    let app_key = voltmx::app_key_layer(app_keys.verifier());
    let device = voltmx::device_token_layer(
        keys.verifier(KeyKind::DeviceToken)
            .with_clock(Arc::clone(&clock)),
    );
    let pairs = AccessPairs::new(keys.clone()).with_clock(clock);

    Ok(Router::new()
        .merge(voltmx::accounts_router(
            users.password_verifier(),
            claims.clone(),
            refresh.clone(),
        ))
        .merge(revocation::router(
            "/authService/accounts/logout",
            claims,
            refresh,
        ))
        .merge(voltmx::oauth_router(users.password_verifier(), pairs))
        .merge(voltmx::app_keys_router(app_keys).route_layer(admin))
        .route("/basic/whoami", get(whoami).route_layer(basic))
        .route("/claims/whoami", get(whoami).route_layer(claims_auth))
        .route("/messaging/whoami", get(whoami).route_layer(pair))
        .route("/app/whoami", get(whoami).route_layer(app_key))
        .route("/device/whoami", get(whoami).route_layer(device))
        .route("/healthz", get(|| async { "ok\n" })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (listener, addr) = demo::listen("GATEWAY_ADDR", "127.0.0.1:8080").await?;
    println!("listening on http://{addr}");
    println!("try:");
    println!(
        "  curl -d userid=alice -d password=wonderland http://{addr}/authService/accounts/login"
    );
    println!(
        "  curl -H 'Content-Type: application/json' -d '{{\"userid\":\"alice\",\"password\":\"wonderland\"}}' http://{addr}/authService/accounts/login"
    );
    println!(
        "  curl -H 'X-VoltMX-Authorization: <claims_token.value>' http://{addr}/claims/whoami"
    );
    println!(
        "  curl -d refresh_token=<refresh_token> http://{addr}/authService/accounts/refresh   # once only"
    );
    println!("  curl -u alice:wonderland http://{addr}/api/v1/oauth/accesstoken");
    println!(
        "  curl -H 'AccessToken: <AccessToken>' -H 'AccessSecret: <AccessSecret>' http://{addr}/messaging/whoami"
    );
    println!("  curl -H 'X-VoltMX-App-API-Key: demo-app-key-1' http://{addr}/app/whoami");
    println!("  curl -H 'X-Device-AuthToken: demo-device-token' http://{addr}/device/whoami");
    println!(
        "  curl -H 'X-VoltMX-Authorization: <claims of alice>' -d appId=demo-app -d neverExpires=true http://{addr}/api/v1/applications/key"
    );
    println!(
        "  curl -H 'X-VoltMX-Authorization: <claims of alice>' 'http://{addr}/api/v1/applications/key?appId=demo-app'"
    );
    println!(
        "  curl -H 'X-VoltMX-Authorization: <claims of alice>' http://{addr}/api/v1/applications/key/<key>"
    );
    println!(
        "  curl -H 'X-VoltMX-Authorization: <claims of alice>' -d 'expiresOn=12/31/2030 23:59:59' -d description=renewed -d regenerate=true http://{addr}/api/v1/applications/key/<key>"
    );
    println!(
        "  curl -X DELETE -H 'X-VoltMX-Authorization: <claims of alice>' http://{addr}/api/v1/applications/key/<key>"
    );
    let app = app(demo::users()?, Arc::new(SystemClock)).await?;
    demo::serve(listener, app).await
}
