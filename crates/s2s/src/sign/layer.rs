use tower_layer::Layer;

use super::{SignRequest, Signer};

/// Signs every request of the wrapped client service with a [`Signer`].
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_authn_s2s::{SignRequestLayer, Signer};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let signer = Signer::new("app-1", "CRM Connector", "secret");
/// let client = ServiceBuilder::new()
///     .layer(SignRequestLayer::new(signer))
///     .service_fn(|req: Request<Full<Bytes>>| async move {
///         // A real client (hyper-util) would send it; here we look at it.
///         assert!(req.headers().contains_key("authorization"));
///         Ok::<_, Infallible>(Response::new(req.uri().to_string()))
///     });
/// let req = Request::get("http://pbx.local/api/v1/Calls/?B=2&a=1").body(Full::new(Bytes::new())).unwrap();
/// let res = client.oneshot(req).await.unwrap();
/// assert_eq!(res.body(), "http://pbx.local/api/v1/Calls/?a=1&b=2");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SignRequestLayer {
    signer: Signer,
}

impl SignRequestLayer {
    /// A layer that signs with `signer`.
    pub fn new(signer: Signer) -> Self {
        Self { signer }
    }
}

impl<S> Layer<S> for SignRequestLayer {
    type Service = SignRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SignRequest::new(inner, self.signer.clone())
    }
}
