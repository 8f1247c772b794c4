//! A XiVO (xuc) compatible server: login for a token, renew it with check, use it (or the
//! shared server token `PLAY_AUTH_TOKEN`) in `X-Auth-Token` or `?token=`.
//!
//! ```sh
//! PLAY_AUTH_TOKEN=s3rver cargo run --example xivo
//! ```

// An example server talks to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod demo;

use demo::whoami;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tower_authn::clock::{SharedClock, SystemClock};
use tower_authn::issue::OpaqueTokenIssuer;
use tower_authn::memory::{MemoryKeyStore, MemoryUserStore};
use tower_authn::platforms::xivo;
use tower_authn::{SharedTokenVerifier, UserStoreExt, VerifierExt};

/// The server: XiVO's login and check, a token-protected `/whoami`, and logout.
pub fn app(users: MemoryUserStore, shared: SharedTokenVerifier, clock: SharedClock) -> Router {
    let keys = MemoryKeyStore::new();
    let tokens = OpaqueTokenIssuer::new(keys)
        .ttl(Duration::from_secs(3600))
        .with_clock(Arc::clone(&clock));
    // X-Auth-Token or ?token=: the shared server token, else a token from the login.
    let api = xivo::token_layer(shared.or_else(tokens.verifier()));
    Router::new()
        .merge(xivo::router(
            users.password_verifier(),
            xivo::Sessions::new(tokens, users),
        ))
        .route("/whoami", get(whoami).route_layer(api))
        .route("/healthz", get(|| async { "ok\n" }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shared = SharedTokenVerifier::from_env(xivo::PLAY_AUTH_TOKEN);
    if !shared.is_configured() {
        eprintln!("warning: PLAY_AUTH_TOKEN is unset: shared-token auth rejects everything");
    }
    let (listener, addr) = demo::listen("GATEWAY_ADDR", "127.0.0.1:8080").await?;
    println!("listening on http://{addr}");
    println!("try:");
    println!(
        "  TOKEN=$(curl -s -H 'Content-Type: application/json' -d '{{\"login\":\"alice\",\"password\":\"wonderland\"}}' http://{addr}/xuc/api/2.0/auth/login | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')"
    );
    println!("  curl -H \"X-Auth-Token: $TOKEN\" http://{addr}/whoami");
    println!("  curl \"http://{addr}/whoami?token=$TOKEN\"");
    println!(
        "  curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/xuc/api/2.0/auth/check   # renewed token"
    );
    println!(
        "  curl -H 'X-Auth-Token: s3rver' http://{addr}/whoami   # with PLAY_AUTH_TOKEN=s3rver"
    );
    println!(
        "  curl -X POST -H \"Authorization: Bearer $TOKEN\" http://{addr}/xuc/api/2.0/auth/logout   # then the token is refused"
    );
    println!(
        "  curl -i -d '{{\"login\":\"alice\",\"password\":\"nope\"}}' http://{addr}/xuc/api/2.0/auth/login   # 401 InvalidCredentials"
    );
    println!("  curl -i -d 'not json' http://{addr}/xuc/api/2.0/auth/login   # 400 InvalidJson");
    let app = app(demo::users()?, shared, Arc::new(SystemClock));
    demo::serve(listener, app).await
}
