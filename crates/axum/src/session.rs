//! Browser sessions in a cookie: `POST /session/login` checks a login and password and sets
//! the session's token in an `HttpOnly` cookie, `POST /session/logout` ends the session and
//! clears it, and [`SessionCookie::layer`] accepts the cookie on any route.
//!
//! The cookie's attributes ([`SessionCookie`]):
//!
//! - `HttpOnly` always: no script reads the token, so a cross-site scripting bug cannot
//!   send it elsewhere.
//! - `SameSite=Lax` by default (`Strict` or `None` on request; `None` implies `Secure`, as
//!   browsers require): pages of other sites never send it on a `POST`.
//! - `Secure` per [`Secure`]: by default when the login arrived over HTTPS, as
//!   `https_redirect` decides it (a TLS marker, or a trusted proxy's `X-Forwarded-Proto`;
//!   never the client's word).
//! - `Path=/` (configurable) and `Max-Age` = the token's lifetime.
//!
//! `SameSite` does not separate origins of one site (a sibling subdomain, another port), so
//! login, logout and every state-changing or WebSocket request proven by the cookie must also
//! carry an `Origin` that is the server's own or one [`SessionCookie::allow_origins`] lists
//! (`403` otherwise; the core's `csrf` guard). The login is guarded too when it carries an
//! `Origin` (a forged login would sign the victim's browser into the attacker's account;
//! browsers always send one on a `POST`, and a client without one is no browser).
//!
//! ```
//! use axum::Router;
//! use tower::ServiceExt as _;
//! use tower_authn_axum::Principal;
//! use tower_authn_axum::session::{self, SessionCookie};
//! use tower_authn_core::UserStoreExt;
//! use tower_authn_core::issue::{OpaqueTokenIssuer, Sessions};
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let users = MemoryUserStore::new();
//! # users.insert(tower_authn_core::UserRecord::new("alice", tower_authn_password::hash_password("wonderland").unwrap()));
//! let sessions = Sessions::new(OpaqueTokenIssuer::new(MemoryKeyStore::new()), users.clone());
//! let cookie = SessionCookie::new().allow_origins(["https://app.example"]);
//! let app: Router = session::router(users.password_verifier(), sessions.clone(), cookie.clone())
//!     .route(
//!         "/whoami",
//!         axum::routing::get(|p: Principal| async move { p.into_id() })
//!             .route_layer(cookie.layer(sessions.verifier())),
//!     );
//!
//! let login = http::Request::post("/session/login")
//!     .header("content-type", "application/json")
//!     .header("origin", "https://app.example")
//!     .body(axum::body::Body::from(r#"{"login":"alice","password":"wonderland"}"#))
//!     .unwrap();
//! let res = app.clone().oneshot(login).await.unwrap();
//! assert_eq!(res.status(), 204);
//! let set = res.headers()["set-cookie"].to_str().unwrap();
//! assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
//! let pair = set.split(';').next().unwrap();
//!
//! let whoami = http::Request::get("/whoami").header("cookie", pair).body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.oneshot(whoami).await.unwrap().status(), 200);
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use cookie::{Cookie, SameSite};
use http::HeaderValue;
use http::header::SET_COOKIE;
use http::request::Parts;
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::csrf::AllowedOrigins;
use tower_authn_core::https_redirect::{PeerLookup, TrustedProxies, arrived_over_https};
use tower_authn_core::issue::{IssuedToken, Sessions};
use tower_authn_core::{CookieTokenLayer, JsonErrors, KeyStore, Principal, Verifier};

use crate::login::LoginFields;
use crate::reply::{failure, no_content};
use crate::tokens::read_login;

/// The login route.
pub const LOGIN_PATH: &str = "/session/login";
/// The logout route.
pub const LOGOUT_PATH: &str = "/session/logout";
/// The cookie's default name.
pub const DEFAULT_COOKIE: &str = "authn_session";

/// The login's fields: JSON or form `login` and `password` (no Basic: a browser would cache
/// it and send it everywhere).
pub const LOGIN_FIELDS: LoginFields = LoginFields {
    user: "login",
    password: "password",
    json: true,
    form: true,
    basic: false,
};

/// When the cookie is `Secure` (sent over HTTPS only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Secure {
    /// Always (behind a TLS-terminating proxy that is not trusted, say).
    Always,
    /// When the login arrived over HTTPS: a `TlsConnection` marker from the acceptor, or the
    /// last `X-Forwarded-Proto: https` from a trusted proxy
    /// ([`SessionCookie::trusted_proxies`]). The request-target's scheme is never believed.
    #[default]
    Auto,
    /// Never (plain-HTTP development only).
    Never,
}

/// The session cookie's policy: name, attributes, and the origins whose pages may use it
/// (module docs).
#[derive(Clone)]
pub struct SessionCookie {
    name: Cow<'static, str>,
    path: Cow<'static, str>,
    same_site: SameSite,
    secure: Secure,
    trusted: TrustedProxies,
    peer: PeerLookup,
    origins: AllowedOrigins,
}

impl Default for SessionCookie {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookie")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("same_site", &self.same_site)
            .field("secure", &self.secure)
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

impl SessionCookie {
    /// `authn_session`, `Path=/`, `SameSite=Lax`, [`Secure::Auto`] behind loopback proxies,
    /// only the server's own origin.
    pub fn new() -> Self {
        Self {
            name: Cow::Borrowed(DEFAULT_COOKIE),
            path: Cow::Borrowed("/"),
            same_site: SameSite::Lax,
            secure: Secure::Auto,
            trusted: TrustedProxies::default(),
            peer: crate::connect_info_peer,
            origins: AllowedOrigins::default(),
        }
    }

    /// Names the cookie.
    ///
    /// # Panics
    ///
    /// When `name` is not a cookie name (RFC 6265 §4.1.1: an HTTP token), a configuration
    /// error.
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        assert!(
            tower_authn_core::cookies::is_cookie_name(&name),
            "SessionCookie::named: {name:?} is not a cookie name"
        );
        self.name = name;
        self
    }

    /// The cookie's `Path`.
    ///
    /// # Panics
    ///
    /// When `path` does not start with `/` or holds a `;` or a control character.
    pub fn path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        let path = path.into();
        assert!(
            path.starts_with('/') && !path.bytes().any(|b| b == b';' || b.is_ascii_control()),
            "SessionCookie::path: {path:?} is not a cookie path"
        );
        self.path = path;
        self
    }

    /// `SameSite` (default `Lax`); `None` makes the cookie always `Secure`.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// When the cookie is `Secure` (default [`Secure::Auto`]).
    pub fn secure(mut self, secure: Secure) -> Self {
        self.secure = secure;
        self
    }

    /// The proxies whose `X-Forwarded-Proto` [`Secure::Auto`] believes (default loopback).
    pub fn trusted_proxies(mut self, trusted: TrustedProxies) -> Self {
        self.trusted = trusted;
        self
    }

    /// How the peer address is read (default axum's `ConnectInfo`, then the core's).
    pub fn peer_addr(mut self, peer: PeerLookup) -> Self {
        self.peer = peer;
        self
    }

    /// Lets pages of `origins` (serialized: `https://app.example`) log in, log out and use
    /// the cookie on state-changing requests, besides the server's own.
    ///
    /// # Panics
    ///
    /// When one is not a serialized origin (a configuration error).
    pub fn allow_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for origin in origins {
            self.origins.allow(origin.as_ref());
        }
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layer that accepts the cookie (verified by `verifier`, usually the sessions'),
    /// with this policy's origins: compose it after header schemes with `.or(...)`.
    pub fn layer<V: Verifier<TokenCredential>>(&self, verifier: V) -> CookieTokenLayer<V> {
        CookieTokenLayer::new(self.name.clone(), verifier).allow_origins(self.origins.iter())
    }

    /// Whether the cookie set in answer to `head` is `Secure`.
    pub fn is_secure(&self, head: &Parts) -> bool {
        match self.secure {
            Secure::Always => true,
            Secure::Never => self.same_site == SameSite::None,
            Secure::Auto => {
                self.same_site == SameSite::None
                    || arrived_over_https(
                        &head.extensions,
                        &head.headers,
                        self.peer,
                        |ip: IpAddr| self.trusted.contains(ip),
                    )
            }
        }
    }

    fn base<'c>(&self, value: &'c str, secure: bool) -> cookie::CookieBuilder<'c> {
        Cookie::build((self.name.to_string(), value))
            .path(self.path.to_string())
            .http_only(true)
            .same_site(self.same_site)
            .secure(secure)
    }

    /// The `Set-Cookie` value holding `token` until it expires (marked sensitive: it is a
    /// credential).
    pub fn set_cookie(&self, token: &IssuedToken, secure: bool) -> HeaderValue {
        let max_age = i64::try_from(token.ttl_secs()).unwrap_or(i64::MAX);
        let cookie = self
            .base(token.expose(), secure)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build();
        sensitive(&cookie.to_string())
    }

    /// The `Set-Cookie` value that clears the cookie (same name and path, empty, expired).
    pub fn clear_cookie(&self, secure: bool) -> HeaderValue {
        let mut cookie = self.base("", secure).build();
        cookie.make_removal();
        sensitive(&cookie.to_string())
    }
}

/// A header value from text the cookie crate rendered (visible ASCII: the token is a
/// token, the attributes are ours); an unrenderable one is empty rather than a panic.
fn sensitive(text: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

struct Shared<V, K> {
    passwords: V,
    sessions: Sessions<K>,
    cookie: SessionCookie,
}

/// `POST /session/login` and `POST /session/logout` (module docs): `passwords` checks the
/// login (wrong password and unknown user answer the same `401`), `sessions` starts and
/// ends the sessions, `cookie` is the cookie's policy. Failures are JSON
/// (`{"error", "message"}`) and carry no challenge (a browser would prompt for a password).
pub fn router<V, K>(passwords: V, sessions: Sessions<K>, cookie: SessionCookie) -> Router
where
    V: Verifier<BasicCredentials>,
    K: KeyStore + Clone,
{
    let logout_auth = cookie.layer(sessions.verifier());
    Router::new()
        .route(LOGIN_PATH, post(login::<V, K>))
        .route(LOGOUT_PATH, post(logout::<V, K>).route_layer(logout_auth))
        .with_state(Arc::new(Shared {
            passwords,
            sessions,
            cookie,
        }))
}

/// `204` with `set_cookie`, kept by no cache.
fn with_cookie(set_cookie: HeaderValue) -> Response {
    let mut res = no_content();
    res.headers_mut().insert(SET_COOKIE, set_cookie);
    res
}

async fn login<V, K>(State(shared): State<Arc<Shared<V, K>>>, req: http::Request<Body>) -> Response
where
    V: Verifier<BasicCredentials>,
    K: KeyStore + Clone,
{
    let (head, body) = req.into_parts();
    // A browser always sends `Origin` on a POST: one that is not allowed is a forged login.
    // Without one the client is not a browser (curl, a server), which no page can drive.
    if head.headers.contains_key(http::header::ORIGIN) {
        if let Err(e) = shared.cookie.origins.check(&head) {
            return failure(&JsonErrors, &e);
        }
    }
    let credentials = match read_login(&head.headers, body, LOGIN_FIELDS).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let principal = match shared.passwords.verify(credentials).await {
        Ok(p) => p,
        Err(e) => return failure(&JsonErrors, &e),
    };
    match shared.sessions.start(&principal).await {
        Ok(token) => with_cookie(
            shared
                .cookie
                .set_cookie(&token, shared.cookie.is_secure(&head)),
        ),
        Err(e) => failure(&JsonErrors, &e),
    }
}

async fn logout<V, K>(
    State(shared): State<Arc<Shared<V, K>>>,
    principal: Principal,
    head: Parts,
) -> Response
where
    V: Verifier<BasicCredentials>,
    K: KeyStore + Clone,
{
    // The cookie is cleared only once the session is over: a store that cannot answer
    // leaves both as they were (503), so the user can try again.
    match shared.sessions.end(&principal).await {
        Ok(()) => with_cookie(shared.cookie.clear_cookie(shared.cookie.is_secure(&head))),
        Err(e) => failure(&JsonErrors, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> Parts {
        let mut req = http::Request::post("/session/login");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    fn token() -> IssuedToken {
        IssuedToken::new(
            "tok-value",
            std::time::SystemTime::now(),
            std::time::Duration::from_secs(3600),
        )
    }

    #[test]
    fn the_cookie_has_every_attribute_and_is_redacted() {
        let c = SessionCookie::new();
        let set = c.set_cookie(&token(), false);
        assert!(set.is_sensitive());
        let text = set.to_str().unwrap();
        for part in [
            "authn_session=tok-value",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(text.contains(part), "{text}");
        }
        assert!(!text.contains("Secure"), "{text}");
        assert!(
            c.set_cookie(&token(), true)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        let clear = c.clear_cookie(false);
        let clear = clear.to_str().unwrap();
        assert!(clear.starts_with("authn_session=;"), "{clear}");
        assert!(clear.contains("Max-Age=0"), "{clear}");
        assert!(!format!("{c:?}").contains("tok-value"));
    }

    #[test]
    fn secure_follows_the_connection_not_the_client() {
        let auto = SessionCookie::new();
        assert!(!auto.is_secure(&head(&[])));
        // The client's word alone is not HTTPS: no trusted peer here.
        assert!(!auto.is_secure(&head(&[("x-forwarded-proto", "https")])));
        let mut tls = head(&[]);
        tls.extensions
            .insert(tower_authn_core::https_redirect::TlsConnection);
        assert!(auto.is_secure(&tls));
        let mut proxied = head(&[("x-forwarded-proto", "https")]);
        proxied
            .extensions
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                9,
            ))));
        assert!(auto.is_secure(&proxied));
        assert!(
            SessionCookie::new()
                .secure(Secure::Always)
                .is_secure(&head(&[]))
        );
        assert!(
            SessionCookie::new()
                .secure(Secure::Never)
                .same_site(SameSite::None)
                .is_secure(&head(&[]))
        );
    }

    #[test]
    #[should_panic(expected = "not a cookie name")]
    fn a_bad_name_is_a_configuration_error() {
        let _ = SessionCookie::new().named("a b");
    }

    #[test]
    #[should_panic(expected = "serialized origin")]
    fn a_bad_origin_is_a_configuration_error() {
        let _ = SessionCookie::new().allow_origins(["https://app.example/"]);
    }
}
