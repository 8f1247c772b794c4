//! Shared test fixtures: the vector file, a signer and verifier at a fixed clock, and an
//! inner service that echoes what it received.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt};
use tower_authn_core::clock::ManualClock;
use tower_authn_core::{Principal, PrincipalKind};
use tower_authn_s2s::{App, MemoryAppStore, SignatureVerifier, Signer};

pub const APP_ID: &str = "s2s-app-id-123";
pub const APP_NAME: &str = "CRM Connector";
pub const SECRET: &str = "s3cr3t-k3y-0123456789abcdef";
pub const HOST: &str = "pbx.example.wildixin.com";
pub const NOW: u64 = 1_700_000_000;

/// `wildix-s2s.json`: `$WILDIX_VECTORS`, else the repository's `tests/vectors/`.
pub fn vectors() -> serde_json::Value {
    let path = std::env::var_os("WILDIX_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/wildix-s2s.json")
        });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("vectors are JSON")
}

pub fn signer_at(secs: u64) -> Signer {
    Signer::new(APP_ID, APP_NAME, SECRET)
        .with_clock(ManualClock::at_unix(secs))
        .with_host(format!("https://{HOST}"))
}

pub fn signer() -> Signer {
    signer_at(NOW)
}

pub fn apps() -> MemoryAppStore {
    MemoryAppStore::new().with_app(APP_ID, App::new(APP_NAME, SECRET))
}

pub fn verifier_at(secs: u64) -> SignatureVerifier<MemoryAppStore> {
    SignatureVerifier::new(apps()).with_clock(ManualClock::at_unix(secs))
}

pub fn verifier() -> SignatureVerifier<MemoryAppStore> {
    verifier_at(NOW)
}

/// What the inner service saw.
#[derive(Debug)]
pub struct Seen {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    /// For 200: `"<app id>|<app name>|<method> <uri>|<authorization?>"`; else the error body.
    pub text: String,
    /// For 200: the body the inner service received.
    pub body: Bytes,
}

/// The inner service: checks the principal and echoes the request.
pub async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    echo_any(req).await
}

/// [`echo`] for any request body.
pub async fn echo_any<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let p = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .expect("principal inserted");
    assert_eq!(p.kind, PrincipalKind::App);
    assert_eq!(p.scheme, "s2s");
    let meta = format!(
        "{}|{}|{} {}|{}",
        p.id,
        p.name.clone().unwrap_or_default(),
        req.method(),
        req.uri(),
        req.headers().contains_key("authorization"),
    );
    let (parts, body) = req.into_parts();
    let _ = parts;
    let body = body.collect().await.expect("full body").to_bytes();
    let mut res = Response::new(Full::new(body));
    res.headers_mut()
        .insert("x-meta", meta.parse().expect("ascii meta"));
    Ok(res)
}

/// Sends `req` through `verifier` in front of [`echo`].
pub async fn send(verifier: SignatureVerifier<MemoryAppStore>, req: Request<Bytes>) -> Seen {
    let svc = ServiceBuilder::new()
        .layer(verifier.layer())
        .service_fn(echo);
    let res = svc.oneshot(req.map(Full::new)).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("full body")
        .to_bytes();
    let text = match headers.get("x-meta") {
        Some(m) => m.to_str().expect("ascii").to_owned(),
        None => String::from_utf8_lossy(&body).into_owned(),
    };
    Seen {
        status,
        headers,
        text,
        body,
    }
}

/// Signs `req` with `signer` (as the signing layer does).
pub fn sign(signer: &Signer, req: Request<Bytes>) -> Request<Bytes> {
    let (mut parts, body) = req.into_parts();
    let body = signer.sign_parts(&mut parts, body).expect("signable");
    Request::from_parts(parts, body)
}

pub fn ttl() -> Duration {
    Duration::from_secs(300)
}
