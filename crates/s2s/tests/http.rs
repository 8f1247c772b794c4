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
    let svc = ServiceBuilder::new()
        .layer(verifier().with_body_limit(4096).layer())
        .service_fn(echo);
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
