//! Protocol peers on 127.0.0.1:0 for the exchange tests: a CAS 3.0 server issuing single-use
//! service tickets, and an OpenID Connect provider serving discovery and a JWKS that can
//! rotate or go down. Shared with the workspace's root tests through `#[path]`.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use tokio::sync::Notify;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A URL nothing listens on (a port bound, then released).
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[derive(Default)]
struct CasState {
    /// ticket → (service, user)
    tickets: Mutex<HashMap<String, (String, String)>>,
    issued: AtomicUsize,
    validations: AtomicUsize,
    /// Tickets stay valid after use (a broken server: the validator's own ledger must hold).
    reusable: AtomicBool,
    /// 200 unless set.
    status: AtomicU16,
    /// An answer served instead of the protocol's.
    body: Mutex<Option<String>>,
    /// When set, validations wait for `release` (and announce themselves on `arrived`).
    hold: AtomicBool,
    arrived: Notify,
    release: Notify,
}

/// A CAS 3.0 server: `issue` hands out `ST-` tickets as its login page would;
/// `/cas/p3/serviceValidate` validates each once, for the service it was issued for.
pub struct CasServer {
    /// The CAS base URL (`CAS_SERVER_URL`).
    pub url: String,
    state: Arc<CasState>,
}

impl CasServer {
    pub async fn start() -> Self {
        let state = Arc::new(CasState {
            status: AtomicU16::new(200),
            ..Default::default()
        });
        let app = Router::new()
            .route("/cas/p3/serviceValidate", get(service_validate))
            .with_state(Arc::clone(&state));
        let url = format!("{}/cas", serve(app).await);
        Self { url, state }
    }

    /// A service ticket for `user` at `service`, as the CAS login would redirect with.
    pub fn issue(&self, user: &str, service: &str) -> String {
        let n = self.state.issued.fetch_add(1, Ordering::SeqCst);
        let ticket = format!("ST-{n}-{:016x}", rand_u64(n));
        self.state
            .tickets
            .lock()
            .unwrap()
            .insert(ticket.clone(), (service.to_owned(), user.to_owned()));
        ticket
    }

    pub fn validations(&self) -> usize {
        self.state.validations.load(Ordering::SeqCst)
    }

    pub fn set_reusable(&self, on: bool) {
        self.state.reusable.store(on, Ordering::SeqCst);
    }

    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn set_body(&self, body: Option<&str>) {
        *self.state.body.lock().unwrap() = body.map(str::to_owned);
    }

    /// Validations wait until [`release`](Self::release).
    pub fn hold(&self) {
        self.state.hold.store(true, Ordering::SeqCst);
    }

    /// Waits until a held validation has arrived.
    pub async fn arrived(&self) {
        self.state.arrived.notified().await;
    }

    pub fn release(&self) {
        self.state.hold.store(false, Ordering::SeqCst);
        self.state.release.notify_waiters();
    }
}

fn rand_u64(n: usize) -> u64 {
    // Distinct, unguessable enough for a test peer: the ticket's value is not under test.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    t ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn cas_xml(inner: &str) -> String {
    format!(
        r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">{inner}</cas:serviceResponse>"#
    )
}

fn cas_failure(code: &str, text: &str) -> String {
    cas_xml(&format!(
        r#"<cas:authenticationFailure code="{code}">{text}</cas:authenticationFailure>"#
    ))
}

async fn service_validate(
    State(state): State<Arc<CasState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    state.validations.fetch_add(1, Ordering::SeqCst);
    if state.hold.load(Ordering::SeqCst) {
        let released = state.release.notified();
        state.arrived.notify_waiters();
        released.await;
    }
    let status = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap();
    if let Some(body) = state.body.lock().unwrap().clone() {
        return (status, body).into_response();
    }
    let (Some(service), Some(ticket)) = (params.get("service"), params.get("ticket")) else {
        return (
            status,
            cas_failure("INVALID_REQUEST", "service and ticket required"),
        )
            .into_response();
    };
    let found = {
        let mut tickets = state.tickets.lock().unwrap();
        if state.reusable.load(Ordering::SeqCst) {
            tickets.get(ticket).cloned()
        } else {
            // CAS 3.0 §3.5: a ticket is consumed by its first validation, good or bad.
            tickets.remove(ticket)
        }
    };
    let body = match found {
        None => cas_failure("INVALID_TICKET", &format!("Ticket {ticket} not recognized")),
        Some((issued_for, _)) if &issued_for != service => cas_failure(
            "INVALID_SERVICE",
            &format!("Ticket {ticket} does not match supplied service"),
        ),
        Some((_, user)) => cas_xml(&format!(
            "<cas:authenticationSuccess><cas:user>{user}</cas:user><cas:attributes>\
             <cas:email>{user}@example.com</cas:email>\
             <cas:memberOf>staff</cas:memberOf><cas:memberOf>cti</cas:memberOf>\
             </cas:attributes></cas:authenticationSuccess>"
        )),
    };
    (status, [("content-type", "application/xml")], body).into_response()
}

#[derive(Default)]
struct OidcState {
    issuer: Mutex<String>,
    /// The issuer the discovery document claims (the real one unless set).
    claimed_issuer: Mutex<Option<String>>,
    jwks: Mutex<String>,
    down: AtomicBool,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

/// An OpenID Connect provider: `/.well-known/openid-configuration` and `/jwks`.
pub struct OidcServer {
    /// The issuer (`OIDC_ISSUER`), `http://127.0.0.1:<port>`.
    pub issuer: String,
    state: Arc<OidcState>,
}

impl OidcServer {
    pub async fn start(jwks: String) -> Self {
        let state = Arc::new(OidcState {
            jwks: Mutex::new(jwks),
            ..Default::default()
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks_doc))
            .with_state(Arc::clone(&state));
        let issuer = serve(app).await;
        *state.issuer.lock().unwrap() = issuer.clone();
        Self { issuer, state }
    }

    /// Publishes another key set (rotation).
    pub fn set_jwks(&self, jwks: String) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    /// Every answer becomes a 503 (or back).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// The discovery document names another issuer (a mix-up).
    pub fn claim_issuer(&self, issuer: &str) {
        *self.state.claimed_issuer.lock().unwrap() = Some(issuer.to_owned());
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

async fn discovery(State(state): State<Arc<OidcState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let issuer = state.issuer.lock().unwrap().clone();
    let claimed = state.claimed_issuer.lock().unwrap().clone();
    let doc = serde_json::json!({
        "issuer": claimed.unwrap_or_else(|| issuer.clone()),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code", "id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    });
    ([("content-type", "application/json")], doc.to_string()).into_response()
}

async fn jwks_doc(State(state): State<Arc<OidcState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let jwks = state.jwks.lock().unwrap().clone();
    (
        [
            ("content-type", "application/json"),
            ("cache-control", "max-age=300"),
        ],
        jwks,
    )
        .into_response()
}
