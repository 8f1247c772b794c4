//! PHP `parse_str`, `urldecode` / `urlencode` and `http_build_query` (crates/s2s/src/php).
//!
//! - `url_decode(url_encode(x)) == x` for any bytes.
//! - An accepted query loses nothing: one leaf per non-empty `&` pair (no pair dropped,
//!   renamed or overwritten), and every key is stored in PHP's canonical key form.
//! - An accepted query round-trips: `parse_str(build_query(a)) == a`.
//! - Tight limits are honoured: more pairs or levels than allowed is an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_authn_s2s::php::{
    Array, Key, ParseError, ParseLimits, Value, build_query, parse_str, url_decode, url_encode,
};

fn leaves(a: &Array) -> usize {
    a.values()
        .map(|v| match v {
            Value::Array(inner) => {
                assert!(!inner.is_empty(), "parse_str made an empty array");
                leaves(inner)
            }
            Value::Str(_) => 1,
            other => panic!("parse_str made a non-string value {other:?}"),
        })
        .sum()
}

fn depth(a: &Array) -> usize {
    a.values()
        .map(|v| match v {
            Value::Array(inner) => 1 + depth(inner),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

fn keys_canonical(a: &Array) {
    for (k, v) in a.iter() {
        assert_eq!(&Key::from_bytes(&k.as_bytes()), k, "key not in PHP's form");
        if let Value::Array(inner) = v {
            keys_canonical(inner);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(url_decode(url_encode(data).as_bytes()), data);

    let pairs = data.split(|&c| c == b'&').filter(|p| !p.is_empty()).count();
    let limits = ParseLimits::default();
    match parse_str(data, &limits) {
        Ok(a) => {
            assert!(pairs <= limits.max_vars);
            assert_eq!(
                leaves(&a),
                pairs,
                "a pair was dropped or overwritten: {a:?}"
            );
            keys_canonical(&a);
            for k in a.keys() {
                let name = k.as_bytes();
                assert!(!name.is_empty());
                assert!(!name.iter().any(|c| matches!(c, b'.' | b' ' | b'[' | 0)));
            }
            let wire = build_query(&a);
            assert_eq!(
                parse_str(wire.as_bytes(), &limits).as_ref(),
                Ok(&a),
                "build_query output {wire:?} does not parse back"
            );
            let tight = ParseLimits {
                max_vars: 3,
                max_depth: 2,
            };
            match parse_str(data, &tight) {
                Ok(b) => {
                    assert_eq!(b, a);
                    assert!(pairs <= 3 && depth(&a) <= 2);
                }
                Err(ParseError::TooManyVars) => assert!(pairs > 3),
                Err(ParseError::TooDeep) => assert!(depth(&a) > 1),
                Err(e) => panic!("accepted with default limits, {e} with tight ones"),
            }
        }
        Err(ParseError::TooManyVars) => assert!(pairs > limits.max_vars),
        Err(_) => {}
    }
});
