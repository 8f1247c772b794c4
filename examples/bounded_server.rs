//! An axum server with the gateway's bounds (GATEWAY.md "Limits"), from stock pieces:
//! a connection limit (a semaphore permit per connection), hyper's header-read timeout,
//! a 408 request timeout (tower-http) and one Host per request (`SingleHostLayer`).
//!
//! ```sh
//! cargo run --example bounded_server
//! ```
//!
//! `tests/bounded_server.rs` runs [`serve`] with short bounds and checks each of them.

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

/// The bounds; [`Bounds::GATEWAY`] are the gateway's defaults.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    /// A whole request head must arrive in this time.
    pub(crate) header_timeout: Duration,
    /// A request must be answered in this time (its body arrived): else 408.
    pub(crate) request_timeout: Duration,
    /// Connections served at once; the next ones wait in the listen queue.
    pub(crate) max_connections: usize,
}

impl Bounds {
    pub(crate) const GATEWAY: Self = Self {
        header_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        max_connections: 10_000,
    };
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new().route("/healthz", get(|| async { "ok\n" }));
    serve(
        TcpListener::bind("127.0.0.1:8080").await?,
        app,
        Bounds::GATEWAY,
    )
    .await
}

/// Serves `app` on `listener` within `bounds`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    bounds: Bounds,
) -> std::io::Result<()> {
    let app = app
        // A request not answered in time (its body has not arrived): 408.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            bounds.request_timeout,
        ))
        // No Host, two Host lines, or an absolute-form target that disagrees: 400.
        .layer(SingleHostLayer::new());
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();

    // At most `max_connections` connections; the next ones wait in the listen queue.
    let permits = Arc::new(Semaphore::new(bounds.max_connections));
    let mut http = http1::Builder::new();
    // A head must arrive in time (hyper counts idle keep-alive time in it too).
    http.timer(TokioTimer::new())
        .header_read_timeout(bounds.header_timeout);
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
