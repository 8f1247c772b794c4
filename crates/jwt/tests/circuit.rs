//! Remote identity sources that fail open a circuit (issue 11): while the source is known
//! down, requests answer 503 at once without a fetch; after the back-off (the test clock is
//! advanced, nothing sleeps) exactly one probe goes out. And a `FetchError`, or any error
//! that follows it, never holds the URL that carries Facebook's app secret (issue 12).

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use secrecy::SecretString;
use tokio::sync::Notify;
use tower_authn_core::ErrorKind;
use tower_authn_core::clock::ManualClock;
use tower_authn_jwt::facebook::{self, FacebookDebugToken};
use tower_authn_jwt::{
    Algorithm, CircuitConfig, FetchError, HttpFetcher, JwtIssuer, JwtVerifier, RemoteJwks,
    RemoteJwksConfig, SigningKey,
};

const NOW: u64 = 1_700_000_000;
const APP_ID: &str = "123456789012345";
const APP_SECRET: &str = "fb-app-secret-0123456789abcdef";

/// A fetcher that counts its calls, fails while `down`, and answers `body` otherwise.
#[derive(Clone)]
struct Flaky {
    calls: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    body: Arc<String>,
}

impl Flaky {
    fn new(body: String) -> Self {
        Self {
            calls: Arc::new(AtomicUsize::new(0)),
            down: Arc::new(AtomicBool::new(true)),
            body: Arc::new(body),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn fetcher(&self) -> impl HttpFetcher + use<> {
        let this = self.clone();
        move |_req: http::Request<Bytes>| {
            this.calls.fetch_add(1, Ordering::SeqCst);
            let down = this.down.load(Ordering::SeqCst);
            let body = Bytes::from(this.body.as_str().to_owned());
            async move {
                if down {
                    Err(FetchError::new("connection refused"))
                } else {
                    Ok(http::Response::new(body))
                }
            }
        }
    }
}

fn facebook_answer() -> String {
    serde_json::json!({"data": {
        "app_id": APP_ID, "type": "USER", "is_valid": true, "user_id": "10001",
        "expires_at": NOW + 3600, "scopes": ["email"]
    }})
    .to_string()
}

#[tokio::test]
async fn facebook_down_answers_503_at_once_and_probes_once_after_the_backoff() {
    let graph = Flaky::new(facebook_answer());
    let clock = ManualClock::at_unix(NOW);
    let verifier = facebook::verifier(FacebookDebugToken::new(
        APP_ID,
        SecretString::from(APP_SECRET),
        graph.fetcher(),
    ))
    .with_clock(clock.clone())
    .with_circuit(
        CircuitConfig::new()
            .with_initial_backoff(Duration::from_secs(2))
            .with_max_backoff(Duration::from_secs(8)),
    );
    let e = verifier.authenticate("tok-0").await.unwrap_err();
    assert_eq!(
        (e.kind(), e.status().as_u16()),
        (ErrorKind::Unavailable, 503)
    );
    assert_eq!(graph.calls(), 1);
    assert!(verifier.is_source_down());

    // Open: a hundred requests, a hundred distinct tokens, no call to Graph.
    for i in 0..100 {
        let e = verifier
            .authenticate(&format!("tok-{i}"))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 503);
    }
    assert_eq!(graph.calls(), 1);

    // Back-offs 2 s, 4 s, 8 s, 8 s (capped): one probe at the end of each, none before.
    for backoff in [2, 4, 8, 8] {
        clock.advance(Duration::from_secs(backoff) - Duration::from_millis(1));
        let before = graph.calls();
        assert_eq!(
            verifier.authenticate("early").await.unwrap_err().status(),
            503
        );
        assert_eq!(graph.calls(), before, "no probe before the back-off ends");
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            verifier.authenticate("probe").await.unwrap_err().status(),
            503
        );
        assert_eq!(graph.calls(), before + 1, "one probe");
        assert_eq!(
            verifier.authenticate("after").await.unwrap_err().status(),
            503
        );
        assert_eq!(graph.calls(), before + 1);
    }

    // Graph is back: the next probe closes the circuit.
    graph.down.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(8));
    assert_eq!(verifier.authenticate("tok-a").await.unwrap().id, "10001");
    assert_eq!(verifier.authenticate("tok-b").await.unwrap().id, "10001");
    assert!(!verifier.is_source_down());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_probe_at_a_time() {
    let calls = Arc::new(AtomicUsize::new(0));
    let fail = Arc::new(AtomicBool::new(true));
    let release = Arc::new(Notify::new());
    let (c, f, r) = (Arc::clone(&calls), Arc::clone(&fail), Arc::clone(&release));
    let fetcher = move |_req: http::Request<Bytes>| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        let (fail, release) = (f.load(Ordering::SeqCst), Arc::clone(&r));
        async move {
            if n == 1 {
                release.notified().await; // the probe hangs until the test lets it go
            }
            if fail {
                Err(FetchError::new("down"))
            } else {
                Ok(http::Response::new(Bytes::from(facebook_answer())))
            }
        }
    };
    let clock = ManualClock::at_unix(NOW);
    let verifier = facebook::verifier(FacebookDebugToken::new(
        APP_ID,
        SecretString::from(APP_SECRET),
        fetcher,
    ))
    .with_clock(clock.clone());
    assert_eq!(verifier.authenticate("t").await.unwrap_err().status(), 503);
    clock.advance(Duration::from_secs(1));
    fail.store(false, Ordering::SeqCst);
    let probe = {
        let v = verifier.clone();
        tokio::spawn(async move { v.authenticate("probe").await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while calls.load(Ordering::SeqCst) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the probe never went out"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // While the probe is out, every other request answers 503 at once.
    for i in 0..20 {
        let e = verifier
            .authenticate(&format!("other-{i}"))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 503);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    release.notify_one();
    assert_eq!(probe.await.unwrap().unwrap().id, "10001");
    assert_eq!(verifier.authenticate("later").await.unwrap().id, "10001");
}

#[tokio::test]
async fn remote_jwks_down_answers_503_at_once_and_probes_once_after_the_backoff() {
    let key = SigningKey::ec_pem(support::keys::EC256)
        .unwrap()
        .with_kid("a");
    let jwks = serde_json::json!({"keys": [key.public_jwk().unwrap()]}).to_string();
    let source = Flaky::new(jwks);
    let clock = ManualClock::at_unix(NOW);
    let config = RemoteJwksConfig::new()
        .with_failure_backoff(Duration::from_secs(5))
        .with_max_failure_backoff(Duration::from_secs(20));
    let remote = RemoteJwks::with_config("https://idp.example/jwks", source.fetcher(), config)
        .unwrap()
        .with_clock(clock.clone());
    let verifier = JwtVerifier::with_keys(remote).with_clock(clock.clone());
    let token = JwtIssuer::new(key.clone())
        .with_clock(clock.clone())
        .issue_for_subject("alice")
        .unwrap();

    assert_eq!(
        verifier.authenticate(&token).await.unwrap_err().status(),
        503
    );
    assert_eq!(source.calls(), 1);
    for _ in 0..100 {
        let e = verifier.authenticate(&token).await.unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.detail()),
            (503, "jwks: source down (circuit open)")
        );
    }
    assert_eq!(source.calls(), 1);
    // 5 s, 10 s, 20 s, 20 s: one probe at the end of each.
    for backoff in [5, 10, 20, 20] {
        clock.advance(Duration::from_secs(backoff - 1));
        assert_eq!(
            verifier.authenticate(&token).await.unwrap_err().status(),
            503
        );
        let before = source.calls();
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            verifier.authenticate(&token).await.unwrap_err().status(),
            503
        );
        assert_eq!(
            verifier.authenticate(&token).await.unwrap_err().status(),
            503
        );
        assert_eq!(source.calls(), before + 1);
    }
    source.down.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(20));
    assert_eq!(verifier.authenticate(&token).await.unwrap().id, "alice");
    assert_eq!(verifier.authenticate(&token).await.unwrap().id, "alice");
    assert_eq!(source.calls(), 5 + 1);
    assert!(!verifier.keys().is_source_down());
    assert_eq!(Algorithm::ES256, key.algorithm());
}

#[tokio::test]
async fn no_error_holds_the_url_with_the_facebook_app_secret() {
    // What a fetcher sees: the secret is in the query, as Graph requires.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&seen);
    let failing = move |req: http::Request<Bytes>| {
        log.lock().unwrap().push(req.uri().to_string());
        async { Err::<http::Response<Bytes>, _>(FetchError::new("connection refused")) }
    };
    let graph = FacebookDebugToken::new(APP_ID, SecretString::from(APP_SECRET), failing);
    let verifier = facebook::verifier(graph);
    let e = verifier.authenticate("user-token").await.unwrap_err();
    let url = seen.lock().unwrap()[0].clone();
    assert!(
        url.contains(&format!("access_token={APP_ID}%7C{APP_SECRET}")),
        "{url}"
    );
    let open = verifier.authenticate("user-token-2").await.unwrap_err();

    // The real client, failing every way it can, with that URL.
    let mut errors: Vec<String> = vec![
        format!("{e:?} {e} {}", e.detail()),
        format!("{open:?} {open} {}", open.detail()),
        format!("{verifier:?}"),
    ];
    let closed = url.replace("https://graph.facebook.com", "http://127.0.0.1:9");
    let timeout = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _held = listener.accept().await; // accepts and never answers
            std::future::pending::<()>().await;
        });
        url.replace("https://graph.facebook.com", &format!("http://{addr}"))
    };
    for (target, limit) in [
        (closed.as_str(), Duration::from_secs(20)),
        (timeout.as_str(), Duration::from_millis(200)),
        (url.as_str(), Duration::from_secs(20)), // https on a plain-HTTP client
    ] {
        let fetcher = tower_authn_jwt::HyperFetcher::new().with_timeout(limit);
        let request = http::Request::get(target).body(Bytes::new()).unwrap();
        let err = fetcher.fetch(request).await.unwrap_err();
        errors.push(format!("{err:?} {err}"));
        let via_graph = facebook::verifier(
            FacebookDebugToken::new(APP_ID, SecretString::from(APP_SECRET), fetcher)
                .with_base_url(target.split("/v19.0").next().unwrap()),
        );
        let e = via_graph.authenticate("user-token").await.unwrap_err();
        assert_eq!(e.status(), 503);
        errors.push(format!("{e:?} {e} {} {via_graph:?}", e.detail()));
    }
    for text in &errors {
        assert!(!text.contains(APP_SECRET), "{text}");
        assert!(!text.contains("access_token"), "{text}");
        assert!(!text.contains("user-token"), "{text}");
    }
}
