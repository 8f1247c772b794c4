//! Browsers as clients, end to end through the layers (issue 18): the cookie source (found,
//! removed, duplicated, malformed, the cross-site request guard), the WebSocket subprotocol
//! source, CORS preflights, and the header names a CORS layer must allow. The inner service
//! records the request it got, and the verifier counts its calls.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use serde_json::Value;
use tower::{Layer, Service, ServiceExt};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::scheme::ReadBody;
use tower_authn_core::{
    AuthError, AuthnLayer, CookieTokenLayer, CredentialLocation, HeaderTokenLayer, HideCredentials,
    Preflight, Principal, QueryTokenLayer, Scheme,
};

const GOOD: &str = "g00d-token.value_1";
const COOKIE: &str = "authn_session";

/// The inner service: keeps the head of every request it receives.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Parts>>>);

impl Recorder {
    fn last(&self) -> Option<Parts> {
        self.0.lock().unwrap().pop()
    }

    fn calls(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl Service<Request<()>> for Recorder {
    type Response = Response<Bytes>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Bytes>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        let (parts, ()) = req.into_parts();
        self.0.lock().unwrap().push(parts);
        ready(Ok(Response::new(Bytes::from_static(b"inner"))))
    }
}

/// A verifier that accepts [`GOOD`] as alice and counts its calls.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl Calls {
    fn verifier(
        &self,
    ) -> impl Fn(TokenCredential) -> Ready<Result<Principal, AuthError>> + Clone + Send + Sync + 'static
    {
        let calls = Arc::clone(&self.0);
        move |c: TokenCredential| {
            calls.fetch_add(1, Ordering::SeqCst);
            ready(if c.expose() == GOOD {
                Ok(Principal::user("alice"))
            } else {
                Err(AuthError::invalid("not the good token"))
            })
        }
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

struct Sent {
    status: StatusCode,
    code: Option<String>,
    challenges: Vec<String>,
    /// The head the inner service received, when it was called.
    seen: Option<Parts>,
}

async fn send<Sc>(layer: &AuthnLayer<Sc>, req: Request<()>) -> Sent
where
    Sc: Scheme,
    Sc::Body: ReadBody<()>,
{
    let recorder = Recorder::default();
    let res = layer
        .layer(recorder.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = res.status();
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let code = serde_json::from_slice::<Value>(res.body())
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned));
    let seen = recorder.last();
    assert_eq!(recorder.calls(), 0, "inner service called more than once");
    Sent {
        status,
        code,
        challenges,
        seen,
    }
}

fn request(method: &str, headers: &[(&str, &[u8])]) -> Request<()> {
    let mut req = Request::builder().method(method).uri("/calls");
    for (name, value) in headers {
        req = req.header(*name, HeaderValue::from_bytes(value).unwrap());
    }
    req.body(()).unwrap()
}

fn get(headers: &[(&str, &[u8])]) -> Request<()> {
    request("GET", headers)
}

fn cookie_lines(parts: &Parts) -> Vec<Vec<u8>> {
    parts
        .headers
        .get_all("cookie")
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect()
}

fn principal(parts: &Parts) -> &Principal {
    parts.extensions.get::<Principal>().expect("a principal")
}

// ---------------------------------------------------------------- cookie source

#[tokio::test]
async fn the_cookie_is_accepted_and_recorded_as_its_location() {
    let calls = Calls::default();
    let layer = CookieTokenLayer::new(COOKIE, calls.verifier());
    let sent = send(
        &layer,
        get(&[("cookie", b"authn_session=g00d-token.value_1")]),
    )
    .await;
    assert_eq!(sent.status, 200);
    let seen = sent.seen.expect("inner called");
    let p = principal(&seen);
    assert_eq!(p.id, "alice");
    assert_eq!(p.scheme, "cookie");
    assert_eq!(p.location, Some(CredentialLocation::Cookie(COOKIE.into())));
    assert_eq!(
        p.location.as_ref().unwrap().to_string(),
        "cookie:authn_session"
    );
    assert_eq!(calls.count(), 1);

    // A DQUOTE-wrapped value is unwrapped; a token layer's own cookie works the same.
    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier()).with_cookie(COOKIE);
    let sent = send(
        &layer,
        get(&[("cookie", b"authn_session=\"g00d-token.value_1\"")]),
    )
    .await;
    assert_eq!(sent.status, 200);
    assert_eq!(principal(&sent.seen.unwrap()).scheme, "token");
}

#[tokio::test]
async fn the_cookie_is_removed_and_the_others_kept_byte_exact() {
    let calls = Calls::default();
    let layer = CookieTokenLayer::new(COOKIE, calls.verifier());
    let sent = send(
        &layer,
        get(&[
            (
                "cookie",
                b"a=1;authn_session=g00d-token.value_1;  b=\"x y\"",
            ),
            ("cookie", b"c=%20z ;d=\xfe"),
        ]),
    )
    .await;
    assert_eq!(sent.status, 200);
    let seen = sent.seen.unwrap();
    assert_eq!(
        cookie_lines(&seen),
        [b"a=1; b=\"x y\"".to_vec(), b"c=%20z ;d=\xfe".to_vec()]
    );

    // A line with nothing else goes; MarkSensitive does not keep the cookie.
    let layer = CookieTokenLayer::new(COOKIE, calls.verifier())
        .hide_credentials(HideCredentials::MarkSensitive);
    let sent = send(
        &layer,
        get(&[("cookie", b"authn_session=g00d-token.value_1")]),
    )
    .await;
    assert_eq!(sent.status, 200);
    assert!(cookie_lines(&sent.seen.unwrap()).is_empty());
}

#[tokio::test]
async fn a_header_token_also_strips_the_cookie_of_a_composition() {
    let calls = Calls::default();
    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier())
        .or(CookieTokenLayer::new(COOKIE, calls.verifier()));
    let sent = send(
        &layer,
        get(&[
            ("x-auth-token", GOOD.as_bytes()),
            ("cookie", b"authn_session=whatever; theme=dark"),
        ]),
    )
    .await;
    assert_eq!(sent.status, 200);
    let seen = sent.seen.unwrap();
    assert_eq!(principal(&seen).scheme, "token");
    assert_eq!(cookie_lines(&seen), [b"theme=dark".to_vec()]);
    assert!(!seen.headers.contains_key("x-auth-token"));
    assert_eq!(calls.count(), 1, "the header decided alone");
}

#[tokio::test]
async fn the_cookie_twice_is_a_duplicate() {
    let calls = Calls::default();
    let cookie = CookieTokenLayer::new(COOKIE, calls.verifier());
    let one_line = get(&[(
        "cookie",
        b"authn_session=g00d-token.value_1; x=1; authn_session=g00d-token.value_1",
    )]);
    let two_lines = get(&[
        ("cookie", b"authn_session=g00d-token.value_1"),
        ("cookie", b"x=1; authn_session=other"),
    ]);
    let bad_then_good = get(&[("cookie", b"authn_session; authn_session=g00d-token.value_1")]);
    for req in [one_line, two_lines, bad_then_good] {
        let sent = send(&cookie, req).await;
        assert_eq!(sent.status, 400);
        assert_eq!(sent.code.as_deref(), Some("duplicate_credentials"));
        assert!(sent.seen.is_none());
    }

    // Header and cookie of one scheme: one credential per request.
    let token = HeaderTokenLayer::new("X-Auth-Token", calls.verifier()).with_cookie(COOKIE);
    let sent = send(
        &token,
        get(&[
            ("x-auth-token", GOOD.as_bytes()),
            ("cookie", b"authn_session=g00d-token.value_1"),
        ]),
    )
    .await;
    assert_eq!(sent.status, 400);
    assert_eq!(sent.code.as_deref(), Some("duplicate_credentials"));
    assert_eq!(calls.count(), 0);

    // Several Cookie lines without a second copy are one list, not a duplicate.
    let sent = send(
        &cookie,
        get(&[
            ("cookie", b"a=1"),
            ("cookie", b"authn_session=g00d-token.value_1"),
            ("cookie", b"b=2"),
        ]),
    )
    .await;
    assert_eq!(sent.status, 200);
}

#[tokio::test]
async fn malformed_cookie_values_are_400() {
    let calls = Calls::default();
    let layer = CookieTokenLayer::new(COOKIE, calls.verifier());
    for line in [
        &b"authn_session="[..],
        b"authn_session=\"\"",
        b"authn_session=\"g00d",
        b"authn_session=a,b",
        b"authn_session=a\\b",
        b"authn_session=a\"b",
        b"x=1; authn_session; y=2",
        b"authn_session=g00d\xff",
    ] {
        let sent = send(&layer, get(&[("cookie", line)])).await;
        assert_eq!(
            (sent.status, sent.code.as_deref()),
            (StatusCode::BAD_REQUEST, Some("malformed_credentials")),
            "{:?}",
            String::from_utf8_lossy(line)
        );
        assert!(sent.seen.is_none());
    }
    assert_eq!(calls.count(), 0);

    // Other pairs that do not parse are not ours: ignored.
    let sent = send(
        &layer,
        get(&[("cookie", b"=x; junk; authn_session=g00d-token.value_1; ;")]),
    )
    .await;
    assert_eq!(sent.status, 200);
    assert_eq!(cookie_lines(&sent.seen.unwrap()), [b"=x; junk".to_vec()]);
}

#[tokio::test]
async fn non_utf8_cookie_lines_never_panic() {
    let calls = Calls::default();
    let layer = CookieTokenLayer::new(COOKIE, calls.verifier());
    let sent = send(
        &layer,
        get(&[(
            "cookie",
            b"pref=\xc3\x28\xff; authn_session=g00d-token.value_1",
        )]),
    )
    .await;
    assert_eq!(sent.status, 200);
    assert_eq!(
        cookie_lines(&sent.seen.unwrap()),
        [b"pref=\xc3\x28\xff".to_vec()]
    );

    let sent = send(&layer, get(&[("cookie", b"\xff\xfe\x80")])).await;
    assert_eq!(sent.status, 401, "no cookie of ours");
    assert!(sent.challenges.is_empty(), "a cookie has no challenge");
}

#[tokio::test]
async fn the_cookie_adds_no_challenge_and_keeps_the_token_one() {
    let calls = Calls::default();
    let plain = send(
        &HeaderTokenLayer::new("X-Auth-Token", calls.verifier()),
        get(&[]),
    )
    .await;
    let with_cookie = send(
        &HeaderTokenLayer::new("X-Auth-Token", calls.verifier()).with_cookie(COOKIE),
        get(&[]),
    )
    .await;
    assert_eq!(with_cookie.status, 401);
    assert_eq!(with_cookie.challenges, plain.challenges);
    assert_eq!(with_cookie.challenges.len(), 1);

    let wrong = send(
        &CookieTokenLayer::new(COOKIE, calls.verifier()),
        get(&[("cookie", b"authn_session=wrong")]),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.challenges.is_empty());
}

// ---------------------------------------------------------------- cross-site request guard

fn post(headers: &[(&str, &[u8])]) -> Request<()> {
    request("POST", headers)
}

const SESSION: (&str, &[u8]) = ("cookie", b"authn_session=g00d-token.value_1");
const HOST: (&str, &[u8]) = ("host", b"gw.example:8443");

#[tokio::test]
async fn safe_methods_need_no_origin() {
    let calls = Calls::default();
    let layer = CookieTokenLayer::new(COOKIE, calls.verifier());
    for method in ["GET", "HEAD"] {
        let sent = send(&layer, request(method, &[SESSION])).await;
        assert_eq!(sent.status, 200, "{method}");
    }
    // OPTIONS without Access-Control-Request-Method is no preflight: authenticated, unguarded.
    let sent = send(
        &layer,
        request("OPTIONS", &[SESSION, ("origin", b"https://evil.example")]),
    )
    .await;
    assert_eq!(sent.status, 200);
}

#[tokio::test]
async fn a_state_changing_request_needs_its_own_or_a_listed_origin() {
    let calls = Calls::default();
    let layer =
        CookieTokenLayer::new(COOKIE, calls.verifier()).allow_origins(["https://app.example"]);

    let own = send(
        &layer,
        post(&[SESSION, HOST, ("origin", b"https://gw.example:8443")]),
    )
    .await;
    assert_eq!(own.status, 200, "own origin through Host");
    let listed = send(
        &layer,
        post(&[SESSION, HOST, ("origin", b"https://App.Example")]),
    )
    .await;
    assert_eq!(listed.status, 200, "listed origin");
    assert_eq!(calls.count(), 2);

    for (what, origin) in [
        ("unlisted", Some(&b"https://evil.example"[..])),
        ("missing", None),
        ("null", Some(b"null")),
        ("other port", Some(b"https://gw.example")),
        ("a path", Some(b"https://app.example/")),
    ] {
        let mut headers = vec![SESSION, HOST];
        if let Some(o) = origin {
            headers.push(("origin", o));
        }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let sent = send(&layer, request(method, &headers)).await;
            assert_eq!(sent.status, 403, "{what} {method}");
            assert_eq!(sent.code.as_deref(), Some("forbidden"));
            assert!(sent.seen.is_none());
        }
    }
    assert_eq!(calls.count(), 2, "a forged request is never verified");
}

#[tokio::test]
async fn a_websocket_handshake_with_the_cookie_needs_its_own_or_a_listed_origin() {
    let calls = Calls::default();
    let layer =
        CookieTokenLayer::new(COOKIE, calls.verifier()).allow_origins(["https://app.example"]);
    let handshake = |origin: Option<&'static [u8]>| {
        let mut headers: Vec<(&str, &[u8])> = vec![
            SESSION,
            HOST,
            ("connection", b"Upgrade"),
            ("upgrade", b"websocket"),
        ];
        headers.extend(origin.map(|o| ("origin", o)));
        get(&headers)
    };
    let listed = send(&layer, handshake(Some(b"https://app.example"))).await;
    assert_eq!(listed.status, 200);
    // Cross-site WebSocket hijacking: a GET, yet refused before the credential is verified.
    for origin in [Some(&b"https://evil.example"[..]), None] {
        let sent = send(&layer, handshake(origin)).await;
        assert_eq!(sent.status, 403, "{origin:?}");
        assert!(sent.seen.is_none());
    }
    assert_eq!(calls.count(), 1);
    // A plain GET with the cookie needs no Origin.
    assert_eq!(send(&layer, get(&[SESSION, HOST])).await.status, 200);
}

#[tokio::test]
async fn without_host_the_uri_authority_is_the_own_origin() {
    let calls = Calls::default();
    let layer = CookieTokenLayer::new(COOKIE, calls.verifier());
    let req = Request::post("https://gw.example/calls")
        .header("cookie", "authn_session=g00d-token.value_1")
        .header("origin", "https://gw.example")
        .body(())
        .unwrap();
    assert_eq!(send(&layer, req).await.status, 200);
}

#[tokio::test]
async fn header_and_query_credentials_are_not_guarded() {
    let calls = Calls::default();
    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier())
        .with_query("token")
        .with_cookie(COOKIE);
    let evil = ("origin", &b"https://evil.example"[..]);
    let sent = send(
        &layer,
        post(&[HOST, evil, ("x-auth-token", GOOD.as_bytes())]),
    )
    .await;
    assert_eq!(sent.status, 200);
    let req = Request::post(format!("/calls?token={GOOD}"))
        .header("origin", "https://evil.example")
        .body(())
        .unwrap();
    assert_eq!(send(&layer, req).await.status, 200);
    // The same layer's cookie is guarded.
    let sent = send(&layer, post(&[HOST, evil, SESSION])).await;
    assert_eq!(sent.status, 403);

    // Composed: the header decides; the cookie alone is guarded.
    let layer = HeaderTokenLayer::bearer(calls.verifier())
        .or(CookieTokenLayer::new(COOKIE, calls.verifier()));
    let bearer = format!("Bearer {GOOD}");
    let sent = send(
        &layer,
        post(&[HOST, evil, SESSION, ("authorization", bearer.as_bytes())]),
    )
    .await;
    assert_eq!(sent.status, 200);
    let sent = send(&layer, post(&[HOST, evil, SESSION])).await;
    assert_eq!(sent.status, 403);
}

// ---------------------------------------------------------------- WebSocket subprotocol

fn upgrade(protocols: &[&[u8]]) -> Request<()> {
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("connection", b"Upgrade"),
        ("upgrade", b"websocket"),
        ("sec-websocket-version", b"13"),
        ("sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    for p in protocols {
        headers.push(("sec-websocket-protocol", p));
    }
    get(&headers)
}

fn protocols(parts: &Parts) -> Vec<&str> {
    parts
        .headers
        .get_all("sec-websocket-protocol")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_subprotocol_token_is_accepted_and_removed() {
    let calls = Calls::default();
    let layer = QueryTokenLayer::new("token", calls.verifier()).with_subprotocol();
    let entry = format!("cti, authn.bearer.{GOOD}");
    let sent = send(&layer, upgrade(&[entry.as_bytes()])).await;
    assert_eq!(sent.status, 200);
    let seen = sent.seen.unwrap();
    assert_eq!(protocols(&seen), ["cti"]);
    let p = principal(&seen);
    assert_eq!(
        p.location.as_ref().unwrap().to_string(),
        "subprotocol:authn.bearer"
    );

    // Over several lines; the header goes when only the token was offered.
    let entry = format!("authn.bearer.{GOOD}");
    let sent = send(&layer, upgrade(&[b"chat", entry.as_bytes(), b"cti"])).await;
    assert_eq!(protocols(&sent.seen.unwrap()), ["chat, cti"]);
    let sent = send(&layer, upgrade(&[entry.as_bytes()])).await;
    assert_eq!(sent.status, 200);
    assert!(protocols(&sent.seen.unwrap()).is_empty());
}

#[tokio::test]
async fn subprotocol_duplicates_and_bad_tokens_are_refused_before_the_upgrade() {
    let calls = Calls::default();
    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier()).with_subprotocol();
    let two = format!("authn.bearer.{GOOD}, cti, authn.bearer.{GOOD}");
    let sent = send(&layer, upgrade(&[two.as_bytes()])).await;
    assert_eq!(
        (sent.status, sent.code.as_deref()),
        (StatusCode::BAD_REQUEST, Some("duplicate_credentials"))
    );
    let entry = format!("cti, authn.bearer.{GOOD}");
    let sent = send(&layer, {
        let mut r = upgrade(&[entry.as_bytes()]);
        r.headers_mut()
            .insert("x-auth-token", HeaderValue::from_static(GOOD));
        r
    })
    .await;
    assert_eq!(sent.status, 400, "header and subprotocol");

    for bad in [
        &b"cti, authn.bearer."[..],
        b"authn.bearer",
        b"authn.bearer.a/b==",
    ] {
        let sent = send(&layer, upgrade(&[bad])).await;
        assert_eq!(sent.status, 400, "{:?}", String::from_utf8_lossy(bad));
        assert!(sent.seen.is_none());
    }
    assert_eq!(calls.count(), 0);

    let sent = send(&layer, upgrade(&[b"cti, authn.bearer.wrong"])).await;
    assert_eq!(sent.status, 401);
    assert!(
        sent.seen.is_none(),
        "the inner service (the upgrade) never ran"
    );
    assert_eq!(calls.count(), 1);
}

// ---------------------------------------------------------------- CORS preflight

fn preflight(extra: &[(&str, &[u8])]) -> Request<()> {
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("origin", b"https://app.example"),
        ("access-control-request-method", b"POST"),
        ("access-control-request-headers", b"x-auth-token"),
    ];
    headers.extend_from_slice(extra);
    request("OPTIONS", &headers)
}

#[tokio::test]
async fn a_preflight_passes_without_a_principal() {
    let calls = Calls::default();
    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier())
        .or(CookieTokenLayer::new(COOKIE, calls.verifier()));
    let sent = send(&layer, preflight(&[])).await;
    assert_eq!(sent.status, 200);
    let seen = sent.seen.expect("the inner service answers the preflight");
    assert!(seen.extensions.get::<Principal>().is_none());
    assert_eq!(calls.count(), 0);

    // A hand-made preflight with credentials: not verified, and stripped.
    let sent = send(
        &layer,
        preflight(&[
            ("x-auth-token", b"wrong"),
            ("cookie", b"authn_session=x; a=1"),
        ]),
    )
    .await;
    assert_eq!(sent.status, 200);
    let seen = sent.seen.unwrap();
    assert!(seen.extensions.get::<Principal>().is_none());
    assert!(!seen.headers.contains_key("x-auth-token"));
    assert_eq!(cookie_lines(&seen), [b"a=1".to_vec()]);
    assert_eq!(calls.count(), 0);
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn after_a_preflight_the_principal_extractor_answers_401() {
    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};

    let calls = Calls::default();
    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier());
    let mut seen = send(&layer, preflight(&[])).await.seen.unwrap();
    let rejection = <Principal as FromRequestParts<()>>::from_request_parts(&mut seen, &())
        .await
        .unwrap_err();
    assert_eq!(rejection.status(), 401, "the anonymous marker is there");
    assert!(!rejection.is_missing_layer());
    let optional =
        <Principal as OptionalFromRequestParts<()>>::from_request_parts(&mut seen, &()).await;
    assert!(matches!(optional, Ok(None)));
}

#[tokio::test]
async fn preflights_can_be_authenticated_and_options_alone_is_no_preflight() {
    let calls = Calls::default();
    let layer =
        HeaderTokenLayer::new("X-Auth-Token", calls.verifier()).preflight(Preflight::Authenticate);
    let sent = send(&layer, preflight(&[])).await;
    assert_eq!(sent.status, 401);
    assert!(sent.seen.is_none());

    // Either side of a composition asking Authenticate wins.
    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier()).or(CookieTokenLayer::new(
        COOKIE,
        calls.verifier(),
    )
    .preflight(Preflight::Authenticate));
    assert_eq!(send(&layer, preflight(&[])).await.status, 401);
    let layer = layer.preflight(Preflight::Pass);
    assert_eq!(send(&layer, preflight(&[])).await.status, 200);

    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier());
    for headers in [
        &[("origin", &b"https://app.example"[..])][..],
        &[("access-control-request-method", b"POST")],
        &[],
    ] {
        let sent = send(&layer, request("OPTIONS", headers)).await;
        assert_eq!(sent.status, 401, "{headers:?}");
    }
    // A POST with the preflight's headers is no preflight either.
    let sent = send(
        &layer,
        post(&[
            ("origin", b"https://app.example"),
            ("access-control-request-method", b"POST"),
        ]),
    )
    .await;
    assert_eq!(sent.status, 401);
}

// ---------------------------------------------------------------- CORS headers

#[test]
fn credential_headers_list_what_a_page_must_be_allowed_to_send() {
    let calls = Calls::default();
    let layer = HeaderTokenLayer::new("X-Auth-Token", calls.verifier())
        .with_bearer()
        .with_query("token")
        .with_subprotocol()
        .or(
            HeaderTokenLayer::new("X-VoltMX-Authorization", calls.verifier())
                .with_header("X-Auth-Token-2"),
        )
        .or(CookieTokenLayer::new(COOKIE, calls.verifier()));
    assert_eq!(
        layer.credential_headers(),
        [
            "x-auth-token",
            "authorization",
            "x-voltmx-authorization",
            "x-auth-token-2"
        ]
    );
}

// ---------------------------------------------------------------- metrics

#[cfg(feature = "metrics")]
#[test]
fn a_passed_preflight_is_counted_with_its_own_outcome() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower_authn_core::metrics::{OUTCOME_PREFLIGHT, REQUESTS_TOTAL, SCHEME_NONE};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let calls = Calls::default();
            let layer = CookieTokenLayer::new(COOKIE, calls.verifier());
            assert_eq!(send(&layer, preflight(&[])).await.status, 200);
            let sent = send(
                &layer,
                post(&[SESSION, ("origin", b"https://evil.example")]),
            )
            .await;
            assert_eq!(sent.status, 403);
        });
    });
    let counts: Vec<(Vec<(String, String)>, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| k.key().name() == REQUESTS_TOTAL)
        .map(|(k, _, _, v)| {
            let labels = k
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            let DebugValue::Counter(n) = v else {
                panic!("a counter")
            };
            (labels, n)
        })
        .collect();
    let label = |s: &str, o: &str| {
        vec![
            ("scheme".to_owned(), s.to_owned()),
            ("outcome".to_owned(), o.to_owned()),
        ]
    };
    assert!(
        counts.contains(&(label(SCHEME_NONE, OUTCOME_PREFLIGHT), 1)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&(label("cookie:authn_session", "forbidden"), 1)),
        "{counts:?}"
    );
}
