//! Wildix (WMS 5): server-to-server requests signed with an HS256 JWT that hashes the
//! request (the mechanism is `tower-authn-s2s`); here, Wildix's own names and error shape.
//!
//! - [`APP_ID_HEADER`]: the app's id (`X-APP-ID`); the signature is in
//!   `Authorization: Bearer`.
//! - [`Errors`]: `{"type": "error", "reason": "<code>"}`, Wildix's error body.
//! - [`SignatureVerifier`] checks the requests of the apps of an [`AppStore`];
//!   [`Signer`] signs them (the PHP client's behaviour, byte for byte).
//!
//! ```
//! use tower_authn_platforms::wildix::{App, MemoryAppStore, SignatureVerifier};
//!
//! let apps = MemoryAppStore::new().with_app("app-1", App::new("CRM Connector", "secret"));
//! let layer = SignatureVerifier::new(apps).layer();
//! # let _ = layer;
//! ```

pub use tower_authn_s2s::WildixErrors as Errors;
/// The header naming the app that signed the request.
pub use tower_authn_s2s::sign::X_APP_ID as APP_ID_HEADER;
pub use tower_authn_s2s::{App, AppStore, MemoryAppStore, SignatureVerifier, Signer};
