//! JWK and JWKS parsing (RFC 7517, RFC 8037) into [`VerifyingKey`]s.
//!
//! Parsed by hand from JSON so that one odd key in a published set (an encryption key, a
//! curve we do not support) skips that key instead of failing the whole set, and so that
//! every base64url member is decoded strictly.

use serde_json::{Map, Value};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::b64;
use crate::key::{KeyError, KeySet, VerifyingKey};

/// At most this many keys are taken from one JWKS document.
pub(crate) const MAX_JWKS_KEYS: usize = 64;

fn member<'a>(
    jwk: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, KeyError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::new(format!(
            "JWK member `{name}` is not a string"
        ))),
    }
}

fn required<'a>(jwk: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, KeyError> {
    member(jwk, name)?.ok_or_else(|| KeyError::new(format!("JWK without `{name}`")))
}

fn bytes(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, KeyError> {
    b64::decode(required(jwk, name)?)
        .ok_or_else(|| KeyError::new(format!("JWK member `{name}` is not strict base64url")))
}

/// One JWK. `allow_symmetric` admits `oct` keys (a static configuration may hold them; a
/// published key set never should).
pub(crate) fn parse_jwk(value: &Value, allow_symmetric: bool) -> Result<VerifyingKey, KeyError> {
    let Value::Object(jwk) = value else {
        return Err(KeyError::new("a JWK is a JSON object"));
    };
    if let Some(usage) = member(jwk, "use")? {
        if usage != "sig" {
            return Err(KeyError::new("JWK `use` is not `sig`"));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return Err(KeyError::new("JWK `key_ops` without `verify`"));
        }
    }
    let alg = member(jwk, "alg")?
        .map(|a| {
            a.parse::<Algorithm>()
                .map_err(|_| KeyError::new("JWK `alg` not supported"))
        })
        .transpose()?;

    let key = match required(jwk, "kty")? {
        "RSA" => VerifyingKey::rsa_components(&bytes(jwk, "n")?, &bytes(jwk, "e")?)?,
        "EC" => {
            let (expected, len) = match required(jwk, "crv")? {
                "P-256" => (Algorithm::ES256, 32),
                "P-384" => (Algorithm::ES384, 48),
                _ => return Err(KeyError::new("JWK `crv` not supported")),
            };
            let (x, y) = (bytes(jwk, "x")?, bytes(jwk, "y")?);
            if x.len() != len || y.len() != len {
                return Err(KeyError::new("EC JWK coordinates of the wrong length"));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let key = VerifyingKey::ec_point(&point)?;
            if key.algorithms() != [expected] {
                return Err(KeyError::new("EC JWK point not on its `crv`"));
            }
            key
        }
        "OKP" => {
            if required(jwk, "crv")? != "Ed25519" {
                return Err(KeyError::new("JWK `crv` not supported"));
            }
            VerifyingKey::ed_public(&bytes(jwk, "x")?)?
        }
        // HS256 unless the JWK's `alg` says otherwise (below).
        "oct" if allow_symmetric => VerifyingKey::hmac(bytes(jwk, "k")?)?,
        "oct" => return Err(KeyError::new("symmetric JWK in a published key set")),
        _ => return Err(KeyError::new("JWK `kty` not supported")),
    };
    let key = match alg {
        Some(alg) if alg.family() != key.family() => {
            return Err(KeyError::new("JWK `alg` does not match its `kty`"));
        }
        Some(alg) => key.with_algorithms([alg])?,
        None => key,
    };
    Ok(match member(jwk, "kid")? {
        Some(kid) => key.with_kid(kid),
        None => key,
    })
}

/// A JWKS document. Unusable keys are skipped (and logged at debug level).
pub(crate) fn parse_jwks(document: &[u8], allow_symmetric: bool) -> Result<KeySet, KeyError> {
    let value: Value =
        serde_json::from_slice(document).map_err(|_| KeyError::new("a JWKS is a JSON object"))?;
    let Some(keys) = value.get("keys").and_then(Value::as_array) else {
        return Err(KeyError::new("a JWKS has a `keys` array"));
    };
    let mut set = Vec::new();
    for (index, jwk) in keys.iter().enumerate() {
        if set.len() == MAX_JWKS_KEYS {
            tracing::debug!(
                skipped = keys.len() - index,
                "JWKS: too many keys; the rest are ignored"
            );
            break;
        }
        match parse_jwk(jwk, allow_symmetric) {
            Ok(key) => set.push(key),
            Err(e) => tracing::debug!(index, error = %e, "JWKS: key skipped"),
        }
    }
    Ok(KeySet::from_keys(set))
}

impl KeyFamily {
    /// The JWK `kty` of this family.
    pub fn kty(self) -> &'static str {
        match self {
            Self::Hmac => "oct",
            Self::Rsa => "RSA",
            Self::Ec => "EC",
            Self::Ed => "OKP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RFC_K: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

    #[test]
    fn oct_defaults_to_hs256_and_is_refused_in_published_sets() {
        let jwk = json!({"kty": "oct", "k": RFC_K});
        let key = parse_jwk(&jwk, true).unwrap();
        assert_eq!(key.algorithms(), [Algorithm::HS256]);
        assert!(parse_jwk(&jwk, false).is_err());
    }

    #[test]
    fn alg_must_match_kty() {
        let jwk = json!({"kty": "oct", "k": RFC_K, "alg": "RS256"});
        assert!(parse_jwk(&jwk, true).is_err());
        let jwk = json!({"kty": "oct", "k": RFC_K, "alg": "none"});
        assert!(parse_jwk(&jwk, true).is_err());
    }

    #[test]
    fn rejects_encryption_and_odd_members() {
        for jwk in [
            json!({"kty": "oct", "k": RFC_K, "use": "enc"}),
            json!({"kty": "oct", "k": RFC_K, "key_ops": ["encrypt"]}),
            json!({"kty": "oct", "k": RFC_K, "kid": 7}),
            json!({"kty": "oct", "k": format!("{RFC_K}=")}),
            json!({"kty": "oct", "k": ""}),
            json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
            json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
            json!({"kty": "OKP", "crv": "X25519", "x": "AA"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": "AA"}),
            json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            json!({"kty": "XYZ"}),
            json!("not an object"),
        ] {
            assert!(parse_jwk(&jwk, true).is_err(), "{jwk}");
        }
    }

    #[test]
    fn jwks_skips_bad_keys() {
        let doc = json!({"keys": [
            {"kty": "oct", "k": RFC_K, "kid": "good"},
            {"kty": "oct", "k": RFC_K, "kid": "enc", "use": "enc"},
            {"kty": "weird"},
        ]});
        let set = parse_jwks(doc.to_string().as_bytes(), true).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.contains_kid("good"));
        assert!(parse_jwks(b"[]", true).is_err());
        assert!(parse_jwks(b"{\"keys\": 1}", true).is_err());
        assert!(parse_jwks(b"\xff", true).is_err());
    }
}
