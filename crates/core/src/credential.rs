//! Credentials as `secrecy` newtypes: `Debug` never prints a secret.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::principal::CredentialLocation;

/// `user:password` from `Authorization: Basic` (RFC 7617).
#[derive(Clone)]
pub struct BasicCredentials {
    /// The user-id (not secret; it is logged at debug level on failure).
    pub username: String,
    /// The password.
    pub password: SecretString,
}

impl BasicCredentials {
    /// Credentials for `username` and `password` (for tests and hand-built requests).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// The user-id.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, for verifiers (no need to import `secrecy`'s `ExposeSecret`).
    pub fn expose_password(&self) -> &str {
        self.password.expose_secret()
    }
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// A secret as presented on a request: a token, a key, an access secret.
///
/// Read it with [`ExposeSecret::expose_secret`]; `Debug` prints `[REDACTED]`.
///
/// Found in a header, it is the header's own bytes, shared with the request head (a
/// reference count, not a copy): a copy could be wiped on drop, but the original stays in the
/// request head and the connection's read buffer whatever the copy does, so copying would
/// only leave the secret in one more place and cost an allocation per request. Built from a
/// string (a query parameter, a hand-built credential) it is a [`SecretString`], wiped on
/// drop.
#[derive(Clone)]
pub struct PresentedSecret(Repr);

#[derive(Clone)]
enum Repr {
    /// A header value from byte `skip` on, checked to be UTF-8 (visible ASCII) there when
    /// the credential was extracted.
    Shared {
        value: http::HeaderValue,
        skip: usize,
    },
    Owned(SecretString),
}

impl PresentedSecret {
    /// The header value from byte `skip` on (`Bearer ` skipped, say), sharing its bytes;
    /// `None` when they are not UTF-8 (schemes accept only visible ASCII before this).
    pub(crate) fn from_header(value: &http::HeaderValue, skip: usize) -> Option<Self> {
        std::str::from_utf8(value.as_bytes().get(skip..)?).ok()?;
        Some(Self(Repr::Shared {
            value: value.clone(),
            skip,
        }))
    }
}

impl ExposeSecret<str> for PresentedSecret {
    fn expose_secret(&self) -> &str {
        match &self.0 {
            // Checked when built; an ASCII check is a few instructions per 16 bytes.
            Repr::Shared { value, skip } => value
                .as_bytes()
                .get(*skip..)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            Repr::Owned(s) => s.expose_secret(),
        }
    }
}

impl From<String> for PresentedSecret {
    fn from(s: String) -> Self {
        Self(Repr::Owned(SecretString::from(s)))
    }
}

impl From<&str> for PresentedSecret {
    fn from(s: &str) -> Self {
        Self(Repr::Owned(SecretString::from(s)))
    }
}

impl From<SecretString> for PresentedSecret {
    fn from(s: SecretString) -> Self {
        Self(Repr::Owned(s))
    }
}

impl fmt::Debug for PresentedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// An opaque token, key or JWT, with where it was found.
#[derive(Clone)]
pub struct TokenCredential {
    /// The secret value.
    pub token: PresentedSecret,
    /// Where it was found.
    pub location: CredentialLocation,
}

impl TokenCredential {
    /// A token found at `location`.
    pub fn new(token: impl Into<String>, location: CredentialLocation) -> Self {
        Self {
            token: PresentedSecret::from(token.into()),
            location,
        }
    }

    /// The secret, for verifiers.
    pub fn expose(&self) -> &str {
        self.token.expose_secret()
    }
}

impl fmt::Debug for TokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCredential")
            .field("token", &"[REDACTED]")
            .field("location", &self.location)
            .finish()
    }
}

/// The `AccessToken` + `AccessSecret` pair (Volt MX messaging).
#[derive(Clone)]
pub struct AccessPair {
    /// The access token (looked up).
    pub token: PresentedSecret,
    /// The access secret (compared).
    pub secret: PresentedSecret,
}

impl AccessPair {
    /// The access token, for verifiers.
    pub fn expose_token(&self) -> &str {
        self.token.expose_secret()
    }

    /// The access secret, for verifiers.
    pub fn expose_access_secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for AccessPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessPair")
            .field("token", &"[REDACTED]")
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_secret_is_shared_not_copied_and_redacted() {
        let value = http::HeaderValue::from_static("Bearer abc.def");
        let secret = PresentedSecret::from_header(&value, 7).unwrap();
        assert_eq!(secret.expose_secret(), "abc.def");
        assert_eq!(format!("{secret:?}"), "[REDACTED]");
        assert!(PresentedSecret::from_header(&value, 99).is_none());
        let latin1 = http::HeaderValue::from_bytes(b"\xe9t\xe9").unwrap();
        assert!(PresentedSecret::from_header(&latin1, 0).is_none());
    }

    #[test]
    fn debug_redacts() {
        let b = BasicCredentials {
            username: "alice".into(),
            password: "wonderland".into(),
        };
        let t = TokenCredential::new("tok-123", CredentialLocation::Query("token".into()));
        let p = AccessPair {
            token: "at-1".into(),
            secret: "as-1".into(),
        };
        assert_eq!(b.expose_password(), "wonderland");
        assert_eq!(
            BasicCredentials::new("alice", "wonderland").username(),
            "alice"
        );
        assert_eq!(
            (p.expose_token(), p.expose_access_secret()),
            ("at-1", "as-1")
        );
        let all = format!("{b:?} {t:?} {p:?}");
        for secret in ["wonderland", "tok-123", "at-1", "as-1"] {
            assert!(!all.contains(secret), "{all}");
        }
        assert!(all.contains("alice"));
    }
}
