//! CAS 3.0 `serviceValidate` answers (crates/exchange/src/cas.rs): whatever a CAS server (or
//! something in its place) sends, the reader never panics, and a success always names a
//! user: non-empty, trimmed, and read the same way twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_authn_exchange::cas::{ServiceResponse, parse_service_response};

fuzz_target!(|xml: &[u8]| {
    let first = parse_service_response(xml);
    if let Ok(ServiceResponse::Success(identity)) = &first {
        assert!(!identity.login.is_empty());
        assert_eq!(identity.login.trim(), identity.login);
        assert_eq!(identity.login, identity.subject);
    }
    assert_eq!(first, parse_service_response(xml));
});
