//! `WWW-Authenticate` challenge rendering (crates/core/src/challenge.rs).
//!
//! Input: `scheme NUL name NUL value NUL name NUL value ...`.
//! - Rendering never panics and `to_header_value` is always a valid header value.
//! - With a token scheme and token names, the rendered challenge parses back (RFC 9110
//!   §11.6.1 grammar, parsed here independently) to the same scheme and parameters, every
//!   value being the given one with control characters dropped: `"` and `\` are escaped, so
//!   no value can end its quoted-string early or add a parameter.
//! - `to_header_value` is the rendered text byte for byte; `get` finds the first parameter
//!   of a name, case-insensitively.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_authn_core::Challenge;
use tower_authn_fuzz::{is_tchar, is_token};

/// A parsed challenge: the scheme and the `(name, value)` parameters, as bytes.
type Parsed = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);

/// Parses `scheme SP name="value", name="value"` strictly; `None` on any deviation.
fn parse(s: &[u8]) -> Option<Parsed> {
    let mut i = 0;
    let take_token = |i: &mut usize| {
        let start = *i;
        while s.get(*i).copied().is_some_and(is_tchar) {
            *i += 1;
        }
        (*i > start).then(|| s[start..*i].to_vec())
    };
    let scheme = take_token(&mut i)?;
    let mut params = Vec::new();
    if i == s.len() {
        return Some((scheme, params));
    }
    if s.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    loop {
        let name = take_token(&mut i)?;
        if s.get(i) != Some(&b'=') || s.get(i + 1) != Some(&b'"') {
            return None;
        }
        i += 2;
        let mut value = Vec::new();
        loop {
            match *s.get(i)? {
                b'"' => break,
                b'\\' => {
                    i += 1;
                    let c = *s.get(i)?;
                    // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                    if !(c == b'\t' || c == b' ' || c.is_ascii_graphic() || c >= 0x80) {
                        return None;
                    }
                    value.push(c);
                }
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                c if c == b'\t'
                    || c == b' '
                    || c == 0x21
                    || (0x23..=0x7e).contains(&c)
                    || c >= 0x80 =>
                {
                    value.push(c)
                }
                _ => return None,
            }
            i += 1;
        }
        i += 1;
        params.push((name, value));
        if i == s.len() {
            return Some((scheme, params));
        }
        if s.get(i..i + 2) != Some(b", ") {
            return None;
        }
        i += 2;
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let scheme = parts.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = parts.collect();
    let pairs: Vec<(String, String)> = rest
        .chunks(2)
        .map(|p| {
            (
                p[0].to_owned(),
                p.get(1).copied().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut c = Challenge::new(scheme.clone());
    for (n, v) in &pairs {
        c = c.param(n.clone(), v.clone());
    }
    let rendered = c.render();
    let header = c.to_header_value();
    assert!(
        !header
            .as_bytes()
            .iter()
            .any(|b| matches!(b, b'\r' | b'\n' | 0))
    );
    for (n, _) in &pairs {
        let first = pairs
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str());
        assert_eq!(c.get(n), first);
    }

    if !is_token(scheme.as_bytes()) || !pairs.iter().all(|(n, _)| is_token(n.as_bytes())) {
        return;
    }
    assert_eq!(
        header.as_bytes(),
        rendered.as_bytes(),
        "header value differs from render()"
    );
    let (s, params) = parse(rendered.as_bytes())
        .unwrap_or_else(|| panic!("rendered challenge does not parse: {rendered:?}"));
    assert_eq!(s, scheme.as_bytes());
    let want: Vec<(Vec<u8>, Vec<u8>)> = pairs
        .iter()
        .map(|(n, v)| {
            let kept: String = v.chars().filter(|ch| !ch.is_control()).collect();
            (n.clone().into_bytes(), kept.into_bytes())
        })
        .collect();
    assert_eq!(params, want, "rendered {rendered:?}");
});
