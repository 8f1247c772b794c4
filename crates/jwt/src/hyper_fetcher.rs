//! [`HyperFetcher`]: an [`HttpFetcher`] on hyper-util's pooled client.
//!
//! The default connector speaks plain HTTP (a JWKS served inside your network, tests). For
//! HTTPS endpoints such as Google's, pass a TLS connector (for example hyper-rustls'
//! `HttpsConnector`) to [`HyperFetcher::with_connector`]; this crate does not pick a TLS
//! stack for you.
//!
//! ```
//! use std::time::Duration;
//! use tower_authn_jwt::HyperFetcher;
//!
//! let fetcher = HyperFetcher::new().with_timeout(Duration::from_secs(3)).with_max_body_bytes(256 * 1024);
//! # let _ = fetcher;
//! ```

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

use crate::fetch::{FetchError, FetchFuture, HttpFetcher};

/// An HTTP client for [`RemoteJwks`](crate::RemoteJwks) and introspection.
#[derive(Clone)]
pub struct HyperFetcher<C = HttpConnector> {
    client: Client<C, Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
}

impl<C> fmt::Debug for HyperFetcher<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperFetcher")
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl HyperFetcher {
    /// A plain-HTTP client: 10 s timeout, 1 MiB body limit.
    pub fn new() -> Self {
        Self::with_connector(HttpConnector::new())
    }
}

impl Default for HyperFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> HyperFetcher<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// A client over `connector` (a TLS connector for HTTPS).
    pub fn with_connector(connector: C) -> Self {
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            client,
            timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
        }
    }

    /// The time limit of a whole exchange, body included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body read; a larger one is an error.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body = max;
        self
    }
}

impl<C> HttpFetcher for HyperFetcher<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn fetch(&self, request: http::Request<Bytes>) -> FetchFuture {
        let client = self.client.clone();
        let (timeout, max_body) = (self.timeout, self.max_body);
        Box::pin(async move {
            let exchange = async {
                let response = client
                    .request(request.map(Full::new))
                    .await
                    .map_err(|_| FetchError::new("request failed"))?;
                let (parts, body) = response.into_parts();
                let body = Limited::new(body, max_body)
                    .collect()
                    .await
                    .map_err(|_| FetchError::new("response body unreadable or too large"))?
                    .to_bytes();
                Ok(http::Response::from_parts(parts, body))
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(result) => result,
                Err(_) => Err(FetchError::timeout()),
            }
        })
    }
}
