//! HTTP Basic (RFC 7617), strict: case-insensitive scheme name, strict base64 with padding,
//! UTF-8, a colon required, the password may contain colons, control characters rejected.
//!
//! ```
//! use tower_authn_core::schemes::parse_basic;
//! use secrecy::ExposeSecret;
//!
//! let c = parse_basic(b"Basic dGVzdDoxMjPCow==").unwrap().unwrap();
//! assert_eq!((c.username.as_str(), c.password.expose_secret()), ("test", "123£"));
//! assert!(parse_basic(b"Bearer abc").unwrap().is_none()); // another scheme: absent
//! assert_eq!(parse_basic(b"Basic !!!").unwrap_err().status(), 400);
//! ```

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::AUTHORIZATION;
use http::request::Parts;
use secrecy::SecretString;

use super::DEFAULT_REALM;
use crate::authn::AuthnLayer;
use crate::challenge::Challenge;
use crate::combinator::WithLocation;
use crate::credential::BasicCredentials;
use crate::error::AuthError;
use crate::head::{AuthorizationMatch, authorization_credentials, hide_authorization};
use crate::principal::CredentialLocation;
use crate::scheme::{Extraction, HideCredentials, Scheme};
use crate::verifier::Verifier;

/// Parses one `Authorization` value as Basic credentials.
///
/// `Ok(None)` when the auth-scheme is not `Basic`. Exactly one space separates the scheme
/// from the credentials ([`authorization_credentials`]).
///
/// # Errors
///
/// [`AuthError::malformed`] (400) for anything RFC 7617 does not allow.
pub fn parse_basic(value: &[u8]) -> Result<Option<BasicCredentials>, AuthError> {
    let malformed = |why: &'static str| AuthError::malformed(why).at(location());
    let rest = match authorization_credentials(value, "Basic") {
        AuthorizationMatch::Other => return Ok(None),
        AuthorizationMatch::Empty => return Err(malformed("basic: no credentials")),
        AuthorizationMatch::BadSeparator => {
            return Err(malformed(
                "basic: not exactly one space before the credentials",
            ));
        }
        AuthorizationMatch::Credentials(rest) => rest,
    };
    let decoded = STANDARD
        .decode(rest)
        .map_err(|_| malformed("basic: invalid base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| malformed("basic: not UTF-8"))?;
    let Some((user, password)) = text.split_once(':') else {
        return Err(malformed("basic: no colon"));
    };
    if text.chars().any(char::is_control) {
        return Err(malformed("basic: control character"));
    }
    Ok(Some(BasicCredentials {
        username: user.to_owned(),
        password: SecretString::from(password.to_owned()),
    }))
}

fn location() -> CredentialLocation {
    CredentialLocation::Authorization(Cow::Borrowed("Basic"))
}

/// The Basic scheme around a [`Verifier<BasicCredentials>`].
#[derive(Clone)]
pub struct Basic<V> {
    verifier: V,
    challenge: Challenge,
}

impl<V> Basic<V> {
    /// Basic auth verified by `verifier`, realm `api`.
    pub fn new(verifier: V) -> Self {
        Self {
            verifier,
            challenge: challenge(DEFAULT_REALM.into()),
        }
    }

    /// Sets the realm of the challenge.
    pub fn realm(mut self, realm: impl Into<Cow<'static, str>>) -> Self {
        self.challenge = challenge(realm.into());
        self
    }
}

fn challenge(realm: Cow<'static, str>) -> Challenge {
    Challenge::new("Basic")
        .realm(realm)
        .param("charset", "UTF-8")
}

impl<V> fmt::Debug for Basic<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Basic")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl<V: Verifier<BasicCredentials>> Scheme for Basic<V> {
    type Credential = BasicCredentials;
    type Future = WithLocation<V::Future>;
    type Body = crate::scheme::NoBody;

    fn extract(&self, head: &Parts) -> Extraction<BasicCredentials> {
        let mut lines = head.headers.get_all(AUTHORIZATION).iter();
        let Some(value) = lines.next() else {
            return Extraction::Absent;
        };
        let parsed = parse_basic(value.as_bytes());
        if lines.next().is_some() {
            // Authorization is a singleton; two lines are ambiguous whatever their schemes.
            return Extraction::Rejected(
                AuthError::duplicate("two Authorization header lines").at(location()),
            );
        }
        match parsed {
            Ok(Some(c)) => Extraction::Found(c),
            Ok(None) => Extraction::Absent,
            Err(e) => Extraction::Rejected(e),
        }
    }

    fn verify(&self, credential: BasicCredentials) -> Self::Future {
        WithLocation::new(self.verifier.verify(credential), location(), "basic")
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        hide_authorization(&mut head.headers, "basic", mode);
    }

    fn challenges(&self, _error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        out.push(self.challenge.clone());
    }

    fn slots(&self, out: &mut Vec<crate::scheme::CredentialSlot>) {
        out.push(crate::scheme::CredentialSlot::Authorization("basic"));
    }
}

/// HTTP Basic authentication (RFC 7617) as a layer.
///
/// ```
/// use tower_authn_core::{BasicAuthLayer, UserStoreExt, memory::MemoryUserStore};
///
/// let users = MemoryUserStore::new();
/// let layer = BasicAuthLayer::new(users.password_verifier()).realm("WallyWorld");
/// # let _ = layer;
/// ```
pub type BasicAuthLayer<V> = AuthnLayer<Basic<V>>;

impl<V: Verifier<BasicCredentials>> AuthnLayer<Basic<V>> {
    /// Basic auth verified by `verifier`.
    pub fn new(verifier: V) -> Self {
        AuthnLayer::from_scheme(Basic::new(verifier))
    }

    /// Sets the realm of the challenge.
    pub fn realm(self, realm: impl Into<Cow<'static, str>>) -> Self {
        self.map_scheme(|s| s.realm(realm))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn ok(v: &str) -> (String, String) {
        let c = parse_basic(v.as_bytes()).unwrap().unwrap();
        (c.username, c.password.expose_secret().to_owned())
    }

    #[test]
    fn rfc7617_vectors() {
        assert_eq!(
            ok("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            ("Aladdin".into(), "open sesame".into())
        );
        assert_eq!(ok("Basic dGVzdDoxMjPCow=="), ("test".into(), "123£".into()));
    }

    #[test]
    fn scheme_is_case_insensitive_and_password_keeps_colons() {
        // "a:b:c"
        assert_eq!(ok("bAsIc YTpiOmM="), ("a".into(), "b:c".into()));
    }

    #[test]
    fn rejects_what_rfc7617_forbids() {
        for bad in [
            "Basic",                              // no credentials
            "Basic QWxhZGRpbg==",                 // no colon ("Aladdin")
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ",   // missing padding
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZR==", // non-canonical trailing bits
            "Basic /w==",                         // not UTF-8
            "Basic YQph",                         // "a\na": control character
            "Basic a b",
            "Basic\tQWxhZGRpbjpvcGVuIHNlc2FtZQ==", // a tab, not one space
            "Basic  QWxhZGRpbjpvcGVuIHNlc2FtZQ==", // two spaces
            "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==",   // no space
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== ", // trailing space
        ] {
            let e = parse_basic(bad.as_bytes()).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
        }
        assert!(
            parse_basic(b"Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
                .unwrap()
                .is_none()
        );
    }
}
