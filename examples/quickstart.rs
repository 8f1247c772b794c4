//! Quick start: different schemes on different routes of one axum router.
//!
//! ```sh
//! PLAY_AUTH_TOKEN=s3rver cargo run --example quickstart
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)] // a demo server prints how to use it

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use tower_authn::axum::tokens;
use tower_authn::issue::OpaqueTokenIssuer;
use tower_authn::issue::RefreshTokens;
use tower_authn::prelude::*;

/// Every protected route answers with the principal as JSON.
async fn whoami(principal: Principal) -> axum::Json<Principal> {
    axum::Json(principal)
}

/// A route that works for everyone but greets the authenticated by name.
async fn hello(principal: Option<Principal>) -> String {
    match principal {
        Some(p) => format!("hello {}\n", p.name.as_deref().unwrap_or(&p.id)),
        None => "hello stranger\n".to_owned(),
    }
}

fn app() -> Result<Router, Box<dyn std::error::Error>> {
    let users = MemoryUserStore::new();
    users.add_user("alice", "wonderland", |u| {
        u.with_name("Alice Liddell")
            .with_email("alice@example.com")
            .with_roles(["admin"])
    })?;
    users.add_user("bob@example.com", "builder", |u| {
        u.with_name("Bob Builder")
            .with_email("bob@example.com")
            .with_roles(["user"])
    })?;

    // XiVO convention: the shared server token comes from PLAY_AUTH_TOKEN; unset rejects all.
    let shared = SharedTokenVerifier::from_env("PLAY_AUTH_TOKEN");
    if !shared.is_configured() {
        eprintln!("warning: PLAY_AUTH_TOKEN is unset: shared-token auth rejects everything");
    }

    // Access tokens issued by the token service at /auth (stored only as digests).
    let keys = MemoryKeyStore::new();
    let access = OpaqueTokenIssuer::new(keys.clone());
    let token_service = tokens::router(
        users.password_verifier(),
        access.clone(),
        access.verifier(),
        RefreshTokens::new(keys),
    );

    let basic = BasicAuthLayer::new(users.password_verifier()).realm("quickstart");
    // One slot, two kinds of token: the shared server token, or an issued access token.
    let token = HeaderTokenLayer::new("X-Auth-Token", shared.or_else(access.verifier()))
        .with_bearer()
        .with_query("token");
    let any = basic.clone().or(token.clone());

    Ok(Router::new()
        .route("/basic/whoami", get(whoami).route_layer(basic.clone()))
        .route("/token/whoami", get(whoami).route_layer(token))
        .route("/whoami", get(whoami).route_layer(any.clone()))
        .route(
            "/admin/whoami",
            get(whoami).route_layer(any.require(Requirement::role("admin"))),
        )
        .route("/hello", get(hello).route_layer(basic.optional()))
        .route("/healthz", get(|| async { "ok\n" }))
        .nest("/auth", token_service))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("QUICKSTART_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!("try:");
    println!("  curl -u alice:wonderland http://{addr}/whoami");
    println!(
        "  curl -H 'X-Auth-Token: s3rver' http://{addr}/token/whoami   # with PLAY_AUTH_TOKEN=s3rver"
    );
    println!("  curl 'http://{addr}/token/whoami?token=s3rver'");
    println!(
        "  curl -u bob@example.com:builder http://{addr}/admin/whoami   # 403: bob is not an admin"
    );
    println!(
        "  curl -i http://{addr}/whoami                                 # 401 with both challenges"
    );
    println!("  curl http://{addr}/hello");
    println!(
        "  curl -d username=alice -d password=wonderland http://{addr}/auth/login   # access + refresh token"
    );
    println!("  curl -H 'Authorization: Bearer <access_token>' http://{addr}/whoami");
    axum::serve(listener, app()?)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
