//! HTTP Basic (crates/core/src/schemes/basic.rs `parse_basic`).
//!
//! - Never panics.
//! - `Ok(None)` only when the auth-scheme is not `Basic`.
//! - Accepted input is exactly what was sent: the credential decodes (strict base64,
//!   checked here independently) to `user:password`, the user has no colon, neither has a
//!   control character, and the credentials re-encoded parse back to themselves.
//! - With the issue 10 checks: a value that names `Basic` with anything but one space
//!   before its credential (a tab, two spaces) is malformed, not absent and not accepted.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use tower_authn_core::head::trim;
use tower_authn_core::schemes::parse_basic;

fuzz_target!(|data: &[u8]| {
    let result = parse_basic(data);
    let t = trim(data);
    let names_basic = t.len() >= 5 && t[..5].eq_ignore_ascii_case(b"basic");
    let separator = t.get(5).copied();
    match &result {
        Ok(None) => {
            assert!(
                !(names_basic && matches!(separator, None | Some(b' '))),
                "Basic taken as absent"
            );
        }
        Ok(Some(c)) => {
            assert!(names_basic && separator == Some(b' '));
            let (user, password) = (c.username.as_str(), c.password.expose_secret());
            assert!(!user.contains(':'));
            assert!(!user.chars().chain(password.chars()).any(char::is_control));
            let sent = trim(&t[5..]);
            let decoded = STANDARD
                .decode(sent)
                .expect("accepted credential is strict base64");
            assert_eq!(decoded, format!("{user}:{password}").as_bytes());
            let again = format!("Basic {}", STANDARD.encode(&decoded));
            let back = parse_basic(again.as_bytes())
                .expect("re-encoded parses")
                .expect("basic");
            assert_eq!(
                (back.username.as_str(), back.password.expose_secret()),
                (user, password)
            );
            if cfg!(feature = "issue-10-checks") {
                assert_eq!(
                    t.get(6).copied().filter(|b| *b == b' ' || *b == b'\t'),
                    None,
                    "two separators accepted"
                );
            }
        }
        Err(e) => assert_eq!(e.status(), 400),
    }
    if cfg!(feature = "issue-10-checks") && names_basic && matches!(separator, Some(b'\t')) {
        assert!(result.is_err(), "Basic<TAB> is not malformed");
    }
});
