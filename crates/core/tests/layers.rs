//! The matrix every layer must pass: absent / malformed / wrong / right / duplicated /
//! hidden from the inner service; composition, optional mode, authorization, fail-closed,
//! and readiness.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;
use tower::{Layer, Service, ServiceExt};
use tower_authn_core::clock::ManualClock;
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
use tower_authn_core::{
    AccessSecretLayer, AppApiKeyLayer, AuthError, BasicAuthLayer, DeviceTokenLayer,
    HeaderTokenLayer, HideCredentials, KeyStoreExt, Principal, QueryTokenLayer, RequireLayer,
    Requirement, SharedTokenVerifier, UserStoreExt,
};

/// The inner service: echoes what it received, so tests see what the layer let through.
async fn echo(req: Request<()>) -> Result<Response<Bytes>, Infallible> {
    let principal = req.extensions().get::<Principal>().cloned();
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let body = serde_json::json!({
        "principal": principal,
        "uri": req.uri().to_string(),
        "headers": headers,
    });
    Ok(Response::new(Bytes::from(body.to_string())))
}

struct Answer {
    status: StatusCode,
    challenges: Vec<String>,
    body: Value,
}

async fn send<L>(layer: &L, req: Request<()>) -> Answer
where
    L: Layer<tower::util::ServiceFn<fn(Request<()>) -> EchoFuture>>,
    L::Service: Service<Request<()>, Response = Response<Bytes>, Error = Infallible>,
{
    let svc = layer.layer(tower::service_fn(
        echo_boxed as fn(Request<()>) -> EchoFuture,
    ));
    let res = svc.oneshot(req).await.unwrap();
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let status = res.status();
    let body = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
    Answer {
        status,
        challenges,
        body,
    }
}

type EchoFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<Bytes>, Infallible>> + Send>,
>;

fn echo_boxed(req: Request<()>) -> EchoFuture {
    Box::pin(echo(req))
}

fn get(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut b = Request::get(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap()
}

fn users() -> MemoryUserStore {
    let users = MemoryUserStore::new();
    users
        .add_user("Aladdin", "open sesame", |u| {
            u.with_name("Aladdin").with_roles(["user"])
        })
        .unwrap();
    users
        .add_user("alice", "wonderland", |u| u.with_roles(["admin"]))
        .unwrap();
    users
}

const ALADDIN: &str = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";
// Aladdin:wrong
const ALADDIN_WRONG: &str = "Basic QWxhZGRpbjp3cm9uZw==";
// nobody:open sesame
const NOBODY: &str = "Basic bm9ib2R5Om9wZW4gc2VzYW1l";

#[tokio::test]
async fn basic_matrix() {
    let layer = BasicAuthLayer::new(users().password_verifier()).realm("WallyWorld");

    let absent = send(&layer, get("/", &[])).await;
    assert_eq!(absent.status, 401);
    assert_eq!(
        absent.challenges,
        [r#"Basic realm="WallyWorld", charset="UTF-8""#]
    );
    assert_eq!(absent.body["error"], "missing_credentials");

    let malformed = send(&layer, get("/", &[("authorization", "Basic not-base64!")])).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.body["error"], "malformed_credentials");

    let wrong = send(&layer, get("/", &[("authorization", ALADDIN_WRONG)])).await;
    let unknown = send(&layer, get("/", &[("authorization", NOBODY)])).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"], "invalid_credentials");
    // An unknown user and a wrong password are indistinguishable.
    assert_eq!(
        (wrong.status, &wrong.challenges, &wrong.body),
        (unknown.status, &unknown.challenges, &unknown.body)
    );

    let right = send(&layer, get("/", &[("authorization", ALADDIN)])).await;
    assert_eq!(right.status, 200);
    assert_eq!(right.body["principal"]["id"], "Aladdin");
    assert_eq!(right.body["principal"]["scheme"], "basic");
    assert_eq!(right.body["principal"]["location"], "authorization:Basic");
    // Hidden: the inner service never sees the credential.
    assert!(right.body["headers"].get("authorization").is_none());

    let lower = send(
        &layer,
        get(
            "/",
            &[("authorization", "basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")],
        ),
    )
    .await;
    assert_eq!(lower.status, 200);

    let dup = send(
        &layer,
        get(
            "/",
            &[("authorization", ALADDIN), ("authorization", ALADDIN)],
        ),
    )
    .await;
    assert_eq!(dup.status, 400);
    assert_eq!(dup.body["error"], "duplicate_credentials");

    // Another scheme in Authorization is simply absent for Basic.
    let bearer = send(&layer, get("/", &[("authorization", "Bearer abc")])).await;
    assert_eq!(bearer.status, 401);
    assert_eq!(bearer.body["error"], "missing_credentials");
}

#[tokio::test]
async fn rfc7617_vectors_through_the_layer() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/rfc.json");
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for v in vectors["rfc7617_basic"].as_array().unwrap() {
        let (user, password) = (
            v["user"].as_str().unwrap().to_owned(),
            v["password"].as_str().unwrap().to_owned(),
        );
        let verifier = move |c: BasicCredentials| {
            let ok = c.username == user && c.password.expose_secret() == password;
            async move {
                if ok {
                    Ok(Principal::user(c.username))
                } else {
                    Err(AuthError::invalid("no"))
                }
            }
        };
        let realm = v["challenge"]
            .as_str()
            .unwrap()
            .split('"')
            .nth(1)
            .unwrap()
            .to_owned();
        let layer = BasicAuthLayer::new(verifier).realm(realm);
        let ok = send(
            &layer,
            get(
                "/",
                &[("authorization", v["authorization"].as_str().unwrap())],
            ),
        )
        .await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body["principal"]["id"], v["user"]);
        let challenge = send(&layer, get("/", &[])).await.challenges.remove(0);
        // Our challenge always carries charset="UTF-8" (RFC 7617 §2.1); the realm matches.
        assert!(
            challenge.starts_with(v["challenge"].as_str().unwrap().split(',').next().unwrap()),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn header_and_query_token_matrix() {
    let layer = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver"))
        .with_query("token");

    let absent = send(&layer, get("/", &[])).await;
    assert_eq!(absent.status, 401);
    assert_eq!(
        absent.challenges,
        [r#"Token realm="api", header="X-Auth-Token", query="token""#]
    );

    assert_eq!(
        send(&layer, get("/", &[("x-auth-token", "")])).await.status,
        400
    );
    assert_eq!(send(&layer, get("/?token=a%20b", &[])).await.status, 400);
    assert_eq!(
        send(&layer, get("/", &[("x-auth-token", "nope")]))
            .await
            .status,
        401
    );
    assert_eq!(send(&layer, get("/?token=nope", &[])).await.status, 401);

    let header = send(
        &layer,
        get("/p?x=1", &[("x-auth-token", "s3rver"), ("x-other", "kept")]),
    )
    .await;
    assert_eq!(header.status, 200);
    assert_eq!(header.body["principal"]["kind"], "server");
    assert_eq!(header.body["principal"]["location"], "header:x-auth-token");
    assert!(header.body["headers"].get("x-auth-token").is_none());
    assert_eq!(header.body["headers"]["x-other"], "kept");

    let query = send(&layer, get("/p?a=%2F&token=s3rver&b=c+d", &[])).await;
    assert_eq!(query.status, 200);
    assert_eq!(query.body["principal"]["location"], "query:token");
    // Removed from the URI, everything else byte-identical.
    assert_eq!(query.body["uri"], "/p?a=%2F&b=c+d");

    // Duplicates, even equal: two header lines, header + query, two query copies.
    for req in [
        get(
            "/",
            &[("x-auth-token", "s3rver"), ("x-auth-token", "s3rver")],
        ),
        get("/?token=s3rver", &[("x-auth-token", "s3rver")]),
        get("/?token=s3rver&token=s3rver", &[]),
    ] {
        let a = send(&layer, req).await;
        assert_eq!(a.status, 400);
        assert_eq!(a.body["error"], "duplicate_credentials");
    }
}

#[tokio::test]
async fn bearer_follows_rfc6750() {
    let layer =
        HeaderTokenLayer::bearer(SharedTokenVerifier::new("mF_9.B5f-4.1JqM")).realm("example");
    let absent = send(&layer, get("/", &[])).await;
    assert_eq!(absent.challenges, [r#"Bearer realm="example""#]);

    let ok = send(
        &layer,
        get("/", &[("authorization", "Bearer mF_9.B5f-4.1JqM")]),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        send(
            &layer,
            get("/", &[("authorization", "bearer mF_9.B5f-4.1JqM")])
        )
        .await
        .status,
        200
    );

    let wrong = send(&layer, get("/", &[("authorization", "Bearer other")])).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.challenges,
        [
            r#"Bearer realm="example", error="invalid_token", error_description="The credentials are not valid.""#
        ]
    );
    let bad = send(&layer, get("/", &[("authorization", "Bearer a b")])).await;
    assert_eq!(bad.status, 400);
    let two = send(
        &layer,
        get(
            "/",
            &[
                ("authorization", "Basic eDp5"),
                ("authorization", "Bearer mF_9.B5f-4.1JqM"),
            ],
        ),
    )
    .await;
    assert_eq!(two.status, 400);
}

#[tokio::test]
async fn query_token_layer_and_sensitive_mode() {
    let layer = QueryTokenLayer::new("jwt", SharedTokenVerifier::new("t0ken"));
    let ok = send(&layer, get("/x?jwt=t0ken", &[])).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["uri"], "/x");

    let keep = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("t0ken"))
        .hide_credentials(HideCredentials::MarkSensitive);
    let svc = keep.layer(tower::service_fn(|req: Request<()>| async move {
        let v = req.headers().get("x-auth-token").cloned();
        Ok::<_, Infallible>(Response::new(Bytes::from(format!(
            "{:?}",
            v.map(|v| v.is_sensitive())
        ))))
    }));
    let res = svc
        .oneshot(get("/", &[("x-auth-token", "t0ken")]))
        .await
        .unwrap();
    assert_eq!(res.into_body(), "Some(true)");
}

async fn key_store() -> (MemoryKeyStore, String, String, String, String) {
    let keys = MemoryKeyStore::new();
    let dev = Principal::device("dev-1").with_app_id("demo-app");
    keys.insert_plaintext(
        KeyKind::DeviceToken,
        "dev-1".into(),
        "device-token-1",
        dev,
        None,
    )
    .await
    .unwrap();
    let (_, app_key) = keys
        .issue_key(KeyKind::AppApiKey, Principal::app("demo-app"), None)
        .await
        .unwrap();
    let (_, token, secret) = keys
        .issue_access_pair(Principal::app("msg-app"), None)
        .await
        .unwrap();
    (keys, "device-token-1".into(), app_key, token, secret)
}

#[tokio::test]
async fn device_and_app_key_matrix() {
    let (keys, device, app_key, _, _) = key_store().await;
    let device_layer =
        DeviceTokenLayer::new("X-Device-AuthToken", keys.verifier(KeyKind::DeviceToken));
    let app_layer = AppApiKeyLayer::new("X-VoltMX-App-API-Key", keys.verifier(KeyKind::AppApiKey));

    for (layer_header, good) in [
        ("x-device-authtoken", &device),
        ("x-voltmx-app-api-key", &app_key),
    ] {
        let run = |req| async {
            if layer_header == "x-device-authtoken" {
                send(&device_layer, req).await
            } else {
                send(&app_layer, req).await
            }
        };
        assert_eq!(run(get("/", &[])).await.status, 401);
        assert_eq!(
            run(get("/", &[(layer_header, "bad token")])).await.status,
            400
        );
        assert_eq!(run(get("/", &[(layer_header, "wrong")])).await.status, 401);
        assert_eq!(
            run(get("/", &[(layer_header, good), (layer_header, good)]))
                .await
                .status,
            400
        );
        let ok = run(get("/", &[(layer_header, good)])).await;
        assert_eq!(ok.status, 200, "{layer_header}");
        assert!(ok.body["headers"].get(layer_header).is_none());
    }
    let ok = send(&device_layer, get("/", &[("x-device-authtoken", &device)])).await;
    assert_eq!(ok.body["principal"]["kind"], "device");
    assert_eq!(ok.body["principal"]["scheme"], "device-token");
    assert_eq!(ok.body["principal"]["app_id"], "demo-app");
    let ok = send(&app_layer, get("/", &[("x-voltmx-app-api-key", &app_key)])).await;
    assert_eq!(ok.body["principal"]["scheme"], "app-api-key");
    assert!(ok.body["principal"]["key_id"].is_string());
}

#[tokio::test]
async fn access_secret_matrix() {
    let (keys, _, _, token, secret) = key_store().await;
    let layer = AccessSecretLayer::new(keys.access_pair_verifier());
    assert_eq!(send(&layer, get("/", &[])).await.status, 401);
    assert_eq!(
        send(&layer, get("/", &[("accesstoken", &token)]))
            .await
            .status,
        400
    );
    assert_eq!(
        send(
            &layer,
            get("/", &[("accesstoken", &token), ("accesssecret", "wrong")])
        )
        .await
        .status,
        401
    );
    assert_eq!(
        send(
            &layer,
            get("/", &[("accesstoken", "wrong"), ("accesssecret", &secret)])
        )
        .await
        .status,
        401
    );
    let dup = [
        ("accesstoken", token.as_str()),
        ("accesstoken", token.as_str()),
        ("accesssecret", secret.as_str()),
    ];
    assert_eq!(send(&layer, get("/", &dup)).await.status, 400);
    let ok = send(
        &layer,
        get("/", &[("AccessToken", &token), ("AccessSecret", &secret)]),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["principal"]["id"], "msg-app");
    assert!(
        ok.body["headers"].get("accesstoken").is_none()
            && ok.body["headers"].get("accesssecret").is_none()
    );
}

#[tokio::test]
async fn revoked_and_expired_keys() {
    let keys = MemoryKeyStore::new();
    let clock = ManualClock::at_unix(1_700_000_000);
    let soon = Some(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_060));
    let (rec, key) = keys
        .issue_key(KeyKind::AppApiKey, Principal::app("a"), soon)
        .await
        .unwrap();
    let layer = AppApiKeyLayer::new(
        "X-VoltMX-App-API-Key",
        keys.verifier(KeyKind::AppApiKey)
            .with_clock(std::sync::Arc::new(clock.clone())),
    );
    assert_eq!(
        send(&layer, get("/", &[("x-voltmx-app-api-key", &key)]))
            .await
            .status,
        200
    );
    clock.advance(Duration::from_secs(60));
    let expired = send(&layer, get("/", &[("x-voltmx-app-api-key", &key)])).await;
    assert_eq!(
        (expired.status.as_u16(), expired.body["error"].as_str()),
        (401, Some("expired"))
    );
    clock.set_unix(1_700_000_000);
    tower_authn_core::KeyStore::revoke(&keys, KeyKind::AppApiKey, &rec.id)
        .await
        .unwrap();
    let revoked = send(&layer, get("/", &[("x-voltmx-app-api-key", &key)])).await;
    assert_eq!(
        (revoked.status.as_u16(), revoked.body["error"].as_str()),
        (401, Some("revoked"))
    );
}

#[tokio::test]
async fn any_of_first_present_decides_without_downgrade() {
    let layer = BasicAuthLayer::new(users().password_verifier()).or(HeaderTokenLayer::new(
        "X-Auth-Token",
        SharedTokenVerifier::new("s3rver"),
    ));

    let none = send(&layer, get("/", &[])).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.challenges.len(), 2, "{:?}", none.challenges);

    assert_eq!(
        send(&layer, get("/", &[("authorization", ALADDIN)]))
            .await
            .body["principal"]["scheme"],
        "basic"
    );
    assert_eq!(
        send(&layer, get("/", &[("x-auth-token", "s3rver")]))
            .await
            .body["principal"]["scheme"],
        "token"
    );

    // A wrong Basic password is rejected even though a valid token follows.
    let no_downgrade = send(
        &layer,
        get(
            "/",
            &[("authorization", ALADDIN_WRONG), ("x-auth-token", "s3rver")],
        ),
    )
    .await;
    assert_eq!(no_downgrade.status, 401);
    // A malformed first credential is a 400 even though a valid token follows.
    let malformed = send(
        &layer,
        get(
            "/",
            &[("authorization", "Basic !!"), ("x-auth-token", "s3rver")],
        ),
    )
    .await;
    assert_eq!(malformed.status, 400);
    // Both valid: the first scheme decides and both credentials are hidden.
    let both = send(
        &layer,
        get(
            "/",
            &[("authorization", ALADDIN), ("x-auth-token", "s3rver")],
        ),
    )
    .await;
    assert_eq!(both.body["principal"]["scheme"], "basic");
    assert!(both.body["headers"].get("x-auth-token").is_none());
}

#[tokio::test]
async fn all_of_needs_both() {
    let layer = BasicAuthLayer::new(users().password_verifier()).and(HeaderTokenLayer::new(
        "X-Auth-Token",
        SharedTokenVerifier::new("s3rver"),
    ));
    assert_eq!(
        send(&layer, get("/", &[("authorization", ALADDIN)]))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&layer, get("/", &[("x-auth-token", "s3rver")]))
            .await
            .status,
        401
    );
    let wrong = send(
        &layer,
        get("/", &[("authorization", ALADDIN), ("x-auth-token", "nope")]),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let ok = send(
        &layer,
        get(
            "/",
            &[("authorization", ALADDIN), ("x-auth-token", "s3rver")],
        ),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["principal"]["id"], "Aladdin");
    assert_eq!(
        ok.body["principal"]["attributes"]["second_factor"]["scheme"],
        "token"
    );
}

#[tokio::test]
async fn optional_passes_anonymous_but_rejects_bad() {
    let layer = BasicAuthLayer::new(users().password_verifier()).optional();
    let anon = send(&layer, get("/", &[])).await;
    assert_eq!(anon.status, 200);
    assert_eq!(anon.body["principal"], Value::Null);
    assert_eq!(
        send(&layer, get("/", &[("authorization", ALADDIN_WRONG)]))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&layer, get("/", &[("authorization", "Basic %%")]))
            .await
            .status,
        400
    );
    assert_eq!(
        send(&layer, get("/", &[("authorization", ALADDIN)]))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn requirements_answer_403() {
    let layer =
        BasicAuthLayer::new(users().password_verifier()).require(Requirement::role("admin"));
    let alice = "Basic YWxpY2U6d29uZGVybGFuZA==";
    assert_eq!(
        send(&layer, get("/", &[("authorization", alice)]))
            .await
            .status,
        200
    );
    let forbidden = send(&layer, get("/", &[("authorization", ALADDIN)])).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.body["error"], "forbidden");
    assert_eq!(send(&layer, get("/", &[])).await.status, 401);

    // As a separate layer inside an auth layer.
    let auth = BasicAuthLayer::new(users().password_verifier());
    let svc = tower::ServiceBuilder::new()
        .layer(auth)
        .layer(RequireLayer::new(Requirement::any_role(["admin", "ops"])))
        .service_fn(echo);
    let res = svc
        .clone()
        .oneshot(get("/", &[("authorization", ALADDIN)]))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = svc
        .oneshot(get("/", &[("authorization", alice)]))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn store_failure_fails_closed() {
    let down = |_: TokenCredential| async {
        Err::<Principal, _>(tower_authn_core::StoreError::new("redis down").into())
    };
    let layer = HeaderTokenLayer::new("X-Auth-Token", down);
    let a = send(&layer, get("/", &[("x-auth-token", "anything")])).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.body["error"], "unavailable");
}

#[tokio::test]
async fn custom_error_body() {
    let layer = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s")).responder(|e: &AuthError| {
        let body = serde_json::json!({"success": false, "message": e.message(), "status": e.status().as_u16()});
        tower_authn_core::respond::json_response(e.status(), body.to_string())
    });
    let a = send(&layer, get("/", &[("x-auth-token", "nope")])).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["success"], false);
    assert_eq!(a.body["status"], 401);
    assert_eq!(
        a.challenges.len(),
        1,
        "challenges are added to any 401 body shape"
    );
}

#[tokio::test]
async fn readiness_is_propagated_and_rejected_requests_never_reach_inner() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<()>, Response<Bytes>>();
    let layer = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver"));
    let mut svc = tower_test::mock::Spawn::new(layer.layer(mock));

    handle.allow(0);
    assert!(svc.poll_ready().is_pending());
    handle.allow(2);
    assert!(svc.poll_ready().is_ready());

    // Rejected: answered without calling the inner service.
    let res = svc
        .call(get("/", &[("x-auth-token", "wrong")]))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(handle.poll_request().is_pending());

    assert!(svc.poll_ready().is_ready());
    let fut = svc.call(get("/", &[("x-auth-token", "s3rver")]));
    let call = tokio::spawn(fut);
    let (req, send_response) = handle.next_request().await.unwrap();
    assert_eq!(req.extensions().get::<Principal>().unwrap().id, "server");
    send_response.send_response(Response::new(Bytes::from_static(b"ok")));
    assert_eq!(call.await.unwrap().unwrap().into_body(), "ok");
}

/// `Aladdin:open sesame`, after a separator other than exactly one space.
const ALADDIN_SEPARATORS: [&str; 3] = [
    "Basic\tQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    "Basic  QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
];

#[tokio::test]
async fn a_scheme_name_without_exactly_one_space_is_malformed_even_before_a_valid_credential() {
    let (keys, device, _, _, _) = key_store().await;
    let layer = BasicAuthLayer::new(users().password_verifier()).or(DeviceTokenLayer::new(
        "X-Device-AuthToken",
        keys.verifier(KeyKind::DeviceToken),
    ));
    assert_eq!(
        send(&layer, get("/", &[("x-device-authtoken", &device)]))
            .await
            .status,
        200
    );
    for value in ALADDIN_SEPARATORS {
        let a = send(
            &layer,
            get(
                "/",
                &[("authorization", value), ("x-device-authtoken", &device)],
            ),
        )
        .await;
        assert_eq!(
            (a.status.as_u16(), a.body["error"].as_str()),
            (400, Some("malformed_credentials")),
            "{value:?}"
        );
    }
    let bearer = HeaderTokenLayer::bearer(SharedTokenVerifier::new("s3rver")).or(
        DeviceTokenLayer::new("X-Device-AuthToken", keys.verifier(KeyKind::DeviceToken)),
    );
    for value in ["Bearer\ts3rver", "Bearer  s3rver", "Bearers3rver"] {
        let a = send(
            &bearer,
            get(
                "/",
                &[("authorization", value), ("x-device-authtoken", &device)],
            ),
        )
        .await;
        assert_eq!(a.status, 400, "{value:?}");
    }
    assert_eq!(
        send(&bearer, get("/", &[("authorization", "Bearer s3rver")]))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn or_keeps_the_right_hand_requirement() {
    let alice = "Basic YWxpY2U6d29uZGVybGFuZA==";
    let layer = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver"))
        .or(BasicAuthLayer::new(users().password_verifier()).require(Requirement::role("admin")));
    // Aladdin has no admin role: the right-hand requirement holds inside the composition.
    let not_admin = send(&layer, get("/", &[("authorization", ALADDIN)])).await;
    assert_eq!(
        (not_admin.status.as_u16(), not_admin.body["error"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        send(&layer, get("/", &[("authorization", alice)]))
            .await
            .status,
        200
    );
    // The left side has no requirement.
    assert_eq!(
        send(&layer, get("/", &[("x-auth-token", "s3rver")]))
            .await
            .status,
        200
    );
    // The left's requirement is kept too, and one on the composition applies to both.
    let left = BasicAuthLayer::new(users().password_verifier())
        .require(Requirement::role("admin"))
        .or(HeaderTokenLayer::new(
            "X-Auth-Token",
            SharedTokenVerifier::new("s3rver"),
        ));
    assert_eq!(
        send(&left, get("/", &[("authorization", ALADDIN)]))
            .await
            .status,
        403
    );
    let both = left.require(Requirement::role("ops"));
    assert_eq!(
        send(&both, get("/", &[("x-auth-token", "s3rver")]))
            .await
            .status,
        403
    );
    assert_eq!(
        send(&both, get("/", &[("authorization", alice)]))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn or_keeps_optional_and_the_responder_of_either_side() {
    let token = || HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver"));
    let basic = || BasicAuthLayer::new(users().password_verifier());
    let optional_right = token().or(basic().optional());
    let anon = send(&optional_right, get("/", &[])).await;
    assert_eq!(anon.status, 200);
    assert_eq!(anon.body["principal"], Value::Null);
    // Still no downgrade: a bad credential is rejected.
    assert_eq!(
        send(&optional_right, get("/", &[("x-auth-token", "nope")]))
            .await
            .status,
        401
    );
    // An optional side with a requirement never lets anonymous requests through.
    let guarded = token().or(basic().optional().require(Requirement::role("admin")));
    assert_eq!(send(&guarded, get("/", &[])).await.status, 401);

    let shaped = |e: &AuthError| {
        let body = serde_json::json!({"success": false, "status": e.status().as_u16()});
        tower_authn_core::respond::json_response(e.status(), body.to_string())
    };
    let right_shape = token().or(basic().responder(shaped));
    for req in [
        get("/", &[]),
        get("/", &[("x-auth-token", "nope")]),
        get("/", &[("authorization", ALADDIN_WRONG)]),
    ] {
        let a = send(&right_shape, req).await;
        assert_eq!(
            (a.status.as_u16(), &a.body["success"]),
            (401, &Value::Bool(false))
        );
    }
    let hidden = basic()
        .hide_credentials(HideCredentials::MarkSensitive)
        .or(token());
    let a = send(&hidden, get("/", &[("authorization", ALADDIN)])).await;
    assert_eq!(
        a.body["headers"]["authorization"], ALADDIN,
        "the left keeps its hiding"
    );
}

#[test]
#[should_panic(expected = "different responder")]
fn two_different_responders_do_not_compose() {
    let shaped = |e: &AuthError| tower_authn_core::respond::json_response(e.status(), "{}".into());
    let other = |e: &AuthError| tower_authn_core::respond::json_response(e.status(), "[]".into());
    // One responder type on both sides composes.
    let _ = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver"))
        .responder(shaped)
        .or(BasicAuthLayer::new(users().password_verifier()).responder(shaped));
    let _ = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver"))
        .responder(shaped)
        .or(BasicAuthLayer::new(users().password_verifier()).responder(other));
}

#[tokio::test]
async fn and_runs_both_halves_and_keeps_each_sides_options() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let (c1, c2) = (Arc::clone(&calls), Arc::clone(&calls));
    let first = BasicAuthLayer::new(move |c: BasicCredentials| {
        c1[0].fetch_add(1, Ordering::SeqCst);
        async move {
            if c.password.expose_secret() == "open sesame" {
                Ok(Principal::user(c.username).with_roles(["user"]))
            } else {
                Err(AuthError::invalid("wrong"))
            }
        }
    });
    let second = HeaderTokenLayer::new("X-Auth-Token", move |t: TokenCredential| {
        c2[1].fetch_add(1, Ordering::SeqCst);
        async move {
            if t.expose() == "s3rver" {
                Ok(Principal::server("server"))
            } else {
                Err(AuthError::invalid("wrong"))
            }
        }
    });
    let both = first.clone().and(second.clone());
    // The first half fails: the second still runs (no timing tells which failed).
    let a = send(
        &both,
        get(
            "/",
            &[("authorization", ALADDIN_WRONG), ("x-auth-token", "s3rver")],
        ),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        [
            calls[0].load(Ordering::SeqCst),
            calls[1].load(Ordering::SeqCst)
        ],
        [1, 1]
    );
    let a = send(
        &both,
        get("/", &[("authorization", ALADDIN), ("x-auth-token", "nope")]),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        [
            calls[0].load(Ordering::SeqCst),
            calls[1].load(Ordering::SeqCst)
        ],
        [2, 2]
    );

    // A requirement on the second half is checked on its principal.
    let required = first
        .clone()
        .and(second.clone().require(Requirement::role("admin")));
    let a = send(
        &required,
        get(
            "/",
            &[("authorization", ALADDIN), ("x-auth-token", "s3rver")],
        ),
    )
    .await;
    assert_eq!(a.status, 403);

    // An optional second half may be absent, but is checked when present.
    let optional = first.and(second.optional());
    let a = send(&optional, get("/", &[("authorization", ALADDIN)])).await;
    assert_eq!(
        (a.status.as_u16(), &a.body["principal"]["id"]),
        (200, &Value::from("Aladdin"))
    );
    let a = send(
        &optional,
        get("/", &[("authorization", ALADDIN), ("x-auth-token", "nope")]),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(send(&optional, get("/", &[])).await.status, 401);
    assert_eq!(
        send(&optional, get("/", &[("x-auth-token", "s3rver")]))
            .await
            .status,
        401,
        "the required half is still required"
    );
}
