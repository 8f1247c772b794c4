use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::{AuthnLayer, Options, Preflight};
use crate::error::{AuthError, ErrorKind};
use crate::principal::{CredentialLocation, Principal};
use crate::respond::{finish_with, render};
use crate::scheme::{CredentialSlot, Extraction, ReadBody, Scheme, payload_too_large};

/// The service built by [`AuthnLayer`].
pub struct Authn<S, Sc> {
    inner: S,
    shared: Arc<Shared<Sc>>,
}

pub(crate) struct Shared<Sc> {
    pub(crate) scheme: Sc,
    pub(crate) options: Options,
    /// The responder, resolved once (the default one included).
    responder: crate::respond::SharedResponder,
    /// What an anonymous request that passes carries for the `Principal` extractor: the
    /// responder and the challenges, built once.
    pub(crate) anonymous: crate::respond::AnonymousPass,
    /// Whether CORS preflights pass unauthenticated ([`Preflight::Pass`]).
    pass_preflight: bool,
    /// The rendered challenges per error kind and location: a refusal costs a lookup and
    /// reference counts, not a rendering (challenges depend on nothing else: [`Scheme`]).
    challenges: RwLock<Vec<Rendered>>,
    /// The `scheme` label of a refusal per credential slot the scheme reads, built once
    /// from the configuration ([`crate::metrics`]).
    slots: Vec<(CredentialSlot, Cow<'static, str>)>,
    /// The decision metrics' keys.
    #[cfg(feature = "metrics")]
    meter: crate::metrics::Meter,
}

/// The `scheme` label of a refusal at `slot`: the auth-scheme, or the header or query name.
fn slot_label(slot: &CredentialSlot) -> Cow<'static, str> {
    match slot {
        CredentialSlot::Authorization(scheme) => Cow::Borrowed(scheme),
        CredentialSlot::Header(name) => Cow::Owned(format!("header:{name}")),
        CredentialSlot::Query(name) => Cow::Owned(format!("query:{name}")),
        CredentialSlot::Cookie(name) => Cow::Owned(format!("cookie:{name}")),
        CredentialSlot::Subprotocol(prefix) => Cow::Owned(format!("subprotocol:{prefix}")),
    }
}

/// Whether the refused credential's location is `slot`.
fn at_slot(location: &CredentialLocation, slot: &CredentialSlot) -> bool {
    match (location, slot) {
        (CredentialLocation::Authorization(a), CredentialSlot::Authorization(b)) => {
            a.eq_ignore_ascii_case(b)
        }
        (CredentialLocation::Header(a), CredentialSlot::Header(b)) => a == b,
        (CredentialLocation::Query(a), CredentialSlot::Query(b)) => a == b,
        (CredentialLocation::Cookie(a), CredentialSlot::Cookie(b)) => a == b,
        (CredentialLocation::Subprotocol(a), CredentialSlot::Subprotocol(b)) => a == b,
        _ => false,
    }
}

/// The challenges rendered for one (kind, location).
struct Rendered {
    kind: ErrorKind,
    location: Option<CredentialLocation>,
    values: Arc<[HeaderValue]>,
}

impl Rendered {
    fn answers(&self, error: &AuthError) -> bool {
        self.kind == error.kind() && self.location.as_ref() == error.location()
    }
}

/// At most this many (kind, location) pairs are kept; locations come from the schemes'
/// configuration, so real layers stay far below it, and past it challenges are rendered
/// per refusal as before.
const MAX_RENDERED: usize = 64;

impl<Sc: Scheme> Shared<Sc> {
    pub(crate) fn new(scheme: Sc, options: Options) -> Self {
        let missing = AuthError::missing();
        let values = render_challenges(&scheme, &missing);
        let responder = options.responder();
        let anonymous = crate::respond::AnonymousPass::new(responder.clone(), Arc::clone(&values));
        let first = Rendered {
            kind: missing.kind(),
            location: None,
            values,
        };
        let mut declared = Vec::new();
        scheme.slots(&mut declared);
        let slots = declared
            .into_iter()
            .map(|slot| {
                let label = slot_label(&slot);
                (slot, label)
            })
            .collect();
        let pass_preflight = options.preflight.unwrap_or_default() == Preflight::Pass;
        Self {
            scheme,
            options,
            responder,
            anonymous,
            pass_preflight,
            challenges: RwLock::new(vec![first]),
            slots,
            #[cfg(feature = "metrics")]
            meter: crate::metrics::Meter::default(),
        }
    }

    /// The `scheme` label of a refusal: the slot of the refused credential, the layer's
    /// first slot when the location names none of them, `none` without a credential.
    fn refusal_scheme(&self, error: &AuthError) -> &str {
        if error.kind() == ErrorKind::MissingCredentials {
            return crate::metrics::SCHEME_NONE;
        }
        let matched = error
            .location()
            .and_then(|at| self.slots.iter().find(|(slot, _)| at_slot(at, slot)));
        matched
            .or_else(|| self.slots.first())
            .map_or("unknown", |(_, label)| label)
    }

    /// Records an accepted request: the `authn` event and the metrics.
    pub(crate) fn accepted(&self, principal: &Principal, verify: Option<Duration>) {
        tracing::debug!(
            target: "authn",
            scheme = %principal.scheme,
            outcome = crate::metrics::OUTCOME_OK,
            location = principal.location.as_ref().map(tracing::field::display),
            principal = %principal.id,
            kind = principal.kind.as_str(),
            key_id = principal.key_id.as_deref(),
            verify_us = verify.map(micros),
            "authenticated"
        );
        #[cfg(feature = "metrics")]
        self.meter
            .decided(&principal.scheme, crate::metrics::OUTCOME_OK, verify);
    }

    /// Records a request let through without a principal: `outcome` is
    /// [`OUTCOME_ANONYMOUS`](crate::metrics::OUTCOME_ANONYMOUS) (an optional layer, no
    /// credential) or [`OUTCOME_PREFLIGHT`](crate::metrics::OUTCOME_PREFLIGHT) (a CORS
    /// preflight, [`Preflight::Pass`]).
    fn passed_without_principal(&self, outcome: &'static str) {
        tracing::debug!(
            target: "authn",
            scheme = crate::metrics::SCHEME_NONE,
            outcome,
            "request passed without a principal"
        );
        #[cfg(feature = "metrics")]
        self.meter
            .decided(crate::metrics::SCHEME_NONE, outcome, None);
    }

    /// The challenges for `error`, rendered once per kind and location.
    fn challenges_for(&self, error: &AuthError) -> Arc<[HeaderValue]> {
        let cached = self
            .challenges
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = cached.iter().find(|r| r.answers(error)) {
            return Arc::clone(&r.values);
        }
        drop(cached);
        let values = render_challenges(&self.scheme, error);
        let mut cached = self
            .challenges
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if cached.len() < MAX_RENDERED && !cached.iter().any(|r| r.answers(error)) {
            cached.push(Rendered {
                kind: error.kind(),
                location: error.location().cloned(),
                values: Arc::clone(&values),
            });
        }
        values
    }

    /// The full failure answer for `error`, challenges included.
    /// `verify` is the verify step's time, when it ran. Records the `authn` event and the
    /// metrics.
    pub(crate) fn reject<B: From<Bytes>>(
        &self,
        error: &AuthError,
        verify: Option<Duration>,
    ) -> Response<B> {
        // Field values are evaluated only when the event is enabled: no label lookup per
        // refusal unless someone reads it.
        tracing::debug!(
            target: "authn",
            scheme = self.refusal_scheme(error),
            outcome = error.code(),
            location = error.location().map(tracing::field::display),
            detail = error.detail(),
            verify_us = verify.map(micros),
            "authentication rejected"
        );
        #[cfg(feature = "metrics")]
        self.meter
            .decided(self.refusal_scheme(error), error.code(), verify);
        let res = self.responder.0.respond(error);
        finish_with(res, error, || self.challenges_for(error)).map(B::from)
    }
}

/// `d` in whole microseconds (saturating).
/// When the verify step starts, if anyone will read its duration: a metrics recorder (the
/// `metrics` feature) or a subscriber of the `authn` debug events. Otherwise the two clock
/// reads per request are skipped (issue 14 counts them).
pub(crate) fn start_clock() -> Option<Instant> {
    let wanted =
        cfg!(feature = "metrics") || tracing::enabled!(target: "authn", tracing::Level::DEBUG);
    wanted.then(Instant::now)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// `scheme`'s challenges for `error`, as header values.
fn render_challenges<Sc: Scheme>(scheme: &Sc, error: &AuthError) -> Arc<[HeaderValue]> {
    let mut challenges = Vec::new();
    scheme.challenges(Some(error), &mut challenges);
    render(&challenges)
}

impl<S, Sc: Scheme> Authn<S, Sc> {
    /// Wraps `inner` with `scheme` and default options.
    pub fn new(inner: S, scheme: Sc) -> Self {
        Self::from_shared(inner, Arc::new(Shared::new(scheme, Options::default())))
    }

    /// The layer, as tower's convention has it.
    pub fn layer(scheme: Sc) -> AuthnLayer<Sc> {
        AuthnLayer::from_scheme(scheme)
    }

    pub(crate) fn from_shared(inner: S, shared: Arc<Shared<Sc>>) -> Self {
        Self { inner, shared }
    }
}

crate::inner_service_accessors!(Authn<S, Sc>);

impl<S: Clone, Sc> Clone for Authn<S, Sc> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, Sc> fmt::Debug for Authn<S, Sc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authn")
            .field("inner", &self.inner)
            .field("scheme", &std::any::type_name::<Sc>())
            .finish_non_exhaustive()
    }
}

impl<S: Clone, Sc> Authn<S, Sc> {
    /// The ready service goes into the future; a clone takes its place (tower's standard
    /// move for services whose call outlives `&mut self`).
    fn take_ready(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

/// Whether `parts` is a CORS preflight (Fetch standard §4.8): `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
fn is_preflight(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::OPTIONS
        && parts.headers.contains_key(http::header::ORIGIN)
        && parts
            .headers
            .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The declared `Content-Length`, if it is one number.
fn declared_len(parts: &http::request::Parts) -> Option<u64> {
    parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

impl<S, Sc, ReqBody, ResBody> Service<Request<ReqBody>> for Authn<S, Sc>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    Sc: Scheme,
    Sc::Body: ReadBody<ReqBody>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Sc, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        if self.shared.pass_preflight && is_preflight(&parts) {
            // A browser sends no credential on a preflight: nothing to look for. Whatever a
            // hand-made one carries is stripped, unverified, so the inner service sees none.
            let shared = &self.shared;
            shared
                .scheme
                .hide(&mut parts, shared.options.hide.unwrap_or_default());
            parts.extensions.insert(shared.anonymous.clone());
            shared.passed_without_principal(crate::metrics::OUTCOME_PREFLIGHT);
            return ResponseFuture::calling(self.inner.call(Request::from_parts(parts, body)));
        }
        match self.shared.scheme.extract(&parts) {
            Extraction::Found(credential) => {
                let shared = Arc::clone(&self.shared);
                let body = match shared.scheme.body_limit(&credential) {
                    Some(limit) if declared_len(&parts).is_some_and(|n| n > limit as u64) => {
                        return ResponseFuture::ready(shared.reject(&payload_too_large(), None));
                    }
                    Some(limit) => match <Sc::Body as ReadBody<ReqBody>>::start(body, limit) {
                        Ok(read) => {
                            let inner = self.take_ready();
                            return ResponseFuture::reading(read, credential, parts, inner, shared);
                        }
                        Err(body) => body,
                    },
                    None => body,
                };
                let started = start_clock();
                let verify = shared.scheme.verify(credential);
                let inner = self.take_ready();
                ResponseFuture::verifying(verify, started, inner, parts, body, shared)
            }
            // A requirement cannot be met anonymously: optional with a requirement is a 401.
            Extraction::Absent if self.shared.options.passes_anonymous() => {
                // Tells the `Principal` extractor a layer ran, and in which shape to answer.
                parts.extensions.insert(self.shared.anonymous.clone());
                self.shared
                    .passed_without_principal(crate::metrics::OUTCOME_ANONYMOUS);
                ResponseFuture::calling(self.inner.call(Request::from_parts(parts, body)))
            }
            Extraction::Absent => {
                ResponseFuture::ready(self.shared.reject(&AuthError::missing(), None))
            }
            Extraction::Rejected(error) => ResponseFuture::ready(self.shared.reject(&error, None)),
        }
    }
}
