//! Against a real MIT KDC ([`TestKdc`]): each test starts a KDC, then re-runs itself as a
//! child with the KDC's environment (MIT reads KRB5_CONFIG, KRB5_KTNAME, KRB5CCNAME from
//! it, and `set_var` is unsafe); the child makes real SPNEGO tokens with GSSAPI's initiator
//! and checks what the [`Acceptor`] answers. The parent asserts that the child exits 0.
#![allow(clippy::print_stdout)]

use std::ffi::OsString;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tower_authn_core::ErrorKind;
use tower_authn_kerberos::test_kdc::{CLOCKSKEW_SECS, REALM, TestClient, TestKdc, in_child};
use tower_authn_kerberos::{Acceptor, DEFAULT_SERVICE, parse_authorization};

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    }
}

fn acceptor() -> Acceptor {
    match Acceptor::new(DEFAULT_SERVICE) {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    }
}

fn token_for(target: &str) -> (TestClient, Vec<u8>) {
    match TestClient::spnego(target, true) {
        Ok(pair) => pair,
        Err(e) => panic!("initiator: {e}"),
    }
}

/// Asserts a 401 `invalid_credentials` and shows its detail.
fn assert_refused(
    what: &str,
    r: Result<tower_authn_kerberos::Accepted, tower_authn_core::AuthError>,
) {
    match r {
        Ok(a) => panic!("{what}: accepted {a:?}"),
        Err(e) => {
            println!("{what}: {} ({})", e.code(), e.detail());
            assert_eq!(e.kind(), ErrorKind::InvalidCredentials, "{what}: {e:?}");
            assert_eq!(e.status(), 401);
        }
    }
}

#[test]
fn accepted_with_mutual_auth() {
    if !in_child() {
        return TestKdc::start().run_child("accepted_with_mutual_auth", &[]);
    }
    let rt = runtime();
    let acceptor = acceptor();
    let (mut client, token) = token_for("HTTP@localhost");
    assert!(
        !client.is_complete(),
        "mutual auth wants the server's answer"
    );
    // Through the header codec, as a server sees it.
    let header = format!(
        "Negotiate {}",
        base64::engine::general_purpose::STANDARD.encode(&token)
    );
    let token = match parse_authorization(header.as_bytes()) {
        Ok(Some(t)) => t,
        other => panic!("parse: {other:?}"),
    };
    let accepted = match rt.block_on(acceptor.accept(token)) {
        Ok(a) => a,
        Err(e) => panic!("accept: {e:?}"),
    };
    println!("accepted: {accepted:?}");
    assert_eq!(accepted.client(), format!("alice@{REALM}"));
    assert_eq!(accepted.user(), "alice");
    assert_eq!(accepted.realm(), REALM);
    let reply = accepted.reply().map(<[u8]>::to_vec);
    let Some(reply) = reply else {
        panic!("no reply token for a mutual-auth request");
    };
    let header = accepted.reply_header();
    let Some(header) = header else {
        panic!("no reply header")
    };
    assert_eq!(
        parse_authorization(header.as_bytes()).ok(),
        Some(Some(reply.clone()))
    );
    // The initiator checks the server's AP-REP: mutual authentication done.
    if let Err(e) = client.finish(&reply) {
        panic!("{e}");
    }
    assert!(client.is_complete());
    assert!(client.is_mutual());
    let p = accepted.principal();
    assert_eq!(p.id, format!("alice@{REALM}"));
}

#[test]
fn another_services_ticket_is_refused() {
    if !in_child() {
        return TestKdc::start().run_child("another_services_ticket_is_refused", &[]);
    }
    let rt = runtime();
    let acceptor = acceptor();
    // The KDC issues the ticket, but HTTP/other.localhost's key is not in the keytab.
    let (_client, token) = token_for("HTTP@other.localhost");
    assert_refused("HTTP/other.localhost", rt.block_on(acceptor.accept(token)));
    // And the acceptor still works.
    let (_client, token) = token_for("HTTP@localhost");
    assert!(rt.block_on(acceptor.accept(token)).is_ok());
}

#[test]
fn a_replayed_token_is_refused() {
    if !in_child() {
        return TestKdc::start().run_child("a_replayed_token_is_refused", &[]);
    }
    let rt = runtime();
    let acceptor = acceptor();
    let (_client, token) = token_for("HTTP@localhost");
    let first = rt.block_on(acceptor.accept(token.clone()));
    assert!(first.is_ok(), "{first:?}");
    assert_refused("replay", rt.block_on(acceptor.accept(token.clone())));
    // A second acceptor in the same process shares the replay cache file.
    assert_refused(
        "replay on a new acceptor",
        rt.block_on(self::acceptor().accept(token)),
    );
}

/// The TGT lifetime of the expiry test: long enough to make two tokens, short enough to
/// wait out.
const SHORT_LIFETIME_SECS: u64 = 3;

#[test]
fn an_expired_ticket_is_refused() {
    if !in_child() {
        let kdc = TestKdc::start();
        let short = kdc.short_lived_ccache(SHORT_LIFETIME_SECS);
        let mut name = OsString::from("FILE:");
        name.push(&short);
        return kdc.run_child("an_expired_ticket_is_refused", &[("KRB5CCNAME", name)]);
    }
    // The parent's kinit was before this process started: the TGT, and so every service
    // ticket got with it, ends before `started + SHORT_LIFETIME_SECS`.
    let started = Instant::now();
    let rt = runtime();
    let acceptor = acceptor();
    // While the ticket lives, it is accepted (so the refusal below is about time).
    let (_client, token) = token_for("HTTP@localhost");
    let live = rt.block_on(acceptor.accept(token));
    assert!(live.is_ok(), "{live:?}");
    let (_client, token) = token_for("HTTP@localhost");
    // Past the ticket's end and the clock skew allowance (a wait, not a timed assertion).
    let past = started + Duration::from_secs(SHORT_LIFETIME_SECS + CLOCKSKEW_SECS + 1);
    std::thread::sleep(past.saturating_duration_since(Instant::now()));
    // The authenticator is now older than the clock skew allows, and the ticket expired.
    assert_refused(
        "made before the expiry",
        rt.block_on(acceptor.accept(token)),
    );
    // MIT's initiator still makes a token from the expired service ticket in the cache
    // (its TGT expired too): a fresh authenticator, an expired ticket.
    match TestClient::spnego("HTTP@localhost", true) {
        Ok((_client, token)) => {
            assert_refused("made after the expiry", rt.block_on(acceptor.accept(token)));
        }
        Err(e) => println!("no token after the expiry: {e}"),
    }
}

#[test]
fn garbage_is_refused() {
    if !in_child() {
        return TestKdc::start().run_child("garbage_is_refused", &[]);
    }
    let rt = runtime();
    let acceptor = acceptor();
    let (_client, real) = token_for("HTTP@localhost");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("one byte", vec![0x60]),
        ("zeros", vec![0; 64]),
        (
            "random",
            (0..512u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        ("truncated", real[..real.len() / 2].to_vec()),
        ("truncated by one", real[..real.len() - 1].to_vec()),
    ];
    let mut flipped = real.clone();
    let mid = flipped.len() - 20;
    flipped[mid] ^= 0x55;
    cases.push(("a flipped byte in the authenticator", flipped));
    let ntlm = base64::engine::general_purpose::STANDARD
        .decode("TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==")
        .unwrap_or_default();
    assert!(ntlm.starts_with(b"NTLMSSP\0"));
    cases.push(("NTLM negotiate", ntlm));
    // A SPNEGO NegTokenInit that offers only NTLM (OID 1.3.6.1.4.1.311.2.2.10).
    cases.push((
        "SPNEGO offering NTLM only",
        vec![
            0x60, 0x1c, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x12, 0x30, 0x10,
            0xa0, 0x0e, 0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02,
            0x02, 0x0a,
        ],
    ));
    // A NegTokenInit that offers Kerberos without an optimistic token: SPNEGO would answer
    // and wait for the token in a second round, which HTTP cannot carry.
    cases.push((
        "SPNEGO without a Kerberos token (a second round)",
        vec![
            0x60, 0x1b, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x11, 0x30, 0x0f,
            0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02,
            0x02,
        ],
    ));
    for (what, token) in cases {
        assert_refused(what, rt.block_on(acceptor.accept(token)));
    }
    // Empty and oversized never reach GSSAPI.
    let empty = rt.block_on(acceptor.accept(Vec::new()));
    assert!(empty.is_err_and(|e| e.kind() == ErrorKind::MalformedCredentials));
    // The real token is still good after all that.
    assert!(rt.block_on(acceptor.accept(real)).is_ok());
}

#[test]
fn busy_when_every_permit_is_held() {
    if !in_child() {
        return TestKdc::start().run_child("busy_when_every_permit_is_held", &[]);
    }
    let rt = runtime();
    let acceptor = acceptor()
        .with_max_concurrent(1)
        .with_retry_after(Duration::from_secs(3));
    let (_c1, t1) = token_for("HTTP@localhost");
    let (_c2, t2) = token_for("HTTP@localhost");
    // The permit is taken by the call: this unpolled future holds the only one.
    let held = acceptor.accept(t1);
    let busy = rt.block_on(acceptor.accept(t2.clone()));
    match busy {
        Ok(a) => panic!("accepted while busy: {a:?}"),
        Err(e) => {
            assert_eq!(e.status(), 503);
            assert_eq!(e.code(), "unavailable");
            assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        }
    }
    // The holder completes; then the permit is free again (t2 was never seen by GSSAPI).
    assert!(rt.block_on(held).is_ok());
    assert!(rt.block_on(acceptor.accept(t2)).is_ok());
}

#[test]
fn no_keytab_fails_at_construction() {
    if !in_child() {
        let kdc = TestKdc::start();
        let mut missing = OsString::from("FILE:");
        missing.push(kdc.dir().join("no-such.keytab"));
        return kdc.run_child(
            "no_keytab_fails_at_construction",
            &[("KRB5_KTNAME", missing)],
        );
    }
    let e = match Acceptor::new(DEFAULT_SERVICE) {
        Ok(a) => panic!("an acceptor without a keytab: {a:?}"),
        Err(e) => e,
    };
    println!("no keytab: {e}");
    assert!(e.to_string().contains("no-such.keytab"), "{e}");
    let auth: tower_authn_core::AuthError = e.into();
    assert_eq!(auth.status(), 503);
}

#[test]
fn a_keytab_without_the_service_fails_at_construction() {
    if !in_child() {
        let kdc = TestKdc::start();
        let mut alice = OsString::from("FILE:");
        alice.push(kdc.alice_keytab());
        return kdc.run_child(
            "a_keytab_without_the_service_fails_at_construction",
            &[("KRB5_KTNAME", alice)],
        );
    }
    match Acceptor::new(DEFAULT_SERVICE) {
        Ok(a) => panic!("an HTTP acceptor on alice's keytab: {a:?}"),
        Err(e) => println!("alice's keytab: {e}"),
    }
}

#[test]
fn the_service_name_is_a_wildcard_over_hosts_only() {
    if !in_child() {
        let kdc = TestKdc::start();
        // A keytab with two HTTP hosts and another service. `-norandkey` keeps the keys the
        // server keytab already has.
        let multi = kdc.dir().join("multi.keytab");
        let script = format!(
            "addprinc -randkey HTTP/alias.localhost\n\
             addprinc -randkey host/localhost\n\
             ktadd -norandkey -k {} HTTP/localhost HTTP/alias.localhost host/localhost\n",
            multi.display()
        );
        if let Err(e) = kdc.kadmin(&script) {
            panic!("{e}");
        }
        let mut name = OsString::from("FILE:");
        name.push(&multi);
        return kdc.run_child(
            "the_service_name_is_a_wildcard_over_hosts_only",
            &[("KRB5_KTNAME", name)],
        );
    }
    let rt = runtime();
    let accepts = |acceptor: &Acceptor, target: &str| {
        let (_client, token) = token_for(target);
        rt.block_on(acceptor.accept(token))
    };
    for service in ["HTTP", "HTTP@"] {
        let any_host = match Acceptor::new(service) {
            Ok(a) => a,
            Err(e) => panic!("{service}: {e}"),
        };
        for target in ["HTTP@localhost", "HTTP@alias.localhost"] {
            let r = accepts(&any_host, target);
            assert!(r.is_ok(), "{service} for {target}: {r:?}");
        }
        // The key is in the keytab, but for another service.
        assert_refused(
            &format!("{service} for host@localhost"),
            accepts(&any_host, "host@localhost"),
        );
    }
    let one_host = match Acceptor::new("HTTP@localhost") {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    };
    assert!(accepts(&one_host, "HTTP@localhost").is_ok());
    assert_refused(
        "HTTP@localhost for HTTP@alias.localhost",
        accepts(&one_host, "HTTP@alias.localhost"),
    );
    // No key for these in the keytab: refused at construction.
    for service in ["imap", "HTTP@other.localhost"] {
        match Acceptor::new(service) {
            Ok(a) => panic!("{service}: {a:?}"),
            Err(e) => println!("{service}: {e}"),
        }
    }
}

#[test]
fn a_keytab_gone_after_startup_is_unavailable() {
    if !in_child() {
        let kdc = TestKdc::start();
        // A copy the child may delete.
        let copy = kdc.dir().join("copy.keytab");
        if let Err(e) = std::fs::copy(kdc.server_keytab(), &copy) {
            panic!("copy: {e}");
        }
        let mut name = OsString::from("FILE:");
        name.push(&copy);
        return kdc.run_child(
            "a_keytab_gone_after_startup_is_unavailable",
            &[("KRB5_KTNAME", name)],
        );
    }
    let rt = runtime();
    let acceptor = acceptor();
    let (_client, token) = token_for("HTTP@localhost");
    let path = std::env::var("KRB5_KTNAME").unwrap_or_default();
    let path = path.trim_start_matches("FILE:");
    if let Err(e) = std::fs::remove_file(path) {
        panic!("remove {path}: {e}");
    }
    match rt.block_on(acceptor.accept(token)) {
        Ok(a) => panic!("accepted without a keytab: {a:?}"),
        Err(e) => {
            println!("keytab gone: {} ({})", e.code(), e.detail());
            assert_eq!(e.status(), 503, "{e:?}");
            assert_eq!(e.retry_after(), None);
        }
    }
}

#[test]
fn an_unwritable_replay_cache_is_unavailable() {
    if !in_child() {
        let kdc = TestKdc::start();
        let mut name = OsString::from("file2:");
        name.push(kdc.dir().join("no-such-dir").join("rc2"));
        return kdc.run_child(
            "an_unwritable_replay_cache_is_unavailable",
            &[("KRB5RCACHENAME", name)],
        );
    }
    let rt = runtime();
    let acceptor = acceptor();
    let (_client, token) = token_for("HTTP@localhost");
    match rt.block_on(acceptor.accept(token)) {
        Ok(a) => panic!("accepted without a replay cache: {a:?}"),
        Err(e) => {
            println!("replay cache unwritable: {} ({})", e.code(), e.detail());
            assert_eq!(e.status(), 503, "{e:?}");
        }
    }
}

#[test]
fn the_engine_scheme_authenticates_a_request() {
    use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
    use http::{Request, Response, StatusCode};
    use tower::ServiceExt as _;
    use tower_authn_core::{AuthnLayer, Principal};
    use tower_authn_kerberos::NegotiateScheme;

    if !in_child() {
        return TestKdc::start().run_child("the_engine_scheme_authenticates_a_request", &[]);
    }
    let rt = runtime();
    let layer = AuthnLayer::from_scheme(NegotiateScheme::new(acceptor()));
    let service =
        tower::ServiceBuilder::new()
            .layer(layer)
            .service_fn(|req: Request<()>| async move {
                let who = req
                    .extensions()
                    .get::<Principal>()
                    .map(|p| p.id.clone())
                    .unwrap_or_default();
                // The credential is hidden from the inner service.
                assert!(req.headers().get(AUTHORIZATION).is_none());
                Ok::<_, std::convert::Infallible>(Response::new(bytes::Bytes::from(who)))
            });
    let call = |authorization: Option<String>| {
        let mut req = Request::builder().uri("/");
        if let Some(v) = authorization {
            req = req.header(AUTHORIZATION, v);
        }
        let req = match req.body(()) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        match rt.block_on(service.clone().oneshot(req)) {
            Ok(r) => r,
            Err(e) => match e {},
        }
    };
    let (_client, token) = token_for("HTTP@localhost");
    let ok = call(Some(format!(
        "Negotiate {}",
        base64::engine::general_purpose::STANDARD.encode(&token)
    )));
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.body(), format!("alice@{REALM}").as_bytes());
    for (what, authorization, status) in [
        ("none", None, StatusCode::UNAUTHORIZED),
        (
            "garbage",
            Some("Negotiate AAAA".to_owned()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "malformed",
            Some("Negotiate AAA".to_owned()),
            StatusCode::BAD_REQUEST,
        ),
        // The same token again: MIT's replay cache.
        (
            "replay",
            Some(format!(
                "Negotiate {}",
                base64::engine::general_purpose::STANDARD.encode(&token)
            )),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let r = call(authorization);
        assert_eq!(r.status(), status, "{what}");
        if status == StatusCode::UNAUTHORIZED {
            let challenge = r.headers().get(WWW_AUTHENTICATE);
            assert_eq!(
                challenge.map(|v| v.as_bytes()),
                Some(&b"Negotiate"[..]),
                "{what}"
            );
        }
    }
}
