#![no_main]

use http::{HeaderValue, Request, Uri};
use libfuzzer_sys::fuzz_target;
use tower_authn_core::credential::{AccessPair, TokenCredential};
use tower_authn_core::{AccessSecretLayer, AuthError, HeaderTokenLayer, Principal, Scheme};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == 0);
    let (header, auth, query, secret) = (parts.next(), parts.next(), parts.next(), parts.next());
    let mut req = Request::get("/").body(()).unwrap();
    if let Some(q) = query.and_then(|q| std::str::from_utf8(q).ok()) {
        if let Ok(uri) = format!("/x?{q}").parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    for (name, value) in [("x-auth-token", header), ("authorization", auth), ("accesssecret", secret)] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            req.headers_mut().append(name, v);
        }
    }
    let (parts, ()) = req.into_parts();
    let token = HeaderTokenLayer::new("X-Auth-Token", |_: TokenCredential| async {
        Err::<Principal, _>(AuthError::invalid("fuzz"))
    })
    .with_bearer()
    .with_query("token");
    let _ = token.scheme().extract(&parts);
    let pair = AccessSecretLayer::new(|_: AccessPair| async { Err::<Principal, _>(AuthError::invalid("fuzz")) });
    let _ = pair.scheme().extract(&parts);
});
