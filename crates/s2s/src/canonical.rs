//! The canonical request the `sign.hash` claim covers, and its SHA-256.
//!
//! `canonical = METHOD + path + C(headers) + C(params) + C(body)`, where `C(map)` lowercases
//! the keys, sorts them as PHP's `ksort` does, and writes `key:value;` for each entry
//! (recursively for nested maps; `true`/`false` as `1`/`0`; `null` as nothing; strings
//! trimmed). There are no separators between the parts.
//!
//! ```
//! use tower_authn_s2s::canonical::{sha256_hex, CanonicalRequest};
//! use tower_authn_s2s::php::Array;
//!
//! let headers = Array::new()
//!     .with("Host", "pbx.example.wildixin.com")
//!     .with("X-APP-ID", "s2s-app-id-123");
//! let canonical = CanonicalRequest {
//!     method: "GET",
//!     path: b"/api/v1/PBX/settings/CallQueues/",
//!     headers: &headers,
//!     params: &Array::new(),
//!     body: &Array::new(),
//! }
//! .to_bytes()
//! .unwrap();
//! assert_eq!(
//!     canonical,
//!     b"GET/api/v1/PBX/settings/CallQueues/host:pbx.example.wildixin.com;x-app-id:s2s-app-id-123;"
//! );
//! assert_eq!(
//!     sha256_hex(&canonical),
//!     "128a4c78e4ba15a8d43f3cb40a10bcae0ad2fada273f489fc87ea1f0a2207af8"
//! );
//! ```

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::php::{Array, Key, Value, compare_keys, float_to_string, zend_sort};

/// How deep `C(map)` follows nested maps before giving up.
pub const MAX_NESTING: usize = 1024;

/// What to do when two keys of one map differ only in case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collisions {
    /// As PHP's `array_change_key_case`: the later value wins, at the earlier place.
    LaterWins,
    /// Refuse: the two parameters would be signed as one.
    Reject,
}

/// Why a canonical form could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonicalError {
    /// Two keys of one map differ only in case (under [`Collisions::Reject`]).
    CaseCollision(String),
    /// Maps nested deeper than [`MAX_NESTING`].
    TooDeep,
}

impl fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CanonicalError::CaseCollision(k) => {
                write!(f, "keys that differ only in case: {k:?}")
            }
            CanonicalError::TooDeep => write!(f, "maps nested deeper than {MAX_NESTING}"),
        }
    }
}

impl std::error::Error for CanonicalError {}

/// The entries of `a` with lowercased keys, in `ksort` order.
pub(crate) fn sorted_entries(
    a: &Array,
    collisions: Collisions,
) -> Result<Vec<(Key, &Value)>, CanonicalError> {
    let mut slots: HashMap<Key, usize> = HashMap::with_capacity(a.len());
    let mut items: Vec<(usize, Key, &Value)> = Vec::with_capacity(a.len());
    for (k, v) in a.iter() {
        let lower = k.to_lowercase();
        match slots.get(&lower) {
            Some(&i) => {
                if collisions == Collisions::Reject {
                    let shown = String::from_utf8_lossy(&lower.as_bytes()).into_owned();
                    return Err(CanonicalError::CaseCollision(shown));
                }
                if let Some(slot) = items.get_mut(i) {
                    slot.2 = v;
                }
            }
            None => {
                slots.insert(lower.clone(), items.len());
                items.push((items.len(), lower, v));
            }
        }
    }
    zend_sort(&mut items, &|x, y| match compare_keys(&x.1, &y.1) {
        Ordering::Equal => x.0.cmp(&y.0),
        o => o,
    });
    Ok(items.into_iter().map(|(_, k, v)| (k, v)).collect())
}

/// PHP's `trim()` character list: space, `\t`, `\n`, `\r`, `\0`, `\x0B`.
fn php_trim(s: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0 | 0x0b);
    let start = s.iter().position(|c| !ws(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !ws(c)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

/// Appends `C(a)` to `out`.
///
/// # Errors
///
/// [`CanonicalError`] on a case collision under [`Collisions::Reject`] or too deep nesting.
pub fn canonical_data(
    a: &Array,
    collisions: Collisions,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    write_data(a, collisions, out, 0)
}

fn write_data(
    a: &Array,
    collisions: Collisions,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), CanonicalError> {
    if depth > MAX_NESTING {
        return Err(CanonicalError::TooDeep);
    }
    for (k, v) in sorted_entries(a, collisions)? {
        out.extend_from_slice(&k.as_bytes());
        out.push(b':');
        match v {
            Value::Null => {}
            Value::Bool(b) => out.push(if *b { b'1' } else { b'0' }),
            Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Value::Float(x) => out.extend_from_slice(float_to_string(*x).as_bytes()),
            Value::Str(s) => out.extend_from_slice(php_trim(s)),
            Value::Array(inner) => write_data(inner, collisions, out, depth + 1)?,
        }
        out.push(b';');
    }
    Ok(())
}

/// `a` with every key lowercased and every map sorted, recursively: the wire form a signer
/// sends so that it equals the canonical form.
///
/// # Errors
///
/// [`CanonicalError::CaseCollision`] when two keys of one map differ only in case.
pub fn canonicalize(a: &Array) -> Result<Array, CanonicalError> {
    canonicalize_at(a, 0)
}

fn canonicalize_at(a: &Array, depth: usize) -> Result<Array, CanonicalError> {
    if depth > MAX_NESTING {
        return Err(CanonicalError::TooDeep);
    }
    let mut out = Array::new();
    for (k, v) in sorted_entries(a, Collisions::Reject)? {
        let v = match v {
            Value::Array(inner) => Value::Array(canonicalize_at(inner, depth + 1)?),
            other => other.clone(),
        };
        out.insert(k, v);
    }
    Ok(out)
}

/// The parts of a canonical request.
#[derive(Clone, Copy, Debug)]
pub struct CanonicalRequest<'a> {
    /// The method exactly as sent (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The path as sent, without the query, neither percent-decoded nor normalised.
    pub path: &'a [u8],
    /// The signed headers, by the names listed in `sign.headers`.
    pub headers: &'a Array,
    /// The query parameters.
    pub params: &'a Array,
    /// The body parameters (empty for `GET` and `DELETE`).
    pub body: &'a Array,
}

impl CanonicalRequest<'_> {
    /// The canonical string's bytes. Header names that differ only in case collapse as in
    /// PHP; parameter and body keys that do must not occur.
    ///
    /// # Errors
    ///
    /// [`CanonicalError`] on a case collision among parameter or body keys, or too deep
    /// nesting.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(self.method.as_bytes());
        out.extend_from_slice(self.path);
        canonical_data(self.headers, Collisions::LaterWins, &mut out)?;
        canonical_data(self.params, Collisions::Reject, &mut out)?;
        canonical_data(self.body, Collisions::Reject, &mut out)?;
        Ok(out)
    }

    /// `hash('sha256', canonical)`: 64 lowercase hex digits.
    ///
    /// # Errors
    ///
    /// As [`CanonicalRequest::to_bytes`].
    pub fn hash(&self) -> Result<String, CanonicalError> {
        Ok(sha256_hex(&self.to_bytes()?))
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::php::{ParseLimits, json_decode, parse_str};
    use proptest::prelude::*;

    fn c(a: &Array, policy: Collisions) -> Result<String, CanonicalError> {
        let mut out = Vec::new();
        canonical_data(a, policy, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn values_and_nesting() {
        let a = Array::new()
            .with("Zeta", "  padded\t")
            .with("alpha", true)
            .with("beta", false)
            .with("gamma", Value::Null)
            .with("delta", 1.0)
            .with("eps", 42)
            .with("list", Value::from(vec!["x", "y"]))
            .with("empty", Array::new())
            .with("10", "ten")
            .with("9", "nine");
        assert_eq!(
            c(&a, Collisions::Reject).unwrap(),
            "9:nine;10:ten;alpha:1;beta:0;delta:1;empty:;eps:42;gamma:;list:0:x;1:y;;zeta:padded;"
        );
    }

    #[test]
    fn case_collisions() {
        let a = Array::new()
            .with("Count", "1")
            .with("b", "2")
            .with("count", "3");
        assert_eq!(c(&a, Collisions::LaterWins).unwrap(), "b:2;count:3;");
        assert!(matches!(
            c(&a, Collisions::Reject),
            Err(CanonicalError::CaseCollision(_))
        ));
    }

    #[test]
    fn json_body_flattening() {
        let v = json_decode(
            br#"{"Name":"Queue 1","Enabled":true,"Paused":false,"Weight":2.50,"Max":10,
                "Members":[{"Ext":"101"},{"Ext":"102"}],"Opts":{"B":null,"A":[]}}"#,
        )
        .unwrap();
        let Value::Array(a) = v else { panic!() };
        assert_eq!(
            c(&a, Collisions::Reject).unwrap(),
            "enabled:1;max:10;members:0:ext:101;;1:ext:102;;;name:Queue 1;opts:a:;b:;;paused:0;weight:2.5;"
        );
    }

    #[test]
    fn canonicalize_sorts_and_lowercases_recursively() {
        let a = parse_str(b"b=1&A[Y]=2&A[x]=3", &ParseLimits::default()).unwrap();
        let wire = crate::php::build_query(&canonicalize(&a).unwrap());
        assert_eq!(wire, "a%5Bx%5D=3&a%5By%5D=2&b=1");
    }

    #[test]
    fn trim_is_php_trim() {
        assert_eq!(php_trim(b" \t\n\r\0\x0bx y\x0b\0 "), b"x y");
        assert_eq!(php_trim(b"   "), b"");
        assert_eq!(php_trim(b"\x0cx"), b"\x0cx");
    }

    proptest! {
        #[test]
        fn canonical_of_any_query_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(a) = parse_str(&bytes, &ParseLimits::default()) {
                let mut out = Vec::new();
                let _ = canonical_data(&a, Collisions::LaterWins, &mut out);
                let _ = canonicalize(&a);
            }
        }

        #[test]
        fn canonical_of_any_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(Value::Array(a)) = json_decode(&bytes) {
                let mut out = Vec::new();
                let _ = canonical_data(&a, Collisions::Reject, &mut out);
            }
        }
    }
}
