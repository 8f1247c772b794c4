//! Prepared keys (issue 14): every algorithm checked with state built once per key (a keyed
//! HMAC, parsed RSA / EC / Ed25519 public keys) accepts exactly what jsonwebtoken's own
//! verification accepts, and refuses every altered signature: flipped, truncated, extended,
//! another key's, longer than any key checks.

mod support;

use jsonwebtoken::{Algorithm as J, EncodingKey};
use serde_json::json;
use tower_authn_core::ErrorKind;
use tower_authn_core::clock::ManualClock;
use tower_authn_jwt::{
    Algorithm, ClaimsMapping, Hs256Jws, JwtVerifier, KeySet, Validation, VerifyingKey,
};

use support::{b64, forge, keys};

const NOW: u64 = 1_700_000_000;
const CLAIMS: &str = r#"{"sub":"alice","iat":1700000000,"exp":1700000600}"#;
const NO_KEY: &str = "jwt: no key verifies the signature with this alg";

/// One algorithm: how to sign (jsonwebtoken, independently of this crate) and the
/// verification key (PEM constructors, as a deployment writes them).
struct Case {
    alg: Algorithm,
    signing: EncodingKey,
    verifying: VerifyingKey,
    /// Another key of the family, where the tests have one.
    other: Option<EncodingKey>,
}

fn j(alg: Algorithm) -> J {
    alg.as_str().parse().unwrap()
}

fn cases() -> Vec<Case> {
    let hmac = |alg| Case {
        alg,
        signing: EncodingKey::from_secret(b"a secret of any length"),
        verifying: VerifyingKey::hmac(b"a secret of any length")
            .unwrap()
            .with_algorithms([alg])
            .unwrap(),
        other: Some(EncodingKey::from_secret(b"a secret of any length!")),
    };
    let rsa = |alg| Case {
        alg,
        signing: EncodingKey::from_rsa_pem(keys::RSA2.as_bytes()).unwrap(),
        verifying: VerifyingKey::rsa_pem(keys::RSA2_PUB)
            .unwrap()
            .with_algorithms([alg])
            .unwrap(),
        other: Some(EncodingKey::from_rsa_pem(support::google_rsa_pem().as_bytes()).unwrap()),
    };
    vec![
        hmac(Algorithm::HS256),
        hmac(Algorithm::HS384),
        hmac(Algorithm::HS512),
        rsa(Algorithm::RS256),
        rsa(Algorithm::RS384),
        rsa(Algorithm::RS512),
        rsa(Algorithm::PS256),
        rsa(Algorithm::PS384),
        rsa(Algorithm::PS512),
        Case {
            alg: Algorithm::ES256,
            signing: EncodingKey::from_ec_pem(keys::EC256.as_bytes()).unwrap(),
            verifying: VerifyingKey::ec_pem(keys::EC256_PUB).unwrap(),
            other: None,
        },
        Case {
            alg: Algorithm::ES384,
            signing: EncodingKey::from_ec_pem(keys::EC384.as_bytes()).unwrap(),
            verifying: VerifyingKey::ec_pem(keys::EC384_PUB).unwrap(),
            other: None,
        },
        Case {
            alg: Algorithm::EdDSA,
            signing: EncodingKey::from_ed_pem(keys::ED.as_bytes()).unwrap(),
            verifying: VerifyingKey::ed_pem(keys::ED_PUB).unwrap(),
            other: None,
        },
    ]
}

fn verifier(key: &VerifyingKey) -> JwtVerifier {
    JwtVerifier::new(KeySet::new().with_key(key.clone())).with_clock(ManualClock::at_unix(NOW))
}

fn header(alg: Algorithm) -> String {
    format!(r#"{{"alg":"{alg}"}}"#)
}

fn decode(text: &str) -> Vec<u8> {
    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text).unwrap()
}

/// The token with its signature replaced by `signature` (re-encoded).
fn with_signature(token: &str, signature: &[u8]) -> String {
    let input = &token[..token.rfind('.').unwrap()];
    format!("{input}.{}", b64(signature))
}

#[track_caller]
fn refused(verifier: &JwtVerifier, token: &str, why: &str) {
    let e = verifier.verify_token(token).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials, "{token}: {e:?}");
    assert_eq!(e.detail(), why, "{token}");
}

#[test]
fn every_algorithm_accepts_what_jsonwebtoken_signed() {
    for case in cases() {
        let token = forge(&header(case.alg), CLAIMS, &case.signing, j(case.alg));
        let verified = verifier(&case.verifying)
            .verify_token(&token)
            .unwrap_or_else(|e| panic!("{}: {e:?}", case.alg));
        assert_eq!(verified.algorithm(), case.alg);
        assert_eq!(verified.claims()["sub"], "alice");
    }
}

#[test]
fn every_altered_signature_is_refused() {
    for case in cases() {
        let v = verifier(&case.verifying);
        let token = forge(&header(case.alg), CLAIMS, &case.signing, j(case.alg));
        let good = decode(&token[token.rfind('.').unwrap() + 1..]);
        let n = good.len();
        let mut altered: Vec<Vec<u8>> = Vec::new();
        for at in [0, n / 2, n - 1] {
            for bit in [0x01, 0x80] {
                let mut s = good.clone();
                s[at] ^= bit;
                altered.push(s);
            }
        }
        altered.push(good[..n - 1].to_vec());
        altered.push(good[..n / 2].to_vec());
        altered.push(good[..1].to_vec());
        altered.push(good[1..].to_vec());
        altered.push([good.as_slice(), &[0]].concat());
        altered.push([good.as_slice(), good.as_slice()].concat());
        altered.push(vec![0; n]);
        altered.push(vec![0xff; n]);
        for signature in altered {
            refused(&v, &with_signature(&token, &signature), NO_KEY);
        }
        // The same claims signed by another key.
        if let Some(other) = &case.other {
            refused(
                &v,
                &forge(&header(case.alg), CLAIMS, other, j(case.alg)),
                NO_KEY,
            );
        }
        // The key's own signature over another header does not carry over.
        let moved = forge(
            &format!(r#"{{"alg":"{}","typ":"JWT"}}"#, case.alg),
            CLAIMS,
            &case.signing,
            j(case.alg),
        );
        let spliced = format!(
            "{}.{}",
            &token[..token.rfind('.').unwrap()],
            &moved[moved.rfind('.').unwrap() + 1..]
        );
        refused(&v, &spliced, NO_KEY);
    }
}

#[test]
fn a_signature_longer_than_any_key_checks_is_refused() {
    for case in cases() {
        let v = verifier(&case.verifying);
        let token = forge(&header(case.alg), CLAIMS, &case.signing, j(case.alg));
        for len in [511, 512, 513, 600, 4000] {
            refused(&v, &with_signature(&token, &vec![7; len]), NO_KEY);
        }
    }
}

#[test]
fn hmac_secrets_of_every_length_match_jsonwebtoken() {
    // Shorter than, equal to and longer than the hash's block (64 bytes, 128 for SHA-384/512:
    // a longer key is hashed first).
    for len in [1, 31, 32, 64, 65, 128, 129, 300] {
        let secret = vec![0x5a; len];
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let key = VerifyingKey::hmac(&secret)
                .unwrap()
                .with_algorithms([alg])
                .unwrap();
            let token = forge(
                &header(alg),
                CLAIMS,
                &EncodingKey::from_secret(&secret),
                j(alg),
            );
            assert!(verifier(&key).authenticate(&token).is_ok(), "{alg} {len}");
            let mut wrong = secret.clone();
            wrong[len - 1] ^= 1;
            let forged = forge(
                &header(alg),
                CLAIMS,
                &EncodingKey::from_secret(&wrong),
                j(alg),
            );
            refused(&verifier(&key), &forged, NO_KEY);
        }
    }
}

#[test]
fn a_prepared_key_is_shared_by_its_clones_and_keeps_its_rules() {
    let key = VerifyingKey::hmac(b"k").unwrap();
    let widened = key
        .clone()
        .with_kid("a")
        .with_algorithms([Algorithm::HS512])
        .unwrap();
    let hs256 = forge(
        &header(Algorithm::HS256),
        CLAIMS,
        &EncodingKey::from_secret(b"k"),
        J::HS256,
    );
    let hs512 = forge(
        &header(Algorithm::HS512),
        CLAIMS,
        &EncodingKey::from_secret(b"k"),
        J::HS512,
    );
    assert!(verifier(&key).authenticate(&hs256).is_ok());
    refused(&verifier(&key), &hs512, NO_KEY);
    assert!(verifier(&widened).authenticate(&hs512).is_ok());
    refused(&verifier(&widened), &hs256, NO_KEY);
    // Key parsing refusals are unchanged.
    assert!(VerifyingKey::rsa_pem(keys::RSA1024_PUB).is_err());
    assert!(VerifyingKey::ec_pem(keys::RSA2_PUB).is_err());
    assert!(VerifyingKey::ed_pem(keys::EC256_PUB).is_err());
    assert!(
        VerifyingKey::ec_pem(keys::EC384_PUB)
            .unwrap()
            .with_algorithms([Algorithm::ES256])
            .is_err()
    );
    assert!(VerifyingKey::hmac(b"").is_err());
}

#[test]
fn hs256_jws_refuses_truncated_and_extended_tags() {
    let secret = b"secret";
    let token = forge(
        r#"{"alg":"HS256"}"#,
        r#"{"a":1}"#,
        &EncodingKey::from_secret(secret),
        J::HS256,
    );
    let good = decode(&token[token.rfind('.').unwrap() + 1..]);
    assert!(Hs256Jws::parse(&token).unwrap().verify(secret).is_some());
    for signature in [
        good[..31].to_vec(),
        good[..16].to_vec(),
        [good.as_slice(), &[0]].concat(),
        vec![0; 32],
    ] {
        let jws = Hs256Jws::parse(&with_signature(&token, &signature)).unwrap();
        assert!(jws.verify(secret).is_none());
    }
}

#[test]
fn the_header_is_there_when_asked_for() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let token = forge(
        r#"{"alg":"HS256","typ":"JWT","kid":"k\u0031","x5t":{"a":[1,2]}}"#,
        CLAIMS,
        &EncodingKey::from_secret(secret),
        J::HS256,
    );
    let key = VerifyingKey::hmac(secret).unwrap().with_kid("k1");
    let verified = verifier(&key).verify_token(&token).unwrap();
    assert_eq!(verified.kid(), Some("k1"));
    let expected = json!({"alg": "HS256", "typ": "JWT", "kid": "k1", "x5t": {"a": [1, 2]}});
    assert_eq!(verified.header(), expected.as_object().unwrap());
    assert_eq!(
        verified.header(),
        expected.as_object().unwrap(),
        "asked twice"
    );
    let clone = verified.clone();
    assert_eq!(clone.header(), verified.header());
    assert!(format!("{verified:?}").contains("x5t"));
}

#[test]
fn the_owning_mapping_matches_the_borrowing_one() {
    let claims = json!({
        "sub": 42, "name": "Alice", "email": "a@example.com", "roles": ["admin"],
        "scope": "read write", "scp": ["x"], "exp": 1_700_000_600u64, "azp": "app",
        "https://example.com/roles": "ops",
        "n1": 1, "n2": 2, "n3": 3, "n4": 4, "n5": 5, "n6": 6, "n7": 7, "n8": 8,
    });
    let claims = claims.as_object().unwrap();
    let few: serde_json::Map<_, _> = claims
        .iter()
        .filter(|(k, _)| !k.starts_with('n'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // More than 16 claims, and fewer: the index and the map lookups agree.
    for claims in [claims, &few] {
        let mapping = ClaimsMapping::new()
            .with_app_id("azp")
            .with_roles(["roles", "https://example.com/roles"]);
        let by_ref = mapping.principal(claims).unwrap();
        let owned = mapping.principal_from_claims(claims.clone()).unwrap();
        assert_eq!(*by_ref, *owned);
        assert_eq!(owned.id, "42");
        assert_eq!(owned.roles, ["admin", "ops"]);
        assert_eq!(owned.scopes, ["read", "write", "x"]);
        assert_eq!(owned.app_id.as_deref(), Some("app"));
        assert_eq!(&owned.attributes, claims);
    }
}

#[test]
fn the_verifier_moves_the_claims_verbatim_into_the_principal() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let claims = r#"{"sub":"alice","exp":1700000600,"nested":{"b":[1,{"c":null}]},"f":1.5}"#;
    let token = forge(
        r#"{"alg":"HS256","kid":"k1"}"#,
        claims,
        &EncodingKey::from_secret(secret),
        J::HS256,
    );
    let key = VerifyingKey::hmac(secret).unwrap().with_kid("k1");
    let v = verifier(&key).with_validation(Validation::new());
    let principal = v.authenticate(&token).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(claims).unwrap();
    assert_eq!(principal.attributes, expected);
    assert_eq!(principal.key_id.as_deref(), Some("k1"));
    assert_eq!(principal.scheme, "jwt");
    let via_verified = v.principal(v.verify_token(&token).unwrap()).unwrap();
    assert_eq!(*via_verified, *principal);
}

#[test]
fn a_mapping_reading_many_claims_and_a_remembered_header_answer_alike() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let key = VerifyingKey::hmac(secret).unwrap().with_kid("k1");
    // 5 registered claims + 17 of the mapping's: more than are picked (16), so the map serves.
    let roles: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
    let many = ClaimsMapping::new()
        .with_subject("uuid")
        .with_roles(roles.iter().map(String::as_str));
    let few = ClaimsMapping::new().with_roles(["r3"]);
    let claims =
        r#"{"uuid":"u1","sub":"s1","exp":1700000600,"r3":["ops"],"r11":"admin","name":"N"}"#;
    let token = forge(
        r#"{"alg":"HS256","kid":"k1"}"#,
        claims,
        &EncodingKey::from_secret(secret),
        J::HS256,
    );
    for (mapping, id, roles) in [(many, "u1", vec!["ops", "admin"]), (few, "s1", vec!["ops"])] {
        let v = verifier(&key)
            .with_validation(Validation::new())
            .with_mapping(mapping);
        // Twice: the second token's header is recognised from the first, not parsed.
        for _ in 0..2 {
            let principal = v.authenticate(&token).unwrap();
            assert_eq!(principal.id, id);
            assert_eq!(principal.roles, roles);
            assert_eq!(principal.name.as_deref(), Some("N"));
            let via_verified = v.principal(v.verify_token(&token).unwrap()).unwrap();
            assert_eq!(*via_verified, *principal);
            assert_eq!(principal.attributes, via_verified.attributes);
        }
        // A header the verifier has seen, on a token it did not sign, is still refused.
        let forged = forge(
            r#"{"alg":"HS256","kid":"k1"}"#,
            claims,
            &EncodingKey::from_secret(b"another secret of thirty-two b.."),
            J::HS256,
        );
        assert!(v.authenticate(&forged).is_err());
    }
}
