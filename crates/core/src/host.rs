//! One request, one host (RFC 9112 §3.2): [`SingleHostLayer`] answers `400` to a request
//! whose host is missing, given twice, unparseable, or given two different ways.
//!
//! Everything that checks a host (a signature over it, a redirect to it, a virtual host)
//! must check the same one. An HTTP/1.1 request names its host in exactly one `Host` line;
//! an absolute-form target (`GET http://api.example.com/x HTTP/1.1`) or HTTP/2's
//! `:authority` names it in the URI, and a `Host` line beside it must agree. The layer
//! refuses the rest before any inner service sees the request, and hands the one host on
//! as a [`RequestHost`] extension. HTTP/1.0 and 0.9 requests may name no host at all.
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_authn_core::host::{RequestHost, SingleHostLayer};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new().layer(SingleHostLayer::new()).service_fn(|req: Request<()>| async move {
//!     let host = req.extensions().get::<RequestHost>().expect("checked").0.to_string();
//!     Ok::<_, Infallible>(Response::new(Bytes::from(host)))
//! });
//!
//! let ok = Request::get("/whoami").header("host", "api.example.com").body(()).unwrap();
//! assert_eq!(svc.clone().oneshot(ok).await.unwrap().into_body(), "api.example.com");
//!
//! let twice = Request::get("/whoami")
//!     .header("host", "api.example.com")
//!     .header("host", "evil.example.net")
//!     .body(())
//!     .unwrap();
//! assert_eq!(svc.oneshot(twice).await.unwrap().status(), 400);
//! # }
//! ```

use std::fmt;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HOST};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri, Version};
use tower_layer::Layer;
use tower_service::Service;

use crate::short_circuit::ShortCircuit;

/// The request's one host, as an extension set by [`SingleHost`]: the target's authority
/// when the target has one, else the `Host` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHost(pub Authority);

/// Why a request has no single host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// An HTTP/1.1 (or later) request names no host.
    Missing,
    /// More than one `Host` line.
    Duplicated,
    /// A host that is empty, not an authority, or carries user information.
    Invalid,
    /// The target's authority and the `Host` line name different hosts.
    Mismatch,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "the request names no host",
            Self::Duplicated => "the request has more than one Host header",
            Self::Invalid => "the request's host is not a valid authority",
            Self::Mismatch => "the request target's authority and the Host header disagree",
        })
    }
}

impl std::error::Error for HostError {}

/// The one host of a request with this `version`, target and headers; `Ok(None)` for an
/// HTTP/1.0 or 0.9 request that names none.
///
/// # Errors
///
/// [`HostError`] when the host is missing (HTTP/1.1 and later: a `Host` line is required
/// even beside an absolute-form target, RFC 9112 §3.2; HTTP/2 and 3 may name it in
/// `:authority` alone), given twice, invalid, or given differently by the target and the
/// `Host` line.
pub fn request_host(
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<Authority>, HostError> {
    let mut lines = headers.get_all(HOST).iter();
    let line = lines.next();
    if lines.next().is_some() {
        return Err(HostError::Duplicated);
    }
    let line = line.map(|v| parse(v.as_bytes())).transpose()?;
    let target = uri.authority().map(checked).transpose()?;
    let h1 = matches!(
        version,
        Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
    );
    match (target, line) {
        (Some(target), Some(line)) => {
            if same_host(target, &line, uri.scheme()) {
                Ok(Some(target.clone()))
            } else {
                Err(HostError::Mismatch)
            }
        }
        (Some(_), None) if version == Version::HTTP_11 => Err(HostError::Missing),
        (Some(target), None) => Ok(Some(target.clone())),
        (None, Some(line)) => Ok(Some(line)),
        (None, None) if h1 && version != Version::HTTP_11 => Ok(None),
        (None, None) => Err(HostError::Missing),
    }
}

fn checked(authority: &Authority) -> Result<&Authority, HostError> {
    // Userinfo in a host is never legitimate (RFC 9110 §4.2.4) and a classic way to make
    // two parsers see two hosts.
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(HostError::Invalid);
    }
    // `Authority` reads a port that is not a number as no port; that is no valid host.
    let port = authority
        .as_str()
        .get(authority.host().len()..)
        .unwrap_or_default();
    match port.strip_prefix(':') {
        None if port.is_empty() => Ok(authority),
        Some(digits)
            if digits.bytes().all(|b| b.is_ascii_digit()) && digits.parse::<u16>().is_ok() =>
        {
            Ok(authority)
        }
        _ => Err(HostError::Invalid),
    }
}

fn parse(value: &[u8]) -> Result<Authority, HostError> {
    let authority = Authority::try_from(value).map_err(|_| HostError::Invalid)?;
    checked(&authority)?;
    Ok(authority)
}

fn default_port(scheme: Option<&Scheme>) -> Option<u16> {
    match scheme {
        Some(s) if *s == Scheme::HTTP => Some(80),
        Some(s) if *s == Scheme::HTTPS => Some(443),
        _ => None,
    }
}

/// Same host (case-insensitive) and same port, an absent port being the scheme's default.
fn same_host(target: &Authority, line: &Authority, scheme: Option<&Scheme>) -> bool {
    let port = |a: &Authority| a.port_u16().or_else(|| default_port(scheme));
    target.host().eq_ignore_ascii_case(line.host()) && port(target) == port(line)
}

/// Answers `400` to a request without exactly one host. See the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleHostLayer {
    _private: (),
}

impl SingleHostLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for SingleHostLayer {
    type Service = SingleHost<S>;

    fn layer(&self, inner: S) -> SingleHost<S> {
        SingleHost { inner }
    }
}

/// The service built by [`SingleHostLayer`].
#[derive(Clone, Debug)]
pub struct SingleHost<S> {
    inner: S,
}

impl<S> SingleHost<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

crate::inner_service_accessors!(SingleHost<S>);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SingleHost<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ShortCircuit<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match request_host(req.version(), req.uri(), req.headers()) {
            Ok(host) => {
                if let Some(host) = host {
                    req.extensions_mut().insert(RequestHost(host));
                }
                ShortCircuit::Inner(self.inner.call(req))
            }
            Err(e) => {
                let mut res = Response::new(ResBody::from(Bytes::from(format!("{e}\n"))));
                *res.status_mut() = StatusCode::BAD_REQUEST;
                let headers = res.headers_mut();
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                // A request that frames its host two ways may be a smuggling attempt: do not
                // read another request from this connection.
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
                ShortCircuit::Answered(Some(res))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt;

    use super::*;

    fn host(
        version: Version,
        uri: &'static str,
        hosts: &[&'static str],
    ) -> Result<Option<String>, HostError> {
        let mut headers = HeaderMap::new();
        for h in hosts {
            headers.append(HOST, HeaderValue::from_static(h));
        }
        request_host(version, &Uri::from_static(uri), &headers).map(|a| a.map(|a| a.to_string()))
    }

    const V11: Version = Version::HTTP_11;

    #[test]
    fn one_host_line_is_the_host() {
        assert_eq!(
            host(V11, "/x", &["api.example.com:8080"]),
            Ok(Some("api.example.com:8080".to_owned()))
        );
    }

    #[test]
    fn http11_without_host_is_missing() {
        assert_eq!(host(V11, "/x", &[]), Err(HostError::Missing));
        // RFC 9112 §3.2: required even beside an absolute-form target.
        assert_eq!(
            host(V11, "http://api.example.com/x", &[]),
            Err(HostError::Missing)
        );
    }

    #[test]
    fn http10_may_name_no_host() {
        assert_eq!(host(Version::HTTP_10, "/x", &[]), Ok(None));
        assert_eq!(
            host(Version::HTTP_10, "http://a.example/x", &[]),
            Ok(Some("a.example".to_owned()))
        );
    }

    #[test]
    fn http2_takes_the_authority() {
        assert_eq!(
            host(Version::HTTP_2, "https://a.example/x", &[]),
            Ok(Some("a.example".to_owned()))
        );
        assert_eq!(host(Version::HTTP_2, "/x", &[]), Err(HostError::Missing));
        assert_eq!(
            host(Version::HTTP_2, "https://a.example/x", &["b.example"]),
            Err(HostError::Mismatch)
        );
    }

    #[test]
    fn two_host_lines_are_refused_even_when_equal() {
        assert_eq!(
            host(V11, "/x", &["a.example", "a.example"]),
            Err(HostError::Duplicated)
        );
        assert_eq!(
            host(V11, "/x", &["a.example", "b.example"]),
            Err(HostError::Duplicated)
        );
    }

    #[test]
    fn absolute_form_authority_is_the_host() {
        assert_eq!(
            host(V11, "http://API.example.com/x", &["api.EXAMPLE.com"]),
            Ok(Some("API.example.com".to_owned()))
        );
        // The scheme's default port, given or not, is the same port.
        assert_eq!(
            host(V11, "http://a.example/x", &["a.example:80"]),
            Ok(Some("a.example".to_owned()))
        );
        assert_eq!(
            host(V11, "https://a.example:443/x", &["a.example"]),
            Ok(Some("a.example:443".to_owned()))
        );
    }

    #[test]
    fn absolute_form_disagreeing_with_host_is_refused() {
        assert_eq!(
            host(V11, "http://a.example/x", &["b.example"]),
            Err(HostError::Mismatch)
        );
        assert_eq!(
            host(V11, "http://a.example:8080/x", &["a.example"]),
            Err(HostError::Mismatch)
        );
        assert_eq!(
            host(V11, "https://a.example/x", &["a.example:80"]),
            Err(HostError::Mismatch)
        );
    }

    #[test]
    fn invalid_hosts_are_refused() {
        for bad in [
            "",
            "user@a.example",
            ":8080",
            "a.example:port",
            "a.example:",
            "a.example:+80",
            "a.example:99999",
            "a example",
        ] {
            assert_eq!(host(V11, "/x", &[bad]), Err(HostError::Invalid), "{bad:?}");
        }
        assert_eq!(
            host(V11, "http://user@a.example/x", &["a.example"]),
            Err(HostError::Invalid)
        );
        assert_eq!(
            host(V11, "/x", &["[::1]:8080"]),
            Ok(Some("[::1]:8080".to_owned()))
        );
    }

    async fn call(req: Request<()>) -> Response<Bytes> {
        let svc = SingleHostLayer::new().layer(tower::service_fn(|req: Request<()>| async move {
            let host = req
                .extensions()
                .get::<RequestHost>()
                .map(|h| h.0.to_string());
            Ok::<_, Infallible>(Response::new(Bytes::from(host.unwrap_or_default())))
        }));
        svc.oneshot(req).await.unwrap()
    }

    #[tokio::test]
    async fn layer_passes_the_one_host_on() {
        let req = Request::get("http://a.example/x")
            .header("host", "A.example")
            .body(())
            .unwrap();
        let res = call(req).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.into_body(), "a.example");
    }

    #[tokio::test]
    async fn layer_answers_400_and_closes() {
        let req = Request::get("/x")
            .header("host", "a.example")
            .header("host", "b.example")
            .body(())
            .unwrap();
        let res = call(req).await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.headers()[CONNECTION], "close");
        assert_eq!(
            res.into_body(),
            "the request has more than one Host header\n"
        );

        let missing = Request::get("/x").body(()).unwrap();
        assert_eq!(call(missing).await.status(), 400);
    }

    #[tokio::test]
    async fn layer_lets_http10_without_host_through() {
        let req = Request::get("/x")
            .version(Version::HTTP_10)
            .body(())
            .unwrap();
        let res = call(req).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.into_body(), "");
    }
}
