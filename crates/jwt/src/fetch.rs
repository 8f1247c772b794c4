//! [`HttpFetcher`]: the injectable HTTP client behind remote key sets and introspection.
//!
//! A fetcher takes an `http::Request<Bytes>` and answers status, headers and body. Closures
//! are fetchers, so tests serve fixtures offline; [`HyperFetcher`](crate::HyperFetcher)
//! (feature `hyper-client`) is the real one.
//!
//! ```
//! use bytes::Bytes;
//! use tower_authn_jwt::{FetchError, HttpFetcher};
//!
//! let fixture = |_request: http::Request<Bytes>| async {
//!     Ok::<_, FetchError>(http::Response::new(Bytes::from_static(br#"{"keys":[]}"#)))
//! };
//! # fn assert_fetcher(_: &impl HttpFetcher) {}
//! assert_fetcher(&fixture);
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

/// The future a fetcher returns.
pub type FetchFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, FetchError>> + Send>>;

/// An HTTP client: one request in, one response (status, headers, whole body) out.
///
/// Implementations must not log request URLs or bodies: they can carry credentials
/// (Facebook's `debug_token` puts the app secret in the query).
pub trait HttpFetcher: Send + Sync + 'static {
    /// Sends `request` and reads the whole response.
    ///
    /// # Errors
    ///
    /// [`FetchError`] when no response could be had (connection, timeout, body too large).
    fn fetch(&self, request: http::Request<Bytes>) -> FetchFuture;
}

impl<F, Fut> HttpFetcher for F
where
    F: Fn(http::Request<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<Bytes>, FetchError>> + Send + 'static,
{
    fn fetch(&self, request: http::Request<Bytes>) -> FetchFuture {
        Box::pin(self(request))
    }
}

impl<T: HttpFetcher + ?Sized> HttpFetcher for Arc<T> {
    fn fetch(&self, request: http::Request<Bytes>) -> FetchFuture {
        (**self).fetch(request)
    }
}

/// No response could be had. The detail never holds the URL (it may carry a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchError {
    timeout: bool,
    detail: Cow<'static, str>,
}

impl FetchError {
    /// A failure with a detail for logs (no secrets, no URL).
    pub fn new(detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            timeout: false,
            detail: detail.into(),
        }
    }

    /// The request timed out.
    pub fn timeout() -> Self {
        Self {
            timeout: true,
            detail: Cow::Borrowed("timed out"),
        }
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fetch failed: {}", self.detail)
    }
}

impl std::error::Error for FetchError {}

/// Sends `request` through `fetcher` with a time limit.
pub(crate) async fn fetch_with_timeout(
    fetcher: &dyn HttpFetcher,
    request: http::Request<Bytes>,
    timeout: std::time::Duration,
) -> Result<http::Response<Bytes>, FetchError> {
    match tokio::time::timeout(timeout, fetcher.fetch(request)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::timeout()),
    }
}
