//! Opentact-style JWTs: HS256, the user's `uuid` as subject, a `role`, 24 hours of life,
//! taken from [`HEADER`] (`X-Auth-Token`) or [`QUERY`] (`?jwt=`). Scheme `jwt`.
//!
//! ```
//! use tower_authn_core::clock::ManualClock;
//! use tower_authn_jwt::opentact::OpentactIssuer;
//!
//! let clock = ManualClock::at_unix(1_700_000_000);
//! let issuer = OpentactIssuer::new("a server secret of 32 bytes or more")?.with_clock(clock.clone());
//! let token = issuer.issue("2984a1ca-fff7-4c59-a63b-3468179d7df7", "User")?;
//! let verifier = issuer.verifier();
//! let principal = verifier.authenticate(&token).unwrap();
//! assert!(principal.has_role("User"));
//! // HeaderTokenLayer::new(opentact::HEADER, verifier).with_query(opentact::QUERY)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_authn_core::Principal;
use tower_authn_core::clock::{Clock, SharedClock, SystemClock, unix_secs};

use crate::algorithm::Algorithm;
use crate::issue::{Claims, IssueError, sign};
use crate::key::{KeyError, KeySet, SigningKey, VerifyingKey};
use crate::mapping::ClaimsMapping;
use crate::validation::Validation;
use crate::verify::JwtVerifier;

/// The header Opentact takes its JWT from.
pub const HEADER: &str = "X-Auth-Token";

/// The query parameter Opentact takes its JWT from.
pub const QUERY: &str = "jwt";

/// An Opentact token lives 24 hours.
pub const LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The role written when a principal has none.
pub const DEFAULT_ROLE: &str = "User";

/// Signs Opentact-style tokens: `{"uuid", "role", "iat", "exp"}` in that order.
#[derive(Clone)]
pub struct OpentactIssuer {
    key: SigningKey,
    verifying: VerifyingKey,
    clock: SharedClock,
}

impl fmt::Debug for OpentactIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpentactIssuer")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl OpentactIssuer {
    /// An issuer with the server `secret`.
    ///
    /// # Errors
    ///
    /// A secret shorter than 32 bytes: see [`with_any_length_secret`](Self::with_any_length_secret).
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let key = SigningKey::hmac(Algorithm::HS256, secret.as_ref())?;
        Self::build(key, secret.as_ref())
    }

    /// An issuer for an existing deployment whose secret is shorter than 32 bytes.
    ///
    /// # Errors
    ///
    /// An empty secret.
    pub fn with_any_length_secret(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let key = SigningKey::hmac_any_length(Algorithm::HS256, secret.as_ref())?;
        Self::build(key, secret.as_ref())
    }

    fn build(key: SigningKey, secret: &[u8]) -> Result<Self, KeyError> {
        let verifying = VerifyingKey::hmac(secret)?.with_algorithms([Algorithm::HS256])?;
        Ok(Self {
            key,
            verifying,
            clock: Arc::new(SystemClock),
        })
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A token for the user `uuid` with `role`.
    ///
    /// # Errors
    ///
    /// The key cannot sign.
    pub fn issue(&self, uuid: &str, role: &str) -> Result<String, IssueError> {
        let iat = unix_secs(self.clock.now());
        let claims = Claims::new()
            .with("uuid", uuid)
            .with("role", role)
            .with("iat", iat)
            .with("exp", iat.saturating_add(LIFETIME.as_secs()));
        sign(&self.key, Some("JWT"), &claims)
    }

    /// A token for `principal`: its id, and its first role (else [`DEFAULT_ROLE`]).
    ///
    /// # Errors
    ///
    /// The key cannot sign.
    pub fn issue_for(&self, principal: &Principal) -> Result<String, IssueError> {
        let role = principal.roles.first().map_or(DEFAULT_ROLE, String::as_str);
        self.issue(&principal.id, role)
    }

    /// The matching verifier (same clock).
    pub fn verifier(&self) -> JwtVerifier {
        verifier_with_key(self.verifying.clone()).with_shared_clock(Arc::clone(&self.clock))
    }
}

fn verifier_with_key(key: VerifyingKey) -> JwtVerifier {
    JwtVerifier::new(KeySet::new().with_key(key))
        .with_validation(
            Validation::new()
                .with_algorithms([Algorithm::HS256])
                .with_max_lifetime(LIFETIME),
        )
        .with_mapping(
            ClaimsMapping::new()
                .with_scheme("jwt")
                .with_subject("uuid")
                .with_roles(["role"])
                .without_scopes(),
        )
}

/// A verifier of Opentact-style tokens signed with `secret`: HS256 only, `exp` required, at
/// most 24 hours of lifetime; id from `uuid`, roles from `role`, scheme `jwt`.
///
/// # Errors
///
/// An empty secret.
pub fn verifier(secret: impl AsRef<[u8]>) -> Result<JwtVerifier, KeyError> {
    Ok(verifier_with_key(
        VerifyingKey::hmac(secret)?.with_algorithms([Algorithm::HS256])?,
    ))
}
