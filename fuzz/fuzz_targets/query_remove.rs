#![no_main]

use std::borrow::Cow;

use http::Uri;
use libfuzzer_sys::fuzz_target;
use tower_authn_core::head::{query_values, remove_query_params};

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else { return };
    let Ok(uri) = format!("/p?{q}").parse::<Uri>() else { return };
    if let Some(out) = remove_query_params(&uri, &[Cow::Borrowed("token")]) {
        assert_eq!(query_values(&out, "token").count(), 0, "credential left in {out}");
        assert_eq!(out.path(), uri.path());
    }
});
