//! CAS protocol 3.0: a service ticket validated at the CAS server's `/p3/serviceValidate`.
//!
//! - The `service` must be one of the configured service URLs, byte for byte (anything else
//!   is 400): a ticket issued for another application is never even sent.
//! - The ticket must look like one (`ST-`, at most 256 printable ASCII characters, CAS 3.0
//!   §3.1), else 400.
//! - The answer is XML in the `http://www.yale.edu/tp/cas` namespace: `cas:user` and the
//!   `cas:attributes` on success; `cas:authenticationFailure` (`INVALID_TICKET`,
//!   `INVALID_SERVICE`, ...) is 401, `INTERNAL_ERROR` is 503.
//! - Each ticket is accepted once, even if the CAS server were to validate it again: the
//!   digests of accepted tickets are kept (bounded, for [`CasValidator::with_ticket_memory`]).
//! - A server that cannot be reached, times out, answers other than 200 or answers XML that
//!   is not CAS: 503, never a user.
//! - At most [`CasValidator::with_max_in_flight`] validations run at once; beyond that the
//!   answer is 503 at once, so a flood of made-up tickets cannot pile requests on the CAS
//!   server.
//!
//! ```
//! use bytes::Bytes;
//! use tower_authn_exchange::cas::CasValidator;
//! use tower_authn_jwt::FetchError;
//!
//! let cas_server = |_request: http::Request<Bytes>| async {
//!     Ok::<_, FetchError>(http::Response::new(Bytes::from_static(
//!         br#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
//!               <cas:authenticationSuccess><cas:user>alice</cas:user></cas:authenticationSuccess>
//!             </cas:serviceResponse>"#,
//!     )))
//! };
//! let cas = CasValidator::new("https://cas.example/cas", ["https://app.example/login"], cas_server)?;
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let identity = cas.validate("https://app.example/login", "ST-1-abc").await.unwrap();
//! assert_eq!(identity.login, "alice");
//! // The same ticket again: refused.
//! assert!(cas.validate("https://app.example/login", "ST-1-abc").await.is_err());
//! # });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::ACCEPT;
use http::{HeaderValue, Method, StatusCode, Uri};
use moka::future::Cache;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tower_authn_core::AuthError;
use tower_authn_jwt::HttpFetcher;

use crate::identity::{ExternalIdentity, Provider};

/// The CAS 2.0 / 3.0 XML namespace.
pub const CAS_NAMESPACE: &str = "http://www.yale.edu/tp/cas";

/// The longest ticket accepted (CAS 3.0 §3.7 asks clients to take at least 32 characters;
/// servers issue fewer than 256).
pub const MAX_TICKET_LEN: usize = 256;

/// The configuration could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasConfigError(String);

impl fmt::Display for CasConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CAS configuration: {}", self.0)
    }
}

impl std::error::Error for CasConfigError {}

struct Inner {
    validate_url: String,
    services: Vec<String>,
    fetcher: Box<dyn HttpFetcher>,
    used: Cache<[u8; 32], ()>,
    in_flight: Semaphore,
    timeout: Duration,
}

/// Validates CAS service tickets for a fixed set of services. Cheap to clone.
#[derive(Clone)]
pub struct CasValidator {
    inner: Arc<Inner>,
}

impl fmt::Debug for CasValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CasValidator")
            .field("validate_url", &self.inner.validate_url)
            .field("services", &self.inner.services)
            .finish_non_exhaustive()
    }
}

const DEFAULT_MAX_IN_FLIGHT: usize = 64;
const DEFAULT_TICKET_MEMORY: Duration = Duration::from_secs(600);
const DEFAULT_TICKET_CAPACITY: u64 = 100_000;

impl CasValidator {
    /// Validates at `server_url` (the CAS base, e.g. `https://cas.example/cas`) tickets for
    /// one of `services`, fetching through `fetcher` (which must speak HTTPS in production).
    ///
    /// # Errors
    ///
    /// [`CasConfigError`] when the server URL is not an absolute http(s) URL or no service is
    /// given.
    pub fn new<I, S>(
        server_url: &str,
        services: I,
        fetcher: impl HttpFetcher,
    ) -> Result<Self, CasConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let base = server_url.trim_end_matches('/');
        let uri: Uri = base
            .parse()
            .map_err(|_| CasConfigError(format!("{server_url:?} is not a URL")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(CasConfigError(format!(
                "{server_url:?} is not an absolute http(s) URL"
            )));
        }
        if uri.query().is_some() {
            return Err(CasConfigError(format!("{server_url:?} has a query")));
        }
        let services: Vec<String> = services
            .into_iter()
            .map(Into::into)
            .filter(|s| !s.is_empty())
            .collect();
        if services.is_empty() {
            return Err(CasConfigError("no service URL is accepted".into()));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                validate_url: format!("{base}/p3/serviceValidate"),
                services,
                fetcher: Box::new(fetcher),
                used: used_tickets(DEFAULT_TICKET_MEMORY, DEFAULT_TICKET_CAPACITY),
                in_flight: Semaphore::new(DEFAULT_MAX_IN_FLIGHT),
                timeout: Duration::from_secs(5),
            }),
        })
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Arc::get_mut(&mut self.inner).expect("configured before it is cloned")
    }

    /// How long, and how many, accepted tickets are remembered to refuse their replay
    /// (default 10 minutes, 100,000): longer than the CAS server's ticket lifetime.
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    pub fn with_ticket_memory(mut self, ttl: Duration, capacity: u64) -> Self {
        self.inner_mut().used = used_tickets(ttl, capacity);
        self
    }

    /// At most `n` validations at once (default 64); more answer 503 at once.
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.inner_mut().in_flight = Semaphore::new(n);
        self
    }

    /// The time limit of one validation request (default 5 s; then 503).
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.inner_mut().timeout = timeout;
        self
    }

    /// Whether `service` is one this validator accepts.
    pub fn accepts_service(&self, service: &str) -> bool {
        self.inner.services.iter().any(|s| s == service)
    }

    /// Validates `ticket` for `service` and returns the CAS user, with its attributes.
    ///
    /// # Errors
    ///
    /// 400 (`malformed`) for a service not configured or a ticket that is not one; 401
    /// (`invalid`) for a ticket the server refuses or one already used; 503 (`unavailable`)
    /// when the server cannot answer, or too many validations are running.
    pub async fn validate(
        &self,
        service: &str,
        ticket: &str,
    ) -> Result<ExternalIdentity, AuthError> {
        if !self.accepts_service(service) {
            return Err(AuthError::malformed(
                "cas: service not accepted by this server",
            ));
        }
        check_ticket_syntax(ticket)?;
        let digest: [u8; 32] = Sha256::digest(ticket.as_bytes()).into();
        if self.inner.used.contains_key(&digest) {
            return Err(AuthError::invalid("cas: ticket already used"));
        }
        let Ok(_permit) = self.inner.in_flight.try_acquire() else {
            return Err(AuthError::busy(
                "cas: too many validations in flight",
                Duration::from_secs(1),
            ));
        };
        let body = self.fetch(service, ticket).await?;
        let identity = match parse_service_response(&body) {
            Ok(ServiceResponse::Success(identity)) => identity,
            Ok(ServiceResponse::Failure(code)) if code == "INTERNAL_ERROR" => {
                return Err(AuthError::unavailable(
                    "cas: the server reported an internal error",
                ));
            }
            Ok(ServiceResponse::Failure(code)) => {
                tracing::debug!(target: "authn", code = %code, "cas: ticket refused");
                return Err(AuthError::invalid("cas: ticket refused by the server"));
            }
            Err(e) => {
                tracing::debug!(target: "authn", error = %e, "cas: unreadable answer");
                return Err(AuthError::unavailable(
                    "cas: the server's answer is not CAS XML",
                ));
            }
        };
        // Atomic: of two concurrent uses of one ticket, one entry is fresh.
        if !self.inner.used.entry(digest).or_insert(()).await.is_fresh() {
            return Err(AuthError::invalid("cas: ticket already used"));
        }
        Ok(identity)
    }

    async fn fetch(&self, service: &str, ticket: &str) -> Result<Bytes, AuthError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("service", service)
            .append_pair("ticket", ticket)
            .finish();
        let request = http::Request::builder()
            .method(Method::GET)
            .uri(format!("{}?{query}", self.inner.validate_url))
            .header(
                ACCEPT,
                HeaderValue::from_static("application/xml, text/xml"),
            )
            .body(Bytes::new())
            .map_err(|_| AuthError::malformed("cas: the service or ticket is not URL-safe"))?;
        let response =
            match tokio::time::timeout(self.inner.timeout, self.inner.fetcher.fetch(request)).await
            {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    tracing::debug!(target: "authn", error = %e, "cas: server unreachable");
                    return Err(AuthError::unavailable("cas: server unreachable"));
                }
                Err(_) => return Err(AuthError::unavailable("cas: server timed out")),
            };
        if response.status() != StatusCode::OK {
            tracing::debug!(target: "authn", status = %response.status(), "cas: server answered an error");
            return Err(AuthError::unavailable("cas: server answered an error"));
        }
        Ok(response.into_body())
    }
}

fn used_tickets(ttl: Duration, capacity: u64) -> Cache<[u8; 32], ()> {
    Cache::builder()
        .max_capacity(capacity)
        .time_to_live(ttl)
        .build()
}

/// CAS 3.0 §3.1: a service ticket begins with `ST-`; we also bound its length and keep it to
/// printable ASCII, so nothing odd reaches the server's query string.
fn check_ticket_syntax(ticket: &str) -> Result<(), AuthError> {
    let ok = ticket.len() <= MAX_TICKET_LEN
        && ticket.len() > 3
        && ticket.starts_with("ST-")
        && ticket.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(AuthError::malformed("cas: not a service ticket"))
    }
}

/// What a CAS server answered to a validation.
#[derive(Debug, PartialEq)]
pub enum ServiceResponse {
    /// `cas:authenticationSuccess`: the user, with its attributes.
    Success(ExternalIdentity),
    /// `cas:authenticationFailure`: its `code` attribute (`INVALID_TICKET`, ...).
    Failure(String),
}

/// Where the reader is inside a `cas:serviceResponse`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    Outside,
    Success,
    User,
    Attributes,
    Attribute,
    Failure,
    /// Some element we do not read (a proxy-granting ticket, a proxies list), `depth` deep.
    Skipping(usize),
}

/// Reads a CAS 2.0 / 3.0 `serviceValidate` answer (namespace-aware; DTDs and entities are
/// never expanded). Unknown elements are skipped; a second
/// user, an empty user or an answer that is neither success nor failure is an error.
///
/// # Errors
///
/// A description of what makes `xml` not a CAS answer (for logs).
pub fn parse_service_response(xml: &[u8]) -> Result<ServiceResponse, String> {
    let cas = ResolveResult::Bound(Namespace(CAS_NAMESPACE.as_bytes()));
    let mut reader = NsReader::from_reader(xml);
    let config = reader.config_mut();
    config.trim_text(true);
    // `<a/>` reads as `<a></a>`: one code path for both spellings.
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    let mut at = At::Outside;
    let mut stack: Vec<At> = Vec::new();
    let mut user: Option<String> = None;
    let mut attribute: Option<String> = None;
    let mut attributes = Map::new();
    let mut failure: Option<String> = None;
    let mut saw_response = false;
    loop {
        let (ns, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| format!("xml: {e}"))?;
        match event {
            Event::Start(e) => {
                let is_cas = ns == cas;
                let name = e.local_name();
                let local = name.as_ref();
                let next = match at {
                    At::Skipping(d) => At::Skipping(d + 1),
                    At::Outside if is_cas && local == b"serviceResponse" && !saw_response => {
                        saw_response = true;
                        At::Outside
                    }
                    At::Outside if is_cas && local == b"authenticationSuccess" && saw_response => {
                        if user.is_some() || failure.is_some() {
                            return Err("two answers".into());
                        }
                        At::Success
                    }
                    At::Outside if is_cas && local == b"authenticationFailure" && saw_response => {
                        if user.is_some() || failure.is_some() {
                            return Err("two answers".into());
                        }
                        let code = e
                            .try_get_attribute("code")
                            .map_err(|e| format!("xml: {e}"))?
                            .map(|a| a.unescape_value().map(|v| v.into_owned()))
                            .transpose()
                            .map_err(|e| format!("xml: {e}"))?
                            .unwrap_or_default();
                        failure = Some(code);
                        At::Failure
                    }
                    At::Success if is_cas && local == b"user" => {
                        if user.is_some() {
                            return Err("two users".into());
                        }
                        user = Some(String::new());
                        At::User
                    }
                    At::Success if is_cas && local == b"attributes" => At::Attributes,
                    At::Attributes => {
                        attribute = Some(String::from_utf8_lossy(local).into_owned());
                        At::Attribute
                    }
                    _ => At::Skipping(0),
                };
                stack.push(at);
                at = next;
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| format!("xml: {e}"))?;
                push_text(at, &text, &mut user, attribute.as_deref(), &mut attributes);
            }
            Event::CData(t) => {
                let text = String::from_utf8(t.into_inner().into_owned())
                    .map_err(|_| "cdata: not UTF-8".to_owned())?;
                push_text(at, &text, &mut user, attribute.as_deref(), &mut attributes);
            }
            Event::End(_) => {
                if at == At::Attribute {
                    attribute = None;
                }
                at = stack.pop().ok_or("unbalanced")?;
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions, DTDs (never expanded).
            _ => {}
        }
        buf.clear();
    }
    if !saw_response {
        return Err("not a cas:serviceResponse".into());
    }
    match (user, failure) {
        (Some(user), None) => {
            let user = user.trim().to_owned();
            if user.is_empty() {
                return Err("empty user".into());
            }
            Ok(ServiceResponse::Success(
                ExternalIdentity::new(Provider::Cas, user.clone(), user)
                    .with_attributes(attributes),
            ))
        }
        (None, Some(code)) => Ok(ServiceResponse::Failure(code)),
        _ => Err("neither success nor failure".into()),
    }
}

fn push_text(
    at: At,
    text: &str,
    user: &mut Option<String>,
    attribute: Option<&str>,
    attributes: &mut Map<String, Value>,
) {
    match (at, attribute) {
        (At::User, _) => {
            if let Some(user) = user {
                user.push_str(text);
            }
        }
        (At::Attribute, Some(name)) => {
            let value = Value::String(text.to_owned());
            // A repeated attribute is multi-valued (CAS 3.0 §2.5 appendix): an array.
            match attributes.get_mut(name) {
                None => {
                    attributes.insert(name.to_owned(), value);
                }
                Some(Value::Array(values)) => values.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SUCCESS: &str = r#"<?xml version="1.0"?>
<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationSuccess>
    <cas:user>alice</cas:user>
    <cas:attributes>
      <cas:email>alice@example.com</cas:email>
      <cas:memberOf>staff</cas:memberOf>
      <cas:memberOf>admins</cas:memberOf>
      <cas:isFromNewLogin>true</cas:isFromNewLogin>
    </cas:attributes>
    <cas:proxyGrantingTicket>PGTIOU-84678-8a9d</cas:proxyGrantingTicket>
  </cas:authenticationSuccess>
</cas:serviceResponse>"#;

    #[test]
    fn success_with_attributes() {
        let ServiceResponse::Success(id) = parse_service_response(SUCCESS.as_bytes()).unwrap()
        else {
            panic!("not a success")
        };
        assert_eq!(id.login, "alice");
        assert_eq!(id.provider, Provider::Cas);
        assert_eq!(id.attributes["email"], "alice@example.com");
        assert_eq!(
            id.attributes["memberOf"],
            serde_json::json!(["staff", "admins"])
        );
        assert!(!id.attributes.contains_key("proxyGrantingTicket"));
    }

    #[test]
    fn failure_codes() {
        let xml = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
            <cas:authenticationFailure code="INVALID_TICKET">Ticket ST-1856339-aA5Yuvrxzpv8Tau1cYQ7 not recognized</cas:authenticationFailure>
        </cas:serviceResponse>"#;
        assert_eq!(
            parse_service_response(xml.as_bytes()).unwrap(),
            ServiceResponse::Failure("INVALID_TICKET".into())
        );
    }

    #[test]
    fn another_prefix_is_the_same_namespace() {
        let xml = r#"<c:serviceResponse xmlns:c="http://www.yale.edu/tp/cas"><c:authenticationSuccess><c:user>bob</c:user></c:authenticationSuccess></c:serviceResponse>"#;
        assert!(
            matches!(parse_service_response(xml.as_bytes()), Ok(ServiceResponse::Success(id)) if id.login == "bob")
        );
    }

    #[test]
    fn the_cas_prefix_in_another_namespace_is_not_cas() {
        let xml = r#"<cas:serviceResponse xmlns:cas="urn:evil"><cas:authenticationSuccess><cas:user>root</cas:user></cas:authenticationSuccess></cas:serviceResponse>"#;
        assert!(parse_service_response(xml.as_bytes()).is_err());
    }

    #[test]
    fn ambiguous_answers_are_errors() {
        for xml in [
            // two users
            r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user>a</cas:user><cas:user>b</cas:user></cas:authenticationSuccess></cas:serviceResponse>"#,
            // success and failure
            r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user>a</cas:user></cas:authenticationSuccess><cas:authenticationFailure code="X"/></cas:serviceResponse>"#,
            // empty user
            r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user>  </cas:user></cas:authenticationSuccess></cas:serviceResponse>"#,
            r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user/></cas:authenticationSuccess></cas:serviceResponse>"#,
            // a user nested where it does not belong
            r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><x><cas:authenticationSuccess><cas:user>a</cas:user></cas:authenticationSuccess></x></cas:serviceResponse>"#,
            // nothing
            r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"></cas:serviceResponse>"#,
            "",
            "<html>502 Bad Gateway</html>",
            // an entity that is not defined is an error, never expanded
            r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user>&e;</cas:user></cas:authenticationSuccess></cas:serviceResponse>"#,
        ] {
            assert!(
                !matches!(
                    parse_service_response(xml.as_bytes()),
                    Ok(ServiceResponse::Success(_))
                ),
                "{xml}"
            );
        }
    }

    #[test]
    fn ticket_syntax() {
        assert!(check_ticket_syntax("ST-1-abc").is_ok());
        for bad in [
            "",
            "ST-",
            "PT-1-abc",
            "ST-1 abc",
            "ST-1\nabc",
            &"ST-".repeat(100),
        ] {
            assert!(check_ticket_syntax(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(xml in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_service_response(&xml);
        }

        #[test]
        fn the_parser_never_panics_on_near_cas(
            user in "[a-z<>&;/\\]\\[ ]{0,12}",
            code in "[A-Z_\"']{0,12}",
        ) {
            let xml = format!(r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess><cas:user>{user}</cas:user></cas:authenticationSuccess><cas:authenticationFailure code="{code}"/></cas:serviceResponse>"#);
            let _ = parse_service_response(xml.as_bytes());
        }
    }
}
