//! Strict base64url (RFC 4648 §5) without padding, as JWS compact serialization requires.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// No padding, no whitespace, no non-zero trailing bits: one encoding per byte string.
const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes without padding.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    STRICT.encode(bytes)
}

/// Decodes strictly; `None` for anything but canonical unpadded base64url.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    STRICT.decode(text).ok()
}

/// Whether `text` is non-empty canonical base64url (checked without allocating a copy).
pub(crate) fn is_canonical(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && STRICT.decode(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        assert_eq!(decode("eyJ9").as_deref(), Some(&b"{\"}"[..]));
        assert_eq!(encode(b"\xfb\xff"), "-_8");
        for bad in ["eyJ9=", "ey J9", "eyJ9\n", "+/8", "QQ==", "QR", "Q", "a.b"] {
            assert!(decode(bad).is_none(), "{bad}");
        }
        assert!(!is_canonical(""));
        assert!(is_canonical("-_8"));
        assert!(!is_canonical("-_9"));
    }
}
