//! An API that web pages on other origins call: CORS from tower-http placed outside the
//! auth layer, a token in `X-Auth-Token` or `Authorization: Bearer`, a session cookie set by
//! `/session/login`, and an authenticated WebSocket whose token rides in the subprotocol
//! list (`authn.bearer.<token>` beside the real protocol), since a browser cannot put a
//! header on a WebSocket handshake.
//!
//! ```sh
//! BROWSER_ORIGINS=http://localhost:3000 PLAY_AUTH_TOKEN=s3rver cargo run --example browser
//! ```
//!
//! Then, in a page served from `http://localhost:3000`:
//!
//! ```js
//! await fetch('http://127.0.0.1:8081/whoami', { headers: { 'X-Auth-Token': 's3rver' } });
//! await fetch('http://127.0.0.1:8081/session/login', { method: 'POST', credentials: 'include',
//!   headers: { 'Content-Type': 'application/json' },
//!   body: JSON.stringify({ login: 'alice', password: 'wonderland' }) });
//! await fetch('http://127.0.0.1:8081/whoami', { credentials: 'include' });  // the cookie
//! new WebSocket('ws://127.0.0.1:8081/ws', ['chat', 'authn.bearer.s3rver']); // selects 'chat'
//! ```

// An example server talks to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod demo;

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::IntoResponse;
use axum::routing::get;
use http::{HeaderValue, Method, header};
use tower_authn::axum::session::{self, SessionCookie};
use tower_authn::issue::{OpaqueTokenIssuer, Sessions};
use tower_authn::memory::{MemoryKeyStore, MemoryUserStore};
use tower_authn::{HeaderTokenLayer, Principal, SharedTokenVerifier, UserStoreExt, VerifierExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The WebSocket's real subprotocol.
pub const PROTOCOL: &str = "chat";

/// The server for pages on `origins` (serialized origins, `https://app.example`).
///
/// # Panics
///
/// When an origin is not one (a configuration error).
pub fn app(users: MemoryUserStore, shared: SharedTokenVerifier, origins: &[String]) -> Router {
    let sessions = Sessions::new(
        OpaqueTokenIssuer::new(MemoryKeyStore::new()).ttl(Duration::from_secs(3600)),
        users.clone(),
    );
    // The cookie's origin guard lists the same origins as CORS: their pages may POST with it.
    let cookie = SessionCookie::new().allow_origins(origins);
    // Headers first (the shared token or a session's token), then the session cookie.
    let api = HeaderTokenLayer::new("X-Auth-Token", shared.or_else(sessions.verifier()))
        .with_bearer()
        .with_subprotocol()
        .or(cookie.layer(sessions.verifier()));
    // The request headers a script may send: the ones the layer reads, and Content-Type.
    let mut allow_headers = api.credential_headers();
    allow_headers.push(header::CONTENT_TYPE);
    // Outside the auth layer, so 401s carry CORS headers too and preflights are answered
    // before authentication (the layer would pass them through anyway).
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().map(|o| {
            HeaderValue::from_str(o).unwrap_or_else(|_| panic!("{o:?} is not an origin"))
        })))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(allow_headers)
        .allow_credentials(true)
        // A script reads the challenges of a 401 only if they are exposed.
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(600));
    Router::new()
        .route("/whoami", get(demo::whoami).route_layer(api.clone()))
        .route("/ws", get(socket).route_layer(api))
        .merge(session::router(users.password_verifier(), sessions, cookie))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(cors)
}

/// The WebSocket: opened only for a principal (a refusal is a 401 before the upgrade); says
/// who it is, then echoes text.
async fn socket(principal: Principal, upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| echo(socket, principal))
}

async fn echo(mut socket: WebSocket, principal: Principal) {
    let Ok(hello) = serde_json::to_string(&principal) else {
        return;
    };
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Text(text) = message {
            if socket.send(Message::Text(text)).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shared = SharedTokenVerifier::from_env("PLAY_AUTH_TOKEN");
    if !shared.is_configured() {
        eprintln!("warning: PLAY_AUTH_TOKEN is unset: shared-token auth rejects everything");
    }
    let origins: Vec<String> = std::env::var("BROWSER_ORIGINS")
        .unwrap_or_else(|_| "http://localhost:3000".to_owned())
        .split(',')
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    let (listener, addr) = demo::listen("BROWSER_ADDR", "127.0.0.1:8081").await?;
    println!("listening on http://{addr}");
    println!("pages of {origins:?} may call it (BROWSER_ORIGINS)");
    demo::serve(listener, app(demo::users()?, shared, &origins)).await
}
