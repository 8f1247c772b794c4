//! The rows of the per-request benches, built once and shared by the criterion bench
//! (`benches/per_request.rs`, wall time) and the `instructions` binary (callgrind counts).
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
use futures_util::FutureExt;
use hmac::{Hmac, Mac};
use http::{HeaderValue, Request, Response};
use sha2::{Digest, Sha256};
use tower::{Layer, Service, ServiceExt};
use tower_authn::cache::{CacheExt, VerificationCache};
use tower_authn::invalidate::Invalidator;
use tower_authn::jwt::{JwtVerifier, KeySet, Validation, VerifyingKey};
use tower_authn::prelude::*;

/// A global allocator that counts (the `allocations` and `serve` binaries install it).
pub mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// The system allocator, counting allocations and bytes.
    pub struct Counting;

    /// Allocations (and reallocations) so far.
    pub static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
    /// Bytes asked for so far.
    pub static BYTES: AtomicU64 = AtomicU64::new(0);

    // SAFETY: every call is forwarded unchanged to `System`; the counters are atomics.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
            // SAFETY: the caller's contract is `System`'s.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract is `System`'s.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
            // SAFETY: the caller's contract is `System`'s.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[path = "../../crates/jwt/tests/support/keys.rs"]
mod keys;

const SECRET: &[u8] = b"a shared HS256 secret of at least 32 bytes";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";

/// The constant handler: reads whether a principal arrived (so the extension is looked up)
/// and answers the same empty 200 either way.
fn inner()
-> impl Service<Request<()>, Response = Response<Body>, Error = Infallible, Future: Send> + Clone {
    tower::service_fn(|req: Request<()>| async move {
        black_box(req.extensions().get::<Principal>().is_some());
        Ok::<_, Infallible>(Response::new(Body::empty()))
    })
}

/// One request through `svc`, completed without a runtime; the status. Any response body:
/// jwt-authorizer's services answer axum 0.7 bodies.
fn run<S, B>(svc: &mut S, req: Request<()>) -> u16
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
{
    let svc = svc
        .ready()
        .now_or_never()
        .expect("ready")
        .expect("infallible");
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
    (
        input.to_owned(),
        URL_SAFE_NO_PAD.decode(sig).expect("base64url"),
    )
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

// The fixtures every driver shares (the criterion rows here, the `serve` binary of
// `scripts/load`): the same keys, users and tokens, so a row and a route measure one thing.

/// The shared token of the token rows and routes.
pub const SHARED_TOKEN: &str = "s3rver-token";
/// The app key stored by [`app_keys`].
pub const APP_KEY: &str = "demo-app-key-1";

/// A memory store holding [`APP_KEY`] for the app `demo-app`.
pub fn app_keys() -> MemoryKeyStore {
    MemoryKeyStore::new().with_key(KeyKind::AppApiKey, APP_KEY, Principal::app("demo-app"))
}

/// An access pair issued into `keys`, as header values (token, secret).
pub fn access_pair(keys: &MemoryKeyStore) -> (HeaderValue, HeaderValue) {
    let (_, token, secret) =
        block_on(keys.issue_access_pair(Principal::app("demo-app"), None)).expect("pair");
    (
        HeaderValue::from_str(&token).expect("header"),
        HeaderValue::from_str(&secret).expect("header"),
    )
}

/// A user store holding `alice` / `secret` (argon2id at the crate's parameters).
pub fn basic_users() -> MemoryUserStore {
    let users = MemoryUserStore::new();
    users.add_user("alice", "secret", |u| u).expect("user");
    users
}

/// `Authorization: Basic` for `alice` / `secret`.
pub fn basic_header() -> HeaderValue {
    HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("alice:secret"))).expect("header")
}

/// An HS256 JWT for `alice`, valid for an hour, that [`hs256_verifier`] accepts.
pub fn hs256_token() -> String {
    jwt(
        jsonwebtoken::Algorithm::HS256,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
}

/// Our verifier of [`hs256_token`]'s tokens (issuer and audience pinned).
pub fn hs256_verifier() -> JwtVerifier {
    our_jwt(VerifyingKey::hmac(SECRET).expect("key"))
}

/// One row: a group, a name, and one iteration of the work it measures.
pub struct Case {
    /// `per_request`, `floor` or `password`.
    pub group: &'static str,
    /// The row's name.
    pub name: &'static str,
    /// The row a `per_request` row's cost is measured over (`bare`, or `bare_axum07` for
    /// jwt-authorizer, which answers axum 0.7 responses); `None` for baselines and floors.
    pub baseline: Option<&'static str>,
    /// One iteration; returns something so the work is not optimized away.
    pub run: Box<dyn FnMut() -> u64>,
}

struct Cases(Vec<Case>);

impl Cases {
    fn add(&mut self, group: &'static str, name: &'static str, run: impl FnMut() -> u64 + 'static) {
        self.0.push(Case {
            group,
            name,
            baseline: None,
            run: Box::new(run),
        });
    }

    /// A `per_request` row over `bare`: `svc` answering `request()` with `status` (checked
    /// once here).
    fn request<S, B>(
        &mut self,
        name: &'static str,
        svc: S,
        request: impl Fn() -> Request<()> + 'static,
        status: u16,
    ) where
        S: Service<Request<()>, Response = Response<B>, Error = Infallible> + 'static,
    {
        self.request_over("bare", name, svc, request, status);
    }

    /// A `per_request` row whose cost is measured over `baseline` (itself when it is one).
    fn request_over<S, B>(
        &mut self,
        baseline: &'static str,
        name: &'static str,
        mut svc: S,
        request: impl Fn() -> Request<()> + 'static,
        status: u16,
    ) where
        S: Service<Request<()>, Response = Response<B>, Error = Infallible> + 'static,
    {
        assert_eq!(run(&mut svc, request()), status, "{name}");
        self.add("per_request", name, move || {
            u64::from(run(&mut svc, request()))
        });
        if let Some(case) = self.0.last_mut() {
            case.baseline = (name != baseline).then_some(baseline);
        }
    }

    /// Two `floor` rows for one asymmetric JWT: our verifier's whole check of `token`, and
    /// `signature_ok`, the raw signature check of its signing input with a parsed key.
    fn signature_rows(
        &mut self,
        names: (&'static str, &'static str),
        token: String,
        ours: JwtVerifier,
        signature_ok: impl Fn(&[u8], &[u8]) -> bool + 'static,
    ) {
        ours.authenticate(&token).expect("valid");
        let (input, signature) = split_jws(&token);
        assert!(signature_ok(input.as_bytes(), &signature), "{}", names.1);
        self.add("floor", names.0, move || {
            ours.authenticate(black_box(&token))
                .expect("valid")
                .id
                .len() as u64
        });
        self.add("floor", names.1, move || {
            u64::from(signature_ok(black_box(input.as_bytes()), &signature))
        });
    }
}

/// A request maker for `GET /whoami` with `name: value`.
fn with(name: &'static str, value: &HeaderValue) -> impl Fn() -> Request<()> + 'static {
    let value = value.clone();
    move || get(name, &value)
}

/// Every row, built (keys parsed, stores filled, caches warmed, each checked once).
#[allow(deprecated)] // tower-http's `basic` is deprecated as "too basic": it is the anchor
pub fn cases() -> Vec<Case> {
    let mut c = Cases(Vec::new());
    let token = HeaderValue::from_static(SHARED_TOKEN);
    let wrong = HeaderValue::from_static("not-the-token");

    c.request("bare", inner(), with("x-auth-token", &token), 200);

    // Anchors: tower-http's header check and its Basic.
    let svc = tower_http::validate_request::ValidateRequestHeaderLayer::has_header_value(
        "x-auth-token",
        SHARED_TOKEN,
    )
    .expect("valid header")
    .layer(inner());
    c.request("tower_http_header", svc, with("x-auth-token", &token), 200);
    let basic_ok = basic_header();
    let basic_bad = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("alice:wrong")))
        .expect("header");
    let svc = tower_http::validate_request::ValidateRequestHeaderLayer::basic("alice", "secret")
        .layer(inner());
    c.request(
        "tower_http_basic",
        svc.clone(),
        with("authorization", &basic_ok),
        200,
    );
    c.request(
        "tower_http_basic_refused",
        svc,
        with("authorization", &basic_bad),
        401,
    );

    // Token layers: accepted, refused (401 + JSON + challenge), and in the query.
    let svc = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new(SHARED_TOKEN))
        .with_query("token")
        .layer(inner());
    c.request("token", svc.clone(), with("x-auth-token", &token), 200);
    c.request(
        "token_refused",
        svc.clone(),
        with("x-auth-token", &wrong),
        401,
    );
    let other = token.clone();
    let query = move || {
        Request::get("/whoami?a=1&token=s3rver-token&b=2")
            .header("x-other", other.clone())
            .body(())
            .expect("request")
    };
    c.request("query_token", svc, query, 200);

    // App keys from the memory store, straight and through the verification cache.
    let keys = app_keys();
    let app_key = HeaderValue::from_static(APP_KEY);
    let svc = AppApiKeyLayer::new("X-App-Key", keys.verifier(KeyKind::AppApiKey)).layer(inner());
    c.request("app_key", svc, with("x-app-key", &app_key), 200);
    let cache = VerificationCache::new(Invalidator::new());
    let svc = AppApiKeyLayer::new(
        "X-App-Key",
        keys.verifier(KeyKind::AppApiKey).cached(cache.clone()),
    )
    .layer(inner());
    let warm = block_on(svc.clone().oneshot(get("x-app-key", &app_key)));
    assert_eq!(warm.map(|r| r.status().as_u16()), Ok(200));
    c.request("app_key_cached", svc, with("x-app-key", &app_key), 200);

    // Access token + secret pair.
    let (pair_token, pair_secret) = access_pair(&keys);
    let pair = move || {
        Request::get("/whoami")
            .header("accesstoken", pair_token.clone())
            .header("accesssecret", pair_secret.clone())
            .body(())
            .expect("request")
    };
    let svc = AccessSecretLayer::new(keys.access_pair_verifier()).layer(inner());
    c.request("access_pair", svc, pair, 200);

    // Basic from the verification cache (argon2 once, then hits).
    let users = basic_users();
    let svc = BasicAuthLayer::new(users.password_verifier().cached(cache.clone())).layer(inner());
    let warm = block_on(svc.clone().oneshot(get("authorization", &basic_ok)));
    assert_eq!(warm.map(|r| r.status().as_u16()), Ok(200));
    c.request("basic_cached", svc, with("authorization", &basic_ok), 200);

    // JWT HS256 as a bearer token: ours and jwt-authorizer (its own baseline).
    let hs_token = hs256_token();
    let hs_bearer = bearer(&hs_token);
    let svc = HeaderTokenLayer::bearer(hs256_verifier()).layer(inner());
    c.request("jwt_hs256", svc, with("authorization", &hs_bearer), 200);
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
    let inner07 = || {
        tower::service_fn(|_: Request<()>| async move {
            Ok::<_, Infallible>(axum07::response::Response::new(axum07::body::Body::empty()))
        })
    };
    c.request_over(
        "bare_axum07",
        "bare_axum07",
        inner07(),
        with("authorization", &hs_bearer),
        200,
    );
    let svc = authorizer.layer(inner07());
    c.request_over(
        "bare_axum07",
        "jwt_authorizer_hs256",
        svc,
        with("authorization", &hs_bearer),
        200,
    );

    // The cryptography alone.
    let decoding = jsonwebtoken::DecodingKey::from_secret(SECRET);
    let validation = raw_validation(jsonwebtoken::Algorithm::HS256);
    let t = hs_token.clone();
    c.add("floor", "jsonwebtoken_decode_hs256", move || {
        let data = jsonwebtoken::decode::<serde_json::Value>(black_box(&t), &decoding, &validation)
            .expect("valid");
        data.claims.as_object().map_or(0, |o| o.len() as u64)
    });
    let (input, signature) = split_jws(&hs_token);
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(SECRET).expect("key");
    c.add("floor", "hmac_sha256_prekeyed", move || {
        let mut mac = keyed.clone();
        mac.update(black_box(input.as_bytes()));
        u64::from(mac.verify_slice(&signature).is_ok())
    });
    c.add("floor", "sha256_of_key", || {
        u64::from(Sha256::digest(black_box(b"demo-app-key-1"))[0])
    });

    // RS256 and ES256: our verifier against the signature check alone, key parsed once.
    let rsa_key = {
        use rsa::pkcs8::DecodePublicKey as _;
        rsa::pkcs1v15::VerifyingKey::<Sha256>::new(
            rsa::RsaPublicKey::from_public_key_pem(keys::RSA2_PUB).expect("rsa"),
        )
    };
    c.signature_rows(
        ("ours_rs256", "rsa_verify_rs256"),
        jwt(
            jsonwebtoken::Algorithm::RS256,
            &jsonwebtoken::EncodingKey::from_rsa_pem(keys::RSA2.as_bytes()).expect("rsa"),
        ),
        our_jwt(VerifyingKey::rsa_pem(keys::RSA2_PUB).expect("rsa")),
        move |input, signature| {
            use rsa::signature::Verifier as _;
            rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|sig| rsa_key.verify(input, &sig).is_ok())
        },
    );
    let ec_key = {
        use p256::pkcs8::DecodePublicKey as _;
        p256::ecdsa::VerifyingKey::from_public_key_pem(keys::EC256_PUB).expect("ec")
    };
    c.signature_rows(
        ("ours_es256", "p256_verify_es256"),
        jwt(
            jsonwebtoken::Algorithm::ES256,
            &jsonwebtoken::EncodingKey::from_ec_pem(keys::EC256.as_bytes()).expect("ec"),
        ),
        our_jwt(VerifyingKey::ec_pem(keys::EC256_PUB).expect("ec")),
        move |input, signature| {
            use p256::ecdsa::signature::Verifier as _;
            p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| ec_key.verify(input, &sig).is_ok())
        },
    );

    // What a cache hit saves: one argon2id verification at the crate's parameters.
    let phc = tower_authn_password::hash_password("secret").expect("hash");
    c.add("password", "argon2_verify", move || {
        u64::from(tower_authn_password::verify_password(&phc, black_box("secret")).unwrap_or(false))
    });
    c.0
}
