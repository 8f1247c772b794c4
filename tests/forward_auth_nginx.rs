//! Forward authentication behind a real nginx (Debian's `nginx-light`, started here on a free
//! loopback port with a generated configuration, `auth_request` to the gateway's
//! `/forward-auth`, in front of an upstream that echoes what it gets): every scheme accepted
//! with the identity headers and an assertion that verifies against the gateway's JWKS;
//! refusals reach the client as 401 with the challenges; a client-sent `X-Authn-Id` never
//! reaches the upstream; query credentials work. Without nginx the test fails.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::any;
use serde_json::{Value, json};
use support::{Answer, Server, basic, get};
use tower_authn::jwt::{JwtVerifier, KeySet, Validation};

const SHARED: &str = "forward-shared-token";
const NGINX: &str = "/usr/sbin/nginx";

async fn gateway(vars: &[(&str, &str)]) -> (Server, SocketAddr) {
    let mut env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", SHARED),
        ("GATEWAY_JWT_SECRET", "gateway-test-secret-0123456789abcdef"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in vars {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let addr = support::serve(app::build(&config).await.expect("gateway")).await;
    (Server::at(addr), addr)
}

/// An upstream that answers what it received: the URI and every header.
async fn echo_upstream() -> SocketAddr {
    async fn echo(request: Request) -> axum::Json<Value> {
        let mut headers = serde_json::Map::new();
        for (name, value) in request.headers() {
            headers.insert(
                name.as_str().to_owned(),
                Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            );
        }
        axum::Json(json!({ "uri": request.uri().to_string(), "headers": headers }))
    }
    support::serve(Router::new().fallback(any(echo))).await
}

struct Nginx {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The README's nginx configuration, on loopback ports, everything under `dir`.
fn nginx_conf(dir: &Path, port: u16, gateway: SocketAddr, upstream: SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
"#,
        locations = include_str!("forward_auth_nginx.locations")
            .replace("GATEWAY", &gateway.to_string())
            .replace("UPSTREAM", &upstream.to_string())
    )
}

async fn start_nginx(gateway: SocketAddr, upstream: SocketAddr) -> Nginx {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} is missing: install Debian's nginx-light (scripts/deps does)"
    );
    let dir = std::env::temp_dir().join(format!(
        "authn-nginx-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("nginx dir");
    let port = free_port();
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&dir, port, gateway, upstream)).expect("nginx.conf");
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let mut nginx = Nginx {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return nginx;
        }
        if let Some(status) = nginx.child.try_wait().expect("nginx status") {
            let log = std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default();
            panic!("nginx exited ({status}): {log}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nginx did not listen on {port}");
}

async fn assertion_verifier(gw: &Server) -> JwtVerifier<KeySet> {
    let jwks = gw.get("/.well-known/jwks.json", &[]).await;
    assert_eq!(jwks.status, 200);
    let keys = KeySet::from_jwks(std::str::from_utf8(&jwks.body).unwrap()).expect("jwks");
    JwtVerifier::new(keys).with_validation(Validation::new().with_issuers(["tower-authn-gateway"]))
}

/// The headers the upstream received (the request reached it).
fn upstream_headers(answer: &Answer) -> serde_json::Map<String, Value> {
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()["headers"]
        .as_object()
        .expect("the upstream's echo")
        .clone()
}

#[tokio::test]
async fn behind_nginx_every_scheme_reaches_the_upstream_with_its_identity() {
    let (gw, gw_addr) = gateway(&[]).await;
    let upstream = echo_upstream().await;
    let nginx = start_nginx(gw_addr, upstream).await;
    let verifier = assertion_verifier(&gw).await;
    let alice = basic("alice", "wonderland");
    let app = format!("{}/app/orders?x=1", nginx.url);

    for (what, url, headers, id, kind, scheme) in [
        (
            "basic",
            app.clone(),
            vec![("authorization", alice.as_str())],
            "alice",
            "user",
            "basic",
        ),
        (
            "shared token",
            app.clone(),
            vec![("x-auth-token", SHARED)],
            "",
            "server",
            "token",
        ),
        (
            "query token",
            format!("{}/app/orders?token={SHARED}&x=1", nginx.url),
            vec![],
            "",
            "server",
            "token",
        ),
        (
            "app key",
            app.clone(),
            vec![("x-voltmx-app-api-key", "demo-app-key-1")],
            "demo-app",
            "app",
            "app-api-key",
        ),
        (
            "device",
            app.clone(),
            vec![("x-device-authtoken", "demo-device-token")],
            "demo-device",
            "device",
            "",
        ),
    ] {
        let answer = get(&url, &headers).await;
        let seen = upstream_headers(&answer);
        let header = |n: &str| {
            seen.get(n)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if !id.is_empty() {
            assert_eq!(header("x-authn-id"), id, "{what}");
        }
        assert_eq!(header("x-authn-kind"), kind, "{what}");
        if !scheme.is_empty() {
            assert_eq!(header("x-authn-scheme"), scheme, "{what}");
        }
        let claims = verifier
            .verify_token(&header("x-authn-assertion"))
            .unwrap_or_else(|e| panic!("{what}: the assertion does not verify: {e:?}"))
            .into_claims();
        assert_eq!(claims["sub"], header("x-authn-id"), "{what}");
        assert_eq!(claims["kind"], kind, "{what}");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            60,
            "{what}"
        );
    }
    let alice_roles = upstream_headers(&get(&app, &[("authorization", &alice)]).await);
    assert_eq!(alice_roles["x-authn-roles"], "admin");
    // The upstream gets the original URI, query included.
    let answer = get(&app, &[("authorization", &alice)]).await;
    assert_eq!(answer.json()["uri"], "/app/orders?x=1");
}

#[tokio::test]
async fn behind_nginx_refusals_are_401_with_challenges_and_forged_identities_never_pass() {
    let (gw, gw_addr) = gateway(&[]).await;
    let upstream = echo_upstream().await;
    let nginx = start_nginx(gw_addr, upstream).await;
    let app = format!("{}/app/orders", nginx.url);

    let none = get(&app, &[]).await;
    assert_eq!(none.status, 401, "{none:?}");
    // One field with every challenge (nginx 1.22 passes only the first field on).
    let direct = gw.get("/forward-auth", &[]).await;
    let whoami = gw.get("/whoami", &[]).await;
    assert_eq!(direct.challenges(), [whoami.challenges().join(", ")]);
    assert_eq!(
        none.challenges(),
        direct.challenges(),
        "every challenge reaches the client"
    );
    assert!(none.challenges()[0].starts_with("Basic realm=\"gateway\""));
    assert!(none.challenges()[0].contains("Bearer realm="));
    assert!(
        none.json().get("headers").is_none(),
        "the upstream was never called"
    );

    let forged = get(&app, &[("x-authn-id", "root"), ("x-authn-roles", "admin")]).await;
    assert_eq!(forged.status, 401, "a forged identity is no credential");

    let wrong = get(
        &app,
        &[("authorization", &basic("alice", "not-her-password"))],
    )
    .await;
    assert_eq!(wrong.status, 401);

    // With a credential, whatever the client says about itself is replaced.
    let seen = upstream_headers(
        &get(
            &app,
            &[
                ("authorization", &basic("bob@example.com", "builder")),
                ("x-authn-id", "root"),
                ("x-authn-roles", "admin"),
                ("x-authn-assertion", "forged"),
            ],
        )
        .await,
    );
    assert_eq!(seen["x-authn-id"], "bob@example.com");
    assert_eq!(seen["x-authn-roles"], "user");
    assert_ne!(seen["x-authn-assertion"], "forged");
}

#[tokio::test]
async fn the_original_uri_counts_only_from_trusted_proxies() {
    let via_proxy = [("x-original-uri", "/app?token=forward-shared-token")];
    let (trusted, _) = gateway(&[]).await;
    let answer = trusted.get("/forward-auth", &via_proxy).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.headers["x-authn-kind"], "server");
    assert!(answer.body.is_empty());
    let traefik = trusted
        .get(
            "/forward-auth/any/route",
            &[("x-forwarded-uri", "/app?token=forward-shared-token")],
        )
        .await;
    assert_eq!(traefik.status, 200, "{traefik:?}");
    // Envoy's ext_authz appends the original path and query to the prefix.
    let envoy = trusted
        .get("/forward-auth/app?token=forward-shared-token", &[])
        .await;
    assert_eq!(envoy.status, 200, "{envoy:?}");

    let (untrusted, _) = gateway(&[("GATEWAY_TRUSTED_PROXIES", "10.9.8.7")]).await;
    let answer = untrusted.get("/forward-auth", &via_proxy).await;
    assert_eq!(
        answer.status, 401,
        "a client cannot pick the URI judged: {answer:?}"
    );
    assert_eq!(answer.headers["x-authn-error"], "missing_credentials");
    assert!(!answer.challenges().is_empty());

    for bad in ["http://evil.example/?token=x", "no-slash"] {
        let answer = trusted
            .get("/forward-auth", &[("x-original-uri", bad)])
            .await;
        assert_eq!(answer.status, 400, "{bad}");
    }
    let two = trusted
        .get(
            "/forward-auth",
            &[("x-original-uri", "/a?token=x"), ("x-forwarded-uri", "/b")],
        )
        .await;
    assert_eq!(two.status, 400);
}
