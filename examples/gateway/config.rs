//! The gateway's configuration, read from the environment (GATEWAY.md, "Start").
//!
//! Parsing takes a lookup function instead of reading the process environment, so tests
//! build any configuration without touching global state.

use std::fmt;
use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretBox, SecretString};

/// Google's certificate endpoint, the default `GOOGLE_JWKS`.
pub(crate) const GOOGLE_CERTS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Facebook's Graph API base, the default `FACEBOOK_GRAPH_URL`.
pub(crate) const FACEBOOK_GRAPH_URL: &str = "https://graph.facebook.com";

/// Everything the gateway reads from its environment.
pub(crate) struct Config {
    /// `GATEWAY_ADDR`, default `127.0.0.1:8080`.
    pub(crate) addr: SocketAddr,
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
    /// `GATEWAY_SESSION_MAX_SECS` (default 86400): a XiVO session's absolute lifetime.
    pub(crate) session_max: std::time::Duration,
    /// Demo fallbacks in use, printed on stderr at start.
    pub(crate) warnings: Vec<String>,
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
            .field("session_max", &self.session_max)
            .finish()
    }
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

        let google_client_ids: Vec<String> = get("GOOGLE_CLIENT_IDS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
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
            addr,
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
            throttle: get("GATEWAY_THROTTLE").is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "on" | "yes"
                )
            }),
            warnings,
        })
    }

    /// The shared token's plaintext, for building its verifier.
    pub(crate) fn play_auth_token(&self) -> &str {
        self.play_auth_token
            .as_ref()
            .map_or("", |t| t.expose_secret())
    }
}
