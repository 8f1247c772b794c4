//! README "Limits": `examples/bounded_server.rs` gives your own server "the same bounds" as
//! the gateway. Its `serve`, run here with short bounds, shows each: a half-sent head is
//! closed, a body that never arrives is 408, connections past the limit wait for a free
//! one, and a request without exactly one Host is 400. No elapsed time is asserted: each
//! check waits for the event itself, with a generous deadline.

#[allow(dead_code)]
#[path = "../examples/bounded_server.rs"]
mod bounded;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

const DEADLINE: Duration = Duration::from_secs(20);

async fn server(max_connections: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // A health check, and a route that reads its body.
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/echo", post(|body: String| async move { body }));
    tokio::spawn(bounded::serve(
        listener,
        app,
        bounded::Bounds {
            header_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            max_connections,
        },
    ));
    addr
}

/// Whether the server closes `stream` before [`DEADLINE`] (what it sends first is read).
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

/// The status of the next answer on `stream`.
async fn status(stream: &mut TcpStream) -> u16 {
    let read = async {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        while !data.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before an answer: {data:?}");
            data.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&data).into_owned();
        head.split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line: {head:?}"))
    };
    timeout(DEADLINE, read).await.expect("an answer in time")
}

async fn send(addr: SocketAddr, raw: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(raw.as_bytes()).await.expect("write");
    s
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: app.test\r\n\r\n";

#[tokio::test]
async fn a_half_sent_head_is_closed() {
    let addr = server(10).await;
    let mut ok = send(addr, HEALTHZ).await;
    assert_eq!(status(&mut ok).await, 200);
    let mut half = send(addr, "GET /healthz HTTP/1.1\r\nHost: app.test\r\n").await;
    assert!(closed_by_server(&mut half).await, "a half head stays open");
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408() {
    let addr = server(10).await;
    let mut whole = send(
        addr,
        "POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\n\r\nabc",
    )
    .await;
    assert_eq!(status(&mut whole).await, 200);
    let mut s = send(
        addr,
        "POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 10\r\n\r\nabc",
    )
    .await;
    assert_eq!(status(&mut s).await, 408);
}

#[tokio::test]
async fn not_exactly_one_host_is_400() {
    let addr = server(10).await;
    for raw in [
        "GET /healthz HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: app.test\r\nHost: app.test\r\n\r\n",
        "GET http://other.test/healthz HTTP/1.1\r\nHost: app.test\r\n\r\n",
    ] {
        let mut s = send(addr, raw).await;
        assert_eq!(status(&mut s).await, 400, "{raw:?}");
    }
}

#[tokio::test]
async fn connections_past_the_limit_wait_for_a_free_one() {
    let addr = server(2).await;
    let mut a = send(addr, HEALTHZ).await;
    let mut b = send(addr, HEALTHZ).await;
    for s in [&mut a, &mut b] {
        assert_eq!(status(s).await, 200);
    }
    // The third is only in the listen queue while the two keep their connections busy.
    let mut c = send(addr, HEALTHZ).await;
    for _ in 0..20 {
        for s in [&mut a, &mut b] {
            s.write_all(HEALTHZ.as_bytes()).await.expect("write");
            assert_eq!(status(s).await, 200);
        }
    }
    let mut buf = [0u8; 64];
    assert!(
        matches!(c.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the connection past the limit was served"
    );
    // One connection released: the waiting one is served.
    drop(a);
    assert_eq!(status(&mut c).await, 200);
}
