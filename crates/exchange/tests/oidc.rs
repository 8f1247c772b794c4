//! OpenID Connect against a provider on loopback (discovery + JWKS), fetched through the
//! real `HyperFetcher`: rotation, wrong issuer / audience, expiry, unknown key, algorithm
//! confusion, outages.

#[path = "../../jwt/tests/support/keys.rs"]
mod keys;
#[path = "support/peers.rs"]
mod peers;

use std::time::Duration;

use peers::OidcServer;
use tower_authn_core::ErrorKind;
use tower_authn_core::clock::ManualClock;
use tower_authn_exchange::Provider;
use tower_authn_exchange::oidc::OidcProvider;
use tower_authn_jwt::{Algorithm, Claims, HyperFetcher, JwtIssuer, RemoteJwksConfig, SigningKey};

const AUDIENCE: &str = "xuc";

fn rsa() -> SigningKey {
    SigningKey::rsa_pem(Algorithm::RS256, keys::RSA2)
        .unwrap()
        .with_kid("rsa-1")
}

fn ec() -> SigningKey {
    SigningKey::ec_pem(keys::EC256).unwrap().with_kid("ec-2")
}

fn jwks(keys: &[&SigningKey]) -> String {
    let keys: Vec<_> = keys.iter().map(|k| k.public_jwk().unwrap()).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

fn token(key: SigningKey, issuer: &str, audience: &str, user: &str) -> String {
    JwtIssuer::new(key)
        .with_issuer(issuer)
        .with_audiences([audience])
        .issue(
            Claims::new()
                .with("sub", format!("sub-{user}"))
                .with("preferred_username", user),
        )
        .unwrap()
}

fn provider(server: &OidcServer) -> OidcProvider {
    OidcProvider::new(&server.issuer, AUDIENCE, HyperFetcher::new())
        .unwrap()
        .with_jwks_config(RemoteJwksConfig::new().with_min_refresh_interval(Duration::ZERO))
}

#[tokio::test]
async fn a_token_of_the_provider_gives_its_user() {
    let server = OidcServer::start(jwks(&[&rsa()])).await;
    let p = provider(&server);
    let id = p
        .verify(&token(rsa(), &server.issuer, AUDIENCE, "alice"))
        .await
        .unwrap();
    assert_eq!(
        (id.provider, id.login.as_str(), id.subject.as_str()),
        (Provider::Oidc, "alice", "sub-alice")
    );
    // Discovery once, keys once, for any number of tokens.
    p.verify(&token(rsa(), &server.issuer, AUDIENCE, "bob"))
        .await
        .unwrap();
    assert_eq!((server.discovery_hits(), server.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn the_user_comes_from_the_configured_claim() {
    let server = OidcServer::start(jwks(&[&rsa()])).await;
    let p = provider(&server).with_user_claim("email");
    let t = JwtIssuer::new(rsa())
        .with_issuer(&server.issuer)
        .with_audiences([AUDIENCE])
        .issue(
            Claims::new()
                .with("sub", "1")
                .with("email", "alice@example.com"),
        )
        .unwrap();
    assert_eq!(p.verify(&t).await.unwrap().login, "alice@example.com");
    // Without the claim (or with an empty or non-string one): refused.
    let t = token(rsa(), &server.issuer, AUDIENCE, "alice");
    assert_eq!(
        p.verify(&t).await.unwrap_err().kind(),
        ErrorKind::InvalidCredentials
    );
}

#[tokio::test]
async fn rotated_keys_are_fetched_for_an_unknown_kid() {
    let server = OidcServer::start(jwks(&[&rsa()])).await;
    let p = provider(&server);
    p.verify(&token(rsa(), &server.issuer, AUDIENCE, "alice"))
        .await
        .unwrap();
    server.set_jwks(jwks(&[&ec()]));
    p.verify(&token(ec(), &server.issuer, AUDIENCE, "alice"))
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 2);
}

#[tokio::test]
async fn refused_tokens() {
    let server = OidcServer::start(jwks(&[&rsa()])).await;
    let p = provider(&server);
    let iss = server.issuer.clone();
    let past = ManualClock::at_unix(1_600_000_000);
    let expired = JwtIssuer::new(rsa())
        .with_issuer(&iss)
        .with_audiences([AUDIENCE])
        .with_clock(past)
        .issue(Claims::new().with("preferred_username", "alice"))
        .unwrap();
    // The provider's public key used as an HMAC secret (algorithm confusion).
    let confused = JwtIssuer::new(
        SigningKey::hmac_any_length(Algorithm::HS256, keys::RSA2_PUB.as_bytes())
            .unwrap()
            .with_kid("rsa-1"),
    )
    .with_issuer(&iss)
    .with_audiences([AUDIENCE])
    .issue(Claims::new().with("preferred_username", "alice"))
    .unwrap();
    let unknown_key = token(
        SigningKey::ec_pem(keys::EC256).unwrap().with_kid("nobody"),
        &iss,
        AUDIENCE,
        "alice",
    );
    let header = base64_url(r#"{"alg":"none","typ":"JWT"}"#);
    let body = base64_url(&format!(
        r#"{{"iss":"{iss}","aud":"{AUDIENCE}","exp":4000000000,"preferred_username":"alice"}}"#
    ));
    let none = format!("{header}.{body}.");
    for (t, why, kind) in [
        (
            token(rsa(), "https://evil.example", AUDIENCE, "alice"),
            "wrong issuer",
            ErrorKind::InvalidCredentials,
        ),
        (
            token(rsa(), &iss, "another-app", "alice"),
            "wrong audience",
            ErrorKind::InvalidCredentials,
        ),
        (expired, "expired", ErrorKind::Expired),
        (
            confused,
            "HS256 with the public key",
            ErrorKind::InvalidCredentials,
        ),
        (unknown_key, "unknown kid", ErrorKind::InvalidCredentials),
        (none, "alg none", ErrorKind::InvalidCredentials),
        (
            "garbage".to_owned(),
            "garbage",
            ErrorKind::InvalidCredentials,
        ),
    ] {
        let e = p.verify(&t).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{why}: {e:?}");
    }
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn a_provider_down_after_the_first_fetch_keeps_serving_its_known_keys() {
    let server = OidcServer::start(jwks(&[&rsa()])).await;
    let p = provider(&server);
    p.verify(&token(rsa(), &server.issuer, AUDIENCE, "alice"))
        .await
        .unwrap();
    server.set_down(true);
    p.verify(&token(rsa(), &server.issuer, AUDIENCE, "alice"))
        .await
        .unwrap();
    // A key it never published cannot be had while it is down: refused, never accepted.
    assert!(
        p.verify(&token(ec(), &server.issuer, AUDIENCE, "alice"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_provider_down_from_the_start_is_503_and_retried_sparingly() {
    let server = OidcServer::start(jwks(&[&rsa()])).await;
    server.set_down(true);
    let p = provider(&server).with_discovery_retry(Duration::from_secs(3600));
    for _ in 0..5 {
        let e = p
            .verify(&token(rsa(), &server.issuer, AUDIENCE, "alice"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }
    assert_eq!(
        server.discovery_hits(),
        1,
        "one discovery per retry interval, not per request"
    );

    let url = peers::unreachable_url().await;
    let p = OidcProvider::new(&url, AUDIENCE, HyperFetcher::new()).unwrap();
    assert_eq!(
        p.verify("a.b.c").await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let server = OidcServer::start(jwks(&[&rsa()])).await;
    server.claim_issuer("https://evil.example");
    let p = provider(&server);
    let e = p
        .verify(&token(rsa(), "https://evil.example", AUDIENCE, "alice"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(server.jwks_hits(), 0);
}
