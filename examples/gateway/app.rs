#![allow(clippy::print_stderr)] // the gateway reports unloadable key sources on stderr at start
//! The gateway's router: every route of GATEWAY.md, on one set of stores.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::Request;
use axum::routing::{any, get};
use secrecy::ExposeSecret;
use serde_json::json;
use tower_authn::audit::{AuditSink, TracingAudit};
use tower_authn::axum::session::{self, Secure, SessionCookie};
use tower_authn::cache::{CacheExt, VerificationCache};
use tower_authn::credential::TokenCredential;
use tower_authn::exchange::{ByLogin, Exchange};
use tower_authn::ha1b::{HA1B_HEADER, HA1B_QUERY, Ha1bVerifier};
use tower_authn::invalidate::{InvalidatingStore, Invalidator};
use tower_authn::issue::{
    AccessPairs, AppKeys, FAMILY_CLAIM, IssuedToken, OpaqueTokenIssuer, RefreshTokens,
    family_issuer_fn, issuer_fn,
};
use tower_authn::jwt::{
    Algorithm, ClaimsMapping, JwtIssuer, JwtVerifier, KeySet, SigningKey, VerifyingKey,
};
use tower_authn::memory::{KeyKind, MemoryKeyStore, MemoryUserStore};
use tower_authn::platforms::{ccai, opentact, voltmx, xivo};
#[cfg(feature = "redis")]
use tower_authn::redis::{RedisConfig, RedisStores};
use tower_authn::s2s::SignatureVerifier;
use tower_authn::throttle::{AttemptStore, MemoryAttempts, Throttle};
use tower_authn::{
    AccessSecretLayer, AppApiKeyLayer, AuthError, BasicAuthLayer, DeviceTokenLayer,
    HeaderTokenLayer, KeyStore, KeyStoreExt, Principal, PrincipalKind, Requirement,
    SharedTokenVerifier, UserRecord, UserStateExt, UserStore, UserStoreExt, VerifierExt,
};

use super::config::Config;
use super::demo::whoami;
use super::identities::Identities;

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

/// The token verifiers chosen by configuration, behind one type.
pub(crate) type DynVerifier = tower_authn::BoxVerifier<TokenCredential>;

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

/// The verifier of the gateway's own JWTs: exactly what `jwt_issuer` issues for `audience`
/// (iss, aud, HS256, typ, iat, and at most `lifetime`).
fn jwt_verifier(
    config: &Config,
    audience: &str,
    lifetime: Duration,
    scheme: &'static str,
) -> Result<JwtVerifier, Box<dyn Error>> {
    let keys = KeySet::new().with_key(VerifyingKey::hmac(config.jwt_secret.expose_secret())?);
    Ok(JwtVerifier::new(keys)
        .with_validation(jwt_issuer(config, audience, lifetime)?.validation())
        .with_mapping(ClaimsMapping::new().with_scheme(scheme)))
}

/// A JWT issuer as a token-service issuer.
fn as_token_issuer(
    jwt: JwtIssuer,
    lifetime: Duration,
) -> impl tower_authn::issue::TokenIssuer + Clone {
    let jwt = Arc::new(jwt);
    issuer_fn(move |p: &Principal| {
        let now = SystemTime::now();
        let token = jwt
            .issue_for(p)
            .map_err(|e| AuthError::unavailable(format!("cannot sign: {e}")))?;
        Ok(IssuedToken::new(token, now, lifetime))
    })
}

/// The Volt MX claims-token issuer: the principal's claims plus the refresh family it was
/// minted for, so that revoking the family (reuse of a spent refresh token) revokes every
/// claims token it minted, not only its refresh tokens.
fn as_family_token_issuer(
    jwt: JwtIssuer,
    lifetime: Duration,
) -> impl tower_authn::issue::TokenIssuer + Clone {
    let jwt = Arc::new(jwt);
    family_issuer_fn(move |p: &Principal, family: Option<&str>| {
        let now = SystemTime::now();
        let mut claims = tower_authn::jwt::Claims::new().with("sub", p.id.as_str());
        if let Some(name) = &p.name {
            claims.set("name", name.as_str());
        }
        if let Some(email) = &p.email {
            claims.set("email", email.as_str());
        }
        if !p.roles.is_empty() {
            claims.set("roles", p.roles.clone());
        }
        if let Some(family) = family {
            claims.set(FAMILY_CLAIM, family);
        }
        let token = jwt
            .issue(claims)
            .map_err(|e| AuthError::unavailable(format!("cannot sign: {e}")))?;
        Ok(IssuedToken::new(token, now, lifetime))
    })
}

/// Google ID tokens: keys from a JWKS file (read once) or URL (cached, refreshed). Keys that
/// cannot be had answer 503.
fn google_verifier(config: &Config) -> DynVerifier {
    if config.google_client_ids.is_empty() {
        return DynVerifier::failing(AuthError::invalid("no Google client ids configured"));
    }
    let ids = config.google_client_ids.clone();
    let source = &config.google_jwks;
    if source.starts_with("http://") || source.starts_with("https://") {
        match tower_authn::jwt::RemoteJwks::new(source, super::fetcher::fetcher()) {
            Ok(remote) => DynVerifier::new(tower_authn::jwt::google::verifier(remote, ids)),
            Err(e) => {
                DynVerifier::failing(AuthError::unavailable(format!("GOOGLE_JWKS unusable: {e}")))
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
                DynVerifier::failing(AuthError::unavailable("Google keys could not be loaded"))
            }
        }
    }
}

/// Facebook user tokens through the Graph `debug_token` endpoint.
fn facebook_verifier(config: &Config) -> DynVerifier {
    let Some((app_id, secret)) = &config.facebook_app else {
        return DynVerifier::failing(AuthError::invalid("Facebook is not configured"));
    };
    let graph = tower_authn::jwt::facebook::FacebookDebugToken::new(
        app_id.clone(),
        secret.clone(),
        super::fetcher::fetcher(),
    )
    .with_base_url(config.facebook_graph_url.clone())
    .with_graph_version(config.facebook_graph_version.clone());
    DynVerifier::new(tower_authn::jwt::facebook::verifier(graph))
}

/// The stores one gateway runs on.
struct Stores<U, K> {
    users: U,
    keys: K,
    /// What the stores announce their changes on; the verification caches listen.
    invalidator: Invalidator,
    /// Failed-attempt counts (used when `GATEWAY_THROTTLE` is set).
    attempts: Arc<dyn AttemptStore>,
    /// Where every key and token lifecycle change is told: the log (`authn::audit`), and
    /// with Redis also the stream every instance shares.
    audit: Arc<dyn AuditSink>,
}

/// Builds the whole gateway: on the shared Redis store when `REDIS_URL` is set, else on
/// in-memory stores.
///
/// # Errors
///
/// When a key or a demo identity cannot be set up (Redis unreachable, for one).
pub(crate) async fn build(config: &Config) -> Result<Router, Box<dyn Error>> {
    let identities = match &config.file {
        Some(file) => Identities::from_file(file),
        None => Identities::demo()?,
    };
    match &config.redis_url {
        #[cfg(not(feature = "redis"))]
        Some(_) => Err(
            "REDIS_URL is set, but this gateway was built without the `redis` feature \
             (cargo run --release --features redis --example gateway); refusing to start on memory"
                .into(),
        ),
        #[cfg(feature = "redis")]
        Some(url) => {
            let redis = RedisStores::connect(
                RedisConfig::new(url.clone()).key_hasher(config.key_hasher()),
            )?;
            let store = redis.users();
            let users = &identities.users;
            for user in users {
                if store.find_user(&user.login).await?.is_none() {
                    store.put_user(user.clone()).await?;
                }
            }
            apply_disabled_users(config, &store, users).await?;
            let stores = Stores {
                users: store,
                keys: redis.keys(),
                invalidator: redis.invalidator(),
                attempts: Arc::new(redis.attempts()),
                audit: Arc::new((TracingAudit, redis.audit()?)),
            };
            identities.seed_keys(&stores.keys).await?;
            build_on(config, stores, identities).await
        }
        None => Ok(build_on_memory(config, identities).await?.0),
    }
}

/// The gateway on in-memory stores seeded with `users`, and its user store: changes made
/// through it (disable, delete, new roles) reach every cache and credential at once.
///
/// # Errors
///
/// When a key or a demo identity cannot be set up.
pub(crate) async fn build_on_memory(
    config: &Config,
    identities: Identities,
) -> Result<(Router, InvalidatingStore<MemoryUserStore>), Box<dyn Error>> {
    let users = &identities.users;
    let memory = MemoryUserStore::new();
    for user in users {
        memory.insert(user.clone());
    }
    let invalidator = Invalidator::new();
    let user_store = InvalidatingStore::new(memory, invalidator.clone());
    apply_disabled_users(config, &user_store, users).await?;
    let stores = Stores {
        users: user_store.clone(),
        keys: InvalidatingStore::new(
            MemoryKeyStore::with_hasher(config.key_hasher()),
            invalidator.clone(),
        ),
        invalidator,
        attempts: Arc::new(MemoryAttempts::new()),
        audit: Arc::new(TracingAudit),
    };
    identities.seed_keys(&stores.keys).await?;
    Ok((build_on(config, stores, identities).await?, user_store))
}

/// `GATEWAY_DISABLED_USERS`: the users it names are disabled. It never enables anyone: a
/// user disabled by an operator (through the library, in the shared store) stays disabled
/// however often gateways restart; enabling is `UserStore::set_disabled(login, false)`.
/// Only a user not yet disabled is written (a write raises the user's epoch, ending every
/// session of theirs).
///
/// # Errors
///
/// When the variable names a user the gateway does not have, or the store fails.
async fn apply_disabled_users<U: UserStore>(
    config: &Config,
    store: &U,
    users: &[UserRecord],
) -> Result<(), Box<dyn Error>> {
    for login in &config.disabled_users {
        if !users.iter().any(|u| &u.login == login) {
            return Err(
                format!("GATEWAY_DISABLED_USERS names {login:?}, who is not a user").into(),
            );
        }
        if store.find_user(login).await?.is_some_and(|u| !u.disabled) {
            store.set_disabled(login, true).await?;
        }
    }
    Ok(())
}

/// The password hashing pool of GATEWAY.md "Limits".
pub(crate) fn hash_pool(
    config: &Config,
) -> Result<tower_authn::password::HashPool, tower_authn::password::PoolBuildError> {
    tower_authn::password::HashPool::builder()
        .workers(config.hash_concurrency)
        .queue(config.hash_queue)
        .build()
}

/// The gateway's routes on `stores`. Slow verifiers (argon2, remote keys, stores across
/// the network) answer through verification caches that hear every change the stores make.
async fn build_on<U, K>(
    config: &Config,
    stores: Stores<U, K>,
    identities: Identities,
) -> Result<Router, Box<dyn Error>>
where
    U: UserStore + Clone,
    K: KeyStore + Clone,
{
    let Stores {
        users,
        keys,
        invalidator,
        attempts,
        audit,
    } = stores;
    let app_keys = AppKeys::new(keys.clone()).with_audit(audit.clone());
    let ha1b_verifier = Ha1bVerifier::new(keys.clone());
    let Identities {
        s2s_apps, routes, ..
    } = identities;
    let cache = VerificationCache::new(invalidator);
    // Off unless GATEWAY_THROTTLE is set: then failed attempts count per claimed user and
    // per client address, in the same store as everything else.
    let throttle = if config.throttle {
        Throttle::with_store(attempts)
            .with_audit(audit.clone())
            .peer_addr(tower_authn::axum::connect_info_peer)
            .trusted_proxies(config.trusted_proxies.clone())
            // An HA1B is the password in another form: per address, and its user's lock.
            .password_equivalent_at(tower_authn::CredentialLocation::Header(
                http::HeaderName::try_from(HA1B_HEADER)?,
            ))
            .password_equivalent_at(tower_authn::CredentialLocation::Query(HA1B_QUERY.into()))
    } else {
        Throttle::new()
            .without_per_principal()
            .without_per_address()
    };

    // Every password check (Basic, the login routes, through the cache) runs on this one
    // pool: GATEWAY_HASH_CONCURRENCY workers, GATEWAY_HASH_QUEUE waiting, then 503.
    let pool = hash_pool(config)?;
    let passwords = users
        .password_verifier()
        .with_pool(pool)
        .cached(cache.clone());
    // Login routes verify passwords themselves: throttled per claimed user, and per client
    // address by `login_addresses` around exactly those routes (their token routes never).
    let logins = throttle.verifier(passwords.clone());
    let login_addresses = throttle.address_layer().only_paths([
        xivo::LOGIN_PATH,
        session::LOGIN_PATH,
        voltmx::LOGIN_PATH,
        voltmx::ACCESS_TOKEN_PATH,
        opentact::AUTH_PATH,
    ]);
    let shared = SharedTokenVerifier::new(config.play_auth_token());
    let xivo_tokens = OpaqueTokenIssuer::new(keys.clone())
        .ttl(XIVO_TTL)
        .scheme("token");
    let gateway_jwt = jwt_verifier(config, JWT_AUDIENCE, JWT_LIFETIME, "jwt")?;
    // Refresh families: rotation re-reads the user; a claims token of a revoked family (or of
    // none) is refused on every use.
    let refresh = RefreshTokens::new(keys.clone())
        .with_users(users.clone())
        .with_audit(audit.clone());
    let claims_jwt = refresh.guard(jwt_verifier(
        config,
        CLAIMS_AUDIENCE,
        CLAIMS_LIFETIME,
        "claims",
    )?);
    let ccai_issuer = Arc::new(ccai::CcaiIssuer::with_any_length_secret(
        config.ccai_company_name.clone(),
        config.ccai_company_secret.expose_secret(),
    )?);

    // The schemes, in the order /whoami tries them. Every credential of a local user (not
    // Google's or Facebook's) works only while that user exists and is enabled, with the
    // user's current roles (`for_live_users`).
    let basic = BasicAuthLayer::new(passwords).realm("gateway");
    // The shared token, a XiVO token or a gateway JWT: /whoami's token slot and the CTI socket.
    let any_token_verifier = DynVerifier::new(
        shared
            .clone()
            .or_else(xivo_tokens.verifier())
            .or_else(gateway_jwt.clone())
            .cached(cache.clone())
            .for_live_users(users.clone()),
    );
    // The session cookie of /session/login (a XiVO session's token), after every header
    // scheme; a state-changing request or a WebSocket it proves must come from the gateway's
    // own origin or a listed one (403 otherwise).
    let cookie_policy = SessionCookie::new()
        .secure(if config.cookie_secure {
            Secure::Always
        } else {
            Secure::Auto
        })
        .trusted_proxies(config.trusted_proxies.clone())
        .allow_origins(config.cors_origins.iter());
    let session_cookie = cookie_policy.layer(
        xivo_tokens
            .verifier()
            .cached(cache.clone())
            .for_live_users(users.clone()),
    );
    let any_token = HeaderTokenLayer::new("X-Auth-Token", any_token_verifier.clone())
        .with_bearer()
        .with_query("token")
        .with_query("jwt")
        .realm("gateway");
    let claims = HeaderTokenLayer::new(
        voltmx::CLAIMS_HEADER,
        claims_jwt.for_live_users(users.clone()),
    )
    .scheme_name("claims")
    .challenge_scheme("VoltMX")
    .realm("gateway");
    let device = DeviceTokenLayer::new(
        voltmx::DEVICE_TOKEN_HEADER,
        keys.verifier(KeyKind::DeviceToken).cached(cache.clone()),
    )
    .realm("gateway");
    let app = AppApiKeyLayer::new(
        voltmx::APP_KEY_HEADER,
        app_keys.verifier().cached(cache.clone()),
    )
    .realm("gateway");
    let messaging = AccessSecretLayer::new(
        keys.access_pair_verifier()
            .cached(cache.clone())
            .for_live_users(users.clone()),
    )
    .realm("gateway");
    // Ha1bVerifier::into_layer, with the verifier cached.
    let ha1b = HeaderTokenLayer::new(
        HA1B_HEADER,
        ha1b_verifier
            .cached(cache.clone())
            .for_live_users(users.clone()),
    )
    .with_query(HA1B_QUERY)
    .challenge_scheme("HA1B")
    .scheme_name("ha1b")
    .realm("gateway");
    let google = HeaderTokenLayer::new(
        "X-Auth-Google-Token",
        google_verifier(config).cached(cache.clone()),
    )
    .with_query("google_token")
    .scheme_name("google")
    .challenge_scheme("Google")
    .realm("gateway");
    let facebook = HeaderTokenLayer::new(
        "X-Auth-Facebook-Token",
        facebook_verifier(config).cached(cache.clone()),
    )
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
        .or(facebook.clone())
        .or(session_cookie.clone());
    // What a browser script may send: every credential header the gateway reads.
    let cors_headers = any_scheme.credential_headers();
    // XiVO's CTI socket: ?token=, the authn.bearer subprotocol, or the session cookie.
    let cti_layer = HeaderTokenLayer::new("X-Auth-Token", any_token_verifier)
        .with_query("token")
        .with_subprotocol()
        .realm("gateway")
        .or(session_cookie)
        .responder(xivo::Errors);

    let token_only = HeaderTokenLayer::new(
        "X-Auth-Token",
        shared
            .or_else(xivo_tokens.verifier())
            .cached(cache)
            .for_live_users(users.clone()),
    )
    .with_query("token")
    .realm("gateway");
    let jwt_only = HeaderTokenLayer::new("X-Auth-Token", gateway_jwt.for_live_users(users.clone()))
        .with_bearer()
        .with_query("jwt")
        .scheme_name("jwt")
        .realm("gateway");
    let users_only = Requirement::predicate("a user", |p| p.kind == PrincipalKind::User);

    let s2s = SignatureVerifier::new(s2s_apps)
        .with_leeway(Duration::from_secs(60))
        .with_max_lifetime(Duration::from_secs(3600));

    let whoami_routes = Router::new()
        .route(
            "/whoami",
            get(whoami).route_layer(any_scheme.clone().throttle(throttle.clone())),
        )
        .route(
            "/basic/whoami",
            get(whoami).route_layer(basic.throttle(throttle.clone())),
        )
        .route(
            "/token/whoami",
            get(whoami).route_layer(token_only.throttle(throttle.clone())),
        )
        .route(
            "/jwt/whoami",
            get(whoami).route_layer(jwt_only.throttle(throttle.clone())),
        )
        .route(
            "/claims/whoami",
            get(whoami).route_layer(claims.clone().throttle(throttle.clone())),
        )
        .route(
            "/device/whoami",
            get(whoami).route_layer(device.throttle(throttle.clone())),
        )
        .route(
            "/app/whoami",
            get(whoami).route_layer(app.throttle(throttle.clone())),
        )
        .route(
            "/messaging/whoami",
            get(whoami).route_layer(messaging.throttle(throttle.clone())),
        )
        .route(
            "/ha1b/whoami",
            get(whoami).route_layer(ha1b.throttle(throttle.clone())),
        )
        .route(
            "/google/whoami",
            get(whoami).route_layer(google.throttle(throttle.clone())),
        )
        .route(
            "/facebook/whoami",
            get(whoami).route_layer(facebook.throttle(throttle.clone())),
        )
        .route(
            "/admin/whoami",
            get(whoami).route_layer(
                any_scheme
                    .clone()
                    .throttle(throttle.clone())
                    .require(Requirement::role("admin")),
            ),
        );

    let app_key_admin = claims
        .responder(voltmx::Errors)
        .require(Requirement::role("admin"));
    let xivo_sessions = xivo::Sessions::new(xivo_tokens, users.clone())
        .max_lifetime(config.session_max)
        .with_audit(audit.clone());
    // Each platform's routes, on unless the configuration file turns its group off.
    let idle = config.limits.idle_timeout;
    let xivo_routes = Router::new()
        .merge(xivo::router(logins.clone(), xivo_sessions.clone()))
        .merge(session::router(
            logins.clone(),
            xivo_sessions.clone(),
            cookie_policy,
        ))
        .route(
            super::browser::CTI_PATH,
            get(move |p, ws| super::browser::cti(p, ws, idle)).route_layer(cti_layer),
        )
        .merge(xivo::exchange_router(
            Exchange::new(ByLogin::new(users), xivo_sessions),
            super::exchange::providers(&config.exchange)?,
        ));
    let voltmx_routes = Router::new()
        .merge(voltmx::accounts_router(
            logins.clone(),
            as_family_token_issuer(
                jwt_issuer(config, CLAIMS_AUDIENCE, CLAIMS_LIFETIME)?,
                CLAIMS_LIFETIME,
            ),
            refresh,
        ))
        .merge(voltmx::oauth_router(
            logins.clone(),
            AccessPairs::new(keys).with_audit(audit),
        ))
        .merge(voltmx::app_keys_router(app_keys).route_layer(app_key_admin));
    let opentact_routes = opentact::router(
        logins,
        as_token_issuer(
            jwt_issuer(config, JWT_AUDIENCE, JWT_LIFETIME)?,
            JWT_LIFETIME,
        ),
    );
    let ccai_routes = ccai::router(issuer_fn(move |p: &Principal| {
        let token = ccai_issuer
            .issue_for(p)
            .map_err(|e| AuthError::unavailable(format!("cannot sign: {e}")))?;
        Ok(IssuedToken::new(
            token,
            SystemTime::now(),
            Duration::from_secs(3600),
        ))
    }))
    .route_layer(
        any_scheme
            .clone()
            .throttle(throttle.clone())
            .require(users_only),
    );
    let platforms = Router::new()
        .merge(on(routes.xivo, xivo_routes))
        .merge(on(routes.voltmx, voltmx_routes))
        .merge(on(routes.opentact, opentact_routes))
        .merge(on(routes.ccai, ccai_routes));

    // nginx auth_request / Traefik ForwardAuth / Envoy ext_authz: what /whoami accepts but
    // signed requests (those need the body, which these proxies do not forward).
    let assertion_key = match &config.assertion_key {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("GATEWAY_ASSERTION_KEY={path:?}: {e}"))?,
        ),
        None => None,
    };
    let forward_auth = super::forward_auth::router(
        any_scheme
            .throttle(throttle)
            .responder(super::forward_auth::errors),
        Arc::new(super::forward_auth::Assertions::new(
            assertion_key.as_deref(),
            &config.assertion_issuer,
        )?),
        config.trusted_proxies.clone(),
    );

    // Everything else under /api/v1 is the Wildix-style signed API.
    let signed_api = Router::new().route("/api/v1/{*path}", any(signed).layer(s2s.layer()));

    let gateway = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(on(routes.whoami, whoami_routes))
        .merge(platforms.layer(login_addresses))
        .merge(on(routes.forward_auth, forward_auth))
        .merge(on(routes.wildix, signed_api));
    // CORS outside everything, so refusals carry it too; only for the listed origins.
    Ok(if config.cors_origins.is_empty() {
        gateway
    } else {
        gateway.layer(super::browser::ListedCors::new(
            &config.cors_origins,
            super::browser::allowed_headers(cors_headers),
        ))
    })
}

/// `routes` when its group is on, else nothing (its paths answer 404).
fn on(group_on: bool, routes: Router) -> Router {
    if group_on { routes } else { Router::new() }
}

#[cfg(test)]
mod hash_pool_tests {
    use super::{Config, hash_pool};

    #[test]
    fn the_pool_has_the_configured_size_and_queue() {
        let config = Config::from_lookup(|k| match k {
            "GATEWAY_HASH_CONCURRENCY" => Some("2".to_owned()),
            "GATEWAY_HASH_QUEUE" => Some("5".to_owned()),
            _ => None,
        })
        .expect("config");
        let pool = hash_pool(&config).expect("pool");
        assert_eq!((pool.workers(), pool.queue_capacity()), (2, 5));
    }
}
