//! Shared helpers for the cross-crate tests: serve a router on 127.0.0.1:0 and talk to it
//! over real HTTP/1.1.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Serves `router` on a free loopback port until the test ends.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Every `WWW-Authenticate` value.
    pub fn challenges(&self) -> Vec<String> {
        self.headers
            .get_all("www-authenticate")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }
}

/// Sends one request with `headers` and `body`.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client
        .request(req.body(Full::new(body.into())).expect("request"))
        .await
        .expect("send");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A GET with `headers`.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    send(Method::GET, url, headers, Bytes::new()).await
}

/// A server under test, addressed by its base URL (`http://127.0.0.1:PORT`).
#[derive(Debug, Clone)]
pub struct Server {
    pub base: String,
}

impl Server {
    /// The server at `addr`.
    pub fn at(addr: SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET of `path` with `headers`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        get(&self.url(path), headers).await
    }

    /// A POST of `body` as JSON.
    pub async fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: serde_json::Value,
    ) -> Answer {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        send(Method::POST, &self.url(path), &h, body.to_string()).await
    }
}

/// An `Authorization: Basic` value (RFC 7617).
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The string at JSON `pointer` in `answer`'s body; panics with the body when absent.
pub fn field(answer: &Answer, pointer: &str) -> String {
    answer
        .json()
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {:?}", answer.json()))
        .to_owned()
}

/// A vector file from `tests/vectors/` (copied from `shared/vectors/`).
pub fn vectors(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("shared vectors")).expect("json")
}

/// A request that proves a user: a path and its headers.
pub type Probe = (&'static str, Vec<(&'static str, String)>);

/// Every credential the gateway gives alice (`alice` / `wonderland`): a XiVO token (its
/// `whoami` and its renewal), a gateway JWT, a Volt MX claims token, an access pair, her
/// HA1B and Basic. Each probe answers 200 while she is enabled.
pub async fn alice_credentials(gw: &Server) -> Vec<Probe> {
    let alice = basic("alice", "wonderland");
    let xivo = gw
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            serde_json::json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    let xivo_token = field(&xivo, "/token");
    let jwt = field(
        &gw.get("/rest/auth", &[("authorization", &alice)]).await,
        "/payload/token",
    );
    let claims = field(
        &gw.post_json(
            "/authService/accounts/login",
            &[],
            serde_json::json!({"userid": "alice", "password": "wonderland"}),
        )
        .await,
        "/claims_token/value",
    );
    let pair = gw
        .get("/api/v1/oauth/accesstoken", &[("authorization", &alice)])
        .await;
    let (access, secret) = (field(&pair, "/AccessToken"), field(&pair, "/AccessSecret"));
    let ha1b = tower_authn::password::ha1b("alice", "sip.example.com", "wonderland");
    vec![
        ("/admin/whoami", vec![("x-auth-token", xivo_token.clone())]),
        (
            "/xuc/api/2.0/auth/check",
            vec![("authorization", format!("Bearer {xivo_token}"))],
        ),
        ("/jwt/whoami", vec![("x-auth-token", jwt)]),
        ("/claims/whoami", vec![("x-voltmx-authorization", claims)]),
        (
            "/messaging/whoami",
            vec![("accesstoken", access), ("accesssecret", secret)],
        ),
        ("/ha1b/whoami", vec![("x-auth-ha1b-token", ha1b)]),
        ("/basic/whoami", vec![("authorization", alice)]),
    ]
}

/// The status `probe` gets from `gw`.
pub async fn probe_status(gw: &Server, probe: &Probe) -> StatusCode {
    let headers: Vec<(&str, &str)> = probe.1.iter().map(|(k, v)| (*k, v.as_str())).collect();
    gw.get(probe.0, &headers).await.status
}

/// Google's keys from the test vectors, in a file (nothing is fetched from the internet).
/// One file for every test and run, named after what it holds, so nothing piles up in
/// the temporary directory; it is written whole under another name, then renamed.
pub fn jwks_file() -> String {
    use std::hash::{Hash, Hasher};
    let jwks = vectors("google-id-token.json")["jwks"].to_string();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    jwks.hash(&mut h);
    let path = std::env::temp_dir().join(format!("gateway-google-jwks-{:016x}.json", h.finish()));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(jwks.as_str()) {
        let part = path.with_extension(format!("{}.part", rand::random::<u64>()));
        std::fs::write(&part, &jwks).expect("write jwks");
        std::fs::rename(&part, &path).expect("rename jwks");
    }
    path.display().to_string()
}
