//! A JWKS server on 127.0.0.1:0, fetched through the real `HyperFetcher`: first-request
//! single-flight, rotation, unknown `kid`, `Cache-Control`, outage, slow server.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_authn_core::ErrorKind;
use tower_authn_core::clock::ManualClock;
use tower_authn_jwt::{
    Algorithm, HyperFetcher, JwtIssuer, JwtVerifier, RemoteJwks, RemoteJwksConfig, SigningKey,
};

use support::keys;

const NOW: u64 = 1_700_000_000;

#[derive(Default)]
struct Behaviour {
    jwks: Mutex<String>,
    status: Mutex<u16>,
    delay: Mutex<Duration>,
    cache_control: Mutex<Option<String>>,
    hits: AtomicUsize,
}

struct JwksServer {
    url: String,
    state: Arc<Behaviour>,
}

impl JwksServer {
    async fn start(jwks: String) -> Self {
        let state = Arc::new(Behaviour {
            jwks: Mutex::new(jwks),
            status: Mutex::new(200),
            ..Default::default()
        });
        let app = Router::new()
            .route("/jwks.json", get(serve))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, state }
    }

    fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    fn set_jwks(&self, jwks: String) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    fn set_status(&self, status: u16) {
        *self.state.status.lock().unwrap() = status;
    }

    fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    fn set_cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = Some(value.to_owned());
    }
}

async fn serve(State(state): State<Arc<Behaviour>>) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let status = http::StatusCode::from_u16(*state.status.lock().unwrap()).unwrap();
    let body = state.jwks.lock().unwrap().clone();
    let mut response = (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Some(cc) = state.cache_control.lock().unwrap().clone() {
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, cc.parse().unwrap());
    }
    response
}

fn key_a() -> SigningKey {
    SigningKey::ec_pem(keys::EC256).unwrap().with_kid("a")
}

fn key_b() -> SigningKey {
    SigningKey::ed_pem(keys::ED).unwrap().with_kid("b")
}

fn jwks(keys: &[&SigningKey]) -> String {
    serde_json::json!({"keys": keys.iter().map(|k| k.public_jwk().unwrap()).collect::<Vec<_>>()})
        .to_string()
}

fn token(key: &SigningKey, clock: &ManualClock) -> String {
    JwtIssuer::new(key.clone())
        .with_clock(clock.clone())
        .issue_for_subject("alice")
        .unwrap()
}

fn verifier(
    server: &JwksServer,
    clock: &ManualClock,
    config: RemoteJwksConfig,
) -> JwtVerifier<RemoteJwks> {
    let remote = RemoteJwks::with_config(&server.url, HyperFetcher::new(), config)
        .unwrap()
        .with_clock(clock.clone());
    JwtVerifier::with_keys(remote).with_clock(clock.clone())
}

/// Polls for `event` (a background fetch seen, or landed) with a generous deadline; fails
/// the test if it never happens. No fixed sleep stands in for the event itself.
async fn wait_until(what: &str, mut event: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !event().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_cause_exactly_one_fetch() {
    let server = JwksServer::start(jwks(&[&key_a()])).await;
    server.set_delay(Duration::from_millis(200));
    let clock = ManualClock::at_unix(NOW);
    let v = verifier(&server, &clock, RemoteJwksConfig::new());
    let t = token(&key_a(), &clock);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (v, t) = (v.clone(), t.clone());
            tokio::spawn(async move { v.authenticate(&t).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().id, "alice");
    }
    assert_eq!(server.hits(), 1);
    assert_eq!(v.keys().fetch_count(), 1);
    // And later requests are served from the cache.
    v.authenticate(&t).await.unwrap();
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn rotation_and_unknown_kid_refresh_is_rate_limited() {
    let server = JwksServer::start(jwks(&[&key_a()])).await;
    let clock = ManualClock::at_unix(NOW);
    let v = verifier(
        &server,
        &clock,
        RemoteJwksConfig::new().with_min_refresh_interval(Duration::from_secs(30)),
    );
    assert!(v.authenticate(&token(&key_a(), &clock)).await.is_ok());
    assert_eq!(server.hits(), 1);

    // The issuer rotates to key b: the first b token's unknown kid triggers one refresh.
    server.set_jwks(jwks(&[&key_b()]));
    clock.advance(Duration::from_secs(31));
    assert_eq!(
        v.authenticate(&token(&key_b(), &clock))
            .await
            .unwrap()
            .key_id
            .as_deref(),
        Some("b")
    );
    assert_eq!(server.hits(), 2);

    // Key a is gone now; its tokens are refused, and the unknown kid does not refetch
    // within the interval, however many arrive.
    for _ in 0..20 {
        let e = v.authenticate(&token(&key_a(), &clock)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
    }
    assert_eq!(server.hits(), 2);
    // Random kids (an attacker probing) do not either.
    let forged = SigningKey::ec_pem(keys::EC256)
        .unwrap()
        .with_kid("random-kid-123");
    assert!(v.authenticate(&token(&forged, &clock)).await.is_err());
    assert_eq!(server.hits(), 2);
    // After the interval, one more refresh is allowed.
    clock.advance(Duration::from_secs(31));
    assert!(v.authenticate(&token(&forged, &clock)).await.is_err());
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn cache_control_max_age_drives_background_refresh() {
    let server = JwksServer::start(jwks(&[&key_a()])).await;
    server.set_cache_control("public, max-age=100");
    let clock = ManualClock::at_unix(NOW);
    let config = RemoteJwksConfig::new().with_min_ttl(Duration::from_secs(10));
    let v = verifier(&server, &clock, config);
    let t = token(&key_a(), &clock);
    v.authenticate(&t).await.unwrap();
    clock.advance(Duration::from_secs(79));
    v.authenticate(&t).await.unwrap();
    // A fetch is counted when it starts, so no wait is needed to see that none did.
    assert_eq!(v.keys().fetch_count(), 1, "fresh for 80% of max-age");

    // Past 80% of max-age: the request is answered from the cache at once, and a refresh runs
    // in the background.
    server.set_jwks(jwks(&[&key_a(), &key_b()]));
    clock.advance(Duration::from_secs(2));
    v.authenticate(&t).await.unwrap();
    assert_eq!(
        v.keys().fetch_count(),
        2,
        "the refresh was started in the background"
    );
    // The refreshed set lands and knows b (an unknown kid within 30 s of the last fetch
    // does not fetch again, so polling for b cannot cause a fetch).
    let b = token(&key_b(), &clock);
    wait_until("the refreshed keys land", async || {
        v.authenticate(&b).await.is_ok()
    })
    .await;
    assert_eq!(server.hits(), 2);
    assert_eq!(v.keys().fetch_count(), 2);
}

#[tokio::test]
async fn last_good_keys_survive_a_bounded_outage_then_fail_closed() {
    let server = JwksServer::start(jwks(&[&key_a()])).await;
    server.set_cache_control("max-age=60");
    let clock = ManualClock::at_unix(NOW);
    let config = RemoteJwksConfig::new()
        .with_min_ttl(Duration::from_secs(1))
        .with_max_stale(Duration::from_secs(600))
        .with_failure_backoff(Duration::from_secs(5));
    let v = verifier(&server, &clock, config);
    v.authenticate(&token(&key_a(), &clock)).await.unwrap();

    // The JWKS server breaks. Past expiry but within max-stale: the old keys still work.
    server.set_status(500);
    clock.advance(Duration::from_secs(300));
    assert!(v.authenticate(&token(&key_a(), &clock)).await.is_ok());
    wait_until("the background refresh fails", async || {
        v.keys().is_source_down()
    })
    .await;
    assert_eq!(server.hits(), 2, "a background refresh was tried");
    clock.advance(Duration::from_secs(1));
    assert!(v.authenticate(&token(&key_a(), &clock)).await.is_ok());
    assert_eq!(
        v.keys().fetch_count(),
        2,
        "and not retried within the failure backoff"
    );

    // Past max-stale: no key can be had, so 503.
    clock.advance(Duration::from_secs(400));
    let e = v.authenticate(&token(&key_a(), &clock)).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.status().as_u16()),
        (ErrorKind::Unavailable, 503)
    );
    let hits = server.hits();
    // Within the failure backoff, failing fast without a fetch.
    assert_eq!(
        v.authenticate(&token(&key_a(), &clock))
            .await
            .unwrap_err()
            .status(),
        503
    );
    assert_eq!(server.hits(), hits);

    // That probe failed too: the back-off doubled (10 s).
    clock.advance(Duration::from_secs(6));
    assert_eq!(
        v.authenticate(&token(&key_a(), &clock))
            .await
            .unwrap_err()
            .status(),
        503
    );
    assert_eq!(server.hits(), hits);
    // The server recovers: after the back-off, one probe brings the keys back.
    server.set_status(200);
    clock.advance(Duration::from_secs(4));
    assert!(v.authenticate(&token(&key_a(), &clock)).await.is_ok());
    assert_eq!(server.hits(), hits + 1);
    assert!(!v.keys().is_source_down());
}

#[tokio::test]
async fn slow_server_times_out_and_fails_closed() {
    // The server would answer after a minute; the 200 ms limit answers 503 long before. The
    // detail says the limit fired (no elapsed-time assertion on a shared machine).
    let server = JwksServer::start(jwks(&[&key_a()])).await;
    server.set_delay(Duration::from_secs(60));
    let clock = ManualClock::at_unix(NOW);
    let v = verifier(
        &server,
        &clock,
        RemoteJwksConfig::new().with_timeout(Duration::from_millis(200)),
    );
    let e = v.authenticate(&token(&key_a(), &clock)).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.detail()),
        (ErrorKind::Unavailable, "jwks: fetch timed out")
    );
    assert_eq!(v.keys().fetch_count(), 1);

    // HyperFetcher's own limit works too.
    let fetcher = HyperFetcher::new().with_timeout(Duration::from_millis(200));
    let remote = RemoteJwks::new(&server.url, fetcher).unwrap();
    let e = remote.keys().await.unwrap_err();
    assert_eq!(
        (e.status().as_u16(), e.detail()),
        (503, "jwks: fetch timed out")
    );
}

#[tokio::test]
async fn unusable_documents_fail_closed() {
    let server = JwksServer::start("not json".to_owned()).await;
    let clock = ManualClock::at_unix(NOW);
    let config = RemoteJwksConfig::new().with_failure_backoff(Duration::ZERO);
    let v = verifier(&server, &clock, config);
    assert_eq!(
        v.authenticate(&token(&key_a(), &clock))
            .await
            .unwrap_err()
            .status(),
        503
    );
    // Only symmetric keys: refused in a published set.
    server.set_jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA","kid":"a"}]}"#.to_owned());
    assert_eq!(
        v.authenticate(&token(&key_a(), &clock))
            .await
            .unwrap_err()
            .status(),
        503
    );
    server.set_jwks(jwks(&[&key_a()]));
    assert!(v.authenticate(&token(&key_a(), &clock)).await.is_ok());
    // A 404 is a failure too.
    let missing = RemoteJwks::new(
        &server.url.replace("jwks.json", "nope"),
        HyperFetcher::new(),
    )
    .unwrap();
    assert_eq!(missing.keys().await.unwrap_err().status(), 503);
    // Nothing listens here (the server's port, another path scheme): 503 as well.
    let closed = RemoteJwks::new("http://127.0.0.1:9/jwks.json", HyperFetcher::new()).unwrap();
    assert_eq!(closed.keys().await.unwrap_err().status(), 503);
}

#[tokio::test]
async fn prefetch_and_refresher() {
    let server = JwksServer::start(jwks(&[&key_a()])).await;
    let remote = RemoteJwks::new(&server.url, HyperFetcher::new()).unwrap();
    let keys = remote.prefetch().await.unwrap();
    assert!(keys.contains_kid("a"));
    assert_eq!(keys.iter().next().unwrap().algorithms(), [Algorithm::ES256]);
    let task = remote.spawn_refresher();
    wait_until("the refresher fetches at start", async || {
        server.hits() >= 2
    })
    .await;
    drop(remote);
    // The task holds only a weak reference; it ends once its sleep is over. Abort to finish now.
    task.abort();
}
