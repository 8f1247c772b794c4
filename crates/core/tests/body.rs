//! Schemes that need the body: buffered up to their limit (413 beyond), handed the bytes,
//! and the inner service receives exactly what arrived; compositions forward the need.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::pin;

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_authn_core::credential::BasicCredentials;
use tower_authn_core::scheme::HideCredentials;
use tower_authn_core::{
    AuthError, AuthnLayer, BasicAuthLayer, Buffered, Challenge, Extraction, JsonErrors, Principal,
    Scheme,
};

/// `X-Body-Sig: <expected body>`: valid when the body is exactly the header's value.
#[derive(Clone)]
struct BodySig {
    limit: usize,
}

struct SigCredential {
    expected: String,
    body: Option<Bytes>,
}

impl Scheme for BodySig {
    type Credential = SigCredential;
    type Future = Ready<Result<Principal, AuthError>>;
    type Body = Buffered;

    fn extract(&self, head: &Parts) -> Extraction<SigCredential> {
        match head.headers.get("x-body-sig").map(|v| v.to_str()) {
            None => Extraction::Absent,
            Some(Ok(v)) => Extraction::Found(SigCredential {
                expected: v.to_owned(),
                body: None,
            }),
            Some(Err(_)) => Extraction::Rejected(AuthError::malformed("not ASCII")),
        }
    }

    fn body_limit(&self, _: &SigCredential) -> Option<usize> {
        Some(self.limit)
    }

    fn extract_body(
        &self,
        mut credential: SigCredential,
        _: &Parts,
        body: &Bytes,
    ) -> Result<SigCredential, AuthError> {
        if body.starts_with(b"!") {
            return Err(AuthError::malformed("a body this scheme refuses"));
        }
        credential.body = Some(body.clone());
        Ok(credential)
    }

    fn verify(&self, c: SigCredential) -> Self::Future {
        ready(match c.body {
            Some(b) if b == c.expected.as_bytes() => Ok(Principal::server("signer")),
            Some(_) => Err(AuthError::invalid("body does not match")),
            None => Err(AuthError::unavailable("no body handed over")),
        })
    }

    fn hide(&self, head: &mut Parts, _: HideCredentials) {
        head.headers.remove("x-body-sig");
    }

    fn challenges(&self, _: Option<&AuthError>, out: &mut Vec<Challenge>) {
        out.push(Challenge::new("BodySig"));
    }
}

fn basic(c: BasicCredentials) -> Ready<Result<Principal, AuthError>> {
    use secrecy::ExposeSecret;
    ready(if c.password.expose_secret() == "right" {
        Ok(Principal::user(c.username))
    } else {
        Err(AuthError::invalid("wrong"))
    })
}

/// Echoes `<principal id>|<body>`.
async fn echo(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let who = req
        .extensions()
        .get::<Principal>()
        .map(|p| p.id.clone())
        .unwrap_or_else(|| "-".into());
    let body = req.into_body().collect().await.expect("full").to_bytes();
    let mut out = format!("{who}|").into_bytes();
    out.extend_from_slice(&body);
    Ok(Response::new(Full::new(Bytes::from(out))))
}

async fn send<S>(svc: &S, req: Request<Full<Bytes>>) -> (StatusCode, String)
where
    S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone,
{
    let res = svc.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = res.into_body().collect().await.expect("full").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn signed(body: &'static str, sig: &str) -> Request<Full<Bytes>> {
    Request::post("/")
        .header("x-body-sig", sig)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request")
}

#[tokio::test]
async fn the_scheme_sees_the_body_and_the_inner_service_gets_it_intact() {
    let svc = ServiceBuilder::new()
        .layer(AuthnLayer::from_scheme(BodySig { limit: 16 }))
        .service_fn(echo);
    assert_eq!(
        send(&svc, signed("exten=900", "exten=900")).await,
        (StatusCode::OK, "signer|exten=900".into())
    );
    assert_eq!(
        send(&svc, signed("exten=901", "exten=900")).await.0,
        StatusCode::UNAUTHORIZED
    );
    // extract_body may refuse what it was given: 400, inner service never called.
    assert_eq!(
        send(&svc, signed("!x", "!x")).await.0,
        StatusCode::BAD_REQUEST
    );
    // No credential: never buffered, 401 with the challenge.
    let res = svc
        .clone()
        .oneshot(
            Request::post("/")
                .body(Full::new(Bytes::from_static(b"x")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "BodySig");
}

#[tokio::test]
async fn over_the_limit_is_413_declared_or_read_in_the_layers_shape() {
    let shape = |e: &AuthError| {
        Response::builder()
            .status(e.status())
            .body(Bytes::from(format!("shape:{}", e.code())))
            .unwrap()
    };
    let svc = ServiceBuilder::new()
        .layer(AuthnLayer::from_scheme(BodySig { limit: 4 }).responder(shape))
        .service_fn(echo);
    let mut declared = signed("12345", "12345");
    declared
        .headers_mut()
        .insert("content-length", "5".parse().unwrap());
    assert_eq!(
        send(&svc, declared).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "shape:payload_too_large".into()
        )
    );
    // No Content-Length: the limit holds while reading.
    assert_eq!(
        send(&svc, signed("12345", "12345")).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "shape:payload_too_large".into()
        )
    );
    assert_eq!(send(&svc, signed("1234", "1234")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn compositions_forward_the_need_and_the_bytes() {
    let any = BasicAuthLayer::new(basic)
        .or(AuthnLayer::from_scheme(BodySig { limit: 16 }))
        .responder(JsonErrors);
    let svc = ServiceBuilder::new().layer(any).service_fn(echo);
    assert_eq!(
        send(&svc, signed("a=1", "a=1")).await,
        (StatusCode::OK, "signer|a=1".into())
    );
    // A Basic request on the same route: not buffered, its body passes as it came, even one
    // over the other side's limit.
    let req = Request::post("/")
        .header("authorization", "Basic YWxpY2U6cmlnaHQ=")
        .body(Full::new(Bytes::from_static(
            b"a body longer than sixteen bytes",
        )))
        .unwrap();
    assert_eq!(
        send(&svc, req).await,
        (
            StatusCode::OK,
            "alice|a body longer than sixteen bytes".into()
        )
    );

    // All-of: both proofs, the body read once for the side that needs it.
    let both = BasicAuthLayer::new(basic).and(AuthnLayer::from_scheme(BodySig { limit: 16 }));
    let svc = ServiceBuilder::new().layer(both).service_fn(echo);
    let mut req = signed("k=v", "k=v");
    req.headers_mut()
        .insert("authorization", "Basic YWxpY2U6cmlnaHQ=".parse().unwrap());
    assert_eq!(send(&svc, req).await, (StatusCode::OK, "alice|k=v".into()));
    assert_eq!(send(&svc, signed("k=v", "k=v")).await.0, 401);
}

#[tokio::test]
async fn a_future_polled_after_completion_answers_500() {
    let mut svc = ServiceBuilder::new()
        .layer(BasicAuthLayer::new(basic))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(Bytes::new())) });
    let mut fut = pin!(svc.ready().await.unwrap().call(Request::new(())));
    let first = fut.as_mut().now_or_never().unwrap().unwrap();
    assert_eq!(first.status(), 401);
    let again = fut.as_mut().now_or_never().unwrap().unwrap();
    assert_eq!(again.status(), 500);
    assert_eq!(
        again.into_body(),
        r#"{"error":"polled_after_completion","message":"future polled after completion"}"#
    );
    // Once the inner service answered, its future is not polled again either.
    let ok = Request::get("/")
        .header("authorization", "Basic YWxpY2U6cmlnaHQ=")
        .body(())
        .unwrap();
    let mut fut = pin!(svc.ready().await.unwrap().call(ok));
    assert_eq!(fut.as_mut().now_or_never().unwrap().unwrap().status(), 200);
    assert_eq!(fut.as_mut().now_or_never().unwrap().unwrap().status(), 500);
}
