//! Password verification for tower-authn.
//!
//! - [`HashPool`]: the way a server checks passwords. A fixed set of worker threads (the
//!   available parallelism by default) behind a bounded queue (256 by default); each worker
//!   reuses one argon2 memory block, so hashing memory never exceeds workers x one block,
//!   and a check past the queue is refused at once with [`VerifyError::Busy`] (answer 503,
//!   never skip the check). [`HashPool::verify_dummy`] does the same work for an unknown
//!   user, through the same queue, so timing does not tell an unknown login from a wrong
//!   password. [`HashPool::global`] is the process-wide default.
//! - [`hash_password`] / [`verify_password`] / [`verify_dummy`]: the same checks on the
//!   calling thread, with a fresh memory block each time (setup code, tools, tests).
//! - Any argon2 variant (argon2id, argon2i, argon2d), version and parameters verify, within
//!   [`HashLimits`] (64 MiB, t=10 by default): a stored hash past them is refused as
//!   unusable, never allocated.
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

mod phc;
mod pool;

use argon2::Argon2;
use md5::{Digest, Md5};
use password_hash::rand_core::OsRng;
use password_hash::{PasswordHasher, SaltString};
use subtle::ConstantTimeEq;

pub use phc::{DUMMY_PHC, HashLimits, PasswordError};
pub use pool::{
    DEFAULT_QUEUE, HashPool, HashPoolBuilder, PoolBuildError, PoolStats, Verification, VerifyError,
};

use phc::Prepared;

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
        .map_err(|e| PasswordError::new(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`, recomputed on the calling thread in a
/// fresh memory block and compared in constant time. A server should use
/// [`HashPool::verify`], which bounds how many run at once and reuses its memory.
///
/// # Errors
///
/// [`PasswordError`] when `phc` is not an argon2 PHC string or asks for more than
/// [`HashLimits::default`]; the caller should treat it as a server fault (the store holds a
/// bad record), not as a wrong password.
pub fn verify_password(phc: &str, password: &str) -> Result<bool, PasswordError> {
    let prepared = Prepared::parse(phc, &HashLimits::default())?;
    prepared.check(password.as_bytes(), &mut Vec::new())
}

/// Checks `password` against [`DUMMY_PHC`] on the calling thread: the work of
/// [`verify_password`] on a default-parameter hash, for an unknown user. A server should use
/// [`HashPool::verify_dummy`].
pub fn verify_dummy(password: &str) {
    // DUMMY_PHC is a constant that a unit test parses and checks; the work always runs.
    let result = verify_password(DUMMY_PHC, password);
    debug_assert!(result.is_ok(), "DUMMY_PHC must stay usable");
    std::hint::black_box(result.ok());
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

    #[test]
    fn hash_then_verify() {
        let phc = hash_password("wonderland").expect("hash");
        assert!(verify_password(&phc, "wonderland").expect("usable"));
        assert!(!verify_password(&phc, "wonderlanD").expect("usable"));
        assert!(!verify_password(&phc, "").expect("usable"));
    }

    proptest::proptest! {
        #[test]
        fn parse_ha1b_never_panics(s in ".*") {
            let _ = parse_ha1b(&s);
            let _ = verify_ha1b(&s, &s);
        }
    }
}
