//! [`ExternalIdentity`]: who an external provider says the client is, before it is mapped to
//! a local user.

use std::fmt;

use serde_json::{Map, Value};

/// The kind of provider that proved an [`ExternalIdentity`]; also the scheme name of the
/// principal it maps to (`kerberos`, `cas`, `oidc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// A Kerberos ticket over SPNEGO (RFC 4559).
    Kerberos,
    /// A CAS 3.0 service ticket.
    Cas,
    /// An OpenID Connect ID or access token.
    Oidc,
}

impl Provider {
    /// The provider's name, used as the mapped principal's scheme.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kerberos => "kerberos",
            Self::Cas => "cas",
            Self::Oidc => "oidc",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An identity an external provider has verified: a Kerberos client principal, a CAS user,
/// or an OIDC token's user claim. It holds no secret (the credential that proved it is gone).
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalIdentity {
    /// Who proved it.
    pub provider: Provider,
    /// The provider's full name for the client (`alice@EXAMPLE.COM`, the CAS user, the OIDC
    /// `sub`).
    pub subject: String,
    /// The login it maps to by default (`alice`; the CAS user; the configured OIDC claim).
    pub login: String,
    /// What else the provider said (CAS attributes, OIDC claims), for a mapping hook.
    pub attributes: Map<String, Value>,
}

impl ExternalIdentity {
    /// An identity proved by `provider`, named `subject`, whose local login is `login`.
    pub fn new(provider: Provider, subject: impl Into<String>, login: impl Into<String>) -> Self {
        Self {
            provider,
            subject: subject.into(),
            login: login.into(),
            attributes: Map::new(),
        }
    }

    /// Adds the provider's attributes.
    pub fn with_attributes(mut self, attributes: Map<String, Value>) -> Self {
        self.attributes = attributes;
        self
    }
}
