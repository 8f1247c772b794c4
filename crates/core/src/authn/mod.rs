//! The one generic auth middleware: [`AuthnLayer`], [`Authn`] and its [`ResponseFuture`].
//!
//! Every named layer (`BasicAuthLayer`, `HeaderTokenLayer`, ...) is this layer around one
//! scheme; compositions are this layer around [`AnyOf`](crate::AnyOf) / [`AllOf`](crate::AllOf).
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use tower_authn_core::{AuthError, BasicAuthLayer, Principal, credential::BasicCredentials};
//! use secrecy::ExposeSecret;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let verify = |c: BasicCredentials| async move {
//!     if c.username == "Aladdin" && c.password.expose_secret() == "open sesame" {
//!         Ok(Principal::user(c.username))
//!     } else {
//!         Err(AuthError::invalid("bad user or password"))
//!     }
//! };
//! let mut svc = ServiceBuilder::new()
//!     .layer(BasicAuthLayer::new(verify).realm("WallyWorld"))
//!     .service_fn(|req: Request<()>| async move {
//!         let who = req.extensions().get::<Principal>().map(|p| p.id.clone()).unwrap_or_default();
//!         Ok::<_, Infallible>(Response::new(Bytes::from(who)))
//!     });
//!
//! let req = Request::get("/").header("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").body(()).unwrap();
//! let res = svc.ready().await.unwrap().call(req).await.unwrap();
//! assert_eq!(res.into_body(), "Aladdin");
//!
//! let res = svc.ready().await.unwrap().call(Request::get("/").body(()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="WallyWorld", charset="UTF-8""#);
//! # }
//! ```

mod future;
mod layer;
mod service;

pub use self::future::ResponseFuture;
pub use self::layer::{AuthnLayer, Preflight};
pub use self::service::Authn;
