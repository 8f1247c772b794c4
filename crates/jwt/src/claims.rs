//! The claims a verification reads, looked up in a map or picked out of the claims JSON.
//!
//! A verified token's claims are read by the rules (`exp`, `nbf`, `iat`, `iss`, `aud`) and
//! by the mapping (`sub`, `name`, `roles`, ...), and kept whole in
//! [`Principal::attributes`](tower_authn_core::PrincipalData::attributes). Building a map of
//! every claim for that costs more than the HMAC that checked them, so the verifiers parse
//! the claims JSON once, keep only the members the rules and the mapping name ([`Picked`]:
//! strings borrowed from the JSON, no map, no key copies), check every other member as
//! strictly as a map would and drop it, and hand the text to the principal, which parses it
//! only if someone reads an attribute.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::compact::{Name, OtherNames, Skip};

/// A claim's value, as the rules and the mapping read it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Claim<'a> {
    /// A string (borrowed from the claims JSON when picked).
    Str(&'a str),
    /// A picked array of strings only (`aud`, `roles`: the strings borrowed, no `Value`s).
    Strs(&'a [Cow<'a, str>]),
    /// Any other value (a string too, when the claims are a map).
    Value(&'a Value),
}

impl<'a> Claim<'a> {
    /// The string, if it is one.
    pub(crate) fn as_str(self) -> Option<&'a str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Strs(_) => None,
            Self::Value(v) => v.as_str(),
        }
    }

    /// The value, if it is not a picked string or array of strings.
    pub(crate) fn as_value(self) -> Option<&'a Value> {
        match self {
            Self::Str(_) | Self::Strs(_) => None,
            Self::Value(v) => Some(v),
        }
    }
}

/// The registered claims the rules read (RFC 7519 §4.1), in the order of
/// [`Claims::registered`].
pub(crate) const REGISTERED: [&str; 5] = ["exp", "nbf", "iat", "iss", "aud"];

/// Top-level claims by name.
pub(crate) trait Claims {
    /// The top-level claim `name`.
    fn claim(&self, name: &str) -> Option<Claim<'_>>;

    /// The top-level claim `name`, which is at `slot` among the names a [`Picked`] was made
    /// for, if the caller knows (a wrong slot is only slower).
    fn claim_in(&self, slot: Option<usize>, name: &str) -> Option<Claim<'_>> {
        let _ = slot;
        self.claim(name)
    }

    /// The [`REGISTERED`] claims, in its order.
    fn registered(&self) -> [Option<Claim<'_>>; 5] {
        REGISTERED.map(|name| self.claim(name))
    }
}

impl Claims for Map<String, Value> {
    fn claim(&self, name: &str) -> Option<Claim<'_>> {
        self.get(name).map(Claim::Value)
    }
}

/// A map of claims laid out once for the several lookups a mapping makes: a small map is
/// searched in an array by length, then bytes (a few instructions per claim), where each
/// map lookup would make a tree search of `memcmp` calls; a large one is searched in the map.
pub(crate) struct ClaimIndex<'a> {
    map: &'a Map<String, Value>,
    few: [(&'a str, &'a Value); ClaimIndex::FEW],
    len: usize,
}

impl<'a> ClaimIndex<'a> {
    const FEW: usize = 16;

    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        let mut few = [("", &Value::Null); Self::FEW];
        let len = if map.len() <= Self::FEW {
            for (slot, (name, value)) in few.iter_mut().zip(map) {
                *slot = (name.as_str(), value);
            }
            map.len()
        } else {
            0
        };
        Self { map, few, len }
    }
}

impl Claims for ClaimIndex<'_> {
    fn claim(&self, name: &str) -> Option<Claim<'_>> {
        if self.map.len() > Self::FEW {
            return self.map.claim(name);
        }
        self.few[..self.len]
            .iter()
            .find(|(claim, _)| same(claim, name))
            .map(|&(_, value)| Claim::Value(value))
    }
}

/// Equal strings, compared length first (claim names are short and mostly differ in length).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// A picked member's value: a string borrowed from the JSON unless it had escapes, an array
/// of such strings, or any other value parsed.
enum PickedValue<'t> {
    Str(Cow<'t, str>),
    Strs(Vec<Cow<'t, str>>),
    Value(Value),
}

impl PickedValue<'_> {
    fn into_value(self) -> Value {
        match self {
            Self::Str(s) => Value::String(s.into_owned()),
            Self::Strs(list) => list
                .into_iter()
                .map(|s| Value::String(s.into_owned()))
                .collect(),
            Self::Value(v) => v,
        }
    }
}

/// The claims the rules and the mapping read, picked out of the claims JSON in one pass
/// that checks the whole object as strictly as parsing it into a map would (valid JSON,
/// numbers in range, unique top-level names), without building that map.
pub(crate) struct Picked<'t, 'n> {
    names: &'n [ClaimName],
    values: [Option<PickedValue<'t>>; Picked::MAX],
}

impl<'t, 'n> Picked<'t, 'n> {
    /// The most names picked; a mapping naming more is served from a map instead.
    pub(crate) const MAX: usize = 16;

    /// Nothing picked yet, to pick `names` (each given once: see [`unique_names`]); `None`
    /// when they are more than [`MAX`](Self::MAX).
    pub(crate) fn wanting(names: &'n [ClaimName]) -> Option<Self> {
        (names.len() <= Self::MAX).then(|| Self {
            names,
            values: Default::default(),
        })
    }

    /// The value picked at `slot`, if the member was there.
    fn at(&self, slot: usize) -> Option<Claim<'_>> {
        match self.values.get(slot)?.as_ref()? {
            PickedValue::Str(s) => Some(Claim::Str(s)),
            PickedValue::Strs(list) => Some(Claim::Strs(list)),
            PickedValue::Value(v) => Some(Claim::Value(v)),
        }
    }

    fn index(&self, name: &str) -> Option<usize> {
        let key = ClaimName::key(name);
        // Names of up to 7 bytes are their key; longer ones are compared in full.
        self.names
            .iter()
            .position(|n| n.key == key && (name.len() < 8 || *n.name == *name))
    }

    /// Parses `json`, which must be one JSON object with unique top-level names; `false`
    /// when it is not.
    pub(crate) fn parse(&mut self, json: &'t str) -> bool {
        let mut de = serde_json::Deserializer::from_str(json);
        PickSeed(self).deserialize(&mut de).is_ok() && de.end().is_ok()
    }
}

/// A claim name to pick, with its key: its length and first 7 bytes in one word, so that
/// matching a member's name against a dozen is a dozen integer comparisons.
#[derive(Clone, Debug)]
pub(crate) struct ClaimName {
    key: u64,
    name: Box<str>,
}

impl ClaimName {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn key(name: &str) -> u64 {
        let bytes = name.as_bytes();
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX).min(255);
        bytes
            .iter()
            .take(7)
            .enumerate()
            .fold(len << 56, |key, (i, &b)| key | u64::from(b) << (8 * i))
    }
}

/// `names` without repeats, in their first order: what [`Picked::wanting`] takes.
pub(crate) fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Box<[ClaimName]> {
    let mut unique: Vec<ClaimName> = Vec::new();
    for name in names {
        if !unique.iter().any(|n| *n.name == *name) {
            unique.push(ClaimName {
                key: ClaimName::key(name),
                name: name.into(),
            });
        }
    }
    unique.into_boxed_slice()
}

impl Claims for Picked<'_, '_> {
    fn claim(&self, name: &str) -> Option<Claim<'_>> {
        self.at(self.index(name)?)
    }

    fn claim_in(&self, slot: Option<usize>, name: &str) -> Option<Claim<'_>> {
        match slot {
            Some(slot) if self.names.get(slot).is_some_and(|n| *n.name == *name) => self.at(slot),
            _ => self.claim(name),
        }
    }

    /// Read from their slots when the names start with them, as the verifiers' do.
    fn registered(&self) -> [Option<Claim<'_>>; 5] {
        let first = self.names.iter().map(|n| &*n.name);
        if first.take(5).eq(REGISTERED) {
            [0, 1, 2, 3, 4].map(|slot| self.at(slot))
        } else {
            REGISTERED.map(|name| self.claim(name))
        }
    }
}

struct PickSeed<'p, 't, 'n>(&'p mut Picked<'t, 'n>);

impl<'t> DeserializeSeed<'t> for PickSeed<'_, 't, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'t>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'t> Visitor<'t> for PickSeed<'_, 't, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'t>>(self, mut access: A) -> Result<(), A::Error> {
        let duplicate = || de::Error::custom("duplicate member name");
        let mut others = OtherNames::default();
        while let Some(Name(name)) = access.next_key::<Name<'t>>()? {
            match self.0.index(&name) {
                Some(i) => {
                    let slot = &mut self.0.values[i];
                    if slot.is_some() {
                        return Err(duplicate());
                    }
                    *slot = Some(access.next_value()?);
                }
                None => {
                    if !others.insert(name) {
                        return Err(duplicate());
                    }
                    access.next_value::<Skip>()?;
                }
            }
        }
        Ok(())
    }
}

impl<'t> Deserialize<'t> for PickedValue<'t> {
    fn deserialize<D: Deserializer<'t>>(deserializer: D) -> Result<Self, D::Error> {
        struct PickedVisitor;

        impl<'t> Visitor<'t> for PickedVisitor {
            type Value = PickedValue<'t>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'t str) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Str(Cow::Owned(s)))
            }
            fn visit_bool<E>(self, b: bool) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Value(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Value(Value::from(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Value(Value::from(n)))
            }
            fn visit_f64<E>(self, n: f64) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Value(Value::from(n))) // as `Value` itself reads a float
            }
            fn visit_unit<E>(self) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Value(Value::Null))
            }
            fn visit_none<E>(self) -> Result<PickedValue<'t>, E> {
                Ok(PickedValue::Value(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'t>>(self, mut seq: A) -> Result<PickedValue<'t>, A::Error> {
                let mut strs = Vec::new();
                while let Some(item) = seq.next_element::<PickedValue<'t>>()? {
                    let PickedValue::Str(s) = item else {
                        // Not strings only: the whole array as a `Value`.
                        let mut values: Vec<Value> = strs
                            .into_iter()
                            .map(|s: Cow<'_, str>| Value::String(s.into_owned()))
                            .collect();
                        values.push(item.into_value());
                        while let Some(v) = seq.next_element::<Value>()? {
                            values.push(v);
                        }
                        return Ok(PickedValue::Value(Value::Array(values)));
                    };
                    strs.push(s);
                }
                Ok(PickedValue::Strs(strs))
            }
            fn visit_map<A: MapAccess<'t>>(self, map: A) -> Result<PickedValue<'t>, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(PickedValue::Value)
            }
        }

        deserializer.deserialize_any(PickedVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compact::parse_object;
    use proptest::prelude::*;
    use serde_json::json;

    fn pick<'t>(json: &'t str, names: &[&'static str]) -> Option<Picked<'t, 'static>> {
        let names = Box::leak(unique_names(names.iter().copied()));
        let mut picked = Picked::wanting(names)?;
        picked.parse(json).then_some(picked)
    }

    /// What a claim reads as, as a value, to compare the two sources.
    fn value(claim: Option<Claim<'_>>) -> Option<Value> {
        claim.map(|c| match c {
            Claim::Str(s) => Value::String(s.to_owned()),
            Claim::Strs(list) => list.iter().map(|s| Value::String(s.to_string())).collect(),
            Claim::Value(v) => v.clone(),
        })
    }

    #[test]
    fn picks_named_members_and_checks_the_rest() {
        let json = r#"{"sub":"alice","n\u0061me":"A","exp":17,"roles":["a"],"x":{"y":[1.5]}}"#;
        let p = pick(json, &["sub", "name", "exp", "roles", "aud"]).unwrap();
        assert!(matches!(p.claim("sub"), Some(Claim::Str("alice"))));
        assert_eq!(value(p.claim("name")), Some(json!("A")));
        assert_eq!(value(p.claim("exp")), Some(json!(17)));
        assert!(matches!(p.claim("roles"), Some(Claim::Strs([a])) if a == "a"));
        assert_eq!(value(p.claim("roles")), Some(json!(["a"])));
        assert!(p.claim("aud").is_none());
        assert!(p.claim("x").is_none(), "not picked");
    }

    #[test]
    fn refuses_what_a_strict_map_refuses() {
        for bad in [
            r#"{"sub":"a","sub":"b"}"#,
            r#"{"x":1,"x":2}"#,
            r#"{"x":1,"\u0078":2}"#,
            r#"{"exp":1e999}"#,
            r#"{"x":1e999}"#,
            r#"{"x":"\ud800"}"#,
            r#"{"x":1} {}"#,
            r#"["sub"]"#,
            "",
        ] {
            assert!(pick(bad, &["sub", "exp"]).is_none(), "{bad}");
            assert!(parse_object(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn names_sharing_a_key_prefix_are_told_apart() {
        let long = "x".repeat(300);
        let longer = "x".repeat(301);
        let json = format!(
            r#"{{"https://a/roles":1,"https://a/rolez":2,"{long}":3,"{longer}":4,"exp":5}}"#
        );
        let names = [
            "https://a/rolez",
            "https://a/roles",
            &long,
            &longer,
            "exp",
            "ex",
        ];
        let names = unique_names(names);
        let mut p = Picked::wanting(&names).unwrap();
        assert!(p.parse(&json));
        assert_eq!(value(p.claim("https://a/roles")), Some(json!(1)));
        assert_eq!(value(p.claim("https://a/rolez")), Some(json!(2)));
        assert_eq!(value(p.claim(&long)), Some(json!(3)));
        assert_eq!(value(p.claim(&longer)), Some(json!(4)));
        assert_eq!(value(p.claim("exp")), Some(json!(5)));
        assert!(p.claim("ex").is_none());
        assert!(p.claim("https://a/roleq").is_none());
    }

    #[test]
    fn registered_claims_read_the_same_from_either_order() {
        let json = r#"{"exp":1,"iss":"me","aud":["a","b"],"sub":"x"}"#;
        let first = unique_names(REGISTERED.into_iter().chain(["sub"]));
        let last = unique_names(["sub"].into_iter().chain(REGISTERED));
        let (mut a, mut b) = (
            Picked::wanting(&first).unwrap(),
            Picked::wanting(&last).unwrap(),
        );
        assert!(a.parse(json) && b.parse(json));
        let map = parse_object(json.as_bytes()).unwrap();
        for (i, name) in REGISTERED.iter().enumerate() {
            assert_eq!(value(a.registered()[i]), map.get(*name).cloned(), "{name}");
            assert_eq!(value(b.registered()[i]), map.get(*name).cloned(), "{name}");
        }
    }

    #[test]
    fn too_many_names_are_refused() {
        let names: Vec<String> = (0..=Picked::MAX).map(|i| format!("c{i}")).collect();
        let all = unique_names(names.iter().map(String::as_str));
        assert!(Picked::wanting(&all).is_none());
        assert!(Picked::wanting(&all[..Picked::MAX]).is_some());
        let repeats = unique_names(std::iter::repeat_n("sub", 40));
        assert_eq!(repeats.len(), 1);
        assert!(Picked::wanting(&repeats).is_some());
    }

    proptest! {
        /// Picking agrees with the strict map parse: the same texts accepted, and the same
        /// value for every picked name.
        #[test]
        fn picking_agrees_with_the_map(text in r#"\{(("[a-e\\u0]{0,3}"|"sub"):([0-9.e-]{1,4}|"[a-z\\]{0,3}"|\[[0-9,"a]{0,4}\]|true|null|\{"a":[0-9]\})[, ]{0,2}){0,5}\}"#) {
            let names = ["sub", "a", "b", "ab"];
            let map = parse_object(text.as_bytes());
            let picked = pick(&text, &names);
            prop_assert_eq!(map.is_some(), picked.is_some(), "{}", text);
            if let (Some(map), Some(picked)) = (map, picked) {
                for name in names {
                    prop_assert_eq!(value(picked.claim(name)), map.get(name).cloned());
                }
            }
        }
    }
}
