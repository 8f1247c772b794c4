//! PHP's `json_decode($text, true)` and the `json_encode` the reference client's JWT library
//! uses, both to the byte.
//!
//! Decoding keeps object keys in their order, turns integer-like keys into integer keys,
//! reads integers beyond 64 bits as floats, and refuses what PHP refuses (invalid UTF-8,
//! unpaired surrogates, control characters in strings, nesting deeper than 512). Duplicate
//! object keys are reported, because a later value silently replacing an earlier one is how
//! unsigned data would slip past a verifier.
//!
//! ```
//! use tower_authn_s2s::php::{json_decode, Key, Value};
//!
//! let v = json_decode(br#"{"Active":true,"n":1.0,"list":[1,"a"]}"#).unwrap();
//! let Value::Array(a) = v else { panic!() };
//! assert_eq!(a.get(&Key::from("Active")), Some(&Value::Bool(true)));
//! assert_eq!(a.get(&Key::from("n")), Some(&Value::Float(1.0)));
//! ```

use std::fmt;

use super::array::{Array, Key, Value};
use super::number::float_to_json;

/// PHP's default `json_decode` depth.
pub const MAX_DEPTH: usize = 512;

/// Why a JSON text was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// Not JSON (PHP's `JSON_ERROR_SYNTAX` and friends), at this byte offset.
    Syntax(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    Depth,
    /// An object has the same key twice (after PHP's integer-key normalisation).
    DuplicateKey,
    /// [`json_encode`] met a value JSON cannot hold (invalid UTF-8, `NAN`, `INF`).
    Unencodable,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax(at) => write!(f, "invalid JSON at byte {at}"),
            JsonError::Depth => write!(f, "JSON nested deeper than {MAX_DEPTH}"),
            JsonError::DuplicateKey => f.write_str("JSON object with a duplicate key"),
            JsonError::Unencodable => f.write_str("value cannot be JSON-encoded"),
        }
    }
}

impl std::error::Error for JsonError {}

/// Decodes `text` as PHP's `json_decode($text, true)` does.
///
/// # Errors
///
/// [`JsonError`] when PHP would return an error, or when an object repeats a key.
pub fn json_decode(text: &[u8]) -> Result<Value, JsonError> {
    let mut p = Parser {
        s: text,
        i: 0,
        depth: 0,
    };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.i != text.len() {
        return Err(JsonError::Syntax(p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn err<T>(&self) -> Result<T, JsonError> {
        Err(JsonError::Syntax(self.i))
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), JsonError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err()
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, JsonError> {
        if self.s.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(v)
        } else {
            self.err()
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.err(),
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(JsonError::Depth);
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        self.eat(b'{')?;
        let mut a = Array::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Value::Array(a));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return self.err();
            }
            let key = Key::from_bytes(&self.string()?);
            self.ws();
            self.eat(b':')?;
            self.ws();
            let v = self.value()?;
            if a.insert(key, v).is_some() {
                return Err(JsonError::DuplicateKey);
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return self.err(),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(a))
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        self.eat(b'[')?;
        let mut a = Array::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Value::Array(a));
        }
        loop {
            self.ws();
            let v = self.value()?;
            a.push(v).map_err(|_| JsonError::Syntax(self.i))?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    break;
                }
                _ => return self.err(),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(a))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .ok_or(JsonError::Syntax(self.i))?;
        let text = std::str::from_utf8(digits).map_err(|_| JsonError::Syntax(self.i))?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.err();
        }
        let v = u32::from_str_radix(text, 16).map_err(|_| JsonError::Syntax(self.i))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<Vec<u8>, JsonError> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let start = self.i;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            let run = self.s.get(start..self.i).unwrap_or_default();
            if std::str::from_utf8(run).is_err() {
                return Err(JsonError::Syntax(start));
            }
            out.extend_from_slice(run);
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or(JsonError::Syntax(self.i))?;
                    self.i += 1;
                    let simple = match c {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(JsonError::Syntax(self.i - 1)),
                    };
                    if let Some(b) = simple {
                        out.push(b);
                        continue;
                    }
                    let hi = self.hex4()?;
                    let code = if (0xD800..0xDC00).contains(&hi) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                            return self.err();
                        }
                        self.i += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return self.err();
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else if (0xDC00..0xE000).contains(&hi) {
                        return self.err();
                    } else {
                        hi
                    };
                    let ch = char::from_u32(code).ok_or(JsonError::Syntax(self.i))?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => return self.err(),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return self.err(),
        }
        let int_end = self.i;
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err();
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err();
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            is_float = true;
        }
        let text = std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default())
            .map_err(|_| JsonError::Syntax(start))?;
        if !is_float {
            let digits = int_end - start - usize::from(negative);
            let fits = digits < 19
                || (digits == 19 && {
                    let d = text.trim_start_matches('-');
                    d < "9223372036854775808" || (d == "9223372036854775808" && negative)
                });
            if fits {
                if let Ok(i) = text.parse::<i64>() {
                    return Ok(Value::Int(i));
                }
            }
        }
        Ok(Value::Float(text.parse::<f64>().unwrap_or(0.0)))
    }
}

/// Appends `s` as a JSON string the way PHP's `json_encode` does with its default flags:
/// `/` escaped as `\/`, and every character outside ASCII as a lowercase `\uXXXX` escape.
pub fn json_encode_str(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) >= 0x80 => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// PHP's `json_encode($value)` with default flags: a list (keys `0..n` in order) as a JSON
/// array, any other array as an object, floats as their shortest round-trip text.
///
/// ```
/// use tower_authn_s2s::php::{json_encode, Array, Value};
///
/// let a = Array::new().with("on", true).with("ids", Value::from(vec![1, 2])).with("x", 0.5);
/// assert_eq!(json_encode(&Value::from(a)).unwrap(), r#"{"on":true,"ids":[1,2],"x":0.5}"#);
/// ```
///
/// # Errors
///
/// [`JsonError::Unencodable`] for invalid UTF-8 strings and non-finite floats.
pub fn json_encode(v: &Value) -> Result<String, JsonError> {
    let mut out = String::new();
    encode_value(v, &mut out, 0)?;
    Ok(out)
}

fn encode_value(v: &Value, out: &mut String, depth: usize) -> Result<(), JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError::Depth);
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(x) if x.is_finite() => out.push_str(&float_to_json(*x)),
        Value::Float(_) => return Err(JsonError::Unencodable),
        Value::Str(s) => {
            let s = std::str::from_utf8(s).map_err(|_| JsonError::Unencodable)?;
            json_encode_str(s, out);
        }
        Value::Array(a) if a.is_list() => {
            out.push('[');
            for (i, item) in a.values().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_value(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Array(a) => {
            out.push('{');
            for (i, (k, item)) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let key = String::from_utf8(k.as_bytes().into_owned())
                    .map_err(|_| JsonError::Unencodable)?;
                json_encode_str(&key, out);
                out.push(':');
                encode_value(item, out, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(v: Value) -> Array {
        match v {
            Value::Array(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    #[test]
    fn numbers_follow_php() {
        assert_eq!(json_decode(b"-0"), Ok(Value::Int(0)));
        assert_eq!(
            json_decode(b"9223372036854775807"),
            Ok(Value::Int(i64::MAX))
        );
        assert_eq!(
            json_decode(b"-9223372036854775808"),
            Ok(Value::Int(i64::MIN))
        );
        assert_eq!(
            json_decode(b"9223372036854775808"),
            Ok(Value::Float(9.223372036854776e18))
        );
        assert_eq!(json_decode(b"1.0"), Ok(Value::Float(1.0)));
        assert_eq!(json_decode(b"1e2"), Ok(Value::Float(100.0)));
        for bad in [
            &b"01"[..],
            b"1.",
            b".5",
            b"-",
            b"+1",
            b"1e",
            b"0x10",
            b"NaN",
        ] {
            assert!(
                json_decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn objects_keep_order_and_normalise_keys() {
        let a = obj(json_decode(br#" {"b":1, "10":2, "a":[true,null]} "#).unwrap());
        let keys: Vec<_> = a.keys().cloned().collect();
        assert_eq!(keys, [Key::from("b"), Key::Int(10), Key::from("a")]);
        assert_eq!(
            json_decode(br#"{"a":1,"a":2}"#),
            Err(JsonError::DuplicateKey)
        );
        assert_eq!(
            json_decode(br#"{"1":1,"1":2}"#),
            Err(JsonError::DuplicateKey)
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            json_decode(br#""a\/b\u00e9\ud83d\ude00\n""#),
            Ok(Value::Str("a/b\u{e9}\u{1F600}\n".as_bytes().to_vec()))
        );
        assert!(json_decode(br#""\ud83d""#).is_err());
        assert!(json_decode(br#""\ude00""#).is_err());
        assert!(json_decode(b"\"a\x01\"").is_err());
        assert!(json_decode(b"\"\xff\"").is_err());
        assert!(json_decode(br#""\x""#).is_err());
    }

    #[test]
    fn depth_limit() {
        let ok = format!("{}{}", "[".repeat(512), "]".repeat(512));
        assert!(json_decode(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(513), "]".repeat(513));
        assert_eq!(json_decode(deep.as_bytes()), Err(JsonError::Depth));
    }

    #[test]
    fn encode_like_php() {
        let mut s = String::new();
        json_encode_str("CRM Connector/é \"q\" \u{1F600}", &mut s);
        assert_eq!(s, r#""CRM Connector\/\u00e9 \"q\" \ud83d\ude00""#);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = json_decode(&bytes);
        }

        #[test]
        fn decode_never_panics_on_jsonish(text in r#"[\[\]{}",:0-9eE.+\-a-z\\ ]{0,80}"#) {
            let _ = json_decode(text.as_bytes());
        }
    }
}
