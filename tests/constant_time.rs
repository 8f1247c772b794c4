//! Secrets are compared in constant time, only through `subtle`.
//!
//! Key and token digests are guarded by their type: `KeyDigest` has no `PartialEq` (a
//! `compile_fail` doctest in `crates/core/src/store.rs` proves `==` does not compile), so every
//! comparison of stored digests goes through `KeyDigest::ct_eq`. The other secrets compared
//! are plain bytes, which `==` would compare with an early exit: the request hash of a Wildix
//! signature, an argon2 output, an HA1B; a JWT's HMAC (the HS256 MAC of a Wildix signature
//! included) goes through `hmac::Mac::verify_slice` (constant time, whole tag); RSA and ECDSA
//! checks compare nothing secret. No type stops `==` on bytes, so this
//! test reads the functions that compare them and fails when one stops calling `ct_eq` or
//! starts using `==` / `!=`: a change there has to change this test too, on purpose.

/// The body (from its opening brace to the matching close) of the first item that follows
/// `anchor` in `source`.
fn body_after<'a>(source: &'a str, anchor: &str) -> &'a str {
    let start = source
        .find(anchor)
        .unwrap_or_else(|| panic!("`{anchor}` is gone: update this test with the code"));
    let open = start + source[start..].find('{').expect("a body");
    let mut depth = 0usize;
    for (i, c) in source[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &source[open..=open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces after `{anchor}`")
}

/// (what, the source, the item that compares, the constant-time comparison it must make)
const SITES: &[(&str, &str, &str, &str)] = &[
    (
        // The words' differences are ORed together (no branch), then tested once by subtle.
        "the digest comparison itself",
        include_str!("../crates/core/src/store.rs"),
        "pub fn ct_eq(&self, other: &KeyDigest)",
        "diff.ct_eq(&0)",
    ),
    (
        "the shared token",
        include_str!("../crates/core/src/verifiers.rs"),
        "impl Verifier<TokenCredential> for SharedTokenVerifier",
        "d.ct_eq(&presented)",
    ),
    (
        // Signed requests use the JWT crate's HS256 check, which keys an HMAC and compares
        // through the site below.
        "the Wildix HS256 MAC",
        include_str!("../crates/jwt/src/hs256.rs"),
        "pub fn verify(&self, secret: &[u8]) -> Option<&[u8]>",
        "hs256_matches(secret, input.as_bytes(), signature)",
    ),
    (
        "the Wildix request hash (sign.hash)",
        include_str!("../crates/s2s/src/verify/mod.rs"),
        "let matches = |path: &[u8]|",
        "hash.as_bytes().ct_eq(expected)",
    ),
    (
        // Every HMAC check (prepared keys and the Wildix MAC) ends here.
        "a JWT HMAC",
        include_str!("../crates/jwt/src/key.rs"),
        "fn hmac_matches<M: Mac + Clone>(",
        "mac.verify_slice(signature)",
    ),
    (
        "the Wildix MAC's keying",
        include_str!("../crates/jwt/src/key.rs"),
        "pub(crate) fn hs256_matches(",
        "hmac_matches(&keyed, input, signature)",
    ),
    (
        "the argon2 output",
        include_str!("../crates/password/src/phc.rs"),
        "pub(crate) fn check(",
        "out.ct_eq(self.expected.as_bytes())",
    ),
    (
        "the HA1B",
        include_str!("../crates/password/src/lib.rs"),
        "pub fn verify_ha1b(",
        "a.ct_eq(&b)",
    ),
];

#[test]
fn secrets_are_compared_with_subtle_and_never_with_eq() {
    for &(what, source, anchor, comparison) in SITES {
        let body = body_after(source, anchor);
        assert!(
            body.contains(comparison),
            "{what}: `{comparison}` is no longer in `{anchor}`:\n{body}"
        );
        assert!(
            !body.contains("==") && !body.contains("!="),
            "{what}: `{anchor}` compares with ==/!= (not constant time):\n{body}"
        );
    }
}

#[test]
fn the_guard_sees_an_eq_comparison() {
    // The check above, on a version of the MAC comparison that leaks through timing.
    let leaky = "pub fn verify(&self, secret: &[u8]) -> bool {\n    \
                 let expected = hmac_sha256(secret, &self.signing_input);\n    \
                 expected.as_slice() == self.signature.as_slice()\n}";
    let body = body_after(leaky, "pub fn verify(&self, secret: &[u8]) -> bool");
    assert!(body.contains("=="));
    assert!(!body.contains("expected.ct_eq(self.signature.as_slice())"));
}
