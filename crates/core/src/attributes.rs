//! [`Attributes`]: a principal's raw claims or record attributes, parsed when first read.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The attributes of a [`PrincipalData`](crate::PrincipalData): a JSON object, read and
/// written as a [`Map`] (it dereferences to one).
///
/// A verifier that holds the object as JSON text (a JWT's claims) hands over the text, and
/// the map is built on the first read: most requests never read an attribute, and building
/// the map of a token's claims costs more than checking its HMAC. Writing through it
/// ([`DerefMut`]) builds the map first and drops the text.
///
/// ```
/// use serde_json::json;
/// use tower_authn_core::Attributes;
///
/// let claims = Attributes::from_json_object(r#"{"sub":"alice","roles":["admin"]}"#.to_owned());
/// assert_eq!(claims["roles"], json!(["admin"])); // parsed here, once
/// assert_eq!(claims.len(), 2);
/// ```
#[derive(Default)]
pub struct Attributes {
    /// The object as JSON text, until something writes to the map.
    json: Option<String>,
    map: OnceLock<Map<String, Value>>,
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attributes held as the text of a JSON object, parsed into the map on the first read.
    ///
    /// Give it text a strict parser has already accepted as an object (a verified token's
    /// claims): text that is not a JSON object reads as no attributes, never as an error.
    pub fn from_json_object(json: String) -> Self {
        Self {
            json: Some(json),
            map: OnceLock::new(),
        }
    }

    /// The attributes as a map (built now if they are still text).
    pub fn as_map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| {
            self.json
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default()
        })
    }

    /// Whether the attributes are still unparsed text (nothing has read them yet).
    pub fn is_unparsed(&self) -> bool {
        self.json.is_some() && self.map.get().is_none()
    }

    /// The attributes as an owned map.
    pub fn into_map(mut self) -> Map<String, Value> {
        std::mem::take(self.as_map_mut())
    }

    fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        self.as_map();
        self.json = None;
        self.map.get_mut().expect("as_map has just built it")
    }
}

/// No attributes are kept as an unset cell, never a set empty map: a principal's copy (copy
/// on write, per request for some verifiers) then copies nothing and takes no lock.
impl Clone for Attributes {
    fn clone(&self) -> Self {
        match self.map.get() {
            Some(map) => map.clone().into(),
            None => Self {
                json: self.json.clone(),
                map: OnceLock::new(),
            },
        }
    }
}

impl Deref for Attributes {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        self.as_map()
    }
}

impl DerefMut for Attributes {
    fn deref_mut(&mut self) -> &mut Map<String, Value> {
        self.as_map_mut()
    }
}

impl From<Map<String, Value>> for Attributes {
    fn from(map: Map<String, Value>) -> Self {
        if map.is_empty() {
            return Self::default();
        }
        Self {
            json: None,
            map: OnceLock::from(map),
        }
    }
}

impl From<Attributes> for Map<String, Value> {
    fn from(attributes: Attributes) -> Self {
        attributes.into_map()
    }
}

impl FromIterator<(String, Value)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Map::from_iter(iter).into()
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a String, &'a Value);
    type IntoIter = serde_json::map::Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_map().iter()
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.as_map() == other.as_map()
    }
}

impl PartialEq<Map<String, Value>> for Attributes {
    fn eq(&self, other: &Map<String, Value>) -> bool {
        self.as_map() == other
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_map().fmt(f)
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_map().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_parsed_on_the_first_read_only() {
        let a = Attributes::from_json_object(r#"{"a":1,"b":[true]}"#.to_owned());
        assert!(a.is_unparsed());
        assert_eq!(a["b"], json!([true]));
        assert!(!a.is_unparsed());
        assert_eq!(
            a,
            Attributes::from(json!({"a": 1, "b": [true]}).as_object().unwrap().clone())
        );
    }

    #[test]
    fn writing_drops_the_text() {
        let mut a = Attributes::from_json_object(r#"{"a":1}"#.to_owned());
        a.insert("b".into(), json!(2));
        assert!(a.json.is_none());
        let clone = a.clone();
        assert_eq!(
            clone.into_map(),
            *json!({"a": 1, "b": 2}).as_object().unwrap()
        );
    }

    #[test]
    fn none_is_an_unset_cell_however_made() {
        for a in [
            Attributes::new(),
            Attributes::from(Map::new()),
            #[allow(clippy::redundant_clone)] // the clone is what is tested
            Attributes::new().clone(),
        ] {
            assert!(!a.is_unparsed() && a.json.is_none() && a.map.get().is_none());
            assert!(a.is_empty());
        }
        let parsed = Attributes::from(json!({"a": 1}).as_object().unwrap().clone());
        assert_eq!(parsed.clone(), parsed);
        assert!(!parsed.is_unparsed());
    }

    #[test]
    fn text_that_is_not_an_object_reads_as_empty() {
        for text in ["", "[1]", "{", r#""x""#, "null"] {
            let a = Attributes::from_json_object(text.to_owned());
            assert!(a.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn serializes_and_prints_as_the_map() {
        let a = Attributes::from_json_object(r#"{"k":"v"}"#.to_owned());
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"k":"v"}"#);
        assert_eq!(format!("{a:?}"), r#"{"k": String("v")}"#);
        let back: Attributes = serde_json::from_str(r#"{"k":"v"}"#).unwrap();
        assert_eq!(back, a);
    }
}
