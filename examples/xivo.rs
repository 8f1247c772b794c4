//! A XiVO (xuc) compatible server: login for a token, renew it with check, use it (or the
//! shared server token `PLAY_AUTH_TOKEN`) in `X-Auth-Token` or `?token=`; or trade a CAS
//! service ticket (`CAS_SERVER_URL`, `CAS_SERVICES`), an OpenID Connect token
//! (`OIDC_ISSUER`, `OIDC_AUDIENCE`) or a Kerberos ticket (built with `--features kerberos`,
//! `KRB5_KTNAME`) for the same token. An exchange whose provider is not configured answers
//! 503.
//!
//! ```sh
//! PLAY_AUTH_TOKEN=s3rver cargo run --example xivo
//! CAS_SERVER_URL=https://cas.example/cas CAS_SERVICES=https://cti.example/login \
//!   OIDC_ISSUER=https://idp.example/realms/xivo OIDC_AUDIENCE=xuc cargo run --example xivo
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
use tower_authn::exchange::cas::CasValidator;
use tower_authn::exchange::oidc::OidcProvider;
use tower_authn::exchange::{ByLogin, Exchange};
use tower_authn::issue::OpaqueTokenIssuer;
use tower_authn::jwt::HyperFetcher;
use tower_authn::memory::{MemoryKeyStore, MemoryUserStore};
use tower_authn::platforms::xivo;
use tower_authn::{SharedTokenVerifier, UserStoreExt, VerifierExt};

/// The server: XiVO's login and check, a token-protected `/whoami`, and logout; no
/// credential exchange.
pub fn app(users: MemoryUserStore, shared: SharedTokenVerifier, clock: SharedClock) -> Router {
    app_with(users, shared, clock, xivo::Providers::new())
}

/// The server with the credential exchanges of `providers`: a CAS ticket, an OIDC token or a
/// Kerberos ticket traded for the same session token as a login.
pub fn app_with(
    users: MemoryUserStore,
    shared: SharedTokenVerifier,
    clock: SharedClock,
    providers: xivo::Providers,
) -> Router {
    let keys = MemoryKeyStore::new();
    let tokens = OpaqueTokenIssuer::new(keys)
        .ttl(Duration::from_secs(3600))
        .with_clock(Arc::clone(&clock));
    // X-Auth-Token or ?token=: the shared server token, else a token from the login.
    let api = xivo::token_layer(shared.or_else(tokens.verifier()));
    let sessions = xivo::Sessions::new(tokens, users.clone());
    // External identities map to the local users by login; an unknown one is 404.
    let exchange = Exchange::new(ByLogin::new(users.clone()), sessions.clone());
    Router::new()
        .merge(xivo::router(users.password_verifier(), sessions))
        .merge(xivo::exchange_router(exchange, providers))
        .route("/whoami", get(whoami).route_layer(api))
        .route("/healthz", get(|| async { "ok\n" }))
}

/// CAS and OpenID Connect from the environment (plain-HTTP fetcher: put an HTTPS connector in
/// `HyperFetcher::with_connector` for real providers, as the gateway does).
fn providers_from_env() -> Result<xivo::Providers, Box<dyn std::error::Error>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut providers = xivo::Providers::new();
    if let (Some(url), Some(services)) = (var("CAS_SERVER_URL"), var("CAS_SERVICES")) {
        let services = services.split(',').map(|s| s.trim().to_owned());
        providers = providers.with_cas(CasValidator::new(&url, services, HyperFetcher::new())?);
    }
    if let (Some(issuer), Some(audience)) = (var("OIDC_ISSUER"), var("OIDC_AUDIENCE")) {
        let claim = var("OIDC_USER_CLAIM").unwrap_or_else(|| "preferred_username".to_owned());
        providers = providers.with_oidc(
            OidcProvider::new(&issuer, &audience, HyperFetcher::new())?.with_user_claim(claim),
        );
    }
    // Kerberos: the keytab MIT reads from KRB5_KTNAME, for HTTP/<any host>.
    #[cfg(feature = "kerberos")]
    if var("KRB5_KTNAME").is_some() {
        providers = providers.with_negotiate(tower_authn::kerberos::Acceptor::new("HTTP")?);
    }
    Ok(providers)
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
    println!(
        "  curl \"http://{addr}/xuc/api/2.0/auth/cas?service=$SERVICE&ticket=$ST\"   # with CAS_SERVER_URL"
    );
    println!(
        "  curl -H \"Authorization: Bearer $ID_TOKEN\" http://{addr}/xuc/api/2.0/auth/oidc   # with OIDC_ISSUER"
    );
    println!(
        "  curl --negotiate -u : http://localhost:{}/xuc/api/2.0/auth/sso   # --features kerberos, KRB5_KTNAME",
        addr.port()
    );
    let app = app_with(
        demo::users()?,
        shared,
        Arc::new(SystemClock),
        providers_from_env()?,
    );
    demo::serve(listener, app).await
}
