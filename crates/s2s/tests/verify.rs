//! The verifier accepts what the signer (and the reference client) make, and rejects every
//! tampering.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderValue, Request};
use proptest::prelude::*;
use sha2::Sha256;
use support::*;
use tower_authn_core::StoreError;
use tower_authn_s2s::php::{Array, Value, build_query};
use tower_authn_s2s::{App, AppStore, PhpClientCall, SignatureVerifier, Signer};

fn get(uri: &str) -> Request<Bytes> {
    Request::get(uri).body(Bytes::new()).unwrap()
}

fn with_body(method: &str, uri: &str, content_type: &str, body: &str) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn token_of(req: &Request<Bytes>) -> String {
    let auth = req.headers()["authorization"].to_str().unwrap();
    auth.strip_prefix("Bearer ").unwrap().to_owned()
}

/// A token with a hand-made header and payload, signed with HMAC-SHA256 under `secret`.
fn forge(header: &str, payload: &str, secret: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{sig}")
}

fn set_token(req: &mut Request<Bytes>, token: &str) {
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
}

const BASE: &str = "https://pbx.example.wildixin.com";

// ---------------------------------------------------------------- accepted

#[tokio::test]
async fn accepts_a_signed_get() {
    let req = sign(
        &signer(),
        get(&format!("{BASE}/api/v1/PBX/settings/CallQueues/")),
    );
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(
        seen.text,
        "s2s-app-id-123|CRM Connector|GET https://pbx.example.wildixin.com/api/v1/PBX/settings/CallQueues/|false",
        "principal, and Authorization removed before the inner service"
    );
}

#[tokio::test]
async fn accepts_a_get_with_nested_params_in_any_case_and_order() {
    let uri = format!(
        "{BASE}/api/v1/PBX/CallHistory/?Fields=id,start,end,src,dst\
         &filter[start][to]=02/06/2020+23:59&filter[start][from]=02/06/2020%2000:01&Count=10&start=0"
    );
    let req = sign(&signer(), get(&uri));
    // The wire form is the canonical form: lowercased, sorted, recursively.
    assert_eq!(
        req.uri().query().unwrap(),
        "count=10&fields=id%2Cstart%2Cend%2Csrc%2Cdst\
         &filter%5Bstart%5D%5Bfrom%5D=02%2F06%2F2020+00%3A01\
         &filter%5Bstart%5D%5Bto%5D=02%2F06%2F2020+23%3A59&start=0"
    );
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
}

#[tokio::test]
async fn accepts_a_form_post_and_hands_the_body_over_intact() {
    let req = with_body(
        "POST",
        &format!("{BASE}/api/v1/Originate/"),
        "application/x-www-form-urlencoded",
        "Channel=Local%2F108%40users&callerid=%22Announcer%22+%3C16144841500%3E&Exten=16144841500&context=users&priority=1",
    );
    let req = sign(&signer(), req);
    let sent = req.body().clone();
    assert_eq!(
        sent,
        "callerid=%22Announcer%22+%3C16144841500%3E&channel=Local%2F108%40users&context=users&exten=16144841500&priority=1"
    );
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.body, sent);
}

#[tokio::test]
async fn accepts_a_json_put_with_booleans_lists_nesting_and_mixed_case() {
    let json = r#"{"Name":"Support","Enabled":true,"Paused":false,"Weight":2.50,"MaxCallers":10,
        "Members":[{"Ext":"101","Penalty":0},{"Ext":"102","Penalty":1}],
        "Options":{"Strategy":"ringall","Timeout":15.5,"Announce":null,"Tags":[]}}"#;
    let req = with_body(
        "PUT",
        &format!("{BASE}/api/v1/PBX/settings/CallQueues/7/"),
        "application/json",
        json,
    );
    let req = sign(&signer(), req);
    assert_eq!(req.body(), json, "a JSON body is sent as it is");
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.body, json);
}

#[tokio::test]
async fn accepts_a_delete_whose_body_was_dropped() {
    let req = with_body(
        "DELETE",
        &format!("{BASE}/api/v1/PBX/settings/CallQueues/7/"),
        "application/x-www-form-urlencoded",
        "force=1",
    );
    let req = sign(&signer(), req);
    assert!(req.body().is_empty());
    assert!(!req.headers().contains_key("content-length"));
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert!(seen.body.is_empty());
}

#[tokio::test]
async fn accepts_the_object_form_of_sign_headers_and_a_python_jose_header() {
    let req = sign(
        &signer(),
        get(&format!("{BASE}/api/v1/PBX/CallHistory/?count=1")),
    );
    let hash = {
        let t = tower_authn_s2s::token::UnverifiedToken::parse(&token_of(&req)).unwrap();
        t.claims().unwrap().sign.hash
    };
    let payload = format!(
        r#"{{"iss":"CRM Connector","iat":{NOW},"exp":{},"sign":{{"alg":"sha256","headers":{{"0":"Host","1":"X-APP-ID"}},"hash":"{hash}"}}}}"#,
        NOW + 60
    );
    let mut req = req;
    set_token(
        &mut req,
        &forge(r#"{"alg":"HS256","typ":"JWT"}"#, &payload, SECRET),
    );
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
}

#[tokio::test]
async fn accepts_what_the_reference_client_sends() {
    // Mixed case, caller's order, an endpoint query merged with params, a custom header.
    let params = Array::new().with("start", "0").with("Count", "10").with(
        "filter",
        Array::new().with("Start", Array::new().with("from", " 02/06/2020 ")),
    );
    let call = PhpClientCall {
        method: "GET",
        endpoint: "api/v1/PBX/CallHistory/?fields=id,src",
        params: &params,
        body: &Array::new(),
        headers: &[("X-Trace", "abc")],
    };
    let php = signer().php_client_request(&call, NOW as i64).unwrap();
    assert_eq!(
        php.target,
        "/api/v1/PBX/CallHistory/?fields=id%2Csrc&start=0&Count=10&filter%5BStart%5D%5Bfrom%5D=+02%2F06%2F2020+"
    );
    let seen = send(verifier(), php.to_http("").unwrap()).await;
    assert_eq!(seen.status, 200, "{}", seen.text);

    // A JSON PUT: the caller's Content-Type is a signed custom header.
    let body = Array::new()
        .with("Enabled", true)
        .with("Paused", false)
        .with("Weight", 1.0)
        .with("Members", Value::from(vec!["101", "102"]));
    let call = PhpClientCall {
        method: "PUT",
        endpoint: "/api/v1/PBX/settings/CallQueues/7/",
        params: &Array::new(),
        body: &body,
        headers: &[("Content-Type", "application/json")],
    };
    let php = signer().php_client_request(&call, NOW as i64).unwrap();
    assert_eq!(
        php.body,
        r#"{"Enabled":true,"Paused":false,"Weight":1,"Members":["101","102"]}"#
    );
    assert_eq!(
        php.signature.claims().sign.headers,
        ["Content-Type", "Host", "X-APP-ID"]
    );
    let seen = send(verifier(), php.to_http("").unwrap()).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
}

#[tokio::test]
async fn accepts_a_percent_encoded_path_signed_decoded() {
    let call = PhpClientCall {
        method: "GET",
        endpoint: "/api/v1/Contacts/John Doe/",
        params: &Array::new(),
        body: &Array::new(),
        headers: &[],
    };
    let mut php = signer().php_client_request(&call, NOW as i64).unwrap();
    php.target = "/api/v1/Contacts/John%20Doe/".to_owned();
    let seen = send(verifier(), php.to_http("").unwrap()).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
}

#[tokio::test]
async fn issuer_check_can_be_turned_off() {
    let other = Signer::new(APP_ID, "Another Name", SECRET)
        .with_clock(tower_authn_core::clock::ManualClock::at_unix(NOW));
    let req = sign(&other, get(&format!("{BASE}/api/v1/Originate/")));
    assert_eq!(send(verifier(), req.clone()).await.status, 401);
    assert_eq!(send(verifier().check_issuer(false), req).await.status, 200);
}

// ---------------------------------------------------------------- rejected

async fn assert_rejected(req: Request<Bytes>, status: u16, reason: &str) {
    let seen = send(verifier(), req).await;
    assert_eq!(seen.status, status, "{}", seen.text);
    assert_eq!(
        seen.text,
        format!(r#"{{"type":"error","reason":"{reason}"}}"#)
    );
    assert_eq!(seen.headers["content-type"], "application/json");
    if status == 401 {
        assert_eq!(seen.headers["www-authenticate"], r#"Bearer realm="wms""#);
    }
}

fn signed_history() -> Request<Bytes> {
    sign(
        &signer(),
        get(&format!("{BASE}/api/v1/PBX/CallHistory/?count=10&start=0")),
    )
}

fn signed_originate() -> Request<Bytes> {
    sign(
        &signer(),
        with_body(
            "POST",
            &format!("{BASE}/api/v1/Originate/"),
            "application/x-www-form-urlencoded",
            "channel=Local%2F108%40users&exten=16144841500",
        ),
    )
}

fn with_uri(mut req: Request<Bytes>, uri: &str) -> Request<Bytes> {
    *req.uri_mut() = uri.parse().unwrap();
    req
}

#[tokio::test]
async fn rejects_a_changed_query_value() {
    let req = with_uri(
        signed_history(),
        "/api/v1/PBX/CallHistory/?count=1000&start=0",
    );
    assert_rejected(req, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn rejects_an_added_unsigned_parameter() {
    let req = with_uri(
        signed_history(),
        "/api/v1/PBX/CallHistory/?count=10&start=0&admin=1",
    );
    assert_rejected(req, 401, "invalid_credentials").await;
    // Also when PHP would silently let the later one win.
    let req = with_uri(
        signed_history(),
        "/api/v1/PBX/CallHistory/?count=99&count=10&start=0",
    );
    assert_rejected(req, 400, "malformed_credentials").await;
    let req = with_uri(
        signed_history(),
        "/api/v1/PBX/CallHistory/?Count=99&count=10&start=0",
    );
    assert_rejected(req, 400, "malformed_credentials").await;
}

#[tokio::test]
async fn rejects_a_changed_body() {
    let mut req = signed_originate();
    *req.body_mut() = Bytes::from_static(b"channel=Local%2F999%40users&exten=16144841500");
    assert_rejected(req, 401, "invalid_credentials").await;
    // And a body of another type slipped under a signed form request: the canonical form
    // does not cover it.
    let mut req = signed_originate();
    req.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    assert_rejected(req, 400, "malformed_credentials").await;
}

#[tokio::test]
async fn rejects_a_body_the_signature_cannot_cover() {
    let mut req = signed_history();
    *req.body_mut() = Bytes::from_static(b"admin=1");
    req.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    assert_rejected(req, 400, "malformed_credentials").await;
}

#[tokio::test]
async fn rejects_a_changed_host() {
    let mut req = with_uri(
        signed_history(),
        "/api/v1/PBX/CallHistory/?count=10&start=0",
    );
    req.headers_mut()
        .insert("host", HeaderValue::from_static("evil.example.com"));
    assert_rejected(req, 401, "invalid_credentials").await;
    // With an absolute-form target, a Host that is not its authority is refused outright.
    let mut req = signed_history();
    req.headers_mut()
        .insert("host", HeaderValue::from_static("evil.example.com"));
    assert_rejected(req, 400, "malformed_credentials").await;
}

#[tokio::test]
async fn rejects_a_changed_method_or_path() {
    let mut req = signed_history();
    *req.method_mut() = http::Method::DELETE;
    assert_rejected(req, 401, "invalid_credentials").await;
    let req = with_uri(
        signed_history(),
        "/api/v1/PBX/CallHistory/../Users/?count=10&start=0",
    );
    assert_rejected(req, 400, "malformed_credentials").await;
}

#[tokio::test]
async fn wrong_secret_and_unknown_app_look_the_same() {
    let wrong = Signer::new(APP_ID, APP_NAME, "not-the-secret")
        .with_clock(tower_authn_core::clock::ManualClock::at_unix(NOW));
    let a = send(
        verifier(),
        sign(&wrong, get(&format!("{BASE}/api/v1/Originate/"))),
    )
    .await;
    let stranger = Signer::new("who-am-i", APP_NAME, SECRET)
        .with_clock(tower_authn_core::clock::ManualClock::at_unix(NOW));
    let b = send(
        verifier(),
        sign(&stranger, get(&format!("{BASE}/api/v1/Originate/"))),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        (a.status, &a.headers, &a.text),
        (b.status, &b.headers, &b.text)
    );
    assert_eq!(a.text, r#"{"type":"error","reason":"invalid_credentials"}"#);
}

#[tokio::test]
async fn rejects_expired_and_future_tokens() {
    // Valid up to exp + leeway.
    assert_eq!(
        send(verifier_at(NOW + 300 + 60), signed_history())
            .await
            .status,
        200
    );
    let seen = send(verifier_at(NOW + 300 + 61), signed_history()).await;
    assert_eq!(
        (seen.status.as_u16(), seen.text.as_str()),
        (401, r#"{"type":"error","reason":"expired"}"#)
    );
    // Issued in the future beyond the leeway.
    assert_eq!(
        send(verifier_at(NOW - 60), signed_history()).await.status,
        200
    );
    let seen = send(verifier_at(NOW - 61), signed_history()).await;
    assert_eq!(seen.status, 401, "{}", seen.text);
    // A custom leeway.
    let v = verifier_at(NOW + 300 + 5).with_leeway(Duration::from_secs(0));
    assert_eq!(send(v, signed_history()).await.status, 401);
}

#[tokio::test]
async fn rejects_a_lifetime_over_the_maximum() {
    let long = signer().with_ttl(Duration::from_secs(3601));
    let req = sign(&long, get(&format!("{BASE}/api/v1/Originate/")));
    assert_eq!(send(verifier(), req.clone()).await.status, 401);
    let v = verifier().with_max_lifetime(Duration::from_secs(7200));
    assert_eq!(send(v, req).await.status, 200);
}

#[tokio::test]
async fn rejects_algorithms_other_than_hs256() {
    let req = signed_history();
    let token = token_of(&req);
    let payload = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    for header in [
        r#"{"typ":"JWT","alg":"none"}"#,
        r#"{"typ":"JWT","alg":"HS512"}"#,
        r#"{"typ":"JWT","alg":"RS256"}"#,
        r#"{"typ":"JWT"}"#,
    ] {
        // Even with a valid HMAC-SHA256 under the right secret.
        let mut req = req.clone();
        set_token(&mut req, &forge(header, &payload, SECRET));
        assert_rejected(req, 401, "invalid_credentials").await;
    }
    // alg none with an empty signature.
    let mut req = req.clone();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(&payload)
    );
    set_token(&mut req, &none);
    assert_rejected(req, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn rejects_sign_claims_that_do_not_cover_host_and_app_id() {
    let req = signed_history();
    let t = tower_authn_s2s::token::UnverifiedToken::parse(&token_of(&req)).unwrap();
    let mut claims = t.claims().unwrap();
    claims.sign.headers = vec!["Host".into()];
    let mut r = req.clone();
    set_token(&mut r, &claims.encode(&SECRET.to_owned().into()));
    assert_rejected(r, 401, "invalid_credentials").await;

    let mut claims = t.claims().unwrap();
    claims.sign.alg = "md5".into();
    let mut r = req.clone();
    set_token(&mut r, &claims.encode(&SECRET.to_owned().into()));
    assert_rejected(r, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn missing_duplicate_and_malformed_credentials() {
    assert_rejected(get("/api/v1/Originate/"), 401, "missing_credentials").await;

    let mut req = signed_history();
    req.headers_mut().remove("x-app-id");
    assert_rejected(req, 401, "missing_credentials").await;

    let mut req = signed_history();
    req.headers_mut()
        .insert("authorization", HeaderValue::from_static("Basic YTpi"));
    assert_rejected(req, 401, "missing_credentials").await;

    let mut req = signed_history();
    req.headers_mut()
        .append("x-app-id", HeaderValue::from_static("s2s-app-id-123"));
    assert_rejected(req, 400, "duplicate_credentials").await;

    let mut req = signed_history();
    set_token(&mut req, "not-a-jwt");
    assert_rejected(req, 400, "malformed_credentials").await;

    // The scheme name is case-insensitive.
    let mut req = signed_history();
    let lower = format!("bearer {}", token_of(&req));
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&lower).unwrap());
    assert_eq!(send(verifier(), req).await.status, 200);
}

#[tokio::test]
async fn over_the_body_limit_is_413() {
    let body = "x=".to_owned() + &"a".repeat(200);
    let req = sign(
        &signer(),
        with_body(
            "POST",
            &format!("{BASE}/api/v1/Originate/"),
            "application/x-www-form-urlencoded",
            &body,
        ),
    );
    let seen = send(verifier().with_body_limit(100), req.clone()).await;
    assert_eq!(seen.status, 413);
    assert_eq!(
        seen.text,
        r#"{"type":"error","reason":"payload_too_large"}"#
    );
    // Without a Content-Length, the limit holds while reading.
    let mut req = req;
    req.headers_mut().remove("content-length");
    assert_eq!(
        send(verifier().with_body_limit(100), req.clone())
            .await
            .status,
        413
    );
    assert_eq!(send(verifier().with_body_limit(202), req).await.status, 200);
}

#[derive(Debug)]
struct DownStore;

impl AppStore for DownStore {
    fn find_app<'a>(
        &'a self,
        _: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<Option<App>, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::new(
            "connection refused",
        ))))
    }
}

#[tokio::test]
async fn a_failing_store_is_503() {
    use http_body_util::{BodyExt, Full};
    use tower::{ServiceBuilder, ServiceExt};
    let svc = ServiceBuilder::new()
        .layer(SignatureVerifier::new(DownStore).layer())
        .service_fn(echo);
    let res = svc.oneshot(signed_history().map(Full::new)).await.unwrap();
    assert_eq!(res.status(), 503);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, r#"{"type":"error","reason":"unavailable"}"#);
}

#[test]
fn the_signer_refuses_what_cannot_verify() {
    let s = signer();
    let refuse = |req: Request<Bytes>| {
        let (mut parts, body) = req.into_parts();
        s.sign_parts(&mut parts, body).unwrap_err()
    };
    refuse(get(&format!("{BASE}/x/?Count=1&count=2")));
    refuse(get(&format!("{BASE}/x/?a=1&a=2")));
    refuse(get(&format!("{BASE}/x/?a.b=1")));
    refuse(with_body(
        "PUT",
        &format!("{BASE}/x/"),
        "application/json",
        r#"{"A":1,"a":2}"#,
    ));
    refuse(with_body(
        "PUT",
        &format!("{BASE}/x/"),
        "application/json",
        r#"{"a":{"B":1,"b":2}}"#,
    ));
    refuse(with_body(
        "PUT",
        &format!("{BASE}/x/"),
        "application/json",
        "[1,",
    ));
    refuse(
        Request::post(format!("{BASE}/x/"))
            .body(Bytes::from_static(b"a=1"))
            .unwrap(),
    );

    // Through the typed API: nulls and empty arrays are not sent by http_build_query.
    let input = |params: &Array| {
        s.sign(&tower_authn_s2s::SignInput {
            method: "GET",
            path: "/x/",
            host: HOST,
            headers: &[],
            params,
            body: &Array::new(),
        })
    };
    assert!(input(&Array::new().with("a", Value::Null)).is_err());
    assert!(input(&Array::new().with("a", Array::new().with("b", Array::new()))).is_err());
    assert!(input(&Array::new().with("a", "1")).is_ok());
}

#[test]
fn debug_output_never_shows_secrets() {
    let req = signed_history();
    let token = token_of(&req);
    let all = format!(
        "{:?} {:?} {:?} {:?} {:?}",
        signer(),
        verifier(),
        App::new(APP_NAME, SECRET),
        apps(),
        signer().layer(),
    );
    assert!(!all.contains(SECRET), "{all}");
    let sig = signer()
        .sign(&tower_authn_s2s::SignInput {
            method: "GET",
            path: "/",
            host: HOST,
            headers: &[],
            params: &Array::new(),
            body: &Array::new(),
        })
        .unwrap();
    let shown = format!("{sig:?}");
    assert!(!shown.contains(token.split('.').nth(2).unwrap()), "{shown}");
    assert!(req.headers()["authorization"].is_sensitive());
}

// ---------------------------------------------------------------- property

fn key() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,6}"
}

fn scalar() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

/// A random parameter map, up to three levels, keys unique regardless of case.
fn params() -> impl Strategy<Value = Array> {
    let leaf = scalar().prop_map(|s| Value::from(s.as_str()));
    let value = leaf.prop_recursive(2, 24, 4, |inner| {
        prop::collection::vec((key(), inner), 1..4)
            .prop_map(|entries| Value::Array(unique(entries)))
    });
    prop::collection::vec((key(), value), 0..8).prop_map(unique)
}

fn unique(entries: Vec<(String, Value)>) -> Array {
    let mut seen = std::collections::HashSet::new();
    let mut a = Array::new();
    for (k, v) in entries {
        if seen.insert(k.to_ascii_lowercase()) {
            a.insert(k.as_str(), v);
        }
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_signers_wire_form_verifies(query in params(), form in params(), post in any::<bool>()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let q = build_query(&query);
        let uri = if q.is_empty() { format!("{BASE}/api/v1/Calls/") } else { format!("{BASE}/api/v1/Calls/?{q}") };
        let req = if post {
            with_body("POST", &uri, "application/x-www-form-urlencoded", &build_query(&form))
        } else {
            get(&uri)
        };
        let req = sign(&signer(), req);
        let seen = rt.block_on(send(verifier(), req.clone()));
        prop_assert_eq!(seen.status, 200, "{} for {:?}", seen.text, req);
        if post {
            prop_assert_eq!(&seen.body, req.body());
        }
    }

    #[test]
    fn the_reference_clients_wire_form_verifies(query in params(), form in params()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let call = PhpClientCall {
            method: "POST",
            endpoint: "/api/v1/Calls/",
            params: &query,
            body: &form,
            headers: &[],
        };
        let php = signer().php_client_request(&call, NOW as i64).unwrap();
        let seen = rt.block_on(send(verifier(), php.to_http("").unwrap()));
        prop_assert_eq!(seen.status, 200, "{} for {:?}", seen.text, php);
    }
}
