//! What a server that authenticates requests needs, in one import:
//! `use tower_authn_core::prelude::*;`.
//!
//! The named layers (the six, and the session cookie's), [`Principal`] and [`Requirement`], [`AuthError`], the extension
//! traits that give stores and verifiers their methods (`password_verifier()`,
//! `verifier(kind)`, `or_else(..)`, `cached(..)`), the memory stores, the shared-token
//! verifier, the credential types a verifier closure receives, and the responders.
//!
//! ```
//! use tower_authn_core::prelude::*;
//!
//! let users = MemoryUserStore::new();
//! users.add_user("alice", "wonderland", |u| u.with_roles(["admin"])).unwrap();
//! let keys = MemoryKeyStore::new().with_key(KeyKind::AppApiKey, "demo-app-key-1", Principal::app("demo"));
//!
//! let layer = BasicAuthLayer::new(users.password_verifier())
//!     .or(AppApiKeyLayer::new("X-App-Key", keys.verifier(KeyKind::AppApiKey)))
//!     .require(Requirement::role("admin"))
//!     .responder(ProblemJson::new());
//! # let _ = layer;
//! ```

pub use crate::credential::{AccessPair, BasicCredentials, TokenCredential};
pub use crate::memory::{MemoryKeyStore, MemoryUserStore};
pub use crate::{
    AccessSecretLayer, AppApiKeyLayer, AuthError, AuthnLayer, BasicAuthLayer, CookieTokenLayer,
    DeviceTokenLayer, ErrorResponder, HeaderTokenLayer, JsonErrors, KeyKind, KeyStoreExt,
    Preflight, Principal, ProblemJson, QueryTokenLayer, Requirement, SchemeExt,
    SharedTokenVerifier, VerifierExt,
};

#[cfg(feature = "password")]
pub use crate::UserStoreExt;

#[cfg(feature = "cache")]
pub use crate::cache::CacheExt;

#[cfg(feature = "axum")]
pub use crate::PrincipalRejection;
