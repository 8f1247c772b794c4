//! tower-authn: tower middleware that authenticates HTTP API requests the way real
//! platforms do (XiVO, Volt MX Foundry, Opentact, Wildix, Google CCAI Platform).
//!
//! This facade re-exports the suite; each part is its own crate behind a feature:
//!
//! | feature | crate | what |
//! |---|---|---|
//! | (always) | `tower-authn-core` | `Principal`, the generic layer, the six scheme layers, combinators, errors, stores |
//! | `password` (default) | `tower-authn-password` | argon2id PHC verification, dummy hashing, HA1B |
//! | `axum` (default) | `tower-authn-axum` | `Principal` extractors, token-service routers |
//!
//! ```
//! use tower_authn::{BasicAuthLayer, HeaderTokenLayer, SharedTokenVerifier, UserStoreExt};
//! use tower_authn::memory::MemoryUserStore;
//!
//! let users = MemoryUserStore::new();
//! let layer = BasicAuthLayer::new(users.password_verifier())
//!     .or(HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::from_env("PLAY_AUTH_TOKEN")));
//! # let _ = layer;
//! ```

pub use tower_authn_core::*;

/// axum glue: extractors and token-service routers.
#[cfg(feature = "axum")]
pub use tower_authn_axum as axum;

/// Password hashing and HA1B.
#[cfg(feature = "password")]
pub use tower_authn_core::password;
