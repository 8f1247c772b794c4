//! `AccessToken` + `AccessSecret` headers together (Volt MX messaging APIs).
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use tower::{Layer, ServiceExt};
//! use tower_authn_core::{AccessSecretLayer, KeyStoreExt, Principal, memory::MemoryKeyStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let keys = MemoryKeyStore::new();
//! let (_, token, secret) = keys.issue_access_pair(Principal::app("messaging"), None).await.unwrap();
//! let svc = AccessSecretLayer::new(keys.access_pair_verifier()).layer(tower::service_fn(|_req: Request<()>| async {
//!     Ok::<_, Infallible>(Response::new(Bytes::from_static(b"sent")))
//! }));
//! let req = Request::post("/send").header("AccessToken", &token).header("AccessSecret", &secret).body(()).unwrap();
//! assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), 200);
//! // One half alone is malformed.
//! let req = Request::post("/send").header("AccessToken", &token).body(()).unwrap();
//! assert_eq!(svc.oneshot(req).await.unwrap().status(), 400);
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;

use http::HeaderName;
use http::request::Parts;

use super::DEFAULT_REALM;
use crate::authn::AuthnLayer;
use crate::challenge::Challenge;
use crate::combinator::WithLocation;
use crate::credential::{AccessPair, PresentedSecret};
use crate::error::AuthError;
use crate::head::hide_header;
use crate::principal::CredentialLocation;
use crate::scheme::{Extraction, HideCredentials, Scheme};
use crate::verifier::Verifier;

static ACCESS_TOKEN: HeaderName = HeaderName::from_static("accesstoken");
static ACCESS_SECRET: HeaderName = HeaderName::from_static("accesssecret");

fn location() -> CredentialLocation {
    CredentialLocation::Headers(Cow::Borrowed("AccessToken+AccessSecret"))
}

/// The access-pair scheme: both headers, once each.
#[derive(Clone)]
pub struct AccessSecret<V> {
    verifier: V,
    realm: Cow<'static, str>,
}

impl<V> fmt::Debug for AccessSecret<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessSecret")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// One header's single value, sharing its bytes: `Ok(None)` absent, `Err` duplicated or
/// not visible ASCII.
fn single(head: &Parts, name: &HeaderName) -> Result<Option<PresentedSecret>, AuthError> {
    let mut lines = head.headers.get_all(name).iter();
    let first = lines.next();
    if lines.next().is_some() {
        return Err(AuthError::duplicate(format!("{name} sent more than once")).at(location()));
    }
    let Some(value) = first else {
        return Ok(None);
    };
    let visible = !value.is_empty() && value.as_bytes().iter().all(u8::is_ascii_graphic);
    match visible
        .then(|| PresentedSecret::from_header(value, 0))
        .flatten()
    {
        Some(secret) => Ok(Some(secret)),
        None => Err(AuthError::malformed(format!("{name} is not visible ASCII")).at(location())),
    }
}

impl<V: Verifier<AccessPair>> Scheme for AccessSecret<V> {
    type Credential = AccessPair;
    type Future = WithLocation<V::Future>;
    type Body = crate::scheme::NoBody;

    fn extract(&self, head: &Parts) -> Extraction<AccessPair> {
        let pair = single(head, &ACCESS_TOKEN).and_then(|t| Ok((t, single(head, &ACCESS_SECRET)?)));
        match pair {
            Err(e) => Extraction::Rejected(e),
            Ok((None, None)) => Extraction::Absent,
            Ok((Some(token), Some(secret))) => Extraction::Found(AccessPair { token, secret }),
            Ok(_) => Extraction::Rejected(
                AuthError::malformed("only one of AccessToken and AccessSecret").at(location()),
            ),
        }
    }

    fn verify(&self, credential: AccessPair) -> Self::Future {
        WithLocation::new(
            self.verifier.verify(credential),
            location(),
            "access-secret",
        )
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        hide_header(&mut head.headers, &ACCESS_TOKEN, mode);
        hide_header(&mut head.headers, &ACCESS_SECRET, mode);
    }

    fn slots(&self, out: &mut Vec<crate::scheme::CredentialSlot>) {
        out.push(crate::scheme::CredentialSlot::Header(ACCESS_TOKEN.clone()));
        out.push(crate::scheme::CredentialSlot::Header(ACCESS_SECRET.clone()));
    }

    fn requirements(&self, out: &mut Vec<Vec<crate::scheme::CredentialSlot>>) {
        // The pair is one credential: both headers at once.
        let mut both = Vec::new();
        self.slots(&mut both);
        out.push(both);
    }

    fn challenges(&self, _error: Option<&AuthError>, out: &mut Vec<Challenge>) {
        out.push(
            Challenge::new("AccessSecret")
                .realm(self.realm.clone())
                .param("header", "AccessToken, AccessSecret"),
        );
    }
}

/// `AccessToken` + `AccessSecret` headers, as issued by an OAuth-style access-token endpoint.
///
/// ```
/// use tower_authn_core::{AccessSecretLayer, KeyStoreExt, memory::MemoryKeyStore};
///
/// let keys = MemoryKeyStore::new();
/// let layer = AccessSecretLayer::new(keys.access_pair_verifier());
/// # let _ = layer;
/// ```
pub type AccessSecretLayer<V> = AuthnLayer<AccessSecret<V>>;

impl<V: Verifier<AccessPair>> AuthnLayer<AccessSecret<V>> {
    /// The pair verified by `verifier`; scheme name `access-secret`.
    pub fn new(verifier: V) -> Self {
        AuthnLayer::from_scheme(AccessSecret {
            verifier,
            realm: Cow::Borrowed(DEFAULT_REALM),
        })
    }

    /// Sets the realm of the challenge.
    pub fn realm(self, realm: impl Into<Cow<'static, str>>) -> Self {
        let realm = realm.into();
        self.map_scheme(|mut s| {
            s.realm = realm;
            s
        })
    }
}
