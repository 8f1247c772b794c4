//! Keys: [`VerifyingKey`] and the in-memory [`KeySet`] tokens are checked against, and the
//! [`SigningKey`] an issuer signs with.
//!
//! A key's type fixes its algorithm family, and each key carries its own algorithm
//! allow-list (a subset of that family). A token's `kid` only ever selects among the keys of
//! the set; nothing in a token (`jku`, `x5u`, `jwk`, `x5c`) can add a key.
//!
//! ```
//! use tower_authn_jwt::{Algorithm, KeySet, SigningKey, VerifyingKey};
//!
//! let secret = b"an HMAC secret of at least 32 bytes!";
//! let key = VerifyingKey::hmac(secret)?.with_kid("k1"); // HS256 only
//! assert_eq!(key.algorithms(), [Algorithm::HS256]);
//! let wider = VerifyingKey::hmac(secret)?.with_algorithms([Algorithm::HS256, Algorithm::HS512])?;
//! assert!(wider.allows(Algorithm::HS512));
//! let keys = KeySet::new().with_key(key);
//! assert_eq!(keys.len(), 1);
//!
//! // Issuing refuses secrets shorter than the hash (32 bytes for HS256).
//! assert!(SigningKey::hmac(Algorithm::HS256, b"short").is_err());
//! # Ok::<(), tower_authn_jwt::KeyError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Once};

use hmac::{Hmac, Mac};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::b64;

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// The longest signature any supported key can check: RSA with the largest modulus the `rsa`
/// crate takes (4096 bits). A longer one verifies under no key.
pub(crate) const MAX_SIGNATURE_BYTES: usize = 512;

/// A key could not be built: wrong format, too small, or an algorithm outside its family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError(Cow<'static, str>);

impl KeyError {
    pub(crate) fn new(detail: impl Into<Cow<'static, str>>) -> Self {
        Self(detail.into())
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid key: {}", self.0)
    }
}

impl std::error::Error for KeyError {}

/// Installs jsonwebtoken's pure-Rust crypto provider once, before any use.
///
/// jsonwebtoken picks its provider from its crate features; if another crate in the build also
/// enabled `aws_lc_rs`, it would pick none and panic on first use. Installing ours first makes
/// that impossible; if someone installed a provider before us, theirs is kept.
pub(crate) fn ensure_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let provider = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
        if jsonwebtoken::crypto::CryptoProvider::install_default(provider).is_err() {
            tracing::debug!("a jsonwebtoken crypto provider was already installed; keeping it");
        }
    });
}

fn probe_sign(key: &EncodingKey, alg: Algorithm) -> bool {
    jsonwebtoken::crypto::sign(b"probe", key, alg.to_jsonwebtoken()).is_ok()
}

/// A public key (or HMAC secret) that tokens are verified with.
///
/// Cheap to clone. `Debug` never prints key material.
#[derive(Clone)]
pub struct VerifyingKey {
    inner: Arc<VerifyingInner>,
}

#[derive(Clone)]
struct VerifyingInner {
    kid: Option<String>,
    family: KeyFamily,
    algorithms: Vec<Algorithm>,
    key: Prepared,
}

/// The verification state, prepared once when the key is built: nothing is parsed or keyed
/// per token.
#[derive(Clone)]
enum Prepared {
    /// The HMAC keyed for each hash (the inner and outer pads already absorbed); a verify
    /// clones the one it needs.
    Hmac(Box<HmacKeys>),
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed(ed25519_dalek::VerifyingKey),
}

#[derive(Clone)]
struct HmacKeys {
    hs256: Hmac<Sha256>,
    hs384: Hmac<Sha384>,
    hs512: Hmac<Sha512>,
}

impl HmacKeys {
    fn new(secret: &[u8]) -> Option<Self> {
        Some(Self {
            hs256: Hmac::new_from_slice(secret).ok()?,
            hs384: Hmac::new_from_slice(secret).ok()?,
            hs512: Hmac::new_from_slice(secret).ok()?,
        })
    }
}

/// Whether `mac` (keyed) over `input` is `signature`: a constant-time comparison of the whole
/// tag (`verify_slice` refuses a truncated one).
fn hmac_matches<M: Mac + Clone>(keyed: &M, input: &[u8], signature: &[u8]) -> bool {
    let mut mac = keyed.clone();
    mac.update(input);
    mac.verify_slice(signature).is_ok()
}

fn rsa_matches<H: Digest>(
    key: &RsaPublicKey,
    scheme: impl rsa::traits::SignatureScheme,
    input: &[u8],
    signature: &[u8],
) -> bool {
    key.verify(scheme, &H::digest(input), signature).is_ok()
}

/// One HS256 check under `secret`, keyed for this call only (for [`crate::Hs256Jws`], whose
/// secret comes with each call). False for an empty secret.
pub(crate) fn hs256_matches(secret: &[u8], input: &[u8], signature: &[u8]) -> bool {
    !secret.is_empty()
        && Hmac::<Sha256>::new_from_slice(secret)
            .is_ok_and(|keyed| hmac_matches(&keyed, input, signature))
}

impl Prepared {
    /// Checks `signature` (decoded) over `input` for `alg`, which the caller matched to the
    /// key's family.
    fn verify(&self, alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        match (self, alg) {
            (Self::Hmac(k), Algorithm::HS256) => hmac_matches(&k.hs256, input, signature),
            (Self::Hmac(k), Algorithm::HS384) => hmac_matches(&k.hs384, input, signature),
            (Self::Hmac(k), Algorithm::HS512) => hmac_matches(&k.hs512, input, signature),
            (Self::Rsa(k), Algorithm::RS256) => {
                rsa_matches::<Sha256>(k, Pkcs1v15Sign::new::<Sha256>(), input, signature)
            }
            (Self::Rsa(k), Algorithm::RS384) => {
                rsa_matches::<Sha384>(k, Pkcs1v15Sign::new::<Sha384>(), input, signature)
            }
            (Self::Rsa(k), Algorithm::RS512) => {
                rsa_matches::<Sha512>(k, Pkcs1v15Sign::new::<Sha512>(), input, signature)
            }
            (Self::Rsa(k), Algorithm::PS256) => {
                rsa_matches::<Sha256>(k, Pss::new::<Sha256>(), input, signature)
            }
            (Self::Rsa(k), Algorithm::PS384) => {
                rsa_matches::<Sha384>(k, Pss::new::<Sha384>(), input, signature)
            }
            (Self::Rsa(k), Algorithm::PS512) => {
                rsa_matches::<Sha512>(k, Pss::new::<Sha512>(), input, signature)
            }
            (Self::P256(k), Algorithm::ES256) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(input, &sig).is_ok()),
            (Self::P384(k), Algorithm::ES384) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(input, &sig).is_ok()),
            (Self::Ed(k), Algorithm::EdDSA) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(input, &sig).is_ok()),
            _ => false,
        }
    }

    /// Whether an EC key's curve is the one `alg` needs (other families: always).
    fn curve_fits(&self, alg: Algorithm) -> bool {
        match self {
            Self::P256(_) => alg == Algorithm::ES256,
            Self::P384(_) => alg == Algorithm::ES384,
            _ => true,
        }
    }
}

impl VerifyingKey {
    fn build(family: KeyFamily, algorithms: Vec<Algorithm>, key: Prepared) -> Self {
        Self {
            inner: Arc::new(VerifyingInner {
                kid: None,
                family,
                algorithms,
                key,
            }),
        }
    }

    /// An HMAC secret; allows `HS256` only, unless
    /// [`with_algorithms`](Self::with_algorithms) says otherwise
    /// (`.with_algorithms([Algorithm::HS384, Algorithm::HS512])`). A secret shared for one
    /// algorithm is never silently good for the others.
    ///
    /// Verification accepts secrets of any non-empty length, because platforms hand out
    /// shorter ones; [`SigningKey::hmac`] refuses them for issuing.
    ///
    /// # Errors
    ///
    /// An empty secret.
    pub fn hmac(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(KeyError::new("empty HMAC secret"));
        }
        let keys = HmacKeys::new(secret).ok_or_else(|| KeyError::new("unusable HMAC secret"))?;
        Ok(Self::build(
            KeyFamily::Hmac,
            vec![Algorithm::HS256],
            Prepared::Hmac(Box::new(keys)),
        ))
    }

    /// An RSA public key in PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`); allows `RS256`
    /// until narrowed or widened with [`with_algorithms`](Self::with_algorithms).
    ///
    /// # Errors
    ///
    /// Not an RSA public key, or a modulus under 2048 bits.
    pub fn rsa_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let key = DecodingKey::from_rsa_pem(pem.as_ref())
            .map_err(|_| KeyError::new("not an RSA public key in PEM"))?;
        let public = RsaPublicKey::from_pkcs1_der(key.as_bytes())
            .map_err(|_| KeyError::new("not an RSA public key"))?;
        Self::rsa_public(public)
    }

    /// An RSA public key from its big-endian modulus and exponent; allows `RS256`.
    ///
    /// # Errors
    ///
    /// Not a usable RSA key, or a modulus under 2048 bits.
    pub fn rsa_components(modulus: &[u8], exponent: &[u8]) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let public = RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(modulus),
            rsa::BigUint::from_bytes_be(exponent),
        )
        .map_err(|_| KeyError::new("not a usable RSA public key"))?;
        Self::rsa_public(public)
    }

    fn rsa_public(public: RsaPublicKey) -> Result<Self, KeyError> {
        if public.n().bits() < MIN_RSA_BITS {
            return Err(KeyError::new("RSA modulus shorter than 2048 bits"));
        }
        Ok(Self::build(
            KeyFamily::Rsa,
            vec![Algorithm::RS256],
            Prepared::Rsa(public),
        ))
    }

    /// An EC public key in PEM (`BEGIN PUBLIC KEY`); the curve fixes the algorithm: P-256 is
    /// `ES256`, P-384 is `ES384`.
    ///
    /// # Errors
    ///
    /// Not an EC public key on P-256 or P-384.
    pub fn ec_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let key = DecodingKey::from_ec_pem(pem.as_ref())
            .map_err(|_| KeyError::new("not an EC public key in PEM"))?;
        Self::ec_point(key.as_bytes())
    }

    /// An EC public key from its SEC1 point; the curve fixes the algorithm.
    pub(crate) fn ec_point(point: &[u8]) -> Result<Self, KeyError> {
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(point) {
            return Ok(Self::build(
                KeyFamily::Ec,
                vec![Algorithm::ES256],
                Prepared::P256(key),
            ));
        }
        if let Ok(key) = p384::ecdsa::VerifyingKey::from_sec1_bytes(point) {
            return Ok(Self::build(
                KeyFamily::Ec,
                vec![Algorithm::ES384],
                Prepared::P384(key),
            ));
        }
        Err(KeyError::new("not a point on P-256 or P-384"))
    }

    /// An Ed25519 public key in PEM (`BEGIN PUBLIC KEY`); allows `EdDSA`.
    ///
    /// # Errors
    ///
    /// Not an Ed25519 public key.
    pub fn ed_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let key = DecodingKey::from_ed_pem(pem.as_ref())
            .map_err(|_| KeyError::new("not an Ed25519 public key in PEM"))?;
        Self::ed_public(key.as_bytes())
    }

    /// An Ed25519 public key from its 32 bytes.
    pub(crate) fn ed_public(bytes: &[u8]) -> Result<Self, KeyError> {
        let Ok(bytes) = <&[u8; 32]>::try_from(bytes) else {
            return Err(KeyError::new("an Ed25519 public key is 32 bytes"));
        };
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| KeyError::new("not an Ed25519 public key"))?;
        Ok(Self::build(
            KeyFamily::Ed,
            vec![Algorithm::EdDSA],
            Prepared::Ed(key),
        ))
    }

    /// A key from one JWK (RFC 7517), as JSON text. See [`KeySet::from_jwks`] for the rules.
    ///
    /// # Errors
    ///
    /// Not a usable signature-verification JWK.
    pub fn from_jwk(jwk: &str) -> Result<Self, KeyError> {
        let value: Value =
            serde_json::from_str(jwk).map_err(|_| KeyError::new("a JWK is a JSON object"))?;
        crate::jwk::parse_jwk(&value, true)
    }

    /// Sets the key id that a token's `kid` header selects this key by.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).kid = Some(kid.into());
        self
    }

    /// Replaces the algorithm allow-list.
    ///
    /// # Errors
    ///
    /// An empty list, or an algorithm outside the key's family (or, for EC keys, its curve).
    pub fn with_algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Result<Self, KeyError> {
        let mut list: Vec<Algorithm> = Vec::new();
        for alg in algorithms {
            if alg.family() != self.inner.family {
                return Err(KeyError::new("algorithm outside the key's family"));
            }
            if !self.inner.key.curve_fits(alg) {
                return Err(KeyError::new("algorithm does not match the key's curve"));
            }
            if !list.contains(&alg) {
                list.push(alg);
            }
        }
        if list.is_empty() {
            return Err(KeyError::new("empty algorithm list"));
        }
        Arc::make_mut(&mut self.inner).algorithms = list;
        Ok(self)
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }

    /// The key family.
    pub fn family(&self) -> KeyFamily {
        self.inner.family
    }

    /// The algorithms this key verifies.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.algorithms
    }

    /// Whether this key may verify a token signed with `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        alg.family() == self.inner.family && self.inner.algorithms.contains(&alg)
    }

    /// Checks `signature` (decoded from the received base64url) over `signing_input` (the
    /// received `header.payload` bytes) with the prepared key. False whenever `alg` is not
    /// allowed for this key.
    pub(crate) fn verify_signature(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> bool {
        self.allows(alg) && self.inner.key.verify(alg, signing_input, signature)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("VerifyingKey");
        d.field("kid", &self.inner.kid)
            .field("family", &self.inner.family)
            .field("algorithms", &self.inner.algorithms);
        if self.inner.family == KeyFamily::Hmac {
            d.field("secret", &"[REDACTED]");
        }
        d.finish()
    }
}

/// The keys tokens are verified against. `kid` only selects among these keys.
///
/// Cheap to clone (the keys are shared).
///
/// ```
/// use tower_authn_jwt::KeySet;
///
/// let jwks = r#"{"keys":[{"kty":"oct","kid":"a","alg":"HS256",
///   "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}"#;
/// let keys = KeySet::from_jwks(jwks)?;
/// assert_eq!(keys.get("a").count(), 1);
/// # Ok::<(), tower_authn_jwt::KeyError>(())
/// ```
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Arc<Vec<VerifyingKey>>,
}

impl KeySet {
    /// An empty set (every verification fails closed with 503 until keys are added).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key.
    pub fn with_key(mut self, key: VerifyingKey) -> Self {
        Arc::make_mut(&mut self.keys).push(key);
        self
    }

    /// A set of `keys`.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Self {
            keys: Arc::new(keys.into_iter().collect()),
        }
    }

    /// A set from a JWKS document (`{"keys": [...]}`, RFC 7517 §5).
    ///
    /// Keys that cannot verify signatures are skipped, not fatal: `use` other than `sig`,
    /// `key_ops` without `verify`, an unknown `kty`, `crv` or `alg`, RSA under 2048 bits.
    /// A key's `alg`, when present, is its only allowed algorithm; without it, RSA keys allow
    /// `RS256`, EC keys the algorithm of their curve, OKP keys `EdDSA`, `oct` keys `HS256`.
    /// `x5c`, `x5u` and `x5t` members are ignored.
    ///
    /// # Errors
    ///
    /// The document is not a JSON object with a `keys` array.
    pub fn from_jwks(jwks: &str) -> Result<Self, KeyError> {
        crate::jwk::parse_jwks(jwks.as_bytes(), true)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys with key id `kid`.
    pub fn get<'a>(&'a self, kid: &'a str) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        self.keys.iter().filter(move |k| k.kid() == Some(kid))
    }

    /// Whether a key has key id `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.get(kid).next().is_some()
    }

    /// Every key.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.iter()
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.keys.iter()).finish()
    }
}

impl FromIterator<VerifyingKey> for KeySet {
    fn from_iter<T: IntoIterator<Item = VerifyingKey>>(iter: T) -> Self {
        Self::from_keys(iter)
    }
}

/// A private key (or HMAC secret) an issuer signs with, bound to one algorithm.
///
/// `Debug` never prints key material.
///
/// ```
/// use tower_authn_jwt::{Algorithm, SigningKey};
///
/// let key = SigningKey::hmac(Algorithm::HS256, [7u8; 32])?.with_kid("2024-01");
/// assert_eq!(key.algorithm(), Algorithm::HS256);
/// assert!(!format!("{key:?}").contains("7, 7"));
/// # Ok::<(), tower_authn_jwt::KeyError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: Arc<EncodingKey>,
}

impl SigningKey {
    fn build(algorithm: Algorithm, key: EncodingKey) -> Self {
        Self {
            kid: None,
            algorithm,
            key: Arc::new(key),
        }
    }

    /// An HMAC secret for `HS256`, `HS384` or `HS512`.
    ///
    /// # Errors
    ///
    /// A non-HMAC algorithm, or a secret shorter than the hash (32, 48 or 64 bytes;
    /// RFC 7518 §3.2).
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        if algorithm.family() == KeyFamily::Hmac && secret.len() < algorithm.min_hmac_secret_len() {
            return Err(KeyError::new(
                "HMAC secret shorter than the hash; RFC 7518 §3.2 forbids it for issuing",
            ));
        }
        Self::hmac_any_length(algorithm, secret)
    }

    /// An HMAC secret of any non-empty length, for a platform that already handed out a
    /// shorter secret (a CCAI company secret, an existing Opentact deployment). Prefer
    /// [`hmac`](Self::hmac) for anything new.
    ///
    /// # Errors
    ///
    /// A non-HMAC algorithm, or an empty secret.
    pub fn hmac_any_length(
        algorithm: Algorithm,
        secret: impl AsRef<[u8]>,
    ) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let secret = secret.as_ref();
        if algorithm.family() != KeyFamily::Hmac {
            return Err(KeyError::new("not an HMAC algorithm"));
        }
        if secret.is_empty() {
            return Err(KeyError::new("empty HMAC secret"));
        }
        Ok(Self::build(algorithm, EncodingKey::from_secret(secret)))
    }

    /// An RSA private key in PEM (PKCS#1 or PKCS#8) for an `RS*` or `PS*` algorithm.
    ///
    /// The pure-Rust `rsa` crate's private-key operations are not constant-time (RUSTSEC-2023-0071);
    /// prefer `ES256`, `EdDSA` or HMAC for tokens you issue, and RSA where a peer demands it.
    ///
    /// # Errors
    ///
    /// A non-RSA algorithm, not an RSA private key, or a modulus under 2048 bits.
    pub fn rsa_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        if algorithm.family() != KeyFamily::Rsa {
            return Err(KeyError::new("not an RSA algorithm"));
        }
        let key = EncodingKey::from_rsa_pem(pem.as_ref())
            .map_err(|_| KeyError::new("not an RSA private key in PEM"))?;
        let private = rsa::RsaPrivateKey::from_pkcs1_der(key.inner())
            .map_err(|_| KeyError::new("not an RSA private key"))?;
        if private.n().bits() < MIN_RSA_BITS {
            return Err(KeyError::new("RSA modulus shorter than 2048 bits"));
        }
        Ok(Self::build(algorithm, key))
    }

    /// An EC private key in PKCS#8 PEM; the curve fixes the algorithm (P-256: `ES256`,
    /// P-384: `ES384`).
    ///
    /// # Errors
    ///
    /// Not a PKCS#8 EC private key on P-256 or P-384.
    pub fn ec_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let key = EncodingKey::from_ec_pem(pem.as_ref())
            .map_err(|_| KeyError::new("not a PKCS#8 EC private key in PEM"))?;
        for alg in [Algorithm::ES256, Algorithm::ES384] {
            if probe_sign(&key, alg) {
                return Ok(Self::build(alg, key));
            }
        }
        Err(KeyError::new("EC key not on P-256 or P-384"))
    }

    /// An Ed25519 private key in PKCS#8 PEM, for `EdDSA`.
    ///
    /// # Errors
    ///
    /// Not a PKCS#8 Ed25519 private key.
    pub fn ed_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        ensure_crypto_provider();
        let key = EncodingKey::from_ed_pem(pem.as_ref())
            .map_err(|_| KeyError::new("not a PKCS#8 Ed25519 private key in PEM"))?;
        if !probe_sign(&key, Algorithm::EdDSA) {
            return Err(KeyError::new("not an Ed25519 private key"));
        }
        Ok(Self::build(Algorithm::EdDSA, key))
    }

    /// Sets the key id written to the `kid` header.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The matching [`VerifyingKey`] (same `kid`, allowing only this key's algorithm).
    ///
    /// # Errors
    ///
    /// The public part cannot be derived (a malformed key).
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        let key = match self.algorithm.family() {
            KeyFamily::Hmac => VerifyingKey::hmac(self.key.inner())?,
            _ => {
                let jwk = self.public_jwk()?;
                crate::jwk::parse_jwk(&jwk, false)?
            }
        };
        let key = key.with_algorithms([self.algorithm])?;
        Ok(match &self.kid {
            Some(kid) => key.with_kid(kid.clone()),
            None => key,
        })
    }

    /// The public JWK of an asymmetric key (`kty`, `kid`, `alg`, `use: "sig"` and the public
    /// parameters), to publish in a JWKS.
    ///
    /// # Errors
    ///
    /// An HMAC key (its "public" part is the secret), or a malformed key.
    pub fn public_jwk(&self) -> Result<Value, KeyError> {
        let mut jwk = Map::new();
        match self.algorithm.family() {
            KeyFamily::Hmac => return Err(KeyError::new("an HMAC key has no public part")),
            KeyFamily::Rsa => {
                let private = rsa::RsaPrivateKey::from_pkcs1_der(self.key.inner())
                    .map_err(|_| KeyError::new("not an RSA private key"))?;
                jwk.insert("kty".into(), "RSA".into());
                jwk.insert("n".into(), b64::encode(private.n().to_bytes_be()).into());
                jwk.insert("e".into(), b64::encode(private.e().to_bytes_be()).into());
            }
            KeyFamily::Ec => {
                let public = jsonwebtoken::jwk::Jwk::from_encoding_key(
                    &self.key,
                    self.algorithm.to_jsonwebtoken(),
                )
                .map_err(|_| KeyError::new("not an EC private key"))?;
                let jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(ec) = public.algorithm
                else {
                    return Err(KeyError::new("not an EC private key"));
                };
                let crv = if self.algorithm == Algorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                jwk.insert("kty".into(), "EC".into());
                jwk.insert("crv".into(), crv.into());
                jwk.insert("x".into(), ec.x.into());
                jwk.insert("y".into(), ec.y.into());
            }
            KeyFamily::Ed => {
                use ed25519_dalek::pkcs8::DecodePrivateKey;
                let private = ed25519_dalek::SigningKey::from_pkcs8_der(self.key.inner())
                    .map_err(|_| KeyError::new("not an Ed25519 private key"))?;
                jwk.insert("kty".into(), "OKP".into());
                jwk.insert("crv".into(), "Ed25519".into());
                jwk.insert(
                    "x".into(),
                    b64::encode(private.verifying_key().as_bytes()).into(),
                );
            }
        }
        if let Some(kid) = &self.kid {
            jwk.insert("kid".into(), kid.clone().into());
        }
        jwk.insert("alg".into(), self.algorithm.as_str().into());
        jwk.insert("use".into(), "sig".into());
        Ok(Value::Object(jwk))
    }

    /// Signs `signing_input` (`header.payload`), returning the base64url signature.
    pub(crate) fn sign(&self, signing_input: &[u8]) -> Result<String, KeyError> {
        jsonwebtoken::crypto::sign(signing_input, &self.key, self.algorithm.to_jsonwebtoken())
            .map_err(|_| KeyError::new("signing failed"))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("key", &"[REDACTED]")
            .finish()
    }
}
