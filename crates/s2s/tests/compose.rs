//! A signed route composes like every other scheme of the engine: `.or()` with Basic,
//! `.optional()`, `.require(..)` and `.throttle(..)`, each driven through the real signer.

mod support;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use support::*;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_authn_core::credential::BasicCredentials;
use tower_authn_core::https_redirect::PeerAddr;
use tower_authn_core::throttle::Throttle;
use tower_authn_core::{AuthError, BasicAuthLayer, Principal, Requirement};

const BASE: &str = "https://pbx.example.wildixin.com";

fn basic(c: BasicCredentials) -> Ready<Result<Principal, AuthError>> {
    use secrecy::ExposeSecret;
    ready(if c.password.expose_secret() == "right" {
        Ok(Principal::user(c.username).with_roles(["admin"]))
    } else {
        Err(AuthError::invalid("wrong"))
    })
}

/// Echoes `<principal id or ->|<body>`.
async fn who(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let id = req
        .extensions()
        .get::<Principal>()
        .map(|p| format!("{}:{}", p.scheme, p.id))
        .unwrap_or_else(|| "-".into());
    let body = req.into_body().collect().await.expect("full").to_bytes();
    let mut out = format!("{id}|").into_bytes();
    out.extend_from_slice(&body);
    Ok(Response::new(Full::new(Bytes::from(out))))
}

async fn send<S>(svc: &S, req: Request<Bytes>) -> (StatusCode, String)
where
    S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone,
{
    let mut req = req.map(Full::new);
    req.extensions_mut()
        .insert(PeerAddr("192.0.2.7:5000".parse::<SocketAddr>().unwrap()));
    let res = svc.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = res.into_body().collect().await.expect("full").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn originate() -> Request<Bytes> {
    sign(
        &signer(),
        Request::post(format!("{BASE}/api/v1/Originate/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(b"exten=900"))
            .unwrap(),
    )
}

fn basic_request(password: &str) -> Request<Bytes> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
    Request::post(format!("{BASE}/api/v1/Originate/"))
        .header("authorization", format!("Basic {b64}"))
        .body(Bytes::from_static(b"raw body"))
        .unwrap()
}

#[tokio::test]
async fn a_signed_route_or_basic() {
    let layer = verifier().layer().or(BasicAuthLayer::new(basic));
    let svc = ServiceBuilder::new().layer(layer).service_fn(who);
    assert_eq!(
        send(&svc, originate()).await,
        (StatusCode::OK, format!("s2s:{APP_ID}|exten=900"))
    );
    assert_eq!(
        send(&svc, basic_request("right")).await,
        (StatusCode::OK, "basic:admin|raw body".into())
    );
    // Failures keep the signed layer's Wildix shape, and the 401 names both schemes.
    let (status, body) = send(&svc, basic_request("wrong")).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            r#"{"type":"error","reason":"invalid_credentials"}"#
        )
    );
    let res = svc
        .clone()
        .oneshot(Request::get("/").body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    // A tampered signed body is still refused, never downgraded to Basic.
    let mut tampered = originate();
    *tampered.body_mut() = Bytes::from_static(b"exten=901");
    tampered.headers_mut().remove("content-length");
    assert_eq!(send(&svc, tampered).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_optional_signed_route() {
    let svc = ServiceBuilder::new()
        .layer(verifier().layer().optional())
        .service_fn(who);
    let anonymous = Request::get(format!("{BASE}/api/v1/Originate/"))
        .body(Bytes::new())
        .unwrap();
    assert_eq!(send(&svc, anonymous).await, (StatusCode::OK, "-|".into()));
    assert_eq!(
        send(&svc, originate()).await,
        (StatusCode::OK, format!("s2s:{APP_ID}|exten=900"))
    );
    // A bad signature is still refused.
    let mut tampered = originate();
    *tampered.uri_mut() = format!("{BASE}/api/v1/Hangup/").parse().unwrap();
    assert_eq!(send(&svc, tampered).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_signed_route_with_a_requirement_is_403_for_other_apps() {
    let only_other = Requirement::predicate("app other-app", |p| p.id == "other-app");
    let svc = ServiceBuilder::new()
        .layer(verifier().layer().require(only_other))
        .service_fn(who);
    assert_eq!(
        send(&svc, originate()).await,
        (
            StatusCode::FORBIDDEN,
            r#"{"type":"error","reason":"forbidden"}"#.into()
        )
    );
    let ours = Requirement::predicate("our app", |p| p.app_id.as_deref() == Some(APP_ID));
    let svc = ServiceBuilder::new()
        .layer(verifier().layer().require(ours))
        .service_fn(who);
    assert_eq!(send(&svc, originate()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_throttled_signed_route_locks_password_guesses_never_signatures() {
    let throttle = Throttle::new()
        .per_principal(2, Duration::from_secs(60))
        .per_address(2, Duration::from_secs(60));
    let layer = verifier()
        .layer()
        .or(BasicAuthLayer::new(basic))
        .throttle(throttle);
    let svc = ServiceBuilder::new().layer(layer).service_fn(who);
    for _ in 0..2 {
        assert_eq!(send(&svc, basic_request("guess")).await.0, 401);
    }
    let (status, body) = send(&svc, basic_request("right")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // The address is locked for passwords; a signature cannot be guessed, so signed calls
    // from it go on, and bad ones are never counted.
    let mut bad = originate();
    *bad.uri_mut() = format!("{BASE}/api/v1/Hangup/").parse().unwrap();
    for _ in 0..5 {
        assert_eq!(send(&svc, bad.clone()).await.0, 401);
    }
    assert_eq!(
        send(&svc, originate()).await,
        (StatusCode::OK, format!("s2s:{APP_ID}|exten=900"))
    );
}
