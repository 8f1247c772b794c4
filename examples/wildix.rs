//! Wildix WMS 5 server-to-server calls, both sides: an axum server whose Wildix routes are
//! behind the verifying layer, and a hyper-util client that calls them through the signing
//! layer. It starts the server on 127.0.0.1 (a free port), makes a few calls, prints what
//! happens, and exits.
//!
//! ```sh
//! cargo run --example wildix --features s2s
//! RUST_LOG=tower_authn_s2s=debug cargo run --example wildix --features s2s   # with the reasons
//! WILDIX_URL=http://127.0.0.1:8080 cargo run --example wildix   # sign calls to the gateway
//! ```

// An example's job is to show what happens.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;

use axum::extract::{Extension, Form, Path, Query};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_authn_core::Principal;
use tower_authn_s2s::{App, MemoryAppStore, SignRequestLayer, SignatureVerifier, Signer};

const APP_ID: &str = "s2s-app-id-123";
const APP_NAME: &str = "CRM Connector";
const SECRET: &str = "s3cr3t-k3y-0123456789abcdef";

/// `{"type":"result","result":...}`, the shape of WMS success bodies.
fn result(value: Value) -> Json<Value> {
    Json(json!({ "type": "result", "result": value }))
}

async fn call_queues(Extension(app): Extension<Principal>) -> Json<Value> {
    result(json!({
        "records": [{ "id": 7, "name": "Support", "strategy": "ringall" }],
        "requestedBy": app.name,
    }))
}

async fn call_history(Query(q): Query<BTreeMap<String, String>>) -> Json<Value> {
    result(json!({ "filters": q, "records": [] }))
}

async fn originate(Form(form): Form<BTreeMap<String, String>>) -> Json<Value> {
    result(json!({ "originated": form }))
}

async fn update_queue(Path(id): Path<u32>, Json(body): Json<Value>) -> Json<Value> {
    result(json!({ "id": id, "updated": body }))
}

async fn delete_queue(Path(id): Path<u32>) -> Json<Value> {
    result(json!({ "id": id, "deleted": true }))
}

fn server() -> Router {
    let apps = MemoryAppStore::new().with_app(APP_ID, App::new(APP_NAME, SECRET));
    let verifier = SignatureVerifier::new(apps).with_body_limit(64 * 1024);
    Router::new()
        .route("/api/v1/PBX/settings/CallQueues/", get(call_queues))
        .route(
            "/api/v1/PBX/settings/CallQueues/{id}/",
            put(update_queue).delete(delete_queue),
        )
        .route("/api/v1/PBX/CallHistory/", get(call_history))
        .route("/api/v1/Originate/", post(originate))
        .route_layer(verifier.layer())
        .route("/health", get(|| async { "ok" }))
}

type RawClient = Client<HttpConnector, Full<Bytes>>;

/// Sends one request through `client` and prints the outcome.
async fn show<S>(label: &str, client: &mut S, req: Request<Full<Bytes>>)
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<hyper::body::Incoming>>,
    S::Error: std::fmt::Display,
{
    let line = format!(
        "{} {}",
        req.method(),
        req.uri().path_and_query().map_or("", |p| p.as_str())
    );
    println!("{label}\n  {line}");
    let sent = match client.ready().await {
        Ok(c) => c.call(req).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(res) => {
            let status = res.status();
            let body = match res.into_body().collect().await {
                Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
                Err(e) => format!("(body error: {e})"),
            };
            println!("  -> {status} {body}\n");
        }
        Err(e) => println!("  -> not sent: {e}\n"),
    }
}

fn request(
    method: Method,
    uri: String,
    content_type: Option<&str>,
    body: &str,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Full::new(Bytes::from(body.to_owned())))
        .expect("valid request")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, server())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    println!("Wildix-style PBX API on http://{addr}\n");

    let raw: RawClient = Client::builder(TokioExecutor::new()).build_http();
    let signer = Signer::new(APP_ID, APP_NAME, SECRET);
    let mut client = ServiceBuilder::new()
        .layer(SignRequestLayer::new(signer))
        .map_request(|req: Request<Full<Bytes>>| {
            let target = req.uri().path_and_query().map_or("", |p| p.as_str());
            println!("  on the wire: {} {target}", req.method());
            req
        })
        .service(raw.clone());
    // WILDIX_URL points the signed calls at another server (the gateway, a real PBX).
    let base = std::env::var("WILDIX_URL").unwrap_or_else(|_| format!("http://{addr}"));
    println!("calling {base}\n");

    show(
        "Signed GET: the call queues",
        &mut client,
        request(
            Method::GET,
            format!("{base}/api/v1/PBX/settings/CallQueues/"),
            None,
            "",
        ),
    )
    .await;
    show(
        "Signed GET with nested filters (the signer sends keys lowercased and sorted)",
        &mut client,
        request(
            Method::GET,
            format!(
                "{base}/api/v1/PBX/CallHistory/?Fields=id,start,end&filter[start][from]=02/06/2020+00:01&Count=10"
            ),
            None,
            "",
        ),
    )
    .await;
    show(
        "Signed form POST: originate a call",
        &mut client,
        request(
            Method::POST,
            format!("{base}/api/v1/Originate/"),
            Some("application/x-www-form-urlencoded"),
            "Channel=Local%2F108%40users&Exten=16144841500&Context=users&Priority=1",
        ),
    )
    .await;
    show(
        "Signed JSON PUT: booleans, lists and nesting",
        &mut client,
        request(
            Method::PUT,
            format!("{base}/api/v1/PBX/settings/CallQueues/7/"),
            Some("application/json"),
            r#"{"Name":"Support","Enabled":true,"Members":[{"Ext":"101"},{"Ext":"102"}]}"#,
        ),
    )
    .await;
    show(
        "Signed DELETE (a DELETE body is dropped, as the reference client does)",
        &mut client,
        request(
            Method::DELETE,
            format!("{base}/api/v1/PBX/settings/CallQueues/7/"),
            None,
            "",
        ),
    )
    .await;

    let mut unsigned = raw.clone();
    show(
        "Unsigned GET",
        &mut unsigned,
        request(
            Method::GET,
            format!("{base}/api/v1/PBX/settings/CallQueues/"),
            None,
            "",
        ),
    )
    .await;

    let mut wrong = ServiceBuilder::new()
        .layer(SignRequestLayer::new(Signer::new(
            APP_ID,
            APP_NAME,
            "not-the-secret",
        )))
        .service(raw.clone());
    show(
        "GET signed with the wrong secret (same answer as an unknown app)",
        &mut wrong,
        request(
            Method::GET,
            format!("{base}/api/v1/PBX/settings/CallQueues/"),
            None,
            "",
        ),
    )
    .await;

    // Sign a request, then change its query on the way, as a man in the middle would.
    let tampered = {
        let (mut parts, body) = Request::get(format!("{base}/api/v1/PBX/CallHistory/?count=10"))
            .body(Bytes::new())?
            .into_parts();
        let body = Signer::new(APP_ID, APP_NAME, SECRET).sign_parts(&mut parts, body)?;
        parts.uri = format!("{base}/api/v1/PBX/CallHistory/?count=100000").parse()?;
        Request::from_parts(parts, Full::new(body))
    };
    show(
        "Signed GET whose query was changed in transit",
        &mut unsigned,
        tampered,
    )
    .await;

    show(
        "A request the signer refuses (keys that differ only in case would be signed as one)",
        &mut client,
        request(
            Method::GET,
            format!("{base}/api/v1/PBX/CallHistory/?Count=1&count=2"),
            None,
            "",
        ),
    )
    .await;

    let _ = stop.send(());
    server.await??;
    println!("done");
    Ok(())
}
