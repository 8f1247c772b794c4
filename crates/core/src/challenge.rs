//! `WWW-Authenticate` challenges (RFC 7235 §4.1, RFC 7617 §2, RFC 6750 §3), rendered with
//! correct quoted-string escaping.

use std::borrow::Cow;
use std::fmt::Write as _;

use http::HeaderValue;

/// One challenge: an auth-scheme and its parameters.
///
/// ```
/// use tower_authn_core::Challenge;
///
/// let c = Challenge::new("Basic").realm("WallyWorld").param("charset", "UTF-8");
/// assert_eq!(c.render(), r#"Basic realm="WallyWorld", charset="UTF-8""#);
/// let q = Challenge::new("Bearer").realm(r#"say "hi" \o/"#);
/// assert_eq!(q.render(), r#"Bearer realm="say \"hi\" \\o/""#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    scheme: Cow<'static, str>,
    params: Vec<(Cow<'static, str>, Cow<'static, str>)>,
}

impl Challenge {
    /// A challenge for `scheme` (an RFC 9110 token such as `Basic` or `Bearer`).
    pub fn new(scheme: impl Into<Cow<'static, str>>) -> Self {
        Self {
            scheme: scheme.into(),
            params: Vec::new(),
        }
    }

    /// Adds `realm="..."`.
    pub fn realm(self, realm: impl Into<Cow<'static, str>>) -> Self {
        self.param("realm", realm)
    }

    /// Adds a `name="value"` parameter; `value` is quoted and escaped when rendered.
    pub fn param(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The auth-scheme.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The value of parameter `name` (case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &**v)
    }

    /// Renders `scheme name="value", ...`. Control characters are dropped, `"` and `\` escaped.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 + self.params.len() * 24);
        out.push_str(&self.scheme);
        for (i, (name, value)) in self.params.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { ", " });
            let _ = write!(out, "{name}=\"");
            for ch in value.chars() {
                match ch {
                    '"' | '\\' => {
                        out.push('\\');
                        out.push(ch);
                    }
                    c if c.is_control() => {}
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out
    }

    /// The rendered challenge as a header value.
    pub fn to_header_value(&self) -> HeaderValue {
        // `render` drops control characters, so only visible ASCII, space and UTF-8
        // (obs-text) bytes remain: always a valid header value.
        HeaderValue::from_bytes(self.render().as_bytes())
            .unwrap_or_else(|_| HeaderValue::from_static("Unknown"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7617_and_6750_shapes() {
        assert_eq!(
            Challenge::new("Basic").realm("WallyWorld").render(),
            r#"Basic realm="WallyWorld""#
        );
        assert_eq!(
            Challenge::new("Basic")
                .realm("foo")
                .param("charset", "UTF-8")
                .render(),
            r#"Basic realm="foo", charset="UTF-8""#
        );
        assert_eq!(
            Challenge::new("Bearer")
                .realm("example")
                .param("error", "invalid_token")
                .param("error_description", "The access token expired")
                .render(),
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#
        );
    }

    #[test]
    fn control_characters_cannot_split_headers() {
        let c = Challenge::new("Basic").realm("a\r\nSet-Cookie: x");
        assert_eq!(c.render(), r#"Basic realm="aSet-Cookie: x""#);
        assert!(c.to_header_value().to_str().is_ok());
    }
}
