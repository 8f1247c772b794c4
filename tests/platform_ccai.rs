//! The CCAI example server over real HTTP: the token endpoint reproduces the shared vector
//! byte for byte, its token is accepted back, and the failures are the documented ones.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/ccai.rs"]
mod example;

use base64::Engine as _;

use serde_json::Value;
use support::{basic, get, serve};
use tower_authn::clock::ManualClock;
use tower_authn::memory::MemoryUserStore;

fn vector() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ccai.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("shared vectors")).expect("json")
}

#[tokio::test]
async fn token_endpoint_matches_the_vector_and_is_accepted_back() {
    let v = vector();
    let p = &v["payload"];
    let s = |k: &str| p[k].as_str().unwrap().to_owned();
    // A user whose login is the vector's identifier.
    let users = MemoryUserStore::new();
    let (identifier, name, email) = (s("identifier"), s("name"), s("email"));
    users
        .add_user(&identifier, "pw", |u| u.with_name(name).with_email(email))
        .unwrap();
    let clock = ManualClock::at_unix(p["iat"].as_u64().unwrap());
    let app = example::app(users, &s("iss"), v["secret"].as_str().unwrap(), clock).unwrap();
    let base = format!("http://{}", serve(app).await);

    let res = get(
        &format!("{base}/auth/token"),
        &[("authorization", &basic(&identifier, "pw"))],
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["cache-control"], "no-store");
    assert_eq!(res.json().as_object().unwrap().len(), 1);
    let token = res.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(token, v["token_alg_typ"].as_str().unwrap());

    // The platform's side: the token verifies with the company secret.
    let bearer = format!("Bearer {token}");
    let me = get(
        &format!("{base}/ccai/whoami"),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["id"].as_str(), Some(identifier.as_str()));

    // The claims are the vector's (their order: the token is the vector's, byte for byte).
    let payload = token.split('.').nth(1).unwrap();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap(), *p);
}

#[tokio::test]
async fn documented_errors() {
    let users = example::demo::users().unwrap();
    let app = example::app(
        users,
        "ACME",
        "a-company-secret",
        ManualClock::at_unix(1_700_000_000),
    )
    .unwrap();
    let base = format!("http://{}", serve(app).await);

    let none = get(&format!("{base}/auth/token"), &[]).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["error"], "missing_credentials");
    assert_eq!(
        none.challenges(),
        [r#"Basic realm="ccai", charset="UTF-8""#]
    );

    let wrong = get(
        &format!("{base}/auth/token"),
        &[("authorization", &basic("alice", "nope"))],
    )
    .await;
    let unknown = get(
        &format!("{base}/auth/token"),
        &[("authorization", &basic("mallory", "nope"))],
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "invalid_credentials");
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));

    let malformed = get(
        &format!("{base}/auth/token"),
        &[("authorization", "Basic ***")],
    )
    .await;
    assert_eq!(malformed.status, 400);

    let ok = get(
        &format!("{base}/auth/token"),
        &[("authorization", &basic("alice", "wonderland"))],
    )
    .await;
    let token = ok.json()["token"].as_str().unwrap().to_owned();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims,
        serde_json::json!({"iss": "ACME", "iat": 1_700_000_000, "exp": 1_700_003_600, "identifier": "alice",
            "name": "Alice Liddell", "email": "alice@example.com"})
    );
    // Another first signature character: the signature no longer matches.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{head}.{flipped}{}", &sig[1..]);
    let bearer = format!("Bearer {forged}");
    assert_eq!(
        get(
            &format!("{base}/ccai/whoami"),
            &[("authorization", &bearer)]
        )
        .await
        .status,
        401
    );
}
