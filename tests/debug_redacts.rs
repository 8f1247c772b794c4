//! "Every `Debug` redacts them" (README "Architecture"): the types that hold a secret and
//! are not covered by their crate's own tests print none of it: the shared-token verifier,
//! a keyed hasher, an issued token, a refresh grant, an issued app key, and the gateway's
//! configuration with every secret variable set.

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::config;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tower_authn::issue::IssuedToken;
use tower_authn::issue::RefreshTokens;
use tower_authn::issue::{AppKeys, Expiry};
use tower_authn::memory::MemoryKeyStore;
use tower_authn::{KeyHasher, Principal, SharedTokenVerifier};

#[track_caller]
fn hides(printed: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
}

#[tokio::test]
async fn secrets_never_print() {
    hides(
        &format!("{:?}", SharedTokenVerifier::new("shared-s3cret-token")),
        &["shared-s3cret-token", "s3cret"],
    );
    hides(
        &format!("{:?}", KeyHasher::hmac(b"pepper-0123456789".to_vec())),
        &["pepper", "0123456789"],
    );
    hides(
        &format!(
            "{:?}",
            IssuedToken::new(
                "issued-t0ken-0123456789",
                SystemTime::now(),
                Duration::from_secs(60)
            )
        ),
        &["issued-t0ken", "0123456789"],
    );

    let store = MemoryKeyStore::new();
    let grant = RefreshTokens::new(store.clone())
        .start(&Principal::user("alice"))
        .await
        .expect("grant");
    let token = secrecy::ExposeSecret::expose_secret(&grant.token).to_owned();
    hides(&format!("{grant:?}"), &[&token, &token[..12]]);
    let (record, key) = AppKeys::new(store)
        .add("demo-app", Expiry::Never, None)
        .await
        .expect("key");
    let key = secrecy::ExposeSecret::expose_secret(&key).to_owned();
    hides(&format!("{record:?}"), &[&key]);

    let env: HashMap<&str, &str> = [
        ("PLAY_AUTH_TOKEN", "play-s3cret-token"),
        (
            "GATEWAY_JWT_SECRET",
            "jwt-s3cret-0123456789abcdef0123456789",
        ),
        ("CCAI_COMPANY_SECRET", "ccai-s3cret-0123456789"),
        ("FACEBOOK_APP_ID", "123456789012345"),
        ("FACEBOOK_APP_SECRET", "fb-app-s3cret"),
        ("REDIS_URL", "redis://:redis-passw0rd@127.0.0.1:6379/"),
        ("GATEWAY_KEY_PEPPER", "pepper-s3cret-0123456789abcdef0123"),
    ]
    .into_iter()
    .collect();
    let config = config::Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned()));
    let printed = format!("{config:?}");
    assert!(printed.contains("123456789012345"), "{printed}");
    hides(
        &printed,
        &[
            "play-s3cret",
            "jwt-s3cret",
            "ccai-s3cret",
            "fb-app-s3cret",
            "redis-passw0rd",
            "pepper-s3cret",
        ],
    );
}
