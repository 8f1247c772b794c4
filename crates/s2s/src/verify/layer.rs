use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::{SignatureVerifier, VerifySignature};

/// Verifies signed server-to-server requests before the wrapped service sees them; build it
/// with [`SignatureVerifier::layer`].
pub struct VerifySignatureLayer<St> {
    verifier: Arc<SignatureVerifier<St>>,
}

impl<St> VerifySignatureLayer<St> {
    /// A layer around `verifier`.
    pub fn new(verifier: SignatureVerifier<St>) -> Self {
        Self {
            verifier: Arc::new(verifier),
        }
    }
}

impl<St> Clone for VerifySignatureLayer<St> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
        }
    }
}

impl<St: fmt::Debug> fmt::Debug for VerifySignatureLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifySignatureLayer")
            .field("verifier", &self.verifier)
            .finish()
    }
}

impl<S, St> Layer<S> for VerifySignatureLayer<St> {
    type Service = VerifySignature<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifySignature::from_shared(inner, self.verifier.clone())
    }
}
