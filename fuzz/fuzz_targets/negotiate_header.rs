//! `Authorization: Negotiate` (crates/kerberos/src/header.rs `parse_authorization`).
//!
//! - Never panics.
//! - `Ok(None)` only when the value does not name `Negotiate` (case-insensitive, after
//!   optional leading whitespace).
//! - An accepted token is exactly what was sent: the text after `Negotiate` and one space
//!   is strict, padded standard base64 (checked here by re-encoding) of at most 64 KiB and
//!   not empty; `reply_header` of the token parses back to the same token.
//! - Every refusal is `malformed_credentials` (400).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use tower_authn_core::ErrorKind;
use tower_authn_kerberos::{MAX_TOKEN_BYTES, parse_authorization, reply_header};

fuzz_target!(|data: &[u8]| {
    let mut t = data;
    while let [b' ' | b'\t', rest @ ..] = t {
        t = rest;
    }
    let names_negotiate = t.len() >= 9 && t[..9].eq_ignore_ascii_case(b"negotiate");
    match parse_authorization(data) {
        Ok(None) => assert!(!names_negotiate, "Negotiate taken as absent"),
        Ok(Some(token)) => {
            assert!(names_negotiate);
            assert_eq!(t.get(9), Some(&b' '), "one space after the scheme");
            assert!(!token.is_empty() && token.len() <= MAX_TOKEN_BYTES);
            // What was sent is the canonical encoding of the token, byte for byte.
            assert_eq!(STANDARD.encode(&token).as_bytes(), &t[10..]);
            let header = reply_header(&token);
            assert_eq!(
                parse_authorization(header.as_bytes()).ok(),
                Some(Some(token)),
                "the reply header round-trips"
            );
        }
        Err(e) => {
            assert!(names_negotiate, "another scheme refused");
            assert_eq!(e.kind(), ErrorKind::MalformedCredentials);
            assert_eq!(e.status(), 400);
        }
    }
});
