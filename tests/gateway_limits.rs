//! The gateway's limits (GATEWAY.md "Limits"), over raw TCP on 127.0.0.1:0: half-open,
//! silent and idle connections are closed, a body that never arrives is 408, connections
//! past the bound wait, and every request names exactly one host.
//!
//! Timeouts are configured short (1-2 s); each test only waits, with a generous deadline,
//! for the event the limit promises.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config, server};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

/// How long any test waits for what a limit promises: far beyond the configured timeouts.
const DEADLINE: Duration = Duration::from_secs(20);

fn config(overrides: &[(&str, &str)]) -> Result<config::Config, String> {
    let jwks = support::jwks_file();
    let mut env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0".to_owned()),
        ("PLAY_AUTH_TOKEN", "limits-shared-token".to_owned()),
        (
            "GATEWAY_JWT_SECRET",
            "limits-test-secret-0123456789abcdef".to_owned(),
        ),
        ("GOOGLE_JWKS", jwks),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    config::Config::from_lookup(|k| env.get(k).cloned())
}

/// Serves `router` with the gateway's server and `limits` until the test ends.
async fn serve(router: Router, limits: config::ServerLimits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    addr
}

/// The whole gateway with the limits in `overrides`.
async fn gateway(overrides: &[(&str, &str)]) -> SocketAddr {
    let config = config(overrides).expect("config");
    let router = app::build(&config).await.expect("gateway");
    serve(router, config.limits).await
}

/// Whether the server closes `stream` before [`DEADLINE`] (anything it sends first, such
/// as an answer, is read and dropped).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let until = Instant::now() + DEADLINE;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Reads one answer: its status, and its head and body as text.
async fn answer(stream: &mut TcpStream) -> (u16, String) {
    let read = async {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]);
                    let status = head
                        .split(' ')
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_else(|| panic!("status line: {head:?}"));
                    return (status, format!("{head}\r\n\r\n{body}"));
                }
            }
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a whole answer: {data:?}");
            data.extend_from_slice(&buf[..n]);
        }
    };
    timeout(DEADLINE, read).await.expect("an answer in time")
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// Sends `raw` on a new connection and reads the answer.
async fn exchange(addr: SocketAddr, raw: &str) -> (u16, String) {
    let mut s = connect(addr).await;
    s.write_all(raw.as_bytes()).await.expect("write");
    answer(&mut s).await
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: gw.test\r\n\r\n";

#[tokio::test]
async fn half_open_head_is_closed() {
    let addr = gateway(&[
        ("GATEWAY_HEADER_TIMEOUT_SECS", "1"),
        ("GATEWAY_IDLE_TIMEOUT_SECS", "600"),
    ])
    .await;
    let mut s = connect(addr).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: gw.test\r\n")
        .await
        .expect("write");
    assert!(closed_by_server(&mut s).await, "a half head stays open");
}

#[tokio::test]
async fn silent_connection_is_closed() {
    let addr = gateway(&[
        ("GATEWAY_HEADER_TIMEOUT_SECS", "1"),
        ("GATEWAY_IDLE_TIMEOUT_SECS", "600"),
    ])
    .await;
    let mut s = connect(addr).await;
    assert!(
        closed_by_server(&mut s).await,
        "a connection that sends nothing stays open"
    );
}

#[tokio::test]
async fn idle_keep_alive_is_closed() {
    // The header timeout is far away: only the idle timeout can close this connection.
    let addr = gateway(&[
        ("GATEWAY_HEADER_TIMEOUT_SECS", "600"),
        ("GATEWAY_IDLE_TIMEOUT_SECS", "1"),
    ])
    .await;
    let mut s = connect(addr).await;
    s.write_all(HEALTHZ.as_bytes()).await.expect("write");
    let (status, _) = answer(&mut s).await;
    assert_eq!(status, 200);
    assert!(
        closed_by_server(&mut s).await,
        "an idle keep-alive stays open"
    );
}

#[tokio::test]
async fn next_head_on_keep_alive_has_the_header_timeout() {
    // The idle timeout is far away: the second, half-sent head must close the connection.
    let addr = gateway(&[
        ("GATEWAY_HEADER_TIMEOUT_SECS", "2"),
        ("GATEWAY_IDLE_TIMEOUT_SECS", "600"),
    ])
    .await;
    let mut s = connect(addr).await;
    s.write_all(HEALTHZ.as_bytes()).await.expect("write");
    assert_eq!(answer(&mut s).await.0, 200);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .expect("write");
    assert!(
        closed_by_server(&mut s).await,
        "a half head on a keep-alive stays open"
    );
}

#[tokio::test]
async fn keep_alive_serves_several_requests() {
    let addr = gateway(&[
        ("GATEWAY_HEADER_TIMEOUT_SECS", "5"),
        ("GATEWAY_IDLE_TIMEOUT_SECS", "5"),
    ])
    .await;
    let mut s = connect(addr).await;
    for _ in 0..3 {
        s.write_all(HEALTHZ.as_bytes()).await.expect("write");
        assert_eq!(answer(&mut s).await.0, 200);
    }
}

#[tokio::test]
async fn body_that_never_arrives_is_408() {
    let addr = gateway(&[
        ("GATEWAY_REQUEST_TIMEOUT_SECS", "1"),
        ("GATEWAY_HEADER_TIMEOUT_SECS", "600"),
        ("GATEWAY_IDLE_TIMEOUT_SECS", "600"),
    ])
    .await;
    let mut s = connect(addr).await;
    s.write_all(
        b"POST /xuc/api/2.0/auth/login HTTP/1.1\r\nHost: gw.test\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"login\":",
    )
    .await
    .expect("write");
    let (status, _) = answer(&mut s).await;
    assert_eq!(status, 408);
}

#[tokio::test]
async fn connections_past_the_limit_wait_for_a_free_one() {
    let addr = gateway(&[
        ("GATEWAY_MAX_CONNECTIONS", "2"),
        ("GATEWAY_HEADER_TIMEOUT_SECS", "600"),
        ("GATEWAY_IDLE_TIMEOUT_SECS", "600"),
    ])
    .await;
    let mut a = connect(addr).await;
    let mut b = connect(addr).await;
    for s in [&mut a, &mut b] {
        s.write_all(HEALTHZ.as_bytes()).await.expect("write");
        assert_eq!(answer(s).await.0, 200);
    }
    // The third connection is only in the listen queue: its request is not read.
    let mut c = connect(addr).await;
    c.write_all(HEALTHZ.as_bytes()).await.expect("write");
    for _ in 0..20 {
        for s in [&mut a, &mut b] {
            s.write_all(HEALTHZ.as_bytes()).await.expect("write");
            assert_eq!(answer(s).await.0, 200);
        }
    }
    let mut buf = [0u8; 64];
    assert!(
        matches!(c.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the connection past the limit was served"
    );
    // One connection released: the waiting one is served.
    drop(a);
    assert_eq!(answer(&mut c).await.0, 200);
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let router = Router::new().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    );
    let addr = serve(router, config::ServerLimits::default()).await;
    let mut s = connect(addr).await;
    let local = s.local_addr().expect("local");
    s.write_all(b"GET /peer HTTP/1.1\r\nHost: gw.test\r\n\r\n")
        .await
        .expect("write");
    let (status, text) = answer(&mut s).await;
    assert_eq!(status, 200);
    assert!(text.ends_with(&local.to_string()), "{text}");
}

#[tokio::test]
async fn http11_without_host_is_400() {
    let addr = gateway(&[]).await;
    let (status, text) = exchange(addr, "GET /healthz HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, 400, "{text}");
    let (status, _) = exchange(
        addr,
        "GET http://gw.test/healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn http10_without_host_is_served() {
    let addr = gateway(&[]).await;
    let (status, _) = exchange(addr, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn two_host_lines_are_400() {
    let addr = gateway(&[]).await;
    for hosts in [
        "Host: gw.test\r\nHost: evil.test\r\n",
        "Host: gw.test\r\nHost: gw.test\r\n",
    ] {
        let (status, text) = exchange(addr, &format!("GET /healthz HTTP/1.1\r\n{hosts}\r\n")).await;
        assert_eq!(status, 400, "{hosts:?}: {text}");
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{text}"
        );
    }
    // Before any credential is looked at.
    let (status, _) = exchange(
        addr,
        "GET /token/whoami HTTP/1.1\r\nHost: gw.test\r\nHost: evil.test\r\n\
         X-Auth-Token: limits-shared-token\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn absolute_form_authority_is_the_host() {
    let addr = gateway(&[]).await;
    let (status, _) = exchange(
        addr,
        "GET http://gw.test/healthz HTTP/1.1\r\nHost: gw.test\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = exchange(
        addr,
        "GET http://other.test/healthz HTTP/1.1\r\nHost: gw.test\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn invalid_host_is_400() {
    let addr = gateway(&[]).await;
    for host in ["user@gw.test", "gw.test:http", ""] {
        let (status, _) = exchange(
            addr,
            &format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 400, "{host:?}");
    }
}

#[test]
fn limits_have_defaults_and_refuse_bad_values() {
    let defaults = config(&[]).expect("defaults").limits;
    assert_eq!(defaults.header_timeout, Duration::from_secs(10));
    assert_eq!(defaults.idle_timeout, Duration::from_secs(60));
    assert_eq!(defaults.request_timeout, Duration::from_secs(30));
    assert_eq!(defaults.max_connections, 10_000);

    let set = config(&[
        ("GATEWAY_HEADER_TIMEOUT_SECS", "3"),
        ("GATEWAY_IDLE_TIMEOUT_SECS", " 4 "),
        ("GATEWAY_REQUEST_TIMEOUT_SECS", "5"),
        ("GATEWAY_MAX_CONNECTIONS", "6"),
    ])
    .expect("set")
    .limits;
    assert_eq!(set.header_timeout, Duration::from_secs(3));
    assert_eq!(set.idle_timeout, Duration::from_secs(4));
    assert_eq!(set.request_timeout, Duration::from_secs(5));
    assert_eq!(set.max_connections, 6);

    for var in [
        "GATEWAY_HEADER_TIMEOUT_SECS",
        "GATEWAY_IDLE_TIMEOUT_SECS",
        "GATEWAY_REQUEST_TIMEOUT_SECS",
        "GATEWAY_MAX_CONNECTIONS",
    ] {
        for bad in ["0", "-1", "ten", "1.5", "18446744073709551616", "99999999"] {
            let err = config(&[(var, bad)]).expect_err(bad);
            assert!(err.contains(var) && err.contains("whole number"), "{err}");
        }
    }
}
