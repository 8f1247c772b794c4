//! tower-authn: tower middleware that authenticates HTTP API requests the way real
//! platforms do (XiVO, Volt MX Foundry, Opentact, Wildix, Google CCAI Platform).
//!
//! This facade re-exports the suite; each part is its own crate behind a feature:
//!
//! | feature | crate | what |
//! |---|---|---|
//! | (always) | `tower-authn-core` | `Principal`, the engine, the six scheme layers, combinators, errors, stores, issuing |
//! | `password` (default) | `tower-authn-password` | argon2id PHC verification on a bounded pool, dummy hashing, HA1B |
//! | `axum` (default) | `tower-authn-axum` | `Principal` extractors, the generic token-service routers |
//! | `jwt` (default) | `tower-authn-jwt` | JWT verify / issue, key sets, remote JWKS, Google, Facebook |
//! | `s2s` (default) | `tower-authn-s2s` | signed server-to-server requests: verifying and signing layers |
//! | `platforms` (default) | `tower-authn-platforms` | XiVO, Volt MX, Opentact, CCAI and Wildix, one module each |
//! | `cache` (default) | `tower-authn-core` | the verification cache (`cache::CachedVerifier`, on moka) |
//! | `metrics` | `tower-authn-core` | counters and histograms through the `metrics` facade (`metrics` lists them) |
//! | `openapi` | `tower-authn-core` | a layer's security schemes for `utoipa` documents (`openapi::SecurityDoc`) |
//! | `redis` | `tower-authn-redis` | the shared store on Redis for several instances (implies `cache`) |
//!
//! What a server needs comes from one import, [`prelude`]:
//!
//! ```
//! use tower_authn::prelude::*;
//!
//! let users = MemoryUserStore::new();
//! let layer = BasicAuthLayer::new(users.password_verifier())
//!     .or(HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::from_env("PLAY_AUTH_TOKEN")));
//! # let _ = layer;
//! ```

pub use tower_authn_core::*;

/// The `http` crate the layers and responders speak (`http::Response`, `StatusCode`, ...),
/// so a closure responder needs no dependency of its own.
pub use http;

/// The `bytes` crate of responder bodies (`Response<Bytes>`).
pub use bytes;

/// Everything a newcomer's server needs, in one `use tower_authn::prelude::*;`.
///
/// The core's [prelude](tower_authn_core::prelude) (the six named layers, `Principal`,
/// `Requirement`, `AuthError`, the extension traits, the memory stores, `KeyKind`,
/// `SharedTokenVerifier`, the credential types, the responders, `PrincipalRejection` with
/// `axum`, `CacheExt` with `cache`), plus `JwtVerifier` with `jwt`.
///
/// ```
/// use tower_authn::bytes::Bytes;
/// use tower_authn::http::Response;
/// use tower_authn::prelude::*;
///
/// // A closure responder: the shape your clients expect.
/// let teapot = |e: &AuthError| {
///     Response::builder().status(e.status()).body(Bytes::from(e.code())).unwrap()
/// };
/// let token = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver")).responder(teapot);
/// # let _ = token;
/// ```
pub mod prelude {
    pub use tower_authn_core::prelude::*;

    #[cfg(feature = "jwt")]
    pub use tower_authn_jwt::JwtVerifier;
}

/// The README's examples, compiled and run as doctests (the first one verifies passwords).
#[cfg(all(doctest, feature = "password"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// axum glue: extractors and the generic token-service routers.
#[cfg(feature = "axum")]
pub use tower_authn_axum as axum;

/// JWT verification and issuing, key sets, JWKS, Google and Facebook identities.
#[cfg(feature = "jwt")]
pub use tower_authn_jwt as jwt;

/// Signed server-to-server requests (the mechanism; Wildix's names are in
/// `platforms::wildix`).
#[cfg(feature = "s2s")]
pub use tower_authn_s2s as s2s;

/// External credentials (CAS, OpenID Connect, Kerberos) traded for local tokens.
#[cfg(feature = "exchange")]
pub use tower_authn_exchange as exchange;

/// Kerberos single sign-on: the SPNEGO acceptor on MIT Kerberos.
#[cfg(feature = "kerberos")]
pub use tower_authn_kerberos as kerberos;

/// The platform presets: XiVO, Volt MX, Opentact, CCAI, Wildix.
#[cfg(feature = "platforms")]
pub use tower_authn_platforms as platforms;

/// The shared store on Redis: users, keys, attempt counts, cache invalidation.
#[cfg(feature = "redis")]
pub use tower_authn_redis as redis;

/// Password hashing and HA1B.
#[cfg(feature = "password")]
pub use tower_authn_core::password;
