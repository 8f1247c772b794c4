//! Nothing reaches the inner service that the signature does not cover: an uncovered body,
//! a repeated signed header, a second Host, a Host other than the target's authority, a
//! path that decoding changes. Each is answered 400 in the Wildix shape, and the signer
//! refuses to send such requests at all.

mod support;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body::Frame;
use http_body_util::Full;
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_authn_s2s::php::Array;
use tower_authn_s2s::{PhpClientCall, SignError};

const BASE: &str = "https://pbx.example.wildixin.com";

/// What the reference client sends for `method endpoint` with no body and `headers`.
fn php(method: &str, endpoint: &str, headers: &[(&str, &str)]) -> Request<Bytes> {
    let call = PhpClientCall {
        method,
        endpoint,
        params: &Array::new(),
        body: &Array::new(),
        headers,
    };
    signer()
        .php_client_request(&call, NOW as i64)
        .unwrap()
        .to_http("")
        .unwrap()
}

async fn assert_accepted(req: Request<Bytes>) {
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
}

/// Answered `status` in the Wildix shape, and the inner service never ran (it would have
/// answered with its `x-meta` header).
async fn assert_refused(req: Request<Bytes>, status: u16, reason: &str) {
    let what = format!("{} {} {:?}", req.method(), req.uri(), req.headers());
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, status, "{what}: {}", seen.text);
    assert!(!seen.headers.contains_key("x-meta"), "{what}: reached");
    assert_eq!(
        seen.text,
        format!(r#"{{"type":"error","reason":"{reason}"}}"#),
        "{what}"
    );
}

fn set(mut req: Request<Bytes>, name: &'static str, value: &'static str) -> Request<Bytes> {
    req.headers_mut()
        .insert(name, HeaderValue::from_static(value));
    req
}

fn append(mut req: Request<Bytes>, name: &'static str, value: &'static str) -> Request<Bytes> {
    req.headers_mut()
        .append(name, HeaderValue::from_static(value));
    req
}

fn with_body(mut req: Request<Bytes>, body: &'static str) -> Request<Bytes> {
    *req.body_mut() = Bytes::from_static(body.as_bytes());
    req
}

const UNCOVERED_TYPES: &[&str] = &[
    "application/vnd.api+json",
    "application/merge-patch+json",
    "text/json",
    "text/plain",
    "application/octet-stream",
    "multipart/form-data; boundary=x",
    "",
    "application/x-www-form-urlencodedX",
    "application/json, text/plain",
];

// ---------------------------------------------------------------- bodies

#[tokio::test]
async fn a_body_the_canonical_form_does_not_cover_is_400_whatever_its_type() {
    // Signed for an empty body; the reference client's Content-Type is not signed, so an
    // attacker may set any.
    let signed = php("POST", "/api/v1/Originate/", &[]);
    assert_accepted(signed.clone()).await;
    for &ct in UNCOVERED_TYPES {
        let req = with_body(
            set(signed.clone(), "content-type", ct),
            r#"{"exten":"900"}"#,
        );
        assert_refused(req, 400, "malformed_credentials").await;
    }
    // The same through our own signer, which signs no Content-Type when there is none.
    let ours = sign(
        &signer(),
        Request::post(format!("{BASE}/api/v1/Originate/"))
            .body(Bytes::new())
            .unwrap(),
    );
    assert_accepted(ours.clone()).await;
    for &ct in UNCOVERED_TYPES {
        let req = with_body(set(ours.clone(), "content-type", ct), "exten=900");
        assert_refused(req, 400, "malformed_credentials").await;
    }
    // An empty body is covered under any type.
    for &ct in UNCOVERED_TYPES {
        assert_accepted(set(ours.clone(), "content-type", ct)).await;
    }
}

#[tokio::test]
async fn more_than_one_content_type_is_400_with_or_without_a_body() {
    let signed = php("POST", "/api/v1/Originate/", &[]);
    let two = append(signed.clone(), "content-type", "text/plain");
    assert_refused(two.clone(), 400, "malformed_credentials").await;
    assert_refused(with_body(two, "exten=900"), 400, "malformed_credentials").await;
    // The reference client's GET carries a Content-Type too.
    let get = php("GET", "/api/v1/PBX/CallHistory/", &[]);
    assert_accepted(get.clone()).await;
    let two = append(get, "content-type", "application/json");
    assert_refused(two, 400, "malformed_credentials").await;
}

#[tokio::test]
async fn a_compressed_body_is_400() {
    let req = sign(
        &signer(),
        Request::post(format!("{BASE}/api/v1/Originate/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(b"exten=900"))
            .unwrap(),
    );
    assert_accepted(req.clone()).await;
    assert_refused(
        set(req, "content-encoding", "gzip"),
        400,
        "malformed_credentials",
    )
    .await;
}

#[tokio::test]
async fn a_json_content_type_with_parameters_is_json_as_for_the_reference_client() {
    let body = Array::new().with("Name", "Support").with("Enabled", true);
    for ct in ["application/json; charset=utf-8", "Application/JSON"] {
        let headers = [("Content-Type", ct)];
        let call = PhpClientCall {
            method: "PUT",
            endpoint: "/api/v1/PBX/settings/CallQueues/7/",
            params: &Array::new(),
            body: &body,
            headers: &headers,
        };
        let req = signer()
            .php_client_request(&call, NOW as i64)
            .unwrap()
            .to_http("")
            .unwrap();
        assert_eq!(req.body(), r#"{"Name":"Support","Enabled":true}"#);
        assert_accepted(req.clone()).await;
        // Its body is covered: a changed one does not verify.
        let changed = with_body(req, r#"{"Name":"Support","Enabled":false}"#);
        let seen = send(verifier(), changed).await;
        assert_eq!(seen.status, 401, "{}", seen.text);
    }
    // Our signer takes the same types as JSON.
    let req = sign(
        &signer(),
        Request::put(format!("{BASE}/api/v1/PBX/settings/CallQueues/7/"))
            .header("content-type", "application/json; charset=utf-8")
            .body(Bytes::from_static(br#"{"Name":"Support"}"#))
            .unwrap(),
    );
    assert_accepted(req).await;
}

// ---------------------------------------------------------------- headers

#[tokio::test]
async fn a_signed_header_sent_twice_is_400() {
    let signed = php("GET", "/api/v1/PBX/CallHistory/", &[("X-Trace", "abc")]);
    assert_accepted(signed.clone()).await;
    // Only the first value was ever checked; the service might read the second.
    for second in ["evil", "abc"] {
        let mut req = signed.clone();
        req.headers_mut()
            .append("x-trace", HeaderValue::from_static(second));
        assert_refused(req, 400, "duplicate_credentials").await;
    }
    // A signed Content-Type sent twice, with our signer.
    let req = sign(
        &signer(),
        Request::post(format!("{BASE}/api/v1/Originate/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(b"exten=900"))
            .unwrap(),
    );
    assert!(
        tower_authn_s2s::token::UnverifiedToken::parse(
            req.headers()["authorization"]
                .to_str()
                .unwrap()
                .strip_prefix("Bearer ")
                .unwrap()
        )
        .unwrap()
        .claims()
        .unwrap()
        .sign
        .headers
        .contains(&"Content-Type".to_owned())
    );
    let req = append(req, "content-type", "application/x-www-form-urlencoded");
    assert_refused(req, 400, "malformed_credentials").await;
}

#[tokio::test]
async fn a_second_host_line_is_400() {
    let signed = php("GET", "/api/v1/PBX/CallHistory/", &[]);
    for second in ["evil.example.com", HOST] {
        let mut req = signed.clone();
        req.headers_mut()
            .append("host", HeaderValue::from_static(second));
        assert_refused(req, 400, "duplicate_credentials").await;
    }
}

#[tokio::test]
async fn an_absolute_form_target_is_the_host() {
    let signed = php("GET", "/api/v1/PBX/CallHistory/", &[]);
    // The authority of the target is the request's host: a Host header must agree with it.
    let mut req = signed.clone();
    *req.uri_mut() = format!("{BASE}/api/v1/PBX/CallHistory/").parse().unwrap();
    assert_accepted(req.clone()).await;
    req.headers_mut().remove("host");
    assert_accepted(req).await;

    let mut req = signed.clone();
    *req.uri_mut() = "https://evil.example.com/api/v1/PBX/CallHistory/"
        .parse()
        .unwrap();
    assert_refused(req.clone(), 400, "malformed_credentials").await;
    // Without a Host header, the authority is what is signed, and it is not the signed host.
    req.headers_mut().remove("host");
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, 401, "{}", seen.text);

    // A port, or another case, is another authority.
    let mut req = signed.clone();
    *req.uri_mut() = "https://pbx.example.wildixin.com:443/api/v1/PBX/CallHistory/"
        .parse()
        .unwrap();
    assert_refused(req, 400, "malformed_credentials").await;
    let mut req = signed;
    *req.uri_mut() = "https://PBX.example.wildixin.com/api/v1/PBX/CallHistory/"
        .parse()
        .unwrap();
    assert_refused(req, 400, "malformed_credentials").await;
}

// ---------------------------------------------------------------- paths

#[tokio::test]
async fn a_path_that_decoding_changes_is_400() {
    // Signed for /api/v1/Contacts/7/, sent with one segment fewer.
    let signed = php("GET", "/api/v1/Contacts/7/", &[]);
    for target in [
        "/api/v1/Contacts%2F7/",
        "/api/v1/Contacts%2f7/",
        "/api/v1/Contacts%5C7/",
    ] {
        let mut req = signed.clone();
        *req.uri_mut() = target.parse().unwrap();
        assert_refused(req, 400, "malformed_credentials").await;
    }
    // Encoded dots, signed for their decoded form.
    let signed = php("GET", "/api/v1/Contacts/a.b/", &[]);
    let mut req = signed;
    *req.uri_mut() = "/api/v1/Contacts/a%2Eb/".parse().unwrap();
    assert_refused(req, 400, "malformed_credentials").await;
    // Dot segments, even signed exactly as sent (the reference client does not remove them).
    for endpoint in [
        "/api/v1/PBX/../Users/",
        "/api/v1/./Users/",
        "/api/v1/%2E%2E/Users/",
        "/api/v1/.%2e/Users/",
    ] {
        assert_refused(php("GET", endpoint, &[]), 400, "malformed_credentials").await;
    }
    // Decoding that keeps the segments is still accepted.
    let call = PhpClientCall {
        method: "GET",
        endpoint: "/api/v1/Contacts/John Doe/",
        params: &Array::new(),
        body: &Array::new(),
        headers: &[],
    };
    let mut php = signer().php_client_request(&call, NOW as i64).unwrap();
    php.target = "/api/v1/Contacts/John%20Doe/".to_owned();
    assert_accepted(php.to_http("").unwrap()).await;
}

// ---------------------------------------------------------------- the signer

#[test]
fn the_signer_refuses_what_the_verifier_would_refuse() {
    let s = signer();
    let refuse = |req: Request<Bytes>| {
        let (mut parts, body) = req.into_parts();
        s.sign_parts(&mut parts, body).unwrap_err()
    };
    let post = |ct: &str, body: &'static str| {
        Request::post(format!("{BASE}/api/v1/Originate/"))
            .header("content-type", ct)
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap()
    };
    for &ct in UNCOVERED_TYPES {
        let e = refuse(post(ct, "exten=900"));
        assert!(matches!(e, SignError::UncoveredBody), "{ct:?}: {e}");
    }
    let e = refuse(set(
        post("application/x-www-form-urlencoded", "exten=900"),
        "content-encoding",
        "gzip",
    ));
    assert!(matches!(e, SignError::UncoveredBody), "{e}");
    let e = refuse(append(post("text/plain", ""), "content-type", "text/plain"));
    assert!(matches!(e, SignError::RepeatedHeader(_)), "{e}");
    let e = refuse(append(
        append(post("text/plain", ""), "host", HOST),
        "host",
        HOST,
    ));
    assert!(matches!(e, SignError::RepeatedHeader(_)), "{e}");
    let traced = Request::get(format!("{BASE}/x/"))
        .header("x-trace", "a")
        .header("x-trace", "b")
        .body(Bytes::new())
        .unwrap();
    let e = s
        .clone()
        .sign_header("X-Trace")
        .sign_parts(&mut traced.into_parts().0, Bytes::new())
        .unwrap_err();
    assert!(matches!(e, SignError::RepeatedHeader(_)), "{e}");
    for path in ["/a%2Fb/", "/a%5cb/", "/a/../b/", "/a/%2e/b/"] {
        let e = refuse(
            Request::get(format!("{BASE}{path}"))
                .body(Bytes::new())
                .unwrap(),
        );
        assert!(matches!(e, SignError::UnstablePath), "{path}: {e}");
    }
    // An empty body signs under any type, a JSON type with parameters as JSON.
    for &ct in UNCOVERED_TYPES {
        let (mut parts, body) = post(ct, "").into_parts();
        s.sign_parts(&mut parts, body).unwrap();
    }
}

/// A body whose first frame is an error.
struct FailingBody;

impl http_body::Body for FailingBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::other("connection reset"))))
    }
}

#[tokio::test]
async fn a_refused_signing_never_calls_the_inner_service() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let client =
        ServiceBuilder::new()
            .layer(signer().layer())
            .service_fn(move |_: Request<Full<Bytes>>| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, std::convert::Infallible>(Response::new(())) }
            });
    let req = |uri: &str, ct: Option<&str>, body: &'static str| {
        let mut b = Request::post(format!("{BASE}{uri}"));
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    let refused = [
        req("/x/?Count=1&count=2", None, ""),
        req("/x/", None, "a=1"),
        req("/x/", Some("text/plain"), "a=1"),
        req("/x/", Some("application/json"), r#"{"A":1,"a":2}"#),
        req("/x/", Some("application/json"), "[1,"),
        req("/x/", Some("application/x-www-form-urlencoded"), "a=1&a=2"),
        req("/x%2Fy/", None, ""),
        req("/x/../y/", None, ""),
    ];
    // Every uncovered body type, a compressed form, repeated Content-Type and Host.
    let mut compressed = req("/x/", Some("application/x-www-form-urlencoded"), "a=1");
    compressed
        .headers_mut()
        .insert("content-encoding", "gzip".parse().unwrap());
    let mut two_types = req("/x/", Some("text/plain"), "");
    two_types
        .headers_mut()
        .append("content-type", "text/plain".parse().unwrap());
    let mut two_hosts = req("/x/", None, "");
    for _ in 0..2 {
        two_hosts
            .headers_mut()
            .append("host", HOST.parse().unwrap());
    }
    let refused = refused
        .into_iter()
        .chain(
            UNCOVERED_TYPES
                .iter()
                .map(|&ct| req("/x/", Some(ct), "exten=900")),
        )
        .chain([compressed, two_types, two_hosts]);
    for r in refused {
        let what = format!("{} {:?}", r.uri(), r.headers());
        let err = client.clone().oneshot(r).await.unwrap_err();
        assert!(err.downcast_ref::<SignError>().is_some(), "{what}: {err}");
    }
    let err = ServiceBuilder::new()
        .layer(signer().layer())
        .service_fn({
            let counted = calls.clone();
            move |_: Request<Full<Bytes>>| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, std::convert::Infallible>(Response::new(())) }
            }
        })
        .oneshot(
            Request::post(format!("{BASE}/x/"))
                .body(FailingBody)
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.downcast_ref::<SignError>(), Some(SignError::Body(_))),
        "{err}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a refused request was sent"
    );

    // The counter counts: a signable request is sent once.
    client
        .clone()
        .oneshot(req("/x/", Some("application/x-www-form-urlencoded"), "a=1"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
