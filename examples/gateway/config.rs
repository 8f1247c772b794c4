//! The gateway's configuration, read from the environment (GATEWAY.md, "Start").
//!
//! Parsing takes a lookup function instead of reading the process environment, so tests
//! build any configuration without touching global state.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use tower_authn_cli::config_file::{self, GatewayFile};

/// Google's certificate endpoint, the default `GOOGLE_JWKS`.
pub(crate) const GOOGLE_CERTS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Facebook's Graph API base, the default `FACEBOOK_GRAPH_URL`.
pub(crate) const FACEBOOK_GRAPH_URL: &str = "https://graph.facebook.com";

/// Everything the gateway reads from its environment.
pub(crate) struct Config {
    /// `GATEWAY_ADDR`, default `127.0.0.1:8080`.
    pub(crate) addr: SocketAddr,
    /// `GATEWAY_METRICS_ADDR`: where a second listener serves `GET /metrics` (Prometheus
    /// text, GATEWAY.md "Metrics"); unset or empty: no metrics listener. Needs the
    /// `metrics` feature (off by default): set without it, the gateway does not start.
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// `PLAY_AUTH_TOKEN`: the shared server token; `None` (unset or empty) rejects everything.
    pub(crate) play_auth_token: Option<SecretString>,
    /// `GATEWAY_JWT_SECRET` (≥ 32 bytes), or a random key per start.
    pub(crate) jwt_secret: SecretBox<[u8]>,
    /// `CCAI_COMPANY_NAME`, default `ACME`.
    pub(crate) ccai_company_name: String,
    /// `CCAI_COMPANY_SECRET`, or a random secret per start.
    pub(crate) ccai_company_secret: SecretString,
    /// `GOOGLE_CLIENT_IDS`: accepted audiences of Google ID tokens.
    pub(crate) google_client_ids: Vec<String>,
    /// `GOOGLE_JWKS`: a file path or an `http(s)://` URL.
    pub(crate) google_jwks: String,
    /// `FACEBOOK_APP_ID` and `FACEBOOK_APP_SECRET`, when both are set.
    pub(crate) facebook_app: Option<(String, SecretString)>,
    /// `FACEBOOK_GRAPH_URL`: the Graph API base, without a version.
    pub(crate) facebook_graph_url: String,
    /// `FACEBOOK_GRAPH_VERSION`, default `v19.0`.
    pub(crate) facebook_graph_version: String,
    /// `REDIS_URL`: the shared store, when set.
    pub(crate) redis_url: Option<String>,
    /// `GATEWAY_THROTTLE` (`1`, `true`, `on` or `yes`): throttle failed attempts (429).
    pub(crate) throttle: bool,
    /// `GATEWAY_HASH_CONCURRENCY`: password checks (argon2) running at once, default the
    /// number of CPUs.
    pub(crate) hash_concurrency: usize,
    /// `GATEWAY_HASH_QUEUE`: password checks waiting, default 256; past it, 503 + Retry-After.
    pub(crate) hash_queue: usize,
    /// `GATEWAY_TRUSTED_PROXIES` (addresses or CIDRs, comma-separated; default loopback):
    /// the only peers whose `X-Forwarded-For` / `Forwarded` name the client.
    pub(crate) trusted_proxies: tower_authn::https_redirect::TrustedProxies,
    /// The server's timeouts and connection bound (GATEWAY.md "Limits").
    pub(crate) limits: ServerLimits,
    /// `GATEWAY_SESSION_MAX_SECS` (default 86400): a XiVO session's absolute lifetime.
    pub(crate) session_max: std::time::Duration,
    /// `GATEWAY_KEY_PEPPER` (≥ 32 bytes): the secret keying every stored digest of a key,
    /// token or HA1B. Required with `REDIS_URL`; random per start in memory mode.
    pub(crate) key_pepper: SecretBox<[u8]>,
    /// `GATEWAY_DISABLED_USERS` (comma-separated logins): users disabled at start (in the
    /// shared store too: on every instance). Never enables anyone.
    pub(crate) disabled_users: Vec<String>,
    /// `GATEWAY_ASSERTION_ISSUER` (default `tower-authn-gateway`): `iss` of the forward-auth
    /// assertions.
    pub(crate) assertion_issuer: String,
    /// `GATEWAY_ASSERTION_KEY`: a P-256 PKCS#8 PEM file signing the assertions (every
    /// instance behind one proxy needs the same); unset, a key made for this run.
    pub(crate) assertion_key: Option<String>,
    /// The XiVO credential exchanges (GATEWAY.md "XiVO credential exchange").
    pub(crate) exchange: ExchangeConfig,
    /// `GATEWAY_CORS_ORIGINS` (comma-separated origins; unset: no CORS headers): the browser
    /// origins that may call the gateway (GATEWAY.md "Browsers as clients").
    pub(crate) cors_origins: tower_authn::csrf::AllowedOrigins,
    /// `GATEWAY_COOKIE_SECURE=1`: the session cookie is always `Secure` (else only when the
    /// login arrived over HTTPS).
    pub(crate) cookie_secure: bool,
    /// `GATEWAY_CONFIG`: the operator's users, keys, server-to-server apps and route groups
    /// (GATEWAY.md "Configuration file"); `None`: the demo identities.
    pub(crate) file: Option<GatewayFile>,
    /// Demo fallbacks in use, printed on stderr at start.
    pub(crate) warnings: Vec<String>,
}

/// Which external providers the XiVO exchange routes trust; each route without its provider
/// answers 503.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExchangeConfig {
    /// `CAS_SERVER_URL` and `CAS_SERVICES` (comma-separated), set together.
    pub(crate) cas: Option<(String, Vec<String>)>,
    /// `OIDC_ISSUER`, `OIDC_AUDIENCE` (set together) and `OIDC_USER_CLAIM` (default
    /// `preferred_username`).
    pub(crate) oidc: Option<OidcConfig>,
    /// `GATEWAY_SSO_SERVICE` (default `HTTP`): the Kerberos acceptor's service, any host of
    /// the keytab `KRB5_KTNAME` names (the gateway built with `--features kerberos`).
    pub(crate) sso_service: String,
    /// Whether `KRB5_KTNAME` names a keytab: without it, single sign-on stays off (503).
    pub(crate) keytab: bool,
}

/// One OpenID Connect provider.
#[derive(Debug, Clone)]
pub(crate) struct OidcConfig {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) user_claim: String,
}

/// The non-empty, trimmed items of a comma-separated variable.
fn comma_list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl ExchangeConfig {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let cas = match (get("CAS_SERVER_URL"), comma_list(get("CAS_SERVICES"))) {
            (None, services) if services.is_empty() => None,
            (Some(url), services) if !services.is_empty() => Some((url, services)),
            _ => return Err("CAS_SERVER_URL and CAS_SERVICES must be set together".to_owned()),
        };
        let oidc = match (get("OIDC_ISSUER"), get("OIDC_AUDIENCE")) {
            (None, None) => None,
            (Some(issuer), Some(audience)) => Some(OidcConfig {
                issuer,
                audience,
                user_claim: get("OIDC_USER_CLAIM")
                    .unwrap_or_else(|| "preferred_username".to_owned()),
            }),
            _ => return Err("OIDC_ISSUER and OIDC_AUDIENCE must be set together".to_owned()),
        };
        Ok(Self {
            cas,
            oidc,
            sso_service: get("GATEWAY_SSO_SERVICE").unwrap_or_else(|| "HTTP".to_owned()),
            keytab: get("KRB5_KTNAME").is_some(),
        })
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field(
                "play_auth_token",
                &self.play_auth_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("jwt_secret", &"[REDACTED]")
            .field("ccai_company_name", &self.ccai_company_name)
            .field("ccai_company_secret", &"[REDACTED]")
            .field("google_client_ids", &self.google_client_ids)
            .field("google_jwks", &self.google_jwks)
            .field(
                "facebook_app_id",
                &self.facebook_app.as_ref().map(|(id, _)| id),
            )
            .field("facebook_graph_url", &self.facebook_graph_url)
            .field("facebook_graph_version", &self.facebook_graph_version)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "[set]"))
            .field("throttle", &self.throttle)
            .field("hash_concurrency", &self.hash_concurrency)
            .field("hash_queue", &self.hash_queue)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("limits", &self.limits)
            .field("session_max", &self.session_max)
            .field("cors_origins", &self.cors_origins)
            .field("cookie_secure", &self.cookie_secure)
            .field("key_pepper", &"[REDACTED]")
            .field("disabled_users", &self.disabled_users)
            .field("exchange", &self.exchange)
            .field("file", &self.file.as_ref().map(|f| f.users.len()))
            .field("assertion_issuer", &self.assertion_issuer)
            .field("assertion_key", &self.assertion_key)
            .finish()
    }
}

/// The most hashing threads `GATEWAY_HASH_CONCURRENCY` may ask for.
const MAX_HASH_CONCURRENCY: usize = 1024;
/// The longest hashing queue `GATEWAY_HASH_QUEUE` may ask for.
const MAX_HASH_QUEUE: usize = 1_000_000;

/// A whole number in `min..=max` from variable `var`, or `default` when unset.
fn bounded_count(
    var: &str,
    value: Option<String>,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, String> {
    let Some(value) = value else {
        return Ok(default);
    };
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{var}={value:?}: expected a whole number from {min} to {max}"))
}

fn random_secret(len: usize) -> Vec<u8> {
    use rand::RngCore as _;
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn random_text(len: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_secret(len))
}

impl Config {
    /// Reads the process environment.
    pub(crate) fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get`; empty values count as unset.
    ///
    /// # Errors
    ///
    /// A message naming the variable when a value is present but unusable (a bad address,
    /// a JWT secret shorter than 32 bytes, one Facebook variable without the other).
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut warnings = Vec::new();

        let addr = get("GATEWAY_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let addr = addr
            .parse()
            .map_err(|e| format!("GATEWAY_ADDR={addr:?}: {e}"))?;
        let metrics_addr = match get("GATEWAY_METRICS_ADDR").filter(|v| !v.trim().is_empty()) {
            Some(v) => Some(
                v.parse()
                    .map_err(|e| format!("GATEWAY_METRICS_ADDR={v:?}: {e}"))?,
            ),
            None => None,
        };
        if metrics_addr.is_some() && !cfg!(feature = "metrics") {
            return Err(
                "GATEWAY_METRICS_ADDR: the gateway was built without the `metrics` feature \
                 (cargo run --release --features metrics --example gateway)"
                    .to_owned(),
            );
        }

        let play_auth_token = get("PLAY_AUTH_TOKEN").map(SecretString::from);
        if play_auth_token.is_none() {
            warnings
                .push("PLAY_AUTH_TOKEN is unset: shared-token auth rejects everything".to_owned());
        }

        let jwt_secret = match get("GATEWAY_JWT_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(format!(
                    "GATEWAY_JWT_SECRET must be at least 32 bytes (it has {})",
                    s.len()
                ));
            }
            Some(s) => s.into_bytes(),
            None => {
                warnings.push(
                    "GATEWAY_JWT_SECRET is unset: using a random HS256 key for this run".to_owned(),
                );
                random_secret(32)
            }
        };

        // The file's digests were made by `authn` with the gateway's pepper: without it, no
        // key of the file could ever match.
        let file = match get("GATEWAY_CONFIG") {
            None => None,
            Some(_) if get("GATEWAY_KEY_PEPPER").is_none() => {
                return Err(
                    "GATEWAY_CONFIG is set but GATEWAY_KEY_PEPPER is not: the file's \
                            digests are keyed with it (authn new-key / ha1b / digest)"
                        .to_owned(),
                );
            }
            Some(path) => Some(
                config_file::load(std::path::Path::new(&path), |k| get(k))
                    .map_err(|e| e.to_string())?,
            ),
        };

        // Every instance on one Redis must digest with one pepper: a random one there would
        // make each instance's keys unknown to the others (and lost at restart).
        let key_pepper = match get("GATEWAY_KEY_PEPPER") {
            Some(s) if s.len() < 32 => {
                return Err(format!(
                    "GATEWAY_KEY_PEPPER must be at least 32 bytes (it has {})",
                    s.len()
                ));
            }
            Some(s) => s.into_bytes(),
            None if get("REDIS_URL").is_some() => {
                return Err(
                    "GATEWAY_KEY_PEPPER is required with REDIS_URL: every instance \
                            digests keys, tokens and HA1Bs with that one secret (32 bytes or more)"
                        .to_owned(),
                );
            }
            None => {
                warnings.push(
                    "GATEWAY_KEY_PEPPER is unset: stored digests are keyed by a random pepper \
                     for this run"
                        .to_owned(),
                );
                random_secret(32)
            }
        };
        let disabled_users = comma_list(get("GATEWAY_DISABLED_USERS"));

        let ccai_company_name = get("CCAI_COMPANY_NAME").unwrap_or_else(|| "ACME".to_owned());
        let ccai_company_secret = match get("CCAI_COMPANY_SECRET") {
            Some(s) => SecretString::from(s),
            None => {
                warnings.push(
                    "CCAI_COMPANY_SECRET is unset: using a random company secret for this run"
                        .to_owned(),
                );
                SecretString::from(random_text(32))
            }
        };

        let google_client_ids = comma_list(get("GOOGLE_CLIENT_IDS"));
        if google_client_ids.is_empty() {
            warnings.push("GOOGLE_CLIENT_IDS is unset: Google ID tokens are rejected".to_owned());
        }
        let google_jwks = get("GOOGLE_JWKS").unwrap_or_else(|| GOOGLE_CERTS_URL.to_owned());

        let facebook_app = match (get("FACEBOOK_APP_ID"), get("FACEBOOK_APP_SECRET")) {
            (Some(id), Some(secret)) => Some((id, SecretString::from(secret))),
            (None, None) => {
                warnings.push(
                    "FACEBOOK_APP_ID / FACEBOOK_APP_SECRET are unset: Facebook tokens are rejected"
                        .to_owned(),
                );
                None
            }
            _ => {
                return Err(
                    "FACEBOOK_APP_ID and FACEBOOK_APP_SECRET must be set together".to_owned(),
                );
            }
        };
        let facebook_graph_url = get("FACEBOOK_GRAPH_URL")
            .unwrap_or_else(|| FACEBOOK_GRAPH_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let facebook_graph_version =
            get("FACEBOOK_GRAPH_VERSION").unwrap_or_else(|| "v19.0".to_owned());

        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let hash_concurrency = bounded_count(
            "GATEWAY_HASH_CONCURRENCY",
            get("GATEWAY_HASH_CONCURRENCY"),
            cpus.min(MAX_HASH_CONCURRENCY),
            1,
            MAX_HASH_CONCURRENCY,
        )?;
        let hash_queue = bounded_count(
            "GATEWAY_HASH_QUEUE",
            get("GATEWAY_HASH_QUEUE"),
            tower_authn::password::DEFAULT_QUEUE,
            0,
            MAX_HASH_QUEUE,
        )?;
        let session_max = match get("GATEWAY_SESSION_MAX_SECS") {
            None => 86_400,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(format!(
                        "GATEWAY_SESSION_MAX_SECS={v:?}: a positive number of seconds"
                    ));
                }
            },
        };

        Ok(Self {
            session_max: std::time::Duration::from_secs(session_max),
            key_pepper: SecretBox::new(key_pepper.into_boxed_slice()),
            disabled_users,
            addr,
            metrics_addr,
            play_auth_token,
            jwt_secret: SecretBox::new(jwt_secret.into_boxed_slice()),
            ccai_company_name,
            ccai_company_secret,
            google_client_ids,
            google_jwks,
            facebook_app,
            facebook_graph_url,
            facebook_graph_version,
            redis_url: get("REDIS_URL"),
            throttle: get("GATEWAY_THROTTLE").is_some_and(|v| is_on(&v)),
            hash_concurrency,
            hash_queue,
            trusted_proxies: match get("GATEWAY_TRUSTED_PROXIES") {
                Some(v) => v
                    .parse()
                    .map_err(|e| format!("GATEWAY_TRUSTED_PROXIES: {e}"))?,
                None => tower_authn::https_redirect::TrustedProxies::default(),
            },
            limits: ServerLimits::from_lookup(get)?,
            exchange: ExchangeConfig::from_lookup(get)?,
            cors_origins: match get("GATEWAY_CORS_ORIGINS") {
                Some(v) => super::browser::parse_origins(&v)
                    .map_err(|e| format!("GATEWAY_CORS_ORIGINS: {e}"))?,
                None => tower_authn::csrf::AllowedOrigins::default(),
            },
            cookie_secure: get("GATEWAY_COOKIE_SECURE").is_some_and(|v| is_on(&v)),
            file,
            assertion_issuer: get("GATEWAY_ASSERTION_ISSUER")
                .unwrap_or_else(|| "tower-authn-gateway".to_owned()),
            assertion_key: get("GATEWAY_ASSERTION_KEY"),
            warnings,
        })
    }

    /// The hasher of every stored digest (`GATEWAY_KEY_PEPPER`).
    pub(crate) fn key_hasher(&self) -> tower_authn::KeyHasher {
        tower_authn::KeyHasher::hmac(self.key_pepper.expose_secret().to_vec())
    }

    /// The shared token's plaintext, for building its verifier.
    pub(crate) fn play_auth_token(&self) -> &str {
        self.play_auth_token
            .as_ref()
            .map_or("", |t| t.expose_secret())
    }
}

#[cfg(test)]
mod hash_limits_tests {
    use super::Config;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_lookup(|k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn hash_pool_defaults_follow_gateway_md() {
        let ok = cfg(&[]).expect("defaults");
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!((ok.hash_concurrency, ok.hash_queue), (cpus, 256));
        let set = cfg(&[
            ("GATEWAY_HASH_CONCURRENCY", "3"),
            ("GATEWAY_HASH_QUEUE", "0"),
        ])
        .expect("set");
        assert_eq!((set.hash_concurrency, set.hash_queue), (3, 0));
    }

    #[test]
    fn bad_hash_pool_values_stop_the_gateway() {
        for (var, value) in [
            ("GATEWAY_HASH_CONCURRENCY", "0"),
            ("GATEWAY_HASH_CONCURRENCY", "-1"),
            ("GATEWAY_HASH_CONCURRENCY", "two"),
            ("GATEWAY_HASH_CONCURRENCY", "1.5"),
            ("GATEWAY_HASH_CONCURRENCY", "100000"),
            ("GATEWAY_HASH_QUEUE", "-5"),
            ("GATEWAY_HASH_QUEUE", "lots"),
            ("GATEWAY_HASH_QUEUE", "99999999999"),
        ] {
            let e = cfg(&[(var, value)]).expect_err("refused");
            assert!(e.starts_with(var) && e.contains("whole number"), "{e}");
        }
    }
}
// Server limits (GATEWAY.md "Limits"): what one client can make the server hold.

/// The server's timeouts and connection bound, from `GATEWAY_HEADER_TIMEOUT_SECS`,
/// `GATEWAY_IDLE_TIMEOUT_SECS`, `GATEWAY_REQUEST_TIMEOUT_SECS` and `GATEWAY_MAX_CONNECTIONS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServerLimits {
    /// A connection must send a whole request head within this (default 10 s), counted
    /// from its accept, or from the first byte of each later head.
    pub(crate) header_timeout: Duration,
    /// A keep-alive connection silent this long after an answer is closed (default 60 s).
    pub(crate) idle_timeout: Duration,
    /// A request not answered in this time (its body has not arrived) is `408` (default 30 s).
    pub(crate) request_timeout: Duration,
    /// Connections served at once; more wait in the accept queue (default 10,000).
    pub(crate) max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

/// The longest timeout accepted: a day (also keeps deadline arithmetic far from overflow).
const MAX_TIMEOUT_SECS: u64 = 86_400;
/// The most connections accepted: far above what one process's descriptors allow.
const MAX_CONNECTIONS: u64 = 1_000_000;

impl ServerLimits {
    /// Reads the four variables through `get` (unset or empty: the default).
    ///
    /// # Errors
    ///
    /// A message naming the variable when a value is not a whole number in range (timeouts
    /// 1 to 86,400 seconds, connections 1 to 1,000,000).
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let defaults = Self::default();
        let number = |name: &str, default: u64, max: u64, unit: &str| -> Result<u64, String> {
            let Some(raw) = get(name).filter(|v| !v.trim().is_empty()) else {
                return Ok(default);
            };
            raw.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    format!("{name}={raw:?}: expected a whole number of {unit} from 1 to {max}")
                })
        };
        let secs = |name: &str, default: Duration| {
            number(name, default.as_secs(), MAX_TIMEOUT_SECS, "seconds").map(Duration::from_secs)
        };
        Ok(Self {
            header_timeout: secs("GATEWAY_HEADER_TIMEOUT_SECS", defaults.header_timeout)?,
            idle_timeout: secs("GATEWAY_IDLE_TIMEOUT_SECS", defaults.idle_timeout)?,
            request_timeout: secs("GATEWAY_REQUEST_TIMEOUT_SECS", defaults.request_timeout)?,
            max_connections: usize::try_from(number(
                "GATEWAY_MAX_CONNECTIONS",
                defaults.max_connections as u64,
                MAX_CONNECTIONS,
                "connections",
            )?)
            .map_err(|e| format!("GATEWAY_MAX_CONNECTIONS: {e}"))?,
        })
    }
}

/// Whether a switch variable is on (`1`, `true`, `on`, `yes`, any case).
fn is_on(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "on" | "yes"
    )
}
