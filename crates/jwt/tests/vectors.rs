//! The shared vectors: RFC 7515 A.1, RFC 7519's unsecured JWT, Google and Facebook (CCAI
//! and Opentact: `tower-authn-platforms`).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use secrecy::SecretString;
use serde_json::Value;
use tower_authn_core::clock::ManualClock;
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{CredentialLocation, ErrorKind, Verifier};
use tower_authn_jwt::{
    Algorithm, FetchError, JwtVerifier, KeySet, Validation, VerifyingKey, facebook, google,
};

use support::vector;

fn credential(token: &str) -> TokenCredential {
    TokenCredential::new(token, CredentialLocation::Query("jwt".into()))
}

#[test]
fn rfc7515_a1_verifies_over_the_received_bytes_with_an_injected_clock() {
    let v = vector("rfc")["rfc7515_a1_hs256"].clone();
    let jwk = v["jwk"].to_string();
    let token = v["token"].as_str().unwrap();
    let keys = KeySet::new().with_key(VerifyingKey::from_jwk(&jwk).unwrap());
    let exp = v["claims"]["exp"].as_u64().unwrap();

    let verifier = JwtVerifier::new(keys.clone())
        .with_mapping(tower_authn_jwt::ClaimsMapping::new().with_subject("iss"))
        .with_clock(ManualClock::at_unix(exp - 100));
    let verified = verifier.verify_token(token).unwrap();
    assert_eq!(Value::Object(verified.claims().clone()), v["claims"]);
    assert_eq!(verified.algorithm(), Algorithm::HS256);
    let principal = verifier.authenticate(token).unwrap();
    assert_eq!(principal.id, "joe");
    assert_eq!(
        principal.attributes["http://example.com/is_root"],
        Value::Bool(true)
    );

    // The same token today: expired, and said so.
    let now = JwtVerifier::new(keys.clone()).with_leeway_zero();
    assert_eq!(
        now.verify_token(token).unwrap_err().kind(),
        ErrorKind::Expired
    );

    // Re-encoding the header without its CR LF changes the signing input: refused.
    let parts: Vec<&str> = token.split('.').collect();
    let reencoded = format!(
        "{}.{}.{}",
        support::b64(r#"{"typ":"JWT","alg":"HS256"}"#),
        parts[1],
        parts[2]
    );
    let at_exp = JwtVerifier::new(keys).with_clock(ManualClock::at_unix(exp - 100));
    assert_eq!(
        at_exp.verify_token(&reencoded).unwrap_err().kind(),
        ErrorKind::InvalidCredentials
    );
}

/// A tiny extension so the test above reads plainly.
trait LeewayZero {
    fn with_leeway_zero(self) -> Self;
}

impl LeewayZero for JwtVerifier {
    fn with_leeway_zero(self) -> Self {
        self.with_validation(Validation::new().with_leeway(Duration::ZERO))
    }
}

#[test]
fn rfc7519_unsecured_jwt_is_refused() {
    let token = vector("rfc")["rfc7519_unsecured_must_reject"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwk = vector("rfc")["rfc7515_a1_hs256"]["jwk"].to_string();
    let verifier = JwtVerifier::new(KeySet::new().with_key(VerifyingKey::from_jwk(&jwk).unwrap()))
        .with_clock(ManualClock::at_unix(1_300_000_000));
    let e = verifier.verify_token(&token).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(e.detail(), "jwt: unsigned");
    // Even with a signature part glued on, `alg: none` stays refused.
    let e = verifier.verify_token(&format!("{token}c2ln")).unwrap_err();
    assert_eq!(e.detail(), "jwt: alg none");
}

#[test]
fn google_id_token_vector() {
    let v = vector("google-id-token");
    let keys = KeySet::from_jwks(&v["jwks"].to_string()).unwrap();
    let client_ids: Vec<String> = serde_json::from_value(v["accepted_client_ids"].clone()).unwrap();
    let at = v["verify_at"].as_u64().unwrap();
    let clock = ManualClock::at_unix(at);
    let verifier = google::verifier(keys, client_ids).with_clock(clock.clone());

    let principal = verifier.authenticate(v["token"].as_str().unwrap()).unwrap();
    assert_eq!(principal.id, "110169484474386276334");
    assert_eq!(principal.scheme, "google");
    assert_eq!(principal.email.as_deref(), Some("alice@example.com"));
    assert_eq!(
        principal.app_id.as_deref(),
        Some("1234567890-abcdef.apps.googleusercontent.com")
    );
    assert_eq!(principal.key_id.as_deref(), Some("test-kid-1"));

    let e = verifier
        .authenticate(v["token_wrong_aud"].as_str().unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(e.detail(), "jwt: aud not accepted");

    // exp 1700003600 + 60 s leeway + 1: expired.
    clock.set_unix(1_700_003_600 + 60 + 1);
    let e = verifier
        .authenticate(v["token"].as_str().unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Expired);
    clock.set_unix(1_700_003_600 + 59);
    assert!(verifier.authenticate(v["token"].as_str().unwrap()).is_ok());
}

#[test]
fn google_issuers_both_accepted_and_others_not() {
    let key = tower_authn_jwt::SigningKey::rsa_pem(Algorithm::RS256, support::google_rsa_pem())
        .unwrap()
        .with_kid("test-kid-1");
    let keys = KeySet::from_jwks(&support::google_jwks()).unwrap();
    let clock = ManualClock::at_unix(1_700_000_100);
    let verifier = google::verifier(keys, ["client-1"]).with_clock(clock.clone());
    for (iss, ok) in [
        ("https://accounts.google.com", true),
        ("accounts.google.com", true),
        ("https://evil.example", false),
    ] {
        let issuer = tower_authn_jwt::JwtIssuer::new(key.clone())
            .with_issuer(iss)
            .with_audiences(["client-1"])
            .with_clock(clock.clone());
        let token = issuer.issue_for_subject("123").unwrap();
        assert_eq!(verifier.authenticate(&token).is_ok(), ok, "{iss}");
    }
}

#[tokio::test]
async fn facebook_debug_token_vector() {
    let v = vector("facebook-debug-token");
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let answer = Arc::new(Mutex::new(v["mock_ok"].to_string()));
    let (seen2, answer2) = (Arc::clone(&seen), Arc::clone(&answer));
    let fetcher = move |req: http::Request<Bytes>| {
        seen2.lock().unwrap().push(req.uri().to_string());
        let body = answer2.lock().unwrap().clone();
        async move { Ok::<_, FetchError>(http::Response::new(Bytes::from(body))) }
    };
    let graph = facebook::FacebookDebugToken::new(
        v["app_id"].as_str().unwrap(),
        SecretString::from(v["app_secret"].as_str().unwrap()),
        fetcher,
    )
    .with_graph_version(v["graph_version"].as_str().unwrap());
    let clock = ManualClock::at_unix(v["verify_at"].as_u64().unwrap());
    let verifier = facebook::verifier(graph).with_clock(clock.clone());
    let token = v["input_token"].as_str().unwrap();

    let principal = verifier.verify(credential(token)).await.unwrap();
    assert_eq!(principal.id, "10158000000000001");
    assert_eq!(principal.scheme, "facebook");
    assert_eq!(principal.scopes, ["email", "public_profile"]);
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [v["expected_request_url"].as_str().unwrap()]
    );

    // mock_invalid: is_valid false.
    *answer.lock().unwrap() = v["mock_invalid"].to_string();
    verifier.clear();
    let e = verifier.verify(credential(token)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials);

    // Another app's token, a page token, an expired one: refused.
    let mut other_app = v["mock_ok"].clone();
    other_app["data"]["app_id"] = "999".into();
    let mut page = v["mock_ok"].clone();
    page["data"]["type"] = "PAGE".into();
    let mut no_expiry = v["mock_ok"].clone();
    no_expiry["data"]["expires_at"] = 0.into();
    for bad in [other_app, page, no_expiry] {
        *answer.lock().unwrap() = bad.to_string();
        verifier.clear();
        assert_eq!(
            verifier.verify(credential(token)).await.unwrap_err().kind(),
            ErrorKind::InvalidCredentials,
            "{bad}"
        );
    }
    *answer.lock().unwrap() = v["mock_ok"].to_string();
    verifier.clear();
    clock.set_unix(1_705_000_000);
    assert_eq!(
        verifier.verify(credential(token)).await.unwrap_err().kind(),
        ErrorKind::Expired
    );
}

#[tokio::test]
async fn facebook_graph_failures_fail_closed() {
    let status = Arc::new(Mutex::new(500u16));
    let s = Arc::clone(&status);
    let fetcher = move |_req: http::Request<Bytes>| {
        let code = *s.lock().unwrap();
        async move {
            let mut r = http::Response::new(Bytes::from_static(br#"{"error":{"code":190}}"#));
            *r.status_mut() = http::StatusCode::from_u16(code).unwrap();
            Ok::<_, FetchError>(r)
        }
    };
    let clock = ManualClock::at_unix(1_700_000_000);
    let verifier = facebook::verifier(facebook::FacebookDebugToken::new(
        "1",
        SecretString::from("s"),
        fetcher,
    ))
    .with_clock(clock.clone());
    assert_eq!(
        verifier.verify(credential("t")).await.unwrap_err().status(),
        503
    );
    *status.lock().unwrap() = 400;
    // The 500 opened the circuit: the next call goes out once its back-off is over.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        verifier.verify(credential("t")).await.unwrap_err().status(),
        401
    );

    let down = |_req: http::Request<Bytes>| async {
        Err::<http::Response<Bytes>, _>(FetchError::new("down"))
    };
    let verifier = facebook::verifier(facebook::FacebookDebugToken::new(
        "1",
        SecretString::from("s"),
        down,
    ));
    assert_eq!(
        verifier.verify(credential("t")).await.unwrap_err().status(),
        503
    );
}
