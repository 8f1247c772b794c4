//! One named cookie in the `Cookie` header lines: finding every copy of it, checking its
//! value, and removing it. The cookie credential source of the token schemes
//! ([`with_cookie`](crate::HeaderTokenLayer::with_cookie),
//! [`CookieTokenLayer`](crate::CookieTokenLayer)) is built on it.
//!
//! Every `Cookie` line is read (HTTP/2 sends one line per cookie, RFC 9113 §8.2.3, so several
//! lines are one list, never a duplicate), split at `;` and each pair parsed by the `cookie`
//! crate ([`Cookie::parse`], what [`Cookie::split_parse`] does per pair). Strictly, for the
//! cookie we look for:
//!
//! - present twice, in one line or across lines (even with equal values): a duplicate;
//! - its value empty or not RFC 6265 §4.1.1 `cookie-octet`s (a `DQUOTE`-wrapped value is
//!   unwrapped first): malformed;
//! - a pair that does not parse is ignored, unless it may be ours (our name alone, without
//!   `=`): malformed.
//!
//! A line that is not UTF-8 is read with each invalid sequence as U+FFFD, so our cookie with
//! such bytes in its value is malformed and such bytes elsewhere change nothing. Every
//! function here is total: no input makes it panic.

use std::borrow::Cow;

use cookie::Cookie;
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::credential::PresentedSecret;

/// Whether `name` is an RFC 6265 §4.1.1 `cookie-name` (an RFC 9110 token).
pub fn is_cookie_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_tchar)
}

/// An RFC 9110 §5.6.2 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An RFC 6265 §4.1.1 `cookie-octet`: visible ASCII but `"`, `,`, `;` and `\`.
pub fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// The value of a cookie as a credential: `value` with one surrounding pair of `DQUOTE`s
/// removed, when it is non-empty `cookie-octet`s.
///
/// # Errors
///
/// Why the value is not a credential (for the log, never the answer).
pub fn cookie_value(value: &str) -> Result<&str, &'static str> {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if inner.is_empty() {
        Err("cookie with an empty value")
    } else if !inner.bytes().all(is_cookie_octet) {
        Err("cookie value is not cookie-octets")
    } else {
        Ok(inner)
    }
}

/// One `;`-separated segment of a `Cookie` line, as far as cookie `name` is concerned.
enum Segment {
    /// Another cookie, a blank segment, or one that does not parse and cannot be ours.
    Other,
    /// Ours: its value as a credential, or why it is not one.
    Ours(Result<PresentedSecret, &'static str>),
}

/// Whether the trimmed segment `text` may be cookie `name`'s: its text before the first `=`
/// (or all of it), whitespace trimmed as the `cookie` crate trims names, is `name`. Checked
/// before the crate parses anything, so the other cookies of a line are never parsed
/// (extraction and removal run on every request a layer with a cookie sees).
fn may_be(text: &str, name: &str) -> bool {
    text.split('=').next().unwrap_or_default().trim() == name
}

fn read_segment(segment: &[u8], name: &str) -> Segment {
    let text = String::from_utf8_lossy(segment);
    let text = text.trim();
    if text.is_empty() || !may_be(text, name) {
        return Segment::Other;
    }
    match Cookie::parse(text) {
        Ok(c) if c.name() == name => {
            Segment::Ours(cookie_value(c.value()).map(PresentedSecret::from))
        }
        Ok(_) => Segment::Other,
        // `name` alone, no `=`: our cookie without a value, not someone else's.
        Err(_) if text == name => Segment::Ours(Err("cookie without a value")),
        Err(_) => Segment::Other,
    }
}

fn segments(line: &HeaderValue) -> impl Iterator<Item = &[u8]> {
    line.as_bytes().split(|&b| b == b';')
}

/// Every copy of cookie `name` in every `Cookie` line of `headers`, in order: its value
/// (unwrapped, checked; a secret, wiped on drop), or why it is not a credential. More than
/// one item is a duplicate.
pub fn cookie_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = Result<PresentedSecret, &'static str>> + 'a {
    headers
        .get_all(COOKIE)
        .into_iter()
        .flat_map(segments)
        .filter_map(move |segment| match read_segment(segment, name) {
            Segment::Ours(value) => Some(value),
            Segment::Other => None,
        })
}

/// Removes every copy of the cookies `names` from the `Cookie` lines of `headers`.
///
/// A line without them is kept as it was, byte for byte. A line with them keeps its other
/// pairs byte for byte and in order, joined by `"; "` (RFC 6265 §4.2.1), blank segments
/// dropped; a line with nothing left goes. A line keeps its sensitivity flag.
pub fn remove_cookies(headers: &mut HeaderMap, names: &[Cow<'static, str>]) {
    if names.is_empty() {
        return;
    }
    // Our name before the `=` is ours to remove, whatever its value (the test
    // `read_segment` makes before parsing).
    let ours = |segment: &[u8]| {
        let text = String::from_utf8_lossy(segment);
        names.iter().any(|n| may_be(text.trim(), n))
    };
    let touched = |line: &HeaderValue| segments(line).any(ours);
    if !headers.get_all(COOKIE).iter().any(touched) {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|line| {
            if !touched(line) {
                return Some(line.clone());
            }
            let mut rest = Vec::with_capacity(line.len());
            for segment in segments(line) {
                let segment = segment.trim_ascii();
                if segment.is_empty() || ours(segment) {
                    continue;
                }
                if !rest.is_empty() {
                    rest.extend_from_slice(b"; ");
                }
                rest.extend_from_slice(segment);
            }
            // Pieces of a valid value joined by "; " stay valid; were they not, the line
            // would go rather than keep the credential.
            let mut value = HeaderValue::from_bytes(&rest)
                .ok()
                .filter(|_| !rest.is_empty())?;
            value.set_sensitive(line.is_sensitive());
            Some(value)
        })
        .collect();
    headers.remove(COOKIE);
    for value in kept {
        headers.append(COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn headers(lines: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append(COOKIE, HeaderValue::from_bytes(line).unwrap());
        }
        h
    }

    fn found(lines: &[&[u8]]) -> Vec<Result<String, &'static str>> {
        cookie_values(&headers(lines), "sid")
            .map(|v| v.map(|s| s.expose_secret().to_owned()))
            .collect()
    }

    fn remaining(lines: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut h = headers(lines);
        remove_cookies(&mut h, &[Cow::Borrowed("sid")]);
        h.get_all(COOKIE)
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect()
    }

    #[test]
    fn finds_the_cookie_among_others() {
        assert_eq!(found(&[b"a=1; sid=abc; b=2"]), [Ok("abc".to_owned())]);
        assert_eq!(found(&[b"a=1", b"sid=abc"]), [Ok("abc".to_owned())]);
        assert_eq!(found(&[b"sid=\"abc\""]), [Ok("abc".to_owned())]);
        assert_eq!(found(&[b"  sid = abc ;;"]), [Ok("abc".to_owned())]);
        assert_eq!(found(&[b"sid=a=b"]), [Ok("a=b".to_owned())]);
        assert!(found(&[b"a=1; SID=abc; xsid=1; sidx=2"]).is_empty());
        assert!(found(&[]).is_empty());
    }

    #[test]
    fn every_copy_is_reported() {
        assert_eq!(found(&[b"sid=a; sid=a"]).len(), 2);
        assert_eq!(found(&[b"sid=a", b"x=1; sid=b"]).len(), 2);
    }

    #[test]
    fn bad_values_and_bare_names_are_malformed() {
        for bad in [
            &b"sid="[..],
            b"sid=\"\"",
            b"sid=\"",
            b"sid=\"abc",
            b"sid=a\"b",
            b"sid=a,b",
            b"sid=a\\b",
            b"sid=a b",
            b"sid=caf\xc3\xa9",
            b"sid=ab\xff",
            b"sid",
            b" sid ; a=1",
        ] {
            let got = found(&[bad]);
            assert!(
                matches!(got.as_slice(), [Err(_)]),
                "{:?}: {got:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn pairs_that_do_not_parse_and_are_not_ours_are_ignored() {
        assert_eq!(
            found(&[b"=x; junk; \xff\xfe=1; sid=ok; a"]),
            [Ok("ok".to_owned())]
        );
    }

    #[test]
    fn removal_keeps_the_other_cookies_byte_exact() {
        assert_eq!(
            remaining(&[b"a=1;sid=abc;  b=\"q w\""]),
            [b"a=1; b=\"q w\"".to_vec()]
        );
        assert_eq!(
            remaining(&[b"sid=abc", b"x=%20y ;z=\xff"]),
            [b"x=%20y ;z=\xff".to_vec()]
        );
        assert_eq!(remaining(&[b" sid=abc ; ;"]), Vec::<Vec<u8>>::new());
        assert_eq!(remaining(&[b"a=1; sid=abc"]), [b"a=1".to_vec()]);
        assert_eq!(remaining(&[b"a=1; b=2"]), [b"a=1; b=2".to_vec()]);
    }

    #[test]
    fn names_are_tokens() {
        assert!(is_cookie_name("authn_session"));
        assert!(is_cookie_name("__Host-sid"));
        for bad in ["", "a b", "a=b", "a;b", "a\"", "é"] {
            assert!(!is_cookie_name(bad), "{bad:?}");
        }
    }
}
