//! Oracles shared by the fuzz targets: independent re-implementations of the small rules a
//! parser must follow, so that a target checks properties, not only "did not panic".

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Splits `data` at NUL bytes into at most `n` parts (the last keeps any further NULs).
pub fn split_nul(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |b| *b == 0).collect()
}

/// A JSON document checked for duplicate member names at every depth, with serde_json's
/// grammar. `Dup` when any object repeats a name.
#[derive(Debug, PartialEq, Eq)]
pub enum Strict {
    /// Valid JSON, every object's names unique.
    Unique,
    /// Valid JSON, some object repeats a name.
    Dup,
    /// Not JSON.
    Invalid,
}

struct Checked(bool);

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Checked;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
                Ok(Checked(true))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
                Ok(Checked(true))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
                Ok(Checked(true))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
                Ok(Checked(true))
            }
            fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
                Ok(Checked(true))
            }
            fn visit_unit<E>(self) -> Result<Checked, E> {
                Ok(Checked(true))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Checked, A::Error> {
                let mut ok = true;
                while let Some(Checked(c)) = s.next_element()? {
                    ok &= c;
                }
                Ok(Checked(ok))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Checked, A::Error> {
                let mut seen = std::collections::HashSet::new();
                let mut ok = true;
                while let Some(k) = m.next_key::<String>()? {
                    ok &= seen.insert(k);
                    let Checked(c) = m.next_value()?;
                    ok &= c;
                }
                Ok(Checked(ok))
            }
        }
        d.deserialize_any(V)
    }
}

/// Classifies `bytes` as JSON with unique names, with a duplicate name, or not JSON.
pub fn strict_json(bytes: &[u8]) -> Strict {
    match serde_json::from_slice::<Checked>(bytes) {
        Ok(Checked(true)) => Strict::Unique,
        Ok(Checked(false)) => Strict::Dup,
        Err(_) => Strict::Invalid,
    }
}

/// The essence of a `Content-Type` value: the part before `;`, trimmed, lowercased.
pub fn media_essence(value: &[u8]) -> Option<String> {
    let v = std::str::from_utf8(value).ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Whether `b` is an RFC 9110 `tchar`.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is a non-empty RFC 9110 token.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().copied().all(is_tchar)
}

struct Names(Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Names;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Names, A::Error> {
                let mut names = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    names.push(k);
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
                Ok(Names(names))
            }
        }
        d.deserialize_map(V)
    }
}

/// The member names of a JSON object, in order and with repeats; `None` if not an object.
pub fn object_names(bytes: &[u8]) -> Option<Vec<String>> {
    serde_json::from_slice::<Names>(bytes).ok().map(|n| n.0)
}
