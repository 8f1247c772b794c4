//! [`SignedRequest`]: the signature check as a core [`Scheme`].

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::request::Parts;
use tower_authn_core::scheme::HideCredentials;
use tower_authn_core::throttle::AttemptSubject;
use tower_authn_core::{AuthError, Buffered, Challenge, Extraction, Principal, Scheme};

use super::{Pending, SignatureVerifier};
use crate::store::AppStore;

/// Signed server-to-server requests as a [`Scheme`]: extraction reads `X-APP-ID` and the
/// bearer token from the head, the body is buffered up to the verifier's limit, and
/// verification looks the app up, checks the HS256 token and its claims, and compares the
/// canonical hash. Put it in a layer with [`SignatureVerifier::layer`].
pub struct SignedRequest<St> {
    verifier: Arc<SignatureVerifier<St>>,
}

impl<St> SignedRequest<St> {
    /// The scheme of `verifier`.
    pub fn new(verifier: SignatureVerifier<St>) -> Self {
        Self {
            verifier: Arc::new(verifier),
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> &SignatureVerifier<St> {
        &self.verifier
    }
}

impl<St> Clone for SignedRequest<St> {
    fn clone(&self) -> Self {
        Self {
            verifier: Arc::clone(&self.verifier),
        }
    }
}

impl<St: fmt::Debug> fmt::Debug for SignedRequest<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("verifier", &self.verifier)
            .finish()
    }
}

/// The credential of a signed request: the app id and the token from the head, then the
/// head and the body as they arrived (what the canonical hash is rebuilt from). `Debug`
/// shows the app id only.
pub struct SignedCredential {
    pending: Pending,
    request: Option<(Parts, Bytes)>,
}

impl fmt::Debug for SignedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedCredential")
            .field("app_id", &self.pending.app_id)
            .finish_non_exhaustive()
    }
}

/// A signature cannot be guessed: attempts are never throttled (a composition's Basic side
/// still is).
impl AttemptSubject for SignedCredential {}

/// The signed request's head, without its extensions (the canonical form needs the method,
/// the target and the headers).
fn head_copy(head: &Parts) -> Parts {
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = head.method.clone();
    parts.uri = head.uri.clone();
    parts.version = head.version;
    parts.headers = head.headers.clone();
    parts
}

impl<St: AppStore> Scheme for SignedRequest<St> {
    type Credential = SignedCredential;
    type Future = BoxFuture<'static, Result<Principal, AuthError>>;
    type Body = Buffered;

    fn extract(&self, head: &Parts) -> Extraction<SignedCredential> {
        match self.verifier.check_head(head) {
            Ok(Some(pending)) => Extraction::Found(SignedCredential {
                pending,
                request: None,
            }),
            Ok(None) => Extraction::Absent,
            Err(e) => Extraction::Rejected(e),
        }
    }

    fn body_limit(&self, _: &SignedCredential) -> Option<usize> {
        Some(self.verifier.body_limit())
    }

    fn extract_body(
        &self,
        mut credential: SignedCredential,
        head: &Parts,
        body: &Bytes,
    ) -> Result<SignedCredential, AuthError> {
        credential.request = Some((head_copy(head), body.clone()));
        Ok(credential)
    }

    /// The app lookup, then the token, its claims and the canonical hash.
    fn verify(&self, credential: SignedCredential) -> Self::Future {
        let verifier = Arc::clone(&self.verifier);
        async move {
            let app_id = credential.pending.app_id.clone();
            let found = verifier.store().find_app(&app_id).await;
            let outcome = verifier
                .check_token(credential.pending, found)
                .and_then(|verified| {
                    let Some((parts, body)) = &credential.request else {
                        // The engine hands every Buffered scheme its body before verifying.
                        return Err(AuthError::unavailable(
                            "signed request verified without its body",
                        ));
                    };
                    verifier.check_request(parts, body, &verified.claims)?;
                    Ok(SignatureVerifier::<St>::principal(&verified))
                });
            match &outcome {
                Ok(_) => tracing::debug!(app_id = %app_id, "s2s: request verified"),
                Err(e) => tracing::debug!(
                    app_id = %app_id,
                    code = e.code(),
                    detail = e.detail(),
                    "s2s: request rejected"
                ),
            }
            outcome
        }
        .boxed()
    }

    fn hide(&self, head: &mut Parts, mode: HideCredentials) {
        match mode {
            HideCredentials::Remove => {
                head.headers.remove(AUTHORIZATION);
            }
            HideCredentials::MarkSensitive => {
                if let Some(v) = head.headers.get_mut(AUTHORIZATION) {
                    v.set_sensitive(true);
                }
            }
        }
    }

    /// `X-APP-ID` is what makes a signed request present: without it the `Authorization:
    /// Bearer` is another scheme's, so `signed.or(HeaderTokenLayer::bearer(jwt))` is fine.
    fn slots(&self, out: &mut Vec<tower_authn_core::scheme::CredentialSlot>) {
        out.push(tower_authn_core::scheme::CredentialSlot::Header(
            crate::sign::X_APP_ID.clone(),
        ));
    }

    fn requirements(&self, out: &mut Vec<Vec<tower_authn_core::scheme::CredentialSlot>>) {
        // The app id and the signed Bearer token, together.
        out.push(vec![
            tower_authn_core::scheme::CredentialSlot::Header(crate::sign::X_APP_ID.clone()),
            tower_authn_core::scheme::CredentialSlot::Authorization("bearer"),
        ]);
    }

    fn challenges(&self, _: Option<&AuthError>, out: &mut Vec<Challenge>) {
        out.push(Challenge::new("Bearer").realm("wms"));
    }
}
