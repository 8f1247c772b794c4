//! The JWS compact serialization, parsed strictly and without trusting anything in it.
//!
//! Order matters: size, then structure, then the header, then the key and the signature over
//! the bytes as received, and only then the claims JSON.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use tower_authn_core::AuthError;

use crate::algorithm::Algorithm;
use crate::b64;
use crate::key::MAX_SIGNATURE_BYTES;

/// The longest `kid` looked up.
const MAX_KID_LEN: usize = 256;

/// Headers up to this many bytes (decoded) are decoded on the stack.
const HEADER_STACK_BYTES: usize = 256;

/// Claims up to this many bytes (decoded) are decoded on the stack.
const CLAIMS_STACK_BYTES: usize = 1024;

/// Why a token was refused, before it becomes an [`AuthError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Bad in any way but time: 401 `invalid_credentials`.
    Invalid(&'static str),
    /// Signed and well-formed, but its time is over: 401 `expired`.
    Expired(&'static str),
    /// No key can be had: 503, fail closed.
    Unavailable(&'static str),
    /// The `kid` names no key of the set (a remote set may refresh once, then it is invalid).
    UnknownKid,
}

impl From<Failure> for AuthError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Invalid(why) => AuthError::invalid(why),
            Failure::Expired(why) => AuthError::expired(why),
            Failure::Unavailable(why) => AuthError::unavailable(why),
            Failure::UnknownKid => AuthError::invalid("jwt: unknown kid"),
        }
    }
}

/// A JSON object whose top-level member names are unique (RFC 7515 §5.2 lets a recipient
/// reject duplicates; taking the last one is how two parsers come to disagree).
pub(crate) struct StrictObject(pub(crate) Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                let mut map = Map::new();
                while let Some(name) = access.next_key::<String>()? {
                    match map.entry(name) {
                        serde_json::map::Entry::Occupied(_) => {
                            return Err(de::Error::custom("duplicate member name"));
                        }
                        serde_json::map::Entry::Vacant(slot) => {
                            slot.insert(access.next_value::<Value>()?);
                        }
                    }
                }
                Ok(StrictObject(map))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Parses strict JSON object text (unique top-level names).
pub(crate) fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    // UTF-8 checked once for the whole text (the same texts pass as with `from_slice`, which
    // checks each string and refuses any other non-ASCII byte as a syntax error), and not
    // again string by string.
    let text = std::str::from_utf8(bytes).ok()?;
    serde_json::from_str::<StrictObject>(text).ok().map(|o| o.0)
}

/// Any JSON value, checked exactly as strictly as parsing it into a [`Value`] would (strings
/// with valid escapes and UTF-8, numbers in range) and then dropped, without allocating
/// (unlike `IgnoredAny`, which skips strings and numbers without checking them).
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A header member the rules read as a string: the string (borrowed from the header JSON
/// unless it had escapes), or anything else, checked and dropped.
enum Member<'de> {
    Str(Cow<'de, str>),
    Other,
}

impl<'de> Member<'de> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Other => None,
        }
    }
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberVisitor;

        impl<'de> Visitor<'de> for MemberVisitor {
            type Value = Member<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Member<'de>, E> {
                Ok(Member::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Member<'de>, E> {
                Ok(Member::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Member<'de>, E> {
                Ok(Member::Str(Cow::Owned(s)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_unit<E>(self) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_none<E>(self) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Member<'de>, A::Error> {
                SkipVisitor.visit_seq(seq).map(|_| Member::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Member<'de>, A::Error> {
                SkipVisitor.visit_map(map).map(|_| Member::Other)
            }
        }

        deserializer.deserialize_any(MemberVisitor)
    }
}

/// `b64`: whether it is exactly `true`.
struct IsTrue(bool);

impl<'de> Deserialize<'de> for IsTrue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IsTrueVisitor;

        impl<'de> Visitor<'de> for IsTrueVisitor {
            type Value = IsTrue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<IsTrue, E> {
                Ok(IsTrue(b))
            }
            fn visit_i64<E>(self, _: i64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_unit<E>(self) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_none<E>(self) -> Result<IsTrue, E> {
                Ok(IsTrue(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<IsTrue, A::Error> {
                SkipVisitor.visit_seq(seq).map(|_| IsTrue(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<IsTrue, A::Error> {
                SkipVisitor.visit_map(map).map(|_| IsTrue(false))
            }
        }

        deserializer.deserialize_any(IsTrueVisitor)
    }
}

/// A member name, borrowed from the header JSON unless it had escapes (`"\u0061lg"` is
/// `alg`, as in any JSON parser).
pub(crate) struct Name<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s)))
            }
        }

        deserializer.deserialize_str(NameVisitor)
    }
}

/// The names of the members the rules do not read (of a header, or of claims), to refuse
/// duplicates among them too: a short list while short, a tree past that (so a header of many members costs
/// `n log n`, as the map it replaces did).
#[derive(Default)]
pub(crate) struct OtherNames<'de> {
    few: Vec<Cow<'de, str>>,
    many: BTreeSet<Cow<'de, str>>,
}

impl<'de> OtherNames<'de> {
    const FEW: usize = 16;

    /// False when `name` was already seen.
    pub(crate) fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&name) {
                return false;
            }
            if self.few.len() < Self::FEW {
                self.few.push(name);
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(name)
    }
}

/// The protected header: the members the rules read, borrowed from the decoded JSON; every
/// other member is checked as JSON and dropped. Top-level names must be unique.
#[derive(Default)]
struct Header<'de> {
    alg: Option<Member<'de>>,
    typ: Option<Member<'de>>,
    kid: Option<Member<'de>>,
    cty: Option<Member<'de>>,
    b64: Option<IsTrue>,
    crit: bool,
    zip: bool,
    enc: bool,
}

impl<'de> Deserialize<'de> for Header<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;

        fn once<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
            slot: &mut Option<T>,
            access: &mut A,
        ) -> Result<(), A::Error> {
            if slot.is_some() {
                return Err(de::Error::custom("duplicate member name"));
            }
            *slot = Some(access.next_value()?);
            Ok(())
        }

        fn flag<'de, A: MapAccess<'de>>(seen: &mut bool, access: &mut A) -> Result<(), A::Error> {
            if std::mem::replace(seen, true) {
                return Err(de::Error::custom("duplicate member name"));
            }
            access.next_value::<Skip>().map(|_| ())
        }

        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = Header<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Header<'de>, A::Error> {
                let mut header = Header::default();
                let mut others = OtherNames::default();
                while let Some(Name(name)) = access.next_key::<Name<'de>>()? {
                    match &*name {
                        "alg" => once(&mut header.alg, &mut access)?,
                        "typ" => once(&mut header.typ, &mut access)?,
                        "kid" => once(&mut header.kid, &mut access)?,
                        "cty" => once(&mut header.cty, &mut access)?,
                        "b64" => once(&mut header.b64, &mut access)?,
                        "crit" => flag(&mut header.crit, &mut access)?,
                        "zip" => flag(&mut header.zip, &mut access)?,
                        "enc" => flag(&mut header.enc, &mut access)?,
                        _ => {
                            if !others.insert(name) {
                                return Err(de::Error::custom("duplicate member name"));
                            }
                            access.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(header)
            }
        }

        deserializer.deserialize_map(HeaderVisitor)
    }
}

/// What the rules take from a header that passed them.
#[derive(Clone)]
struct HeaderFacts {
    alg: Algorithm,
    kid: Option<String>,
}

/// Parses the header JSON and applies every header rule, in this order: a JSON object with
/// unique names, `alg` (never `none`), no `crit`, no `zip` / `enc`, `b64` absent or `true`,
/// not nested (`cty`), `kid` a short string, `typ` a string the rule accepts.
fn check_header(json: &[u8], rules: &HeaderRules) -> Result<HeaderFacts, Failure> {
    let not_object = Failure::Invalid("jwt: header not a JSON object");
    // UTF-8 checked once for the whole text, as in `parse_object`.
    let json = std::str::from_utf8(json).map_err(|_| not_object.clone())?;
    let header: Header<'_> = serde_json::from_str(json).map_err(|_| not_object)?;

    let alg = match header.alg.as_ref().and_then(Member::as_str) {
        Some(alg) if alg.eq_ignore_ascii_case("none") => {
            return Err(Failure::Invalid("jwt: alg none"));
        }
        Some(alg) => alg
            .parse::<Algorithm>()
            .map_err(|_| Failure::Invalid("jwt: unsupported alg"))?,
        None => return Err(Failure::Invalid("jwt: no alg")),
    };
    if header.crit {
        // No extension is understood here, so any `crit` is one we do not understand.
        return Err(Failure::Invalid("jwt: unknown crit header parameter"));
    }
    if header.zip || header.enc {
        return Err(Failure::Invalid("jwt: compressed or encrypted"));
    }
    if header.b64.is_some_and(|IsTrue(b)| !b) {
        return Err(Failure::Invalid("jwt: unencoded payload"));
    }
    if let Some(cty) = &header.cty {
        let nested = cty
            .as_str()
            .is_none_or(|c| media_type(c).eq_ignore_ascii_case("JWT"));
        if nested {
            return Err(Failure::Invalid("jwt: nested token"));
        }
    }
    let kid = match header.kid {
        None => None,
        Some(Member::Str(kid)) if kid.len() <= MAX_KID_LEN => Some(kid.into_owned()),
        Some(_) => return Err(Failure::Invalid("jwt: kid not a short string")),
    };
    let typ = match &header.typ {
        None => None,
        Some(Member::Str(typ)) => Some(media_type(typ)),
        Some(Member::Other) => return Err(Failure::Invalid("jwt: typ not a string")),
    };
    match (&rules.types, typ) {
        (TypeRule::Any, _) | (TypeRule::AbsentOrJwt, None) => {}
        (TypeRule::AbsentOrJwt, Some(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
        (TypeRule::OneOf(_), None) => return Err(Failure::Invalid("jwt: typ missing")),
        (TypeRule::OneOf(types), Some(typ))
            if types
                .iter()
                .any(|t| media_type(t).eq_ignore_ascii_case(typ)) => {}
        _ => return Err(Failure::Invalid("jwt: typ not accepted")),
    }
    Ok(HeaderFacts { alg, kid })
}

/// A token whose structure and header passed; nothing is verified yet.
#[derive(Debug)]
pub(crate) struct Compact<'a> {
    /// `header.payload` exactly as received: what the signature covers.
    pub(crate) signing_input: &'a str,
    /// The header as received (base64url), decoded again only if someone asks for it.
    pub(crate) header_b64: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    /// Whether the header was recognized among the [`KnownHeaders`] (not parsed again).
    header_known: bool,
}

/// The headers of tokens that verified, up to four, recognized by their bytes so that they
/// are not decoded and parsed again.
///
/// What a header yields depends only on its bytes and the verifier's rules, which are fixed
/// for the verifier holding this; and a verifier's tokens come from a few issuers and keys,
/// whose headers repeat byte for byte. Only a header whose signature verified is
/// remembered, so no one without a key's signature chooses what is kept, and what is kept
/// is bounded (four headers, each within the token size limit). Lock-free: each slot is set
/// once and read with one atomic load.
#[derive(Debug, Default)]
pub(crate) struct KnownHeaders([OnceLock<KnownHeader>; 4]);

#[derive(Debug)]
struct KnownHeader {
    b64: Box<str>,
    alg: Algorithm,
    kid: Option<String>,
}

/// A copy starts empty: it may serve other rules.
impl Clone for KnownHeaders {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl KnownHeaders {
    fn recall(&self, header_b64: &str) -> Option<HeaderFacts> {
        for slot in &self.0 {
            let known = slot.get()?;
            if *known.b64 == *header_b64 {
                return Some(HeaderFacts {
                    alg: known.alg,
                    kid: known.kid.clone(),
                });
            }
        }
        None
    }

    /// Remembers the header of `compact`, whose signature has verified, if there is room.
    pub(crate) fn remember(&self, compact: &Compact<'_>) {
        if compact.header_known {
            return;
        }
        for slot in &self.0 {
            match slot.get() {
                Some(known) if *known.b64 == *compact.header_b64 => return,
                Some(_) => {}
                None => {
                    // Another thread may fill the slot first: then this header waits.
                    let _ = slot.set(KnownHeader {
                        b64: compact.header_b64.into(),
                        alg: compact.alg,
                        kid: compact.kid.clone(),
                    });
                    return;
                }
            }
        }
    }
}

/// Header rules that do not depend on keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeaderRules {
    pub(crate) max_bytes: usize,
    pub(crate) types: TypeRule,
}

/// What the header `typ` may be (values compared case-insensitively, without `application/`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum TypeRule {
    /// Absent, or `JWT` (RFC 7519 §5.1): what plain JWT issuers write.
    #[default]
    AbsentOrJwt,
    /// Present and one of these (explicit typing, RFC 8725 §3.11: `at+jwt`, ...).
    OneOf(Vec<String>),
    /// Anything (said out loud with `Validation::accept_any_type`).
    Any,
}

fn media_type(value: &str) -> &str {
    match (value.get(..12), value.get(12..)) {
        (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("application/") => rest,
        _ => value,
    }
}

impl<'a> Compact<'a> {
    pub(crate) fn parse(token: &'a str, rules: &HeaderRules) -> Result<Self, Failure> {
        Self::parse_known(token, rules, &KnownHeaders::default())
    }

    /// [`parse`](Self::parse), taking the header's facts from `known` when it is there.
    pub(crate) fn parse_known(
        token: &'a str,
        rules: &HeaderRules,
        known: &KnownHeaders,
    ) -> Result<Self, Failure> {
        if token.len() > rules.max_bytes {
            return Err(Failure::Invalid("jwt: larger than the size limit"));
        }
        let three_parts = token
            .split_once('.')
            .and_then(|(header, rest)| Some((header, rest.rsplit_once('.')?)))
            .filter(|(_, (payload, _))| !payload.contains('.'));
        let Some((header_b64, (payload, signature))) = three_parts else {
            return Err(Failure::Invalid("jwt: not three dot-separated parts"));
        };
        if payload.is_empty() {
            return Err(Failure::Invalid("jwt: empty payload"));
        }
        if signature.is_empty() {
            return Err(Failure::Invalid("jwt: unsigned"));
        }
        if !b64::is_canonical(signature) || !b64::is_canonical(payload) {
            return Err(Failure::Invalid("jwt: not strict base64url"));
        }
        let recalled = known.recall(header_b64);
        let header_known = recalled.is_some();
        let HeaderFacts { alg, kid } = match recalled {
            Some(facts) => facts,
            None => b64::with_decoded::<HEADER_STACK_BYTES, _>(header_b64, |json| {
                check_header(json, rules)
            })
            .ok_or(Failure::Invalid("jwt: header not strict base64url"))??,
        };
        let signing_input = &token[..header_b64.len() + 1 + payload.len()];
        Ok(Self {
            signing_input,
            header_b64,
            payload,
            signature,
            alg,
            kid,
            header_known,
        })
    }

    /// The signature, decoded into `buf` (canonical: `parse` checked it); `None` when it is
    /// longer than any key can check, so that it verifies under none.
    pub(crate) fn signature<'b>(&self, buf: &'b mut [u8; MAX_SIGNATURE_BYTES]) -> Option<&'b [u8]> {
        b64::decode_into(self.signature, buf)
    }

    /// The decoded header JSON (for [`crate::VerifiedJwt::header`], which parses it on demand).
    pub(crate) fn header_json(&self) -> Box<[u8]> {
        b64::decode(self.header_b64)
            .unwrap_or_default()
            .into_boxed_slice()
    }

    /// The claims JSON text, decoded only after the signature was verified (not yet parsed).
    pub(crate) fn claims_json(&self) -> Result<String, Failure> {
        let bytes = b64::decode(self.payload)
            .ok_or(Failure::Invalid("jwt: payload not strict base64url"))?;
        String::from_utf8(bytes).map_err(|_| Failure::Invalid("jwt: claims not a JSON object"))
    }

    /// The claims as a map, decoded only after the signature was verified.
    pub(crate) fn claims(&self) -> Result<Map<String, Value>, Failure> {
        b64::with_decoded::<CLAIMS_STACK_BYTES, _>(self.payload, parse_object)
            .ok_or(Failure::Invalid("jwt: payload not strict base64url"))?
            .ok_or(Failure::Invalid("jwt: claims not a JSON object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules() -> HeaderRules {
        HeaderRules {
            max_bytes: 8192,
            types: TypeRule::AbsentOrJwt,
        }
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64::encode(header), b64::encode(payload))
    }

    fn reason(token: &str, rules: &HeaderRules) -> Failure {
        Compact::parse(token, rules).unwrap_err()
    }

    #[test]
    fn structure() {
        let r = rules();
        for bad in [
            "",
            ".",
            "..",
            "a.b",
            "a.b.c.d",
            "e30.e30.",
            "e30..c2ln",
            "e30.e30.c2ln=",
            "e30.e30 .c2ln",
        ] {
            assert!(matches!(reason(bad, &r), Failure::Invalid(_)), "{bad:?}");
        }
        let big = "a".repeat(9000);
        assert_eq!(
            reason(&big, &r),
            Failure::Invalid("jwt: larger than the size limit")
        );
    }

    #[test]
    fn header_rules() {
        let r = rules();
        let cases = [
            (r#"{"alg":"none"}"#, "jwt: alg none"),
            (r#"{"alg":"NONE"}"#, "jwt: alg none"),
            (
                r#"{"alg":"HS256","alg":"none"}"#,
                "jwt: header not a JSON object",
            ),
            (r#"{"typ":"JWT"}"#, "jwt: no alg"),
            (r#"{"alg":["HS256"]}"#, "jwt: no alg"),
            (r#"{"alg":"hs256"}"#, "jwt: unsupported alg"),
            (
                r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
                "jwt: unknown crit header parameter",
            ),
            (
                r#"{"alg":"HS256","crit":[]}"#,
                "jwt: unknown crit header parameter",
            ),
            (
                r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
                "jwt: unknown crit header parameter",
            ),
            (r#"{"alg":"HS256","b64":false}"#, "jwt: unencoded payload"),
            (
                r#"{"alg":"HS256","zip":"DEF"}"#,
                "jwt: compressed or encrypted",
            ),
            (r#"{"alg":"HS256","cty":"JWT"}"#, "jwt: nested token"),
            (r#"{"alg":"HS256","kid":5}"#, "jwt: kid not a short string"),
            ("[1]", "jwt: header not a JSON object"),
        ];
        for (header, why) in cases {
            assert_eq!(
                reason(&token(header, "{}"), &r),
                Failure::Invalid(why),
                "{header}"
            );
        }
        let long_kid = format!(r#"{{"alg":"HS256","kid":"{}"}}"#, "k".repeat(300));
        assert_eq!(
            reason(&token(&long_kid, "{}"), &r),
            Failure::Invalid("jwt: kid not a short string")
        );
    }

    #[test]
    fn typ_rule() {
        let r = HeaderRules {
            max_bytes: 8192,
            types: TypeRule::OneOf(vec!["at+jwt".into()]),
        };
        assert!(
            Compact::parse(
                &token(r#"{"alg":"HS256","typ":"application/AT+JWT"}"#, "{}"),
                &r
            )
            .is_ok()
        );
        assert_eq!(
            reason(&token(r#"{"alg":"HS256","typ":"JWT"}"#, "{}"), &r),
            Failure::Invalid("jwt: typ not accepted")
        );
        assert_eq!(
            reason(&token(r#"{"alg":"HS256"}"#, "{}"), &r),
            Failure::Invalid("jwt: typ missing")
        );
        // The default: absent or JWT, nothing else.
        let d = rules();
        for ok in [
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS256","typ":"jwt"}"#,
            r#"{"alg":"HS256","typ":"application/JWT"}"#,
        ] {
            assert!(Compact::parse(&token(ok, "{}"), &d).is_ok(), "{ok}");
        }
        for (bad, why) in [
            (r#"{"alg":"HS256","typ":"xyz"}"#, "jwt: typ not accepted"),
            (r#"{"alg":"HS256","typ":"at+jwt"}"#, "jwt: typ not accepted"),
            (r#"{"alg":"HS256","typ":""}"#, "jwt: typ not accepted"),
            (r#"{"alg":"HS256","typ":1}"#, "jwt: typ not a string"),
        ] {
            assert_eq!(
                reason(&token(bad, "{}"), &d),
                Failure::Invalid(why),
                "{bad}"
            );
        }
        let any = HeaderRules {
            max_bytes: 8192,
            types: TypeRule::Any,
        };
        assert!(Compact::parse(&token(r#"{"alg":"HS256","typ":"xyz"}"#, "{}"), &any).is_ok());
    }

    #[test]
    fn signing_input_is_the_received_bytes() {
        let t = token("{\"alg\":\"HS256\",\r\n \"kid\":\"a\"}", "{}");
        let c = Compact::parse(&t, &rules()).unwrap();
        assert_eq!(c.signing_input, &t[..t.rfind('.').unwrap()]);
        assert_eq!(c.kid.as_deref(), Some("a"));
        assert_eq!(c.alg, Algorithm::HS256);
    }

    /// The header rules as they were written over a parsed `Map` before the borrowing
    /// parser: the reference the new parser must agree with on every input.
    fn reference(json: &[u8], rules: &HeaderRules) -> Result<(Algorithm, Option<String>), Failure> {
        let header = parse_object(json).ok_or(Failure::Invalid("jwt: header not a JSON object"))?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
                return Err(Failure::Invalid("jwt: alg none"));
            }
            Some(Value::String(alg)) => alg
                .parse::<Algorithm>()
                .map_err(|_| Failure::Invalid("jwt: unsupported alg"))?,
            _ => return Err(Failure::Invalid("jwt: no alg")),
        };
        if header.contains_key("crit") {
            return Err(Failure::Invalid("jwt: unknown crit header parameter"));
        }
        if header.contains_key("zip") || header.contains_key("enc") {
            return Err(Failure::Invalid("jwt: compressed or encrypted"));
        }
        if header.get("b64").is_some_and(|b| b != &Value::Bool(true)) {
            return Err(Failure::Invalid("jwt: unencoded payload"));
        }
        if let Some(cty) = header.get("cty") {
            if cty
                .as_str()
                .is_none_or(|c| media_type(c).eq_ignore_ascii_case("JWT"))
            {
                return Err(Failure::Invalid("jwt: nested token"));
            }
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) if kid.len() <= MAX_KID_LEN => Some(kid.clone()),
            Some(_) => return Err(Failure::Invalid("jwt: kid not a short string")),
        };
        let typ = match header.get("typ") {
            None => None,
            Some(Value::String(typ)) => Some(media_type(typ)),
            Some(_) => return Err(Failure::Invalid("jwt: typ not a string")),
        };
        match (&rules.types, typ) {
            (TypeRule::Any, _) | (TypeRule::AbsentOrJwt, None) => {}
            (TypeRule::AbsentOrJwt, Some(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
            (TypeRule::OneOf(_), None) => return Err(Failure::Invalid("jwt: typ missing")),
            (TypeRule::OneOf(types), Some(typ))
                if types
                    .iter()
                    .any(|t| media_type(t).eq_ignore_ascii_case(typ)) => {}
            _ => return Err(Failure::Invalid("jwt: typ not accepted")),
        }
        Ok((alg, kid))
    }

    fn checked(json: &[u8], rules: &HeaderRules) -> Result<(Algorithm, Option<String>), Failure> {
        check_header(json, rules).map(|f| (f.alg, f.kid))
    }

    #[test]
    fn duplicate_members_are_refused() {
        let r = rules();
        let not_object = Err(Failure::Invalid("jwt: header not a JSON object"));
        let mut cases = vec![
            r#"{"alg":"HS256","alg":"HS256"}"#.to_owned(),
            r#"{"alg":"HS256","\u0061lg":"none"}"#.to_owned(),
            r#"{"alg":"HS256","kid":"a","kid":"b"}"#.to_owned(),
            r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#.to_owned(),
            r#"{"alg":"HS256","cty":"x","cty":"x"}"#.to_owned(),
            r#"{"alg":"HS256","b64":true,"b64":true}"#.to_owned(),
            r#"{"alg":"HS256","x5t":"a","x5t":"b"}"#.to_owned(),
            r#"{"alg":"HS256","x":1,"\u0078":2}"#.to_owned(),
        ];
        // Past the short list of other names (16), the tree must catch the duplicate too,
        // whether it repeats a name from the list or one added after it.
        let many: String = (0..40).map(|i| format!(r#","m{i}":{i}"#)).collect();
        cases.push(format!(r#"{{"alg":"HS256"{many},"m3":0}}"#));
        cases.push(format!(r#"{{"alg":"HS256"{many},"m39":0}}"#));
        cases.push(format!(r#"{{"alg":"HS256"{many},"m15":0}}"#));
        cases.push(format!(r#"{{"alg":"HS256"{many},"m16":0}}"#));
        for json in &cases {
            assert_eq!(checked(json.as_bytes(), &r), not_object, "{json}");
            assert_eq!(reference(json.as_bytes(), &r), not_object, "{json}");
        }
        // Many distinct names are fine.
        let ok = format!(r#"{{"alg":"HS256"{many}}}"#);
        assert_eq!(checked(ok.as_bytes(), &r), Ok((Algorithm::HS256, None)));
    }

    #[test]
    fn unread_members_are_checked_as_strictly_as_a_map_would() {
        let r = rules();
        let not_object = Err(Failure::Invalid("jwt: header not a JSON object"));
        for json in [
            &br#"{"alg":"HS256","x":"\ud800"}"#[..],
            br#"{"alg":"HS256","x":1e400}"#,
            br#"{"alg":"HS256","x":"\q"}"#,
            b"{\"alg\":\"HS256\",\"x\":\"\xff\"}",
            b"{\"alg\":\"HS256\",\"x\":\"\x01\"}",
            br#"{"alg":"HS256","x":[1,{"a":[tru]}]}"#,
            br#"{"alg":"HS256","x":01}"#,
            br#"{"alg":"HS256"} x"#,
            br#"{"alg":"HS256",}"#,
            b"",
            b"null",
        ] {
            assert_eq!(
                checked(json, &r),
                not_object,
                "{}",
                String::from_utf8_lossy(json)
            );
            assert_eq!(reference(json, &r), not_object);
        }
        // Escaped values are read unescaped, as a map holds them.
        assert_eq!(
            checked(
                br#"{"alg":"HS\u0032\u00356","kid":"k\n1","x":{"y":[null]}}"#,
                &r
            ),
            Ok((Algorithm::HS256, Some("k\n1".to_owned())))
        );
    }

    /// A header member: a name the rules read (or not) and a value of any kind.
    fn member() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("alg"),
            Just("typ"),
            Just("kid"),
            Just("cty"),
            Just("b64"),
            Just("crit"),
            Just("zip"),
            Just("enc"),
            Just("jku"),
            Just("x"),
            Just("\\u0061lg"),
        ];
        let value = prop_oneof![
            Just(r#""HS256""#.to_owned()),
            Just(r#""RS256""#.to_owned()),
            Just(r#""none""#.to_owned()),
            Just(r#""nOnE""#.to_owned()),
            Just(r#""JWT""#.to_owned()),
            Just(r#""application/jwt""#.to_owned()),
            Just(r#""at+jwt""#.to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("null".to_owned()),
            Just("1".to_owned()),
            Just("-1.5e3".to_owned()),
            Just("[]".to_owned()),
            Just(r#"["b64"]"#.to_owned()),
            Just(r#"{"a":{"b":[1,"c"]}}"#.to_owned()),
            "[a-zA-Z0-9+/ ]{0,8}".prop_map(|s| format!("\"{s}\"")),
            "k{250,260}".prop_map(|s| format!("\"{s}\"")),
        ];
        (name, value).prop_map(|(n, v)| format!("\"{n}\":{v}"))
    }

    fn type_rule() -> impl Strategy<Value = TypeRule> {
        prop_oneof![
            Just(TypeRule::AbsentOrJwt),
            Just(TypeRule::Any),
            Just(TypeRule::OneOf(vec!["at+jwt".into(), "JWT".into()])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Header-shaped objects: the borrowing parser reaches the reference's verdict,
        /// reason included, on every one.
        #[test]
        fn header_parser_agrees_with_the_map_rules(
            members in proptest::collection::vec(member(), 0..7),
            types in type_rule(),
        ) {
            let json = format!("{{{}}}", members.join(","));
            let rules = HeaderRules { max_bytes: 8192, types };
            prop_assert_eq!(checked(json.as_bytes(), &rules), reference(json.as_bytes(), &rules), "{}", json);
        }

        /// Arbitrary bytes, JSON-ish or not: no panic, and the same verdict.
        #[test]
        fn header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let r = rules();
            prop_assert_eq!(checked(&bytes, &r), reference(&bytes, &r));
        }

        #[test]
        fn header_parser_never_panics_on_json_like_text(text in r#"[{}\[\]",:0-9a-z\\ .e+-]{0,48}"#) {
            let r = rules();
            prop_assert_eq!(checked(text.as_bytes(), &r), reference(text.as_bytes(), &r));
        }

        /// Whole tokens of arbitrary parts: parse never panics.
        #[test]
        fn compact_parse_never_panics(token in "[A-Za-z0-9_=.-]{0,120}") {
            let _ = Compact::parse(&token, &rules());
        }
    }

    #[test]
    fn claims_must_be_a_unique_object() {
        let c = |p: &str| {
            Compact::parse(&token(r#"{"alg":"HS256"}"#, p), &rules())
                .unwrap()
                .claims()
        };
        assert!(c(r#"{"sub":"a"}"#).is_ok());
        assert!(c(r#"{"sub":"a","sub":"b"}"#).is_err());
        assert!(c("[]").is_err());
        assert!(c("\"x\"").is_err());
        assert!(c("{").is_err());
    }
}
