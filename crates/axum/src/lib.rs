//! axum glue for tower-authn: the [`Principal`] extractors, generic token-service routers to
//! mount, and what a token route of your own needs to read requests and answer them.
//!
//! - Extractors: [`Principal`] and `Option<Principal>` (optional auth); [`PrincipalRejection`]
//!   answers 401 in the shape of the optional layer that let the request through, or 500
//!   (and an error log) when the route has no auth layer.
//! - [`tokens`]: a generic login / refresh / check / logout router over the issuers of
//!   `tower_authn_core::issue`; [`revocation`]: logout of issued tokens.
//! - [`login`]: reading login and refresh requests (JSON, form or Basic); [`reply`]:
//!   answering them (no-store JSON, failures in a responder's shape).
//! - [`session`]: a browser session in an `HttpOnly` cookie: `/session/login`,
//!   `/session/logout`, and the layer that accepts the cookie.
//! - [`connect_info_peer`]: the peer address for `HttpsRedirectLayer` from axum's
//!   `ConnectInfo<SocketAddr>`.
//!
//! The platform presets (XiVO, Volt MX, Opentact, CCAI, Wildix) are in
//! `tower-authn-platforms`, built on these.
//!
//! ```
//! use axum::Router;
//! use tower_authn_axum::{Principal, tokens};
//! use tower_authn_core::issue::{OpaqueTokenIssuer, RefreshTokens};
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::{HeaderTokenLayer, UserStoreExt};
//!
//! async fn whoami(principal: Principal) -> String {
//!     principal.into_id()
//! }
//!
//! let (users, keys) = (MemoryUserStore::new(), MemoryKeyStore::new());
//! let tokens = OpaqueTokenIssuer::new(keys.clone());
//! let api = HeaderTokenLayer::bearer(tokens.verifier());
//! let app: Router = tokens::router(users.password_verifier(), tokens.clone(), tokens.verifier(), RefreshTokens::new(keys))
//!     .route("/whoami", axum::routing::get(whoami).route_layer(api));
//! # let _ = app;
//! ```

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;

pub mod login;
pub mod reply;
pub mod revocation;
pub mod session;
mod strict_json;
pub mod tokens;

pub use tower_authn_core::{Principal, PrincipalRejection};

/// The peer IP from axum's `ConnectInfo<SocketAddr>` (served with
/// `into_make_service_with_connect_info::<SocketAddr>()`), else from the core's default
/// extensions. For `HttpsRedirectLayer::peer_addr`.
///
/// ```
/// use tower_authn_core::HttpsRedirectLayer;
///
/// let layer = HttpsRedirectLayer::new("https://api.example.com".parse().unwrap())
///     .trust_proxy("127.0.0.1".parse().unwrap())
///     .peer_addr(tower_authn_axum::connect_info_peer);
/// # let _ = layer;
/// ```
pub fn connect_info_peer(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| tower_authn_core::https_redirect::default_peer_lookup(extensions))
}
