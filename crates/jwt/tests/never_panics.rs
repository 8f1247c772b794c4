//! Property tests: no input, however odd, makes a parser or verifier panic, and no tampering
//! with a valid token is accepted.

use proptest::prelude::*;
use tower_authn_core::clock::ManualClock;
use tower_authn_jwt::{Algorithm, JwtIssuer, JwtVerifier, KeySet, SigningKey, VerifyingKey};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn verifier() -> JwtVerifier {
    JwtVerifier::new(KeySet::new().with_key(VerifyingKey::hmac(SECRET).unwrap()))
        .with_clock(ManualClock::at_unix(1_700_000_000))
}

fn token() -> String {
    JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .with_clock(ManualClock::at_unix(1_700_000_000))
        .issue_for_subject("alice")
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_is_refused_without_panic(s in "\\PC{0,300}") {
        prop_assert!(verifier().authenticate(&s).is_err());
    }

    #[test]
    fn token_shaped_text_is_refused_without_panic(s in "[A-Za-z0-9_=+/-]{0,60}\\.[A-Za-z0-9_=+/-]{0,60}\\.[A-Za-z0-9_=+/-]{0,60}") {
        prop_assert!(verifier().authenticate(&s).is_err());
    }

    #[test]
    fn tampered_tokens_are_refused(at in 0usize..200, with in "[A-Za-z0-9_.-]") {
        let good = token();
        let at = at % good.len();
        let mut bytes = good.clone().into_bytes();
        bytes[at] = with.as_bytes()[0];
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assume!(tampered != good);
        prop_assert!(verifier().authenticate(&tampered).is_err());
    }

    #[test]
    fn key_parsers_never_panic(s in "\\PC{0,200}") {
        let _ = VerifyingKey::from_jwk(&s);
        let _ = KeySet::from_jwks(&s);
        let _ = VerifyingKey::rsa_pem(&s);
        let _ = VerifyingKey::ec_pem(&s);
        let _ = VerifyingKey::ed_pem(&s);
        let _ = SigningKey::ec_pem(&s);
        let _ = SigningKey::ed_pem(&s);
    }

    #[test]
    fn jwk_shaped_json_never_panics(kty in "(RSA|EC|OKP|oct|x)", crv in "(P-256|P-384|Ed25519|X25519)", a in "[A-Za-z0-9_-]{0,90}", b in "[A-Za-z0-9_-]{0,90}") {
        let jwk = serde_json::json!({"kty": kty, "crv": crv, "n": a, "e": b, "x": a, "y": b, "k": a});
        let _ = VerifyingKey::from_jwk(&jwk.to_string());
    }
}
