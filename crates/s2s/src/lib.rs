#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`verify`]: the server side ([`SignatureVerifier`], its [`SignedRequest`] scheme and
//!   [`VerifySignatureLayer`]).
//! - [`sign`]: the client side ([`Signer`], [`SignRequestLayer`]).
//! - [`store`]: app records by `X-APP-ID` ([`AppStore`], [`MemoryAppStore`]).
//! - [`canonical`]: the canonical request and its hash.
//! - [`coverage`]: which bodies and paths the signature covers.
//! - [`token`]: the HS256 JWT.
//! - [`php`]: the PHP behaviour the canonical form depends on.
//!
//! ```
//! assert_eq!(
//!     tower_authn_s2s::canonical::sha256_hex(b""),
//!     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
//! );
//! ```

pub mod canonical;
pub mod coverage;
pub mod php;
mod respond;
pub mod sign;
pub mod store;
pub mod token;
pub mod verify;

pub use respond::WildixErrors;
pub use sign::{
    PhpClientCall, PhpClientRequest, SignError, SignInput, SignRequest, SignRequestLayer,
    Signature, Signer,
};
pub use store::{App, AppStore, MemoryAppStore};
pub use verify::{SignatureVerifier, SignedRequest, VerifySignatureLayer};

/// A boxed error, as tower uses.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
