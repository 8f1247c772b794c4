//! The minimal servers of `scripts/load`: one constant handler behind each layer, and the
//! same handler with no layer (`/none`), in one axum router on one port, so every route
//! pays the same routing and HTTP cost and a route's throughput over `/none`'s is the
//! layer's share. `/noop_layer` is the handler behind a layer that does nothing: what axum's
//! `route_layer` costs by itself.
//!
//! Prints `listening on http://ADDR`, then one JSON line: each route's path and the headers
//! that authenticate on it. `/allocations` answers the heap allocations the process has made
//! so far (a counting allocator), so the load script reports allocations per request of a
//! real HTTP server, not only of the in-process benches. `SERVE_WORKERS` sets the runtime's worker threads (default 1,
//! so the load generator has the other core of a two-core machine).

#![allow(clippy::print_stdout)]

use std::convert::Infallible;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::routing::get;
use http::HeaderValue;
use tower_authn::cache::{CacheExt, VerificationCache};
use tower_authn::invalidate::Invalidator;
use tower_authn::prelude::*;
use tower_authn_bench::counting::{ALLOCATIONS, Counting};
use tower_authn_bench::{
    APP_KEY, SHARED_TOKEN, access_pair, app_keys, basic_header, basic_users, hs256_token,
    hs256_verifier,
};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The constant handler: the same empty 200 on every route.
async fn ok() -> Result<&'static str, Infallible> {
    Ok("")
}

fn text(v: &HeaderValue) -> &str {
    v.to_str().expect("ASCII header")
}

fn main() {
    let keys = app_keys();
    let (pair_token, pair_secret) = access_pair(&keys);
    let users = basic_users();
    let cache = VerificationCache::new(Invalidator::new());
    let jwt = format!("Bearer {}", hs256_token());
    let basic = basic_header();

    let router = Router::new()
        .route("/none", get(ok))
        // What `route_layer` itself costs (a boxed service cloned, a body boxed per
        // request), so a layer's allocations are counted over this route, not `/none`.
        .route(
            "/noop_layer",
            get(ok).route_layer(tower::util::MapRequestLayer::new(|r| r)),
        )
        .route(
            "/allocations",
            get(|| async { ALLOCATIONS.load(Ordering::Relaxed).to_string() }),
        )
        .route(
            "/token",
            get(ok).route_layer(HeaderTokenLayer::new(
                "X-Auth-Token",
                SharedTokenVerifier::new(SHARED_TOKEN),
            )),
        )
        .route(
            "/query_token",
            get(ok).route_layer(QueryTokenLayer::new(
                "token",
                SharedTokenVerifier::new(SHARED_TOKEN),
            )),
        )
        .route(
            "/app_key",
            get(ok).route_layer(AppApiKeyLayer::new(
                "X-App-Key",
                keys.verifier(KeyKind::AppApiKey),
            )),
        )
        .route(
            "/access_pair",
            get(ok).route_layer(AccessSecretLayer::new(keys.access_pair_verifier())),
        )
        .route(
            "/jwt_hs256",
            get(ok).route_layer(HeaderTokenLayer::bearer(hs256_verifier())),
        )
        .route(
            "/basic_cached",
            get(ok).route_layer(BasicAuthLayer::new(users.password_verifier().cached(cache))),
        );
    let routes = serde_json::json!([
        {"path": "/none", "headers": {}},
        {"path": "/noop_layer", "headers": {}},
        {"path": "/token", "headers": {"X-Auth-Token": SHARED_TOKEN}},
        {"path": format!("/query_token?token={SHARED_TOKEN}"), "headers": {}},
        {"path": "/app_key", "headers": {"X-App-Key": APP_KEY}},
        {"path": "/access_pair", "headers": {
            "AccessToken": text(&pair_token), "AccessSecret": text(&pair_secret)}},
        {"path": "/jwt_hs256", "headers": {"Authorization": jwt}},
        {"path": "/basic_cached", "headers": {"Authorization": text(&basic)}},
    ]);

    let workers = std::env::var("SERVE_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            println!(
                "listening on http://{}",
                listener.local_addr().expect("addr")
            );
            println!("{routes}");
            axum::serve(listener, router).await.expect("serve");
        });
}
