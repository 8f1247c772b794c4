//! Browsers as clients, in a real browser, through the gateway (GATEWAY.md "Browsers as
//! clients") and through the library's own example (`examples/browser.rs`): headless Chromium (Debian's, driven
//! over the DevTools protocol) loads a page from one loopback origin and calls the gateway on
//! another, so CORS, cookies and WebSockets are what Chromium enforces, not what a client
//! library assumes.
//!
//! - From the listed origin: a preflighted fetch for every scheme's route, a refusal whose
//!   script reads `WWW-Authenticate`, the XiVO login followed by the CTI WebSocket with the
//!   token (`?token=` and the `authn.bearer.` subprotocol), and a WebSocket with a bad token
//!   that never opens.
//! - On the gateway's own origin: a session login, `/auth/token` and `/whoami` with the
//!   `HttpOnly` cookie the script cannot read, then logout.
//! - From an origin that is not listed: no CORS header reaches the script (its fetch fails),
//!   and a cross-site POST carrying the cookie is refused (the session survives it).
//!
//! Needs Debian's chromium (`scripts/deps`); without it the test fails.

mod support;

#[path = "support/chromium.rs"]
mod chromium;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

// The example brings its own copy of the demo module the gateway's also loads.
#[allow(dead_code, unreachable_pub, clippy::duplicate_mod)]
#[path = "../examples/browser.rs"]
mod example;

use std::collections::HashMap;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use chromium::{Chromium, Page};
use gateway::{app, config};
use serde_json::{Value, json};
use support::{Server, alice_credentials};

const SHARED: &str = "browser-shared-token";
const PAGE: &str = "<!doctype html><html><head><title>app</title></head><body>app</body></html>";

/// A listener on a free loopback port serving a blank page: an origin of its own.
async fn page_origin() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, origin)
}

fn serve_page(listener: tokio::net::TcpListener) {
    let router = Router::new().route("/", get(|| async { Html(PAGE) }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

/// The gateway, listing `origins` in `GATEWAY_CORS_ORIGINS`.
async fn gateway(origins: &str) -> Server {
    let env: HashMap<&str, &str> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", SHARED),
        ("GATEWAY_JWT_SECRET", "browser-test-secret-0123456789abcdef"),
        ("CCAI_COMPANY_SECRET", "ccai-company-secret-0123456789"),
        ("GATEWAY_CORS_ORIGINS", origins),
    ]
    .into_iter()
    .collect();
    let config =
        config::Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("config");
    let router = app::build(&config).await.expect("gateway");
    Server::at(support::serve(router).await)
}

/// Runs `body` (an async function body using `G`, the gateway's origin) in `page`.
async fn run(page: &Page, gateway: &str, body: &str) -> Value {
    page.eval(&format!(
        "(async () => {{ const G = {gateway:?}; {body} }})()"
    ))
    .await
}

/// The fetch helper every script uses: status, readable body and the challenges.
const FETCH: &str = r#"
    const call = async (url, init) => {
        const res = await fetch(url, init);
        let body = await res.text();
        try { body = JSON.parse(body); } catch (_) {}
        return { status: res.status, body, challenges: res.headers.get('www-authenticate') };
    };
"#;

/// Opens a WebSocket and reports what happened: opened (with the selected protocol), the
/// first message, the echo of `hello`, or the error and close code when it never opens.
const SOCKET: &str = r#"
    const socket = (url, protocols) => new Promise((resolve) => {
        const seen = { opened: false, protocol: null, messages: [], events: [] };
        const ws = new WebSocket(url, protocols);
        const done = () => resolve(seen);
        setTimeout(() => { seen.events.push('timeout'); done(); }, 10000);
        ws.onopen = () => { seen.opened = true; seen.protocol = ws.protocol; };
        ws.onmessage = (m) => {
            seen.messages.push(m.data);
            if (seen.messages.length === 1) ws.send('hello');
            else { ws.close(1000); }
        };
        ws.onerror = () => seen.events.push('error');
        ws.onclose = (e) => { seen.events.push('close ' + e.code); done(); };
    });
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_on_another_origin_logs_in_calls_every_scheme_and_holds_a_socket() {
    let (listed, app_origin) = page_origin().await;
    let (unlisted, other_origin) = page_origin().await;
    serve_page(listed);
    serve_page(unlisted);
    let gw = gateway(&app_origin).await;
    let g = gw.url("");
    let g = g.trim_end_matches('/').to_owned();

    // Every credential of every scheme, as a script would hold them.
    let mut probes: Vec<(String, Vec<(String, String)>)> = alice_credentials(&gw)
        .await
        .into_iter()
        .map(|(path, headers)| {
            (
                path.to_owned(),
                headers
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            )
        })
        .collect();
    probes.push((
        "/token/whoami".into(),
        vec![("x-auth-token".into(), SHARED.into())],
    ));
    probes.push((
        "/app/whoami".into(),
        vec![("x-voltmx-app-api-key".into(), "demo-app-key-1".into())],
    ));
    probes.push((
        "/device/whoami".into(),
        vec![("x-device-authtoken".into(), "demo-device-token".into())],
    ));
    let probes_js = serde_json::to_string(&probes).expect("json");

    let browser = Chromium::launch().await;
    let page = browser.new_page().await;
    page.navigate(&format!("{app_origin}/")).await;

    // Every scheme's route, from the listed origin: each fetch carries a credential header,
    // so Chromium preflights it; the answer's body is readable.
    let answers = run(
        &page,
        &g,
        &format!(
            "{FETCH} const out = [];
             for (const [path, headers] of {probes_js}) {{
                 const r = await call(G + path, {{ headers: Object.fromEntries(headers) }});
                 out.push([path, r.status, r.body && (r.body.id || r.body.login || r.body.user || null)]);
             }}
             return out;"
        ),
    )
    .await;
    for answer in answers.as_array().expect("answers") {
        assert_eq!(answer[1], 200, "{answer}");
    }
    assert_eq!(answers.as_array().expect("answers").len(), probes.len());

    // Without a credential: a 401 whose challenges the script can read (exposed).
    let refused = run(
        &page,
        &g,
        &format!("{FETCH} return await call(G + '/whoami');"),
    )
    .await;
    assert_eq!(refused["status"], 401, "{refused}");
    let challenges = refused["challenges"].as_str().unwrap_or_default();
    for scheme in ["Basic", "Bearer", "Token"] {
        assert!(challenges.contains(scheme), "{refused}");
    }

    // The XiVO web app: login, then the CTI socket with the token in the URL, then with the
    // token offered as a subprotocol beside the real one (which is the one selected).
    let cti = run(
        &page,
        &g,
        &format!(
            "{FETCH} {SOCKET}
             const login = await call(G + '/xuc/api/2.0/auth/login', {{
                 method: 'POST', headers: {{ 'Content-Type': 'application/json' }},
                 body: JSON.stringify({{ login: 'alice', password: 'wonderland' }}) }});
             const ws = G.replace('http://', 'ws://') + '/xuc/api/2.0/cti';
             const token = login.body.token;
             return {{
                 login: login.status,
                 query: await socket(ws + '?token=' + encodeURIComponent(token), ['cti']),
                 subprotocol: await socket(ws, ['cti', 'authn.bearer.' + token]),
                 bad: await socket(ws + '?token=not-a-token', ['cti']),
             }};"
        ),
    )
    .await;
    assert_eq!(cti["login"], 200, "{cti}");
    for way in ["query", "subprotocol"] {
        let seen = &cti[way];
        assert_eq!(seen["opened"], true, "{way}: {cti}");
        assert_eq!(
            seen["protocol"], "cti",
            "{way}: the token is never echoed: {cti}"
        );
        let hello: Value =
            serde_json::from_str(seen["messages"][0].as_str().unwrap_or_default()).expect("json");
        assert_eq!(hello["id"], "alice", "{way}: {cti}");
        assert_eq!(seen["messages"][1], "hello", "{way}: {cti}");
    }
    assert_eq!(cti["bad"]["opened"], false, "{cti}");
    assert_eq!(
        cti["bad"]["events"],
        json!(["error", "close 1006"]),
        "{cti}"
    );

    // The gateway's own origin: a session login sets an HttpOnly cookie the script never
    // sees; /auth/token and /whoami accept it.
    let own = browser.new_page().await;
    own.navigate(&format!("{g}/healthz")).await;
    // (A same-origin 401 with a Basic challenge would make the browser prompt for a
    // password, which headless waits on: the login is checked before anything else.)
    let login = run(
        &own,
        &g,
        &format!(
            "{FETCH}
             return await call('/session/login', {{
                 method: 'POST', headers: {{ 'Content-Type': 'application/json' }},
                 body: JSON.stringify({{ login: 'alice', password: 'wonderland' }}) }});"
        ),
    )
    .await;
    assert_eq!(login["status"], 204, "{login}");
    let session = run(
        &own,
        &g,
        &format!(
            "{FETCH}
             return {{
                 visible: document.cookie,
                 token: await call('/auth/token'),
                 whoami: await call('/whoami'),
             }};"
        ),
    )
    .await;
    assert_eq!(session["visible"], "", "HttpOnly: {session}");
    assert_eq!(session["token"]["status"], 200, "{session}");
    assert_eq!(session["whoami"]["status"], 200, "{session}");
    assert_eq!(session["whoami"]["body"]["id"], "alice", "{session}");
    let cookie = own
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == "authn_session")
        .expect("the session cookie");
    assert_eq!(
        (&cookie["httpOnly"], &cookie["sameSite"], &cookie["path"]),
        (&json!(true), &json!("Lax"), &json!("/")),
        "{cookie}"
    );

    // The listed origin may use the cookie too (credentials: 'include', exact origin).
    let with_cookie = run(
        &page,
        &g,
        &format!("{FETCH} return await call(G + '/whoami', {{ credentials: 'include' }});"),
    )
    .await;
    assert_eq!(with_cookie["status"], 200, "{with_cookie}");

    // An origin that is not listed: the script reads nothing (no CORS header), and a
    // cross-site POST that carries the cookie (no-cors) is refused: the session survives.
    let stranger = browser.new_page().await;
    stranger.navigate(&format!("{other_origin}/")).await;
    let blocked = stranger
        .try_eval(&format!(
            "(async () => (await fetch({:?}, {{ headers: {{ 'X-Auth-Token': {SHARED:?} }} }})).status)()",
            format!("{g}/whoami")
        ))
        .await;
    assert!(
        blocked.is_err_and(|e| e.contains("TypeError")),
        "CORS must refuse"
    );
    run(
        &stranger,
        &g,
        "await fetch(G + '/session/logout', { method: 'POST', mode: 'no-cors', credentials: 'include' }); return null;",
    )
    .await;
    let still = run(&own, &g, &format!("{FETCH} return await call('/whoami');")).await;
    assert_eq!(
        still["status"], 200,
        "a cross-site logout must not end the session: {still}"
    );

    // Logout on the gateway's own origin ends the session and clears the cookie. (A 401 with
    // a Basic challenge to a request that may carry credentials makes a browser prompt for a
    // password, which headless waits on: what the old cookie proves is asked outside it.)
    let out = run(
        &own,
        &g,
        &format!("{FETCH} return (await call('/session/logout', {{ method: 'POST' }})).status;"),
    )
    .await;
    assert_eq!(out, 204, "{out}");
    // And the token the cookie held is dead, not only forgotten by the browser.
    let held = format!(
        "authn_session={}",
        cookie["value"].as_str().unwrap_or_default()
    );
    assert_eq!(gw.get("/whoami", &[("cookie", &held)]).await.status, 401);
    assert!(
        own.cookies()
            .await
            .iter()
            .all(|c| c["name"] != "authn_session"),
        "the cookie is cleared"
    );
}

/// The library's own example (`examples/browser.rs`): CORS outside the layer, a token in a
/// header, the session cookie set cross-origin (`credentials: 'include'`), the WebSocket
/// with the token in its subprotocols, and a forged logout from an unlisted origin refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_example_serves_pages_of_its_origins() {
    let (listed, app_origin) = page_origin().await;
    let (unlisted, other_origin) = page_origin().await;
    serve_page(listed);
    serve_page(unlisted);
    let users = example::demo::users().expect("demo users");
    let shared = tower_authn::SharedTokenVerifier::new(SHARED);
    let api = Server::at(
        support::serve(example::app(
            users,
            shared,
            std::slice::from_ref(&app_origin),
        ))
        .await,
    );
    let g = api.url("");
    let g = g.trim_end_matches('/').to_owned();

    let browser = Chromium::launch().await;
    let page = browser.new_page().await;
    page.navigate(&format!("{app_origin}/")).await;
    let seen = run(
        &page,
        &g,
        &format!(
            "{FETCH} {SOCKET}
             const token = await call(G + '/whoami', {{ headers: {{ 'X-Auth-Token': {SHARED:?} }} }});
             const refused = await call(G + '/whoami');
             const login = await call(G + '/session/login', {{
                 method: 'POST', credentials: 'include',
                 headers: {{ 'Content-Type': 'application/json' }},
                 body: JSON.stringify({{ login: 'alice', password: 'wonderland' }}) }});
             const cookie = await call(G + '/whoami', {{ credentials: 'include' }});
             const ws = G.replace('http://', 'ws://') + '/ws';
             return {{
                 token, refused, login: login.status, cookie,
                 socket: await socket(ws, ['chat', 'authn.bearer.' + {SHARED:?}]),
                 bad: await socket(ws, ['chat', 'authn.bearer.wrong']),
             }};"
        ),
    )
    .await;
    assert_eq!(seen["token"]["status"], 200, "{seen}");
    assert_eq!(seen["refused"]["status"], 401, "{seen}");
    assert!(
        seen["refused"]["challenges"]
            .as_str()
            .is_some_and(|c| c.contains("Bearer")),
        "{seen}"
    );
    assert_eq!(seen["login"], 204, "{seen}");
    assert_eq!(seen["cookie"]["status"], 200, "{seen}");
    assert_eq!(seen["cookie"]["body"]["id"], "alice", "{seen}");
    assert_eq!(seen["socket"]["opened"], true, "{seen}");
    assert_eq!(seen["socket"]["protocol"], "chat", "{seen}");
    assert_eq!(seen["socket"]["messages"][1], "hello", "{seen}");
    assert_eq!(seen["bad"]["opened"], false, "{seen}");

    // A page of an unlisted origin (same site: the cookie goes along) cannot log the user
    // out: the origin guard refuses the POST.
    let stranger = browser.new_page().await;
    stranger.navigate(&format!("{other_origin}/")).await;
    run(
        &stranger,
        &g,
        "await fetch(G + '/session/logout', { method: 'POST', mode: 'no-cors', credentials: 'include' }); return null;",
    )
    .await;
    let still = run(
        &page,
        &g,
        &format!(
            "{FETCH} return (await call(G + '/whoami', {{ credentials: 'include' }})).status;"
        ),
    )
    .await;
    assert_eq!(still, 200, "a forged logout must not end the session");
}
