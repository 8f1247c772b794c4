//! The CCAI and Opentact token formats: the platforms' own vectors reproduced byte for byte,
//! their verifiers behind the core's layers, and the CCAI token route behind an auth layer.

use std::convert::Infallible;
use std::future::Ready;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::{Layer, ServiceExt};
use tower_authn_core::clock::ManualClock;
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{AuthError, ErrorKind, HeaderTokenLayer, Principal};
use tower_authn_jwt::{Algorithm, Claims, JwtIssuer, SigningKey};
use tower_authn_platforms::ccai::{self, CcaiIssuer};
use tower_authn_platforms::opentact::{self, OpentactIssuer};

const NOW: u64 = 1_700_000_000;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

type Echo = fn(Request<Body>) -> Ready<Result<Response<Body>, Infallible>>;

fn vector(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("vector JSON")
}

fn get(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::get(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

fn echo(req: Request<Body>) -> Ready<Result<Response<Body>, Infallible>> {
    let principal = req.extensions().get::<Principal>().cloned();
    let body = serde_json::json!({ "principal": principal });
    std::future::ready(Ok(Response::new(Body::from(body.to_string()))))
}

/// The status, and the principal the layer inserted as JSON.
async fn send<L>(layer: L, req: Request<Body>) -> (StatusCode, Value)
where
    L: Layer<tower::util::ServiceFn<Echo>>,
    L::Service: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let svc = layer.layer(tower::service_fn(echo as Echo));
    let res = svc.oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[test]
fn secrets_never_print() {
    let secret = "super-secret-hmac-key-material-0123456789";
    let ccai = CcaiIssuer::new("ACME", secret).unwrap();
    let opentact = OpentactIssuer::new(secret).unwrap();
    let all = format!("{ccai:?} {opentact:?}");
    assert!(!all.contains(secret), "{all}");
    assert!(all.contains("REDACTED"), "{all}");
}

#[test]
fn ccai_vector_reproduces_byte_for_byte_and_verifies() {
    let v = vector("ccai");
    let secret = v["secret"].as_str().unwrap();
    let p = &v["payload"];
    let iat = p["iat"].as_u64().unwrap();
    let clock = ManualClock::at_unix(iat);

    assert!(
        CcaiIssuer::new("ACME", secret).is_err(),
        "the vector's secret is under 32 bytes"
    );
    let issuer = CcaiIssuer::with_any_length_secret(p["iss"].as_str().unwrap(), secret)
        .unwrap()
        .with_clock(clock.clone());
    let token = issuer
        .issue(
            p["identifier"].as_str().unwrap(),
            p["name"].as_str().unwrap(),
            p["email"].as_str().unwrap(),
        )
        .unwrap();
    assert_eq!(token, v["token_alg_typ"].as_str().unwrap());

    let verifier = ccai::verifier("ACME", secret)
        .unwrap()
        .with_clock(clock.clone());
    let principal = verifier.authenticate(&token).unwrap();
    assert_eq!(principal.id, "5b3c1d2e-8f4a-4c6b-9d7e-1a2b3c4d5e6f");
    assert_eq!(principal.name.as_deref(), Some("Alice Example"));
    assert_eq!(principal.email.as_deref(), Some("alice@example.com"));
    assert_eq!(principal.scheme, "ccai");

    assert!(
        ccai::verifier("OTHER", secret)
            .unwrap()
            .with_clock(clock.clone())
            .authenticate(&token)
            .is_err()
    );
    clock.set_unix(iat + 3600 + 60);
    assert_eq!(
        verifier.authenticate(&token).unwrap_err().kind(),
        ErrorKind::Expired
    );
}

#[test]
fn opentact_vector_reproduces_and_verifies() {
    let v = vector("opentact")["fixture_jwt"].clone();
    let secret = v["secret"].as_str().unwrap();
    let p = &v["payload"];
    let clock = ManualClock::at_unix(p["iat"].as_u64().unwrap() + 10);

    let issuer = OpentactIssuer::with_any_length_secret(secret)
        .unwrap()
        .with_clock(ManualClock::at_unix(p["iat"].as_u64().unwrap()));
    let token = issuer
        .issue(p["uuid"].as_str().unwrap(), p["role"].as_str().unwrap())
        .unwrap();
    assert_eq!(token, v["token"].as_str().unwrap());

    let verifier = opentact::verifier(secret)
        .unwrap()
        .with_clock(clock.clone());
    let principal = verifier.authenticate(&token).unwrap();
    assert_eq!(principal.id, "2984a1ca-fff7-4c59-a63b-3468179d7df7");
    assert_eq!(principal.roles, ["User"]);
    assert_eq!(principal.scheme, "jwt");

    clock.set_unix(p["exp"].as_u64().unwrap() + 60);
    assert_eq!(
        verifier.authenticate(&token).unwrap_err().kind(),
        ErrorKind::Expired
    );

    // A 25-hour token from the same secret: longer than Opentact's 24 h.
    let long = JwtIssuer::new(SigningKey::hmac_any_length(Algorithm::HS256, secret).unwrap())
        .with_type(Some("JWT"))
        .sign(
            &Claims::new()
                .with("uuid", "u")
                .with("role", "User")
                .with("iat", 1_700_000_000)
                .with("exp", 1_700_090_000),
        )
        .unwrap();
    let at = opentact::verifier(secret)
        .unwrap()
        .with_clock(ManualClock::at_unix(1_700_000_010));
    assert_eq!(
        at.authenticate(&long).unwrap_err().detail(),
        "jwt: lifetime longer than allowed"
    );
}

#[tokio::test]
async fn opentact_x_auth_token_or_jwt_query() {
    let clock = ManualClock::at_unix(NOW);
    let issuer = OpentactIssuer::new(SECRET).unwrap().with_clock(clock);
    let token = issuer
        .issue("2984a1ca-fff7-4c59-a63b-3468179d7df7", "Admin")
        .unwrap();
    let layer =
        || HeaderTokenLayer::new(opentact::HEADER, issuer.verifier()).with_query(opentact::QUERY);

    let (status, body) = send(layer(), get("/rest/user", &[("x-auth-token", &token)])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["principal"]["id"],
        "2984a1ca-fff7-4c59-a63b-3468179d7df7"
    );
    assert_eq!(body["principal"]["roles"], serde_json::json!(["Admin"]));

    let (status, _) = send(layer(), get(&format!("/rest/user?jwt={token}"), &[])).await;
    assert_eq!(status, StatusCode::OK);
    // Both at once is a duplicate: 400.
    let (status, _) = send(
        layer(),
        get(
            &format!("/rest/user?jwt={token}"),
            &[("x-auth-token", &token)],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn ccai_token_endpoint_behind_an_auth_layer() {
    let clock = ManualClock::at_unix(NOW);
    let issuer = CcaiIssuer::new("ACME", SECRET)
        .unwrap()
        .with_clock(clock.clone());

    // The host's own session check, as any verifier.
    let session = |t: TokenCredential| async move {
        if t.expose() == "session-1" {
            Ok(Principal::user("5b3c1d2e")
                .with_name("Alice Example")
                .with_email("alice@example.com"))
        } else {
            Err(AuthError::invalid("no such session"))
        }
    };
    let svc = ccai::router(issuer.clone()).route_layer(HeaderTokenLayer::new("X-Session", session));
    let res = svc
        .clone()
        .oneshot(get("/auth/token", &[("x-session", "session-1")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let token = body["token"].as_str().unwrap();
    let principal = issuer.verifier().authenticate(token).unwrap();
    assert_eq!(principal.id, "5b3c1d2e");
    assert_eq!(principal.email.as_deref(), Some("alice@example.com"));

    let res = svc
        .oneshot(get("/auth/token", &[("x-session", "nope")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Mounted without a layer (a mistake): no principal, never a token.
    let res = ccai::router(issuer)
        .oneshot(get("/auth/token", &[]))
        .await
        .unwrap();
    assert_ne!(res.status(), StatusCode::OK);
}
