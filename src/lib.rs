//! tower-authn: tower middleware that authenticates HTTP API requests the way real
//! platforms do (XiVO, Volt MX Foundry, Opentact, Wildix, Google CCAI Platform).
//!
//! This facade re-exports the suite; each part is its own crate behind a feature:
//!
//! | feature | crate | what |
//! |---|---|---|
//! | (always) | `tower-authn-core` | `Principal`, the generic layer, the six scheme layers, combinators, errors, stores |
//! | `password` (default) | `tower-authn-password` | argon2id PHC verification, dummy hashing, HA1B |
//! | `axum` (default) | `tower-authn-axum` | `Principal` extractors, token-service routers, platform presets |
//! | `jwt` (default) | `tower-authn-jwt` | JWT verify / issue, key sets, remote JWKS, Google, Facebook, CCAI, Opentact |
//! | `s2s` (default) | `tower-authn-s2s` | Wildix-style signed server-to-server requests: verifying and signing layers |
//! | `cache` (default) | `tower-authn-core` | the verification cache (`cache::CachedVerifier`, on moka) |
//! | `redis` | `tower-authn-redis` | the shared store on Redis for several instances (implies `cache`) |
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

/// JWT verification and issuing, key sets, JWKS, and the Google / Facebook / CCAI /
/// Opentact presets.
#[cfg(feature = "jwt")]
pub use tower_authn_jwt as jwt;

/// Signed server-to-server requests (Wildix WMS 5).
#[cfg(feature = "s2s")]
pub use tower_authn_s2s as s2s;

/// The shared store on Redis: users, keys, attempt counts, cache invalidation.
#[cfg(feature = "redis")]
pub use tower_authn_redis as redis;

/// Password hashing and HA1B.
#[cfg(feature = "password")]
pub use tower_authn_core::password;
