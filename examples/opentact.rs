//! An Opentact compatible server: `GET /rest/auth` with Basic `email:password` for a JWT,
//! then the JWT in `X-Auth-Token` or `?jwt=`, or the HA1B
//! (`md5(login@domain:domain:password)`) in `X-Auth-HA1B-Token` or `?ha1b=`. Plain HTTP is
//! redirected to HTTPS (302); `X-Forwarded-Proto: https` is believed only from the trusted
//! proxies (here: this machine, standing in for a TLS-terminating proxy).
//!
//! ```sh
//! OPENTACT_JWT_SECRET=a-secret-of-at-least-32-bytes-0123456789 cargo run --example opentact
//! ```

// An example server talks to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod demo;

use demo::whoami;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tower_authn::axum::connect_info_peer;
use tower_authn::clock::Clock;
use tower_authn::https_redirect::{HttpsOrigin, TrustedProxy};
use tower_authn::memory::{MemoryKeyStore, MemoryUserStore};
use tower_authn::platforms::opentact::{self, OpentactIssuer};
use tower_authn::{Ha1bVerifier, HttpsRedirectLayer, UserStore, UserStoreExt};

/// The server. `trusted` are the proxies whose `X-Forwarded-Proto` counts; plain HTTP is
/// redirected to `origin` (never to the client's `Host`).
pub async fn app(
    users: MemoryUserStore,
    jwt_secret: &str,
    clock: impl Clock + Clone,
    trusted: Vec<TrustedProxy>,
    origin: HttpsOrigin,
) -> Result<Router, Box<dyn std::error::Error>> {
    let jwt = OpentactIssuer::new(jwt_secret)?.with_clock(clock.clone());
    let verifier = jwt.verifier();

    let ha1b = Ha1bVerifier::new(MemoryKeyStore::new()).with_clock(Arc::new(clock));
    if let Some(alice) = users.find_user("alice").await? {
        ha1b.register_user(&alice).await?;
    }

    // Basic, then the JWT, then the HA1B: the first credential present decides.
    let any = opentact::basic_layer(users.password_verifier())
        .or(opentact::token_layer(verifier))
        .or(ha1b.into_layer());
    let https = HttpsRedirectLayer::new(origin)
        .trust_proxies(trusted)
        .peer_addr(connect_info_peer);

    Ok(opentact::router(users.password_verifier(), jwt)
        .route("/rest/whoami", get(whoami).route_layer(any))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(https))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("OPENTACT_JWT_SECRET").unwrap_or_else(|_| {
        eprintln!("warning: OPENTACT_JWT_SECRET is unset: a random key signs this run's tokens");
        tower_authn::store::generate_key()
    });
    let (listener, addr) = demo::listen("GATEWAY_ADDR", "127.0.0.1:8080").await?;
    println!("listening on http://{addr}");
    println!("try:");
    println!("  curl -i http://{addr}/rest/auth   # 302 to https://");
    println!(
        "  curl -H 'X-Forwarded-Proto: https' -u bob@example.com:builder http://{addr}/rest/auth"
    );
    println!(
        "  curl -H 'X-Forwarded-Proto: https' -H 'X-Auth-Token: <payload.token>' http://{addr}/rest/whoami"
    );
    println!(
        "  curl -H 'X-Forwarded-Proto: https' 'http://{addr}/rest/whoami?jwt=<payload.token>'"
    );
    println!(
        "  HA1B=$(printf 'alice@{sip}:{sip}:wonderland' | md5sum | cut -d' ' -f1)",
        sip = demo::SIP_DOMAIN
    );
    println!(
        "  curl -H 'X-Forwarded-Proto: https' -H \"X-Auth-HA1B-Token: $HA1B\" http://{addr}/rest/whoami"
    );
    println!("  curl -H 'X-Forwarded-Proto: https' \"http://{addr}/rest/whoami?ha1b=$HA1B\"");
    println!(
        "  curl -i -H 'X-Forwarded-Proto: https' -u bob@example.com:wrong http://{addr}/rest/auth   # 401, success:false"
    );
    let loopback = ["127.0.0.1".parse()?, "::1".parse()?];
    let app = app(
        demo::users()?,
        &secret,
        tower_authn::clock::SystemClock,
        loopback.into(),
        // Where plain HTTP is sent: this server's public HTTPS origin.
        std::env::var("OPENTACT_PUBLIC_ORIGIN")
            .unwrap_or_else(|_| "https://localhost".into())
            .parse()?,
    )
    .await?;
    demo::serve(listener, app).await
}
