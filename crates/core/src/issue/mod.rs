//! Issuing credentials: what a login, a refresh or a token endpoint hands out, and the
//! records that let it die when it should. No HTTP framework here: a tower, hyper or axum
//! server issues with the same types (the axum routers and the platform presets are built
//! on them).
//!
//! - [`TokenIssuer`]: what a login hands out. [`OpaqueTokenIssuer`] stores opaque tokens
//!   as digests in a [`KeyStore`](crate::KeyStore); [`issuer_fn`] / [`family_issuer_fn`]
//!   wrap anything else (a JWT issuer).
//! - [`RefreshTokens`]: refresh tokens with rotation; a reused one revokes its family.
//! - [`Sessions`]: login sessions renewed by their own token, with an absolute end and a cap
//!   on live tokens (XiVO's `auth/check`).
//! - [`AppKeys`]: app API keys, added, listed, renewed and deleted.
//! - [`AccessPairs`]: access-token + access-secret pairs.
//!
//! Every secret is shown once and stored only as a digest.

mod access_pairs;
mod app_keys;
mod current_user;
mod issuer;
mod refresh;
mod sessions;

pub use access_pairs::{AccessPairs, IssuedPair};
pub use app_keys::{
    AppKeys, Expiry, KeyChanges, MAX_APP_ID, MAX_DESCRIPTION, check_app_id, check_description,
    mask_key,
};
pub use issuer::{
    FamilyIssuerFn, IssuedToken, IssuerFn, OpaqueTokenIssuer, TokenIssuer, family_issuer_fn,
    issuer_fn,
};
pub use refresh::{DEFAULT_REMEMBER_SPENT, FAMILY_CLAIM, FamilyGuard, RefreshGrant, RefreshTokens};
pub use sessions::{DEFAULT_MAX_LIFETIME, DEFAULT_MAX_LIVE_TOKENS, Sessions};
