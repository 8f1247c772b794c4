//! The browser harness's self-test: a real headless Chromium, driven over DevTools, enforces
//! CORS between loopback origins (so a browser test cannot pass by faking it), opens and
//! refuses WebSockets, and keeps `HttpOnly` cookies from scripts.
//!
//! Needs Debian's chromium (`scripts/deps`); without it every test here fails.

#[path = "support/chromium.rs"]
mod chromium;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chromium::Chromium;
use serde_json::{Value, json};
use tower::util::MapRequestLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

const PAGE: &str = "<!doctype html><html><head><title>origin</title></head>\
                    <body><p>a page on its own origin</p></body></html>";

/// Serves `router` on a free loopback port until the test ends.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A server that only serves pages (origins A and C).
fn page_server() -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/login",
            get(|| async {
                let mut headers = HeaderMap::new();
                headers.append(
                    header::SET_COOKIE,
                    HeaderValue::from_static("sid=hidden-from-js; HttpOnly; SameSite=Lax; Path=/"),
                );
                headers.append(
                    header::SET_COOKIE,
                    HeaderValue::from_static("visible=1; SameSite=Lax; Path=/"),
                );
                (headers, Html(PAGE))
            }),
        )
}

/// One request as the API server received it, before its CORS layer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    method: Method,
    path: String,
    origin: Option<String>,
    token: Option<String>,
    /// A preflight's `Access-Control-Request-Headers`.
    wants_headers: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    /// What arrived since the last call.
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }
}

fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The API server (origin B): CORS for `allowed` only, a token route, a WebSocket echo and a
/// WebSocket route that refuses before the upgrade. Every request it receives is logged.
fn api_server(allowed: &str, log: Log) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::exact(
            HeaderValue::from_str(allowed).expect("origin"),
        ))
        .allow_methods([Method::GET])
        .allow_headers([header::HeaderName::from_static("x-auth-token")])
        .expose_headers([header::WWW_AUTHENTICATE]);
    let record = MapRequestLayer::new(move |req: Request<axum::body::Body>| {
        let headers = req.headers();
        log.0.lock().expect("log").push(Seen {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            origin: text(headers, "origin"),
            token: text(headers, "x-auth-token"),
            wants_headers: text(headers, "access-control-request-headers"),
        });
        req
    });
    Router::new()
        .route("/api", get(api))
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        if let Message::Text(text) = message {
                            if socket.send(Message::Text(text)).await.is_err() {
                                break;
                            }
                        }
                    }
                })
            }),
        )
        .route("/ws-refused", get(|| async { refused() }))
        .layer(cors)
        .layer(record)
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, r#"Token realm="t""#)],
        axum::Json(json!({"error": "missing_credentials"})),
    )
        .into_response()
}

async fn api(headers: HeaderMap) -> Response {
    if headers.get("x-auth-token").map(HeaderValue::as_bytes) == Some(b"good") {
        axum::Json(json!({"user": "alice"})).into_response()
    } else {
        refused()
    }
}

fn seen(method: Method, path: &str, origin: &str, token: Option<&str>) -> Seen {
    Seen {
        method,
        path: path.to_owned(),
        origin: Some(origin.to_owned()),
        token: token.map(str::to_owned),
        wants_headers: None,
    }
}

/// A fetch from the page to `url`, as JSON: the status, the challenge and the body, or the
/// error's name and message when the browser refuses to hand over the answer.
fn fetch_js(url: &str, token: Option<&str>) -> String {
    let headers = token.map_or_else(|| "{}".to_owned(), |t| format!("{{'X-Auth-Token': '{t}'}}"));
    format!(
        "(async () => {{
            try {{
                const res = await fetch('{url}', {{headers: {headers}}});
                return {{
                    status: res.status,
                    challenge: res.headers.get('www-authenticate'),
                    body: await res.json(),
                }};
            }} catch (e) {{
                return {{error: e.name, message: e.message}};
            }}
        }})()"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_enforces_cors_between_loopback_origins() {
    let page_a = serve(page_server()).await;
    let origin_a = format!("http://{page_a}");
    let log = Log::default();
    let api_b = serve(api_server(&origin_a, log.clone())).await;
    let api = format!("http://{api_b}/api");

    let browser = Chromium::launch().await;
    let page = browser.new_page().await;
    page.navigate(&format!("{origin_a}/")).await;
    assert_eq!(page.eval("location.origin").await, json!(origin_a));
    assert_eq!(page.eval("document.readyState").await, json!("complete"));

    // A custom header makes the fetch preflighted: OPTIONS first, then the GET.
    let ok = page.eval(&fetch_js(&api, Some("good"))).await;
    assert_eq!(
        ok,
        json!({"status": 200, "challenge": null, "body": {"user": "alice"}})
    );
    let preflight = Seen {
        wants_headers: Some("x-auth-token".to_owned()),
        ..seen(Method::OPTIONS, "/api", &origin_a, None)
    };
    assert_eq!(
        log.take(),
        [
            preflight,
            seen(Method::GET, "/api", &origin_a, Some("good"))
        ]
    );

    // Without it the request is simple (no preflight), and the exposed challenge is readable.
    let challenged = page.eval(&fetch_js(&api, None)).await;
    assert_eq!(
        challenged,
        json!({
            "status": 401,
            "challenge": r#"Token realm="t""#,
            "body": {"error": "missing_credentials"},
        })
    );
    assert_eq!(log.take(), [seen(Method::GET, "/api", &origin_a, None)]);

    // A third server is another origin, which B does not allow.
    let page_c = serve(page_server()).await;
    let origin_c = format!("http://{page_c}");
    page.navigate(&format!("{origin_c}/")).await;
    assert_eq!(page.eval("location.origin").await, json!(origin_c));

    // The preflight is refused (no Access-Control-Allow-Origin), so the GET is never sent.
    let blocked = page.eval(&fetch_js(&api, Some("good"))).await;
    assert_eq!(blocked["error"], "TypeError", "{blocked}");
    let preflight_c = Seen {
        wants_headers: Some("x-auth-token".to_owned()),
        ..seen(Method::OPTIONS, "/api", &origin_c, None)
    };
    assert_eq!(log.take(), [preflight_c]);

    // A simple request is sent and answered, but the browser withholds the answer.
    let withheld = page.eval(&fetch_js(&api, None)).await;
    assert_eq!(withheld["error"], "TypeError", "{withheld}");
    assert_eq!(log.take(), [seen(Method::GET, "/api", &origin_c, None)]);

    // The same exception, uncaught, is what `try_eval` reports.
    let uncaught = page
        .try_eval(&format!("fetch('{api}').then(r => r.status)"))
        .await;
    let message = uncaught.expect_err("a CORS refusal rejects the fetch");
    assert!(
        message.starts_with("TypeError: Failed to fetch"),
        "{message}"
    );
    assert_eq!(log.take().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_opens_websockets_and_sees_refused_upgrades_fail() {
    let page_a = serve(page_server()).await;
    let origin_a = format!("http://{page_a}");
    let log = Log::default();
    let api_b = serve(api_server(&origin_a, log.clone())).await;

    let browser = Chromium::launch().await;
    let page = browser.new_page().await;
    page.navigate(&format!("{origin_a}/")).await;

    let echoed = page
        .eval(&format!(
            "new Promise((resolve, reject) => {{
                const ws = new WebSocket('ws://{api_b}/ws');
                const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10000);
                ws.onopen = () => ws.send('ping');
                ws.onmessage = (e) => {{ clearTimeout(timer); ws.close(); resolve(e.data); }};
                ws.onerror = () => {{ clearTimeout(timer); reject(new Error('socket error')); }};
            }})"
        ))
        .await;
    assert_eq!(echoed, json!("ping"));

    // 401 before the upgrade: an error and an abnormal close (1006), never an open.
    let refused = page
        .eval(&format!(
            "new Promise((resolve) => {{
                const events = [];
                const ws = new WebSocket('ws://{api_b}/ws-refused');
                ws.onopen = () => events.push('open');
                ws.onerror = () => events.push('error');
                ws.onclose = (e) => {{ events.push('close ' + e.code); resolve(events); }};
            }})"
        ))
        .await;
    assert_eq!(refused, json!(["error", "close 1006"]));

    // WebSockets have no CORS: the browser only says where the page is from (`Origin`), and
    // checking it is the server's business.
    let seen = log.take();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.method == Method::GET && s.origin.as_deref() == Some(origin_a.as_str())),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        ["/ws", "/ws-refused"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_reports_values_exceptions_cookies_and_failed_loads() {
    let page_a = serve(page_server()).await;
    let origin_a = format!("http://{page_a}");

    let browser = Chromium::launch().await;
    assert!(browser.port() > 0);
    let page = browser.new_page().await;

    // HttpOnly cookies are stored, visible to DevTools, hidden from the page's script.
    page.navigate(&format!("{origin_a}/login")).await;
    assert_eq!(page.eval("document.cookie").await, json!("visible=1"));
    let cookies = page.cookies().await;
    let sid = cookies
        .iter()
        .find(|c| c["name"] == "sid")
        .unwrap_or_else(|| panic!("no sid cookie in {cookies:?}"));
    assert_eq!(sid["value"], "hidden-from-js");
    assert_eq!(sid["httpOnly"], true);
    assert_eq!(sid["sameSite"], "Lax");
    let visible = cookies
        .iter()
        .find(|c| c["name"] == "visible")
        .expect("visible");
    assert_eq!(visible["httpOnly"], false);
    assert_eq!(browser.cookies().await.len(), cookies.len());
    assert_eq!(page.cookies_for(&format!("{origin_a}/")).await.len(), 2);

    // Values come back as JSON, promises awaited, `undefined` as null.
    assert_eq!(page.eval("1 + 2").await, json!(3));
    assert_eq!(
        page.eval("Promise.resolve({a: [1, 'x', null]})").await,
        json!({"a": [1, "x", null]})
    );
    assert_eq!(page.eval("undefined").await, Value::Null);

    // A throw or a rejection is the exception's text.
    let thrown = page.try_eval("throw new RangeError('boom')").await;
    assert!(
        thrown
            .as_ref()
            .is_err_and(|e| e.starts_with("RangeError: boom")),
        "{thrown:?}"
    );
    let rejected = page.try_eval("Promise.reject(new Error('later'))").await;
    assert!(
        rejected
            .as_ref()
            .is_err_and(|e| e.starts_with("Error: later")),
        "{rejected:?}"
    );

    // A load that fails (nothing listens) panics with Chromium's reason.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    let url = format!("http://{closed}/");
    let tab = page.clone();
    let failed = tokio::spawn(async move { tab.navigate(&url).await })
        .await
        .expect_err("navigating to a closed port panics");
    let reason = failed.into_panic();
    let reason = reason
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or("(not a string)");
    assert!(reason.contains("net::ERR_CONNECTION_REFUSED"), "{reason}");

    // The tab still works after a failed load.
    page.navigate(&format!("{origin_a}/")).await;
    assert_eq!(page.eval("document.title").await, json!("origin"));
}
