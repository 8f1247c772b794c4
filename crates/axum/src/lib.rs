//! axum glue for tower-authn: the [`Principal`] extractors, token services as routers to
//! mount, and platform presets that answer exactly what XiVO, Volt MX, Opentact and CCAI
//! clients send and expect.
//!
//! - Extractors: [`Principal`] (401 when absent) and `Option<Principal>` (optional auth).
//! - Issuing: [`issuer::TokenIssuer`] (opaque tokens in a key store now, JWTs from
//!   `tower-authn-jwt`), [`refresh::RefreshTokens`] (rotation, reuse revokes the family),
//!   [`app_keys::AppKeys`] (app API key management), [`revocation`] (logout).
//! - [`tokens`]: a generic (non-platform) login / refresh / check / logout router.
//! - Presets: [`xivo`], [`voltmx`], [`opentact`], [`ccai`]: routes, request parsing and
//!   error shapes.
//! - [`connect_info_peer`]: the peer address for `HttpsRedirectLayer` from axum's
//!   `ConnectInfo<SocketAddr>`.
//!
//! Every issued secret is stored only as a digest through the store traits.
//!
//! ```
//! use axum::Router;
//! use tower_authn_axum::{Principal, issuer::OpaqueTokenIssuer, xivo};
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::{HeaderTokenLayer, UserStoreExt};
//!
//! async fn whoami(principal: Principal) -> String {
//!     principal.id
//! }
//!
//! let users = MemoryUserStore::new();
//! let tokens = OpaqueTokenIssuer::new(MemoryKeyStore::new());
//! let api = HeaderTokenLayer::new("X-Auth-Token", tokens.verifier()).with_query("token").responder(xivo::errors);
//! let sessions = xivo::Sessions::new(tokens.clone(), users.clone());
//! let app: Router = xivo::router(users.password_verifier(), sessions)
//!     .route("/whoami", axum::routing::get(whoami).route_layer(api));
//! # let _ = app;
//! ```

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;

pub mod app_keys;
pub mod ccai;
mod current_user;
pub mod issuer;
pub mod login;
pub mod opentact;
pub mod refresh;
mod reply;
pub mod revocation;
pub mod session;
mod strict_json;
pub mod tokens;
pub mod voltmx;
pub mod xivo;

pub use tower_authn_core::Principal;

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
