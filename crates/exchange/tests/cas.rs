//! CAS 3.0 against a CAS server on loopback, fetched through the real `HyperFetcher`.

#[path = "support/peers.rs"]
mod peers;

use std::time::Duration;

use peers::CasServer;
use tower_authn_core::ErrorKind;
use tower_authn_exchange::Provider;
use tower_authn_exchange::cas::CasValidator;
use tower_authn_jwt::HyperFetcher;

const APP: &str = "https://cti.example/login";
const OTHER_APP: &str = "https://other.example/login";

fn validator(cas: &CasServer) -> CasValidator {
    CasValidator::new(&cas.url, [APP, OTHER_APP], HyperFetcher::new()).unwrap()
}

#[tokio::test]
async fn a_ticket_gives_the_user_and_attributes() {
    let cas = CasServer::start().await;
    let v = validator(&cas);
    let ticket = cas.issue("alice", APP);
    let id = v.validate(APP, &ticket).await.unwrap();
    assert_eq!((id.provider, id.login.as_str()), (Provider::Cas, "alice"));
    assert_eq!(id.attributes["email"], "alice@example.com");
    assert_eq!(
        id.attributes["memberOf"],
        serde_json::json!(["staff", "cti"])
    );
}

#[tokio::test]
async fn a_ticket_is_accepted_once() {
    let cas = CasServer::start().await;
    let v = validator(&cas);
    let ticket = cas.issue("alice", APP);
    v.validate(APP, &ticket).await.unwrap();
    // The server consumed it: INVALID_TICKET.
    let e = v.validate(APP, &ticket).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
}

#[tokio::test]
async fn a_replay_is_refused_even_when_the_server_would_validate_it_again() {
    let cas = CasServer::start().await;
    cas.set_reusable(true);
    let v = validator(&cas);
    let ticket = cas.issue("alice", APP);
    v.validate(APP, &ticket).await.unwrap();
    assert_eq!(cas.validations(), 1);
    let e = v.validate(APP, &ticket).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(cas.validations(), 1, "the replay never reaches the server");
}

#[tokio::test]
async fn concurrent_uses_of_one_ticket_give_one_user() {
    let cas = CasServer::start().await;
    cas.set_reusable(true);
    let v = validator(&cas);
    let ticket = cas.issue("alice", APP);
    let (a, b) = tokio::join!(v.validate(APP, &ticket), v.validate(APP, &ticket));
    assert_eq!(usize::from(a.is_ok()) + usize::from(b.is_ok()), 1);
}

#[tokio::test]
async fn a_ticket_for_another_configured_service_is_refused_by_the_server() {
    let cas = CasServer::start().await;
    let v = validator(&cas);
    let ticket = cas.issue("alice", OTHER_APP);
    let e = v.validate(APP, &ticket).await.unwrap_err(); // INVALID_SERVICE
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
}

#[tokio::test]
async fn a_service_not_configured_is_400_and_never_sent() {
    let cas = CasServer::start().await;
    let v = validator(&cas);
    let ticket = cas.issue("alice", "https://evil.example/");
    let e = v
        .validate("https://evil.example/", &ticket)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
    assert_eq!(cas.validations(), 0);
}

#[tokio::test]
async fn tickets_that_are_not_tickets_are_400_and_never_sent() {
    let cas = CasServer::start().await;
    let v = validator(&cas);
    for bad in [
        "",
        "PT-1-abc",
        "ST-1 abc",
        "ST-1-<x>&y=z\u{e9}",
        &"ST-x".repeat(100),
    ] {
        let e = v.validate(APP, bad).await.unwrap_err();
        assert_eq!(e.status(), 400, "{bad:?}");
    }
    assert_eq!(cas.validations(), 0);
}

#[tokio::test]
async fn an_unknown_ticket_is_refused() {
    let cas = CasServer::start().await;
    let e = validator(&cas)
        .validate(APP, "ST-9-forged")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
}

#[tokio::test]
async fn a_server_that_cannot_answer_is_503() {
    let url = peers::unreachable_url().await;
    let v = CasValidator::new(&format!("{url}/cas"), [APP], HyperFetcher::new()).unwrap();
    let e = v.validate(APP, "ST-1-abc").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);

    let cas = CasServer::start().await;
    let v = validator(&cas);
    cas.set_status(500);
    let e = v.validate(APP, &cas.issue("alice", APP)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);

    cas.set_status(200);
    for body in [
        "<html>maintenance</html>",
        "not xml <<<",
        r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure code="INTERNAL_ERROR">db down</cas:authenticationFailure></cas:serviceResponse>"#,
    ] {
        cas.set_body(Some(body));
        let e = v.validate(APP, &cas.issue("alice", APP)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{body}");
    }
}

#[tokio::test]
async fn a_slow_server_times_out_as_503() {
    let cas = CasServer::start().await;
    cas.hold();
    let v = validator(&cas).with_timeout(Duration::from_millis(200));
    let e = v.validate(APP, &cas.issue("alice", APP)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    cas.release();
}

#[tokio::test]
async fn validations_beyond_the_bound_answer_503_at_once() {
    let cas = CasServer::start().await;
    cas.hold();
    let v = validator(&cas).with_max_in_flight(1);
    let first = {
        let v = v.clone();
        let ticket = cas.issue("alice", APP);
        tokio::spawn(async move { v.validate(APP, &ticket).await })
    };
    cas.arrived().await;
    let e = v.validate(APP, &cas.issue("bob", APP)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        e.retry_after().is_some(),
        "a busy answer says when to retry"
    );
    assert_eq!(cas.validations(), 1);
    cas.release();
    assert_eq!(first.await.unwrap().unwrap().login, "alice");
}
