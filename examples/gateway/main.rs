//! The gateway: every scheme and every platform preset in one server, on an embedded
//! in-memory store seeded with demo identities, or on a shared Redis when `REDIS_URL` is
//! set (several gateways on one Redis agree on every key, token and revocation). The
//! contract is GATEWAY.md.
//!
//! ```sh
//! PLAY_AUTH_TOKEN=s3rver cargo run --release --example gateway
//! REDIS_URL=redis://127.0.0.1:6379/ GATEWAY_ADDR=127.0.0.1:8081 cargo run --release --example gateway
//! GATEWAY_METRICS_ADDR=127.0.0.1:9090 cargo run --release --features metrics --example gateway
//! ```
//!
//! `GATEWAY_METRICS_ADDR` (unset: off; needs the `metrics` feature) installs the Prometheus recorder and serves
//! `GET /metrics` on a second listener, bounded like the main one (`metrics.rs`); `RUST_LOG`
//! (`authn=debug`) shows every authentication decision.

// A server binary: its contract is what it prints (GATEWAY.md).
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "modules.rs"]
mod modules;

use modules::{app, config, metrics, server};

use std::io::Write as _;
use std::process::ExitCode;

use config::Config;

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    // Installed before the gateway is built, so the first request is counted.
    let metrics = match config.metrics_addr {
        Some(addr) => match metrics::install() {
            Ok(handle) => Some((addr, handle)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let router = match app::build(&config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(config.addr);
    // The metrics listener stops with the main one (same shutdown signal).
    let metrics = match metrics {
        Some((metrics_addr, handle)) => match tokio::net::TcpListener::bind(metrics_addr).await {
            Ok(l) => {
                let at = l.local_addr().unwrap_or(metrics_addr);
                Some((at, l, handle))
            }
            Err(e) => {
                eprintln!("error: cannot listen on {metrics_addr}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    println!("listening on http://{addr}");
    let metrics_server = metrics.map(|(at, listener, handle)| {
        println!("metrics on http://{at}/metrics");
        tokio::spawn(server::serve(
            listener,
            metrics::router(handle),
            config.limits,
            shutdown_signal(),
        ))
    });
    let _ = std::io::stdout().flush();
    server::serve(listener, router, config.limits, shutdown_signal()).await;
    if let Some(task) = metrics_server {
        let _ = task.await;
    }
    ExitCode::SUCCESS
}
