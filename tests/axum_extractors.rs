//! The layers and the `Principal` extractors inside a real axum server over real HTTP.

mod support;

use axum::Router;
use axum::routing::get;
use support::{get as http_get, serve};
use tower_authn::prelude::*;

async fn whoami(p: Principal) -> axum::Json<Principal> {
    axum::Json(p)
}

async fn maybe(p: Option<Principal>) -> String {
    p.map_or_else(|| "anonymous".to_owned(), Principal::into_id)
}

async fn router() -> Router {
    let users = MemoryUserStore::new();
    users
        .add_user("alice", "wonderland", |u| {
            u.with_name("Alice Liddell").with_roles(["admin"])
        })
        .unwrap();
    users
        .add_user("bob", "builder", |u| u.with_roles(["user"]))
        .unwrap();
    let basic = BasicAuthLayer::new(users.password_verifier());
    let token = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver"))
        .with_query("token");
    Router::new()
        .route("/whoami", get(whoami).route_layer(basic.clone().or(token)))
        .route(
            "/admin",
            get(whoami).route_layer(basic.clone().require(Requirement::role("admin"))),
        )
        .route("/maybe", get(maybe).route_layer(basic.clone().optional()))
        // A handler that needs a principal behind an optional layer with its own shape.
        .route(
            "/optional-problem",
            get(whoami).route_layer(basic.optional().responder(ProblemJson::new())),
        )
        .route("/unprotected", get(whoami))
}

#[tokio::test]
async fn extractors_and_layers_over_http() {
    let addr = serve(router().await).await;
    let url = |p: &str| format!("http://{addr}{p}");

    let alice = http_get(
        &url("/whoami"),
        &[("authorization", "Basic YWxpY2U6d29uZGVybGFuZA==")],
    )
    .await;
    assert_eq!(alice.status, 200);
    assert_eq!(alice.json()["id"], "alice");
    assert_eq!(alice.json()["name"], "Alice Liddell");

    let server = http_get(&url("/whoami?token=s3rver"), &[]).await;
    assert_eq!(server.json()["kind"], "server");

    let none = http_get(&url("/whoami"), &[]).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.challenges().len(), 2);

    let bob = http_get(
        &url("/admin"),
        &[("authorization", "Basic Ym9iOmJ1aWxkZXI=")],
    )
    .await;
    assert_eq!(bob.status, 403);

    assert_eq!(http_get(&url("/maybe"), &[]).await.body, "anonymous");
    assert_eq!(
        http_get(
            &url("/maybe"),
            &[("authorization", "Basic Ym9iOmJ1aWxkZXI=")]
        )
        .await
        .body,
        "bob"
    );
    assert_eq!(
        http_get(&url("/maybe"), &[("authorization", "Basic Ym9iOng=")])
            .await
            .status,
        401
    );

    // Behind an optional layer, a handler that needs a principal answers 401 in the layer's
    // shape (here RFC 9457 problem+json), not the default one.
    let anonymous = http_get(&url("/optional-problem"), &[]).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.headers["content-type"],
        "application/problem+json"
    );
    assert_eq!(anonymous.json()["code"], "missing_credentials");
    assert_eq!(anonymous.json()["status"], 401);
    assert_eq!(anonymous.headers["cache-control"], "no-store");
    let authenticated = http_get(
        &url("/optional-problem"),
        &[("authorization", "Basic Ym9iOmJ1aWxkZXI=")],
    )
    .await;
    assert_eq!(authenticated.json()["id"], "bob");
    // Behind the default-shaped optional layer: the default shape.
    let route = Router::new().route(
        "/x",
        get(whoami).route_layer(
            BasicAuthLayer::new(MemoryUserStore::new().password_verifier()).optional(),
        ),
    );
    let addr2 = serve(route).await;
    let plain = http_get(&format!("http://{addr2}/x"), &[]).await;
    assert_eq!(plain.status, 401);
    assert_eq!(plain.json()["error"], "missing_credentials");
    // A 401 carries the layer's challenge (RFC 9110 §15.5.2), as the layer's own 401 does.
    assert_eq!(
        plain.challenges(),
        [r#"Basic realm="api", charset="UTF-8""#]
    );

    // A handler that wants a principal on a route without an auth layer: the server is
    // misconfigured, which must not look like bad credentials.
    let unprotected = http_get(&url("/unprotected"), &[]).await;
    assert_eq!(unprotected.status, 500);
    assert_eq!(unprotected.headers["content-type"], "application/json");
    assert_eq!(unprotected.json()["error"], "server_misconfigured");
    assert!(unprotected.challenges().is_empty());
}

/// Every event the subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("capture poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The missing layer is named in the log at error level, once per request, even when two
/// extractors of one handler ask; an optional layer's anonymous pass logs no error.
#[tokio::test(flavor = "current_thread")]
async fn a_missing_layer_is_logged_once_per_request() {
    use tower::ServiceExt as _;

    async fn twice(a: Result<Principal, PrincipalRejection>, b: Principal) -> String {
        assert!(a.unwrap_err().is_missing_layer());
        b.into_id()
    }

    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::ERROR)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let optional = BasicAuthLayer::new(MemoryUserStore::new().password_verifier()).optional();
    let app = Router::new()
        .route("/twice", get(twice))
        .route("/optional", get(whoami).route_layer(optional));
    let call = |path: &str| {
        let req = axum::http::Request::get(format!("{path}?token=secret-in-query"));
        app.clone()
            .oneshot(req.body(axum::body::Body::empty()).unwrap())
    };

    let res = call("/optional").await.unwrap();
    assert_eq!(res.status(), 401);
    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logged.is_empty(), "{logged}");

    let res = call("/twice").await.unwrap();
    assert_eq!(res.status(), 500);
    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let needle = "Principal extractor on a route without an auth layer: add .route_layer(..)";
    assert_eq!(logged.matches(needle).count(), 1, "{logged}");
    assert!(
        logged.contains("ERROR") && logged.contains("/twice"),
        "{logged}"
    );
    assert!(!logged.contains("secret-in-query"), "{logged}");

    call("/twice").await.unwrap();
    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        logged.matches(needle).count(),
        2,
        "one line per request: {logged}"
    );
}
