//! `GATEWAY_METRICS_ADDR` (GATEWAY.md "Metrics"): the gateway built from its modules, the
//! Prometheus recorder installed as the binary installs it, a scripted mix of requests
//! (accepted Basic, wrong password, missing credential, app key), then `/metrics` scraped
//! from a second listener on the gateway's bounded server: the counts per scheme and outcome,
//! the verify-time histogram, and no label holding a password or a key.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config, metrics, server};

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use support::Server;

const PASSWORD: &str = "wonderland";
const APP_KEY: &str = "demo-app-key-1";

fn basic(user: &str, password: &str) -> String {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {pair}")
}

/// `name{k="v",...} value` lines of a Prometheus text rendering, by name and labels.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').expect("label");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels, value.parse().expect("a number"))
        })
        .collect()
}

fn value(
    samples: &[(String, BTreeMap<String, String>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map_or(0.0, |(_, _, v)| *v)
}

#[tokio::test]
async fn metrics_after_a_scripted_mix() {
    let handle = metrics::install().expect("the recorder, once in this process");
    let env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("GATEWAY_METRICS_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", "gateway-shared-token"),
        ("GATEWAY_JWT_SECRET", "gateway-test-secret-0123456789abcdef"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let metrics_addr = config.metrics_addr.expect("GATEWAY_METRICS_ADDR parsed");
    let gw = Server::at(support::serve(app::build(&config).await.expect("gateway")).await);

    let listener = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .expect("bind");
    let scrape = Server::at(listener.local_addr().expect("addr"));
    tokio::spawn(server::serve(
        listener,
        metrics::router(handle),
        config.limits,
        std::future::pending(),
    ));

    let alice = basic("alice", PASSWORD);
    let wrong = basic("alice", "not-her-password");
    for _ in 0..2 {
        let a = gw.get("/basic/whoami", &[("authorization", &alice)]).await;
        assert_eq!(a.status, 200, "{a:?}");
    }
    for _ in 0..3 {
        let a = gw.get("/basic/whoami", &[("authorization", &wrong)]).await;
        assert_eq!(a.status, 401, "{a:?}");
    }
    let a = gw.get("/basic/whoami", &[]).await;
    assert_eq!(a.status, 401, "{a:?}");
    let a = gw
        .get("/app/whoami", &[("X-VoltMX-App-API-Key", APP_KEY)])
        .await;
    assert_eq!(a.status, 200, "{a:?}");

    let answer = scrape.get("/metrics", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain"),
        "{answer:?}"
    );
    let text = String::from_utf8(answer.body.to_vec()).expect("utf-8");
    let all = samples(&text);

    let requests = "authn_requests_total";
    assert_eq!(
        value(&all, requests, &[("scheme", "basic"), ("outcome", "ok")]),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &all,
            requests,
            &[("scheme", "basic"), ("outcome", "invalid_credentials")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        value(
            &all,
            requests,
            &[("scheme", "none"), ("outcome", "missing_credentials")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &all,
            requests,
            &[("scheme", "app-api-key"), ("outcome", "ok")]
        ),
        1.0,
        "{text}"
    );
    // The verify step ran for the five Basic requests that carried a credential.
    let verify_count = "authn_verify_duration_seconds_count";
    assert_eq!(
        value(&all, verify_count, &[("scheme", "basic")]),
        5.0,
        "{text}"
    );

    // The hashing pool checked the five Basic passwords and is idle again: no worker in use,
    // nothing waiting.
    for gauge in ["authn_hash_queue_depth", "authn_hash_in_use"] {
        assert!(
            all.iter().any(|(n, _, v)| n == gauge && *v == 0.0),
            "{gauge}: {text}"
        );
    }

    // Every label value comes from the closed set: no password, no key, no login.
    for (name, labels, _) in &all {
        assert!(
            name.starts_with("authn_"),
            "{name} is not in the closed list: {text}"
        );
        for v in labels.values() {
            for secret in [PASSWORD, APP_KEY, "not-her-password", "alice"] {
                assert!(!v.contains(secret), "{name}{labels:?} holds {secret:?}");
            }
        }
    }
    assert!(
        !text.contains(PASSWORD) && !text.contains(APP_KEY),
        "{text}"
    );
}
