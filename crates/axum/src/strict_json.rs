//! JSON request bodies read strictly: an object that names a key twice, at any depth, is
//! refused, so `{"login":"bob","login":"alice"}` cannot mean one thing to a proxy or log
//! and another to the login (serde_json alone keeps the last). Built on serde's visitor,
//! so the parsing itself is serde_json's.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A [`Value`] whose every object had distinct keys.
struct Strict(Value);

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value without duplicate object keys")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Strict, D::Error> {
        Strict::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Strict(Value::Array(out)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = Map::new();
        // Keys arrive decoded: `"login"` and `"lo\u0067in"` are the same key.
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom("duplicate object key"));
            }
            let Strict(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(Strict(Value::Object(out)))
    }
}

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

/// Parses `body` as one JSON value (serde_json's grammar and nesting limit), refusing any
/// object that repeats a key.
///
/// # Errors
///
/// The serde_json error for invalid JSON, trailing bytes or a duplicate key.
pub(crate) fn from_slice(body: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(body).map(|Strict(v)| v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn same_values_as_serde_json_without_duplicates() {
        for text in [
            r#"{"a":1,"b":[true,null,-2,3.5,"x"],"c":{"d":{}}}"#,
            "[]",
            "\"s\"",
            "18446744073709551615",
            "-9223372036854775808",
            "1e300",
        ] {
            let plain: Value = serde_json::from_str(text).unwrap();
            assert_eq!(from_slice(text.as_bytes()).unwrap(), plain, "{text}");
        }
    }

    #[test]
    fn duplicate_keys_at_any_depth_are_refused() {
        for text in [
            r#"{"login":"bob@example.com","login":"alice","password":"wonderland"}"#,
            r#"{"login":"a","lo\u0067in":"b"}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"{"a":[{"x":1},{"y":1,"y":1}]}"#,
            r#"[{"k":null,"k":null}]"#,
        ] {
            let e = from_slice(text.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("duplicate"), "{text}: {e}");
        }
        // Serde_json alone keeps the last one: the reason this module exists.
        let lax: Value = serde_json::from_str(r#"{"login":"bob","login":"alice"}"#).unwrap();
        assert_eq!(lax, json!({"login": "alice"}));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let deep = "[".repeat(10_000);
        for bad in [
            &b"{"[..],
            b"\xff",
            b"{} {}",
            b"{\"a\":\"\\ud800\"}",
            deep.as_bytes(),
        ] {
            assert!(from_slice(bad).is_err());
        }
    }
}
