//! Two promises of the token services (crates/axum/README.md), on every route of the
//! gateway that takes a password, over real HTTP:
//!
//! - an unknown user and a wrong password get byte-identical answers (status, headers but
//!   `Date`, body);
//! - input is parsed without panicking and a client's mistake is answered in the 4xx range,
//!   never 500: garbage and mangled bodies under every content type.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};

use std::collections::HashMap;

use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use support::{Answer, Server, basic, field, send};

async fn gateway() -> Server {
    let env: HashMap<&str, &str> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", "gateway-shared-token"),
        ("GATEWAY_JWT_SECRET", "gateway-test-secret-0123456789abcdef"),
        ("CCAI_COMPANY_NAME", "ACME"),
        ("CCAI_COMPANY_SECRET", "ccai-company-secret-0123456789"),
    ]
    .into_iter()
    .collect();
    let config =
        config::Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("config");
    Server::at(support::serve(app::build(&config).await.expect("gateway")).await)
}

/// What a client sees of an answer: status, headers (sorted), body.
type Seen = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

/// Everything a client sees of `answer` but the `Date`.
fn seen(answer: &Answer) -> Seen {
    let mut headers: Vec<_> = answer
        .headers
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    headers.sort();
    (answer.status.as_u16(), headers, answer.body.to_vec())
}

/// The one login of `user` with `password` on the route `route` names.
async fn login(gw: &Server, route: &str, user: &str, password: &str) -> Answer {
    let basic_get = |path: &str| {
        let auth = basic(user, password);
        let url = gw.url(path);
        async move { send(Method::GET, &url, &[("authorization", &auth)], "").await }
    };
    match route {
        "basic whoami" => basic_get("/basic/whoami").await,
        "any-scheme whoami" => basic_get("/whoami").await,
        "xivo login" => {
            gw.post_json(
                "/xuc/api/2.0/auth/login",
                &[],
                json!({"login": user, "password": password}),
            )
            .await
        }
        "voltmx login (json)" => {
            gw.post_json(
                "/authService/accounts/login",
                &[],
                json!({"userid": user, "password": password}),
            )
            .await
        }
        "voltmx login (form)" => {
            // The users and passwords here need no percent-encoding.
            let body = format!("userid={user}&password={password}");
            send(
                Method::POST,
                &gw.url("/authService/accounts/login"),
                &[("content-type", "application/x-www-form-urlencoded")],
                body,
            )
            .await
        }
        "voltmx login (basic)" => {
            send(
                Method::POST,
                &gw.url("/authService/accounts/login"),
                &[("authorization", &basic(user, password))],
                "",
            )
            .await
        }
        "access pair" => basic_get("/api/v1/oauth/accesstoken").await,
        "opentact auth" => basic_get("/rest/auth").await,
        "ccai token" => basic_get("/auth/token").await,
        other => unreachable!("{other}"),
    }
}

const LOGIN_ROUTES: &[&str] = &[
    "basic whoami",
    "any-scheme whoami",
    "xivo login",
    "voltmx login (json)",
    "voltmx login (form)",
    "voltmx login (basic)",
    "access pair",
    "opentact auth",
    "ccai token",
];

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_answer_byte_identically_on_every_login_route() {
    let gw = gateway().await;
    for route in LOGIN_ROUTES {
        // The right password works (so the route is the one meant).
        let right = login(&gw, route, "alice", "wonderland").await;
        assert_eq!(right.status, 200, "{route}: {:?}", right.json());
        let wrong = login(&gw, route, "alice", "looking-glass").await;
        let unknown = login(&gw, route, "mallory", "looking-glass").await;
        assert!(
            wrong.status.is_client_error(),
            "{route}: {:?}",
            wrong.status
        );
        assert_eq!(seen(&wrong), seen(&unknown), "{route}");
    }
}

/// A body to throw at a route: random bytes, or `valid` mangled (cut, bytes changed or
/// inserted, nested deeper).
fn garbage(rng: &mut StdRng, valid: &str) -> Vec<u8> {
    let mut body = valid.as_bytes().to_vec();
    match rng.gen_range(0..5) {
        0 => (0..rng.gen_range(0..200)).map(|_| rng.r#gen()).collect(),
        1 => {
            body.truncate(rng.gen_range(0..=body.len()));
            body
        }
        2 => {
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..body.len());
                body[at] = rng.r#gen();
            }
            body
        }
        3 => {
            let at = rng.gen_range(0..=body.len());
            const NOISE: &[u8] = b"{}[]\":,=&%\\\x00\xff";
            let noise: Vec<u8> = (0..rng.gen_range(1..8))
                .map(|_| NOISE[rng.gen_range(0..NOISE.len())])
                .collect();
            body.splice(at..at, noise);
            body
        }
        _ => {
            let depth = rng.gen_range(1..300);
            let mut deep = "[".repeat(depth).into_bytes();
            deep.extend(body);
            deep.extend("]".repeat(depth).into_bytes());
            deep
        }
    }
}

#[tokio::test]
async fn garbage_bodies_never_get_a_500_on_any_token_route() {
    let gw = gateway().await;
    let login = gw
        .post_json(
            "/authService/accounts/login",
            &[],
            json!({"userid": "alice", "password": "wonderland"}),
        )
        .await;
    let claims = field(&login, "/claims_token/value");
    let add = gw
        .post_json(
            "/api/v1/applications/key",
            &[("x-voltmx-authorization", &claims)],
            json!({"appId": "demo-app", "neverExpires": true}),
        )
        .await;
    let key = field(&add, "/id");
    let admin = ("x-voltmx-authorization", claims.as_str());
    let key_path = format!("/api/v1/applications/key/{key}");
    // (route, extra header, a valid body to mangle)
    type Route<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a str);
    let routes: Vec<Route<'_>> = vec![
        (
            "/xuc/api/2.0/auth/login",
            None,
            r#"{"login":"alice","password":"x"}"#,
        ),
        (
            "/authService/accounts/login",
            None,
            r#"{"userid":"alice","password":"x"}"#,
        ),
        (
            "/authService/accounts/refresh",
            None,
            r#"{"refresh_token":"abc"}"#,
        ),
        (
            "/api/v1/applications/key",
            Some(admin),
            r#"{"appId":"demo-app","neverExpires":false,"expiresOn":"12/31/2099 23:59:59"}"#,
        ),
        (
            &key_path,
            Some(admin),
            r#"{"description":"d","neverExpires":true}"#,
        ),
    ];
    let types = [
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=\u{ff}"),
        Some("text/plain"),
        None,
    ];
    let mut rng = StdRng::seed_from_u64(12);
    let mut answered = 0;
    for (path, extra, valid) in &routes {
        for i in 0..60 {
            let body = garbage(&mut rng, valid);
            let mut headers: Vec<(&str, &str)> = extra.iter().copied().collect();
            let content_type = types[i % types.len()];
            if let Some(ct) = content_type {
                headers.push(("content-type", ct));
            }
            let answer = send(Method::POST, &gw.url(path), &headers, body.clone()).await;
            assert!(
                answer.status.as_u16() < 500,
                "{path} {content_type:?} {:?}: {} {:?}",
                String::from_utf8_lossy(&body),
                answer.status,
                answer.json()
            );
            answered += 1;
        }
    }
    assert_eq!(answered, routes.len() * 60);
    // The key the garbage tried to modify still works.
    assert_eq!(
        gw.get("/app/whoami", &[("x-voltmx-app-api-key", &key)])
            .await
            .status,
        200
    );
}
