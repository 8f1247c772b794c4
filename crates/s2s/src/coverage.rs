//! What the signature covers, so what a signed request may carry: the signer and the
//! verifier decide with the same two functions.
//!
//! The canonical form covers a body only when it is a form or JSON ([`body_type`]); any other
//! body would reach the service unsigned, so a signed request carrying one is refused. The
//! path is hashed as sent, and the verifier also accepts a signature made for its
//! percent-decoded form; that is only safe when decoding cannot move a segment boundary, so a
//! path for which it could ([`path_is_stable`]) is refused.
//!
//! ```
//! use tower_authn_s2s::coverage::{BodyType, body_type, path_is_stable};
//!
//! assert_eq!(body_type(b"application/x-www-form-urlencoded"), BodyType::Form);
//! assert_eq!(body_type(b"application/json; charset=utf-8"), BodyType::Json);
//! assert_eq!(body_type(b"application/merge-patch+json"), BodyType::Uncovered);
//! assert_eq!(body_type(b""), BodyType::Uncovered);
//!
//! assert!(path_is_stable(b"/api/v1/Contacts/John%20Doe/"));
//! assert!(!path_is_stable(b"/api/v1/Contacts%2F7/"));
//! assert!(!path_is_stable(b"/api/v1/PBX/../Users/"));
//! ```

/// How a request body enters the canonical form, by its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyType {
    /// `application/x-www-form-urlencoded` (parameters allowed): read with `parse_str`.
    Form,
    /// A media type beginning `application/json` (`application/json; charset=utf-8`,
    /// `application/json-patch+json`): read with `json_decode`. This is the reference
    /// client's rule, which sends JSON whenever its `Content-Type` contains `application/json`.
    Json,
    /// Anything else, a malformed media type included: the canonical form does not cover it,
    /// so only an empty body may have it.
    Uncovered,
}

/// The [`BodyType`] of a `Content-Type` value.
///
/// The value must be one RFC 9110 media type (`type/subtype`, then `; name=value`
/// parameters, values as tokens or quoted strings). A form type whose parameters mention
/// `application/json` is [`BodyType::Uncovered`]: the reference client would send JSON under
/// it, and the service would read a form.
pub fn body_type(content_type: &[u8]) -> BodyType {
    let Some(essence) = media_type_essence(content_type) else {
        return BodyType::Uncovered;
    };
    if essence.starts_with(b"application/json") {
        return BodyType::Json;
    }
    let mentions_json = content_type
        .to_ascii_lowercase()
        .windows(16)
        .any(|w| w == b"application/json");
    if essence == b"application/x-www-form-urlencoded" && !mentions_json {
        return BodyType::Form;
    }
    BodyType::Uncovered
}

/// RFC 9110 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The lowercased `type/subtype` of a well-formed media type, or `None`.
fn media_type_essence(v: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    let at = |i: usize| v.get(i).copied();
    let skip_ows = |mut i: usize| {
        while at(i).is_some_and(is_ows) {
            i += 1;
        }
        i
    };
    let token = |mut i: usize| {
        let start = i;
        while at(i).is_some_and(is_tchar) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    i = skip_ows(i);
    let start = i;
    i = token(i)?;
    if at(i) != Some(b'/') {
        return None;
    }
    i = token(i + 1)?;
    let essence = v.get(start..i)?.to_ascii_lowercase();
    loop {
        i = skip_ows(i);
        match at(i) {
            None => return Some(essence),
            Some(b';') => i = skip_ows(i + 1),
            Some(_) => return None,
        }
        // An empty parameter (`;;`, a trailing `;`) is allowed.
        if matches!(at(i), None | Some(b';')) {
            continue;
        }
        i = token(i)?;
        if at(i) != Some(b'=') {
            return None;
        }
        i += 1;
        if at(i) == Some(b'"') {
            i += 1;
            loop {
                match at(i)? {
                    b'"' => break,
                    b'\\' => {
                        let c = at(i + 1)?;
                        if c != b'\t' && !(0x20..=0x7e).contains(&c) && c < 0x80 {
                            return None;
                        }
                        i += 2;
                    }
                    c if c == b'\t' || (0x20..=0x7e).contains(&c) || c >= 0x80 => i += 1,
                    _ => return None,
                }
            }
            i += 1;
        } else {
            i = token(i)?;
        }
    }
}

/// Whether percent-decoding `path` leaves its segments as they are, and it has no dot
/// segments: no `%2F` (`/`), `%5C` (`\`) or `%2E` (`.`) in any case, and no segment that is
/// `.` or `..`.
///
/// A service behind the verifier may decode or normalise the path before routing; for such
/// paths it would route to another resource than the one whose path was signed.
pub fn path_is_stable(path: &[u8]) -> bool {
    let encoded = path.windows(3).any(|w| {
        matches!(
            w,
            [b'%', b'2', b'f' | b'F' | b'e' | b'E'] | [b'%', b'5', b'c' | b'C']
        )
    });
    !encoded && !path.split(|&c| c == b'/').any(|s| s == b"." || s == b"..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn content_types() {
        use BodyType::*;
        for (ct, want) in [
            (&b"application/x-www-form-urlencoded"[..], Form),
            (b"Application/X-WWW-Form-URLEncoded", Form),
            (b"application/x-www-form-urlencoded; charset=UTF-8", Form),
            (b"application/x-www-form-urlencoded;charset=\"utf-8\"", Form),
            (b"application/x-www-form-urlencoded;", Form),
            (b"application/json", Json),
            (b"APPLICATION/JSON", Json),
            (b"application/json; charset=utf-8", Json),
            (b"application/json;charset=\"utf\\\"8\"", Json),
            (b"application/json-patch+json", Json),
            // Neither form nor JSON, or not one well-formed media type.
            (b"application/vnd.api+json", Uncovered),
            (b"application/merge-patch+json", Uncovered),
            (b"text/json", Uncovered),
            (b"text/plain", Uncovered),
            (b"text/plain; note=application/json", Uncovered),
            (b"application/octet-stream", Uncovered),
            (b"multipart/form-data; boundary=x", Uncovered),
            (b"", Uncovered),
            (b" ", Uncovered),
            (b"application/x-www-form-urlencodedX", Uncovered),
            (b"application/x-www-form-urlencoded, text/plain", Uncovered),
            (b"application/json, text/plain", Uncovered),
            (
                b"application/x-www-form-urlencoded; a=\"application/json\"",
                Uncovered,
            ),
            (b"application/json; charset", Uncovered),
            (b"application/json; charset=\"utf-8", Uncovered),
            (b"application/json x", Uncovered),
            (b"application", Uncovered),
            (b"/json", Uncovered),
        ] {
            assert_eq!(body_type(ct), want, "{:?}", String::from_utf8_lossy(ct));
        }
    }

    #[test]
    fn paths() {
        for p in [
            &b"/"[..],
            b"/api/v1/Contacts/7/",
            b"/api/v1/Contacts/John%20Doe/",
            b"/api/v1/a.b/..c/.d./",
            b"/api/v1/%41%3A/",
        ] {
            assert!(path_is_stable(p), "{:?}", String::from_utf8_lossy(p));
        }
        for p in [
            &b"/api/v1/Contacts%2F7/"[..],
            b"/api/v1/Contacts%2f7/",
            b"/api/v1/Contacts%5C7/",
            b"/api/v1/Contacts%5c7/",
            b"/api/v1/%2E%2E/Users/",
            b"/api/v1/.%2e/Users/",
            b"/api/v1/a%2Eb/",
            b"/api/v1/../Users/",
            b"/api/v1/./Users/",
            b"/api/v1/..",
            b"..",
        ] {
            assert!(!path_is_stable(p), "{:?}", String::from_utf8_lossy(p));
        }
    }

    proptest! {
        #[test]
        fn body_type_never_panics(v in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = body_type(&v);
        }

        #[test]
        fn a_stable_path_decodes_to_the_same_segments(segments in proptest::collection::vec("([a-zA-Z0-9._~-]|%[0-9A-Fa-f]{2}){0,6}", 1..6)) {
            let path = format!("/{}", segments.join("/"));
            if path_is_stable(path.as_bytes()) {
                let decoded = crate::php::url_decode(path.as_bytes());
                let raw: Vec<&[u8]> = path.as_bytes().split(|&c| c == b'/').collect();
                let dec: Vec<&[u8]> = decoded.split(|&c| c == b'/').collect();
                prop_assert_eq!(raw.len(), dec.len());
                prop_assert!(!dec.iter().any(|s| *s == b"." || *s == b".." || s.contains(&b'\\')));
            }
        }
    }
}
