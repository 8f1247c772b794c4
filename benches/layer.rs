#![allow(missing_docs)] // criterion_group! generates undocumented items
//! The cost of the auth layer per request, against the bare inner service in the same run.
//!
//! - `bare`: the inner service alone (the baseline).
//! - `shared_token`: `HeaderTokenLayer` + `SharedTokenVerifier` (unboxed `Ready` future).
//! - `memory_key`: `AppApiKeyLayer` + the memory `KeyStore` verifier (boxed store future).
//! - `cached_key`: the same key through the verification cache (a hit after the first).
//! - `any_of_3`: Basic / token / app key composition, credential in the third scheme.
//! - `rejected`: a wrong token answered with 401 + JSON + challenge.
//! - `query_token`: the token in `?token=`, removed from the URI.

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};
use tower_authn::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
use tower_authn::{
    AppApiKeyLayer, BasicAuthLayer, HeaderTokenLayer, KeyStoreExt, Principal, SharedTokenVerifier,
    UserStoreExt,
};

fn inner()
-> impl Service<Request<()>, Response = Response<Bytes>, Error = Infallible, Future: Send> + Clone {
    tower::service_fn(|req: Request<()>| async move {
        let n = req
            .extensions()
            .get::<Principal>()
            .map_or(0, |p| p.id.len());
        Ok::<_, Infallible>(Response::new(Bytes::from_static(if n > 0 {
            b"y"
        } else {
            b"n"
        })))
    })
}

fn run<S>(svc: &mut S, make: &dyn Fn() -> Request<()>) -> u16
where
    S: Service<Request<()>, Response = Response<Bytes>, Error = Infallible>,
{
    let svc = svc
        .ready()
        .now_or_never()
        .expect("ready")
        .expect("infallible");
    svc.call(make())
        .now_or_never()
        .expect("completes at once")
        .expect("infallible")
        .status()
        .as_u16()
}

fn bench(c: &mut Criterion) {
    let keys = MemoryKeyStore::new();
    let key = futures_util::FutureExt::now_or_never(keys.insert_plaintext(
        KeyKind::AppApiKey,
        "k1".into(),
        "demo-app-key-1",
        Principal::app("demo-app"),
        None,
    ))
    .expect("memory store is synchronous")
    .expect("insert");
    black_box(key);
    let users = MemoryUserStore::new();

    let with_token = || {
        Request::get("/whoami")
            .header("x-auth-token", "s3rver-token")
            .body(())
            .unwrap()
    };
    let with_app_key = || {
        Request::get("/whoami")
            .header("x-voltmx-app-api-key", "demo-app-key-1")
            .body(())
            .unwrap()
    };
    let wrong_token = || {
        Request::get("/whoami")
            .header("x-auth-token", "nope")
            .body(())
            .unwrap()
    };
    let query_token = || {
        Request::get("/whoami?a=1&token=s3rver-token&b=2")
            .body(())
            .unwrap()
    };

    let mut g = c.benchmark_group("per_request");
    let mut bare = inner();
    g.bench_function("bare", |b| b.iter(|| run(&mut bare, &with_token)));

    let shared = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver-token"))
        .with_query("token");
    let mut svc = shared.layer(inner());
    assert_eq!(run(&mut svc, &with_token), 200);
    g.bench_function("shared_token", |b| b.iter(|| run(&mut svc, &with_token)));
    assert_eq!(run(&mut svc, &query_token), 200);
    g.bench_function("query_token", |b| b.iter(|| run(&mut svc, &query_token)));
    assert_eq!(run(&mut svc, &wrong_token), 401);
    g.bench_function("rejected", |b| b.iter(|| run(&mut svc, &wrong_token)));

    let mut svc = AppApiKeyLayer::new("X-VoltMX-App-API-Key", keys.verifier(KeyKind::AppApiKey))
        .layer(inner());
    assert_eq!(run(&mut svc, &with_app_key), 200);
    g.bench_function("memory_key", |b| b.iter(|| run(&mut svc, &with_app_key)));

    let cache =
        tower_authn::cache::VerificationCache::new(tower_authn::invalidate::Invalidator::new());
    let mut svc = AppApiKeyLayer::new(
        "X-VoltMX-App-API-Key",
        cache.wrap(keys.verifier(KeyKind::AppApiKey)),
    )
    .layer(inner());
    assert_eq!(run(&mut svc, &with_app_key), 200);
    g.bench_function("cached_key", |b| b.iter(|| run(&mut svc, &with_app_key)));

    let any = BasicAuthLayer::new(users.password_verifier())
        .or(HeaderTokenLayer::new(
            "X-Auth-Token",
            SharedTokenVerifier::new("s3rver-token"),
        ))
        .or(AppApiKeyLayer::new(
            "X-VoltMX-App-API-Key",
            keys.verifier(KeyKind::AppApiKey),
        ));
    let mut svc = any.layer(inner());
    assert_eq!(run(&mut svc, &with_app_key), 200);
    g.bench_function("any_of_3", |b| b.iter(|| run(&mut svc, &with_app_key)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
