//! "The exact reason goes to tracing, never a secret" (DESIGN.md, README): the whole gateway
//! is driven through every scheme, token service and signed server-to-server call (and the
//! signing layer through a refusal), right and wrong credentials alike, with
//! a subscriber that records every event and span at TRACE level from every crate; then no
//! secret that crossed the wire (passwords, tokens, keys, secrets, issued credentials) may
//! appear in what was recorded. The capture itself is checked too, so the test cannot pass
//! by recording nothing.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use support::{Server, basic, field, send};
use tower::{ServiceBuilder, ServiceExt as _};
use tower_authn::s2s::Signer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;

const SHARED: &str = "shared-token-never-logged-7f3a";
const JWT_SECRET: &str = "jwt-secret-never-logged-0123456789abcdef";
const CCAI_SECRET: &str = "ccai-secret-never-logged-0123456789";
const WRONG_PASSWORD: &str = "wrong-password-never-logged-91";
const WRONG_TOKEN: &str = "wrong-token-never-logged-5c2e";
const WRONG_APP_SECRET: &str = "wrong-app-secret-never-logged-0123";

/// Everything the subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut recorded = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("capture poisoned"))?;
        recorded.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn gateway() -> Server {
    let env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", SHARED),
        ("GATEWAY_JWT_SECRET", JWT_SECRET),
        ("CCAI_COMPANY_NAME", "ACME"),
        ("CCAI_COMPANY_SECRET", CCAI_SECRET),
        ("GATEWAY_THROTTLE", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let router = app::build(&config).await.expect("gateway");
    Server::at(support::serve(router).await)
}

#[tokio::test]
async fn no_secret_reaches_any_trace() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    subscriber.try_init().expect("the only subscriber");

    let g = gateway().await;
    let mut secrets: Vec<String> = [
        SHARED,
        JWT_SECRET,
        CCAI_SECRET,
        WRONG_PASSWORD,
        WRONG_TOKEN,
        "wonderland",
        "builder",
        "demo-app-key-1",
        "demo-device-token",
        "s3cr3t-k3y-0123456789abcdef",
    ]
    .map(str::to_owned)
    .to_vec();
    let ha1b = tower_authn::password::ha1b("alice", "sip.example.com", "wonderland");
    secrets.push(ha1b.clone());

    // Passwords, right and wrong, on Basic and every login route.
    for pw in ["wonderland", WRONG_PASSWORD] {
        let auth = basic("alice", pw);
        g.get("/basic/whoami", &[("authorization", &auth)]).await;
        g.get("/whoami", &[("authorization", &auth)]).await;
        let auth = basic("nobody", pw);
        g.get("/whoami", &[("authorization", &auth)]).await;
    }
    let xivo = g
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            serde_json::json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    let xivo_token = field(&xivo, "/token");
    g.post_json(
        "/xuc/api/2.0/auth/login",
        &[],
        serde_json::json!({"login": "alice", "password": WRONG_PASSWORD}),
    )
    .await;
    let voltmx = send(
        Method::POST,
        &g.url("/authService/accounts/login"),
        &[("content-type", "application/x-www-form-urlencoded")],
        "userid=alice&password=wonderland",
    )
    .await;
    let claims = field(&voltmx, "/claims_token/value");
    let refresh = field(&voltmx, "/refresh_token");
    send(
        Method::POST,
        &g.url("/authService/accounts/login"),
        &[("content-type", "application/json")],
        format!(r#"{{"userid":"alice","password":"{WRONG_PASSWORD}"}}"#),
    )
    .await;
    let pair = g
        .get(
            "/api/v1/oauth/accesstoken",
            &[("authorization", &basic("alice", "wonderland"))],
        )
        .await;
    let access = field(&pair, "/AccessToken");
    let access_secret = field(&pair, "/AccessSecret");
    let opentact = g
        .get(
            "/rest/auth",
            &[("authorization", &basic("alice", "wonderland"))],
        )
        .await;
    let jwt = field(&opentact, "/payload/token");
    let ccai = g
        .get(
            "/auth/token",
            &[("authorization", &basic("alice", "wonderland"))],
        )
        .await;
    let ccai_jwt = field(&ccai, "/token");
    secrets.extend([
        xivo_token.clone(),
        claims.clone(),
        refresh.clone(),
        access.clone(),
        access_secret.clone(),
        jwt.clone(),
        ccai_jwt,
    ]);

    // Every token scheme, with the right credential and a wrong one.
    for token in [SHARED, xivo_token.as_str(), WRONG_TOKEN] {
        g.get("/token/whoami", &[("x-auth-token", token)]).await;
        g.get(&format!("/token/whoami?token={token}"), &[]).await;
        g.get(
            "/xuc/api/2.0/auth/check",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    }
    for token in [jwt.as_str(), WRONG_TOKEN] {
        g.get(
            "/jwt/whoami",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        g.get(&format!("/jwt/whoami?jwt={token}"), &[]).await;
    }
    let tampered_jwt = format!("{jwt}x");
    g.get("/jwt/whoami", &[("x-auth-token", &tampered_jwt)])
        .await;
    for token in [claims.as_str(), WRONG_TOKEN] {
        g.get("/claims/whoami", &[("x-voltmx-authorization", token)])
            .await;
    }
    for token in ["demo-device-token", WRONG_TOKEN] {
        g.get("/device/whoami", &[("x-device-authtoken", token)])
            .await;
    }
    for token in ["demo-app-key-1", WRONG_TOKEN] {
        g.get("/app/whoami", &[("x-voltmx-app-api-key", token)])
            .await;
    }
    for secret in [access_secret.as_str(), WRONG_TOKEN] {
        g.get(
            "/messaging/whoami",
            &[("accesstoken", &access), ("accesssecret", secret)],
        )
        .await;
    }
    for digest in [ha1b.as_str(), WRONG_TOKEN] {
        g.get("/ha1b/whoami", &[("x-auth-ha1b-token", digest)])
            .await;
        g.get(&format!("/ha1b/whoami?ha1b={digest}"), &[]).await;
    }
    for token in [refresh.as_str(), refresh.as_str(), WRONG_TOKEN] {
        send(
            Method::POST,
            &g.url("/authService/accounts/refresh"),
            &[("content-type", "application/x-www-form-urlencoded")],
            format!("refresh_token={token}"),
        )
        .await;
    }

    // Browsers: the session cookie (set, used, forged from another origin, malformed), and
    // the CTI socket's token in the query and in the subprotocol list, right and wrong.
    let session = g
        .post_json(
            "/session/login",
            &[],
            serde_json::json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    let set_cookie = session.headers["set-cookie"].to_str().expect("ascii");
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    secrets.push(cookie.trim_start_matches("authn_session=").to_owned());
    g.post_json(
        "/session/login",
        &[],
        serde_json::json!({"login": "alice", "password": WRONG_PASSWORD}),
    )
    .await;
    let wrong_cookie = format!("authn_session={WRONG_TOKEN}");
    for c in [cookie.as_str(), wrong_cookie.as_str()] {
        g.get("/whoami", &[("cookie", c)]).await;
        send(
            Method::POST,
            &g.url("/session/logout"),
            &[("cookie", c), ("origin", "http://evil.example")],
            "",
        )
        .await;
        let twice = format!("{c}; {c}");
        g.get("/whoami", &[("cookie", &twice)]).await;
    }
    for token in [xivo_token.as_str(), WRONG_TOKEN] {
        let upgrade = [
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        g.get(&format!("/xuc/api/2.0/cti?token={token}"), &upgrade)
            .await;
        let offered = format!("cti, authn.bearer.{token}");
        let mut h = upgrade.to_vec();
        h.push(("sec-websocket-protocol", &offered));
        g.get("/xuc/api/2.0/cti", &h).await;
    }
    send(
        Method::POST,
        &g.url("/session/logout"),
        &[("cookie", &cookie)],
        "",
    )
    .await;

    // Signed server-to-server calls, signed with the app's secret and with a wrong one, as
    // sent and tampered with; their bearer tokens are credentials too.
    for secret in ["s3cr3t-k3y-0123456789abcdef", WRONG_APP_SECRET] {
        let signer = Signer::new("s2s-app-id-123", "CRM Connector", secret);
        for sent in ["count=10", "count=11"] {
            let (mut parts, body) = http::Request::get(g.url("/api/v1/PBX/CallHistory/?count=10"))
                .body(Bytes::new())
                .expect("request")
                .into_parts();
            let body = signer.sign_parts(&mut parts, body).expect("signed");
            let headers: Vec<(String, String)> = parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().expect("ascii").to_owned()))
                .collect();
            let bearer = &parts.headers["authorization"];
            let token = bearer
                .to_str()
                .expect("ascii")
                .trim_start_matches("Bearer ");
            secrets.push(token.to_owned());
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let url = g.url(&format!("/api/v1/PBX/CallHistory/?{sent}"));
            send(Method::GET, &url, &h, body).await;
        }
    }
    // The signing layer refusing what it cannot sign (an uncovered body).
    let client = ServiceBuilder::new()
        .layer(
            Signer::new(
                "s2s-app-id-123",
                "CRM Connector",
                "s3cr3t-k3y-0123456789abcdef",
            )
            .layer(),
        )
        .service_fn(|_: http::Request<Full<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        });
    let refused = http::Request::post(g.url("/api/v1/Originate/"))
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(b"exten=900")))
        .expect("request");
    assert!(client.oneshot(refused).await.is_err());
    secrets.push(WRONG_APP_SECRET.to_owned());

    let recorded = String::from_utf8_lossy(&capture.0.lock().expect("capture")).into_owned();
    assert!(
        recorded.contains("authentication rejected") && recorded.contains("authenticated"),
        "the capture saw the layers' decisions:\n{recorded}"
    );
    assert!(
        recorded.contains("s2s: request verified")
            && recorded.contains("s2s: request rejected")
            && recorded.contains("s2s: request not signed"),
        "the capture saw the signed calls:\n{recorded}"
    );
    for secret in &secrets {
        assert!(
            !recorded.contains(secret.as_str()),
            "a secret ({} bytes, starting {:?}) reached the traces:\n{recorded}",
            secret.len(),
            secret.chars().take(4).collect::<String>()
        );
    }
}
