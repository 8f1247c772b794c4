//! The token services' bodies (crates/axum: login.rs `parse_login`, the refresh field), and
//! the generic token router driven with `oneshot` on a current-thread runtime.
//!
//! Input: a Content-Type choice byte, an Authorization choice byte, then
//! `authorization NUL body`.
//! - Accepted credentials are exactly what was sent: the Basic pair (checked with
//!   `parse_basic`), or the JSON members / the form fields named by the preset, each present
//!   once.
//! - With the issue 10 checks: credentials read from a body came with one Content-Type,
//!   `application/json` for JSON and `application/x-www-form-urlencoded` for a form, and a
//!   JSON body repeats no member name.
//! - The router answers what `parse_login` decided: 200 and a working refresh token (spent
//!   once) for the right password, 401 for a wrong one, 400 / 401 / 415 for a bad request,
//!   never a 5xx; a fuzzed refresh body is never accepted.
#![no_main]

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use serde_json::Value;
use tower::ServiceExt;
use tower_authn_axum::login::{LoginError, LoginFields, parse_login};
use tower_authn_axum::tokens;
use tower_authn_core::credential::BasicCredentials;
use tower_authn_core::issue::{OpaqueTokenIssuer, RefreshTokens};
use tower_authn_core::memory::MemoryKeyStore;
use tower_authn_core::schemes::parse_basic;
use tower_authn_core::{AuthError, Principal};
use tower_authn_fuzz::{media_essence, object_names, split_nul};
use tower_authn_platforms::{voltmx, xivo};

const CONTENT_TYPES: &[&[&str]] = &[
    &[],
    &["application/json"],
    &["application/json; charset=utf-8"],
    &["application/x-www-form-urlencoded"],
    &["text/plain"],
    &["application/vnd.api+json"],
    &["APPLICATION/JSON"],
    &["application/json", "application/x-www-form-urlencoded"],
    &["application/x-www-form-urlencoded;charset=UTF-8"],
    &[""],
];

/// The media types a token service reads bodies of (issue 10 item 4).
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
});

static APP: LazyLock<Router> = LazyLock::new(|| {
    let passwords = |c: BasicCredentials| async move {
        if c.username == "alice" && c.password.expose_secret() == "wonderland" {
            Ok(Principal::user("alice"))
        } else {
            Err(AuthError::invalid("wrong user or password"))
        }
    };
    let keys = MemoryKeyStore::new();
    let access = OpaqueTokenIssuer::new(keys.clone());
    tokens::router(
        passwords,
        access.clone(),
        access.verifier(),
        RefreshTokens::new(keys),
    )
});

fn call(headers: &HeaderMap, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let mut req = Request::post(path).body(Body::from(body)).expect("request");
    req.headers_mut().extend(headers.clone());
    RT.block_on(async {
        let res = APP.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    })
}

/// Whether `(user, password)` is what the JSON body holds under the preset's names.
fn from_json(body: &[u8], f: LoginFields, user: &str, password: &str) -> bool {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    m.get(f.user).and_then(Value::as_str) == Some(user)
        && m.get(f.password).and_then(Value::as_str) == Some(password)
}

/// Whether the form body holds each preset field exactly once, with these values.
fn from_form(body: &[u8], f: LoginFields, user: &str, password: &str) -> bool {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let one = |name: &str, want: &str| {
        let values: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        values == [want]
    };
    one(f.user, user) && one(f.password, password)
}

fn check(
    headers: &HeaderMap,
    auth: Option<&[u8]>,
    body: &[u8],
    f: LoginFields,
) -> Result<BasicCredentials, LoginError> {
    let result = parse_login(headers, body, f);
    let Ok(c) = &result else {
        return result;
    };
    let (user, password) = (c.username.as_str(), c.password.expose_secret());
    let basic = f.basic
        && auth.is_some_and(|a| {
            matches!(parse_basic(a), Ok(Some(b)) if b.username == user && b.password.expose_secret() == password)
        });
    let json = f.json && from_json(body, f, user, password);
    let form = f.form && from_form(body, f, user, password);
    assert!(
        basic || json || form,
        "credentials that were not sent: {user:?}"
    );
    if !basic && cfg!(feature = "issue-10-checks") {
        let types: Vec<Option<String>> = headers
            .get_all(CONTENT_TYPE)
            .iter()
            .map(|v| media_essence(v.as_bytes()))
            .collect();
        let essence = match types.as_slice() {
            [Some(t)] => t.as_str(),
            other => panic!("body read with Content-Type {other:?}"),
        };
        assert!(
            (json && essence == JSON) || (form && essence == FORM),
            "a {essence:?} body was read"
        );
        if essence == JSON {
            let names = object_names(body).expect("an object");
            let mut unique = names.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(
                unique.len(),
                names.len(),
                "duplicate JSON member names accepted"
            );
        }
    }
    result
}

fuzz_target!(|data: &[u8]| {
    let [ct, auth_mode, rest @ ..] = data else {
        return;
    };
    let parts = split_nul(rest, 2);
    let auth = parts.first().copied().unwrap_or_default();
    let body = parts.get(1).copied().unwrap_or_default();

    let mut headers = HeaderMap::new();
    for t in CONTENT_TYPES[usize::from(*ct) % CONTENT_TYPES.len()] {
        headers.append(CONTENT_TYPE, HeaderValue::from_static(t));
    }
    let auth_value = HeaderValue::from_bytes(auth).ok();
    let auth_lines = match (auth_mode % 3, &auth_value) {
        (1, Some(v)) => {
            headers.append(AUTHORIZATION, v.clone());
            Some(v.as_bytes())
        }
        (2, Some(v)) => {
            headers.append(AUTHORIZATION, v.clone());
            headers.append(AUTHORIZATION, v.clone());
            None
        }
        _ => None,
    };
    let auth_single = if auth_mode % 3 == 1 { auth_lines } else { None };

    let _ = check(&headers, auth_single, body, xivo::LOGIN_FIELDS);
    let _ = check(&headers, auth_single, body, voltmx::LOGIN_FIELDS);
    let generic = check(&headers, auth_single, body, LoginFields::GENERIC);

    let (status, answer) = call(&headers, "/login", body.to_vec());
    match &generic {
        Ok(c) if c.username == "alice" && c.password.expose_secret() == "wonderland" => {
            assert_eq!(status, StatusCode::OK, "{answer}");
            let refresh = answer["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned();
            assert!(answer["access_token"].is_string());
            let mut json = HeaderMap::new();
            json.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
            let again = serde_json::json!({ "refresh_token": refresh })
                .to_string()
                .into_bytes();
            assert_eq!(call(&json, "/refresh", again.clone()).0, StatusCode::OK);
            assert_eq!(
                call(&json, "/refresh", again).0,
                StatusCode::UNAUTHORIZED,
                "refresh token spent twice"
            );
        }
        Ok(_) => assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}"),
        Err(e) => {
            assert!(
                matches!(status.as_u16(), 400 | 401 | 415),
                "{status} for {e:?}: {answer}"
            );
            if cfg!(feature = "issue-10-checks") && matches!(e, LoginError::UnsupportedMediaType) {
                assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            }
        }
    }
    let (status, answer) = call(&headers, "/refresh", body.to_vec());
    assert!(
        matches!(status.as_u16(), 400 | 401 | 415),
        "fuzzed refresh answered {status}: {answer}"
    );
});
