//! PHP's `parse_str`, strict: the same result as PHP for every input it accepts, and an error
//! wherever PHP would silently drop, rename or overwrite part of the input.
//!
//! PHP URL-decodes names and values (`+` is a space), expands `a[b][c]=v` into nested arrays
//! and `a[]=v` into appends, and turns integer-like names into integer keys. Where PHP quietly
//! loses information (a repeated name, a value replaced by an array, `.` or a space rewritten
//! to `_`, text after `]`, too many variables or levels), a verifier that accepted the request
//! would hand the inner service parameters that were never signed. So those are errors.
//!
//! ```
//! use tower_authn_s2s::php::{parse_str, Key, ParseLimits, Value};
//!
//! let q = parse_str(b"fields=id%2Cstart&filter%5Bstart%5D%5Bfrom%5D=02%2F06%2F2020+00%3A01",
//!     &ParseLimits::default()).unwrap();
//! assert_eq!(q.get(&Key::from("fields")), Some(&Value::from("id,start")));
//! let Some(Value::Array(filter)) = q.get(&Key::from("filter")) else { panic!() };
//! assert_eq!(filter.len(), 1);
//!
//! assert!(parse_str(b"a=1&a=2", &ParseLimits::default()).is_err());
//! ```

use std::fmt;

use super::array::{Array, Key, Value};

/// Bounds on what [`parse_str`] accepts. The defaults are PHP's `max_input_vars` (1000) and
/// `max_input_nesting_level` (64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// The most `name=value` pairs.
    pub max_vars: usize,
    /// The most `[...]` levels in one name.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_vars: 1000,
            max_depth: 64,
        }
    }
}

/// Why [`parse_str`] refused its input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// More pairs than [`ParseLimits::max_vars`].
    TooManyVars,
    /// A name nested deeper than [`ParseLimits::max_depth`].
    TooDeep,
    /// PHP would drop, rename or overwrite part of the input; the reason says which.
    Ambiguous(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooManyVars => f.write_str("too many parameters"),
            ParseError::TooDeep => f.write_str("parameter name nested too deeply"),
            ParseError::Ambiguous(why) => write!(f, "ambiguous parameters: {why}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// PHP's `urldecode`: `+` is a space, `%XX` with two hex digits is that byte, any other `%`
/// stays as it is.
///
/// ```
/// use tower_authn_s2s::php::url_decode;
///
/// assert_eq!(url_decode(b"a+b%2Fc%zz%4"), b"a b/c%zz%4");
/// ```
pub fn url_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => match (s.get(i + 1).and_then(hex), s.get(i + 2).and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn hex(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses a query string or form body as PHP's `parse_str` does, refusing every input on
/// which PHP would lose information.
///
/// # Errors
///
/// [`ParseError`] when a limit is exceeded or the result would be ambiguous.
pub fn parse_str(input: &[u8], limits: &ParseLimits) -> Result<Array, ParseError> {
    if input.contains(&0) {
        return Err(ParseError::Ambiguous("NUL byte"));
    }
    let mut root = Array::new();
    let mut count = 0usize;
    for pair in input.split(|&c| c == b'&').filter(|p| !p.is_empty()) {
        count += 1;
        if count > limits.max_vars {
            return Err(ParseError::TooManyVars);
        }
        let (name, value) = match pair.iter().position(|&c| c == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or_default(),
                url_decode(pair.get(eq + 1..).unwrap_or_default()),
            ),
            None => (pair, Vec::new()),
        };
        let name = url_decode(name);
        if name.contains(&0) {
            return Err(ParseError::Ambiguous("NUL in a parameter name"));
        }
        register(&mut root, &name, value, limits)?;
    }
    Ok(root)
}

/// One step of a parameter name: `Some(index)` or `None` for `[]`.
type Segment<'a> = Option<&'a [u8]>;

/// Splits `name` into its top-level name and bracket segments, as `php_register_variable_ex`.
fn segments<'a>(name: &'a [u8], limits: &ParseLimits) -> Result<Vec<Segment<'a>>, ParseError> {
    if name.first() == Some(&b' ') {
        return Err(ParseError::Ambiguous("leading space in a parameter name"));
    }
    let bracket = name.iter().position(|&c| c == b'[');
    let top = name
        .get(..bracket.unwrap_or(name.len()))
        .unwrap_or_default();
    if top.is_empty() {
        return Err(ParseError::Ambiguous("empty parameter name"));
    }
    if top.iter().any(|&c| c == b'.' || c == b' ') {
        return Err(ParseError::Ambiguous("'.' or space in a parameter name"));
    }
    let mut out = vec![Some(top)];
    let Some(mut ip) = bracket else {
        return Ok(out);
    };
    let at = |i: usize| name.get(i).copied();
    loop {
        if out.len() > limits.max_depth {
            return Err(ParseError::TooDeep);
        }
        // `ip` is at a '['.
        let index_start = ip + 1;
        let mut q = index_start;
        if at(q).is_some_and(is_c_space) {
            q += 1;
        }
        if at(q) == Some(b']') {
            out.push(None);
            ip = q;
        } else {
            let rest = name.get(q..).unwrap_or_default();
            let Some(off) = rest.iter().position(|&c| c == b']') else {
                return Err(ParseError::Ambiguous("'[' without ']' in a parameter name"));
            };
            out.push(Some(name.get(index_start..q + off).unwrap_or_default()));
            ip = q + off;
        }
        ip += 1;
        match at(ip) {
            Some(b'[') => continue,
            None => return Ok(out),
            Some(_) => return Err(ParseError::Ambiguous("text after ']' in a parameter name")),
        }
    }
}

/// PHP (since 8.1.11) drops a variable whose name became `__Host-`/`__Secure-` by mangling.
fn forbidden(index: &[u8], full_name: &[u8]) -> bool {
    [&b"__Host-"[..], b"__Secure-"]
        .iter()
        .any(|p| index.starts_with(p) && !full_name.starts_with(p))
}

fn register(
    root: &mut Array,
    name: &[u8],
    value: Vec<u8>,
    limits: &ParseLimits,
) -> Result<(), ParseError> {
    let segs = segments(name, limits)?;
    let Some((last, parents)) = segs.split_last() else {
        return Err(ParseError::Ambiguous("empty parameter name"));
    };
    let mut table = root;
    for seg in parents {
        let key = match seg {
            None => {
                let i = table
                    .push(Array::new())
                    .map_err(|_| ParseError::Ambiguous("array index out of range"))?;
                Key::Int(i)
            }
            Some(index) => {
                if forbidden(index, name) {
                    return Err(ParseError::Ambiguous("forbidden parameter name"));
                }
                let key = Key::from_bytes(index);
                if !table.contains_key(&key) {
                    table.insert(key.clone(), Array::new());
                }
                key
            }
        };
        table = match table.get_mut(&key) {
            Some(Value::Array(a)) => a,
            _ => return Err(ParseError::Ambiguous("a value and an array under one name")),
        };
    }
    match last {
        None => {
            table
                .push(Value::Str(value))
                .map_err(|_| ParseError::Ambiguous("array index out of range"))?;
        }
        Some(index) => {
            if forbidden(index, name) {
                return Err(ParseError::Ambiguous("forbidden parameter name"));
            }
            if table
                .insert(Key::from_bytes(index), Value::Str(value))
                .is_some()
            {
                return Err(ParseError::Ambiguous("repeated parameter name"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Result<Array, ParseError> {
        parse_str(s.as_bytes(), &ParseLimits::default())
    }

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    #[test]
    fn plain_and_nested() {
        let a = p("a=1&&b=x+y%21&c&d=").unwrap();
        let want = Array::new()
            .with("a", "1")
            .with("b", "x y!")
            .with("c", "")
            .with("d", "");
        assert_eq!(a, want);

        let a = p("f[s][from]=1&f[s][to]=2&l[]=x&l[]=y&l[5]=z&l[]=w&n[ ]=q").unwrap();
        let want = Array::new()
            .with(
                "f",
                Array::new().with("s", Array::new().with("from", "1").with("to", "2")),
            )
            .with(
                "l",
                Array::new()
                    .with(0, "x")
                    .with(1, "y")
                    .with(5, "z")
                    .with(6, "w"),
            )
            .with("n", Array::new().with(0, "q"));
        assert_eq!(a, want);
    }

    #[test]
    fn keys_inside_brackets_are_kept_verbatim() {
        let a = p("a[ x]=1&a[b[c]=2&a[0]=3&a[01]=4").unwrap();
        let Some(Value::Array(inner)) = a.get(&Key::from("a")) else {
            panic!("{a:?}")
        };
        assert_eq!(inner.get(&Key::from(" x")), Some(&s("1")));
        assert_eq!(inner.get(&Key::from("b[c")), Some(&s("2")));
        assert_eq!(inner.get(&Key::Int(0)), Some(&s("3")));
        assert_eq!(inner.get(&Key::from("01")), Some(&s("4")));
    }

    #[test]
    fn lossy_inputs_are_refused() {
        for bad in [
            "a=1&a=2",
            "a=1&a[b]=2",
            "a[b]=1&a=2",
            "a[b]=1&a[b]=2",
            "a.b=1",
            "a+b=1",
            "%20a=1",
            "=1",
            "[a]=1",
            "a[b=1",
            "a[b]c=1",
            "a[b][c=1",
            "a%00b=1",
            "a[__Host-x]=1",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert!(parse_str(b"a=1\0", &ParseLimits::default()).is_err());
        assert!(p("__Host-a[__Host-b]=1").is_ok());
    }

    #[test]
    fn limits() {
        let limits = ParseLimits {
            max_vars: 3,
            max_depth: 2,
        };
        assert!(parse_str(b"a=1&b=2&c=3", &limits).is_ok());
        assert_eq!(
            parse_str(b"a=1&b=2&c=3&d=4", &limits),
            Err(ParseError::TooManyVars)
        );
        assert!(parse_str(b"a[b][c]=1", &limits).is_ok());
        assert_eq!(
            parse_str(b"a[b][c][d]=1", &limits),
            Err(ParseError::TooDeep)
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_str(&bytes, &ParseLimits::default());
        }

        #[test]
        fn never_panics_on_queryish(text in r"[a-c0-9\[\]=&%+. _-]{0,120}") {
            let _ = parse_str(text.as_bytes(), &ParseLimits::default());
        }
    }
}
