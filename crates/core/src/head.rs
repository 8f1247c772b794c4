//! Reading and stripping credentials on a request head: `Authorization` parsing, query
//! parameters, WebSocket subprotocol entries, and hiding. Every function here is total: no
//! input makes it panic. (Cookies: [`crate::cookies`].)

use std::borrow::Cow;

use http::header::{AUTHORIZATION, Entry, SEC_WEBSOCKET_PROTOCOL};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::scheme::HideCredentials;

/// Splits an `Authorization` value into its auth-scheme and the rest (trimmed), the lax
/// RFC 9110 reading (`1*SP`), for schemes this crate does not parse itself.
///
/// RFC 9110 §11.4: `credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`.
/// The credential schemes use [`authorization_credentials`], which is stricter.
pub fn split_authorization(value: &[u8]) -> (&[u8], &[u8]) {
    let value = trim(value);
    match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], trim(&value[i..])),
        None => (value, &[]),
    }
}

/// What an `Authorization` value says about one auth-scheme; see
/// [`authorization_credentials`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizationMatch<'a> {
    /// The value is about another scheme.
    Other,
    /// The value names this scheme and carries its credential after exactly one space.
    Credentials(&'a [u8]),
    /// The value names this scheme with nothing after it.
    Empty,
    /// The value names this scheme but the separator is not exactly one space (a tab, two
    /// spaces, none at all, or whitespace at the end of the credential).
    BadSeparator,
}

/// Reads an `Authorization` value for auth-scheme `scheme` (case-insensitive), strictly.
///
/// RFC 9110 §11.6.2 allows `1*SP` between the scheme and its credential; RFC 7617 and
/// RFC 6750 show one, and every client sends one. The credential schemes accept exactly
/// one space, and treat every other spelling of *their* scheme name as a malformed
/// credential (400), never as an absent one, so no separator trick hands the request to a
/// later scheme of an any-of composition: `Basic<TAB>…`, `Basic  …`, `Basic…` (no space:
/// a value that starts with the scheme's name and goes on with credential text), and a
/// credential with trailing spaces or tabs are [`AuthorizationMatch::BadSeparator`].
/// Leading spaces and tabs are optional whitespace around the field value and ignored.
pub fn authorization_credentials<'a>(value: &'a [u8], scheme: &str) -> AuthorizationMatch<'a> {
    let mut value = value;
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    let name = scheme.as_bytes();
    let Some(head) = value.get(..name.len()) else {
        return AuthorizationMatch::Other;
    };
    if !head.eq_ignore_ascii_case(name) {
        return AuthorizationMatch::Other;
    }
    let after = &value[name.len()..];
    match after {
        [] => AuthorizationMatch::Empty,
        // Only optional whitespace after the name: no credential.
        _ if after.iter().all(|&b| matches!(b, b' ' | b'\t')) => AuthorizationMatch::Empty,
        [b' ', rest @ ..]
            if !matches!(rest.first(), Some(b' ' | b'\t'))
                && !matches!(rest.last(), Some(b' ' | b'\t')) =>
        {
            AuthorizationMatch::Credentials(rest)
        }
        // A tab, two spaces, no space (`Basicabc`: no registered scheme's name extends
        // `Basic` or `Bearer`), or whitespace after the credential.
        _ => AuthorizationMatch::BadSeparator,
    }
}

/// Trims spaces and tabs at both ends.
pub fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Whether an `Authorization` line names `scheme` (case-insensitive, RFC 9110 §11.1),
/// however it is spelled after the name (see [`authorization_credentials`]).
pub fn authorization_is(headers: &HeaderMap, scheme: &str) -> bool {
    headers
        .get_all(AUTHORIZATION)
        .iter()
        .any(|v| authorization_credentials(v.as_bytes(), scheme) != AuthorizationMatch::Other)
}

/// Whether `bytes` is a token68 (RFC 9110 §11.2): `1*( ALPHA / DIGIT / "-" / "." / "_" /
/// "~" / "+" / "/" ) *"="`.
pub fn is_token68(bytes: &[u8]) -> bool {
    let body_len = bytes.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    // Comparisons ANDed over the whole text, no branch or table load per byte, so that the
    // compiler checks 16 or 32 bytes per step: a JWT is hundreds of bytes, checked on every
    // request.
    let bad = bytes[..body_len]
        .iter()
        .fold(0u8, |bad, &c| bad | u8::from(!is_token68_char(c)));
    body_len > 0 && bad == 0
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`, as arithmetic.
#[inline]
fn is_token68_char(c: u8) -> bool {
    // `| 0x20` folds `A-Z` onto `a-z` and sends no other byte there.
    let letter = (c | 0x20).wrapping_sub(b'a') < 26;
    let digit = c.wrapping_sub(b'0') < 10;
    // `+` (2B), `-` (2D), `.` (2E), `/` (2F).
    let plus_to_slash = (c.wrapping_sub(b'+') < 5) & (c != b',');
    letter | digit | plus_to_slash | (c == b'_') | (c == b'~')
}

/// The decoded values of query parameter `name` (form-urlencoded: `%XX` and `+`).
pub fn query_values<'a>(uri: &'a Uri, name: &'a str) -> impl Iterator<Item = Cow<'a, str>> + 'a {
    // What `form_urlencoded::parse` yields for this name, without decoding the other
    // parameters' names and values: only the matching values are decoded.
    uri.query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|segment| !segment.is_empty())
        .filter_map(move |segment| {
            let (key, value) = segment.split_once('=').unwrap_or((segment, ""));
            (form_decode(key) == name).then(|| form_decode(value))
        })
}

/// One `application/x-www-form-urlencoded` name or value decoded (`+` is a space, `%XX` a
/// byte, then UTF-8 with replacement), as `form_urlencoded` decodes it; borrowed when
/// there is nothing to decode, which is nearly always.
fn form_decode(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    let plus_as_space = raw.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode(plus_as_space.as_bytes())
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// Removes every `names` parameter from the query; every other byte of the URI is kept.
pub fn remove_query_params(uri: &Uri, names: &[Cow<'static, str>]) -> Option<Uri> {
    let pq = without_params(uri, names)?;
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq);
    Uri::from_parts(parts).ok()
}

/// The path and query of `uri` without the `names` parameters (`None` when it has none of
/// them), written in one allocation of its exact size.
fn without_params(uri: &Uri, names: &[Cow<'static, str>]) -> Option<PathAndQuery> {
    let query = uri.query()?;
    let named = |segment: &str| {
        let raw_key = segment.split('=').next().unwrap_or_default();
        let key = form_decode(raw_key);
        !raw_key.is_empty() && names.contains(&key)
    };
    // First pass: whether anything goes, and the length of what stays (segments joined by
    // `&`, an empty segment at the front adding nothing).
    let (mut removed, mut kept_len) = (false, 0usize);
    for segment in query.split('&') {
        if named(segment) {
            removed = true;
        } else {
            kept_len += usize::from(kept_len > 0) + segment.len();
        }
    }
    if !removed {
        return None;
    }
    let path = uri.path();
    let mut pq = String::with_capacity(path.len() + if kept_len > 0 { 1 + kept_len } else { 0 });
    pq.push_str(path);
    if kept_len > 0 {
        pq.push('?');
        let start = pq.len();
        for segment in query.split('&').filter(|s| !named(s)) {
            if pq.len() > start {
                pq.push('&');
            }
            pq.push_str(segment);
        }
    }
    // A path and a subset of a valid query stay valid; if not, drop the whole query rather
    // than let a credential through.
    Some(
        PathAndQuery::try_from(pq)
            .or_else(|_| PathAndQuery::try_from(path))
            .unwrap_or_else(|_| PathAndQuery::from_static("/")),
    )
}

/// Strips query parameters `names` from the head's URI (the URI is taken apart, not
/// copied).
pub fn hide_query(head: &mut Parts, names: &[Cow<'static, str>]) {
    if names.is_empty() {
        return;
    }
    if let Some(pq) = without_params(&head.uri, names) {
        let mut parts = std::mem::take(&mut head.uri).into_parts();
        parts.path_and_query = Some(pq);
        // Parts of a valid URI with a valid path stay valid; were they not, the request
        // would go on with `/` rather than with the credential.
        head.uri = Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"));
    }
}

/// Removes header `name`, or marks every line of it sensitive.
pub fn hide_header(headers: &mut HeaderMap, name: &HeaderName, mode: HideCredentials) {
    match mode {
        HideCredentials::Remove => {
            headers.remove(name);
        }
        HideCredentials::MarkSensitive => {
            if let Entry::Occupied(mut e) = headers.entry(name) {
                for v in e.iter_mut() {
                    v.set_sensitive(true);
                }
            }
        }
    }
}

/// Hides the `Authorization` header when its scheme is `scheme`.
pub fn hide_authorization(headers: &mut HeaderMap, scheme: &str, mode: HideCredentials) {
    if authorization_is(headers, scheme) {
        hide_header(headers, &AUTHORIZATION, mode);
    }
}

/// The prefix of the `Sec-WebSocket-Protocol` entry that carries a token:
/// `authn.bearer.<token>`.
pub const SUBPROTOCOL_PREFIX: &str = "authn.bearer";

/// The entries of the `Sec-WebSocket-Protocol` lines (RFC 6455 §4.1: a comma-separated
/// list, possibly over several lines), optional whitespace trimmed, empty ones skipped.
fn subprotocol_entries(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .into_iter()
        .flat_map(|line| line.as_bytes().split(|&b| b == b','))
        .map(trim)
        .filter(|entry| !entry.is_empty())
}

/// What `entry` says about the token entry: `None` for another subprotocol, else the token
/// after `authn.bearer.` (prefix compared ASCII-case-insensitively, so no spelling of it
/// slips past as another protocol), or why it is not one (`authn.bearer` alone, an empty
/// token, characters other than RFC 9110 `tchar`s).
fn subprotocol_token(entry: &[u8]) -> Option<Result<&str, &'static str>> {
    let prefix = SUBPROTOCOL_PREFIX.as_bytes();
    let head = entry.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    Some(match &entry[prefix.len()..] {
        [] => Err("subprotocol authn.bearer without a token"),
        [b'.'] => Err("subprotocol authn.bearer. with an empty token"),
        [b'.', token @ ..] if token.iter().all(|&b| crate::cookies::is_tchar(b)) => {
            // `tchar`s are ASCII: always UTF-8.
            std::str::from_utf8(token).map_err(|_| "subprotocol token is not token characters")
        }
        [b'.', ..] => Err("subprotocol token is not token characters"),
        // `authn.bearerX`: another name, not ours.
        _ => return None,
    })
}

/// Every `authn.bearer.<token>` entry of the `Sec-WebSocket-Protocol` lines, in order: its
/// token, or why it is not one. More than one item is a duplicate.
pub fn subprotocol_tokens(headers: &HeaderMap) -> impl Iterator<Item = Result<&str, &'static str>> {
    subprotocol_entries(headers).filter_map(subprotocol_token)
}

/// Removes every `authn.bearer.<token>` entry from the `Sec-WebSocket-Protocol` lines: the
/// other entries stay, in order, joined by `", "` in one line (so the server still selects
/// the real protocol, and can never echo the token back); no line is left when none stays.
pub fn remove_subprotocol_tokens(headers: &mut HeaderMap) {
    let ours = |entry: &&[u8]| subprotocol_token(entry).is_some();
    if !subprotocol_entries(headers).any(|e| ours(&e)) {
        return;
    }
    let sensitive = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .any(HeaderValue::is_sensitive);
    let mut rest = Vec::new();
    for entry in subprotocol_entries(headers).filter(|e| !ours(e)) {
        if !rest.is_empty() {
            rest.extend_from_slice(b", ");
        }
        rest.extend_from_slice(entry);
    }
    headers.remove(SEC_WEBSOCKET_PROTOCOL);
    if rest.is_empty() {
        return;
    }
    // Pieces of valid values joined by ", " stay valid; were they not, the header would go
    // rather than keep the token.
    if let Ok(mut value) = HeaderValue::from_bytes(&rest) {
        value.set_sensitive(sensitive);
        headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_authorization() {
        assert_eq!(
            split_authorization(b"Basic  abc= "),
            (&b"Basic"[..], &b"abc="[..])
        );
        assert_eq!(split_authorization(b"Bearer"), (&b"Bearer"[..], &b""[..]));
        assert_eq!(split_authorization(b""), (&b""[..], &b""[..]));
    }

    #[test]
    fn credential_schemes_take_exactly_one_space() {
        use AuthorizationMatch::*;
        fn m(v: &[u8]) -> AuthorizationMatch<'_> {
            authorization_credentials(v, "Basic")
        }
        assert_eq!(m(b"Basic abc="), Credentials(b"abc="));
        assert_eq!(m(b"bAsIc abc="), Credentials(b"abc="));
        assert_eq!(m(b"  Basic abc="), Credentials(b"abc="));
        assert_eq!(m(b"Basic"), Empty);
        assert_eq!(m(b"Basic \t "), Empty);
        for bad in [
            &b"Basic\tabc="[..],
            b"Basic  abc=",
            b"Basic \tabc=",
            b"Basicabc=",
            b"Basic abc= ",
            b"Basic abc=\t",
            b"Basic\x0babc",
        ] {
            assert_eq!(m(bad), BadSeparator, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(m(b"Bearer abc"), Other);
        assert_eq!(m(b"Bas"), Other);
        assert_eq!(m(b""), Other);
    }

    #[test]
    fn token68() {
        assert!(is_token68(b"mF_9.B5f-4.1JqM"));
        assert!(is_token68(b"abc=="));
        assert!(!is_token68(b"=="));
        assert!(!is_token68(b"a b"));
        assert!(!is_token68(b"a=b"));
        assert!(!is_token68(b""));
        // The table is RFC 9110's set, byte for byte.
        for b in 0..=u8::MAX {
            let listed = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_token68(&[b]), listed, "{b:#04x}");
        }
    }

    #[test]
    fn removes_only_the_credential_parameter() {
        let names = [Cow::Borrowed("token")];
        let uri: Uri = "/a/b?x=1&token=abc&y=%20z+&token%3D=k".parse().unwrap();
        assert_eq!(
            remove_query_params(&uri, &names).unwrap(),
            "/a/b?x=1&y=%20z+&token%3D=k"
        );
        let uri: Uri = "/a?token=abc".parse().unwrap();
        assert_eq!(remove_query_params(&uri, &names).unwrap(), "/a");
        let uri: Uri = "http://h:1/a?to%6Ben=abc&b".parse().unwrap();
        assert_eq!(remove_query_params(&uri, &names).unwrap(), "http://h:1/a?b");
        let uri: Uri = "/a?x=1".parse().unwrap();
        assert!(remove_query_params(&uri, &names).is_none());
    }

    fn protocols(lines: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_bytes(line).unwrap(),
            );
        }
        h
    }

    #[test]
    fn finds_the_subprotocol_token_among_entries() {
        let h = protocols(&[b"cti, authn.bearer.abc.DEF-1_~"]);
        let got: Vec<_> = subprotocol_tokens(&h).collect();
        assert_eq!(got, [Ok("abc.DEF-1_~")]);
        let h = protocols(&[b"cti", b" , Authn.Bearer.x ,"]);
        assert_eq!(subprotocol_tokens(&h).count(), 1);
        let h = protocols(&[b"cti, authn.bearerx, authn.bearer-y, chat"]);
        assert_eq!(subprotocol_tokens(&h).count(), 0);
        let h = protocols(&[b"authn.bearer.a, authn.bearer.b"]);
        assert_eq!(subprotocol_tokens(&h).count(), 2);
        let h = protocols(&[b"authn.bearer.a", b"authn.bearer.a"]);
        assert_eq!(subprotocol_tokens(&h).count(), 2);
    }

    #[test]
    fn bad_subprotocol_tokens_are_errors() {
        for bad in [
            &b"authn.bearer"[..],
            b"authn.bearer.",
            b"authn.bearer.a/b",
            b"authn.bearer.a=",
            b"authn.bearer.a b",
            b"authn.bearer.\xff",
            b"authn.bearer.a\"b",
        ] {
            let h = protocols(&[bad]);
            let got: Vec<_> = subprotocol_tokens(&h).collect();
            assert!(
                matches!(got.as_slice(), [Err(_)]),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn removing_the_token_keeps_the_real_protocols() {
        let mut h = protocols(&[b"cti, authn.bearer.X", b"chat"]);
        remove_subprotocol_tokens(&mut h);
        assert_eq!(
            h.get_all(SEC_WEBSOCKET_PROTOCOL).iter().collect::<Vec<_>>(),
            ["cti, chat"]
        );
        let mut h = protocols(&[b"authn.bearer.X"]);
        remove_subprotocol_tokens(&mut h);
        assert!(!h.contains_key(SEC_WEBSOCKET_PROTOCOL));
        let mut h = protocols(&[b"cti,chat"]);
        remove_subprotocol_tokens(&mut h);
        assert_eq!(h[SEC_WEBSOCKET_PROTOCOL], "cti,chat");
    }
}
