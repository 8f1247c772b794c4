//! The JWS compact serialization, parsed strictly and without trusting anything in it.
//!
//! Order matters: size, then structure, then the header, then the key and the signature over
//! the bytes as received, and only then the claims JSON.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use tower_authn_core::AuthError;

use crate::algorithm::Algorithm;
use crate::b64;

/// The longest `kid` looked up.
const MAX_KID_LEN: usize = 256;

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
                    if map.contains_key(&name) {
                        return Err(de::Error::custom("duplicate member name"));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(name, value);
                }
                Ok(StrictObject(map))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Parses strict JSON object text (unique top-level names).
pub(crate) fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice::<StrictObject>(bytes)
        .ok()
        .map(|o| o.0)
}

/// A token whose structure and header passed; nothing is verified yet.
#[derive(Debug)]
pub(crate) struct Compact<'a> {
    /// `header.payload` exactly as received: what the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) header: Map<String, Value>,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
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
        if token.len() > rules.max_bytes {
            return Err(Failure::Invalid("jwt: larger than the size limit"));
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
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
        let header_json =
            b64::decode(header_b64).ok_or(Failure::Invalid("jwt: header not strict base64url"))?;
        let header =
            parse_object(&header_json).ok_or(Failure::Invalid("jwt: header not a JSON object"))?;

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
            // No extension is understood here, so any `crit` is one we do not understand.
            return Err(Failure::Invalid("jwt: unknown crit header parameter"));
        }
        if header.contains_key("zip") || header.contains_key("enc") {
            return Err(Failure::Invalid("jwt: compressed or encrypted"));
        }
        if header.get("b64").is_some_and(|b| b != &Value::Bool(true)) {
            return Err(Failure::Invalid("jwt: unencoded payload"));
        }
        if let Some(cty) = header.get("cty") {
            let nested = cty
                .as_str()
                .is_none_or(|c| media_type(c).eq_ignore_ascii_case("JWT"));
            if nested {
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
        let signing_input = &token[..header_b64.len() + 1 + payload.len()];
        Ok(Self {
            signing_input,
            payload,
            signature,
            header,
            alg,
            kid,
        })
    }

    /// The claims, decoded only after the signature was verified.
    pub(crate) fn claims(&self) -> Result<Map<String, Value>, Failure> {
        let json = b64::decode(self.payload)
            .ok_or(Failure::Invalid("jwt: payload not strict base64url"))?;
        parse_object(&json).ok_or(Failure::Invalid("jwt: claims not a JSON object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
