//! An axum server with the gateway's bounds (GATEWAY.md "Limits"), from stock pieces:
//! a connection limit (a semaphore permit per connection), hyper's header-read timeout,
//! a 408 request timeout (tower-http) and one Host per request (`SingleHostLayer`).
//!
//! ```sh
//! cargo run --example bounded_server
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;
use tower_authn::host::SingleHostLayer;
use tower_http::timeout::TimeoutLayer;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        // A request not answered in 30 s (its body has not arrived): 408.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        // No Host, two Host lines, or an absolute-form target that disagrees: 400.
        .layer(SingleHostLayer::new());
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();

    let listener = TcpListener::bind("127.0.0.1:8080").await?;
    // At most 10,000 connections; the next ones wait in the listen queue.
    let permits = Arc::new(Semaphore::new(10_000));
    let mut http = http1::Builder::new();
    // A head must arrive within 10 s (hyper counts idle keep-alive time in it too).
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return Ok(());
        };
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let Ok(service) = make.call(peer).await;
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
}
