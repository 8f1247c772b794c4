//! Both layers over real HTTP on 127.0.0.1: a hyper server behind the verifying layer, and a
//! hyper-util client behind the signing layer.

mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use support::*;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};

/// Serves the verifying layer in front of [`echo`] until the test ends.
async fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // A buffering scheme hands the inner service a body of the type it came in, built from
    // the bytes: hyper's `Incoming` is wrapped into one that can be (axum's `Body`).
    let svc = ServiceBuilder::new()
        .map_request(|req: Request<hyper::body::Incoming>| req.map(axum::body::Body::new))
        .layer(verifier().with_body_limit(4096).layer())
        .service_fn(echo_any::<axum::body::Body>);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let svc = TowerToHyperService::new(svc.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn read(res: http::Response<hyper::body::Incoming>) -> (StatusCode, String, Bytes) {
    let status = res.status();
    let meta = res
        .headers()
        .get("x-meta")
        .map(|m| m.to_str().unwrap().to_owned());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let text = meta.unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    (status, text, body)
}

#[tokio::test]
async fn signed_calls_pass_and_unsigned_ones_do_not() {
    let addr = serve().await;
    let base = format!("http://{addr}");
    let raw = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    // The signer sets `Host` to the configured PBX host (hyper-util keeps it), and the server
    // verifies the Host that arrives.
    let client = ServiceBuilder::new()
        .layer(signer().layer())
        .service(raw.clone());

    let get = Request::get(format!(
        "{base}/api/v1/PBX/CallHistory/?Count=10&start=0&filter[start][from]=02/06/2020"
    ))
    .body(Full::new(Bytes::new()))
    .unwrap();
    let (status, text, _) = read(client.clone().oneshot(get).await.unwrap()).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.starts_with("s2s-app-id-123|CRM Connector|GET /api/v1/PBX/CallHistory/?count=10"),
        "{text}"
    );

    let form = Request::post(format!("{base}/api/v1/Originate/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(
            b"Exten=16144841500&channel=Local%2F108%40users",
        )))
        .unwrap();
    let (status, text, body) = read(client.clone().oneshot(form).await.unwrap()).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body, "channel=Local%2F108%40users&exten=16144841500");

    let json = r#"{"Name":"Support","Enabled":true,"Members":[{"Ext":"101"}]}"#;
    let put = Request::put(format!("{base}/api/v1/PBX/settings/CallQueues/7/"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(json.as_bytes())))
        .unwrap();
    let (status, text, body) = read(client.clone().oneshot(put).await.unwrap()).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body, json);

    let delete = Request::delete(format!("{base}/api/v1/PBX/settings/CallQueues/7/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, text, _) = read(client.clone().oneshot(delete).await.unwrap()).await;
    assert_eq!(status, 200, "{text}");

    // Without the signing layer.
    let unsigned = Request::get(format!("{base}/api/v1/PBX/CallHistory/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, text, _) = read(raw.clone().oneshot(unsigned).await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(text, r#"{"type":"error","reason":"missing_credentials"}"#);

    // A signed request whose query is changed on the way.
    let signed = {
        let req = Request::get(format!("{base}/api/v1/PBX/CallHistory/?count=10"))
            .body(Bytes::new())
            .unwrap();
        let mut req = sign(&signer(), req);
        *req.uri_mut() = format!("{base}/api/v1/PBX/CallHistory/?count=1000")
            .parse()
            .unwrap();
        req.map(Full::new)
    };
    let (status, text, _) = read(raw.clone().oneshot(signed).await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(text, r#"{"type":"error","reason":"invalid_credentials"}"#);

    // Over the server's body limit.
    let big = Request::post(format!("{base}/api/v1/Originate/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(format!("x={}", "a".repeat(5000)))))
        .unwrap();
    let (status, _, _) = read(client.clone().oneshot(big).await.unwrap()).await;
    assert_eq!(status, 413);

    // A request the signer refuses is never sent.
    let ambiguous = Request::get(format!("{base}/api/v1/PBX/CallHistory/?Count=1&count=2"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let err = client.clone().oneshot(ambiguous).await.unwrap_err();
    assert!(err.to_string().contains("differ only in case"), "{err}");
}

/// Sends `request` as raw bytes on a new connection and returns the status line.
async fn raw_exchange(addr: SocketAddr, request: String) -> String {
    // A blocking socket on the blocking pool: raw bytes, nothing rewritten by a client.
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let text = String::from_utf8_lossy(&answer).into_owned();
        text.lines().next().unwrap_or_default().to_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn what_the_signature_does_not_cover_is_refused_on_the_wire() {
    use tower_authn_s2s::PhpClientCall;
    use tower_authn_s2s::php::Array;
    let addr = serve().await;
    let php = |method: &str, endpoint: &str| {
        let call = PhpClientCall {
            method,
            endpoint,
            params: &Array::new(),
            body: &Array::new(),
            headers: &[],
        };
        signer().php_client_request(&call, NOW as i64).unwrap()
    };
    let auth = |p: &tower_authn_s2s::PhpClientRequest| {
        p.headers
            .iter()
            .find(|(n, _)| n == "Authorization")
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let head = |target: &str, p: &tower_authn_s2s::PhpClientRequest, extra: &str| {
        format!(
            "{} {target} HTTP/1.1\r\nHost: {HOST}\r\nX-APP-ID: {APP_ID}\r\nAuthorization: {}\r\n{extra}Connection: close\r\n",
            p.method,
            auth(p)
        )
    };

    let get = php("GET", "/api/v1/Contacts/7/");
    let ok = raw_exchange(addr, head("/api/v1/Contacts/7/", &get, "") + "\r\n").await;
    assert_eq!(ok, "HTTP/1.1 200 OK");
    for (target, extra) in [
        ("/api/v1/Contacts%2F7/", ""),
        ("/api/v1/Contacts/7/", "Host: evil.example.com\r\n"),
        ("http://evil.example.com/api/v1/Contacts/7/", ""),
        (
            "/api/v1/Contacts/7/",
            "Content-Type: a/b\r\nContent-Type: c/d\r\n",
        ),
    ] {
        let status = raw_exchange(addr, head(target, &get, extra) + "\r\n").await;
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{target} {extra:?}");
    }

    let post = php("POST", "/api/v1/Originate/");
    let ok = raw_exchange(addr, head("/api/v1/Originate/", &post, "") + "\r\n").await;
    assert_eq!(ok, "HTTP/1.1 200 OK");
    for ct in [
        "text/plain",
        "application/vnd.api+json",
        "multipart/form-data; boundary=x",
    ] {
        let extra = format!("Content-Type: {ct}\r\nContent-Length: 11\r\n");
        let request = head("/api/v1/Originate/", &post, &extra) + "\r\nexten=900&x";
        let status = raw_exchange(addr, request).await;
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{ct}");
    }
}
