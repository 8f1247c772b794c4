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

/// An opaque token, key or JWT, with where it was found.
#[derive(Clone)]
pub struct TokenCredential {
    /// The secret value.
    pub token: SecretString,
    /// Where it was found.
    pub location: CredentialLocation,
}

impl TokenCredential {
    /// A token found at `location`.
    pub fn new(token: impl Into<String>, location: CredentialLocation) -> Self {
        Self {
            token: SecretString::from(token.into()),
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
    pub token: SecretString,
    /// The access secret (compared).
    pub secret: SecretString,
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
