//! The `Negotiate` auth-scheme on the wire (RFC 4559): reading `Authorization: Negotiate
//! <token>` and writing `WWW-Authenticate: Negotiate [<token>]`. Every function here is
//! total: no input makes it panic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use tower_authn_core::AuthError;
use tower_authn_core::head::{AuthorizationMatch, authorization_credentials};

/// The auth-scheme name of RFC 4559, as servers send it (`Negotiate`); clients' spelling is
/// matched case-insensitively (RFC 9110 §11.1).
pub const NEGOTIATE: &str = "Negotiate";

/// The largest GSSAPI token [`parse_authorization`] decodes: 64 KiB.
///
/// A Kerberos AP-REQ is a few hundred bytes to a few KiB; one carrying a large Windows PAC
/// (a user in many groups) reaches 10 to 20 KiB, and Active Directory's own limit
/// (`MaxTokenSize`) is 48 KiB. Anything larger is refused as malformed before it is decoded.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The longest base64 text that can decode to [`MAX_TOKEN_BYTES`]: 4 characters per 3 bytes,
/// padded.
const MAX_ENCODED_BYTES: usize = MAX_TOKEN_BYTES.div_ceil(3) * 4;

/// Reads an `Authorization` value as a `Negotiate` credential.
///
/// - `Ok(None)`: the value is about another auth-scheme (`Basic`, `Bearer`, `NTLM`, ...).
/// - `Ok(Some(token))`: the GSSAPI token, decoded from strict standard base64 (RFC 4648 §4,
///   with its `=` padding, which RFC 4559's `base64` requires; no line breaks, no URL-safe
///   alphabet, no non-zero trailing bits).
/// - `Err` ([`AuthError::malformed`], 400): the value names `Negotiate` but carries no token,
///   a separator other than exactly one space (see
///   [`authorization_credentials`]), text that is not strict base64, or a token over
///   [`MAX_TOKEN_BYTES`] (checked on the encoded length, before anything is decoded).
///
/// ```
/// use tower_authn_kerberos::parse_authorization;
///
/// assert_eq!(parse_authorization(b"negotiate YIIBhg==")?, Some(vec![0x60, 0x82, 0x01, 0x86]));
/// assert_eq!(parse_authorization(b"Basic YWxpY2U6c2VjcmV0")?, None);
/// assert!(parse_authorization(b"Negotiate YIIBhg").is_err()); // padding is required
/// assert!(parse_authorization(b"Negotiate").is_err());
/// # Ok::<(), tower_authn_core::AuthError>(())
/// ```
///
/// # Errors
///
/// [`AuthError::malformed`] as above; the detail never holds the token.
pub fn parse_authorization(value: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
    let text = match authorization_credentials(value, NEGOTIATE) {
        AuthorizationMatch::Other => return Ok(None),
        AuthorizationMatch::Empty => {
            return Err(AuthError::malformed("Negotiate without a token"));
        }
        AuthorizationMatch::BadSeparator => {
            return Err(AuthError::malformed(
                "Negotiate: the token must follow the scheme after exactly one space",
            ));
        }
        AuthorizationMatch::Credentials(text) => text,
    };
    if text.len() > MAX_ENCODED_BYTES {
        return Err(AuthError::malformed("Negotiate token over 64 KiB"));
    }
    let token = STANDARD
        .decode(text)
        .map_err(|_| AuthError::malformed("Negotiate token is not strict padded base64"))?;
    if token.is_empty() {
        return Err(AuthError::malformed("Negotiate token is empty"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::malformed("Negotiate token over 64 KiB"));
    }
    Ok(Some(token))
}

/// [`parse_authorization`] on a [`HeaderValue`].
///
/// # Errors
///
/// As [`parse_authorization`].
pub fn parse_authorization_header(value: &HeaderValue) -> Result<Option<Vec<u8>>, AuthError> {
    parse_authorization(value.as_bytes())
}

/// The bare challenge, `WWW-Authenticate: Negotiate`, sent with a 401 to ask the client for
/// a token.
pub fn challenge() -> HeaderValue {
    HeaderValue::from_static(NEGOTIATE)
}

/// `Negotiate <base64 token>` (`Negotiate` alone for an empty token): the `WWW-Authenticate` value that carries the acceptor's
/// reply token (the mutual-authentication answer) on the response to an accepted request.
///
/// ```
/// assert_eq!(tower_authn_kerberos::reply_header(&[0xa1, 0x00]), "Negotiate oQA=");
/// ```
pub fn reply_header(token: &[u8]) -> HeaderValue {
    if token.is_empty() {
        return challenge();
    }
    let mut text = String::with_capacity(NEGOTIATE.len() + 1 + token.len().div_ceil(3) * 4);
    text.push_str(NEGOTIATE);
    text.push(' ');
    STANDARD.encode_string(token, &mut text);
    // `Negotiate`, a space and the base64 alphabet: always a valid header value.
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(NEGOTIATE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tower_authn_core::ErrorKind;

    fn malformed(value: &[u8]) -> bool {
        parse_authorization(value).is_err_and(|e| e.kind() == ErrorKind::MalformedCredentials)
    }

    #[test]
    fn reads_the_token() {
        assert_eq!(
            parse_authorization(b"Negotiate oQA=").ok(),
            Some(Some(vec![0xa1, 0x00]))
        );
        for scheme in ["negotiate", "NEGOTIATE", "NeGoTiAtE"] {
            let v = format!("{scheme} oQA=");
            assert_eq!(
                parse_authorization(v.as_bytes()).ok(),
                Some(Some(vec![0xa1, 0x00]))
            );
        }
        // Leading whitespace is OWS around the field value.
        assert!(parse_authorization(b" Negotiate oQA=").is_ok_and(|t| t.is_some()));
        let hv = HeaderValue::from_static("Negotiate oQA=");
        assert_eq!(
            parse_authorization_header(&hv).ok(),
            Some(Some(vec![0xa1, 0x00]))
        );
    }

    #[test]
    fn other_schemes_are_not_ours() {
        for v in [
            &b"Basic YWxpY2U6cHc="[..],
            b"Bearer abc",
            b"NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==",
            b"Negotiat oQA=",
            b"",
            b"Nego",
        ] {
            assert_eq!(parse_authorization(v).ok(), Some(None), "{v:?}");
        }
    }

    #[test]
    fn refuses_malformed() {
        for v in [
            &b"Negotiate"[..],
            b"Negotiate ",
            b"Negotiate  oQA=",
            b"Negotiate\toQA=",
            b"NegotiateoQA=",
            b"Negotiate oQA= ",
            b"Negotiate oQA",      // no padding
            b"Negotiate oR==",     // non-zero trailing bits
            b"Negotiate oQA=oQA=", // padding in the middle
            b"Negotiate o-A=",     // URL-safe alphabet
            b"Negotiate oQ\nA=",
            b"Negotiate ====",
            b"Negotiate realm=\"x\"",
        ] {
            assert!(malformed(v), "{:?}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn size_cap() {
        let at_cap = STANDARD.encode(vec![7u8; MAX_TOKEN_BYTES]);
        let v = format!("Negotiate {at_cap}");
        assert_eq!(
            parse_authorization(v.as_bytes())
                .map(|t| t.map(|t| t.len()))
                .ok(),
            Some(Some(MAX_TOKEN_BYTES))
        );
        let over = STANDARD.encode(vec![7u8; MAX_TOKEN_BYTES + 1]);
        assert!(malformed(format!("Negotiate {over}").as_bytes()));
        // Refused on the length alone, however the text looks.
        assert!(malformed(
            format!("Negotiate {}", "A".repeat(MAX_ENCODED_BYTES + 4)).as_bytes()
        ));
    }

    #[test]
    fn renders() {
        assert_eq!(challenge(), "Negotiate");
        assert_eq!(reply_header(&[0xa1, 0x00]), "Negotiate oQA=");
        assert_eq!(reply_header(&[]), "Negotiate");
    }

    proptest! {
        #[test]
        fn never_panics(value in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_authorization(&value);
            let mut prefixed = b"Negotiate ".to_vec();
            prefixed.extend_from_slice(&value);
            let _ = parse_authorization(&prefixed);
        }

        #[test]
        fn round_trips(token in proptest::collection::vec(any::<u8>(), 1..2048)) {
            let header = reply_header(&token);
            prop_assert_eq!(parse_authorization(header.as_bytes()).ok(), Some(Some(token)));
        }
    }
}
