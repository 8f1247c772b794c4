//! The signed-request canonical form (crates/s2s/src/canonical.rs) over what PHP parses.
//!
//! Input: `query NUL body NUL headers` (headers as `name:value` lines). The query and a
//! form body go through `parse_str`, a JSON body through `json_decode`.
//! - Building the canonical bytes never panics; headers (later-wins) never fail.
//! - `canonicalize` is idempotent and does not change the canonical bytes, whenever PHP's key
//!   comparison orders the keys consistently.
//! - `canonicalize` fails exactly when the canonical form refuses a case collision.
//! - What a signer puts on the wire (`http_build_query` of the canonicalized query or form,
//!   `json_encode` of a JSON body) parses back, at the verifier, to the map that was signed
//!   and the same canonical bytes: a signature made by one side verifies on the other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;
use tower_authn_fuzz::split_nul;
use tower_authn_s2s::canonical::{CanonicalRequest, Collisions, canonical_data, canonicalize};

use tower_authn_s2s::php::{
    Array, Key, ParseLimits, Value, build_query, compare_keys, float_to_string, json_decode,
    json_encode, parse_str,
};

/// Whether `json_encode` then `json_decode` keeps the canonical text of every number. PHP
/// writes an integral float without a fraction, which reads back as an integer: `-0.0`
/// becomes `0`, and `4833660032004187.0` (canonical `4.8336600320042E+15`) becomes
/// `4833660032004187`. PHP's own client and server disagree on those the same way (a false
/// reject, never a false accept), so they are left out; non-finite floats do not encode.
fn json_stable(v: &Value) -> bool {
    match v {
        Value::Float(x) => {
            x.is_finite()
                && !(*x == 0.0 && x.is_sign_negative())
                && (x.fract() != 0.0
                    || x.abs() >= 9.2e18
                    || float_to_string(*x) == (*x as i64).to_string())
        }
        Value::Array(a) => a.values().all(json_stable),
        _ => true,
    }
}

fn c(a: &Array) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    canonical_data(a, Collisions::Reject, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Whether `compare_keys` orders the keys of every map in `a` transitively (small maps
/// only; larger ones count as inconsistent and skip the checks that need an order).
fn consistent(a: &Array) -> bool {
    let keys: Vec<&Key> = a.keys().collect();
    let n = keys.len();
    if n > 24 {
        return false;
    }
    let lt = |i: usize, j: usize| compare_keys(keys[i], keys[j]) == Ordering::Less;
    let ordered =
        (0..n).all(|i| (0..n).all(|j| !lt(i, j) || (0..n).all(|k| !lt(j, k) || lt(i, k))));
    ordered
        && a.values().all(|v| match v {
            Value::Array(inner) => consistent(inner),
            _ => true,
        })
}

/// The canonicalize laws, for one map; returns the canonicalized map when there is one.
fn laws(a: &Array) -> Option<Array> {
    let bytes = c(a);
    match canonicalize(a) {
        Ok(ca) => {
            assert!(
                bytes.is_ok(),
                "canonicalize accepted, canonical_data refused"
            );
            // PHP's key comparison is not a consistent order on every key set (`"10" <
            // "1a"` bytewise, `"1a" < 9` by text, `9 < 10`), and sorting such a set again can
            // move its keys: `canonicalize` is idempotent, and keeps the canonical bytes,
            // only when the keys are consistently ordered. The Signer hashes the map it
            // sends, so this costs nothing on the wire (checked below).
            if consistent(&ca) {
                assert_eq!(canonicalize(&ca).as_ref(), Ok(&ca), "not idempotent");
                assert_eq!(c(&ca), bytes, "canonicalize changed the canonical bytes");
            }
            Some(ca)
        }
        Err(e) => {
            assert!(
                bytes.is_err(),
                "canonicalize refused ({e}), canonical_data accepted"
            );
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let parts = split_nul(data, 3);
    let query = parts.first().copied().unwrap_or_default();
    let body = parts.get(1).copied().unwrap_or_default();
    let header_text = parts.get(2).copied().unwrap_or_default();
    let limits = ParseLimits::default();

    let mut headers = Array::new()
        .with("Host", "pbx.example.wildixin.com")
        .with("X-APP-ID", "s2s-app-id-123");
    for line in header_text.split(|&b| b == b'\n') {
        if let Some(i) = line.iter().position(|&b| b == b':') {
            headers.insert(
                tower_authn_s2s::php::Key::from_bytes(&line[..i]),
                Value::Str(line[i + 1..].to_vec()),
            );
        }
    }
    let mut h = Vec::new();
    canonical_data(&headers, Collisions::LaterWins, &mut h).expect("headers never fail");

    let params = parse_str(query, &limits).ok();
    let json_body = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['));
    let body_map = if json_body {
        match json_decode(body) {
            Ok(Value::Array(a)) => Some(a),
            _ => None,
        }
    } else {
        parse_str(body, &limits).ok()
    };

    let empty = Array::new();
    let req = |p: &Array, b: &Array| {
        CanonicalRequest {
            method: "POST",
            path: b"/api/v1/Calls/",
            headers: &headers,
            params: p,
            body: b,
        }
        .to_bytes()
    };
    let _ = req(
        params.as_ref().unwrap_or(&empty),
        body_map.as_ref().unwrap_or(&empty),
    );

    if let Some(p) = &params
        && let Some(cp) = laws(p)
    {
        let wire = build_query(&cp);
        let back = parse_str(wire.as_bytes(), &limits)
            .unwrap_or_else(|e| panic!("signer's query {wire:?} refused: {e}"));
        assert_eq!(
            back, cp,
            "query {wire:?} does not parse back to what was signed"
        );
        assert_eq!(
            req(&back, &empty),
            req(&cp, &empty),
            "query {wire:?} canonicalizes differently"
        );
    }
    if let Some(b) = &body_map
        && let Some(cb) = laws(b)
    {
        if json_body {
            // The JSON body goes on the wire as `json_encode` of the signer's map (the PHP
            // client), or as it came (the Signer): either way the verifier reads the same map.
            if !json_stable(&Value::Array(b.clone())) {
                return;
            }
            let wire = json_encode(&Value::Array(b.clone())).expect("a decoded map encodes");
            let back = match json_decode(wire.as_bytes()) {
                Ok(Value::Array(a)) => a,
                other => panic!("signer's body {wire} decodes to {other:?}"),
            };
            assert_eq!(c(&back), c(b), "body {wire} canonicalizes differently");
        } else {
            let wire = build_query(&cb);
            let back = parse_str(wire.as_bytes(), &limits)
                .unwrap_or_else(|e| panic!("signer's body {wire:?} refused: {e}"));
            assert_eq!(
                back, cb,
                "body {wire:?} does not parse back to what was signed"
            );
            assert_eq!(c(&back), c(&cb), "body {wire:?} canonicalizes differently");
        }
    }
});
