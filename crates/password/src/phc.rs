//! One argon2 check: a PHC string parsed against limits, then recomputed into a memory block
//! the caller owns and compared in constant time.

use std::fmt;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use password_hash::{Output, PasswordHash};
use subtle::ConstantTimeEq;

/// A stored hash could not be used: not a PHC string, not argon2, or parameters past the
/// limits (see [`HashLimits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordError(String);

impl PasswordError {
    pub(crate) fn new(detail: impl Into<String>) -> Self {
        Self(detail.into())
    }
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unusable password hash: {}", self.0)
    }
}

impl std::error::Error for PasswordError {}

/// The most work one stored hash may ask for. A record past them is refused as unusable
/// rather than letting a bad record make a worker allocate or spin without bound.
///
/// ```
/// let limits = tower_authn_password::HashLimits::default();
/// assert_eq!(limits.max_memory_kib, 64 * 1024);
/// assert_eq!(limits.max_time_cost, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// The largest `m` (KiB of argon2 memory) accepted; default 64 MiB.
    pub max_memory_kib: u32,
    /// The largest `t` (passes over the memory) accepted; default 10.
    pub max_time_cost: u32,
}

impl Default for HashLimits {
    fn default() -> Self {
        Self {
            max_memory_kib: 64 * 1024,
            max_time_cost: 10,
        }
    }
}

/// A parsed PHC string, ready to be recomputed.
pub(crate) struct Prepared {
    argon2: Argon2<'static>,
    salt: [u8; 64],
    salt_len: usize,
    expected: Output,
}

impl Prepared {
    /// Parses `phc`: an argon2 variant, its version, parameters within `limits`, a salt and
    /// a hash.
    pub(crate) fn parse(phc: &str, limits: &HashLimits) -> Result<Self, PasswordError> {
        let unusable = |e: password_hash::Error| PasswordError::new(e.to_string());
        let parsed = PasswordHash::new(phc).map_err(unusable)?;
        let algorithm = match parsed.algorithm.as_str() {
            "argon2id" => Algorithm::Argon2id,
            "argon2i" => Algorithm::Argon2i,
            "argon2d" => Algorithm::Argon2d,
            other => return Err(PasswordError::new(format!("unsupported algorithm {other}"))),
        };
        // The PHC format: a string without `v=` is argon2 version 0x10 (the reference
        // implementation's rule; argon2 0.5's own verifier would use 0x13).
        let version = match parsed.version {
            None => Version::V0x10,
            Some(v) => Version::try_from(v)
                .map_err(|_| PasswordError::new(format!("unsupported argon2 version {v}")))?,
        };
        let params = Params::try_from(&parsed).map_err(unusable)?;
        if params.m_cost() > limits.max_memory_kib {
            return Err(PasswordError::new(format!(
                "m={} KiB is over the limit of {} KiB",
                params.m_cost(),
                limits.max_memory_kib
            )));
        }
        if params.t_cost() > limits.max_time_cost {
            return Err(PasswordError::new(format!(
                "t={} is over the limit of {}",
                params.t_cost(),
                limits.max_time_cost
            )));
        }
        let expected = parsed
            .hash
            .ok_or_else(|| PasswordError::new("no hash in the PHC string"))?;
        let mut salt = [0u8; 64];
        let salt_len = parsed
            .salt
            .ok_or_else(|| PasswordError::new("no salt in the PHC string"))?
            .decode_b64(&mut salt)
            .map_err(unusable)?
            .len();
        if salt_len < argon2::MIN_SALT_LEN {
            return Err(PasswordError::new(format!(
                "salt of {salt_len} bytes is shorter than {}",
                argon2::MIN_SALT_LEN
            )));
        }
        Ok(Self {
            argon2: Argon2::new(algorithm, version, params),
            salt,
            salt_len,
            expected,
        })
    }

    /// The argon2 parameters.
    pub(crate) fn params(&self) -> &Params {
        self.argon2.params()
    }

    /// Recomputes the hash of `password` in `memory` (grown when too small, otherwise reused
    /// as is) and compares it with the stored one in constant time: whether it matched.
    pub(crate) fn check(
        &self,
        password: &[u8],
        memory: &mut Vec<Block>,
    ) -> Result<bool, PasswordError> {
        let blocks = self.params().block_count();
        if memory.len() < blocks {
            // Free the old block before taking the new one, and take exactly what is needed:
            // a worker never holds more than one block of the largest accepted size.
            *memory = Vec::new();
            memory.reserve_exact(blocks);
            memory.resize(blocks, Block::default());
        }
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..self.expected.len()];
        self.argon2
            .hash_password_into_with_memory(
                password,
                &self.salt[..self.salt_len],
                out,
                &mut memory[..blocks],
            )
            .map_err(|e| PasswordError::new(e.to_string()))?;
        Ok(out.ct_eq(self.expected.as_bytes()).into())
    }
}

/// The hash verified for unknown users: argon2id with the crate's default parameters
/// (m=19456 KiB, t=2, p=1, the ones [`hash_password`](crate::hash_password) uses), a fixed
/// salt, and the hash of a fixed password. A constant, so the dummy verification can never
/// silently turn into no work; [`HashPoolBuilder::dummy_hash`](crate::HashPoolBuilder::dummy_hash)
/// replaces it when the stored hashes use other parameters.
pub const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$dG93ZXItYXV0aG4tZHVtbXk$tQf2LZjnHCxD8QpTa4uy5+gHP5eKjBjgc3HZSodQGZw";

#[cfg(test)]
mod tests {
    use super::*;

    const DUMMY_PASSWORD: &str = "tower-authn dummy password";

    fn check(phc: &str, password: &str) -> Result<bool, PasswordError> {
        let prepared = Prepared::parse(phc, &HashLimits::default())?;
        prepared.check(password.as_bytes(), &mut Vec::new())
    }

    #[test]
    fn dummy_is_a_real_hash_with_the_default_parameters() {
        let prepared = Prepared::parse(DUMMY_PHC, &HashLimits::default()).expect("dummy parses");
        let (ours, default) = (prepared.params(), Argon2::default().params().clone());
        assert_eq!(
            (ours.m_cost(), ours.t_cost(), ours.p_cost()),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
        assert!(DUMMY_PHC.starts_with("$argon2id$v=19$"));
        // It is the hash of a known password: checking it does the whole argon2 work.
        assert!(check(DUMMY_PHC, DUMMY_PASSWORD).expect("usable"));
        assert!(!check(DUMMY_PHC, "anything else").expect("usable"));
    }

    #[test]
    fn every_argon2_variant_and_version_verifies() {
        use password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").expect("salt");
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d, Algorithm::Argon2id] {
            for version in [Version::V0x10, Version::V0x13] {
                for (m, t, p) in [(64, 1, 1), (256, 3, 2), (1024, 2, 4)] {
                    let params = Params::new(m, t, p, Some(24)).expect("params");
                    let phc = Argon2::new(algorithm, version, params)
                        .hash_password(b"hunter2", &salt)
                        .expect("hash")
                        .to_string();
                    assert!(phc.starts_with(&format!("${algorithm}$")), "{phc}");
                    assert!(check(&phc, "hunter2").expect("usable"), "{phc}");
                    assert!(!check(&phc, "hunter3").expect("usable"), "{phc}");
                }
            }
        }
    }

    #[test]
    fn reference_vectors_of_other_implementations_verify() {
        // The reference implementation's vectors (phc-winner-argon2 `src/test.c`, as the
        // argon2 crate's tests carry them): strings this crate never produced, all for
        // "password". They cover v=16 with and without `v=`, keyid and associated data.
        let vectors = [
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
            "$argon2i$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
            "$argon2i$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
            "$argon2i$v=19$m=65536,t=1,p=1$c29tZXNhbHQAAAAAAAAAAA$+r0d29hqEB0yasKr55ZgICsQGSkl0v0kgwhd+U3wyRo",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2d$v=19$m=65536,t=2,p=1$YzI5dFpYTmhiSFFBQUFBQUFBQUFBQQ$Jxy74cswY2mq9y+u+iJcJy8EqOp4t/C7DWDzGwGB3IM",
            "$argon2d$v=19$m=65536,t=2,p=1,keyid=8PDw8A$YzI5dFpYTmhiSFFBQUFBQUFBQUFBQQ$Jxy74cswY2mq9y+u+iJcJy8EqOp4t/C7DWDzGwGB3IM",
            "$argon2d$v=16$m=32,t=2,p=3,data=Dw8PDw8P$AAAAAAAAAAA$KnH4gniiaFnDvlA1xev3yovC4cnrrI6tnHOYtmja90o",
        ];
        for phc in vectors {
            assert!(check(phc, "password").expect("usable"), "{phc}");
            assert!(!check(phc, "sassword").expect("usable"), "{phc}");
        }
    }

    #[test]
    fn unusable_hashes_are_errors_not_mismatches() {
        for phc in [
            "",
            "not a phc",
            "$pbkdf2-sha256$i=1$c2FsdA$aGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=18$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=19456,t=2,p=1,x=3$c29tZXNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=19456,t=0,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaGhhc2hoYXNo",
        ] {
            assert!(check(phc, "x").is_err(), "{phc:?}");
        }
    }

    #[test]
    fn parameters_past_the_limits_are_refused_before_any_allocation() {
        let huge_memory = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let huge_time = "$argon2id$v=19$m=64,t=4294967295,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        for phc in [huge_memory, huge_time] {
            let e = Prepared::parse(phc, &HashLimits::default())
                .err()
                .expect("refused");
            assert!(e.to_string().contains("over the limit"), "{e}");
        }
        let tight = HashLimits {
            max_memory_kib: 16 * 1024,
            max_time_cost: 10,
        };
        assert!(Prepared::parse(DUMMY_PHC, &tight).is_err());
    }

    #[test]
    fn memory_is_reused_and_gives_the_same_answers() {
        let big = Prepared::parse(
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
            &HashLimits::default(),
        )
        .expect("big");
        let dummy = Prepared::parse(DUMMY_PHC, &HashLimits::default()).expect("dummy");
        let mut memory = Vec::new();
        assert!(
            dummy
                .check(DUMMY_PASSWORD.as_bytes(), &mut memory)
                .expect("ok")
        );
        let (ptr, capacity) = (memory.as_ptr(), memory.capacity());
        assert_eq!(capacity, dummy.params().block_count());
        for _ in 0..3 {
            assert!(
                dummy
                    .check(DUMMY_PASSWORD.as_bytes(), &mut memory)
                    .expect("ok")
            );
            assert_eq!((memory.as_ptr(), memory.capacity()), (ptr, capacity));
        }
        // A larger hash grows the block once, to exactly its size; a smaller one after it
        // reuses the large block (dirty from the previous hash) and still answers right.
        assert!(big.check(b"password", &mut memory).expect("ok"));
        assert_eq!(memory.capacity(), big.params().block_count());
        let (ptr, capacity) = (memory.as_ptr(), memory.capacity());
        assert!(
            dummy
                .check(DUMMY_PASSWORD.as_bytes(), &mut memory)
                .expect("ok")
        );
        assert!(!dummy.check(b"wrong", &mut memory).expect("ok"));
        assert!(big.check(b"password", &mut memory).expect("ok"));
        assert_eq!((memory.as_ptr(), memory.capacity()), (ptr, capacity));
    }
}
