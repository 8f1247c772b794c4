//! Password verification for tower-authn.
//!
//! - [`hash_password`] / [`verify_password`]: PHC strings, argon2id by default (any argon2
//!   variant and parameters in the PHC string verify).
//! - [`verify_dummy`]: the same work for an unknown user, so timing does not tell an
//!   unknown login from a wrong password.
//! - [`ha1b`] / [`verify_ha1b`]: HA1B digests, `md5(login@domain:domain:password)`.
//!
//! ```
//! use tower_authn_password::{hash_password, verify_password};
//!
//! let phc = hash_password("wonderland").unwrap();
//! assert!(phc.starts_with("$argon2id$"));
//! assert!(verify_password(&phc, "wonderland").unwrap());
//! assert!(!verify_password(&phc, "looking-glass").unwrap());
//! ```

use std::fmt;
use std::sync::OnceLock;

use argon2::Argon2;
use md5::{Digest, Md5};
use password_hash::rand_core::OsRng;
use password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use subtle::ConstantTimeEq;

/// A stored hash could not be used (not a PHC string, or an unsupported algorithm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordError(String);

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unusable password hash: {}", self.0)
    }
}

impl std::error::Error for PasswordError {}

/// Hashes `password` as an argon2id PHC string with a random salt and the crate's default
/// parameters (RFC 9106's second recommended option: m=19 MiB, t=2, p=1).
///
/// # Errors
///
/// [`PasswordError`] if hashing fails (it does not with the default parameters).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`, compared in constant time.
///
/// # Errors
///
/// [`PasswordError`] when `phc` is not a PHC string or names an unsupported algorithm; the
/// caller should treat it as a server fault (the store holds a bad record), not as a
/// wrong password.
pub fn verify_password(phc: &str, password: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|e| PasswordError(e.to_string()))?;
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" | "argon2d" => {}
        other => return Err(PasswordError(format!("unsupported algorithm {other}"))),
    }
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError(e.to_string())),
    }
}

/// Verifies `password` against a fixed dummy hash with the default parameters and returns
/// `false`: the same work as [`verify_password`] on a real default-parameter hash.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("tower-authn dummy password").unwrap_or_default());
    let _ = verify_password(phc, password);
}

/// The HA1B digest of a SIP user: lowercase hex of `md5(login@domain:domain:password)`.
///
/// ```
/// assert_eq!(
///     tower_authn_password::ha1b("alice", "sip.example.com", "secret"),
///     "48d2196d7c9e2829258edccf96575c09"
/// );
/// ```
pub fn ha1b(login: &str, domain: &str, password: &str) -> String {
    let mut md5 = Md5::new();
    for part in [login, "@", domain, ":", domain, ":", password] {
        md5.update(part.as_bytes());
    }
    hex::encode(md5.finalize())
}

/// Parses an HA1B as presented: exactly 32 hex digits, either case.
pub fn parse_ha1b(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Whether the presented HA1B equals the stored one (both hex, any case), in constant time.
/// Anything that is not 32 hex digits never matches.
pub fn verify_ha1b(stored: &str, presented: &str) -> bool {
    match (parse_ha1b(stored), parse_ha1b(presented)) {
        (Some(a), Some(b)) => a.ct_eq(&b).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opentact() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/vectors/opentact.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("shared vectors")).expect("json")
    }

    #[test]
    fn ha1b_vectors() {
        for v in opentact()["ha1b"].as_array().expect("array") {
            let s = |k: &str| v[k].as_str().expect("str").to_owned();
            assert_eq!(ha1b(&s("login"), &s("domain"), &s("password")), s("ha1b"));
            assert!(verify_ha1b(&s("ha1b"), &s("ha1b").to_uppercase()));
            assert!(!verify_ha1b(&s("ha1b"), &s("ha1_for_contrast")));
        }
    }

    #[test]
    fn ha1b_rejects_non_hex() {
        let good = "48d2196d7c9e2829258edccf96575c09";
        assert!(!verify_ha1b(good, "48d2196d7c9e2829258edccf96575c0"));
        assert!(!verify_ha1b(good, "48d2196d7c9e2829258edccf96575c0z"));
        assert!(!verify_ha1b(good, ""));
    }

    #[test]
    fn bad_phc_is_an_error_not_a_mismatch() {
        assert!(verify_password("not a phc", "x").is_err());
        assert!(verify_password("$pbkdf2-sha256$i=1$c2FsdA$aGFzaA", "x").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_ha1b_never_panics(s in ".*") {
            let _ = parse_ha1b(&s);
            let _ = verify_ha1b(&s, &s);
        }
    }
}
