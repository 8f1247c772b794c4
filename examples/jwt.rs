//! JWTs end to end on one axum router:
//!
//! - Opentact style: `GET /rest/auth` with Basic gives a 24 h HS256 JWT; `/rest/user` takes it
//!   in `X-Auth-Token` or `?jwt=`.
//! - Bearer tokens checked against a remote JWKS: `GET /api/token` (Basic) issues an ES256
//!   token; `/.well-known/jwks.json` publishes the public key; `/api/me` verifies Bearer
//!   tokens with keys fetched from that URL, as it would from any identity provider.
//!
//! ```sh
//! cargo run --example jwt
//! ```
//!
//! Google ID tokens and Facebook tokens work the same way (`tower_authn::jwt::google`,
//! `tower_authn::jwt::facebook`); they need an HTTPS fetcher:
//! `HyperFetcher::with_connector(hyper_rustls::HttpsConnectorBuilder::new()...)`.

// A demo server talks to whoever runs it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod demo;

use demo::whoami;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tower_authn::jwt::{HyperFetcher, JwtIssuer, RemoteJwks, SigningKey, Validation};
use tower_authn::platforms::opentact::{self, OpentactIssuer};
use tower_authn::prelude::*;

/// A demo ES256 key generated for this example only. Never reuse it.
const DEMO_EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+aChm4Vtl9KFzART
uQh57aWpyDbFOQg0cGuKnwXHo2ShRANCAAQjHsIiPrwhFHIMJ7rjq1JFsH6en0vS
/4+ZrB+W5iQCBdNsnqoRpc4k0UyPB2O97ER2pfzRwaSsccq/EXTDudJI
-----END PRIVATE KEY-----
";

#[derive(Clone)]
struct Issuers {
    opentact: OpentactIssuer,
    api: JwtIssuer,
    jwks: serde_json::Value,
}

fn secret(var: &str, demo: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        eprintln!("warning: {var} is unset; using a demo secret");
        demo.to_owned()
    })
}

async fn opentact_login(
    State(issuers): State<Issuers>,
    principal: Principal,
) -> Result<axum::Json<serde_json::Value>, StatusCode> {
    let token = issuers
        .opentact
        .issue_for(&principal)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(axum::Json(
        serde_json::json!({ "success": true, "payload": { "token": token } }),
    ))
}

async fn api_token(
    State(issuers): State<Issuers>,
    principal: Principal,
) -> Result<axum::Json<serde_json::Value>, StatusCode> {
    let token = issuers
        .api
        .issue_for(&principal)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(axum::Json(
        serde_json::json!({ "access_token": token, "token_type": "Bearer" }),
    ))
}

async fn jwks(State(issuers): State<Issuers>) -> axum::Json<serde_json::Value> {
    axum::Json(issuers.jwks)
}

fn app(addr: SocketAddr) -> Result<Router, Box<dyn std::error::Error>> {
    let users = MemoryUserStore::new();
    users.add_user("alice", "wonderland", |u| {
        u.with_name("Alice Liddell")
            .with_email("alice@example.com")
            .with_roles(["Admin"])
    })?;
    let basic = BasicAuthLayer::new(users.password_verifier()).realm("jwt-example");

    let opentact = OpentactIssuer::new(secret(
        "OPENTACT_SECRET",
        "demo opentact secret, 32 bytes or more",
    ))?;
    let opentact_layer =
        HeaderTokenLayer::new(opentact::HEADER, opentact.verifier()).with_query(opentact::QUERY);

    let origin = format!("http://{addr}");
    let key = SigningKey::ec_pem(DEMO_EC_KEY)?.with_kid("demo-es256");
    let jwks_doc = serde_json::json!({ "keys": [key.public_jwk()?] });
    let api = JwtIssuer::new(key)
        .with_issuer(origin.as_str())
        .with_audiences(["demo-api"]);
    let remote = RemoteJwks::new(
        &format!("{origin}/.well-known/jwks.json"),
        HyperFetcher::new(),
    )?;
    let bearer = HeaderTokenLayer::bearer(
        JwtVerifier::with_keys(remote).with_validation(
            Validation::new()
                .with_issuers([origin])
                .with_audiences(["demo-api"]),
        ),
    );

    let issuers = Issuers {
        opentact,
        api,
        jwks: jwks_doc,
    };
    Ok(Router::new()
        .route("/rest/auth", get(opentact_login).route_layer(basic.clone()))
        .route("/rest/user", get(whoami).route_layer(opentact_layer))
        .route("/api/token", get(api_token).route_layer(basic))
        .route("/api/me", get(whoami).route_layer(bearer))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(issuers))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (listener, addr) = demo::listen("JWT_EXAMPLE_ADDR", "127.0.0.1:8081").await?;
    println!("listening on http://{addr}");
    println!("try:");
    println!("  T=$(curl -s -u alice:wonderland http://{addr}/rest/auth | jq -r .payload.token)");
    println!("  curl -H \"X-Auth-Token: $T\" http://{addr}/rest/user");
    println!("  curl \"http://{addr}/rest/user?jwt=$T\"");
    println!("  A=$(curl -s -u alice:wonderland http://{addr}/api/token | jq -r .access_token)");
    println!("  curl -H \"Authorization: Bearer $A\" http://{addr}/api/me");
    demo::serve(listener, app(addr)?).await
}
