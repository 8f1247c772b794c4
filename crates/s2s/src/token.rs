//! The HS256 JWT of a signed request: made byte for byte as the reference client makes it,
//! and read back through `tower-authn-jwt`'s HS256 check ([`Hs256Jws`]: strict compact form,
//! the algorithm pinned to HS256, the MAC compared in constant time); the claims are then
//! read with PHP's `json_decode` semantics, and their rules (`iat`, `exp`, leeway, lifetime,
//! `iss`, `sign`) are the verifier's.
//!
//! The header is `{"typ":"JWT","alg":"HS256"}`; the payload is
//! `{"iss":..,"iat":..,"exp":..,"sign":{"alg":"sha256","headers":[..],"hash":..}}` in that
//! order, JSON-encoded as PHP does it; the HMAC key is the raw bytes of the secret.
//!
//! ```
//! use secrecy::SecretString;
//! use tower_authn_s2s::token::{Claims, SignClaim, UnverifiedToken};
//!
//! let secret = SecretString::from("s3cr3t-k3y-0123456789abcdef");
//! let claims = Claims {
//!     iss: "CRM Connector".into(),
//!     iat: 1_700_000_000,
//!     exp: 1_700_000_300,
//!     sign: SignClaim {
//!         alg: "sha256".into(),
//!         headers: vec!["Host".into(), "X-APP-ID".into()],
//!         hash: "128a4c78e4ba15a8d43f3cb40a10bcae0ad2fada273f489fc87ea1f0a2207af8".into(),
//!     },
//! };
//! let jwt = claims.encode(&secret);
//! assert!(jwt.ends_with(".Oh-R52HVKQVXg61lowpHYo2C47p_21RSZ7pn3izziFI"));
//!
//! let token = UnverifiedToken::parse(&jwt).unwrap();
//! assert!(token.verify(b"s3cr3t-k3y-0123456789abcdef"));
//! assert_eq!(token.claims().unwrap(), claims);
//! ```

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tower_authn_jwt::Hs256Jws;

use crate::php::{Array, Key, Value, json_decode, json_encode_str};

/// The JOSE header the reference client sends, base64url-encoded.
pub const PHP_HEADER_B64: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

/// The most bytes a token may have; longer ones are refused before any decoding (the JWT
/// crate's own limit, [`tower_authn_jwt::DEFAULT_MAX_TOKEN_BYTES`]).
pub const MAX_TOKEN_LEN: usize = tower_authn_jwt::DEFAULT_MAX_TOKEN_BYTES;

/// The `sign` claim: which headers were signed, and the hash of the canonical request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignClaim {
    /// The PHP `hash()` algorithm; only `sha256` is accepted.
    pub alg: String,
    /// The signed header names, as listed (the array or `{"0":..}` object form).
    pub headers: Vec<String>,
    /// The hex hash of the canonical request.
    pub hash: String,
}

/// The claims of a signed-request token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The app name (not the app id).
    pub iss: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// What the token signs.
    pub sign: SignClaim,
}

impl Claims {
    /// The payload JSON, with the PHP client's key order and escaping.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(256);
        s.push_str("{\"iss\":");
        json_encode_str(&self.iss, &mut s);
        s.push_str(&format!(
            ",\"iat\":{},\"exp\":{},\"sign\":{{\"alg\":",
            self.iat, self.exp
        ));
        json_encode_str(&self.sign.alg, &mut s);
        s.push_str(",\"headers\":[");
        for (i, h) in self.sign.headers.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json_encode_str(h, &mut s);
        }
        s.push_str("],\"hash\":");
        json_encode_str(&self.sign.hash, &mut s);
        s.push_str("}}");
        s
    }

    /// The compact JWT (`header.payload.signature`), signed with HS256 under `secret`.
    pub fn encode(&self, secret: &SecretString) -> String {
        let mut jwt = String::with_capacity(512);
        jwt.push_str(PHP_HEADER_B64);
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(self.to_json()));
        let sig = hmac_sha256(secret.expose_secret().as_bytes(), jwt.as_bytes());
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(sig));
        jwt
    }
}

/// The signing side's MAC (the JWT is made byte for byte as the PHP client makes it, so it
/// is not issued through the JWT crate); verifying is the JWT crate's.
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWT at all (not three dot-separated parts, or too long).
    Malformed(&'static str),
    /// Not an HS256 JWT by `tower-authn-jwt`'s rules: another or no `alg`, a header or
    /// base64url it refuses.
    Algorithm,
    /// The payload lacks a claim or has one of the wrong type.
    Claims(&'static str),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed(why) => write!(f, "malformed token: {why}"),
            TokenError::Algorithm => f.write_str("not an HS256 JWT"),
            TokenError::Claims(why) => write!(f, "bad token claims: {why}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// A parsed compact JWT whose HS256 signature has not been checked yet.
///
/// `Debug` shows neither the signature nor the payload.
pub struct UnverifiedToken {
    jws: Hs256Jws,
}

impl fmt::Debug for UnverifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedToken").finish_non_exhaustive()
    }
}

impl UnverifiedToken {
    /// Parses `jwt` as an HS256 compact JWT ([`Hs256Jws::parse`]).
    ///
    /// # Errors
    ///
    /// [`TokenError::Malformed`] when it is not three dot-separated parts (or longer than
    /// [`MAX_TOKEN_LEN`]), [`TokenError::Algorithm`] when it is not an HS256 JWT.
    pub fn parse(jwt: &str) -> Result<Self, TokenError> {
        if jwt.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("too long"));
        }
        if jwt.split('.').count() != 3 {
            return Err(TokenError::Malformed("not three parts"));
        }
        let jws = Hs256Jws::parse(jwt).map_err(|_| TokenError::Algorithm)?;
        Ok(Self { jws })
    }

    /// Whether the HS256 signature is right for `secret` ([`Hs256Jws::verify`]: constant
    /// time).
    pub fn verify(&self, secret: &[u8]) -> bool {
        self.jws.verify(secret).is_some()
    }

    /// The claims. Call this only after [`UnverifiedToken::verify`].
    ///
    /// # Errors
    ///
    /// [`TokenError::Claims`] when a claim is missing or of the wrong type.
    pub fn claims(&self) -> Result<Claims, TokenError> {
        let Ok(Value::Array(p)) = json_decode(self.jws.unverified_claims()) else {
            return Err(TokenError::Claims("payload is not a JSON object"));
        };
        let iss = match p.get(&Key::from("iss")) {
            Some(Value::Str(s)) => utf8(s, "iss")?,
            None => String::new(),
            Some(_) => return Err(TokenError::Claims("iss is not a string")),
        };
        let int = |name: &'static str| match p.get(&Key::from(name)) {
            Some(Value::Int(i)) => Ok(*i),
            _ => Err(TokenError::Claims(name)),
        };
        let iat = int("iat")?;
        let exp = int("exp")?;
        let Some(Value::Array(sign)) = p.get(&Key::from("sign")) else {
            return Err(TokenError::Claims("sign is not an object"));
        };
        let text = |name: &'static str| match sign.get(&Key::from(name)) {
            Some(Value::Str(s)) => utf8(s, name),
            _ => Err(TokenError::Claims(name)),
        };
        let alg = text("alg")?;
        let hash = text("hash")?;
        let Some(Value::Array(list)) = sign.get(&Key::from("headers")) else {
            return Err(TokenError::Claims("sign.headers is not a list"));
        };
        let headers = header_names(list)?;
        Ok(Claims {
            iss,
            iat,
            exp,
            sign: SignClaim { alg, headers, hash },
        })
    }
}

fn utf8(b: &[u8], what: &'static str) -> Result<String, TokenError> {
    String::from_utf8(b.to_vec()).map_err(|_| TokenError::Claims(what))
}

/// `sign.headers` as a JSON array, or as an object whose keys are `"0".."n"` (Python clients).
/// Object entries are read in index order.
fn header_names(list: &Array) -> Result<Vec<String>, TokenError> {
    let mut entries: Vec<(i64, &Value)> = Vec::with_capacity(list.len());
    for (k, v) in list.iter() {
        match k {
            Key::Int(i) => entries.push((*i, v)),
            Key::Str(_) => return Err(TokenError::Claims("sign.headers has a non-index key")),
        }
    }
    entries.sort_by_key(|(i, _)| *i);
    entries
        .into_iter()
        .map(|(_, v)| match v {
            Value::Str(s) => utf8(s, "sign.headers"),
            _ => Err(TokenError::Claims("sign.headers holds a non-string")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claims() -> Claims {
        Claims {
            iss: "app".into(),
            iat: 10,
            exp: 20,
            sign: SignClaim {
                alg: "sha256".into(),
                headers: vec!["Host".into()],
                hash: "ab".into(),
            },
        }
    }

    #[test]
    fn header_is_the_php_one() {
        assert_eq!(
            URL_SAFE_NO_PAD.decode(PHP_HEADER_B64).unwrap(),
            br#"{"typ":"JWT","alg":"HS256"}"#
        );
    }

    #[test]
    fn wrong_secret_and_tampering_fail() {
        let secret = SecretString::from("k");
        let jwt = claims().encode(&secret);
        let t = UnverifiedToken::parse(&jwt).unwrap();
        assert!(t.verify(b"k"));
        assert!(!t.verify(b"k2"));
        let mut other = claims();
        other.exp = 9999;
        let forged = format!(
            "{}.{}.{}",
            PHP_HEADER_B64,
            URL_SAFE_NO_PAD.encode(other.to_json()),
            jwt.rsplit('.').next().unwrap()
        );
        assert!(!UnverifiedToken::parse(&forged).unwrap().verify(b"k"));
    }

    #[test]
    fn other_algorithms_are_refused() {
        let payload = URL_SAFE_NO_PAD.encode(claims().to_json());
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"typ":"JWT"}"#,
        ] {
            let jwt = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(header));
            assert_eq!(
                UnverifiedToken::parse(&jwt).unwrap_err(),
                TokenError::Algorithm,
                "{header}"
            );
        }
    }

    #[test]
    fn python_style_header_and_object_headers_are_accepted() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(
            r#"{"iss":"a","iat":1,"exp":2,"sign":{"alg":"sha256","headers":{"1":"X-APP-ID","0":"Host"},"hash":"h"}}"#,
        );
        let input = format!("{header}.{payload}");
        let sig = URL_SAFE_NO_PAD.encode(hmac_sha256(b"k", input.as_bytes()));
        let t = UnverifiedToken::parse(&format!("{input}.{sig}")).unwrap();
        assert!(t.verify(b"k"));
        assert_eq!(t.claims().unwrap().sign.headers, ["Host", "X-APP-ID"]);
    }

    #[test]
    fn debug_hides_everything() {
        let t = UnverifiedToken::parse(&claims().encode(&SecretString::from("k"))).unwrap();
        assert_eq!(format!("{t:?}"), "UnverifiedToken { .. }");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            if let Ok(t) = UnverifiedToken::parse(&s) {
                let _ = t.verify(b"k");
                let _ = t.claims();
            }
        }

        #[test]
        fn parse_never_panics_on_tokenish(s in "[A-Za-z0-9_=.-]{0,200}") {
            if let Ok(t) = UnverifiedToken::parse(&s) {
                let _ = t.claims();
            }
        }
    }
}
