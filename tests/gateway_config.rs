//! The gateway started from a configuration file (GATEWAY.md "Configuration file"): the
//! sample `examples/gateway/gateway.toml` answers the demo flows; a key made by `authn
//! new-key` and pasted into a file is accepted; route groups turn off; a broken file or a
//! missing pepper stops the gateway with one line naming the file, line and field.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};

use std::collections::HashMap;
use std::path::PathBuf;

use support::{Server, basic};

const PEPPER: &str = "demo-pepper-0123456789abcdef0123456789";
const S2S_SECRET: &str = "s3cr3t-k3y-0123456789abcdef";

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/gateway/gateway.toml")
}

fn env_with(file: &str, vars: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("PLAY_AUTH_TOKEN", "config-shared-token"),
        ("GATEWAY_JWT_SECRET", "gateway-test-secret-0123456789abcdef"),
        ("GATEWAY_KEY_PEPPER", PEPPER),
        ("S2S_CRM_SECRET", S2S_SECRET),
        ("GATEWAY_CONFIG", file),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in vars {
        if v.is_empty() {
            env.remove(*k);
        } else {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    env
}

async fn gateway(file: &str, vars: &[(&str, &str)]) -> Server {
    let env = env_with(file, vars);
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    Server::at(support::serve(app::build(&config).await.expect("gateway")).await)
}

fn config_error(file: &str, vars: &[(&str, &str)]) -> String {
    let env = env_with(file, vars);
    match config::Config::from_lookup(|k| env.get(k).cloned()) {
        Ok(_) => panic!("{file}: accepted"),
        Err(e) => e,
    }
}

fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("authn-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test]
async fn the_sample_file_answers_the_demo_flows() {
    let gw = gateway(&sample().display().to_string(), &[]).await;
    for probe in support::alice_credentials(&gw).await {
        assert_eq!(support::probe_status(&gw, &probe).await, 200, "{}", probe.0);
    }
    let bob = gw
        .get(
            "/basic/whoami",
            &[("authorization", &basic("bob@example.com", "builder"))],
        )
        .await;
    assert_eq!(bob.json()["roles"], serde_json::json!(["user"]));
    let app = gw
        .get("/app/whoami", &[("x-voltmx-app-api-key", "demo-app-key-1")])
        .await;
    assert_eq!(
        (app.status.as_u16(), &app.json()["id"]),
        (200, &"demo-app".into())
    );
    let device = gw
        .get(
            "/device/whoami",
            &[("x-device-authtoken", "demo-device-token")],
        )
        .await;
    assert_eq!(device.json()["id"], "demo-device", "{device:?}");
    let wrong = gw
        .get(
            "/basic/whoami",
            &[("authorization", &basic("alice", "nope"))],
        )
        .await;
    assert_eq!(wrong.status, 401);
}

/// `authn new-key` run as a process: the key it prints once is accepted by a gateway whose
/// file holds the record it printed.
#[tokio::test]
async fn a_key_from_authn_is_accepted_from_the_file() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "--offline",
            "-p",
            "tower-authn-cli",
            "--bin",
            "authn",
            "--",
        ])
        .args([
            "new-key",
            "--kind",
            "app",
            "--app-id",
            "crm",
            "--id",
            "crm-key-1",
        ])
        .env("GATEWAY_KEY_PEPPER", PEPPER)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("authn");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).expect("utf-8");
    let key = printed
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.strip_prefix("key:").unwrap_or(l).trim())
        .expect("the key on its own line")
        .to_owned();
    let record = &printed[printed.find("[[app_keys]]").expect("the record")..];
    let file = temp_file("authn-key.toml", record);
    let gw = gateway(&file, &[]).await;
    let answer = gw
        .get("/app/whoami", &[("x-voltmx-app-api-key", &key)])
        .await;
    assert_eq!(answer.status, 200, "{answer:?}\n{printed}");
    assert_eq!(answer.json()["id"], "crm");
    // The file has no demo identities.
    let demo = gw
        .get("/app/whoami", &[("x-voltmx-app-api-key", "demo-app-key-1")])
        .await;
    assert_eq!(demo.status, 401);
    let alice = gw
        .get(
            "/basic/whoami",
            &[("authorization", &basic("alice", "wonderland"))],
        )
        .await;
    assert_eq!(alice.status, 401);
}

#[tokio::test]
async fn route_groups_turn_off() {
    let text = std::fs::read_to_string(sample())
        .expect("sample")
        .replace("voltmx = true", "voltmx = false")
        .replace("forward_auth = true", "forward_auth = false");
    let gw = gateway(&temp_file("routes-off.toml", &text), &[]).await;
    let login = gw
        .post_json(
            "/authService/accounts/login",
            &[],
            serde_json::json!({"userid": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(login.status, 404);
    assert_eq!(gw.get("/forward-auth", &[]).await.status, 404);
    assert_eq!(gw.get("/healthz", &[]).await.status, 200);
    let xivo = gw
        .post_json(
            "/xuc/api/2.0/auth/login",
            &[],
            serde_json::json!({"login": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!(xivo.status, 200, "the other groups stay on");
}

#[test]
fn a_broken_file_or_a_missing_secret_stops_the_gateway_with_one_line() {
    let sample = sample().display().to_string();
    let e = config_error(&sample, &[("GATEWAY_KEY_PEPPER", "")]);
    assert!(e.contains("GATEWAY_KEY_PEPPER"), "{e}");
    let e = config_error(&sample, &[("S2S_CRM_SECRET", "")]);
    assert!(e.contains("s2s_apps[0].secret_env"), "{e}");
    assert!(!e.contains('\n'));

    let broken = temp_file(
        "broken.toml",
        "[[users]]\nlogin = \"carol\"\npassword = \"plain\"\n",
    );
    let e = config_error(&broken, &[]);
    assert!(e.starts_with(&format!("{broken}:3:1: ")), "{e}");
    assert!(e.contains("password"), "{e}");
    assert!(!e.contains('\n'));

    let e = config_error("/nonexistent/gateway.toml", &[]);
    assert!(e.starts_with("/nonexistent/gateway.toml: "), "{e}");
}
