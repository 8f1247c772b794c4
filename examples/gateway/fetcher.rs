//! The HTTP client for remote key sources (Google's JWKS, Facebook's Graph API): HTTPS with
//! rustls and Mozilla's root certificates, plain HTTP for local mocks.

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_authn::jwt::HyperFetcher;

/// A fetcher that speaks `https://` (verified against webpki roots) and `http://`.
pub(crate) fn fetcher() -> HyperFetcher<HttpsConnector<HttpConnector>> {
    let https = HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        // ring supports every protocol version rustls enables by default; should it ever
        // not, no TLS is better than a panic: https sources then fail closed (503).
        .unwrap_or_else(|_| HttpsConnectorBuilder::new().with_webpki_roots())
        .https_or_http()
        .enable_http1()
        .build();
    HyperFetcher::with_connector(https)
}
