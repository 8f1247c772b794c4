//! The cost of authenticating one request, beside what a user would otherwise pick, in one
//! criterion run (BENCHMARKS.md reads the ratios; `scripts/bench` prints them).
//!
//! Every `per_request` row sends one request through `oneshot`-style `ready` + `call` on a
//! service whose future completes at once (no runtime in the loop), request construction
//! included; `bare` is the inner service alone, so a row's *cost* is the row minus `bare`.
//! The `floor` rows are the cryptography alone (no request): what a layer cannot go below.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use hmac::{Hmac, Mac};
use http::{HeaderValue, Request, Response};
use sha2::{Digest, Sha256};
use tower::{Layer, Service, ServiceExt};
use tower_authn::cache::{CacheExt, VerificationCache};
use tower_authn::invalidate::Invalidator;
use tower_authn::jwt::{JwtVerifier, KeySet, Validation, VerifyingKey};
use tower_authn::prelude::*;

#[path = "../../crates/jwt/tests/support/keys.rs"]
#[allow(dead_code)]
mod keys;

const SECRET: &[u8] = b"a shared HS256 secret of at least 32 bytes";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";

type Res = Response<Body>;

/// The constant handler: answers whether a principal arrived (so the extension is read).
fn inner() -> impl Service<Request<()>, Response = Res, Error = Infallible, Future: Send> + Clone {
    tower::service_fn(|req: Request<()>| async move {
        let seen = req.extensions().get::<Principal>().is_some();
        Ok::<_, Infallible>(Response::new(if seen {
            Body::from("y")
        } else {
            Body::empty()
        }))
    })
}

/// One request through `svc`, completed without a runtime; the status.
fn run<S>(svc: &mut S, req: Request<()>) -> u16
where
    S: Service<Request<()>, Response = Res, Error = Infallible>,
{
    let svc = svc.ready().now_or_never().expect("ready").expect("infallible");
    svc.call(req)
        .now_or_never()
        .expect("completes at once")
        .expect("infallible")
        .status()
        .as_u16()
}

fn run07<S>(svc: &mut S, req: Request<()>) -> u16
where
    S: Service<Request<()>, Response = axum07::response::Response, Error = Infallible>,
{
    let svc = svc.ready().now_or_never().expect("ready").expect("infallible");
    svc.call(req)
        .now_or_never()
        .expect("completes at once")
        .expect("infallible")
        .status()
        .as_u16()
}

fn get(name: &'static str, value: &HeaderValue) -> Request<()> {
    Request::get("/whoami")
        .header(name, value.clone())
        .body(())
        .expect("request")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn claims() -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "sub": "alice", "iss": ISSUER, "aud": AUDIENCE,
        "iat": now, "exp": now + 3600, "name": "Alice", "roles": ["admin"],
    })
}

fn jwt(alg: jsonwebtoken::Algorithm, key: &jsonwebtoken::EncodingKey) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims(), key).expect("encode")
}

fn raw_validation(alg: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v
}

fn our_jwt(key: VerifyingKey) -> JwtVerifier {
    JwtVerifier::new(KeySet::new().with_key(key.with_kid("k1"))).with_validation(
        Validation::new()
            .with_issuers([ISSUER])
            .with_audiences([AUDIENCE]),
    )
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).expect("header")
}

/// The signing input and signature bytes of a compact JWS.
fn split_jws(token: &str) -> (String, Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').expect("three parts");
    (input.to_owned(), URL_SAFE_NO_PAD.decode(sig).expect("base64url"))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[allow(deprecated)] // tower-http's `basic` is deprecated as "too basic": it is the anchor
fn per_request(c: &mut Criterion) {
    let token = HeaderValue::from_static("s3rver-token");
    let wrong = HeaderValue::from_static("not-the-token");
    let mut g = c.benchmark_group("per_request");

    let mut bare = inner();
    g.bench_function("bare", |b| {
        b.iter(|| run(&mut bare, get("x-auth-token", &token)))
    });

    // Anchors: tower-http's header check and its Basic.
    let mut svc = tower_http::validate_request::ValidateRequestHeaderLayer::has_header_value(
        "x-auth-token",
        "s3rver-token",
    )
    .expect("valid header")
    .layer(inner());
    assert_eq!(run(&mut svc, get("x-auth-token", &token)), 200);
    g.bench_function("tower_http_header", |b| {
        b.iter(|| run(&mut svc, get("x-auth-token", &token)))
    });
    let basic_ok = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("alice:secret")))
        .expect("header");
    let basic_bad = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("alice:wrong")))
        .expect("header");
    let mut svc =
        tower_http::validate_request::ValidateRequestHeaderLayer::basic("alice", "secret")
            .layer(inner());
    assert_eq!(run(&mut svc, get("authorization", &basic_ok)), 200);
    g.bench_function("tower_http_basic", |b| {
        b.iter(|| run(&mut svc, get("authorization", &basic_ok)))
    });
    assert_eq!(run(&mut svc, get("authorization", &basic_bad)), 401);
    g.bench_function("tower_http_basic_refused", |b| {
        b.iter(|| run(&mut svc, get("authorization", &basic_bad)))
    });

    // Token layers.
    let mut svc = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver-token"))
        .with_query("token")
        .layer(inner());
    assert_eq!(run(&mut svc, get("x-auth-token", &token)), 200);
    g.bench_function("token", |b| {
        b.iter(|| run(&mut svc, get("x-auth-token", &token)))
    });
    assert_eq!(run(&mut svc, get("x-auth-token", &wrong)), 401);
    g.bench_function("token_refused", |b| {
        b.iter(|| run(&mut svc, get("x-auth-token", &wrong)))
    });
    let query = || {
        Request::get("/whoami?a=1&token=s3rver-token&b=2")
            .header("x-other", token.clone())
            .body(())
            .expect("request")
    };
    assert_eq!(run(&mut svc, query()), 200);
    g.bench_function("query_token", |b| b.iter(|| run(&mut svc, query())));

    // App keys from the memory store: one key, and one of 100.
    let keys = MemoryKeyStore::new().with_key(
        KeyKind::AppApiKey,
        "demo-app-key-1",
        Principal::app("demo-app"),
    );
    let app_key = HeaderValue::from_static("demo-app-key-1");
    let mut svc = AppApiKeyLayer::new("X-App-Key", keys.verifier(KeyKind::AppApiKey)).layer(inner());
    assert_eq!(run(&mut svc, get("x-app-key", &app_key)), 200);
    g.bench_function("app_key", |b| {
        b.iter(|| run(&mut svc, get("x-app-key", &app_key)))
    });
    let cache = VerificationCache::new(Invalidator::new());
    let mut svc = AppApiKeyLayer::new(
        "X-App-Key",
        keys.verifier(KeyKind::AppApiKey).cached(cache.clone()),
    )
    .layer(inner());
    assert_eq!(block_on(svc.clone().oneshot(get("x-app-key", &app_key))).map(|r| r.status().as_u16()), Ok(200));
    g.bench_function("app_key_cached", |b| {
        b.iter(|| run(&mut svc, get("x-app-key", &app_key)))
    });

    // Access token + secret pair.
    let (_, pair_token, pair_secret) =
        block_on(keys.issue_access_pair(Principal::app("demo-app"), None)).expect("pair");
    let (pair_token, pair_secret) = (
        HeaderValue::from_str(&pair_token).expect("header"),
        HeaderValue::from_str(&pair_secret).expect("header"),
    );
    let pair = || {
        Request::get("/whoami")
            .header("accesstoken", pair_token.clone())
            .header("accesssecret", pair_secret.clone())
            .body(())
            .expect("request")
    };
    let mut svc = AccessSecretLayer::new(keys.access_pair_verifier()).layer(inner());
    assert_eq!(run(&mut svc, pair()), 200);
    g.bench_function("access_pair", |b| b.iter(|| run(&mut svc, pair())));

    // Basic from the verification cache (argon2 once, then hits).
    let users = MemoryUserStore::new();
    users.add_user("alice", "secret", |u| u).expect("user");
    let mut svc =
        BasicAuthLayer::new(users.password_verifier().cached(cache.clone())).layer(inner());
    let warm = block_on(svc.clone().oneshot(get("authorization", &basic_ok)));
    assert_eq!(warm.map(|r| r.status().as_u16()), Ok(200));
    g.bench_function("basic_cached", |b| {
        b.iter(|| run(&mut svc, get("authorization", &basic_ok)))
    });

    // JWT HS256 as a bearer token: ours, jwt-authorizer, and jsonwebtoken's decode.
    let hs_token = jwt(
        jsonwebtoken::Algorithm::HS256,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    );
    let hs_bearer = bearer(&hs_token);
    let mut svc = HeaderTokenLayer::bearer(our_jwt(VerifyingKey::hmac(SECRET).expect("key")))
        .layer(inner());
    assert_eq!(run(&mut svc, get("authorization", &hs_bearer)), 200);
    g.bench_function("jwt_hs256", |b| {
        b.iter(|| run(&mut svc, get("authorization", &hs_bearer)))
    });
    let authorizer = block_on(
        jwt_authorizer::JwtAuthorizer::<jwt_authorizer::RegisteredClaims>::from_secret(
            std::str::from_utf8(SECRET).expect("text"),
        )
        .validation(
            jwt_authorizer::Validation::new()
                .iss(&[ISSUER])
                .aud(&[AUDIENCE]),
        )
        .layer(),
    )
    .expect("jwt-authorizer");
    // Its own constant handler and baseline: jwt-authorizer answers with axum 0.7 responses.
    let inner07 = || {
        tower::service_fn(|_: Request<()>| async move {
            Ok::<_, Infallible>(axum07::response::Response::new(axum07::body::Body::from("y")))
        })
    };
    let mut bare07 = inner07();
    g.bench_function("bare_axum07", |b| {
        b.iter(|| run07(&mut bare07, get("authorization", &hs_bearer)))
    });
    let mut svc = authorizer.layer(inner07());
    assert_eq!(run07(&mut svc, get("authorization", &hs_bearer)), 200);
    g.bench_function("jwt_authorizer_hs256", |b| {
        b.iter(|| run07(&mut svc, get("authorization", &hs_bearer)))
    });
    g.finish();

    // The cryptography alone.
    let mut g = c.benchmark_group("floor");
    let decoding = jsonwebtoken::DecodingKey::from_secret(SECRET);
    let validation = raw_validation(jsonwebtoken::Algorithm::HS256);
    g.bench_function("jsonwebtoken_decode_hs256", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&hs_token), &decoding, &validation)
                .expect("valid")
        })
    });
    let (input, signature) = split_jws(&hs_token);
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(SECRET).expect("key");
    g.bench_function("hmac_sha256_prekeyed", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(input.as_bytes()));
            mac.verify_slice(&signature).expect("valid")
        })
    });
    g.bench_function("sha256_of_key", |b| {
        b.iter(|| Sha256::digest(black_box(b"demo-app-key-1")))
    });

    // RS256 and ES256: our verifier against the signature check alone, key parsed once.
    let rs_token = jwt(
        jsonwebtoken::Algorithm::RS256,
        &jsonwebtoken::EncodingKey::from_rsa_pem(keys::RSA2.as_bytes()).expect("rsa"),
    );
    let rs = our_jwt(VerifyingKey::rsa_pem(keys::RSA2_PUB).expect("rsa"));
    rs.authenticate(&rs_token).expect("valid");
    g.bench_function("ours_rs256", |b| {
        b.iter(|| rs.authenticate(black_box(&rs_token)).expect("valid"))
    });
    let (input, signature) = split_jws(&rs_token);
    let rsa_key = {
        use rsa::pkcs8::DecodePublicKey as _;
        rsa::pkcs1v15::VerifyingKey::<Sha256>::new(
            rsa::RsaPublicKey::from_public_key_pem(keys::RSA2_PUB).expect("rsa"),
        )
    };
    let rsa_sig = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).expect("signature");
    g.bench_function("rsa_verify_rs256", |b| {
        use rsa::signature::Verifier as _;
        b.iter(|| rsa_key.verify(black_box(input.as_bytes()), &rsa_sig).expect("valid"))
    });
    let es_token = jwt(
        jsonwebtoken::Algorithm::ES256,
        &jsonwebtoken::EncodingKey::from_ec_pem(keys::EC256.as_bytes()).expect("ec"),
    );
    let es = our_jwt(VerifyingKey::ec_pem(keys::EC256_PUB).expect("ec"));
    es.authenticate(&es_token).expect("valid");
    g.bench_function("ours_es256", |b| {
        b.iter(|| es.authenticate(black_box(&es_token)).expect("valid"))
    });
    let (input, signature) = split_jws(&es_token);
    let ec_key = {
        use p256::pkcs8::DecodePublicKey as _;
        p256::ecdsa::VerifyingKey::from_public_key_pem(keys::EC256_PUB).expect("ec")
    };
    let ec_sig = p256::ecdsa::Signature::from_slice(&signature).expect("signature");
    g.bench_function("p256_verify_es256", |b| {
        use p256::ecdsa::signature::Verifier as _;
        b.iter(|| ec_key.verify(black_box(input.as_bytes()), &ec_sig).expect("valid"))
    });
    g.finish();

    // What a cache hit saves: one argon2id verification at the crate's parameters.
    let mut g = c.benchmark_group("password");
    g.sample_size(10);
    let phc = tower_authn_password::hash_password("secret").expect("hash");
    g.bench_function("argon2_verify", |b| {
        b.iter(|| tower_authn_password::verify_password(&phc, black_box("secret")))
    });
    g.finish();
}

criterion_group!(benches, per_request);
criterion_main!(benches);
