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
    let mut out = vec![0; decoded_len(text)];
    decode_into(text, &mut out)?;
    Some(out)
}

/// The value of each base64url character, `INVALID` for every other byte.
const SEXTETS: [u8; 256] = {
    let mut table = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

const INVALID: u8 = 0x80;

/// Whether `text` is non-empty canonical base64url: only the URL-safe alphabet, no padding,
/// a length that is not 1 mod 4, and zero bits after the last byte. Exactly what [`decode`]
/// accepts (a property test says so), checked without decoding anything.
pub(crate) fn is_canonical(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(&last) = bytes.last() else {
        return false;
    };
    // Branch-free over the text: OR every byte's table entry, test the invalid bit once.
    let seen = bytes
        .iter()
        .fold(0u8, |acc, &b| acc | SEXTETS[usize::from(b)]);
    if seen & INVALID != 0 {
        return false;
    }
    let last = SEXTETS[usize::from(last)];
    match bytes.len() % 4 {
        1 => false,
        // Two characters carry one byte: the last one's low 4 bits are left over.
        2 => last & 0x0f == 0,
        // Three carry two bytes: 2 bits left over.
        3 => last & 0x03 == 0,
        _ => true,
    }
}

/// The length `text` decodes to, if it is canonical.
pub(crate) fn decoded_len(text: &str) -> usize {
    let n = text.len();
    n / 4 * 3 + [0, 0, 1, 2][n % 4]
}

/// Decodes canonical base64url into `out`, returning the bytes written; `None` when `text`
/// is not canonical (the empty text decodes to nothing) or does not fit. What the `base64`
/// crate's strict engine accepts, no more (a property test says so), in one pass that checks
/// as it decodes.
pub(crate) fn decode_into<'o>(text: &str, out: &'o mut [u8]) -> Option<&'o [u8]> {
    let input = text.as_bytes();
    let out = out.get_mut(..decoded_len(text))?;
    let sextet = |b: u8| u32::from(SEXTETS[usize::from(b)]);
    // Every sextet ORed in: one test of the invalid bit at the end instead of one per byte.
    let mut seen = 0u32;
    // Eight characters make six bytes: one 48-bit word per block.
    let blocks = input.len() / 8;
    let (head_in, rest_in) = input.split_at(blocks * 8);
    let (head_out, out_rest) = out.split_at_mut(blocks * 6);
    for (block, six) in head_in.chunks_exact(8).zip(head_out.chunks_exact_mut(6)) {
        let mut v = 0u64;
        for &c in block {
            let x = SEXTETS[usize::from(c)];
            seen |= u32::from(x);
            v = (v << 6) | u64::from(x & 0x3f);
        }
        six.copy_from_slice(&v.to_be_bytes()[2..]);
    }
    let mut quads = rest_in.chunks_exact(4);
    let mut triples = out_rest.chunks_exact_mut(3);
    for (quad, triple) in (&mut quads).zip(&mut triples) {
        let (a, b, c, d) = (
            sextet(quad[0]),
            sextet(quad[1]),
            sextet(quad[2]),
            sextet(quad[3]),
        );
        seen |= a | b | c | d;
        let v = (a << 18) | (b << 12) | (c << 6) | d;
        triple.copy_from_slice(&v.to_be_bytes()[1..]);
    }
    let tail = triples.into_remainder();
    match *quads.remainder() {
        [] => {}
        [a, b] => {
            let (a, b) = (sextet(a), sextet(b));
            // The bits past the last byte must be zero (one encoding per byte string).
            seen |= a | b | if b & 0x0f == 0 { 0 } else { 0x80 };
            let v = (a << 18) | (b << 12);
            tail.copy_from_slice(&v.to_be_bytes()[1..2]);
        }
        [a, b, c] => {
            let (a, b, c) = (sextet(a), sextet(b), sextet(c));
            seen |= a | b | c | if c & 0x03 == 0 { 0 } else { 0x80 };
            let v = (a << 18) | (b << 12) | (c << 6);
            tail.copy_from_slice(&v.to_be_bytes()[1..3]);
        }
        // A length of 1 mod 4 is never base64.
        _ => return None,
    }
    if seen & u32::from(INVALID) != 0 {
        return None;
    }
    Some(out)
}

/// Decodes strictly and hands the bytes to `f`: in a stack buffer of `N` bytes when they fit,
/// else in a `Vec`. `None` for anything but canonical unpadded base64url.
pub(crate) fn with_decoded<const N: usize, R>(text: &str, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    if decoded_len(text) <= N {
        let mut buf = [0u8; N];
        decode_into(text, &mut buf).map(f)
    } else {
        decode(text).as_deref().map(f)
    }
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
        assert!(!is_canonical("QR"));
        assert!(is_canonical("QQ"));
        assert!(!is_canonical("QUF"));
        assert!(is_canonical("QUE"));
        assert!(!is_canonical("QUFB="));
        assert!(!is_canonical("Q"));
    }

    #[test]
    fn decode_into_bounds() {
        let mut buf = [0u8; 2];
        assert_eq!(decode_into("QUE", &mut buf), Some(&b"AA"[..]));
        assert_eq!(decode_into("QUFB", &mut buf), None, "three bytes into two");
        assert_eq!(decode_into("QUF", &mut buf), None, "not canonical");
        assert_eq!(decode_into("", &mut buf), Some(&b""[..]));
        assert_eq!(
            with_decoded::<2, _>("QUFB", <[u8]>::to_vec),
            Some(b"AAA".to_vec())
        );
        assert_eq!(
            with_decoded::<8, _>("QUFB", <[u8]>::to_vec),
            Some(b"AAA".to_vec())
        );
        assert_eq!(with_decoded::<8, _>("QUF", <[u8]>::to_vec), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// The allocation-free check agrees with the decoder on everything.
        #[test]
        fn is_canonical_is_what_decode_accepts(s in "[A-Za-z0-9_=+/. -]{0,12}|[A-Za-z0-9_-]{0,70}") {
            let strict = STRICT.decode(&s).ok();
            proptest::prop_assert_eq!(is_canonical(&s), !s.is_empty() && strict.is_some());
            proptest::prop_assert_eq!(&decode(&s), &strict);
            let mut buf = [0u8; 64];
            proptest::prop_assert_eq!(decode_into(&s, &mut buf).map(<[u8]>::to_vec), strict);
        }

        /// Any bytes at all, not only the alphabet's: the decoder agrees with `base64`'s.
        #[test]
        fn decode_agrees_with_the_base64_crate(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24)) {
            let text = String::from_utf8_lossy(&bytes);
            proptest::prop_assert_eq!(decode(&text), STRICT.decode(text.as_bytes()).ok());
        }

        #[test]
        fn round_trips(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let text = encode(&bytes);
            proptest::prop_assert_eq!(decoded_len(&text), bytes.len());
            proptest::prop_assert_eq!(is_canonical(&text), !bytes.is_empty());
            proptest::prop_assert_eq!(with_decoded::<16, _>(&text, <[u8]>::to_vec), Some(bytes));
        }
    }
}
