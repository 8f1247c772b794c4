//! The session cookie routes: login sets an `HttpOnly` cookie whose token verifies, wrong
//! password and unknown user answer alike, bad bodies are 400 / 413 / 415, the origin guard
//! holds on login and logout, logout ends the session and clears the cookie, and a store
//! that cannot answer leaves both as they were.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use tower_authn_axum::Principal;
use tower_authn_axum::session::{self, SessionCookie};
use tower_authn_core::StoreError;
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::issue::{OpaqueTokenIssuer, Sessions};
use tower_authn_core::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
use tower_authn_core::store::{KeyDigest, KeyHasher, KeyRecord};

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
use tower_authn_core::{CredentialLocation, KeyStore, UserRecord, UserStoreExt, Verifier, memory};

/// A memory store whose writes fail while `down` is set.
#[derive(Clone)]
struct Flaky {
    inner: MemoryKeyStore,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn fail<T: Send + 'static>(&self) -> Option<Result<T, StoreError>> {
        self.down
            .load(Ordering::SeqCst)
            .then(|| Err(StoreError::new("store down")))
    }
}

impl KeyStore for Flaky {
    fn key_hasher(&self) -> &KeyHasher {
        self.inner.key_hasher()
    }
    fn find_by_digest(
        &self,
        kind: KeyKind,
        digest: KeyDigest,
    ) -> BoxFuture<'_, Result<Option<KeyRecord>, StoreError>> {
        self.inner.find_by_digest(kind, digest)
    }
    fn find_by_id<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        self.inner.find_by_id(kind, id)
    }
    fn put(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        match self.fail() {
            Some(e) => Box::pin(async move { e }),
            None => self.inner.put(record),
        }
    }
    fn revoke<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        match self.fail() {
            Some(e) => Box::pin(async move { e }),
            None => self.inner.revoke(kind, id),
        }
    }
    fn delete<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        match self.fail() {
            Some(e) => Box::pin(async move { e }),
            None => self.inner.delete(kind, id),
        }
    }
    fn list<'a>(
        &'a self,
        kind: KeyKind,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        self.inner.list(kind, owner)
    }
}

struct Fixture {
    app: Router,
    sessions: Sessions<Flaky>,
    down: Arc<AtomicBool>,
}

fn fixture(cookie: SessionCookie) -> Fixture {
    let users = MemoryUserStore::new();
    users.insert(
        UserRecord::new(
            "alice",
            tower_authn_password::hash_password("wonderland").unwrap(),
        )
        .with_roles(["admin"]),
    );
    let down = Arc::new(AtomicBool::new(false));
    let keys = Flaky {
        inner: memory::MemoryKeyStore::new(),
        down: Arc::clone(&down),
    };
    let sessions = Sessions::new(OpaqueTokenIssuer::new(keys), users.clone());
    let app = session::router(users.password_verifier(), sessions.clone(), cookie.clone()).route(
        "/whoami",
        get(|p: Principal| async move { p.into_id() })
            .route_layer(cookie.layer(sessions.verifier())),
    );
    Fixture {
        app,
        sessions,
        down,
    }
}

struct Sent {
    status: StatusCode,
    set_cookie: Option<String>,
    cache: Option<String>,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Sent {
    let res = app.clone().oneshot(req).await.unwrap();
    let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (set_cookie, cache) = (header("set-cookie"), header("cache-control"));
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Sent {
        status,
        set_cookie,
        cache,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn login(content_type: &str, body: &str, origin: Option<&str>) -> Request<Body> {
    let mut req = Request::post(session::LOGIN_PATH)
        .header("content-type", content_type)
        .header("host", "gw.example");
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

fn json_login(password: &str) -> Request<Body> {
    login(
        "application/json",
        &format!(r#"{{"login":"alice","password":"{password}"}}"#),
        Some("http://gw.example"),
    )
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn verifies(sessions: &Sessions<Flaky>, pair: &str) -> bool {
    let token = pair.trim_start_matches("authn_session=");
    sessions
        .verifier()
        .verify(TokenCredential::new(
            token,
            CredentialLocation::Cookie("authn_session".into()),
        ))
        .await
        .is_ok()
}

fn logout(pair: &str, origin: &str) -> Request<Body> {
    Request::post(session::LOGOUT_PATH)
        .header("cookie", pair)
        .header("host", "gw.example")
        .header("origin", origin)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn login_sets_an_httponly_cookie_whose_token_verifies() {
    let f = fixture(SessionCookie::new());
    for req in [
        json_login("wonderland"),
        login(
            "application/x-www-form-urlencoded",
            "login=alice&password=wonderland",
            Some("http://gw.example"),
        ),
    ] {
        let sent = send(&f.app, req).await;
        assert_eq!(sent.status, 204, "{}", sent.body);
        assert_eq!(sent.cache.as_deref(), Some("no-store"));
        let set = sent.set_cookie.unwrap();
        let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
        for a in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
            assert!(attrs.contains(&a), "{set}");
        }
        assert!(!attrs.contains(&"Secure"), "plain http: {set}");
        assert!(verifies(&f.sessions, &pair(&set)).await);
        let who = Request::get("/whoami")
            .header("cookie", pair(&set))
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&f.app, who).await.body, "alice");
    }
}

#[tokio::test]
async fn secure_when_always_or_when_a_trusted_proxy_says_https() {
    let always = fixture(SessionCookie::new().secure(session::Secure::Always));
    let set = send(&always.app, json_login("wonderland"))
        .await
        .set_cookie
        .unwrap();
    assert!(set.split(';').any(|a| a.trim() == "Secure"), "{set}");

    // Loopback is trusted by default; its X-Forwarded-Proto says HTTPS.
    let auto = fixture(SessionCookie::new());
    let mut req = json_login("wonderland");
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let set = send(&auto.app, req).await.set_cookie.unwrap();
    assert!(set.split(';').any(|a| a.trim() == "Secure"), "{set}");

    // A client elsewhere saying so is not believed.
    let mut req = json_login("wonderland");
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [203, 0, 113, 7],
            40000,
        ))));
    let set = send(&auto.app, req).await.set_cookie.unwrap();
    assert!(!set.split(';').any(|a| a.trim() == "Secure"), "{set}");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_answer_alike() {
    let f = fixture(SessionCookie::new());
    let wrong = send(&f.app, json_login("nope")).await;
    let unknown = send(
        &f.app,
        login(
            "application/json",
            r#"{"login":"mallory","password":"wonderland"}"#,
            Some("http://gw.example"),
        ),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert!(wrong.set_cookie.is_none() && unknown.set_cookie.is_none());
}

#[tokio::test]
async fn bad_bodies_are_400_413_415() {
    let f = fixture(SessionCookie::new());
    let own = Some("http://gw.example");
    let cases = [
        (login("application/json", "not json", own), 400),
        (login("application/json", r#"{"login":"alice"}"#, own), 400),
        (
            login("application/x-www-form-urlencoded", "login=alice", own),
            400,
        ),
        (
            login("text/plain", "login=alice&password=wonderland", own),
            415,
        ),
        (login("application/json", &"x".repeat(70 * 1024), own), 413),
    ];
    for (req, status) in cases {
        let sent = send(&f.app, req).await;
        assert_eq!(sent.status, status, "{}", sent.body);
        assert!(sent.set_cookie.is_none());
    }
}

#[tokio::test]
async fn login_and_logout_need_an_allowed_origin() {
    let f = fixture(SessionCookie::new().allow_origins(["https://app.example"]));
    for origin in [Some("https://evil.example"), Some("null")] {
        let sent = send(
            &f.app,
            login(
                "application/json",
                r#"{"login":"alice","password":"wonderland"}"#,
                origin,
            ),
        )
        .await;
        assert_eq!(sent.status, 403, "login from {origin:?}");
    }
    let set = send(
        &f.app,
        login(
            "application/json",
            r#"{"login":"alice","password":"wonderland"}"#,
            Some("https://app.example"),
        ),
    )
    .await
    .set_cookie
    .unwrap();
    let pair = pair(&set);
    let forged = send(&f.app, logout(&pair, "https://evil.example")).await;
    assert_eq!(forged.status, 403);
    assert!(
        verifies(&f.sessions, &pair).await,
        "a forged logout ends nothing"
    );
    let out = send(&f.app, logout(&pair, "https://app.example")).await;
    assert_eq!(out.status, 204);
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_cookie_only_when_the_store_answers() {
    let f = fixture(SessionCookie::new());
    let set = send(&f.app, json_login("wonderland"))
        .await
        .set_cookie
        .unwrap();
    let pair = pair(&set);

    f.down.store(true, Ordering::SeqCst);
    let failed = send(&f.app, logout(&pair, "http://gw.example")).await;
    assert_eq!(failed.status, 503, "{}", failed.body);
    assert!(
        failed.set_cookie.is_none(),
        "nothing cleared while the session lives"
    );
    f.down.store(false, Ordering::SeqCst);
    assert!(verifies(&f.sessions, &pair).await);

    let out = send(&f.app, logout(&pair, "http://gw.example")).await;
    assert_eq!(out.status, 204);
    let clear = out.set_cookie.unwrap();
    assert!(
        clear.starts_with("authn_session=;") && clear.contains("Max-Age=0"),
        "{clear}"
    );
    assert!(!verifies(&f.sessions, &pair).await, "the token is dead");
    // Without a live cookie, logout is a 401 (in JSON, without a challenge).
    let again = send(&f.app, logout(&pair, "http://gw.example")).await;
    assert_eq!(again.status, 401);
}
