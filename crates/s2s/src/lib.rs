//! Signed server-to-server requests, as Wildix WMS 5 makes and checks them.
//!
//! ```
//! assert_eq!(tower_authn_s2s::canonical::sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
//! ```

pub mod canonical;
pub mod php;
pub mod token;
