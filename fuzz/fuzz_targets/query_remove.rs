//! Credential query-parameter removal (crates/core/src/head.rs `remove_query_params`).
//!
//! - What is removed is gone: no `token` / `access_token` value is left.
//! - The rest is byte-exact: the path, scheme and authority are unchanged, and the kept
//!   query is the input's non-empty `&` segments, minus exactly those naming a removed
//!   parameter, in order and byte for byte.
//! - Nothing to remove is `None` (the URI is left as it is).
//! - `query_values` yields what `form_urlencoded::parse` yields for the name, in order (it
//!   decodes only the matching parameters, by hand).
#![no_main]

use std::borrow::Cow;

use http::Uri;
use libfuzzer_sys::fuzz_target;
use tower_authn_core::head::{query_values, remove_query_params};

const NAMES: [Cow<'static, str>; 2] = [Cow::Borrowed("token"), Cow::Borrowed("access_token")];

fn named(segment: &str) -> bool {
    form_urlencoded::parse(segment.as_bytes())
        .next()
        .is_some_and(|(k, _)| NAMES.contains(&k))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (prefix, q) = match text.split_once('\0') {
        Some((authority, q)) => (format!("http://{authority}/p"), q),
        None => ("/p".to_owned(), text),
    };
    let Ok(uri) = format!("{prefix}?{q}").parse::<Uri>() else {
        return;
    };
    let query = uri.query().unwrap_or_default();
    let segments: Vec<&str> = query.split('&').filter(|s| !s.is_empty()).collect();
    let removed = segments.iter().any(|s| named(s));
    for n in NAMES.iter().chain([&Cow::Borrowed("a b"), &Cow::Borrowed("")]) {
        let ours: Vec<Cow<'_, str>> = query_values(&uri, n).collect();
        let reference: Vec<Cow<'_, str>> = form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == n)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(ours, reference, "values of {n:?} in {query:?}");
    }
    match remove_query_params(&uri, &NAMES) {
        None => assert!(!removed, "a credential parameter was left in {uri}"),
        Some(out) => {
            assert!(removed);
            for n in &NAMES {
                assert_eq!(query_values(&out, n).count(), 0, "credential left in {out}");
            }
            assert_eq!(out.path(), uri.path());
            assert_eq!(out.scheme(), uri.scheme());
            assert_eq!(out.authority(), uri.authority());
            let kept: Vec<&str> = segments.iter().copied().filter(|s| !named(s)).collect();
            let got: Vec<&str> = out
                .query()
                .unwrap_or_default()
                .split('&')
                .filter(|s| !s.is_empty())
                .collect();
            assert_eq!(got, kept, "kept query is not the rest, byte for byte");
            assert_eq!(
                out.query().is_some(),
                !kept.is_empty() || out.query() == Some("")
            );
        }
    }
});
