//! The HTTP client for remote key sources (Google's JWKS, Facebook's Graph API).

use tower_authn::jwt::HyperFetcher;

/// A plain-HTTP fetcher (what tests and local mocks use).
pub(crate) fn fetcher() -> HyperFetcher {
    HyperFetcher::new()
}
