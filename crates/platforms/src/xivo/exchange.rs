//! XiVO's credential exchanges: a Kerberos ticket (single sign-on), a CAS service ticket or
//! an OpenID Connect token traded for the same token `auth/login` gives.
//!
//! | route | credential | failure |
//! |---|---|---|
//! | `GET /xuc/api/2.0/auth/sso` | `Authorization: Negotiate <SPNEGO token>` (RFC 4559); without it `401` + `WWW-Authenticate: Negotiate`; a success carries the mutual-authentication reply in `WWW-Authenticate: Negotiate <token>` | `401 SsoAuthenticationFailed` |
//! | `GET /xuc/api/2.0/auth/cas?service=URL&ticket=ST` | a CAS 3.0 service ticket for one of the configured services (another service: `400`) | `401 CasServerInvalidTicket` |
//! | `GET /xuc/api/2.0/auth/oidc` | `Authorization: Bearer <JWT>` of the OpenID Connect provider | `401 InvalidToken` |
//!
//! Every success answers `{"login", "token", "TTL"}` and starts a session (renew with
//! `auth/check`, end with `auth/logout`). An identity no local user has: `404 UserNotFound`;
//! a disabled user: `403 NotAllowed`; a provider that is not configured or cannot be
//! reached: `503 UnhandledError`, never a token.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;
use tower_authn_axum::reply::json_reply;
use tower_authn_core::respond::finish;
use tower_authn_core::{AuthError, Challenge, ErrorKind, HeaderTokenLayer, KeyStore, Principal};
use tower_authn_exchange::cas::CasValidator;
use tower_authn_exchange::oidc::{self, OidcProvider};
use tower_authn_exchange::{
    Exchange, ExchangeError, ExternalIdentity, IdentityMapper, NEGOTIATE, NegotiateAcceptor,
};

use super::answer;

/// The Kerberos single sign-on route.
pub const SSO_PATH: &str = "/xuc/api/2.0/auth/sso";
/// The CAS route.
pub const CAS_PATH: &str = "/xuc/api/2.0/auth/cas";
/// The OpenID Connect route.
pub const OIDC_PATH: &str = "/xuc/api/2.0/auth/oidc";

/// Which external providers the exchange routes trust; a route whose provider is absent
/// answers `503 UnhandledError`.
#[derive(Clone, Default)]
pub struct Providers {
    negotiate: Option<Arc<dyn NegotiateAcceptor>>,
    cas: Option<CasValidator>,
    oidc: Option<OidcProvider>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("negotiate", &self.negotiate.is_some())
            .field("cas", &self.cas)
            .field("oidc", &self.oidc)
            .finish()
    }
}

impl Providers {
    /// No provider: every exchange route answers 503.
    pub fn new() -> Self {
        Self::default()
    }

    /// Kerberos single sign-on through `acceptor` (`tower-authn-kerberos`'s, feature
    /// `kerberos` of `tower-authn-exchange`).
    pub fn with_negotiate(mut self, acceptor: impl NegotiateAcceptor) -> Self {
        self.negotiate = Some(Arc::new(acceptor));
        self
    }

    /// CAS service tickets validated by `cas`.
    pub fn with_cas(mut self, cas: CasValidator) -> Self {
        self.cas = Some(cas);
        self
    }

    /// OpenID Connect tokens of `provider`.
    pub fn with_oidc(mut self, provider: OidcProvider) -> Self {
        self.oidc = Some(provider);
        self
    }
}

/// The code XiVO answers for a failure of `route`'s credential.
fn code(route: &'static str, kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unavailable => "UnhandledError",
        ErrorKind::Forbidden => "NotAllowed",
        ErrorKind::TooManyAttempts => "TooManyAttempts",
        _ => route,
    }
}

const SSO_FAILED: &str = "SsoAuthenticationFailed";
const CAS_INVALID: &str = "CasServerInvalidTicket";
const OIDC_INVALID: &str = "InvalidToken";

fn refusal(route: &'static str, error: &AuthError, challenge: Option<&'static str>) -> Response {
    tracing::debug!(target: "authn", code = error.code(), detail = error.detail(), "xivo exchange refused");
    let res = super::shape(code(route, error.kind()), error);
    let challenges: Vec<Challenge> = challenge.into_iter().map(Challenge::new).collect();
    let mut res = finish(res, error, &challenges).map(axum::body::Body::from);
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    res
}

fn unknown_user() -> Response {
    json_reply(
        StatusCode::NOT_FOUND,
        &json!({ "error": "UserNotFound", "message": "No user matches the external identity." }),
    )
}

fn not_configured(route: &'static str) -> Response {
    refusal(
        route,
        &AuthError::unavailable("xivo exchange: provider not configured"),
        None,
    )
}

struct Shared<M, K> {
    exchange: Exchange<M, K>,
    providers: Providers,
}

/// The three exchange routes over `exchange` (which maps identities to users and starts
/// sessions) for the `providers` configured.
pub fn exchange_router<M, K>(exchange: Exchange<M, K>, providers: Providers) -> Router
where
    M: IdentityMapper,
    K: KeyStore + Clone,
{
    let oidc = providers.oidc.clone();
    let shared = Arc::new(Shared {
        exchange,
        providers,
    });
    let router = Router::new()
        .route(SSO_PATH, get(sso::<M, K>))
        .route(CAS_PATH, get(cas::<M, K>));
    let router = match oidc {
        // The engine reads the Bearer token: one header, strict syntax, RFC 6750 challenge.
        Some(provider) => router.route(
            OIDC_PATH,
            get(oidc_exchange::<M, K>).route_layer(HeaderTokenLayer::bearer(provider).responder(
                |e: &AuthError| -> http::Response<Bytes> {
                    super::shape(code(OIDC_INVALID, e.kind()), e)
                },
            )),
        ),
        None => router.route(OIDC_PATH, get(|| async { not_configured(OIDC_INVALID) })),
    };
    router.with_state(shared)
}

async fn trade<M: IdentityMapper, K: KeyStore + Clone>(
    shared: &Shared<M, K>,
    route: &'static str,
    identity: &ExternalIdentity,
) -> Result<Response, Response> {
    match shared.exchange.trade(identity).await {
        Ok((principal, token)) => Ok(answer(&principal, &token)),
        Err(ExchangeError::UnknownUser) => Err(unknown_user()),
        Err(ExchangeError::Auth(e)) => Err(refusal(route, &e, None)),
    }
}

async fn sso<M: IdentityMapper, K: KeyStore + Clone>(
    State(shared): State<Arc<Shared<M, K>>>,
    headers: HeaderMap,
) -> Response {
    let Some(acceptor) = &shared.providers.negotiate else {
        return not_configured(SSO_FAILED);
    };
    let negotiated = match acceptor.accept(&headers).await {
        Ok(n) => n,
        Err(e) => return refusal(SSO_FAILED, &e, Some(NEGOTIATE)),
    };
    let mut res = match trade(&shared, SSO_FAILED, &negotiated.identity).await {
        Ok(res) | Err(res) => res,
    };
    // RFC 4559 §5: the final token rides on the answer, success or not, once the client
    // was authenticated.
    if let Some(reply) = negotiated.reply {
        let value = format!(
            "{NEGOTIATE} {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, reply)
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
    }
    res
}

/// `service` and `ticket`, each exactly once.
fn cas_params(query: Option<&str>) -> Result<(String, String), AuthError> {
    let (mut service, mut ticket) = (None, None);
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let slot = match &*name {
            "service" => &mut service,
            "ticket" => &mut ticket,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(AuthError::duplicate(format!("cas: {name} given twice")));
        }
    }
    match (service, ticket) {
        (Some(s), Some(t)) => Ok((s, t)),
        _ => Err(AuthError::malformed("cas: service and ticket are required")),
    }
}

async fn cas<M: IdentityMapper, K: KeyStore + Clone>(
    State(shared): State<Arc<Shared<M, K>>>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(cas) = &shared.providers.cas else {
        return not_configured(CAS_INVALID);
    };
    let identity = match cas_params(query.as_deref()) {
        Ok((service, ticket)) => cas.validate(&service, &ticket).await,
        Err(e) => Err(e),
    };
    match identity {
        Ok(identity) => match trade(&shared, CAS_INVALID, &identity).await {
            Ok(res) | Err(res) => res,
        },
        Err(e) => refusal(CAS_INVALID, &e, None),
    }
}

async fn oidc_exchange<M: IdentityMapper, K: KeyStore + Clone>(
    State(shared): State<Arc<Shared<M, K>>>,
    principal: Principal,
) -> Response {
    match trade(&shared, OIDC_INVALID, &oidc::identity_of(&principal)).await {
        Ok(res) | Err(res) => res,
    }
}
