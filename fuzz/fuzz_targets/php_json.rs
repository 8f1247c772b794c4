//! PHP `json_decode` / `json_encode` and the float conversions (crates/s2s/src/php).
//!
//! - An accepted text is JSON to serde_json too (unless it holds an out-of-range number,
//!   which PHP reads as INF, or nests deeper than serde_json's limit), and serde_json's JSON
//!   is accepted unless it repeats a name or nests deeper than PHP allows.
//! - A duplicate name (after PHP's integer-key rule) is never accepted.
//! - Accepted values round-trip: `json_decode(json_encode(v)) == v` (an integral float may
//!   come back as the integer of its value, as in PHP), and encoding is a fixed point.
//! - Floats: `json_encode` is the shortest text that reads back to the same float; PHP's
//!   `(string)$x` keeps 14 significant digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_authn_fuzz::{Strict, strict_json};
use tower_authn_s2s::php::{JsonError, Value, float_to_string, json_decode, json_encode};

/// (max nesting, holds a non-finite float)
fn shape(v: &Value) -> (usize, bool) {
    match v {
        Value::Float(x) => (0, !x.is_finite()),
        Value::Array(a) => a
            .values()
            .map(shape)
            .fold((1, false), |(d, n), (d2, n2)| (d.max(d2 + 1), n || n2)),
        _ => (0, false),
    }
}

fn has_negative_zero(v: &Value) -> bool {
    match v {
        Value::Float(x) => *x == 0.0 && x.is_sign_negative(),
        Value::Array(a) => a.values().any(has_negative_zero),
        _ => false,
    }
}

/// Equal, an integral float and the integer of its value counting as equal.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Int(i)) | (Value::Int(i), Value::Float(x)) => *i as f64 == *x,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
        }
        _ => a == b,
    }
}

fn check_float(x: f64) {
    let enc = json_encode(&Value::Float(x));
    if !x.is_finite() {
        assert_eq!(enc, Err(JsonError::Unencodable));
        let s = float_to_string(x);
        assert!(matches!(s.as_str(), "NAN" | "INF" | "-INF"), "{s}");
        return;
    }
    let enc = enc.expect("a finite float encodes");
    let back: f64 = enc.parse().expect("json_encode wrote a number Rust reads");
    assert!(
        back.to_bits() == x.to_bits() || (back == 0.0 && x == 0.0),
        "{x:?} -> {enc}"
    );
    // PHP writes an integral float without a fraction (no JSON_PRESERVE_ZERO_FRACTION), so
    // it may read back as the integer of the same value.
    let back = json_decode(enc.as_bytes()).expect("json_encode output decodes");
    assert!(same(&back, &Value::Float(x)), "{x:?} -> {enc} -> {back:?}");

    let s = float_to_string(x);
    assert!(
        s.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'E' | b'+')),
        "{s}"
    );
    let y: f64 = s.parse().expect("(string)$x is a number");
    let tolerance = x.abs() * 1e-13;
    assert!(
        (y - x).abs() <= tolerance || (y - x).abs() <= f64::MIN_POSITIVE,
        "{x:?} -> {s}"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Some(bytes) = data.get(..8) {
        check_float(f64::from_le_bytes(bytes.try_into().unwrap_or([0; 8])));
    }
    let ours = json_decode(data);
    let theirs = strict_json(data);
    match &ours {
        Ok(v) => {
            let (depth, non_finite) = shape(v);
            if !non_finite && depth < 120 {
                assert_eq!(theirs, Strict::Unique, "accepted what serde_json does not");
            }
            if non_finite {
                assert_eq!(json_encode(v), Err(JsonError::Unencodable));
                return;
            }
            let enc = json_encode(v).expect("a decoded value encodes");
            let again = json_decode(enc.as_bytes()).expect("json_encode output decodes");
            assert!(same(&again, v), "round trip through {enc}: {again:?}");
            // A fixed point after one more round: `-0.0` is written `-0`, which PHP reads
            // back as the integer 0.
            let enc2 = json_encode(&again).expect("encodes");
            let again2 = json_decode(enc2.as_bytes()).expect("decodes");
            assert_eq!(json_encode(&again2).as_deref(), Ok(enc2.as_str()));
            if !has_negative_zero(v) {
                assert_eq!(enc2, enc);
            }
        }
        Err(JsonError::DuplicateKey) => assert_ne!(theirs, Strict::Unique, "no duplicate"),
        Err(JsonError::Depth) => {}
        Err(e) => assert_ne!(theirs, Strict::Unique, "refused valid JSON: {e}"),
    }
});
