#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_authn_core::schemes::parse_basic;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(c)) = parse_basic(data) {
        // Whatever is accepted has no control characters and a user without a colon.
        assert!(!c.username.contains(':'));
        assert!(!c.username.chars().any(char::is_control));
    }
});
