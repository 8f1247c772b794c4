//! Shared helpers for the integration tests: the shared vectors, test keys, token forging.
#![allow(dead_code)]

pub(crate) mod keys;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;

/// One file of the repository's `tests/vectors/`.
pub(crate) fn vector(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("vector JSON")
}

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header and payload text, signed with `key` as `alg`.
pub(crate) fn forge(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{signature}")
}

/// HS256 over exactly this header and payload text.
pub(crate) fn forge_hs256(header: &str, payload: &str, secret: &[u8]) -> String {
    forge(
        header,
        payload,
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
}

/// The Google vector's RSA private key (a generated test key, never Google's).
pub(crate) fn google_rsa_pem() -> String {
    vector("google-id-token")["private_key_pkcs8_pem"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The Google vector's JWKS as text.
pub(crate) fn google_jwks() -> String {
    vector("google-id-token")["jwks"].to_string()
}
