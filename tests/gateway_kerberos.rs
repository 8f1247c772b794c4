//! Kerberos single sign-on through the gateway (GATEWAY.md "XiVO credential exchange",
//! `GET /xuc/api/2.0/auth/sso`) against a real MIT KDC started here: alice's ticket, from a
//! real GSSAPI initiator and from `curl --negotiate`, is traded for a XiVO token with the
//! mutual-authentication reply checked; another service's ticket, an expired ticket, a user
//! the gateway does not know and garbage are refused.
//!
//! MIT reads `KRB5_CONFIG`, `KRB5_KTNAME` and `KRB5CCNAME` from the process environment, so
//! each test starts the KDC and re-runs itself with that environment (`TestKdc::run_child`);
//! the child builds the gateway and is the client.
#![allow(clippy::print_stdout)]

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/gateway/modules.rs"]
mod gateway;

use gateway::{app, config};

use std::collections::HashMap;
use std::ffi::OsString;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use support::{Answer, Server};
use tower_authn::kerberos::test_kdc::{CLOCKSKEW_SECS, TestClient, TestKdc, in_child};

const SSO: &str = "/xuc/api/2.0/auth/sso";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A gateway whose single sign-on reads the keytab of this (child) process's environment.
async fn gateway() -> (Server, std::net::SocketAddr) {
    let env: HashMap<&str, String> = [
        ("GATEWAY_ADDR", "127.0.0.1:0".to_owned()),
        ("PLAY_AUTH_TOKEN", "gateway-shared-token".to_owned()),
        (
            "GATEWAY_JWT_SECRET",
            "gateway-test-secret-0123456789abcdef".to_owned(),
        ),
        (
            "KRB5_KTNAME",
            std::env::var("KRB5_KTNAME").expect("the KDC's keytab"),
        ),
    ]
    .into_iter()
    .collect();
    let config = config::Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let addr = support::serve(app::build(&config).await.expect("gateway")).await;
    (Server::at(addr), addr)
}

fn negotiate(token: &[u8]) -> String {
    format!(
        "Negotiate {}",
        base64::engine::general_purpose::STANDARD.encode(token)
    )
}

fn token_for(target: &str) -> (TestClient, Vec<u8>) {
    TestClient::spnego(target, true).unwrap_or_else(|e| panic!("initiator: {e}"))
}

fn assert_refused(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.json()["error"], code, "{answer:?}");
}

#[test]
fn sso_trades_a_ticket_for_a_token_with_mutual_authentication() {
    if !in_child() {
        return TestKdc::start().run_child(
            "sso_trades_a_ticket_for_a_token_with_mutual_authentication",
            &[],
        );
    }
    runtime().block_on(async {
        let (gw, _) = gateway().await;
        let (mut client, token) = token_for("HTTP@localhost");
        let answer = gw.get(SSO, &[("authorization", &negotiate(&token))]).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json()["login"], "alice");
        assert!(answer.json()["TTL"].as_u64().unwrap() > 0);

        // RFC 4559 §5: the final token is on the answer; the initiator completes with it.
        let challenges = answer.challenges();
        let reply = challenges
            .iter()
            .find_map(|c| c.strip_prefix("Negotiate "))
            .unwrap_or_else(|| panic!("no mutual-authentication reply: {challenges:?}"));
        let reply = base64::engine::general_purpose::STANDARD
            .decode(reply)
            .expect("base64");
        client
            .finish(&reply)
            .expect("the server proved it holds the service key");
        assert!(client.is_complete() && client.is_mutual());

        // The token is a XiVO token like a login's.
        let token = answer.json()["token"].as_str().unwrap().to_owned();
        let whoami = gw.get("/whoami", &[("x-auth-token", &token)]).await;
        assert_eq!(whoami.json()["id"], "alice", "{whoami:?}");
    });
}

#[test]
fn sso_refuses_what_is_not_a_good_ticket() {
    if !in_child() {
        return TestKdc::start().run_child("sso_refuses_what_is_not_a_good_ticket", &[]);
    }
    runtime().block_on(async {
        let (gw, _) = gateway().await;

        let none = gw.get(SSO, &[]).await;
        assert_refused(&none, 401, "SsoAuthenticationFailed");
        assert_eq!(none.challenges(), ["Negotiate"]);

        let (_, other) = token_for("HTTP@other.localhost");
        let answer = gw.get(SSO, &[("authorization", &negotiate(&other))]).await;
        assert_refused(&answer, 401, "SsoAuthenticationFailed");
        assert_eq!(answer.challenges(), ["Negotiate"]);

        let (_, good) = token_for("HTTP@localhost");
        let replayed = {
            let first = gw.get(SSO, &[("authorization", &negotiate(&good))]).await;
            assert_eq!(first.status, 200, "{first:?}");
            gw.get(SSO, &[("authorization", &negotiate(&good))]).await
        };
        assert_refused(&replayed, 401, "SsoAuthenticationFailed");

        let mut truncated = token_for("HTTP@localhost").1;
        truncated.truncate(truncated.len() / 2);
        for garbage in [
            vec![0u8; 40],
            b"TlRMTVNTUAABAAAAB4IIog==".to_vec(),
            truncated,
        ] {
            let answer = gw
                .get(SSO, &[("authorization", &negotiate(&garbage))])
                .await;
            assert_refused(&answer, 401, "SsoAuthenticationFailed");
        }
        let bad_base64 = gw.get(SSO, &[("authorization", "Negotiate !!!")]).await;
        assert_refused(&bad_base64, 400, "SsoAuthenticationFailed");
    });
}

#[test]
fn sso_refuses_an_expired_ticket() {
    if !in_child() {
        let kdc = TestKdc::start();
        let ccache = kdc.short_lived_ccache(2);
        let mut name = OsString::from("FILE:");
        name.push(&ccache);
        return kdc.run_child("sso_refuses_an_expired_ticket", &[("KRB5CCNAME", name)]);
    }
    runtime().block_on(async {
        let (gw, _) = gateway().await;
        let (_, token) = token_for("HTTP@localhost");
        // Past the ticket's end and the realm's clock skew.
        tokio::time::sleep(Duration::from_secs(2 + CLOCKSKEW_SECS + 2)).await;
        let answer = gw.get(SSO, &[("authorization", &negotiate(&token))]).await;
        assert_refused(&answer, 401, "SsoAuthenticationFailed");
    });
}

#[test]
fn sso_for_a_principal_without_a_local_user_is_404() {
    if !in_child() {
        let kdc = TestKdc::start();
        let ccache = kdc.dir().join("bob.ccache");
        kdc.kinit("bob", &ccache, None).expect("kinit bob");
        let mut name = OsString::from("FILE:");
        name.push(&ccache);
        return kdc.run_child(
            "sso_for_a_principal_without_a_local_user_is_404",
            &[("KRB5CCNAME", name)],
        );
    }
    runtime().block_on(async {
        let (gw, _) = gateway().await;
        let (_, token) = token_for("HTTP@localhost");
        // bob@AUTHN.TEST is `bob`; the gateway's users are alice and bob@example.com.
        let answer = gw.get(SSO, &[("authorization", &negotiate(&token))]).await;
        assert_refused(&answer, 404, "UserNotFound");
    });
}

#[test]
fn sso_with_curl_negotiate() {
    if !in_child() {
        return TestKdc::start().run_child("sso_with_curl_negotiate", &[]);
    }
    let rt = runtime();
    let (_gw, addr) = rt.block_on(gateway());
    // curl derives HTTP@localhost from the URL's host and answers the Negotiate challenge.
    let url = format!("http://localhost:{}{SSO}", addr.port());
    let curl = std::thread::spawn(move || {
        Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--negotiate",
                "-u",
                ":",
                "--include",
                &url,
            ])
            .output()
            .expect("curl (Debian's curl, with GSS-API)")
    })
    .join()
    .expect("curl thread");
    let out = String::from_utf8_lossy(&curl.stdout).into_owned();
    println!("{out}");
    assert!(
        curl.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&curl.stderr)
    );
    assert!(out.contains("HTTP/1.1 200"), "{out}");
    assert!(out.contains(r#""login":"alice""#), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("www-authenticate: negotiate "),
        "the reply: {out}"
    );
}
