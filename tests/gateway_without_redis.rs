//! A gateway built without the `redis` feature refuses to start when `REDIS_URL` is set,
//! rather than silently serving from memory while the operator believes the instances share
//! one store. This code exists only in builds without `redis`, so `scripts/test` runs this
//! target a second time with the default features (`--all-features` compiles it out).
#![cfg(not(feature = "redis"))]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};

use std::collections::HashMap;

#[tokio::test]
async fn redis_url_without_the_feature_refuses_to_start() {
    let env: HashMap<&str, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("REDIS_URL", "redis://127.0.0.1:1/"),
        (
            "GATEWAY_KEY_PEPPER",
            "a-pepper-of-at-least-thirty-two-bytes!!",
        ),
        ("GATEWAY_JWT_SECRET", "gateway-test-secret-0123456789abcdef"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let Err(error) = app::build(&config).await else {
        panic!("a gateway without the redis feature started with REDIS_URL set");
    };
    let message = error.to_string();
    assert!(
        message.contains("REDIS_URL") && message.contains("`redis` feature"),
        "the refusal names the variable and the feature: {message}"
    );
}
