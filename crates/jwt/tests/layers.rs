//! Wiring: the JWT verifiers plug into core's `HeaderTokenLayer` (Bearer, `X-Auth-Token`,
//! `X-Auth-Google-Token`) and `QueryTokenLayer` (`?jwt=`) without new layer types.

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tower::{Layer, ServiceExt};
use tower_authn_core::clock::ManualClock;
use tower_authn_core::{HeaderTokenLayer, Principal, QueryTokenLayer};
use tower_authn_jwt::{
    Algorithm, JwtIssuer, JwtVerifier, KeySet, SigningKey, VerifyingKey, google,
};

const NOW: u64 = 1_700_000_000;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let principal = req.extensions().get::<Principal>().cloned();
    let body = serde_json::json!({"principal": principal, "uri": req.uri().to_string()});
    Ok(Response::new(Full::new(Bytes::from(body.to_string()))))
}

async fn send<L>(layer: L, req: Request<Full<Bytes>>) -> (StatusCode, http::HeaderMap, Value)
where
    L: Layer<tower::util::ServiceFn<fn(Request<Full<Bytes>>) -> EchoFuture>>,
    L::Service:
        tower::Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible>,
{
    let svc = layer.layer(tower::service_fn(
        echo_boxed as fn(Request<Full<Bytes>>) -> EchoFuture,
    ));
    let res = svc.oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

type EchoFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>,
>;

fn echo_boxed(req: Request<Full<Bytes>>) -> EchoFuture {
    Box::pin(echo(req))
}

fn get(uri: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = Request::get(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

fn hs256() -> (JwtIssuer, JwtVerifier) {
    let clock = ManualClock::at_unix(NOW);
    let issuer = JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .with_clock(clock.clone());
    let verifier = JwtVerifier::new(KeySet::new().with_key(VerifyingKey::hmac(SECRET).unwrap()))
        .with_clock(clock);
    (issuer, verifier)
}

#[tokio::test]
async fn bearer_header_and_query() {
    let (issuer, verifier) = hs256();
    let token = issuer
        .issue_for(&Principal::user("alice").with_roles(["admin"]))
        .unwrap();

    let bearer = format!("Bearer {token}");
    let (status, _, body) = send(
        HeaderTokenLayer::bearer(verifier.clone()),
        get("/", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["principal"]["id"], "alice");
    assert_eq!(body["principal"]["scheme"], "jwt");
    assert_eq!(body["principal"]["roles"], serde_json::json!(["admin"]));

    let uri = format!("/calls?jwt={token}&page=2");
    let (status, _, body) = send(
        QueryTokenLayer::new("jwt", verifier.clone()),
        get(&uri, &[]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["principal"]["id"], "alice");
    assert!(
        !body["uri"].as_str().unwrap().contains("jwt="),
        "the token is removed from the URI"
    );

    let (status, headers, _) = send(
        HeaderTokenLayer::bearer(verifier.clone()),
        get("/", &[("authorization", "Bearer a.b.c")]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));

    // Expired: still a 401, with the expired code.
    let old = JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .with_clock(ManualClock::at_unix(NOW - 7200))
        .issue_for_subject("alice")
        .unwrap();
    let bearer = format!("Bearer {old}");
    let (status, _, body) = send(
        HeaderTokenLayer::bearer(verifier),
        get("/", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.to_string().contains("expired"), "{body}");
}

#[tokio::test]
async fn google_header_or_query() {
    let v = support::vector("google-id-token");
    let keys = KeySet::from_jwks(&v["jwks"].to_string()).unwrap();
    let verifier = google::verifier(keys, ["1234567890-abcdef.apps.googleusercontent.com"])
        .with_clock(ManualClock::at_unix(v["verify_at"].as_u64().unwrap()));
    let token = v["token"].as_str().unwrap();
    let layer =
        || HeaderTokenLayer::new(google::HEADER, verifier.clone()).with_query(google::QUERY);
    let (status, _, body) = send(layer(), get("/", &[("x-auth-google-token", token)])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["principal"]["scheme"], "google");
    let (status, _, _) = send(layer(), get(&format!("/?google_token={token}"), &[])).await;
    assert_eq!(status, StatusCode::OK);
    let wrong = v["token_wrong_aud"].as_str().unwrap();
    let (status, _, _) = send(layer(), get("/", &[("x-auth-google-token", wrong)])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn empty_key_set_answers_503() {
    let verifier = JwtVerifier::new(KeySet::new());
    let (issuer, _) = hs256();
    let bearer = format!("Bearer {}", issuer.issue_for_subject("a").unwrap());
    let (status, _, _) = send(
        HeaderTokenLayer::bearer(verifier),
        get("/", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}
