//! Google ID tokens (Sign in with Google): RS256 JWTs checked against Google's published keys.
//!
//! Rules: `RS256` only; `iss` is `https://accounts.google.com` or `accounts.google.com`; `aud`
//! is one of your OAuth client ids; `exp` required. The principal's id is `sub` (stable per
//! Google account; the email is not), scheme `google`; its email is kept only when
//! `email_verified` is true; `app_id` is `azp`. Tokens come in [`HEADER`] or [`QUERY`].
//!
//! ```
//! use tower_authn_jwt::{google, KeySet};
//!
//! // Production: google::jwks(HyperFetcher::with_connector(an HTTPS connector)) as the keys.
//! let keys = KeySet::from_jwks(r#"{"keys":[]}"#)?;
//! let verifier = google::verifier(keys, ["1234567890-abcdef.apps.googleusercontent.com"]);
//! assert_eq!(verifier.mapping().scheme(), "google");
//! // HeaderTokenLayer::new(google::HEADER, verifier.clone()).with_query(google::QUERY)
//! # Ok::<(), tower_authn_jwt::KeyError>(())
//! ```

use std::time::Duration;

use crate::algorithm::Algorithm;
use crate::fetch::HttpFetcher;
use crate::key::KeyError;
use crate::mapping::ClaimsMapping;
use crate::remote::RemoteJwks;
use crate::validation::Validation;
use crate::verify::JwtVerifier;

/// Google's JWKS endpoint (HTTPS: give [`jwks`] a fetcher with TLS).
pub const JWKS_URI: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// The two issuers Google uses in ID tokens.
pub const ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// The header Opentact-style APIs take Google ID tokens from.
pub const HEADER: &str = "X-Auth-Google-Token";

/// The query parameter Opentact-style APIs take Google ID tokens from.
pub const QUERY: &str = "google_token";

/// The rules for ID tokens meant for `client_ids`.
pub fn validation<I, S>(client_ids: I) -> Validation
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Validation::new()
        .with_algorithms([Algorithm::RS256])
        .with_issuers(ISSUERS)
        .with_audiences(client_ids)
        .with_max_lifetime(Duration::from_secs(24 * 3600))
}

/// `sub` → id, scheme `google`, `name`, `email` (when `email_verified`), `azp` → app id.
pub fn mapping() -> ClaimsMapping {
    ClaimsMapping::new()
        .with_scheme("google")
        .with_email_verified("email_verified")
        .with_app_id("azp")
        .without_roles()
        .without_scopes()
}

/// A verifier of Google ID tokens for `client_ids`, over `keys` (a [`RemoteJwks`] from
/// [`jwks`] in production, a static [`KeySet`](crate::KeySet) in tests).
pub fn verifier<K, I, S>(keys: K, client_ids: I) -> JwtVerifier<K>
where
    K: Clone,
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    JwtVerifier::with_keys(keys)
        .with_validation(validation(client_ids))
        .with_mapping(mapping())
}

/// Google's published keys, fetched through `fetcher` (which must speak HTTPS).
///
/// # Errors
///
/// Never in practice (the URI is a constant); kept for the signature of [`RemoteJwks::new`].
pub fn jwks(fetcher: impl HttpFetcher) -> Result<RemoteJwks, KeyError> {
    RemoteJwks::new(JWKS_URI, fetcher)
}
