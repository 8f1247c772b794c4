//! Redirect plain HTTP to HTTPS, to one configured canonical origin: same path and query,
//! `302 Found` by default.
//!
//! The target is always the configured [`HttpsOrigin`], never the client's `Host` or an
//! absolute-form target: a redirect built from what the client sent is an open redirect
//! (`Host: evil.example` → `https://evil.example/...`).
//!
//! A request counts as HTTPS only when the connection says so: a [`TlsConnection`]
//! extension set by the TLS acceptor, or a configured trusted proxy's
//! `X-Forwarded-Proto: https`. A request-target's `https://` scheme (HTTP/1.1 absolute
//! form, HTTP/2 `:scheme`) is the client's word and is ignored, and so is
//! `X-Forwarded-Proto` from anyone but a trusted proxy, so a client cannot talk its way
//! past the redirect. The peer address comes from the request's extensions: [`PeerAddr`]
//! or a bare `SocketAddr` by default (plain hyper: insert one per connection), or anything
//! else through [`HttpsRedirectLayer::peer_addr`] (axum's `ConnectInfo<SocketAddr>`:
//! `tower_authn_axum::connect_info_peer`).
//!
//! ```
//! use std::convert::Infallible;
//! use std::net::SocketAddr;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_authn_core::https_redirect::{HttpsRedirectLayer, PeerAddr};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let layer = HttpsRedirectLayer::new("https://api.example.com".parse().unwrap())
//!     .trust_proxy("10.0.0.0/8".parse().unwrap());
//! let svc = ServiceBuilder::new()
//!     .layer(layer)
//!     .service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(Bytes::from("secure"))) });
//!
//! let plain = Request::get("/rest/auth?x=1").header("host", "evil.example").body(()).unwrap();
//! let res = svc.clone().oneshot(plain).await.unwrap();
//! assert_eq!(res.status(), 302);
//! assert_eq!(res.headers()["location"], "https://api.example.com/rest/auth?x=1");
//!
//! let peer: SocketAddr = "10.1.2.3:40000".parse().unwrap();
//! let mut proxied = Request::get("/rest/auth").header("host", "api.example.com").header("x-forwarded-proto", "https");
//! proxied.extensions_mut().unwrap().insert(PeerAddr(peer));
//! let res = svc.oneshot(proxied.body(()).unwrap()).await.unwrap();
//! assert_eq!(res.into_body(), "secure");
//! # }
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::LOCATION;
use http::uri::{Authority, Scheme};
use http::{Extensions, HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use tower_layer::Layer;
use tower_service::Service;

use crate::short_circuit::ShortCircuit;

/// The peer address of the connection, as an extension (for plain hyper servers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// A marker extension: the request arrived over TLS (set it in the TLS accept loop).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsConnection;

/// Reads the peer IP from a request's extensions.
pub type PeerLookup = fn(&Extensions) -> Option<IpAddr>;

/// The default [`PeerLookup`]: a [`PeerAddr`] extension, else a bare `SocketAddr` one.
pub fn default_peer_lookup(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<PeerAddr>()
        .map(|p| p.0.ip())
        .or_else(|| extensions.get::<SocketAddr>().map(SocketAddr::ip))
}

/// A trusted proxy: one address (`10.0.0.1`, `::1`) or a network (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Exactly `addr`.
    pub fn addr(addr: IpAddr) -> Self {
        Self {
            network: addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }

    /// Whether `ip` is this proxy (IPv4-mapped IPv6 addresses match their IPv4 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (bytes, bits) = (usize::from(prefix / 8), prefix % 8);
    if a.get(..bytes) != b.get(..bytes) {
        return false;
    }
    if bits == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - bits);
    matches!((a.get(bytes), b.get(bytes)), (Some(x), Some(y)) if x & mask == y & mask)
}

impl From<IpAddr> for TrustedProxy {
    fn from(addr: IpAddr) -> Self {
        Self::addr(addr)
    }
}

/// Not an address or `address/prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidProxy;

impl fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an IP address or an address/prefix network")
    }
}

impl std::error::Error for InvalidProxy {}

impl FromStr for TrustedProxy {
    type Err = InvalidProxy;

    fn from_str(s: &str) -> Result<Self, InvalidProxy> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr.trim().parse().map_err(|_| InvalidProxy)?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or(InvalidProxy)?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

/// The proxies whose forwarding headers are believed, for finding the client address
/// ([`client_addr`](Self::client_addr)). Default: loopback (`127.0.0.0/8`, `::1`), the
/// usual place of a reverse proxy in front of the process; [`none`](Self::none) trusts no
/// one. Parsed from a comma- or space-separated list of addresses and CIDRs (the
/// gateway's `GATEWAY_TRUSTED_PROXIES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedProxies(Vec<TrustedProxy>);

impl Default for TrustedProxies {
    fn default() -> Self {
        Self::loopback()
    }
}

impl TrustedProxies {
    /// Loopback only: `127.0.0.0/8` and `::1`.
    pub fn loopback() -> Self {
        Self(vec![
            TrustedProxy {
                network: IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 0)),
                prefix: 8,
            },
            TrustedProxy::addr(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)),
        ])
    }

    /// No proxy: the connection's peer is always the client.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Exactly `proxies`.
    pub fn new(proxies: impl IntoIterator<Item = TrustedProxy>) -> Self {
        Self(proxies.into_iter().collect())
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|p| p.contains(ip))
    }

    /// The client's address: the connection's `peer`, unless the peer is a trusted proxy;
    /// then the forwarding chain (`Forwarded` `for=`, RFC 7239, when present, else
    /// `X-Forwarded-For`) is read from its end, skipping trusted proxies, and the first
    /// address not trusted is the client. An entry that is not an address (`unknown`, an
    /// obfuscated name, garbage) stops the walk at the hop that appended it, so a client
    /// cannot pick an address by writing one: whatever it sends lies to the left of what
    /// its first trusted proxy appended.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<Option<IpAddr>> = if headers.contains_key("forwarded") {
            headers
                .get_all("forwarded")
                .iter()
                .flat_map(|v| split_list(v.as_bytes()))
                .filter_map(forwarded_for)
                .collect()
        } else {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .flat_map(|v| split_list(v.as_bytes()))
                .map(parse_hop)
                .collect()
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) => {
                    client = *ip;
                    if !self.contains(*ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = InvalidProxy;

    /// `"10.0.0.0/8, 192.0.2.7 ::1"`; an empty string trusts no proxy.
    fn from_str(s: &str) -> Result<Self, InvalidProxy> {
        s.split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// The comma-separated elements of a header value, trimmed.
fn split_list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(crate::head::trim)
        .filter(|e| !e.is_empty())
}

/// The `for=` of one `Forwarded` element: `Some(Some(ip))`, `Some(None)` when it is not
/// an address, `None` when the element has no `for=`.
fn forwarded_for(element: &[u8]) -> Option<Option<IpAddr>> {
    element.split(|&b| b == b';').find_map(|pair| {
        let pair = crate::head::trim(pair);
        let eq = pair.iter().position(|&b| b == b'=')?;
        if !pair[..eq].eq_ignore_ascii_case(b"for") {
            return None;
        }
        let mut value = &pair[eq + 1..];
        if let [b'"', inner @ .., b'"'] = value {
            value = inner;
        }
        Some(parse_hop(value))
    })
}

/// One hop: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(hop).ok()?;
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    text.parse::<SocketAddr>().ok().map(|a| a.ip())
}

/// The canonical HTTPS origin redirects go to: `https://host[:port]`, nothing else (no
/// user-info, path, query or fragment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpsOrigin(Authority);

impl HttpsOrigin {
    /// The `host[:port]` part.
    pub fn authority(&self) -> &str {
        self.0.as_str()
    }
}

/// Not an `https://host[:port]` origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidOrigin;

impl fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an https://host[:port] origin")
    }
}

impl std::error::Error for InvalidOrigin {}

impl FromStr for HttpsOrigin {
    type Err = InvalidOrigin;

    fn from_str(s: &str) -> Result<Self, InvalidOrigin> {
        let s = s.strip_suffix('/').unwrap_or(s);
        let uri: Uri = s.parse().map_err(|_| InvalidOrigin)?;
        let authority = uri.authority().ok_or(InvalidOrigin)?;
        let bare = uri.scheme() == Some(&Scheme::HTTPS)
            && uri.path_and_query().is_none_or(|pq| pq.as_str() == "/")
            && !authority.as_str().contains('@')
            && !authority.host().is_empty();
        if !bare {
            return Err(InvalidOrigin);
        }
        let host = authority.host().to_ascii_lowercase();
        let normal = match authority.port_u16() {
            Some(443) | None => host,
            Some(port) => format!("{host}:{port}"),
        };
        Authority::try_from(normal)
            .map(Self)
            .map_err(|_| InvalidOrigin)
    }
}

#[derive(Debug)]
struct Config {
    status: StatusCode,
    origin: HttpsOrigin,
    trusted: Vec<TrustedProxy>,
    peer: PeerLookup,
}

/// Redirects plain-HTTP requests to HTTPS. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct HttpsRedirectLayer {
    config: Arc<Config>,
}

impl HttpsRedirectLayer {
    /// `302 Found` to `origin`, no trusted proxy, peers from [`default_peer_lookup`].
    pub fn new(origin: HttpsOrigin) -> Self {
        Self {
            config: Arc::new(Config {
                status: StatusCode::FOUND,
                origin,
                trusted: Vec::new(),
                peer: default_peer_lookup,
            }),
        }
    }

    fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        let mut c = Config {
            status: self.config.status,
            origin: self.config.origin.clone(),
            trusted: self.config.trusted.clone(),
            peer: self.config.peer,
        };
        f(&mut c);
        self.config = Arc::new(c);
        self
    }

    /// The redirect status: 301, 302 (default), 303, 307 or 308.
    ///
    /// # Panics
    ///
    /// When `status` is not one of those (a configuration error).
    pub fn status(self, status: StatusCode) -> Self {
        assert!(
            matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308),
            "HttpsRedirectLayer: {status} is not a redirect status"
        );
        self.config(|c| c.status = status)
    }

    /// Trusts `X-Forwarded-Proto` from `proxy`.
    pub fn trust_proxy(self, proxy: TrustedProxy) -> Self {
        self.config(|c| c.trusted.push(proxy))
    }

    /// Trusts `X-Forwarded-Proto` from each of `proxies`.
    pub fn trust_proxies(self, proxies: impl IntoIterator<Item = TrustedProxy>) -> Self {
        self.config(|c| c.trusted.extend(proxies))
    }

    /// How to find the peer address in a request's extensions (default
    /// [`default_peer_lookup`]). No address: forwarded headers are not trusted.
    pub fn peer_addr(self, lookup: PeerLookup) -> Self {
        self.config(|c| c.peer = lookup)
    }
}

impl<S> Layer<S> for HttpsRedirectLayer {
    type Service = HttpsRedirect<S>;

    fn layer(&self, inner: S) -> HttpsRedirect<S> {
        HttpsRedirect {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service built by [`HttpsRedirectLayer`].
#[derive(Clone, Debug)]
pub struct HttpsRedirect<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> HttpsRedirect<S> {
    /// Wraps `inner`, redirecting to `origin`.
    pub fn new(inner: S, origin: HttpsOrigin) -> Self {
        HttpsRedirectLayer::new(origin).layer(inner)
    }

    /// The layer redirecting to `origin`.
    pub fn layer(origin: HttpsOrigin) -> HttpsRedirectLayer {
        HttpsRedirectLayer::new(origin)
    }
}

crate::inner_service_accessors!(HttpsRedirect<S>);

impl Config {
    /// Only the connection (TLS marker) or a trusted proxy can say HTTPS; the
    /// request-target's scheme is the client's word.
    fn is_https<B>(&self, req: &Request<B>) -> bool {
        arrived_over_https(req.extensions(), req.headers(), self.peer, |ip| {
            self.trusted.iter().any(|t| t.contains(ip))
        })
    }

    fn location(&self, uri: &Uri) -> Option<HeaderValue> {
        let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let target = Uri::builder()
            .scheme(Scheme::HTTPS)
            .authority(self.origin.0.clone())
            .path_and_query(path)
            .build()
            .ok()?;
        HeaderValue::from_str(&target.to_string()).ok()
    }
}

/// Whether a request arrived over HTTPS, as this module decides it (module docs): a
/// [`TlsConnection`] extension, or the last `X-Forwarded-Proto` is `https` and the peer
/// (`peer` reads it from the extensions) is one `trusted` accepts. The request-target's
/// scheme is never believed. Other parts use it too (the session cookie's `Secure`).
pub fn arrived_over_https(
    extensions: &Extensions,
    headers: &HeaderMap,
    peer: PeerLookup,
    trusted: impl Fn(IpAddr) -> bool,
) -> bool {
    if extensions.get::<TlsConnection>().is_some() {
        return true;
    }
    peer(extensions).is_some_and(trusted) && forwarded_https(headers)
}

/// The last hop's `X-Forwarded-Proto` (the value our trusted proxy appended) is `https`.
fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpsRedirect<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.config.is_https(&req) {
            return ShortCircuit::Inner(self.inner.call(req));
        }
        let mut res = Response::new(ResBody::from(Bytes::new()));
        match self.config.location(req.uri()) {
            Some(location) => {
                *res.status_mut() = self.config.status;
                res.headers_mut().insert(LOCATION, location);
            }
            // A path the origin cannot carry: nothing to redirect to.
            None => *res.status_mut() = StatusCode::BAD_REQUEST,
        }
        ShortCircuit::Answered(Some(res))
    }
}

/// The response future of [`HttpsRedirect`]: the inner service's, or the redirect.
pub type ResponseFuture<F, B> = ShortCircuit<F, B>;

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt;

    use super::*;

    async fn run(layer: &HttpsRedirectLayer, req: Request<()>) -> Response<Bytes> {
        let svc = layer.layer(tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Bytes::from_static(b"inner")))
        }));
        svc.oneshot(req).await.unwrap()
    }

    fn req(uri: &str, host: Option<&str>, xfp: Option<&str>, peer: Option<&str>) -> Request<()> {
        let mut b = Request::get(uri);
        if let Some(h) = host {
            b = b.header("host", h);
        }
        if let Some(x) = xfp {
            b = b.header("x-forwarded-proto", x);
        }
        let mut r = b.body(()).unwrap();
        if let Some(p) = peer {
            r.extensions_mut().insert(PeerAddr(p.parse().unwrap()));
        }
        r
    }

    fn layer(origin: &str) -> HttpsRedirectLayer {
        HttpsRedirectLayer::new(origin.parse().unwrap())
    }

    #[tokio::test]
    async fn redirects_to_the_canonical_origin_never_the_clients_host() {
        let l = layer("https://api.example.com");
        for host in [
            Some("evil.example"),
            Some("Example.com:8080"),
            None,
            Some("a b"),
        ] {
            let r = run(&l, req("/a/b?x=1&y=%20", host, None, None)).await;
            assert_eq!(r.status(), 302);
            assert_eq!(
                r.headers()[LOCATION],
                "https://api.example.com/a/b?x=1&y=%20",
                "{host:?}"
            );
        }
        let mut two = req("/", Some("a"), None, None);
        two.headers_mut()
            .append(http::header::HOST, HeaderValue::from_static("evil.example"));
        assert_eq!(
            run(&l, two).await.headers()[LOCATION],
            "https://api.example.com/"
        );
        // An absolute-form target names its own host: ignored too.
        let r = run(&l, req("http://evil.example/x?q", None, None, None)).await;
        assert_eq!(r.headers()[LOCATION], "https://api.example.com/x?q");
        // A path that looks like an authority stays a path.
        let r = run(&l, req("//evil.example/x", None, None, None)).await;
        assert_eq!(
            r.headers()[LOCATION],
            "https://api.example.com//evil.example/x"
        );
        let l = layer("https://API.example.com:8443/").status(StatusCode::PERMANENT_REDIRECT);
        let r = run(&l, req("/x", Some("h"), None, None)).await;
        assert_eq!(
            (r.status().as_u16(), r.headers()[LOCATION].to_str().unwrap()),
            (308, "https://api.example.com:8443/x")
        );
    }

    #[test]
    fn origins_are_bare_https_origins() {
        assert_eq!(
            "https://h.example:443"
                .parse::<HttpsOrigin>()
                .unwrap()
                .authority(),
            "h.example"
        );
        assert_eq!(
            "https://[::1]:8443"
                .parse::<HttpsOrigin>()
                .unwrap()
                .authority(),
            "[::1]:8443"
        );
        for bad in [
            "http://h.example",
            "h.example",
            "https://h.example/path",
            "https://u@h.example",
            "https://h.example?q",
            "",
        ] {
            assert!(bad.parse::<HttpsOrigin>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn forwarded_proto_only_from_trusted_proxies() {
        let l = layer("https://h").trust_proxy("10.0.0.0/8".parse().unwrap());
        let ok = run(&l, req("/", Some("h"), Some("https"), Some("10.9.9.9:1"))).await;
        assert_eq!(ok.into_body(), "inner");
        let spoofed = run(&l, req("/", Some("h"), Some("https"), Some("192.0.2.1:1"))).await;
        assert_eq!(spoofed.status(), 302);
        let no_peer = run(&l, req("/", Some("h"), Some("https"), None)).await;
        assert_eq!(no_peer.status(), 302);
        let says_http = run(&l, req("/", Some("h"), Some("http"), Some("10.0.0.1:1"))).await;
        assert_eq!(says_http.status(), 302);
        // The last hop decides.
        let chain = run(
            &l,
            req("/", Some("h"), Some("https, http"), Some("10.0.0.1:1")),
        )
        .await;
        assert_eq!(chain.status(), 302);
        let mapped = run(
            &l,
            req("/", Some("h"), Some("HTTPS"), Some("[::ffff:10.0.0.1]:1")),
        )
        .await;
        assert_eq!(mapped.into_body(), "inner");
    }

    #[tokio::test]
    async fn only_the_connection_says_https() {
        let l = layer("https://h");
        let mut r = req("/", Some("h"), None, None);
        r.extensions_mut().insert(TlsConnection);
        assert_eq!(run(&l, r).await.into_body(), "inner");
        // An absolute-form https:// target on a plain connection is still plain.
        let r = run(&l, req("https://h/x", None, None, None)).await;
        assert_eq!(
            (r.status().as_u16(), r.headers()[LOCATION].to_str().unwrap()),
            (302, "https://h/x")
        );
    }

    #[test]
    fn client_addr_believes_only_trusted_proxies() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            m
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let t = TrustedProxies::default();
        let xff = h(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9")]);
        // From a stranger: its headers are ignored.
        assert_eq!(t.client_addr(ip("192.0.2.5"), &xff), ip("192.0.2.5"));
        // From loopback: the last hop the proxy appended.
        assert_eq!(t.client_addr(ip("127.0.0.1"), &xff), ip("203.0.113.9"));
        // Trusted hops are skipped; several lines are one list.
        let t2: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let chain = h(&[
            ("x-forwarded-for", "1.1.1.1, 198.51.100.1"),
            ("x-forwarded-for", "10.1.1.1"),
        ]);
        assert_eq!(t2.client_addr(ip("127.0.0.1"), &chain), ip("198.51.100.1"));
        // Garbage stops the walk at the hop that appended it.
        let junk = h(&[("x-forwarded-for", "1.1.1.1, nonsense, 10.2.2.2")]);
        assert_eq!(t2.client_addr(ip("127.0.0.1"), &junk), ip("10.2.2.2"));
        // Forwarded (RFC 7239) wins over X-Forwarded-For, ports and brackets allowed.
        let fwd = h(&[
            (
                "forwarded",
                r#"for=192.0.2.60;proto=https, for="[2001:db8::7]:4711""#,
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        assert_eq!(t.client_addr(ip("::1"), &fwd), ip("2001:db8::7"));
        // No header at all: the proxy itself.
        assert_eq!(
            t.client_addr(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
        assert_eq!(
            TrustedProxies::none().client_addr(ip("127.0.0.1"), &xff),
            ip("127.0.0.1")
        );
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::none()
        );
        assert!("10.0.0.0/8, nope".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn proxies_parse_and_match() {
        let p: TrustedProxy = "192.168.0.0/16".parse().unwrap();
        assert!(p.contains("192.168.3.4".parse().unwrap()));
        assert!(!p.contains("192.169.0.1".parse().unwrap()));
        let p: TrustedProxy = "10.0.0.0/9".parse().unwrap();
        assert!(p.contains("10.127.0.1".parse().unwrap()));
        assert!(!p.contains("10.128.0.1".parse().unwrap()));
        let any: TrustedProxy = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("8.8.8.8".parse().unwrap()));
        assert!(!any.contains("::2".parse().unwrap()));
        assert!(
            "fd00::/8"
                .parse::<TrustedProxy>()
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        for bad in ["", "10.0.0.0/33", "x", "10.0.0.0/", "::/129"] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad}");
        }
    }
}
