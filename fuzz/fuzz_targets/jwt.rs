//! The JWS compact form, its header and claims JSON, and the claim rules (crates/jwt:
//! compact.rs, validation.rs, verify.rs), through the public `JwtVerifier`.
//!
//! Input, split at the first NUL: `header JSON NUL claims JSON`; without a NUL the whole
//! input is also tried as a token.
//! - A token that verifies was not tampered with: its signature is the HMAC (computed here,
//!   independently) of exactly the bytes received, under the key the set holds.
//! - What verifies is what was signed: the header and claims returned equal the JSON that
//!   was signed; the header and the claims have unique names; `alg` is HS256, no `crit`,
//!   `zip`, `enc`, `b64: false`; the `kid` names a key of the set.
//! - The claim rules hold: `exp` present and not past (with leeway), `nbf` / `iat` not in the
//!   future; with a strict verifier, `iss`, `aud`, `typ` and the maximum lifetime too.
//! - Any one-byte change, truncation or insertion of a verifying token does not verify.
//! - `authenticate` (claims picked from their JSON, the header remembered once verified)
//!   answers as `verify_token` + `principal` (claims parsed into a map) do: the same
//!   principal with the same attributes, or an error of the same kind.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use sha2::Sha256;
use tower_authn_core::clock::ManualClock;
use tower_authn_fuzz::{Strict, split_nul, strict_json};
use tower_authn_jwt::{JwtVerifier, KeySet, Validation, VerifiedJwt, VerifyingKey};

const NOW: i64 = 1_700_000_000;
const LEEWAY: i64 = 60;
const MAX_LIFETIME: i64 = 3600;
const SECRET: &[u8; 32] = b"fuzz-secret-fuzz-secret-fuzz-sec";
/// RFC 7515 A.1's key and the time its example token is valid at.
const RFC_JWK: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const RFC_NOW: u64 = 1_300_819_000;

struct Verifiers {
    /// One key, `kid: k1`, default rules.
    plain: JwtVerifier,
    /// The same key, strict rules.
    strict: JwtVerifier,
    /// One key without a `kid`.
    unnamed: JwtVerifier,
    /// The RFC 7515 A.1 key, for the raw-token path.
    rfc: JwtVerifier,
    rfc_secret: Vec<u8>,
}

static V: LazyLock<Verifiers> = LazyLock::new(|| {
    let key = VerifyingKey::hmac(SECRET).expect("key").with_kid("k1");
    let clock = ManualClock::at_unix(NOW as u64);
    let plain = JwtVerifier::new(KeySet::new().with_key(key.clone())).with_clock(clock.clone());
    let strict = JwtVerifier::new(KeySet::new().with_key(key))
        .with_validation(
            Validation::new()
                .with_issuers(["iss-a"])
                .with_audiences(["api"])
                .with_types(["JWT"])
                .with_max_lifetime(Duration::from_secs(MAX_LIFETIME as u64)),
        )
        .with_clock(clock.clone());
    let unnamed =
        JwtVerifier::new(KeySet::new().with_key(VerifyingKey::hmac(SECRET).expect("key")))
            .with_clock(clock);
    let rfc =
        JwtVerifier::new(KeySet::new().with_key(VerifyingKey::from_jwk(RFC_JWK).expect("jwk")))
            .with_validation(Validation::new().accept_any_audience())
            .with_clock(ManualClock::at_unix(RFC_NOW));
    let k: Value = serde_json::from_str(RFC_JWK).expect("json");
    let rfc_secret = B64.decode(k["k"].as_str().expect("k")).expect("b64");
    Verifiers {
        plain,
        strict,
        unnamed,
        rfc,
        rfc_secret,
    }
});

fn mac(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("any length");
    m.update(input);
    m.finalize().into_bytes().to_vec()
}

/// A time claim as the rules read it: floored, `None` when absent.
fn time(claims: &Map<String, Value>, name: &str) -> Option<f64> {
    let v = claims.get(name)?;
    let n = v
        .as_f64()
        .unwrap_or_else(|| panic!("{name} is not a number: {v}"));
    assert!(n.is_finite(), "{name} not finite");
    Some(n.floor())
}

/// What holds for every token any verifier here accepted.
fn accepted(token: &str, secret: &[u8], v: &VerifiedJwt, now: i64) {
    let (input, sig) = token.rsplit_once('.').expect("three parts");
    let (h64, p64) = input.split_once('.').expect("three parts");
    let sig = B64.decode(sig).expect("signature is base64url");
    assert_eq!(
        sig,
        mac(secret, input.as_bytes()),
        "forged or tampered token verified"
    );
    assert_eq!(
        B64.encode(&sig),
        token.rsplit_once('.').map(|x| x.1).unwrap_or_default()
    );
    let header = B64.decode(h64).expect("header is base64url");
    let payload = B64.decode(p64).expect("payload is base64url");
    assert_eq!(
        strict_json(&header),
        Strict::Unique,
        "header with duplicate names"
    );
    assert_eq!(
        strict_json(&payload),
        Strict::Unique,
        "claims with duplicate names"
    );
    let h: Map<String, Value> = serde_json::from_slice(&header).expect("header object");
    let c: Map<String, Value> = serde_json::from_slice(&payload).expect("claims object");
    assert_eq!(v.header(), &h, "returned header is not the signed one");
    assert_eq!(v.claims(), &c, "returned claims are not the signed ones");
    assert_eq!(h.get("alg").and_then(Value::as_str), Some("HS256"));
    for refused in ["crit", "zip", "enc"] {
        assert!(!h.contains_key(refused), "{refused} accepted");
    }
    assert!(h.get("b64").is_none_or(|b| b == &Value::Bool(true)));
    assert_eq!(v.kid(), h.get("kid").and_then(Value::as_str));

    let leeway = LEEWAY as f64;
    let now = now as f64;
    let exp = time(&c, "exp").expect("exp required");
    assert!(now < exp + leeway, "expired token accepted");
    for name in ["nbf", "iat"] {
        if let Some(t) = time(&c, name) {
            assert!(t <= now + leeway, "{name} in the future accepted");
        }
    }
}

fn strict_rules(v: &VerifiedJwt) {
    let (h, c) = (v.header(), v.claims());
    assert_eq!(c.get("iss").and_then(Value::as_str), Some("iss-a"));
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == "api",
        Some(Value::Array(l)) => l.iter().all(Value::is_string) && l.iter().any(|a| a == "api"),
        _ => false,
    };
    assert!(aud_ok, "aud {:?} accepted", c.get("aud"));
    let typ = h.get("typ").and_then(Value::as_str).expect("typ required");
    let typ = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| &typ[12..]);
    assert!(typ.eq_ignore_ascii_case("JWT"), "typ {typ} accepted");
    let exp = time(c, "exp").expect("exp");
    let start = time(c, "iat")
        .or_else(|| time(c, "nbf"))
        .unwrap_or(NOW as f64);
    assert!(
        exp - start <= MAX_LIFETIME as f64,
        "lifetime {} accepted",
        exp - start
    );
}

/// The two ways to a principal agree.
fn same_both_ways(verifier: &JwtVerifier, token: &str) {
    let picked = verifier.authenticate(token);
    let mapped = verifier
        .verify_token(token)
        .and_then(|v| verifier.principal(v));
    match (&picked, &mapped) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "principals differ");
            assert_eq!(a.attributes, b.attributes, "attributes differ");
        }
        (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{a:?} / {b:?}"),
        _ => panic!("authenticate {picked:?}, verify_token {mapped:?}"),
    }
}

/// A few single edits of `token`, chosen by `seed`.
fn mutants(token: &str, seed: &[u8]) -> Vec<String> {
    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    let bytes = token.as_bytes();
    let mut out = Vec::new();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (round, _) in (0..6).enumerate() {
        for &b in seed.iter().take(64) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h = (h ^ round as u64).wrapping_mul(0x100_0000_01b3);
        let at = (h as usize) % bytes.len().max(1);
        let c = ALPHABET[((h >> 32) as usize) % ALPHABET.len()];
        let mut m = bytes.to_vec();
        match round % 3 {
            0 => {
                if let Some(x) = m.get_mut(at) {
                    *x = c;
                }
            }
            1 => {
                m.insert(at, c);
            }
            _ => {
                m.truncate(at);
            }
        }
        if let Ok(s) = String::from_utf8(m)
            && s != token
        {
            out.push(s);
        }
    }
    // The last character carries spare bits: every other value of it must fail too.
    if let Some(last) = bytes.last() {
        for &c in b"AQgw" {
            if c != *last {
                let mut m = bytes.to_vec();
                *m.last_mut().expect("non-empty") = c;
                out.push(String::from_utf8(m).expect("ascii"));
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let v = &*V;
    let parts = split_nul(data, 2);
    if parts.len() == 1
        && let Ok(token) = std::str::from_utf8(data)
    {
        if let Ok(ok) = v.rfc.verify_token(token) {
            accepted(token, &v.rfc_secret, &ok, RFC_NOW as i64);
        }
        assert!(
            v.plain.verify_token(token).is_err(),
            "unsigned input verified"
        );
    }
    let (header, claims) = match parts.as_slice() {
        [h, c] => (*h, *c),
        _ => (&br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#[..], data),
    };
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let token = format!("{input}.{}", B64.encode(mac(SECRET, input.as_bytes())));
    for verifier in [&v.plain, &v.strict, &v.unnamed] {
        same_both_ways(verifier, &token);
    }

    if let Ok(ok) = v.plain.verify_token(&token) {
        accepted(&token, SECRET, &ok, NOW);
        assert!(
            ok.kid().is_none_or(|k| k == "k1"),
            "a kid the set does not hold was accepted"
        );
        for m in mutants(&token, data) {
            assert!(
                v.plain.verify_token(&m).is_err() && v.plain.authenticate(&m).is_err(),
                "tampered token {m} verified"
            );
        }
    }
    if let Ok(ok) = v.strict.verify_token(&token) {
        accepted(&token, SECRET, &ok, NOW);
        strict_rules(&ok);
    }
    if let Ok(ok) = v.unnamed.verify_token(&token) {
        accepted(&token, SECRET, &ok, NOW);
        if cfg!(feature = "issue-10-checks") {
            assert_eq!(
                ok.kid(),
                None,
                "a kid the one-key set does not hold was accepted"
            );
        }
    }
});
