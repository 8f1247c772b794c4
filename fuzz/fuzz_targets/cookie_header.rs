//! The cookie credential source (crates/core/src/cookies.rs, the cookie part of
//! schemes/token.rs, the guard in csrf.rs) through the public `Scheme::extract` and
//! `cookies::remove_cookies`.
//!
//! Input: `flags NUL origin NUL cookie-line NUL cookie-line NUL cookie-line`; bit 0 of the
//! first flag byte makes the request a POST (else GET), an empty origin part sends none, an
//! empty cookie part sends no line.
//! - Never panics, whatever the bytes (non-UTF-8 lines included).
//! - Against an oracle written here (split at `;`, trim, name before the first `=`): the
//!   token is found only when exactly one copy of `sid` was sent, and it is that copy's value
//!   (one `DQUOTE` pair unwrapped), non-empty `cookie-octet`s; absent only with no copy; two
//!   copies or a bad value are 400; 403 only for a POST with one good copy and an `Origin`
//!   that is neither the server's own nor the listed one.
//! - Removal leaves no copy; a line without one is kept byte for byte; the other pairs of a
//!   line with one are kept byte for byte, in order.
#![no_main]

use std::borrow::Cow;

use http::{HeaderMap, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use tower_authn_core::cookies::{cookie_values, remove_cookies};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::scheme::{Extraction, Scheme};
use tower_authn_core::{AuthError, CookieTokenLayer, Principal};
use tower_authn_fuzz::split_nul;

/// What the oracle sees in one segment: `None` for not ours, else ours with its raw value
/// (`None`: no `=` at all).
fn ours(segment: &[u8]) -> Option<Option<String>> {
    let text = String::from_utf8_lossy(segment);
    let t = text.trim();
    match t.find('=') {
        Some(i) => (t[..i].trim() == "sid").then(|| Some(t[i + 1..].trim().to_owned())),
        None => (t == "sid").then_some(None),
    }
}

fn good_value(raw: &str) -> Option<&str> {
    let v = if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
        &raw[1..raw.len() - 1]
    } else {
        raw
    };
    let octet = |b: u8| b > 0x20 && b < 0x7f && !matches!(b, b'"' | b',' | b';' | b'\\');
    (!v.is_empty() && v.bytes().all(octet)).then_some(v)
}

fuzz_target!(|data: &[u8]| {
    let parts = split_nul(data, 5);
    let post = parts.first().and_then(|f| f.first()).is_some_and(|b| b & 1 == 1);
    let mut req = Request::builder()
        .method(if post { "POST" } else { "GET" })
        .uri("/")
        .header("host", "gw.example")
        .body(())
        .expect("request");
    let origin = parts
        .get(1)
        .filter(|o| !o.is_empty())
        .and_then(|o| HeaderValue::from_bytes(o).ok());
    if let Some(o) = &origin {
        req.headers_mut().insert("origin", o.clone());
    }
    for line in parts.iter().skip(2).filter(|l| !l.is_empty()) {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            req.headers_mut().append("cookie", v);
        }
    }
    let (head, ()) = req.into_parts();

    let lines: Vec<Vec<u8>> = head
        .headers
        .get_all("cookie")
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    let copies: Vec<Option<String>> = lines
        .iter()
        .flat_map(|l| l.split(|&b| b == b';'))
        .filter_map(ours)
        .collect();
    assert_eq!(cookie_values(&head.headers, "sid").count(), copies.len());

    let layer = CookieTokenLayer::new("sid", |_: TokenCredential| async {
        Err::<Principal, _>(AuthError::invalid("fuzz"))
    })
    .allow_origin("https://app.example");
    let good = match copies.as_slice() {
        [Some(raw)] => good_value(raw),
        _ => None,
    };
    match layer.scheme().extract(&head) {
        Extraction::Found(c) => {
            assert_eq!(Some(c.expose()), good, "found a token the oracle refuses");
        }
        Extraction::Absent => assert!(copies.is_empty(), "{} copies but absent", copies.len()),
        Extraction::Rejected(e) if e.status() == 403 => {
            assert!(post && good.is_some(), "403 without one good copy on a POST");
            let own = origin.as_ref().is_some_and(|o| {
                ["https://app.example", "https://gw.example", "http://gw.example"]
                    .iter()
                    .any(|ok| o.as_bytes().eq_ignore_ascii_case(ok.as_bytes()))
            });
            assert!(!own, "an allowed origin refused");
        }
        Extraction::Rejected(e) => {
            assert_eq!(e.status(), 400);
            assert!(good.is_none(), "a good single copy refused with 400");
        }
    }

    let mut removed: HeaderMap = head.headers.clone();
    remove_cookies(&mut removed, &[Cow::Borrowed("sid")]);
    assert_eq!(cookie_values(&removed, "sid").count(), 0, "a copy left");
    let after: Vec<Vec<u8>> = removed
        .get_all("cookie")
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    let mut kept = after.iter();
    for line in &lines {
        let has = line.split(|&b| b == b';').any(|s| ours(s).is_some());
        if !has {
            assert_eq!(kept.next(), Some(line), "an untouched line changed");
            continue;
        }
        let others: Vec<&[u8]> = line
            .split(|&b| b == b';')
            .map(<[u8]>::trim_ascii)
            .filter(|s| !s.is_empty() && ours(s).is_none())
            .collect();
        if others.is_empty() {
            continue;
        }
        assert_eq!(kept.next(), Some(&others.join(&b"; "[..])), "other pairs changed");
    }
    assert_eq!(kept.next(), None, "a line appeared");
});
