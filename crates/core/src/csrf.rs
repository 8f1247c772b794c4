//! The cross-site request forgery guard of credentials a browser attaches on its own (the
//! cookie source of the token schemes): a state-changing request proven by such a
//! credential must say, in `Origin`, that it comes from the server's own origin or from one
//! the server lists.
//!
//! - Safe methods (`GET`, `HEAD`, `OPTIONS`) are not guarded: they must not change state.
//! - A WebSocket handshake is guarded although it is a `GET`: no CORS check applies to
//!   WebSockets, so without the guard any page could open a socket that carries the
//!   cookie and read what it says (cross-site WebSocket hijacking). Browsers always send
//!   `Origin` on one (RFC 6455 §4.1).
//! - Any other method needs exactly one `Origin` line, not `null`, that is either
//!   - one of the allowed origins, compared ASCII-case-insensitively as serialized
//!     (`https://app.example`, `http://localhost:3000`; RFC 6454 §6.2), or
//!   - the request's own origin: `http` or `https` whose `host[:port]` is the `Host`
//!     header's (the URI's authority when there is no `Host`: HTTP/2), hosts compared
//!     ASCII-case-insensitively, an absent port being the scheme's default one.
//! - Anything else is `403`, decided before the credential is verified.
//!
//! Credentials a browser never sends by itself (a header, a query parameter, a WebSocket
//! subprotocol entry) need no guard: a page of another origin cannot put them on a request
//! without holding them.

use std::fmt;

use http::Method;
use http::header::{HOST, ORIGIN};
use http::request::Parts;

use crate::error::AuthError;

/// Whether `method` is one a browser may send cross-site without a preflight and that must
/// not change state: `GET`, `HEAD`, `OPTIONS` (the guard lets them through).
pub fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether `head` asks for a WebSocket: `Upgrade` lists the `websocket` protocol (RFC 6455
/// §4.1; any case, in any line).
pub fn is_websocket_handshake(head: &Parts) -> bool {
    head.headers
        .get_all(http::header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
}

/// A tuple origin `scheme://host[:port]` of scheme `http` or `https` (RFC 6454 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// `https` (else `http`).
    pub https: bool,
    /// The host as written: a name, an IPv4 address or a bracketed IPv6 literal.
    pub host: &'a str,
    /// The port, the scheme's default one when none is written.
    pub port: u16,
}

impl<'a> Origin<'a> {
    /// Parses a serialized origin: `http://` or `https://` (case-insensitive), a host, an
    /// optional `:port`, and nothing else (no path, not even `/`; no user info, query or
    /// fragment). `None` for anything else, `null` included.
    pub fn parse(value: &'a str) -> Option<Self> {
        let (https, authority) = if let Some(rest) = strip_prefix_ignore_case(value, "https://") {
            (true, rest)
        } else {
            (false, strip_prefix_ignore_case(value, "http://")?)
        };
        let (host, port) = split_authority(authority)?;
        Some(Self {
            https,
            host,
            port: port.unwrap_or(if https { 443 } else { 80 }),
        })
    }

    /// Whether this origin's host and port are `authority`'s (a `Host` value).
    fn is_at(&self, authority: &str) -> bool {
        match split_authority(authority.trim_matches([' ', '\t'])) {
            Some((host, port)) => {
                host.eq_ignore_ascii_case(self.host)
                    && port.unwrap_or(if self.https { 443 } else { 80 }) == self.port
            }
            None => false,
        }
    }
}

impl fmt::Display for Origin<'_> {
    /// The serialization: lowercase scheme and host, the port only when not the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, default) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        write!(f, "{scheme}://{}", self.host.to_ascii_lowercase())?;
        if self.port != default {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// `host[:port]` (RFC 3986 §3.2.2 without user info): a non-empty host of name characters
/// or a bracketed IPv6 literal, and a port of 1 to 5 digits when a `:` is written.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        let inner = &host[1..host.len() - 1];
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        if host.is_empty() || !host.bytes().all(name) {
            return None;
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) if (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

/// The origins, besides the server's own, whose pages may send state-changing requests
/// proven by a browser-held credential.
#[derive(Clone, Debug, Default)]
pub struct AllowedOrigins(Vec<Box<str>>);

impl AllowedOrigins {
    /// Allows `origin`, a serialized origin such as `https://app.example` or
    /// `http://localhost:3000` (an explicit default port is dropped: `https://a:443` is
    /// `https://a`).
    ///
    /// # Panics
    ///
    /// When `origin` is not one ([`Origin::parse`]): a path or a trailing `/`, another
    /// scheme, `null`, user info (a configuration error).
    pub fn allow(&mut self, origin: &str) {
        let Some(parsed) = Origin::parse(origin) else {
            panic!(
                "allow_origin: {origin:?} is not a serialized origin (http:// or https://, a \
                 host, an optional :port, and no path, not even a trailing /)"
            );
        };
        let serialized = parsed.to_string().into_boxed_str();
        if !self.0.contains(&serialized) {
            self.0.push(serialized);
        }
    }

    /// The listed origins, serialized (`https://app.example`).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|o| &**o)
    }

    /// Whether no origin is listed (only the server's own is accepted).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `origin` (an `Origin` value) is one of the listed origins.
    pub fn contains(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// The guard, for a request proven by a browser-held credential ([module docs](self)).
    ///
    /// # Errors
    ///
    /// `403` ([`AuthError::forbidden`]), its detail naming the origin, for an unsafe method
    /// without an acceptable `Origin`.
    pub fn check(&self, head: &Parts) -> Result<(), AuthError> {
        if is_safe_method(&head.method) && !is_websocket_handshake(head) {
            return Ok(());
        }
        let mut lines = head.headers.get_all(ORIGIN).iter();
        let origin = match (lines.next(), lines.next()) {
            (Some(v), None) => v,
            (None, _) => {
                return Err(AuthError::forbidden(format!(
                    "cross-site request guard: {} without an Origin header",
                    head.method
                )));
            }
            (Some(_), Some(_)) => {
                return Err(AuthError::forbidden(
                    "cross-site request guard: two Origin header lines",
                ));
            }
        };
        let Ok(origin) = origin.to_str() else {
            return Err(AuthError::forbidden(
                "cross-site request guard: Origin is not visible ASCII",
            ));
        };
        if self.contains(origin) || is_own_origin(origin, head) {
            return Ok(());
        }
        let shown: String = origin.chars().take(200).collect();
        Err(AuthError::forbidden(format!(
            "cross-site request guard: Origin {shown} is neither the server's own nor an \
             allowed one"
        )))
    }
}

/// Whether `origin` is the request's own: `http` or `https` at the `Host` header's
/// `host[:port]`, or the URI's authority when there is no `Host`. `null`, two `Host`
/// lines or an authority with user info are never it.
pub fn is_own_origin(origin: &str, head: &Parts) -> bool {
    let Some(origin) = Origin::parse(origin) else {
        return false;
    };
    let mut hosts = head.headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().is_ok_and(|h| origin.is_at(h)),
        (None, _) => head
            .uri
            .authority()
            .is_some_and(|a| origin.is_at(a.as_str())),
        (Some(_), Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::*;

    fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    fn allowed(list: &[&str]) -> AllowedOrigins {
        let mut a = AllowedOrigins::default();
        for o in list {
            a.allow(o);
        }
        a
    }

    #[test]
    fn parses_serialized_origins_only() {
        assert_eq!(
            Origin::parse("https://App.Example"),
            Some(Origin {
                https: true,
                host: "App.Example",
                port: 443
            })
        );
        assert_eq!(Origin::parse("HTTP://h:8080").map(|o| o.port), Some(8080));
        assert_eq!(
            Origin::parse("http://[::1]:3000").map(|o| o.host),
            Some("[::1]")
        );
        for bad in [
            "null",
            "",
            "https://",
            "https://app.example/",
            "https://app.example/x",
            "https://u@app.example",
            "https://app.example?x",
            "https://app.example#x",
            "https://app.example:",
            "https://app.example:99999",
            "https://app.example:1:2",
            "ftp://app.example",
            "https:/app.example",
            "https://[::1",
            "https://[]",
            "https://a b",
            " https://a",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn serializes_without_the_default_port() {
        let s = |o: &str| Origin::parse(o).unwrap().to_string();
        assert_eq!(s("HTTPS://App.Example:443"), "https://app.example");
        assert_eq!(s("http://a:80"), "http://a");
        assert_eq!(s("http://a:443"), "http://a:443");
    }

    #[test]
    fn safe_methods_pass_without_origin() {
        let none = AllowedOrigins::default();
        for m in ["GET", "HEAD", "OPTIONS"] {
            assert!(none.check(&head(m, "/", &[])).is_ok());
        }
    }

    #[test]
    fn a_websocket_handshake_is_guarded_although_a_get() {
        let listed = allowed(&["https://app.example"]);
        let ws = |origin: Option<&str>, upgrade: &str| {
            let mut h = vec![("host", "gw.example"), ("upgrade", upgrade)];
            h.extend(origin.map(|o| ("origin", o)));
            listed.check(&head("GET", "/cti", &h)).is_ok()
        };
        assert!(ws(Some("https://app.example"), "websocket"));
        assert!(ws(Some("https://gw.example"), "WebSocket"));
        assert!(!ws(Some("https://evil.example"), "websocket"));
        assert!(!ws(Some("https://evil.example"), "h2c, websocket"));
        assert!(!ws(None, "websocket"));
        // Another upgrade is an ordinary GET.
        assert!(ws(None, "h2c"));
    }

    #[test]
    fn own_origin_is_the_host_header() {
        let none = AllowedOrigins::default();
        let ok = |origin: &str, host: &str| {
            none.check(&head("POST", "/", &[("origin", origin), ("host", host)]))
                .is_ok()
        };
        assert!(ok("https://gw.example", "gw.example"));
        assert!(ok("http://gw.example", "GW.example"));
        assert!(ok("https://gw.example", "gw.example:443"));
        assert!(ok("http://gw.example:8080", "gw.example:8080"));
        assert!(ok("http://[::1]:8080", "[::1]:8080"));
        assert!(!ok("https://gw.example:8443", "gw.example"));
        assert!(!ok("http://gw.example", "gw.example:443"));
        assert!(!ok("https://evil.example", "gw.example"));
        assert!(!ok("https://gw.example.evil", "gw.example"));
        assert!(!ok("https://gw.example/", "gw.example"));
        assert!(!ok("null", "gw.example"));
    }

    #[test]
    fn without_host_the_uri_authority_counts() {
        let none = AllowedOrigins::default();
        let req = head(
            "PUT",
            "https://gw.example:8443/x",
            &[("origin", "https://gw.example:8443")],
        );
        assert!(none.check(&req).is_ok());
        let req = head("PUT", "/x", &[("origin", "https://gw.example")]);
        assert!(none.check(&req).is_err());
    }

    #[test]
    fn listed_origins_match_case_insensitively() {
        let list = allowed(&["https://App.example", "http://localhost:3000"]);
        let check = |origin: &str| {
            list.check(&head(
                "DELETE",
                "/",
                &[("origin", origin), ("host", "gw.example")],
            ))
        };
        assert!(check("https://app.example").is_ok());
        assert!(check("HTTPS://APP.EXAMPLE").is_ok());
        assert!(check("http://localhost:3000").is_ok());
        let e = check("https://evil.example").unwrap_err();
        assert_eq!(e.status(), 403);
        assert!(
            e.detail().contains("https://evil.example"),
            "{}",
            e.detail()
        );
        assert!(check("https://app.example/").is_err());
        assert!(check("http://app.example").is_err());
    }

    #[test]
    fn missing_null_and_doubled_origins_are_refused() {
        let list = allowed(&["https://app.example"]);
        let refused = |headers: &[(&str, &str)]| {
            list.check(&head("POST", "/", headers))
                .is_err_and(|e| e.status() == 403)
        };
        assert!(refused(&[("host", "gw.example")]));
        assert!(refused(&[("host", "gw.example"), ("origin", "null")]));
        assert!(refused(&[
            ("host", "gw.example"),
            ("origin", "https://app.example"),
            ("origin", "https://app.example"),
        ]));
        assert!(refused(&[
            ("host", "gw.example"),
            ("host", "gw.example"),
            ("origin", "https://gw.example"),
        ]));
    }

    #[test]
    #[should_panic(expected = "not a serialized origin")]
    fn a_trailing_slash_is_a_configuration_error() {
        allowed(&["https://app.example/"]);
    }

    #[test]
    #[should_panic(expected = "not a serialized origin")]
    fn null_is_a_configuration_error() {
        allowed(&["null"]);
    }
}
