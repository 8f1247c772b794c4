//! PHP's `http_build_query` (RFC 1738 form: a space is `+`).

use super::array::{Array, Key, Value};
use super::number::float_to_string;

/// PHP's `urlencode`: letters, digits and `-_.` stay, a space becomes `+`, every other byte
/// becomes `%XX` (uppercase hex).
///
/// ```
/// use tower_authn_s2s::php::url_encode;
///
/// assert_eq!(url_encode(b"02/06/2020 00:01~"), "02%2F06%2F2020+00%3A01%7E");
/// ```
pub fn url_encode(s: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &c in s {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(char::from(c)),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(c >> 4)]));
                out.push(char::from(HEX[usize::from(c & 15)]));
            }
        }
    }
    out
}

/// PHP's `http_build_query($a)`: entries in the array's order, nested keys as
/// `a%5Bb%5D=...`, `true`/`false` as `1`/`0`, floats as PHP prints them, and `null` values
/// and empty arrays left out entirely.
///
/// ```
/// use tower_authn_s2s::php::{build_query, Array, Value};
///
/// let a = Array::new()
///     .with("fields", "id,start")
///     .with("filter", Array::new().with("start", Array::new().with("from", "02/06/2020 00:01")))
///     .with("skip", Value::Null);
/// assert_eq!(
///     build_query(&a),
///     "fields=id%2Cstart&filter%5Bstart%5D%5Bfrom%5D=02%2F06%2F2020+00%3A01"
/// );
/// ```
pub fn build_query(a: &Array) -> String {
    let mut out = String::new();
    append(a, None, &mut out);
    out
}

fn key_text(k: &Key) -> String {
    url_encode(&k.as_bytes())
}

fn append(a: &Array, prefix: Option<&str>, out: &mut String) {
    for (k, v) in a.iter() {
        let name = match prefix {
            None => key_text(k),
            Some(p) => format!("{p}%5B{}%5D", key_text(k)),
        };
        let scalar = match v {
            Value::Null => continue,
            Value::Array(inner) => {
                append(inner, Some(&name), out);
                continue;
            }
            Value::Bool(b) => (if *b { "1" } else { "0" }).to_owned(),
            Value::Int(i) => i.to_string(),
            Value::Float(x) => url_encode(float_to_string(*x).as_bytes()),
            Value::Str(s) => url_encode(s),
        };
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&name);
        out.push('=');
        out.push_str(&scalar);
    }
}
