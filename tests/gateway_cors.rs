//! GATEWAY.md "Browsers as clients" at the HTTP level, over real sockets: CORS for listed
//! origins only, the CTI WebSocket's credentials and refusals before any upgrade, and the
//! session cookie's origin guard. (`gateway_browser.rs` runs the same in a real Chromium.)

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use std::collections::HashMap;

use gateway::{app, config};
use http::Method;
use serde_json::{Value, json};
use support::{Answer, Server, field, send};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

const SHARED: &str = "cors-shared-token";
const APP: &str = "http://app.example:3000";
const EVIL: &str = "http://evil.example";

async fn gateway() -> Server {
    let env: HashMap<&str, &str> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", SHARED),
        (
            "GATEWAY_JWT_SECRET",
            "cors-test-secret-0123456789abcdef0123",
        ),
        ("CCAI_COMPANY_SECRET", "ccai-company-secret-0123456789"),
        (
            "GATEWAY_CORS_ORIGINS",
            "http://app.example:3000, https://other.example",
        ),
    ]
    .into_iter()
    .collect();
    let config =
        config::Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("config");
    Server::at(support::serve(app::build(&config).await.expect("gateway")).await)
}

fn cors_headers(answer: &Answer) -> Vec<String> {
    let mut names: Vec<String> = answer
        .headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect();
    names.sort();
    names
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn preflight(gw: &Server, origin: &str, headers: &str) -> Answer {
    send(
        Method::OPTIONS,
        &gw.url("/whoami"),
        &[
            ("origin", origin),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", headers),
        ],
        "",
    )
    .await
}

#[tokio::test]
async fn a_listed_origin_gets_cors_and_an_unlisted_one_gets_nothing() {
    let gw = gateway().await;

    let ok = preflight(&gw, APP, "x-auth-token").await;
    assert_eq!(ok.status, 204, "a preflight is never asked for credentials");
    assert_eq!(header(&ok, "access-control-allow-origin"), APP);
    assert_eq!(header(&ok, "access-control-allow-credentials"), "true");
    assert!(!header(&ok, "access-control-max-age").is_empty());
    assert!(header(&ok, "access-control-allow-methods").contains("POST"));
    let allowed = header(&ok, "access-control-allow-headers").to_ascii_lowercase();
    for name in [
        "authorization",
        "x-auth-token",
        "x-voltmx-authorization",
        "x-device-authtoken",
        "x-voltmx-app-api-key",
        "accesstoken",
        "accesssecret",
        "x-auth-ha1b-token",
        "x-auth-google-token",
        "x-auth-facebook-token",
        "content-type",
        "x-app-id",
    ] {
        assert!(
            allowed.split(',').any(|h| h.trim() == name),
            "{name}: {allowed}"
        );
    }

    // A refusal to a listed origin is readable: the challenges are exposed.
    let refused = gw.get("/whoami", &[("origin", APP)]).await;
    assert_eq!(refused.status, 401);
    assert_eq!(header(&refused, "access-control-allow-origin"), APP);
    assert!(
        header(&refused, "access-control-expose-headers")
            .to_ascii_lowercase()
            .contains("www-authenticate")
    );
    let accepted = gw
        .get("/whoami", &[("origin", APP), ("x-auth-token", SHARED)])
        .await;
    assert_eq!(accepted.status, 200);
    assert_eq!(header(&accepted, "access-control-allow-origin"), APP);

    // Unlisted, or no Origin at all: not one CORS header, and the preflight is not answered
    // for it (the route has no OPTIONS).
    for origin in [Some(EVIL), Some("http://app.example:3001"), None] {
        let mut h = vec![("x-auth-token", SHARED)];
        h.extend(origin.map(|o| ("origin", o)));
        let answer = gw.get("/whoami", &h).await;
        assert_eq!(answer.status, 200);
        assert!(
            cors_headers(&answer).is_empty(),
            "{origin:?}: {:?}",
            answer.headers
        );
        assert!(answer.headers.get("vary").is_none(), "{origin:?}");
    }
    let stranger = preflight(&gw, EVIL, "x-auth-token").await;
    assert_ne!(stranger.status, 204);
    assert!(cors_headers(&stranger).is_empty(), "{:?}", stranger.headers);
}

/// A WebSocket handshake to the CTI socket with `headers`; the answer's status and headers,
/// and on success the socket.
async fn cti(
    gw: &Server,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<
    (
        tungstenite::handshake::client::Response,
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ),
    tungstenite::Error,
> {
    let url = gw
        .url(&format!("/xuc/api/2.0/cti{query}"))
        .replace("http://", "ws://");
    let mut req = url.into_client_request().expect("request");
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(socket, res)| (res, socket))
}

async fn hello_and_echo(
    mut socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    use futures_util::{SinkExt as _, StreamExt as _};
    let Some(Ok(Message::Text(hello))) = socket.next().await else {
        panic!("no hello");
    };
    socket.send(Message::text("ping")).await.expect("send");
    let Some(Ok(Message::Text(echo))) = socket.next().await else {
        panic!("no echo");
    };
    assert_eq!(echo.as_str(), "ping");
    serde_json::from_str(hello.as_str()).expect("principal")
}

fn refused_status(e: tungstenite::Error) -> u16 {
    match e {
        tungstenite::Error::Http(res) => res.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test]
async fn the_cti_socket_opens_for_a_token_and_refuses_before_the_upgrade() {
    let gw = gateway().await;
    let login = gw
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    let token = field(&login, "/token");

    // ?token= (XiVO's web clients), then the shared server token.
    let (_, socket) = cti(&gw, &format!("?token={token}"), &[])
        .await
        .expect("open");
    assert_eq!(hello_and_echo(socket).await["id"], "alice");
    let (_, socket) = cti(&gw, &format!("?token={SHARED}"), &[])
        .await
        .expect("open");
    assert_eq!(hello_and_echo(socket).await["kind"], "server");

    // The token as a subprotocol beside the real one: the real one is selected, the token
    // never comes back.
    let offered = format!("cti, authn.bearer.{token}");
    let (res, socket) = cti(&gw, "", &[("sec-websocket-protocol", &offered)])
        .await
        .expect("open");
    let selected: Vec<_> = res
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .collect();
    assert_eq!(selected, ["cti"]);
    assert_eq!(hello_and_echo(socket).await["id"], "alice");

    // Refused before any upgrade: no credential, a wrong one, two at once.
    assert_eq!(
        refused_status(cti(&gw, "", &[]).await.expect_err("refused")),
        401
    );
    assert_eq!(
        refused_status(cti(&gw, "?token=wrong", &[]).await.expect_err("refused")),
        401
    );
    let two = format!("?token={token}");
    assert_eq!(
        refused_status(
            cti(&gw, &two, &[("sec-websocket-protocol", &offered)])
                .await
                .expect_err("refused")
        ),
        400
    );
}

#[tokio::test]
async fn the_session_cookie_opens_the_socket_only_from_an_allowed_origin() {
    let gw = gateway().await;
    let login = gw
        .post_json(
            "/session/login",
            &[],
            json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(login.status, 204, "{:?}", login.json());
    let set = header(&login, "set-cookie").to_owned();
    let cookie = set.split(';').next().expect("pair").to_owned();
    assert!(cookie.starts_with("authn_session="), "{set}");

    let host = gw.base.trim_start_matches("http://").to_owned();
    let own = format!("http://{host}");
    for origin in [APP, own.as_str()] {
        let (_, socket) = cti(&gw, "", &[("cookie", &cookie), ("origin", origin)])
            .await
            .expect("open");
        assert_eq!(hello_and_echo(socket).await["id"], "alice");
    }
    // Cross-site WebSocket hijacking: another origin's page would send the cookie too.
    let hijack = cti(&gw, "", &[("cookie", &cookie), ("origin", EVIL)]).await;
    assert_eq!(refused_status(hijack.expect_err("refused")), 403);

    // The same guard on a state-changing route, and the cookie works on /whoami.
    let forged = send(
        Method::POST,
        &gw.url("/session/logout"),
        &[("cookie", &cookie), ("origin", EVIL)],
        "",
    )
    .await;
    assert_eq!(forged.status, 403);
    assert_eq!(gw.get("/whoami", &[("cookie", &cookie)]).await.status, 200);
}
