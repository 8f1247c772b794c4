//! A negative test for every rule: `alg: none`, algorithm confusion, `kid` abuse, embedded
//! keys, `crit`, time claims, structure, size. Every refusal is a 401 `invalid_credentials`
//! except expiry (`expired`) and a missing key set (503).

mod support;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use jsonwebtoken::{Algorithm as J, EncodingKey};
use tower_authn_core::ErrorKind;
use tower_authn_core::clock::ManualClock;
use tower_authn_jwt::{
    Algorithm, FetchError, JwtIssuer, JwtVerifier, KeySet, RemoteJwks, SigningKey, Validation,
    VerifyingKey,
};

use support::{b64, forge, forge_hs256, keys};

const NOW: u64 = 1_700_000_000;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const CLAIMS: &str = r#"{"sub":"alice","iat":1700000000,"exp":1700000600}"#;

fn hmac_verifier() -> JwtVerifier {
    let key = VerifyingKey::hmac(SECRET).unwrap().with_kid("h1");
    JwtVerifier::new(KeySet::new().with_key(key)).with_clock(ManualClock::at_unix(NOW))
}

fn rsa_verifier() -> JwtVerifier {
    JwtVerifier::new(KeySet::from_jwks(&support::google_jwks()).unwrap())
        .with_clock(ManualClock::at_unix(NOW))
}

fn rsa_signing() -> EncodingKey {
    EncodingKey::from_rsa_pem(support::google_rsa_pem().as_bytes()).unwrap()
}

#[track_caller]
fn refused(verifier: &JwtVerifier, token: &str, why: &str) {
    let e = verifier.verify_token(token).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials, "{token}: {e:?}");
    assert_eq!(e.detail(), why, "{token}");
}

#[test]
fn the_baseline_tokens_are_accepted() {
    let h = forge_hs256(r#"{"alg":"HS256","kid":"h1"}"#, CLAIMS, SECRET);
    assert_eq!(hmac_verifier().authenticate(&h).unwrap().id, "alice");
    let r = forge(
        r#"{"alg":"RS256","kid":"test-kid-1"}"#,
        CLAIMS,
        &rsa_signing(),
        J::RS256,
    );
    assert_eq!(rsa_verifier().authenticate(&r).unwrap().id, "alice");
}

#[test]
fn alg_none_never() {
    let v = hmac_verifier();
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"None","kid":"h1"}"#,
        r#"{"alg":"nOnE"}"#,
    ] {
        let unsigned = format!("{}.{}.", b64(header), b64(CLAIMS));
        refused(&v, &unsigned, "jwt: unsigned");
        let with_mac = forge_hs256(header, CLAIMS, SECRET);
        refused(&v, &with_mac, "jwt: alg none");
    }
    for header in [r#"{"typ":"JWT"}"#, r#"{"alg":null}"#, r#"{"alg":""}"#] {
        let t = forge_hs256(header, CLAIMS, SECRET);
        assert_eq!(
            v.verify_token(&t).unwrap_err().kind(),
            ErrorKind::InvalidCredentials,
            "{header}"
        );
    }
    assert!("none".parse::<Algorithm>().is_err());
}

#[test]
fn hmac_token_checked_with_an_rsa_public_key_is_impossible() {
    let v = rsa_verifier();
    let jwks = support::vector("google-id-token")["jwks"].clone();
    let jwk = &jwks["keys"][0];
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        jwk["n"].as_str().unwrap(),
    )
    .unwrap();
    // The classic confusion: the public key, in every form an attacker might guess, as the MAC key.
    let public_pem = SigningKey::rsa_pem(Algorithm::RS256, support::google_rsa_pem())
        .unwrap()
        .public_jwk()
        .unwrap();
    let candidates: Vec<Vec<u8>> = vec![
        n,
        jwk.to_string().into_bytes(),
        jwks.to_string().into_bytes(),
        public_pem.to_string().into_bytes(),
    ];
    for secret in candidates {
        for header in [
            r#"{"alg":"HS256","kid":"test-kid-1"}"#,
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS512"}"#,
        ] {
            let t = forge_hs256(header, CLAIMS, &secret);
            refused(&v, &t, "jwt: no key verifies the signature with this alg");
        }
    }
    // The key type fixes the family: an RSA key cannot be told to accept HS256.
    let rsa = KeySet::from_jwks(&support::google_jwks())
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .clone();
    assert!(rsa.clone().with_algorithms([Algorithm::HS256]).is_err());
    assert!(rsa.clone().with_algorithms([Algorithm::ES256]).is_err());
    assert!(!rsa.allows(Algorithm::HS256));
    // And an HMAC key cannot accept RS256.
    assert!(
        VerifyingKey::hmac(SECRET)
            .unwrap()
            .with_algorithms([Algorithm::RS256])
            .is_err()
    );
}

#[test]
fn an_hmac_key_is_hs256_unless_told_otherwise() {
    // A secret shared for HS256 is not silently good for HS384 / HS512 too.
    let v = JwtVerifier::hs256(SECRET)
        .unwrap()
        .with_clock(ManualClock::at_unix(NOW));
    let h256 = forge_hs256(r#"{"alg":"HS256"}"#, CLAIMS, SECRET);
    assert_eq!(v.authenticate(&h256).unwrap().id, "alice");
    let secret = EncodingKey::from_secret(SECRET);
    for alg in [J::HS384, J::HS512] {
        let header = format!(r#"{{"alg":"{alg:?}"}}"#);
        let t = forge(&header, CLAIMS, &secret, alg);
        refused(&v, &t, "jwt: no key verifies the signature with this alg");
    }
    // Widened on purpose, HS512 is accepted and HS384 still refused.
    let key = VerifyingKey::hmac(SECRET)
        .unwrap()
        .with_algorithms([Algorithm::HS256, Algorithm::HS512])
        .unwrap();
    let wide = JwtVerifier::new(KeySet::new().with_key(key)).with_clock(ManualClock::at_unix(NOW));
    let h512 = forge(r#"{"alg":"HS512"}"#, CLAIMS, &secret, J::HS512);
    assert_eq!(wide.authenticate(&h512).unwrap().id, "alice");
    let h384 = forge(r#"{"alg":"HS384"}"#, CLAIMS, &secret, J::HS384);
    refused(
        &wide,
        &h384,
        "jwt: no key verifies the signature with this alg",
    );
    // A JWK's `alg` says which one; without it, HS256.
    let k = b64(SECRET);
    let jwk = format!(r#"{{"kty":"oct","k":"{k}","alg":"HS512"}}"#);
    assert_eq!(
        VerifyingKey::from_jwk(&jwk).unwrap().algorithms(),
        [Algorithm::HS512]
    );
    let jwk = format!(r#"{{"kty":"oct","k":"{k}"}}"#);
    assert_eq!(
        VerifyingKey::from_jwk(&jwk).unwrap().algorithms(),
        [Algorithm::HS256]
    );
    assert!(JwtVerifier::hs256(b"").is_err());
}

#[test]
fn per_key_and_verifier_algorithm_allow_lists() {
    // The JWK says RS256: an RS512 or PS256 signature by the same private key is refused.
    let v = rsa_verifier();
    for alg in [J::RS512, J::PS256] {
        let header = format!(r#"{{"alg":"{alg:?}","kid":"test-kid-1"}}"#);
        refused(
            &v,
            &forge(&header, CLAIMS, &rsa_signing(), alg),
            "jwt: no key verifies the signature with this alg",
        );
    }
    // A key allowing several, narrowed by the verifier.
    let key = SigningKey::rsa_pem(Algorithm::PS256, support::google_rsa_pem()).unwrap();
    let wide = key
        .verifying_key()
        .unwrap()
        .with_algorithms([Algorithm::RS256, Algorithm::PS256])
        .unwrap();
    let token = JwtIssuer::new(key)
        .with_clock(ManualClock::at_unix(NOW))
        .issue_for_subject("a")
        .unwrap();
    let open = JwtVerifier::new(KeySet::new().with_key(wide)).with_clock(ManualClock::at_unix(NOW));
    assert!(open.verify_token(&token).is_ok());
    let narrow = open.with_validation(Validation::new().with_algorithms([Algorithm::RS256]));
    refused(&narrow, &token, "jwt: alg not allowed");
    // EC keys: the curve fixes the algorithm.
    let p256 = VerifyingKey::ec_pem(keys::EC256_PUB).unwrap();
    assert_eq!(p256.algorithms(), [Algorithm::ES256]);
    assert!(p256.with_algorithms([Algorithm::ES384]).is_err());
}

#[test]
fn kid_only_selects_among_known_keys() {
    let v = hmac_verifier();
    let cases = [
        (r#"{"alg":"HS256","kid":"nope"}"#, "jwt: unknown kid"),
        (
            r#"{"alg":"HS256","kid":"../../../../../../dev/null"}"#,
            "jwt: unknown kid",
        ),
        (r#"{"alg":"HS256","kid":"' OR '1'='1"}"#, "jwt: unknown kid"),
        (r#"{"alg":"HS256","kid":""}"#, "jwt: unknown kid"),
        (
            r#"{"alg":"HS256","kid":["h1"]}"#,
            "jwt: kid not a short string",
        ),
        (
            r#"{"alg":"HS256","kid":{"$ne":null}}"#,
            "jwt: kid not a short string",
        ),
    ];
    for (header, why) in cases {
        // Signed with the right secret, and with an empty one (the /dev/null trick): both refused.
        refused(&v, &forge_hs256(header, CLAIMS, SECRET), why);
        refused(&v, &forge_hs256(header, CLAIMS, b""), why);
    }
    let long = format!(r#"{{"alg":"HS256","kid":"{}"}}"#, "x".repeat(1000));
    refused(
        &v,
        &forge_hs256(&long, CLAIMS, SECRET),
        "jwt: kid not a short string",
    );

    // A kid names one key: a token signed by another key of the set is not tried against it.
    let other = b"another secret, also 32 bytes long";
    let two = JwtVerifier::new(
        KeySet::new()
            .with_key(VerifyingKey::hmac(SECRET).unwrap().with_kid("h1"))
            .with_key(VerifyingKey::hmac(other).unwrap().with_kid("h2")),
    )
    .with_clock(ManualClock::at_unix(NOW));
    refused(
        &two,
        &forge_hs256(r#"{"alg":"HS256","kid":"h1"}"#, CLAIMS, other),
        "jwt: no key verifies the signature with this alg",
    );
    assert!(
        two.verify_token(&forge_hs256(r#"{"alg":"HS256","kid":"h2"}"#, CLAIMS, other))
            .is_ok()
    );

    // A kid naming the RSA key on an HS256 token: the family still decides.
    let mixed = JwtVerifier::new(
        KeySet::from_jwks(&support::google_jwks())
            .unwrap()
            .with_key(VerifyingKey::hmac(SECRET).unwrap().with_kid("h1")),
    )
    .with_clock(ManualClock::at_unix(NOW));
    refused(
        &mixed,
        &forge_hs256(r#"{"alg":"HS256","kid":"test-kid-1"}"#, CLAIMS, SECRET),
        "jwt: no key verifies the signature with this alg",
    );
}

#[test]
fn embedded_keys_and_key_urls_are_never_trusted_nor_fetched() {
    // The attacker's own RSA key, announced in the token itself.
    let attacker = SigningKey::rsa_pem(Algorithm::RS256, keys::RSA2).unwrap();
    let attacker_jwk = attacker.public_jwk().unwrap();
    let attacker_enc = EncodingKey::from_rsa_pem(keys::RSA2.as_bytes()).unwrap();
    let headers = [
        format!(r#"{{"alg":"RS256","jwk":{attacker_jwk}}}"#),
        format!(r#"{{"alg":"RS256","kid":"test-kid-1","jwk":{attacker_jwk}}}"#),
        r#"{"alg":"RS256","jku":"http://127.0.0.1:9/jwks.json"}"#.to_owned(),
        r#"{"alg":"RS256","kid":"evil","jku":"http://127.0.0.1:9/jwks.json"}"#.to_owned(),
        r#"{"alg":"RS256","x5u":"http://127.0.0.1:9/cert.pem"}"#.to_owned(),
        r#"{"alg":"RS256","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}"#.to_owned(),
    ];
    let v = rsa_verifier();
    for header in &headers {
        let t = forge(header, CLAIMS, &attacker_enc, J::RS256);
        assert_eq!(
            v.verify_token(&t).unwrap_err().kind(),
            ErrorKind::InvalidCredentials,
            "{header}"
        );
    }

    // Through a remote key set: only the configured URL is ever fetched.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&seen);
    let jwks = support::google_jwks();
    let fetcher = move |req: http::Request<Bytes>| {
        log.lock().unwrap().push(req.uri().to_string());
        let body = jwks.clone();
        async move { Ok::<_, FetchError>(http::Response::new(Bytes::from(body))) }
    };
    let remote = RemoteJwks::new("https://keys.example/jwks.json", fetcher)
        .unwrap()
        .with_clock(ManualClock::at_unix(NOW));
    let verifier = JwtVerifier::with_keys(remote).with_clock(ManualClock::at_unix(NOW));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for header in &headers {
            let t = forge(header, CLAIMS, &attacker_enc, J::RS256);
            assert!(verifier.verify_token(&t).await.is_err(), "{header}");
        }
    });
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().all(|u| u == "https://keys.example/jwks.json"),
        "{seen:?}"
    );
}

#[test]
fn unknown_crit_is_refused_even_when_signed() {
    let v = hmac_verifier();
    for header in [
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"HS256","crit":["http://example.com/ext"],"http://example.com/ext":true}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":"b64"}"#,
        r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
    ] {
        refused(
            &v,
            &forge_hs256(header, CLAIMS, SECRET),
            "jwt: unknown crit header parameter",
        );
    }
}

#[test]
fn other_header_tricks() {
    let v = hmac_verifier();
    refused(
        &v,
        &forge_hs256(r#"{"alg":"HS256","cty":"JWT"}"#, CLAIMS, SECRET),
        "jwt: nested token",
    );
    refused(
        &v,
        &forge_hs256(r#"{"alg":"HS256","zip":"DEF"}"#, CLAIMS, SECRET),
        "jwt: compressed or encrypted",
    );
    refused(
        &v,
        &forge_hs256(r#"{"alg":"HS256","b64":false}"#, CLAIMS, SECRET),
        "jwt: unencoded payload",
    );
    refused(
        &v,
        &forge_hs256(r#"{"alg":"HS256","alg":"none"}"#, CLAIMS, SECRET),
        "jwt: header not a JSON object",
    );
    // typ, when required.
    let typed = hmac_verifier().with_validation(Validation::new().with_types(["at+jwt"]));
    refused(
        &typed,
        &forge_hs256(r#"{"alg":"HS256","typ":"JWT"}"#, CLAIMS, SECRET),
        "jwt: typ not accepted",
    );
    refused(
        &typed,
        &forge_hs256(r#"{"alg":"HS256"}"#, CLAIMS, SECRET),
        "jwt: typ missing",
    );
    assert!(
        typed
            .verify_token(&forge_hs256(
                r#"{"alg":"HS256","typ":"application/at+JWT"}"#,
                CLAIMS,
                SECRET
            ))
            .is_ok()
    );
}

#[test]
fn time_claims() {
    let v = hmac_verifier();
    let h = r#"{"alg":"HS256"}"#;
    let t = |claims: &str| forge_hs256(h, claims, SECRET);
    let expired = v
        .verify_token(&t(r#"{"sub":"a","exp":1699999940}"#))
        .unwrap_err();
    assert_eq!(
        (expired.kind(), expired.status().as_u16()),
        (ErrorKind::Expired, 401)
    );
    assert!(
        v.verify_token(&t(r#"{"sub":"a","exp":1699999941}"#))
            .is_ok(),
        "inside the 60 s leeway"
    );
    refused(&v, &t(r#"{"sub":"a"}"#), "jwt: no exp");
    refused(
        &v,
        &t(r#"{"sub":"a","exp":"1800000000"}"#),
        "jwt: a time claim is not a number",
    );
    refused(
        &v,
        &t(r#"{"sub":"a","exp":1800000000,"nbf":1700000061}"#),
        "jwt: not valid yet (nbf)",
    );
    refused(
        &v,
        &t(r#"{"sub":"a","exp":1800000000,"iat":1700000061}"#),
        "jwt: issued in the future (iat)",
    );
    let bounded = hmac_verifier()
        .with_validation(Validation::new().with_max_lifetime(std::time::Duration::from_secs(600)));
    refused(
        &bounded,
        &t(r#"{"sub":"a","iat":1700000000,"exp":1700000601}"#),
        "jwt: lifetime longer than allowed",
    );
    let named = hmac_verifier().with_validation(
        Validation::new()
            .with_issuers(["me"])
            .with_audiences(["api"]),
    );
    refused(
        &named,
        &t(r#"{"sub":"a","exp":1800000000,"iss":"you","aud":"api"}"#),
        "jwt: iss not accepted",
    );
    refused(
        &named,
        &t(r#"{"sub":"a","exp":1800000000,"iss":"me","aud":"web"}"#),
        "jwt: aud not accepted",
    );
    refused(
        &v,
        &t(r#"{"sub":"a","exp":1800000000,"aud":"web"}"#),
        "jwt: aud present but no audience configured",
    );
    let no_sub = v.authenticate(&t(r#"{"exp":1800000000}"#)).unwrap_err();
    assert_eq!(
        (no_sub.kind(), no_sub.detail()),
        (ErrorKind::InvalidCredentials, "jwt: no subject claim")
    );
}

#[test]
fn structure_and_strict_base64url() {
    let v = hmac_verifier();
    let good = forge_hs256(r#"{"alg":"HS256"}"#, CLAIMS, SECRET);
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let flip_trailing_bits = {
        // HS256: 32 bytes = 43 chars; the last char carries 2 unused bits, which must be zero.
        let mut chars: Vec<char> = s.chars().collect();
        let last = chars.last_mut().unwrap();
        let idx = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            .find(*last)
            .unwrap();
        *last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            .chars()
            .nth(idx ^ 1)
            .unwrap();
        chars.into_iter().collect::<String>()
    };
    let bad = [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!(".{p}.{s}"),
        format!("{h}..{s}"),
        format!("{h}.{p}.{s}="),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/")),
        format!("{h}.{p}.{flip_trailing_bits}"),
        format!(" {good}"),
        format!("{good}\n"),
        format!("{h}.{p} .{s}"),
        format!("{}.{p}.{s}", b64(b"\xef\xbb\xbf{\"alg\":\"HS256\"}")),
        format!("{}.{p}.{s}", b64(b"{\"alg\":\"HS256\xff\"}")),
        format!("{}.{p}.{s}", b64("[\"HS256\"]")),
        "".to_owned(),
        "..".to_owned(),
    ];
    for token in &bad {
        assert_eq!(
            v.verify_token(token).unwrap_err().kind(),
            ErrorKind::InvalidCredentials,
            "{token:?}"
        );
    }
    // Claims: an array, duplicate names, not JSON, all refused after a valid MAC.
    for claims in ["[]", r#"{"sub":"a","exp":1800000000,"exp":1}"#, "{", "null"] {
        let t = forge_hs256(r#"{"alg":"HS256"}"#, claims, SECRET);
        assert_eq!(
            v.verify_token(&t).unwrap_err().kind(),
            ErrorKind::InvalidCredentials,
            "{claims}"
        );
    }
}

#[test]
fn size_limit_before_decoding() {
    let big = format!(
        r#"{{"sub":"a","exp":1800000000,"pad":"{}"}}"#,
        "x".repeat(9000)
    );
    let token = forge_hs256(r#"{"alg":"HS256"}"#, &big, SECRET);
    refused(&hmac_verifier(), &token, "jwt: larger than the size limit");
    let roomy = hmac_verifier().with_validation(Validation::new().with_max_token_bytes(64 * 1024));
    assert!(roomy.verify_token(&token).is_ok());
    // Megabytes of garbage are refused at once.
    let garbage = "a".repeat(4 * 1024 * 1024);
    refused(
        &hmac_verifier(),
        &garbage,
        "jwt: larger than the size limit",
    );
    // Deeply nested JSON in the header: an error, not a stack overflow.
    let deep = format!(
        r#"{{"alg":"HS256","x":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let t = forge_hs256(&deep, CLAIMS, SECRET);
    assert!(roomy.verify_token(&t).is_err());
}

#[test]
fn no_key_fails_closed_with_503() {
    let v = JwtVerifier::new(KeySet::new()).with_clock(ManualClock::at_unix(NOW));
    let e = v
        .verify_token(&forge_hs256(r#"{"alg":"HS256"}"#, CLAIMS, SECRET))
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.status().as_u16()),
        (ErrorKind::Unavailable, 503)
    );
}

#[test]
fn every_single_character_mutation_is_refused_and_nothing_panics() {
    let v = hmac_verifier();
    let good = forge_hs256(r#"{"alg":"HS256","kid":"h1"}"#, CLAIMS, SECRET);
    assert!(v.verify_token(&good).is_ok());
    let alphabet: Vec<char> =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ é\u{0}"
            .chars()
            .collect();
    let chars: Vec<char> = good.chars().collect();
    for i in 0..chars.len() {
        for (n, c) in alphabet.iter().enumerate() {
            if (i + n) % 7 != 0 || *c == chars[i] {
                continue; // a deterministic sample keeps this fast in debug builds
            }
            let mut m = chars.clone();
            m[i] = *c;
            let token: String = m.into_iter().collect();
            assert!(
                v.verify_token(&token).is_err(),
                "accepted a mutation at {i}: {token}"
            );
        }
        let mut cut = chars.clone();
        cut.remove(i);
        assert!(
            v.verify_token(&cut.into_iter().collect::<String>())
                .is_err()
        );
    }
}

#[test]
fn secrets_never_print() {
    let secret = "super-secret-hmac-key-material-0123456789";
    let key = VerifyingKey::hmac(secret).unwrap();
    let signing = SigningKey::hmac(Algorithm::HS256, secret).unwrap();
    let verifier = JwtVerifier::new(KeySet::new().with_key(key.clone()));
    let issuer = JwtIssuer::new(signing.clone());
    let all = format!("{key:?} {signing:?} {verifier:?} {issuer:?}");
    assert!(!all.contains(secret), "{all}");
    assert!(
        !all.contains("115, 117, 112"),
        "no byte dumps either: {all}"
    );
    assert!(all.contains("REDACTED"));
}

/// The gateway's setup (issue 10): one HMAC key without a `kid`, `iss` and `aud` checked.
fn gateway_verifier() -> JwtVerifier {
    let key = VerifyingKey::hmac(SECRET).unwrap();
    JwtVerifier::new(KeySet::new().with_key(key))
        .with_validation(
            Validation::new()
                .with_issuers(["tower-authn-gateway"])
                .with_audiences(["gateway"])
                .with_algorithms([Algorithm::HS256]),
        )
        .with_clock(ManualClock::at_unix(NOW))
}

const GATEWAY_CLAIMS: &str = r#"{"iss":"tower-authn-gateway","aud":"gateway","iat":1700000000,"exp":1700086400,"sub":"alice"}"#;

#[test]
fn a_kid_the_set_does_not_hold_is_refused_even_by_a_one_key_set() {
    let v = gateway_verifier();
    let plain = forge_hs256(r#"{"alg":"HS256","typ":"JWT"}"#, GATEWAY_CLAIMS, SECRET);
    assert_eq!(v.authenticate(&plain).unwrap().id, "alice");
    for kid in ["no-such-kid", "' OR 1=1--", "", "h1", "../../dev/null"] {
        let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string();
        refused(
            &v,
            &forge_hs256(&header, GATEWAY_CLAIMS, SECRET),
            "jwt: unknown kid",
        );
    }
    // Named one-key set: a token without kid may select the only key (it can mean no other).
    let named = hmac_verifier();
    assert!(
        named
            .verify_token(&forge_hs256(r#"{"alg":"HS256"}"#, CLAIMS, SECRET))
            .is_ok()
    );
    refused(
        &named,
        &forge_hs256(r#"{"alg":"HS256","kid":"no-such-kid"}"#, CLAIMS, SECRET),
        "jwt: unknown kid",
    );
    // Several named keys: without a kid there is nothing to select by.
    let two = JwtVerifier::new(
        KeySet::new()
            .with_key(VerifyingKey::hmac(SECRET).unwrap().with_kid("h1"))
            .with_key(
                VerifyingKey::hmac(b"another secret, also 32 bytes long")
                    .unwrap()
                    .with_kid("h2"),
            ),
    )
    .with_clock(ManualClock::at_unix(NOW));
    refused(
        &two,
        &forge_hs256(r#"{"alg":"HS256"}"#, CLAIMS, SECRET),
        "jwt: no kid, and several named keys",
    );
    // A named key beside an unnamed one: a made-up kid does not fall through to the unnamed key.
    let mixed = JwtVerifier::new(
        KeySet::new()
            .with_key(
                VerifyingKey::hmac(b"another secret, also 32 bytes long")
                    .unwrap()
                    .with_kid("h2"),
            )
            .with_key(VerifyingKey::hmac(SECRET).unwrap()),
    )
    .with_clock(ManualClock::at_unix(NOW));
    assert!(
        mixed
            .verify_token(&forge_hs256(r#"{"alg":"HS256"}"#, CLAIMS, SECRET))
            .is_ok()
    );
    refused(
        &mixed,
        &forge_hs256(r#"{"alg":"HS256","kid":"nope"}"#, CLAIMS, SECRET),
        "jwt: unknown kid",
    );
}

#[test]
fn typ_must_be_absent_or_jwt_by_default() {
    let v = gateway_verifier();
    for ok in [
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256","typ":"application/jwt"}"#,
    ] {
        assert!(
            v.verify_token(&forge_hs256(ok, GATEWAY_CLAIMS, SECRET))
                .is_ok(),
            "{ok}"
        );
    }
    for (header, why) in [
        (r#"{"alg":"HS256","typ":"xyz"}"#, "jwt: typ not accepted"),
        (r#"{"alg":"HS256","typ":"at+jwt"}"#, "jwt: typ not accepted"),
        (
            r#"{"alg":"HS256","typ":"JOSE+JSON"}"#,
            "jwt: typ not accepted",
        ),
        (r#"{"alg":"HS256","typ":null}"#, "jwt: typ not a string"),
    ] {
        refused(&v, &forge_hs256(header, GATEWAY_CLAIMS, SECRET), why);
    }
    // Explicit typing when configured; anything only when said out loud.
    let at = gateway_verifier().with_validation(v.validation().clone().with_types(["at+jwt"]));
    assert!(
        at.verify_token(&forge_hs256(
            r#"{"alg":"HS256","typ":"at+jwt"}"#,
            GATEWAY_CLAIMS,
            SECRET
        ))
        .is_ok()
    );
    refused(
        &at,
        &forge_hs256(r#"{"alg":"HS256","typ":"JWT"}"#, GATEWAY_CLAIMS, SECRET),
        "jwt: typ not accepted",
    );
    let any = gateway_verifier().with_validation(v.validation().clone().accept_any_type());
    assert!(
        any.verify_token(&forge_hs256(
            r#"{"alg":"HS256","typ":"xyz"}"#,
            GATEWAY_CLAIMS,
            SECRET
        ))
        .is_ok()
    );
}

#[test]
fn time_claims_out_of_range_are_refused() {
    let v = gateway_verifier();
    let h = r#"{"alg":"HS256","typ":"JWT"}"#;
    let with = |name: &str, value: &str| {
        let claims = GATEWAY_CLAIMS.replace(
            &format!(
                r#""{name}":{}"#,
                if name == "iat" {
                    "1700000000"
                } else {
                    "1700086400"
                }
            ),
            &format!(r#""{name}":{value}"#),
        );
        assert!(claims.contains(value), "{claims}");
        forge_hs256(h, &claims, SECRET)
    };
    for value in [
        "18446744073709551616",
        "18446744073709551615",
        "9223372036854775807",
        "1e300",
        "1E+300",
        "253402300800",
        "-1",
        "-1e300",
    ] {
        refused(&v, &with("exp", value), "jwt: a time claim is out of range");
        refused(&v, &with("iat", value), "jwt: a time claim is out of range");
    }
    for value in [
        r#""1800000000""#,
        "null",
        "true",
        "[1800000000]",
        r#"{"$gt":0}"#,
    ] {
        refused(&v, &with("exp", value), "jwt: a time claim is not a number");
    }
    let nbf = GATEWAY_CLAIMS.replace(r#""sub""#, r#""nbf":-5,"sub""#);
    refused(
        &v,
        &forge_hs256(h, &nbf, SECRET),
        "jwt: a time claim is out of range",
    );
    assert!(v.verify_token(&with("exp", "1700086400.75")).is_ok());
}

#[test]
fn the_issuers_own_rules_cap_the_lifetime_at_what_it_issues() {
    let clock = ManualClock::at_unix(NOW);
    let issuer = JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .with_issuer("tower-authn-gateway")
        .with_audiences(["gateway"])
        .with_lifetime(std::time::Duration::from_secs(24 * 3600))
        .with_clock(clock.clone());
    let v = JwtVerifier::new(KeySet::new().with_key(VerifyingKey::hmac(SECRET).unwrap()))
        .with_validation(issuer.validation())
        .with_clock(clock);
    assert_eq!(
        v.authenticate(&issuer.issue_for_subject("alice").unwrap())
            .unwrap()
            .id,
        "alice"
    );
    let ten_years = 10 * 365 * 86_400;
    let long = format!(
        r#"{{"iss":"tower-authn-gateway","aud":"gateway","iat":{NOW},"exp":{},"sub":"alice"}}"#,
        NOW + ten_years
    );
    let h = r#"{"alg":"HS256","typ":"JWT"}"#;
    refused(
        &v,
        &forge_hs256(h, &long, SECRET),
        "jwt: lifetime longer than allowed",
    );
    // Back-dating iat gains nothing: exp - now is capped too.
    let back_dated = format!(
        r#"{{"iss":"tower-authn-gateway","aud":"gateway","iat":{},"exp":{},"sub":"alice"}}"#,
        NOW - 86_400,
        NOW + 2 * 86_400
    );
    refused(
        &v,
        &forge_hs256(h, &back_dated, SECRET),
        "jwt: lifetime longer than allowed",
    );
    // The issuer's typ is required, its iat too, and another issuer's lifetime is not ours.
    refused(
        &v,
        &forge_hs256(r#"{"alg":"HS256"}"#, GATEWAY_CLAIMS, SECRET),
        "jwt: typ missing",
    );
    let no_iat = r#"{"iss":"tower-authn-gateway","aud":"gateway","exp":1700003600,"sub":"alice"}"#;
    refused(&v, &forge_hs256(h, no_iat, SECRET), "jwt: no iat");
    assert!(
        v.verify_token(&forge_hs256(h, GATEWAY_CLAIMS, SECRET))
            .is_ok(),
        "exactly 24 h"
    );
}

#[test]
fn claims_are_read_only_after_the_signature_verifies() {
    // lib.rs, step 6: claims are "only now parsed". With a wrong MAC, claims that would be
    // refused for themselves (not an object, duplicate names, not JSON, expired, out of
    // range) are refused for the signature, like good claims are: they were never read.
    let v = hmac_verifier();
    let wrong_secret = b"another-secret-0123456789abcdef!";
    let bad_mac = forge_hs256(r#"{"alg":"HS256"}"#, CLAIMS, wrong_secret);
    let why = v.verify_token(&bad_mac).unwrap_err().detail().to_owned();
    for claims in [
        "[]",
        r#"{"sub":"a","exp":1800000000,"exp":1}"#,
        "{",
        "null",
        r#"{"sub":"a","exp":1}"#,
        r#"{"sub":"a","exp":1e300}"#,
    ] {
        // Signed right, each is refused for its claims...
        let signed = forge_hs256(r#"{"alg":"HS256"}"#, claims, SECRET);
        let own = v.verify_token(&signed).unwrap_err();
        assert_ne!(own.detail(), why, "{claims}");
        // ...signed wrong, for the signature only.
        refused(
            &v,
            &forge_hs256(r#"{"alg":"HS256"}"#, claims, wrong_secret),
            &why,
        );
    }
}
