//! A Google CCAI Platform host: the token endpoint the embedded SDKs call,
//! `GET /auth/token` → `{"token": "<HS256 JWT>"}` with `iss` (the company), `iat`,
//! `exp = iat + 3600`, `identifier`, `name`, `email`, signed with the company secret. Here
//! the site's users log in with Basic; put your own session scheme in front instead.
//!
//! ```sh
//! CCAI_COMPANY_NAME=ACME CCAI_COMPANY_SECRET=your-company-secret cargo run --example ccai
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)] // a demo server prints how to use it

pub mod demo;

use demo::whoami;

use axum::Router;
use axum::routing::get;
use tower_authn::clock::{Clock, SystemClock};
use tower_authn::memory::MemoryUserStore;
use tower_authn::platforms::ccai::{self, CcaiIssuer};
use tower_authn::{BasicAuthLayer, HeaderTokenLayer, UserStoreExt};

/// The server: the token endpoint behind the site's login, and `/ccai/whoami`, which
/// accepts the CCAI token back as `Authorization: Bearer` (what the platform verifies).
pub fn app(
    users: MemoryUserStore,
    company: &str,
    secret: &str,
    clock: impl Clock,
) -> Result<Router, Box<dyn std::error::Error>> {
    // The platform hands out the company secret: take it at any length.
    let jwt = CcaiIssuer::with_any_length_secret(company, secret)?.with_clock(clock);
    let verifier = jwt.verifier();
    let site_login = BasicAuthLayer::new(users.password_verifier()).realm("ccai");
    Ok(ccai::router(jwt)
        .route_layer(site_login)
        .route(
            "/ccai/whoami",
            get(whoami).route_layer(HeaderTokenLayer::bearer(verifier)),
        )
        .route("/healthz", get(|| async { "ok\n" })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let company = std::env::var("CCAI_COMPANY_NAME").unwrap_or_else(|_| "ACME".to_owned());
    let secret = std::env::var("CCAI_COMPANY_SECRET").unwrap_or_else(|_| {
        eprintln!("warning: CCAI_COMPANY_SECRET is unset: a random secret signs this run's tokens");
        tower_authn::store::generate_key()
    });
    let (listener, addr) = demo::listen("GATEWAY_ADDR", "127.0.0.1:8080").await?;
    println!("listening on http://{addr}");
    println!("try:");
    println!("  curl -u alice:wonderland http://{addr}/auth/token");
    println!(
        "  curl -H \"Authorization: Bearer $(curl -s -u alice:wonderland http://{addr}/auth/token | cut -d'\"' -f4)\" http://{addr}/ccai/whoami"
    );
    println!("  curl -i http://{addr}/auth/token   # 401 with a Basic challenge");
    let app = app(demo::users()?, &company, &secret, SystemClock)?;
    demo::serve(listener, app).await
}
