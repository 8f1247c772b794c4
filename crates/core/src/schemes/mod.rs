//! The six named schemes and their layers.
//!
//! | layer | credential on the wire |
//! |---|---|
//! | [`BasicAuthLayer`] | `Authorization: Basic base64(user:pass)` (RFC 7617) |
//! | [`HeaderTokenLayer`] | a named header, and/or `Authorization: Bearer` (RFC 6750) |
//! | [`QueryTokenLayer`] | a query parameter, removed from the URI before the inner service |
//! | [`DeviceTokenLayer`] | `X-Device-AuthToken` |
//! | [`AppApiKeyLayer`] | `X-VoltMX-App-API-Key` (name configurable) |
//! | [`AccessSecretLayer`] | `AccessToken` + `AccessSecret` together |

mod access_secret;
mod basic;
mod token;

pub use self::access_secret::{AccessSecret, AccessSecretLayer};
pub use self::basic::{Basic, BasicAuthLayer, parse_basic};
pub use self::token::{
    AppApiKey, AppApiKeyLayer, CookieToken, CookieTokenLayer, DeviceToken, DeviceTokenLayer,
    HeaderToken, HeaderTokenLayer, QueryToken, QueryTokenLayer,
};

/// The default realm of every challenge.
pub const DEFAULT_REALM: &str = "api";
