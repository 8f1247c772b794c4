#![allow(clippy::print_stderr)] // the gateway reports unloadable key sources on stderr at start
//! The gateway's router: every route of GATEWAY.md, on one set of stores.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::Request;
use axum::routing::{any, get};
use futures_util::future::{BoxFuture, FutureExt};
use secrecy::ExposeSecret;
use serde_json::json;
use tower_authn::axum::app_keys::{AppKeys, Expiry};
use tower_authn::axum::issuer::{IssuedToken, OpaqueTokenIssuer, issuer_fn};
use tower_authn::axum::refresh::RefreshTokens;
use tower_authn::axum::{ccai, opentact, voltmx, xivo};
use tower_authn::credential::TokenCredential;
use tower_authn::ha1b::Ha1bVerifier;
use tower_authn::jwt::{
    Algorithm, ClaimsMapping, JwtIssuer, JwtVerifier, KeySet, SigningKey, Validation, VerifyingKey,
};
use tower_authn::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
use tower_authn::s2s::{App, MemoryAppStore, SignatureVerifier};
use tower_authn::{
    AccessSecretLayer, AppApiKeyLayer, AuthError, BasicAuthLayer, DeviceTokenLayer,
    HeaderTokenLayer, KeyStoreExt, Principal, PrincipalKind, Requirement, SharedTokenVerifier,
    UserStoreExt, Verifier, VerifierExt,
};

use crate::config::Config;

/// Issuer and audience of the JWTs the gateway issues (Opentact's `/rest/auth`).
pub(crate) const JWT_ISSUER: &str = "tower-authn-gateway";
/// Audience of gateway JWTs accepted by `/jwt/whoami` and the token slot of `/whoami`.
pub(crate) const JWT_AUDIENCE: &str = "gateway";
/// Audience of Volt MX claims tokens, so a claims token is not a gateway JWT and back.
pub(crate) const CLAIMS_AUDIENCE: &str = "voltmx-claims";
/// Lifetime of gateway JWTs (Opentact: 24 h).
pub(crate) const JWT_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Lifetime of Volt MX claims tokens.
pub(crate) const CLAIMS_LIFETIME: Duration = Duration::from_secs(3600);
/// Lifetime of XiVO login tokens.
pub(crate) const XIVO_TTL: Duration = Duration::from_secs(3600);

type BoxVerify = BoxFuture<'static, Result<Principal, AuthError>>;

/// A type-erased token verifier: the gateway picks key sources at run time (a JWKS file or
/// URL, Facebook configured or not), and one boxed future per request is nothing next to
/// the network round trips behind them.
#[derive(Clone)]
pub(crate) struct DynVerifier(Arc<dyn Fn(TokenCredential) -> BoxVerify + Send + Sync>);

impl DynVerifier {
    fn new<V: Verifier<TokenCredential>>(v: V) -> Self {
        Self(Arc::new(move |c| v.verify(c).boxed()))
    }

    /// A verifier that answers `error` to everything (a source that is not configured or
    /// cannot be loaded).
    fn always(error: AuthError) -> Self {
        Self(Arc::new(move |_| {
            futures_util::future::ready(Err(error.clone())).boxed()
        }))
    }
}

impl std::fmt::Debug for DynVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynVerifier")
    }
}

impl Verifier<TokenCredential> for DynVerifier {
    type Future = BoxVerify;

    fn verify(&self, credential: TokenCredential) -> BoxVerify {
        (self.0)(credential)
    }
}

/// `whoami`: the principal as JSON.
async fn whoami(principal: Principal) -> axum::Json<Principal> {
    axum::Json(principal)
}

/// The Wildix-style signed API: echoes who called what.
async fn signed(principal: Principal, req: Request) -> axum::Json<serde_json::Value> {
    axum::Json(json!({
        "type": "result",
        "result": { "app": principal.id, "method": req.method().as_str(), "path": req.uri().path() }
    }))
}

fn jwt_issuer(
    config: &Config,
    audience: &str,
    lifetime: Duration,
) -> Result<JwtIssuer, Box<dyn Error>> {
    Ok(JwtIssuer::new(SigningKey::hmac(
        Algorithm::HS256,
        config.jwt_secret.expose_secret(),
    )?)
    .with_issuer(JWT_ISSUER)
    .with_audiences([audience])
    .with_lifetime(lifetime))
}

fn jwt_verifier(
    config: &Config,
    audience: &str,
    scheme: &'static str,
) -> Result<JwtVerifier, Box<dyn Error>> {
    let keys = KeySet::new().with_key(VerifyingKey::hmac(config.jwt_secret.expose_secret())?);
    Ok(JwtVerifier::new(keys)
        .with_validation(
            Validation::new()
                .with_issuers([JWT_ISSUER])
                .with_audiences([audience])
                .with_algorithms([Algorithm::HS256]),
        )
        .with_mapping(ClaimsMapping::new().with_scheme(scheme)))
}

/// A JWT issuer as a token-service issuer.
fn as_token_issuer(
    jwt: JwtIssuer,
    lifetime: Duration,
) -> impl tower_authn::axum::issuer::TokenIssuer + Clone {
    let jwt = Arc::new(jwt);
    issuer_fn(move |p: &Principal| {
        let now = SystemTime::now();
        let token = jwt
            .issue_for(p)
            .map_err(|e| AuthError::unavailable(format!("cannot sign: {e}")))?;
        Ok(IssuedToken::new(token, now, lifetime))
    })
}

/// Google ID tokens: keys from a JWKS file (read once) or URL (cached, refreshed). Keys that
/// cannot be had answer 503.
fn google_verifier(config: &Config) -> DynVerifier {
    if config.google_client_ids.is_empty() {
        return DynVerifier::always(AuthError::invalid("no Google client ids configured"));
    }
    let ids = config.google_client_ids.clone();
    let source = &config.google_jwks;
    if source.starts_with("http://") || source.starts_with("https://") {
        match tower_authn::jwt::RemoteJwks::new(source, crate::fetcher::fetcher()) {
            Ok(remote) => DynVerifier::new(tower_authn::jwt::google::verifier(remote, ids)),
            Err(e) => {
                DynVerifier::always(AuthError::unavailable(format!("GOOGLE_JWKS unusable: {e}")))
            }
        }
    } else {
        match std::fs::read_to_string(source)
            .map_err(|e| e.to_string())
            .and_then(|t| KeySet::from_jwks(&t).map_err(|e| e.to_string()))
        {
            Ok(keys) => DynVerifier::new(tower_authn::jwt::google::verifier(keys, ids)),
            Err(e) => {
                eprintln!(
                    "warning: GOOGLE_JWKS={source:?} cannot be loaded ({e}): Google tokens answer 503"
                );
                DynVerifier::always(AuthError::unavailable("Google keys could not be loaded"))
            }
        }
    }
}

/// Facebook user tokens through the Graph `debug_token` endpoint.
fn facebook_verifier(config: &Config) -> DynVerifier {
    let Some((app_id, secret)) = &config.facebook_app else {
        return DynVerifier::always(AuthError::invalid("Facebook is not configured"));
    };
    let graph = tower_authn::jwt::facebook::FacebookDebugToken::new(
        app_id.clone(),
        secret.clone(),
        crate::fetcher::fetcher(),
    )
    .with_base_url(config.facebook_graph_url.clone())
    .with_graph_version(config.facebook_graph_version.clone());
    DynVerifier::new(tower_authn::jwt::facebook::verifier(graph))
}

/// The demo identities of GATEWAY.md, passwords as argon2id hashes.
async fn seed(
    users: &MemoryUserStore,
    keys: &MemoryKeyStore,
    app_keys: &AppKeys<MemoryKeyStore>,
) -> Result<(), Box<dyn Error>> {
    users.add_user("alice", "wonderland", |u| {
        u.with_name("Alice Liddell")
            .with_email("alice@example.com")
            .with_roles(["admin"])
            .with_attribute("sip_domain", "sip.example.com")
            .with_ha1b(tower_authn::password::ha1b(
                "alice",
                "sip.example.com",
                "wonderland",
            ))
    })?;
    users.add_user("bob@example.com", "builder", |u| {
        u.with_name("Bob Builder")
            .with_email("bob@example.com")
            .with_roles(["user"])
    })?;
    app_keys
        .insert_plaintext(
            "demo-app",
            "demo-app-key-1",
            Expiry::Never,
            Some("demo key".to_owned()),
        )
        .await?;
    let device = Principal::device("demo-device").with_app_id("demo-app");
    keys.insert_plaintext(
        KeyKind::DeviceToken,
        "demo-device".to_owned(),
        "demo-device-token",
        device,
        None,
    )
    .await?;
    Ok(())
}

/// Builds the whole gateway on in-memory stores.
///
/// # Errors
///
/// When a key or a demo identity cannot be set up.
pub(crate) async fn build(config: &Config) -> Result<Router, Box<dyn Error>> {
    let users = MemoryUserStore::new();
    let keys = MemoryKeyStore::new();
    let app_keys = AppKeys::new(keys.clone());
    seed(&users, &keys, &app_keys).await?;
    let ha1b = Ha1bVerifier::new(keys.clone());
    if let Some(alice) = tower_authn::UserStore::find_user(&users, "alice").await? {
        ha1b.register_user(&alice).await?;
    }
    let s2s_apps = MemoryAppStore::new().with_app(
        "s2s-app-id-123",
        App::new("CRM Connector", "s3cr3t-k3y-0123456789abcdef"),
    );

    let passwords = users.password_verifier();
    let shared = SharedTokenVerifier::new(config.play_auth_token());
    let xivo_tokens = OpaqueTokenIssuer::new(keys.clone())
        .ttl(XIVO_TTL)
        .scheme("token");
    let gateway_jwt = jwt_verifier(config, JWT_AUDIENCE, "jwt")?;
    let claims_jwt = jwt_verifier(config, CLAIMS_AUDIENCE, "claims")?;
    let ccai_issuer = Arc::new(tower_authn::jwt::ccai::CcaiIssuer::with_any_length_secret(
        config.ccai_company_name.clone(),
        config.ccai_company_secret.expose_secret(),
    )?);

    // The schemes, in the order /whoami tries them.
    let basic = BasicAuthLayer::new(passwords.clone()).realm("gateway");
    let any_token = HeaderTokenLayer::new(
        "X-Auth-Token",
        DynVerifier::new(
            shared
                .clone()
                .or_else(xivo_tokens.verifier())
                .or_else(gateway_jwt.clone()),
        ),
    )
    .with_bearer()
    .with_query("token")
    .with_query("jwt")
    .realm("gateway");
    let claims = HeaderTokenLayer::new("X-VoltMX-Authorization", claims_jwt)
        .scheme_name("claims")
        .challenge_scheme("VoltMX")
        .realm("gateway");
    let device = DeviceTokenLayer::new(keys.verifier(KeyKind::DeviceToken)).realm("gateway");
    let app = AppApiKeyLayer::new(app_keys.verifier()).realm("gateway");
    let messaging = AccessSecretLayer::new(keys.access_pair_verifier()).realm("gateway");
    let ha1b = ha1b.into_layer().realm("gateway");
    let google = HeaderTokenLayer::new("X-Auth-Google-Token", google_verifier(config))
        .with_query("google_token")
        .scheme_name("google")
        .challenge_scheme("Google")
        .realm("gateway");
    let facebook = HeaderTokenLayer::new("X-Auth-Facebook-Token", facebook_verifier(config))
        .with_query("facebook_token")
        .scheme_name("facebook")
        .challenge_scheme("Facebook")
        .realm("gateway");
    let any_scheme = basic
        .clone()
        .or(any_token)
        .or(claims.clone())
        .or(device.clone())
        .or(app.clone())
        .or(messaging.clone())
        .or(ha1b.clone())
        .or(google.clone())
        .or(facebook.clone());

    let token_only = HeaderTokenLayer::new("X-Auth-Token", shared.or_else(xivo_tokens.verifier()))
        .with_query("token")
        .realm("gateway");
    let jwt_only = HeaderTokenLayer::new("X-Auth-Token", gateway_jwt)
        .with_bearer()
        .with_query("jwt")
        .scheme_name("jwt")
        .realm("gateway");
    let users_only = Requirement::predicate("a user", |p| p.kind == PrincipalKind::User);

    let s2s = SignatureVerifier::new(s2s_apps)
        .with_leeway(Duration::from_secs(60))
        .with_max_lifetime(Duration::from_secs(3600));

    let whoami_routes = Router::new()
        .route("/whoami", get(whoami).route_layer(any_scheme.clone()))
        .route("/basic/whoami", get(whoami).route_layer(basic))
        .route("/token/whoami", get(whoami).route_layer(token_only))
        .route("/jwt/whoami", get(whoami).route_layer(jwt_only))
        .route("/claims/whoami", get(whoami).route_layer(claims.clone()))
        .route("/device/whoami", get(whoami).route_layer(device))
        .route("/app/whoami", get(whoami).route_layer(app))
        .route("/messaging/whoami", get(whoami).route_layer(messaging))
        .route("/ha1b/whoami", get(whoami).route_layer(ha1b))
        .route("/google/whoami", get(whoami).route_layer(google))
        .route("/facebook/whoami", get(whoami).route_layer(facebook))
        .route(
            "/admin/whoami",
            get(whoami).route_layer(any_scheme.clone().require(Requirement::role("admin"))),
        )
        .route("/healthz", get(|| async { "ok\n" }));

    let app_key_admin = claims
        .responder(voltmx::errors)
        .require(Requirement::role("admin"));
    let platforms = Router::new()
        .merge(xivo::router(
            passwords.clone(),
            xivo_tokens.clone(),
            xivo_tokens.verifier(),
        ))
        .merge(voltmx::accounts_router(
            passwords.clone(),
            as_token_issuer(
                jwt_issuer(config, CLAIMS_AUDIENCE, CLAIMS_LIFETIME)?,
                CLAIMS_LIFETIME,
            ),
            RefreshTokens::new(keys.clone()),
        ))
        .merge(voltmx::oauth_router(passwords.clone(), keys.clone()))
        .merge(voltmx::app_keys_router(app_keys).route_layer(app_key_admin))
        .merge(opentact::router(
            passwords,
            as_token_issuer(
                jwt_issuer(config, JWT_AUDIENCE, JWT_LIFETIME)?,
                JWT_LIFETIME,
            ),
        ))
        .merge(
            ccai::router(issuer_fn(move |p: &Principal| {
                let token = ccai_issuer
                    .issue_for(p)
                    .map_err(|e| AuthError::unavailable(format!("cannot sign: {e}")))?;
                Ok(IssuedToken::new(
                    token,
                    SystemTime::now(),
                    Duration::from_secs(3600),
                ))
            }))
            .route_layer(any_scheme.require(users_only)),
        );

    // Everything else under /api/v1 is the Wildix-style signed API.
    let signed_api = Router::new().route("/api/v1/{*path}", any(signed).layer(s2s.layer()));

    Ok(whoami_routes.merge(platforms).merge(signed_api))
}
