#![allow(missing_docs)] // criterion_group! generates undocumented items
//! What verifying one JWT costs, against anchors measured in the same run.
//!
//! The token is a typical access token: header `alg`, `typ`, `kid`; claims `iss`, `aud`,
//! `iat`, `exp`, `sub`. Rows (`group/row`):
//!
//! - `hs256/jsonwebtoken_decode`: `jsonwebtoken::decode::<serde_json::Value>` of the same
//!   token, its `DecodingKey` built once, checking the same `iss` and `aud`.
//! - `hs256/hmac_floor`: a pre-keyed HMAC-SHA256 of the signing input (clone, update,
//!   finalize): what no verifier can go under.
//! - `hs256/claims_map`: the claims JSON parsed into a `serde_json::Map` (and dropped): what
//!   the verifier no longer does per token (it picks the claims it reads and keeps the text
//!   as `Principal::attributes`, parsed only when read), kept as a reference.
//! - `hs256/authenticate`: `JwtVerifier::authenticate` over an in-memory `KeySet`.
//! - `hs256/verifier_trait`: the same through `Verifier<TokenCredential>` (the credential is
//!   made outside the timing).
//! - `rs256/raw_rsa_verify`, `es256/raw_p256_verify`: the `rsa` / `p256` crate's verify with
//!   an already-parsed key and an already-decoded signature (SHA-256 of the input included).
//! - `rs256/authenticate`, `es256/authenticate`: the verifier on the same tokens.
//!
//! Run: `cargo bench -p tower-authn-jwt --bench verify`.
//!
//! For instruction counts, `JWT_PROFILE=<group/row> JWT_PROFILE_ITERS=<n>` runs one row `n`
//! times without criterion (run it under `valgrind --tool=callgrind` with two values of `n`
//! and take the difference, so the setup cancels out).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group};
use futures_util::FutureExt;
use hmac::{Hmac, Mac};
use jsonwebtoken::DecodingKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use sha2::{Digest, Sha256};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::{CredentialLocation, Verifier};
use tower_authn_jwt::{
    Algorithm, JwtIssuer, JwtVerifier, KeySet, SigningKey, Validation, VerifyingKey,
};

#[path = "../tests/support/keys.rs"]
mod keys;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const ISS: &str = "https://issuer.example";
const AUD: &str = "my-api";

fn issuer(key: SigningKey) -> JwtIssuer {
    JwtIssuer::new(key.with_kid("k1"))
        .with_issuer(ISS)
        .with_audiences([AUD])
        .with_lifetime(Duration::from_secs(24 * 3600))
        .without_jti()
}

fn verifier(key: VerifyingKey) -> JwtVerifier {
    JwtVerifier::new(KeySet::new().with_key(key.with_kid("k1")))
        .with_validation(Validation::new().with_issuers([ISS]).with_audiences([AUD]))
}

fn b64decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url")
}

fn split(token: &str) -> (&str, Vec<u8>) {
    let dot = token.rfind('.').expect("three parts");
    (&token[..dot], b64decode(&token[dot + 1..]))
}

/// One row: a name and a closure run once per iteration.
type Row = (&'static str, Box<dyn Fn()>);

fn rows() -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();

    // HS256.
    let hs_token = issuer(SigningKey::hmac(Algorithm::HS256, SECRET).expect("key"))
        .issue_for_subject("alice")
        .expect("token");
    let hs = verifier(VerifyingKey::hmac(SECRET).expect("key"));
    assert_eq!(hs.authenticate(&hs_token).expect("accepted").id, "alice");

    let decoding = DecodingKey::from_secret(SECRET);
    let mut raw_rules = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    raw_rules.set_issuer(&[ISS]);
    raw_rules.set_audience(&[AUD]);
    jsonwebtoken::decode::<serde_json::Value>(&hs_token, &decoding, &raw_rules)
        .expect("jsonwebtoken accepts it");
    let t = hs_token.clone();
    rows.push((
        "hs256/jsonwebtoken_decode",
        Box::new(move || {
            let data =
                jsonwebtoken::decode::<serde_json::Value>(black_box(&t), &decoding, &raw_rules);
            black_box(data.expect("accepted"));
        }),
    ));

    let (input, _) = split(&hs_token);
    let input = input.to_owned();
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
    rows.push((
        "hs256/hmac_floor",
        Box::new(move || {
            let mut mac = keyed.clone();
            mac.update(black_box(input.as_bytes()));
            black_box(mac.finalize().into_bytes());
        }),
    ));

    // The claims parsed into a `Map` (and dropped): what keeping them as a map would cost
    // (`Principal::attributes` now holds the text until it is read).
    let claims_json = String::from_utf8(b64decode(hs_token.split('.').nth(1).expect("payload")))
        .expect("UTF-8 claims");
    rows.push((
        "hs256/claims_map",
        Box::new(move || {
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(black_box(&claims_json)).expect("an object");
            black_box(map);
        }),
    ));

    let (v, t) = (hs, hs_token.clone());
    rows.push((
        "hs256/authenticate",
        Box::new(move || {
            black_box(v.authenticate(black_box(&t)).expect("accepted"));
        }),
    ));

    // RS256.
    let rs_token = issuer(SigningKey::rsa_pem(Algorithm::RS256, keys::RSA2).expect("key"))
        .issue_for_subject("alice")
        .expect("token");
    let rs = verifier(VerifyingKey::rsa_pem(keys::RSA2_PUB).expect("key"));
    assert_eq!(rs.authenticate(&rs_token).expect("accepted").id, "alice");
    let rsa_key = rsa::RsaPublicKey::from_pkcs1_der(
        DecodingKey::from_rsa_pem(keys::RSA2_PUB.as_bytes())
            .expect("pem")
            .as_bytes(),
    )
    .expect("RSA public key");
    let (input, sig) = split(&rs_token);
    let input = input.to_owned();
    rows.push((
        "rs256/raw_rsa_verify",
        Box::new(move || {
            let digest = Sha256::digest(black_box(input.as_bytes()));
            let scheme = rsa::Pkcs1v15Sign::new::<Sha256>();
            rsa_key
                .verify(scheme, &digest, black_box(&sig))
                .expect("valid");
        }),
    ));
    let (v, t) = (rs, rs_token);
    rows.push((
        "rs256/authenticate",
        Box::new(move || {
            black_box(v.authenticate(black_box(&t)).expect("accepted"));
        }),
    ));

    // ES256.
    let es_token = issuer(SigningKey::ec_pem(keys::EC256).expect("key"))
        .issue_for_subject("alice")
        .expect("token");
    let es = verifier(VerifyingKey::ec_pem(keys::EC256_PUB).expect("key"));
    assert_eq!(es.authenticate(&es_token).expect("accepted").id, "alice");
    let p256_key = p256::ecdsa::VerifyingKey::from_sec1_bytes(
        DecodingKey::from_ec_pem(keys::EC256_PUB.as_bytes())
            .expect("pem")
            .as_bytes(),
    )
    .expect("P-256 point");
    let (input, sig) = split(&es_token);
    let input = input.to_owned();
    let sig = p256::ecdsa::Signature::from_slice(&sig).expect("r || s");
    rows.push((
        "es256/raw_p256_verify",
        Box::new(move || {
            use p256::ecdsa::signature::Verifier as _;
            p256_key
                .verify(black_box(input.as_bytes()), black_box(&sig))
                .expect("valid");
        }),
    ));
    let (v, t) = (es, es_token);
    rows.push((
        "es256/authenticate",
        Box::new(move || {
            black_box(v.authenticate(black_box(&t)).expect("accepted"));
        }),
    ));

    rows
}

fn bench(c: &mut Criterion) {
    for (name, run) in rows() {
        let (group, row) = name.split_once('/').expect("group/row");
        let mut g = c.benchmark_group(group);
        if group != "hs256" {
            g.sample_size(30);
        }
        g.bench_function(row, |b| b.iter(&run));
        g.finish();
    }

    // The trait path: the credential (a copy of the token) is made outside the timing.
    let token = issuer(SigningKey::hmac(Algorithm::HS256, SECRET).expect("key"))
        .issue_for_subject("alice")
        .expect("token");
    let v = verifier(VerifyingKey::hmac(SECRET).expect("key"));
    let mut g = c.benchmark_group("hs256");
    g.bench_function("verifier_trait", |b| {
        b.iter_batched(
            || TokenCredential::new(token.clone(), CredentialLocation::Query("jwt".into())),
            |credential| {
                let principal = v
                    .verify(credential)
                    .now_or_never()
                    .expect("in-memory keys answer at once")
                    .expect("accepted");
                black_box(principal);
            },
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(name) = std::env::var("JWT_PROFILE") {
        let iters: u64 = std::env::var("JWT_PROFILE_ITERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000);
        let rows = rows();
        let (_, run) = rows
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no row {name}"));
        for _ in 0..iters {
            run();
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
