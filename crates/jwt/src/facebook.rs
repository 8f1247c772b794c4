//! Facebook user access tokens, checked with the Graph API's `debug_token` endpoint.
//!
//! [`FacebookDebugToken`] asks
//! `GET {base}/{version}/debug_token?input_token=TOKEN&access_token=APP_ID|APP_SECRET` and
//! accepts a token only when `is_valid` is true, `app_id` is yours, `type` is `USER` and
//! `expires_at` is in the future. It is an [`Introspect`], so [`verifier`] is an
//! [`IntrospectionVerifier`] with its cache. The principal's id is `user_id`, scheme
//! `facebook`, scopes from `scopes`. Tokens come in [`HEADER`] or [`QUERY`].
//!
//! ```
//! use bytes::Bytes;
//! use secrecy::SecretString;
//! use tower_authn_jwt::{facebook, FetchError};
//!
//! // Production: HyperFetcher::with_connector(an HTTPS connector).
//! let fetcher = |_request: http::Request<Bytes>| async {
//!     Err::<http::Response<Bytes>, _>(FetchError::new("offline"))
//! };
//! let graph = facebook::FacebookDebugToken::new("123456789012345", SecretString::from("app-secret"), fetcher);
//! assert!(!format!("{graph:?}").contains("app-secret"));
//! let verifier = facebook::verifier(graph);
//! // HeaderTokenLayer::new(facebook::HEADER, verifier.clone()).with_query(facebook::QUERY)
//! # let _ = verifier;
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tower_authn_core::AuthError;

use crate::compact::parse_object;
use crate::fetch::{HttpFetcher, fetch_with_timeout};
use crate::introspection::{Introspect, IntrospectFuture, Introspection, IntrospectionVerifier};
use crate::mapping::ClaimsMapping;
use crate::validation::Validation;

/// The Graph API.
pub const GRAPH_BASE: &str = "https://graph.facebook.com";

/// The Graph API version asked by default.
pub const GRAPH_VERSION: &str = "v19.0";

/// The header Opentact-style APIs take Facebook tokens from.
pub const HEADER: &str = "X-Auth-Facebook-Token";

/// The query parameter Opentact-style APIs take Facebook tokens from.
pub const QUERY: &str = "facebook_token";

/// The `debug_token` check, as an [`Introspect`].
pub struct FacebookDebugToken {
    base: String,
    version: String,
    app_id: String,
    app_secret: SecretString,
    fetcher: Arc<dyn HttpFetcher>,
    timeout: Duration,
}

impl fmt::Debug for FacebookDebugToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacebookDebugToken")
            .field("base", &self.base)
            .field("version", &self.version)
            .field("app_id", &self.app_id)
            .field("app_secret", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl FacebookDebugToken {
    /// Checks tokens of the app `app_id` with its `app_secret`, through `fetcher`;
    /// [`GRAPH_BASE`], [`GRAPH_VERSION`], 5 s timeout.
    pub fn new(
        app_id: impl Into<String>,
        app_secret: SecretString,
        fetcher: impl HttpFetcher,
    ) -> Self {
        Self {
            base: GRAPH_BASE.to_owned(),
            version: GRAPH_VERSION.to_owned(),
            app_id: app_id.into(),
            app_secret,
            fetcher: Arc::new(fetcher),
            timeout: Duration::from_secs(5),
        }
    }

    /// Another Graph API version (`v19.0`).
    #[must_use]
    pub fn with_graph_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Another base URL (a local stand-in in tests).
    #[must_use]
    pub fn with_base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// The time limit of one call.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The request URL. It holds the app secret: never log it.
    fn url(&self, token: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("input_token", token)
            .append_pair(
                "access_token",
                &format!("{}|{}", self.app_id, self.app_secret.expose_secret()),
            )
            .finish();
        format!("{}/{}/debug_token?{query}", self.base, self.version)
    }
}

/// Reads a `debug_token` answer (its `data` object) for the app `app_id`.
fn judge(app_id: &str, body: &[u8]) -> Result<Introspection, AuthError> {
    let answer =
        parse_object(body).ok_or_else(|| AuthError::unavailable("facebook: not a JSON object"))?;
    let Some(Value::Object(data)) = answer.get("data") else {
        return Err(AuthError::unavailable("facebook: no data"));
    };
    let reason = if data.get("is_valid") != Some(&Value::Bool(true)) {
        Some("is_valid is not true")
    } else if data.get("app_id").and_then(Value::as_str) != Some(app_id) {
        Some("app_id is another app's")
    } else if data.get("type").and_then(Value::as_str) != Some("USER") {
        Some("type is not USER")
    } else if data
        .get("expires_at")
        .and_then(Value::as_u64)
        .is_none_or(|e| e == 0)
    {
        Some("no expires_at")
    } else if data
        .get("user_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        Some("no user_id")
    } else {
        None
    };
    if let Some(reason) = reason {
        tracing::debug!(reason, "facebook: token refused");
        return Ok(Introspection::inactive());
    }
    let mut claims: Map<String, Value> = data.clone();
    for (claim, field) in [("sub", "user_id"), ("exp", "expires_at")] {
        claims.insert(claim.into(), data.get(field).cloned().unwrap_or_default());
    }
    if let Some(iat) = data.get("issued_at") {
        claims.insert("iat".into(), iat.clone());
    }
    Ok(Introspection::active(claims))
}

impl Introspect for FacebookDebugToken {
    fn introspect(&self, token: String) -> IntrospectFuture {
        let request = http::Request::get(self.url(&token))
            .header(ACCEPT, "application/json")
            .body(Bytes::new())
            .map_err(|_| AuthError::invalid("facebook: token not usable in a URL"));
        let fetcher = Arc::clone(&self.fetcher);
        let timeout = self.timeout;
        let app_id = self.app_id.clone();
        Box::pin(async move {
            let response = fetch_with_timeout(&*fetcher, request?, timeout)
                .await
                .map_err(|_| AuthError::unavailable("facebook: graph unreachable"))?;
            match response.status() {
                StatusCode::OK => judge(&app_id, response.body()),
                // Graph answers 400 with an OAuthException for a malformed or unknown token.
                s if s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS => {
                    tracing::debug!(
                        status = s.as_u16(),
                        "facebook: debug_token refused the token"
                    );
                    Ok(Introspection::inactive())
                }
                _ => Err(AuthError::unavailable("facebook: graph error")),
            }
        })
    }
}

/// The verifier for Facebook user tokens: `exp` required with no leeway, `user_id` → id,
/// scheme `facebook`, `scopes` → scopes.
pub fn verifier(graph: FacebookDebugToken) -> IntrospectionVerifier<FacebookDebugToken> {
    IntrospectionVerifier::new(graph)
        .with_validation(
            Validation::new()
                .with_leeway(Duration::ZERO)
                .accept_any_audience(),
        )
        .with_mapping(
            ClaimsMapping::new()
                .with_scheme("facebook")
                .with_app_id("app_id")
                .without_roles()
                .with_scopes(["scopes"]),
        )
}
