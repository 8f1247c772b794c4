//! Token extraction from a request head (crates/core/src/schemes/token.rs and
//! access_secret.rs) through the public `Scheme::extract`.
//!
//! Input: `x-auth-token NUL authorization NUL query NUL accesstoken NUL accesssecret`; an
//! empty part is not sent, a part starting with `*` is sent twice (`*` alone: an empty value).
//! - One credential per request: a token is found only when exactly one copy was sent (one
//!   header line, one Bearer line, or one query value), and it is that copy, byte for byte,
//!   visible ASCII; two copies anywhere are rejected, never resolved.
//! - The access pair is found only with exactly one line of each header, and equals them.
//! - With the issue 10 checks: `Bearer` with anything but one space before its token is
//!   rejected, not absent.
#![no_main]

use http::{HeaderValue, Request, Uri};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use tower_authn_core::credential::{AccessPair, TokenCredential};
use tower_authn_core::head::{is_token68, query_values, split_authorization, trim};
use tower_authn_core::scheme::{Extraction, Scheme};
use tower_authn_core::{AccessSecretLayer, AuthError, HeaderTokenLayer, Principal};
use tower_authn_fuzz::split_nul;

fuzz_target!(|data: &[u8]| {
    let parts = split_nul(data, 5);
    let part = |i: usize| parts.get(i).copied();
    let mut req = Request::get("/").body(()).expect("request");
    if let Some(q) = part(2).and_then(|q| std::str::from_utf8(q).ok())
        && let Ok(uri) = format!("/x?{q}").parse::<Uri>()
    {
        *req.uri_mut() = uri;
    }
    for (i, name) in [
        (0, "x-auth-token"),
        (1, "authorization"),
        (3, "accesstoken"),
        (4, "accesssecret"),
    ] {
        let Some(raw) = part(i).filter(|p| !p.is_empty()) else {
            continue;
        };
        let (twice, raw) = match raw.strip_prefix(b"*") {
            Some(r) => (true, r),
            None => (false, raw),
        };
        if let Ok(v) = HeaderValue::from_bytes(raw) {
            req.headers_mut().append(name, v.clone());
            if twice {
                req.headers_mut().append(name, v);
            }
        }
    }
    let (head, ()) = req.into_parts();

    let token = HeaderTokenLayer::new("X-Auth-Token", |_: TokenCredential| async {
        Err::<Principal, _>(AuthError::invalid("fuzz"))
    })
    .with_bearer()
    .with_query("token");
    let header_lines: Vec<&[u8]> = head
        .headers
        .get_all("x-auth-token")
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let auth_lines: Vec<&[u8]> = head
        .headers
        .get_all("authorization")
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let bearer_lines: Vec<&[u8]> = auth_lines
        .iter()
        .copied()
        .filter(|v| split_authorization(v).0.eq_ignore_ascii_case(b"bearer"))
        .collect();
    let queries: Vec<String> = query_values(&head.uri, "token")
        .map(|v| v.into_owned())
        .collect();
    let copies = header_lines.len() + bearer_lines.len().min(1) + queries.len();

    match token.scheme().extract(&head) {
        Extraction::Found(c) => {
            assert_eq!(copies, 1, "found one token among {copies} copies");
            let t = c.expose();
            assert!(!t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()));
            let expected: Vec<u8> = if let [h] = header_lines.as_slice() {
                h.to_vec()
            } else if let [b] = bearer_lines.as_slice() {
                assert_eq!(
                    auth_lines.len(),
                    1,
                    "bearer taken next to another Authorization line"
                );
                let rest = split_authorization(b).1;
                assert!(is_token68(rest));
                if cfg!(feature = "issue-10-checks") {
                    let t = trim(b);
                    assert_eq!(&t[6..7], b" ");
                    assert_eq!(&t[7..], rest, "bearer with more than one space accepted");
                }
                rest.to_vec()
            } else {
                queries[0].clone().into_bytes()
            };
            assert_eq!(t.as_bytes(), expected.as_slice());
        }
        Extraction::Absent => {
            assert_eq!(copies, 0, "{copies} copies but absent");
            if cfg!(feature = "issue-10-checks") {
                for v in &auth_lines {
                    let t = trim(v);
                    let names_bearer = t.len() > 6 && t[..6].eq_ignore_ascii_case(b"bearer");
                    assert!(
                        !(names_bearer && t[6] == b'\t'),
                        "Bearer<TAB> taken as absent"
                    );
                }
            }
        }
        Extraction::Rejected(e) => {
            assert_eq!(e.status(), 400, "rejected with {}", e.status());
        }
    }

    let pair = AccessSecretLayer::new(|_: AccessPair| async {
        Err::<Principal, _>(AuthError::invalid("fuzz"))
    });
    let tokens: Vec<&[u8]> = head
        .headers
        .get_all("accesstoken")
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let secrets: Vec<&[u8]> = head
        .headers
        .get_all("accesssecret")
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    match pair.scheme().extract(&head) {
        Extraction::Found(p) => {
            assert_eq!((tokens.len(), secrets.len()), (1, 1));
            assert_eq!(p.token.expose_secret().as_bytes(), tokens[0]);
            assert_eq!(p.secret.expose_secret().as_bytes(), secrets[0]);
        }
        Extraction::Absent => assert!(tokens.is_empty() && secrets.is_empty()),
        Extraction::Rejected(e) => assert_eq!(e.status(), 400),
    }
});
