//! The core of tower-authn: authenticate HTTP API requests the way real platforms do.
//!
//! One request, one path:
//!
//! ```text
//! request head ─► scheme.extract()   (sync)  Absent → next scheme, else 401 + challenges (or pass, if optional)
//!                                            Rejected (malformed, duplicated) → 400, inner never called
//!              ─► body, for a Buffered scheme     over the scheme's limit → 413
//!              ─► scheme.verify()    (async) Rejected → 401 (403 when a requirement fails)
//!                                            Unavailable → 503: fail closed
//!              ─► hide credentials, insert Principal into extensions ─► inner service
//! ```
//!
//! - [`Principal`]: who made the request, one type for every scheme.
//! - [`Scheme`] = extraction + verification; [`Verifier`] is the pluggable part (closures,
//!   `tower::Service`s, or the store-backed verifiers). A scheme whose verification covers
//!   the body (a signed request) says so ([`Buffered`]): the engine reads the body up to the
//!   scheme's limit (413 beyond) before verifying, and the inner service receives the same
//!   bytes; every other scheme is [`NoBody`] and never touches it (see [`scheme`]).
//! - [`AuthnLayer`]: the one generic layer; the six named layers are it around one scheme:
//!   [`BasicAuthLayer`], [`HeaderTokenLayer`], [`QueryTokenLayer`], [`DeviceTokenLayer`],
//!   [`AppApiKeyLayer`], [`AccessSecretLayer`]; and [`CookieTokenLayer`] for a browser's
//!   session cookie.
//! - Browsers as clients: a token in a cookie (`with_cookie`, [`CookieTokenLayer`]) with the
//!   cross-site request guard ([`csrf`]), in a WebSocket subprotocol entry
//!   (`with_subprotocol`), CORS preflights let through ([`Preflight`]), and the header names
//!   to allow in CORS ([`AuthnLayer::credential_headers`]).
//! - Composition: [`AuthnLayer::or`] (any-of), [`AuthnLayer::and`] (all-of),
//!   [`AuthnLayer::optional`], [`AuthnLayer::require`] / [`RequireLayer`] (403).
//! - Errors: [`AuthError`] with stable codes, `WWW-Authenticate` [`Challenge`]s, pluggable
//!   body shape ([`ErrorResponder`]).
//! - Stores: [`UserStore`], [`KeyStore`] and their [`memory`] implementations; key
//!   [`lifecycle`] (rotation with overlap); [`invalidate`] (stores tell caches what changed);
//!   [`user_state`] (a user's disabling, deletion or change ends every credential issued
//!   before it).
//! - Caching and throttling: `cache::CachedVerifier` (feature `cache`) in front of slow
//!   verifiers; [`throttle`] answers 429 after too many failed attempts.
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_authn_core::{BasicAuthLayer, HeaderTokenLayer, Principal, SharedTokenVerifier, UserStoreExt};
//! use tower_authn_core::memory::MemoryUserStore;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let users = MemoryUserStore::new();
//! users.add_user("alice", "wonderland", |u| u.with_roles(["admin"])).unwrap();
//!
//! let auth = BasicAuthLayer::new(users.password_verifier())
//!     .or(HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("server-token")).with_query("token"));
//! let svc = ServiceBuilder::new().layer(auth).service_fn(|req: Request<()>| async move {
//!     let p = req.extensions().get::<Principal>().cloned().expect("authenticated");
//!     Ok::<_, Infallible>(Response::new(Bytes::from(p.into_id())))
//! });
//!
//! let req = Request::get("/whoami?token=server-token").body(()).unwrap();
//! let res = svc.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.into_body(), "server");
//! # }
//! ```

mod attributes;
pub mod audit;
mod authn;
mod authorize;
#[cfg(feature = "cache")]
pub mod cache;
mod challenge;
pub mod clock;
pub mod combinator;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod cookies;
pub mod credential;
pub mod csrf;
mod error;
pub mod ha1b;
// Public for the fuzz targets and property tests of the header parsers only.
#[doc(hidden)]
pub mod head;
pub mod host;
pub mod https_redirect;
pub mod invalidate;
pub mod issue;
pub mod lifecycle;
pub mod memory;
pub mod metrics;
#[cfg(feature = "openapi")]
pub mod openapi;
mod principal;
pub mod respond;
pub mod scheme;
pub mod schemes;
pub mod short_circuit;
pub mod store;
pub mod throttle;
pub mod user_state;
pub mod varint;
mod verifier;
mod verifiers;

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "axum")]
pub use extract::PrincipalRejection;

pub mod prelude;

/// Password hashing and HA1B (re-exported from `tower-authn-password`).
#[cfg(feature = "password")]
pub use tower_authn_password as password;

pub use attributes::Attributes;
pub use authn::{Authn, AuthnLayer, Preflight, ResponseFuture};
pub use authorize::{Require, RequireFuture, RequireLayer, Requirement};
pub use challenge::Challenge;
pub use combinator::{AllOf, AnyOf};
pub use error::{AuthError, ErrorKind, StoreError};
pub use ha1b::Ha1bVerifier;
pub use https_redirect::HttpsRedirectLayer;
pub use invalidate::{InvalidatingStore, Invalidation, Invalidator};
pub use lifecycle::KeyLifecycleExt;
pub use principal::{CredentialLocation, Principal, PrincipalData, PrincipalKind};
pub use respond::{ErrorResponder, JsonErrors, ProblemJson};
pub use scheme::{BodyMode, Buffered, Extraction, HideCredentials, NoBody, Scheme, SchemeExt};
pub use schemes::{
    AccessSecretLayer, AppApiKeyLayer, BasicAuthLayer, CookieTokenLayer, DeviceTokenLayer,
    HeaderTokenLayer, QueryTokenLayer,
};
pub use store::{KeyDigest, KeyHasher, KeyKind, KeyRecord, KeyStore, UserRecord, UserStore};
pub use throttle::{AttemptStore, Throttle};
pub use user_state::{LiveUsers, UserStateExt};
pub use verifier::{BoxVerifier, OrElse, ServiceVerifier, Verifier, VerifierExt};
pub use verifiers::{
    AccessPairVerifier, KeyStoreExt, KeyVerifier, KeyVerifyFuture, SharedTokenVerifier, new_key_id,
};
#[cfg(feature = "password")]
pub use verifiers::{PasswordVerifier, UserStoreExt};
