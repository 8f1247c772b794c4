//! GATEWAY.md "Browsers as clients": CORS for the listed origins and XiVO's CTI WebSocket.
//!
//! - [`ListedCors`] puts tower-http's `CorsLayer` in front of the gateway for the origins in
//!   `GATEWAY_CORS_ORIGINS` only: a request from any other origin (or none) reaches the
//!   routes untouched and its answer carries no CORS header at all (tower-http alone would
//!   still add `Vary` and `Access-Control-Allow-Credentials`, and would answer every
//!   `OPTIONS` itself). A listed origin's preflight is answered `204` before any
//!   authentication (a browser never sends credentials on one); every other answer to a
//!   listed origin, a 401 included, exposes `WWW-Authenticate` so a script can read the
//!   challenges. It sits outside everything, so refusals carry the CORS headers too.
//! - [`cti`] is `GET /xuc/api/2.0/cti`: the WebSocket opens only for a principal the route's
//!   layer proved (a refusal is a 401 before any upgrade). It sends the principal as JSON
//!   (what `whoami` answers), then echoes every text message, and closes after the idle
//!   timeout without a frame from the client, so an open socket cannot hold its connection
//!   slot forever.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::TryFutureExt as _;
use futures_util::future::{Either, MapOk};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use tower::util::Oneshot;
use tower::{Layer, Service, ServiceExt as _};
use tower_authn::Principal;
use tower_authn::csrf::{AllowedOrigins, Origin};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

/// XiVO's CTI WebSocket.
pub(crate) const CTI_PATH: &str = "/xuc/api/2.0/cti";
/// The CTI socket's subprotocol (XiVO CC's web clients offer it).
pub(crate) const CTI_PROTOCOL: &str = "cti";
/// The largest CTI message accepted (a CTI command is a small JSON object).
const CTI_MAX_MESSAGE: usize = 64 * 1024;
/// How long a preflight's answer may be cached by the browser.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Parses `GATEWAY_CORS_ORIGINS`: comma-separated serialized origins (`scheme://host[:port]`,
/// no path, no trailing slash), the core's origin grammar (`csrf::Origin`), kept as a
/// browser sends them (lowercase, no default port).
///
/// # Errors
///
/// The first entry that is not an origin.
pub(crate) fn parse_origins(value: &str) -> Result<AllowedOrigins, String> {
    let mut origins = AllowedOrigins::default();
    for o in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let origin = Origin::parse(o).ok_or_else(|| {
            format!("{o:?} is not an origin (scheme://host[:port], no path, no trailing slash)")
        })?;
        origins.allow(&origin.to_string());
    }
    Ok(origins)
}

/// The request headers a script on a listed origin may send: `credential` (every credential
/// header the gateway's schemes read), `Content-Type` and Wildix's `X-APP-ID`.
pub(crate) fn allowed_headers(mut credential: Vec<HeaderName>) -> Vec<HeaderName> {
    for extra in [header::CONTENT_TYPE, HeaderName::from_static("x-app-id")] {
        if !credential.contains(&extra) {
            credential.push(extra);
        }
    }
    credential
}

/// tower-http's CORS for `origins` only; see the module docs. `allow_headers` are the request
/// headers a script may send (every credential header the gateway reads, and more).
#[derive(Clone)]
pub(crate) struct ListedCors {
    origins: AllowedOrigins,
    cors: CorsLayer,
}

impl ListedCors {
    pub(crate) fn new(origins: &AllowedOrigins, allow_headers: Vec<HeaderName>) -> Self {
        // Serialized origins are visible ASCII: every one is a header value.
        let values = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok());
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(values))
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(allow_headers)
            .allow_credentials(true)
            .expose_headers([header::WWW_AUTHENTICATE])
            .max_age(PREFLIGHT_MAX_AGE);
        Self {
            origins: origins.clone(),
            cors,
        }
    }
}

impl<S: Clone> Layer<S> for ListedCors {
    type Service = ListedCorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ListedCorsService {
            listed: self.cors.layer(inner.clone()),
            plain: inner,
            origins: self.origins.clone(),
        }
    }
}

/// The service of [`ListedCors`].
#[derive(Clone)]
pub(crate) struct ListedCorsService<S> {
    listed: Cors<S>,
    plain: S,
    origins: AllowedOrigins,
}

/// A preflight tower-http answered, as GATEWAY.md says: `204`.
fn no_content(mut res: Response) -> Response {
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}

impl<S, B> Service<Request<B>> for ListedCorsService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        Oneshot<S, Request<B>>,
        MapOk<Oneshot<Cors<S>, Request<B>>, fn(Response) -> Response>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each call drives a clone of the path it takes to readiness (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let listed = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .is_some_and(|o| self.origins.contains(o));
        if !listed {
            return Either::Left(self.plain.clone().oneshot(req));
        }
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let status: fn(Response) -> Response = if preflight { no_content } else { |r| r };
        Either::Right(self.listed.clone().oneshot(req).map_ok(status))
    }
}

/// `GET /xuc/api/2.0/cti`: see the module docs. `idle` is the gateway's idle timeout.
pub(crate) async fn cti(
    principal: Principal,
    upgrade: WebSocketUpgrade,
    idle: Duration,
) -> Response {
    upgrade
        .protocols([CTI_PROTOCOL])
        .max_message_size(CTI_MAX_MESSAGE)
        .max_frame_size(CTI_MAX_MESSAGE)
        .on_upgrade(move |socket| serve_cti(socket, principal, idle))
        .into_response()
}

async fn serve_cti(mut socket: WebSocket, principal: Principal, idle: Duration) {
    let hello = match serde_json::to_string(&principal) {
        Ok(json) => json,
        Err(e) => {
            tracing::warn!("cti: cannot render the principal: {e}");
            return;
        }
    };
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    loop {
        // Closed, broken, or silent past the idle timeout: done.
        let Ok(Some(Ok(next))) = tokio::time::timeout(idle, socket.recv()).await else {
            return;
        };
        match next {
            Message::Text(text) => {
                if socket.send(Message::Text(text)).await.is_err() {
                    return;
                }
            }
            Message::Close(_) => return,
            // Pings are answered by the protocol layer; binary frames are not CTI.
            Message::Ping(_) | Message::Pong(_) | Message::Binary(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_origins;

    #[test]
    fn origins_are_scheme_host_port_only() {
        let ok = parse_origins("https://App.example, http://127.0.0.1:8081, https://a:443")
            .expect("origins");
        assert_eq!(
            ok.iter().collect::<Vec<_>>(),
            ["https://app.example", "http://127.0.0.1:8081", "https://a"]
        );
        for bad in [
            "app.example",
            "https://app.example/",
            "https://app.example/path",
            "ftp://app.example",
            "https://user@app.example",
            "https://app.example?x=1",
        ] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
        assert!(parse_origins("").expect("empty").is_empty());
    }
}
