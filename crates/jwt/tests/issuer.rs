//! The issuer: every algorithm family round-trips through the verifier; registered claims;
//! key checks (short HMAC secrets, small RSA keys, wrong families).

mod support;

use std::time::Duration;

use serde_json::Value;
use tower_authn_core::Principal;
use tower_authn_core::clock::ManualClock;
use tower_authn_jwt::{
    Algorithm, Claims, JwtIssuer, JwtVerifier, KeyFamily, KeySet, SigningKey, Validation,
    VerifyingKey,
};

use support::keys;

const NOW: u64 = 1_700_000_000;

fn claims_of(token: &str) -> serde_json::Map<String, Value> {
    let payload = token.split('.').nth(1).unwrap();
    let json =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    serde_json::from_slice(&json).unwrap()
}

fn header_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap()
}

fn signing_keys() -> Vec<SigningKey> {
    let google = support::google_rsa_pem();
    vec![
        SigningKey::hmac(Algorithm::HS256, [1u8; 32]).unwrap(),
        SigningKey::hmac(Algorithm::HS384, [2u8; 48]).unwrap(),
        SigningKey::hmac(Algorithm::HS512, [3u8; 64]).unwrap(),
        SigningKey::rsa_pem(Algorithm::RS256, &google).unwrap(),
        SigningKey::rsa_pem(Algorithm::RS384, keys::RSA2).unwrap(),
        SigningKey::rsa_pem(Algorithm::RS512, keys::RSA2).unwrap(),
        SigningKey::rsa_pem(Algorithm::PS256, &google).unwrap(),
        SigningKey::rsa_pem(Algorithm::PS512, keys::RSA2).unwrap(),
        SigningKey::ec_pem(keys::EC256).unwrap(),
        SigningKey::ec_pem(keys::EC384).unwrap(),
        SigningKey::ed_pem(keys::ED).unwrap(),
    ]
}

#[test]
fn every_family_round_trips() {
    let clock = ManualClock::at_unix(NOW);
    for (i, key) in signing_keys().into_iter().enumerate() {
        let key = key.with_kid(format!("k{i}"));
        let issuer = JwtIssuer::new(key.clone())
            .with_issuer("https://auth.example")
            .with_audiences(["api", "web"])
            .with_lifetime(Duration::from_secs(900))
            .with_clock(clock.clone());
        let principal = Principal::user("alice")
            .with_name("Alice")
            .with_email("a@example.com")
            .with_roles(["admin"])
            .with_scopes(["read", "write"]);
        let token = issuer.issue_for(&principal).unwrap();
        assert_eq!(
            header_of(&token),
            format!(
                r#"{{"alg":"{}","typ":"JWT","kid":"k{i}"}}"#,
                key.algorithm()
            ),
        );

        let claims = claims_of(&token);
        let names: Vec<&str> = claims.keys().map(String::as_str).collect();
        for name in [
            "iss", "aud", "iat", "exp", "jti", "sub", "name", "email", "roles", "scope",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 900);
        assert_eq!(claims["aud"], serde_json::json!(["api", "web"]));

        let verifier = JwtVerifier::new(KeySet::new().with_key(key.verifying_key().unwrap()))
            .with_validation(
                Validation::new()
                    .with_issuers(["https://auth.example"])
                    .with_audiences(["api"]),
            )
            .with_clock(clock.clone());
        let back = verifier
            .authenticate(&token)
            .unwrap_or_else(|e| panic!("{}: {e:?}", key.algorithm()));
        assert_eq!(back.id, "alice");
        assert_eq!(back.name.as_deref(), Some("Alice"));
        assert_eq!(back.roles, ["admin"]);
        assert_eq!(back.scopes, ["read", "write"]);
        assert_eq!(back.key_id, Some(format!("k{i}")));

        // Asymmetric keys publish a JWK that verifies too.
        if key.algorithm().family() != KeyFamily::Hmac {
            let jwks = serde_json::json!({"keys": [key.public_jwk().unwrap()]}).to_string();
            assert!(!jwks.contains("\"d\""), "no private part");
            let from_jwks = JwtVerifier::new(KeySet::from_jwks(&jwks).unwrap())
                .with_validation(Validation::new().accept_any_audience())
                .with_clock(clock.clone());
            assert!(
                from_jwks.authenticate(&token).is_ok(),
                "{}",
                key.algorithm()
            );
        } else {
            assert!(
                key.public_jwk().is_err(),
                "an HMAC secret is never published"
            );
        }
    }
}

#[test]
fn jti_is_random_and_registered_claims_win() {
    let clock = ManualClock::at_unix(NOW);
    let issuer = JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, [9u8; 32]).unwrap())
        .with_issuer("me")
        .with_clock(clock);
    let a = claims_of(&issuer.issue_for_subject("x").unwrap());
    let b = claims_of(&issuer.issue_for_subject("x").unwrap());
    assert_ne!(a["jti"], b["jti"]);
    assert_eq!(a["jti"].as_str().unwrap().len(), 22);
    let forged = issuer
        .issue(
            Claims::new()
                .with("sub", "x")
                .with("iss", "someone-else")
                .with("exp", 4_000_000_000u64)
                .with("tenant", "acme"),
        )
        .unwrap();
    let c = claims_of(&forged);
    assert_eq!(c["iss"], "me");
    assert_eq!(c["exp"], NOW + 3600);
    assert_eq!(c["tenant"], "acme");
    let bare = claims_of(&issuer.without_jti().issue_for_subject("x").unwrap());
    assert!(!bare.contains_key("jti"));
}

#[test]
fn sign_keeps_claims_exactly_in_order() {
    let issuer =
        JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, [9u8; 32]).unwrap()).with_type(None);
    let token = issuer
        .sign(&Claims::new().with("z", 1).with("a", "b").with("m", true))
        .unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let json =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    assert_eq!(json, br#"{"z":1,"a":"b","m":true}"#);
    assert_eq!(header_of(&token), r#"{"alg":"HS256"}"#);
}

#[test]
fn key_checks() {
    // HMAC secrets shorter than the hash are refused for issuing (RFC 7518 §3.2).
    assert!(SigningKey::hmac(Algorithm::HS256, [0u8; 31]).is_err());
    assert!(SigningKey::hmac(Algorithm::HS384, [0u8; 47]).is_err());
    assert!(SigningKey::hmac(Algorithm::HS512, [0u8; 63]).is_err());
    assert!(SigningKey::hmac_any_length(Algorithm::HS256, b"short").is_ok());
    assert!(SigningKey::hmac_any_length(Algorithm::HS256, b"").is_err());
    assert!(SigningKey::hmac(Algorithm::RS256, [0u8; 64]).is_err());
    assert!(VerifyingKey::hmac(b"").is_err());
    // RSA under 2048 bits, for signing and verifying.
    assert!(SigningKey::rsa_pem(Algorithm::RS256, keys::RSA1024).is_err());
    assert!(VerifyingKey::rsa_pem(keys::RSA1024_PUB).is_err());
    assert!(VerifyingKey::rsa_pem(keys::RSA2_PUB).is_ok());
    // Wrong families and formats.
    assert!(SigningKey::rsa_pem(Algorithm::ES256, keys::RSA2).is_err());
    assert!(SigningKey::ec_pem(keys::RSA2).is_err());
    assert!(SigningKey::ed_pem(keys::EC256).is_err());
    assert!(VerifyingKey::ec_pem(keys::ED_PUB).is_err());
    assert!(VerifyingKey::ed_pem(keys::EC256_PUB).is_err());
    assert!(VerifyingKey::rsa_pem("not a pem").is_err());
    assert_eq!(
        VerifyingKey::ec_pem(keys::EC384_PUB).unwrap().algorithms(),
        [Algorithm::ES384]
    );
    assert_eq!(
        VerifyingKey::ed_pem(keys::ED_PUB).unwrap().algorithms(),
        [Algorithm::EdDSA]
    );
}

#[test]
fn pem_public_keys_verify_issued_tokens() {
    let clock = ManualClock::at_unix(NOW);
    let pairs = [
        (
            SigningKey::ec_pem(keys::EC256).unwrap(),
            VerifyingKey::ec_pem(keys::EC256_PUB).unwrap(),
        ),
        (
            SigningKey::ec_pem(keys::EC384).unwrap(),
            VerifyingKey::ec_pem(keys::EC384_PUB).unwrap(),
        ),
        (
            SigningKey::ed_pem(keys::ED).unwrap(),
            VerifyingKey::ed_pem(keys::ED_PUB).unwrap(),
        ),
        (
            SigningKey::rsa_pem(Algorithm::RS256, keys::RSA2).unwrap(),
            VerifyingKey::rsa_pem(keys::RSA2_PUB).unwrap(),
        ),
    ];
    for (signing, verifying) in pairs {
        let token = JwtIssuer::new(signing)
            .with_clock(clock.clone())
            .issue_for_subject("s")
            .unwrap();
        let verifier =
            JwtVerifier::new(KeySet::new().with_key(verifying)).with_clock(clock.clone());
        assert_eq!(verifier.authenticate(&token).unwrap().id, "s");
    }
}
