//! [`Hs256Jws`]: one HS256-signed compact JWT checked by this crate's rules, for callers that
//! keep claim rules of their own (the Wildix signed requests of `tower-authn-s2s`: `iat`,
//! `exp`, a maximum lifetime, `iss` per app and a `sign` member). Nothing in the claims is
//! checked here; [`JwtVerifier`](crate::JwtVerifier) is the way when the standard claim
//! rules ([`Validation`](crate::Validation)) fit.
//!
//! ```
//! use tower_authn_jwt::Hs256Jws;
//!
//! // {"alg":"HS256","typ":"JWT"} . {"sub":"app"} . HMAC-SHA256 under "secret"
//! let jws = Hs256Jws::parse(
//!     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhcHAifQ.9m4CUhC8l64K_PDyR2KKls91k-YG9D6onCoOpg90c7w",
//! )
//! .unwrap();
//! assert_eq!(jws.verify(b"secret"), Some(&br#"{"sub":"app"}"#[..]));
//! assert_eq!(jws.verify(b"another secret"), None);
//! ```

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use tower_authn_core::AuthError;

use crate::algorithm::Algorithm;
use crate::compact::{Compact, HeaderRules, TypeRule, parse_object};
use crate::key::hs256_matches;
use crate::{b64, validation::DEFAULT_MAX_TOKEN_BYTES};

/// A compact JWT whose structure and header passed this crate's strict parse (size,
/// canonical base64url, a JSON object header without duplicates, `typ` absent or `JWT`, no
/// `crit`, `zip` or nesting) and whose `alg` is exactly `HS256`; its signature is checked by
/// [`verify`](Self::verify). `Debug` shows nothing of it.
pub struct Hs256Jws {
    token: SecretString,
    signing_input_len: usize,
    payload: Vec<u8>,
}

impl fmt::Debug for Hs256Jws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hs256Jws").finish_non_exhaustive()
    }
}

impl Hs256Jws {
    /// Parses `token` (at most [`DEFAULT_MAX_TOKEN_BYTES`]).
    ///
    /// # Errors
    ///
    /// [`AuthError::invalid`] for anything but an HS256 compact JWT whose payload is a JSON
    /// object (a missing or other `alg`, `none` included).
    pub fn parse(token: &str) -> Result<Self, AuthError> {
        let rules = HeaderRules {
            max_bytes: DEFAULT_MAX_TOKEN_BYTES,
            types: TypeRule::AbsentOrJwt,
        };
        let compact = Compact::parse(token, &rules).map_err(AuthError::from)?;
        if compact.alg != Algorithm::HS256 {
            return Err(AuthError::invalid("jwt: alg is not HS256"));
        }
        let payload = b64::decode(compact.payload)
            .ok_or(AuthError::invalid("jwt: payload not strict base64url"))?;
        if parse_object(&payload).is_none() {
            return Err(AuthError::invalid("jwt: claims not a JSON object"));
        }
        Ok(Self {
            signing_input_len: compact.signing_input.len(),
            token: SecretString::from(token.to_owned()),
            payload,
        })
    }

    /// The claims JSON (the decoded payload) when the HMAC-SHA256 under `secret` matches
    /// (compared in constant time), else `None`. An empty secret matches nothing.
    pub fn verify(&self, secret: &[u8]) -> Option<&[u8]> {
        let token = self.token.expose_secret();
        let (input, signature) = (
            token.get(..self.signing_input_len)?,
            token.get(self.signing_input_len + 1..)?,
        );
        // An HMAC-SHA256 tag is 32 bytes; anything longer matches nothing.
        let mut tag = [0u8; 32];
        let signature = b64::decode_into(signature, &mut tag)?;
        hs256_matches(secret, input.as_bytes(), signature).then_some(self.payload.as_slice())
    }

    /// The claims JSON, not yet authenticated: for reading a token (tests, tools) before or
    /// without its secret; never for a decision.
    pub fn unverified_claims(&self) -> &[u8] {
        &self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str, secret: &[u8]) -> String {
        let input = format!("{}.{}", b64::encode(header), b64::encode(payload));
        let key = crate::SigningKey::hmac_any_length(Algorithm::HS256, secret).unwrap();
        let sig = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{sig}")
    }

    #[test]
    fn only_hs256_under_the_right_secret() {
        let good = token(r#"{"alg":"HS256"}"#, r#"{"a":1}"#, b"k");
        let jws = Hs256Jws::parse(&good).unwrap();
        assert_eq!(jws.verify(b"k"), Some(&br#"{"a":1}"#[..]));
        assert_eq!(jws.verify(b"k2"), None);
        assert_eq!(jws.verify(b""), None);
        for header in [
            r#"{"alg":"HS512"}"#,
            r#"{"alg":"none"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"typ":"JWT"}"#,
            r#"{"alg":"HS256","alg":"HS256"}"#,
        ] {
            let t = token(header, r#"{"a":1}"#, b"k");
            assert!(Hs256Jws::parse(&t).is_err(), "{header}");
        }
        assert!(Hs256Jws::parse(&token(r#"{"alg":"HS256"}"#, "[1]", b"k")).is_err());
        assert!(Hs256Jws::parse("not-a-jwt").is_err());
        assert_eq!(format!("{jws:?}"), "Hs256Jws { .. }");
    }
}
