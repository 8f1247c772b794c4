//! JWT verification and issuing for tower-authn: verifiers that plug into its token layers,
//! key sets (static and remote JWKS), an issuer, and presets for Google ID tokens, Facebook
//! user tokens (the CCAI and Opentact token formats are in `tower-authn-platforms`).
//!
//! ```
//! use tower_authn_core::{CredentialLocation, Verifier, credential::TokenCredential};
//! use tower_authn_jwt::{Algorithm, JwtIssuer, JwtVerifier, SigningKey};
//!
//! let secret = b"a shared secret of at least 32 bytes";
//! let token = JwtIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?)
//!     .issue_for_subject("alice")?;
//!
//! let verifier = JwtVerifier::hs256(secret)?; // HS256 only
//! // (More keys or algorithms: JwtVerifier::new(KeySet::new().with_key(VerifyingKey::hmac(..)?..)).)
//! // In a server: HeaderTokenLayer::bearer(verifier), or QueryTokenLayer::new("jwt", verifier).
//! let credential = TokenCredential::new(token, CredentialLocation::Query("jwt".into()));
//! let principal = futures_util::FutureExt::now_or_never(verifier.verify(credential))
//!     .expect("in-memory keys answer at once")?;
//! assert_eq!(principal.id, "alice");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What a token must get past
//!
//! 1. **Size** first: more than 8 KiB ([`Validation::with_max_token_bytes`]) is refused before
//!    anything is decoded.
//! 2. **Structure**: exactly three parts of strict, unpadded base64url; the header is a JSON
//!    object with unique member names.
//! 3. **Header**: `alg: none` never (there is no such [`Algorithm`]); any `crit` is refused
//!    (no extension is understood); `zip`, `b64: false` and nested tokens are refused; `jku`,
//!    `x5u`, `jwk` and `x5c` are never fetched nor used; `typ` absent or `JWT`, or one of
//!    [`Validation::with_types`].
//! 4. **Key**: `kid` selects among the in-memory [`KeySet`] only, and a `kid` no key has is
//!    refused (a one-key set included); a key checks only the
//!    algorithms of its own [`KeyFamily`] and allow-list, so an HMAC token can never be
//!    checked with an RSA or EC public key as the secret.
//! 5. **Signature** over the received bytes (not a re-encoding), with constant-time MAC
//!    comparison.
//! 6. **Claims** (only now parsed): `exp` required by default; `exp`, `nbf`, `iat` numbers
//!    within `0..=`[`MAX_NUMERIC_DATE`]; `nbf`, `iat` not in the future; leeway, maximum
//!    lifetime (`exp - iat` and `exp - now`; [`JwtIssuer::validation`] sets it to what an
//!    issuer issues) and age, `iss` and `aud` allow-lists ([`Validation`]).
//! 7. **Mapping** to a [`Principal`](tower_authn_core::Principal) ([`ClaimsMapping`]).
//!
//! An expired token answers `expired`; anything else wrong answers `invalid_credentials`;
//! no key to check with answers `unavailable` (503: fail closed).
//!
//! # Crypto backend
//!
//! jsonwebtoken 10 needs a crypto backend. This crate enables `rust_crypto` (RustCrypto's
//! `rsa`, `p256`, `p384`, `ed25519-dalek`, `hmac`, `sha2`): pure Rust, so it builds with
//! nothing but `rustc` and adds a few seconds to a build, where `aws_lc_rs` compiles the
//! AWS-LC C library with cmake and a C compiler (minutes of build on a two-core machine, and
//! a C toolchain in every CI image). The price: RustCrypto's RSA signing is not
//! constant-time (RUSTSEC-2023-0071, the "Marvin" attack on private-key operations). It
//! does not touch verification with public keys, which is what servers mostly do; for
//! tokens you issue, prefer `HS256`, `ES256` or `EdDSA`. The provider is installed
//! explicitly on first use, so another crate enabling `aws_lc_rs` too cannot leave
//! jsonwebtoken without one (it would panic).
//!
//! Verification does not go through jsonwebtoken's provider: a [`VerifyingKey`] prepares its
//! state once when built (a keyed HMAC, compared in constant time; a parsed RSA, P-256,
//! P-384 or Ed25519 public key) and checks signatures with those RustCrypto crates directly,
//! so nothing is re-keyed or re-parsed per token. Issuing signs through jsonwebtoken.
//!
//! # Features
//!
//! - `remote` (default): [`RemoteJwks`], [`HttpFetcher`], token introspection, and the
//!   Google and Facebook presets. Uses tokio's timer and spawner.
//! - `hyper-client` (default): [`HyperFetcher`], an [`HttpFetcher`] on hyper-util's client.

mod algorithm;
mod b64;
mod claims;
mod compact;
mod hs256;
mod issue;
mod jwk;
mod key;
mod mapping;
mod validation;
mod verify;

#[cfg(feature = "remote")]
mod circuit;
#[cfg(feature = "remote")]
pub mod facebook;
#[cfg(feature = "remote")]
mod fetch;
#[cfg(feature = "remote")]
pub mod google;
#[cfg(feature = "hyper-client")]
mod hyper_fetcher;
#[cfg(feature = "remote")]
pub mod introspection;
#[cfg(feature = "remote")]
mod remote;

pub use algorithm::{Algorithm, KeyFamily, UnknownAlgorithm};
pub use hs256::Hs256Jws;
pub use issue::{Claims, IssueError, JwtIssuer};
pub use key::{KeyError, KeySet, SigningKey, VerifyingKey};
pub use mapping::{ClaimPath, ClaimsMapping};
pub use validation::{DEFAULT_MAX_TOKEN_BYTES, MAX_NUMERIC_DATE, Validation};
pub use verify::{JwtVerifier, VerifiedJwt};

#[cfg(feature = "remote")]
pub use circuit::CircuitConfig;
#[cfg(feature = "remote")]
pub use fetch::{FetchError, FetchFuture, HttpFetcher};
#[cfg(feature = "hyper-client")]
pub use hyper_fetcher::HyperFetcher;
#[cfg(feature = "remote")]
pub use remote::{RemoteJwks, RemoteJwksConfig};
