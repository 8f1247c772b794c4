//! [`Acceptor`]: one SPNEGO round of GSSAPI `accept_sec_context` against the keytab, on the
//! blocking pool, behind a bounded number of permits.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use libgssapi::context::{CtxFlags, SecurityContext, ServerCtx};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::error::Error as GssError;
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE, Oid, OidSet};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_authn_core::{AuthError, CredentialLocation, Principal};

use crate::header::{MAX_TOKEN_BYTES, NEGOTIATE, reply_header};

/// The acceptor service name [`Acceptor::new`] is usually given: `HTTP`, the service of the
/// principals browsers and curl ask tickets for (`HTTP/<host name>@REALM`).
pub const DEFAULT_SERVICE: &str = "HTTP";

/// The `Retry-After` of a [`busy`](AuthError::busy) answer unless
/// [`Acceptor::with_retry_after`] says otherwise: one second.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The Kerberos 5 mechanism under its other OIDs, which a SPNEGO client may have negotiated:
/// the one Windows sends (1.2.840.48018.1.2.2, Microsoft's misencoding of the real one) and
/// the pre-RFC one (1.3.5.1.5.2). [`GSS_MECH_KRB5`] is the real one.
static MECH_KRB5_MS: Oid<'static> = Oid::from_slice(b"\x2a\x86\x48\x82\xf7\x12\x01\x02\x02");
static MECH_KRB5_OLD: Oid<'static> = Oid::from_slice(b"\x2b\x05\x01\x05\x02");

/// The first bytes of a raw NTLM message (`NTLMSSP\0`), which Windows puts in a `Negotiate`
/// header when it has no Kerberos ticket.
const NTLM_SIGNATURE: &[u8] = b"NTLMSSP\0";

/// The `errno` values (Linux numbering) whose text in a GSSAPI failure means the server's
/// own file I/O failed (the replay cache, mostly): `EPERM`, `ENOENT`, `EIO`, `ENOMEM`,
/// `EACCES`, `ENOTDIR`, `EISDIR`, `ENFILE`, `EMFILE`, `ENOSPC`, `EROFS`, `EDQUOT`.
///
/// MIT's mechanism glue renumbers minor status codes per process, so the Kerberos or
/// system code behind a failure is not in the number, only in its text. A client cannot
/// make the acceptor report one of these texts: they come from the server's own system
/// calls.
/// `GSS_S_NO_CRED` and `GSS_S_FAILURE`, as routine error numbers (RFC 2744 §3.9.1).
const ROUTINE_NO_CRED: u32 = 7;
const ROUTINE_FAILURE: u32 = 13;

#[cfg(target_os = "linux")]
const LOCAL_ERRNOS: [i32; 12] = [1, 2, 5, 12, 13, 20, 21, 23, 24, 28, 30, 122];
#[cfg(not(target_os = "linux"))]
const LOCAL_ERRNOS: [i32; 0] = [];

/// Why [`Acceptor::new`] could not get an acceptor credential. Its `Display` says what to
/// fix; the server should answer the route with `503` (see the `From` impl) until it is.
#[derive(Clone)]
pub struct AcceptorError {
    message: String,
}

impl AcceptorError {
    fn new(message: String) -> Self {
        Self { message }
    }
}

impl fmt::Debug for AcceptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptorError")
            .field("message", &self.message)
            .finish()
    }
}

impl fmt::Display for AcceptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AcceptorError {}

impl From<AcceptorError> for AuthError {
    /// `unavailable` (503): without an acceptor credential no Kerberos request can be
    /// checked, so the route fails closed.
    fn from(e: AcceptorError) -> Self {
        AuthError::unavailable(e.message)
    }
}

/// Accepts Kerberos tickets sent as SPNEGO tokens (`Authorization: Negotiate <token>`).
///
/// Built once at startup with [`Acceptor::new`], then shared (cloning is cheap). The keytab
/// is the one MIT Kerberos reads by default: the file named by `KRB5_KTNAME`
/// (`FILE:/etc/tower-authn/http.keytab`), else `default_keytab_name` of `krb5.conf`, else
/// `/etc/krb5.keytab`; `KRB5_CONFIG` names `krb5.conf`.
///
/// Each [`accept`](Self::accept) is one GSSAPI `accept_sec_context` call: file I/O on the
/// keytab and the replay cache, so it runs on tokio's blocking pool, at most
/// [`with_max_concurrent`](Self::with_max_concurrent) at a time; past that the answer is
/// `busy` (503 with `Retry-After`) at once, never a queue.
#[derive(Clone)]
pub struct Acceptor {
    inner: Arc<Inner>,
}

struct Inner {
    cred: Cred,
    /// The name the credential was acquired for, for re-acquiring it after a keytab error.
    service: String,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    retry_after: Duration,
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("service", &self.inner.service)
            .field("max_concurrent", &self.inner.max_concurrent)
            .field("available", &self.inner.permits.available_permits())
            .field("retry_after", &self.inner.retry_after)
            .finish()
    }
}

impl Acceptor {
    /// An acceptor for `service` (usually [`DEFAULT_SERVICE`], `HTTP`) on any host name the
    /// keytab has a key for.
    ///
    /// `service` alone (`HTTP`) is imported as a GSSAPI host-based service name without a
    /// host, which MIT Kerberos (1.10 and later) treats as a wildcard acceptor name: a client
    /// may authenticate to any principal `HTTP/<any host>@<any realm>` present in the keytab,
    /// and to no other (`host/...`, `imap/...` entries of the same keytab are refused). So
    /// one server answers for every name it is reached by, as long as each has its key in
    /// the keytab. `service@host` (`HTTP@www.example.com`) accepts that one host only.
    ///
    /// This reads the keytab (blocking file I/O: call it at startup, not on a request). It
    /// fails when the keytab is missing or unreadable, or holds no key for `service`.
    ///
    /// # Errors
    ///
    /// [`AcceptorError`], whose message names the service, `KRB5_KTNAME` and GSSAPI's
    /// reason (`Key table file '...' not found`, `No key table entry found matching HTTP/...`).
    pub fn new(service: &str) -> Result<Self, AcceptorError> {
        if service.is_empty()
            || service.starts_with('@')
            || service
                .bytes()
                .any(|b| b.is_ascii_control() || b == b' ' || b == b'/')
        {
            return Err(AcceptorError::new(format!(
                "Kerberos acceptor: {service:?} is not a service name (expected `HTTP` or `HTTP@host`)"
            )));
        }
        let cred = acquire(service).map_err(|e| {
            let keytab = std::env::var("KRB5_KTNAME")
                .unwrap_or_else(|_| "unset: krb5.conf's default_keytab_name".to_owned());
            AcceptorError::new(format!(
                "Kerberos acceptor: no usable key for service {service} in the keytab \
                 (KRB5_KTNAME {keytab}): {e}"
            ))
        })?;
        let max_concurrent = std::thread::available_parallelism()
            .map_or(16, |n| n.get().saturating_mul(2))
            .max(1);
        Ok(Self {
            inner: Arc::new(Inner {
                cred,
                service: service.to_owned(),
                permits: Arc::new(Semaphore::new(max_concurrent)),
                max_concurrent,
                retry_after: DEFAULT_RETRY_AFTER,
            }),
        })
    }

    /// At most `n` (at least 1) tokens checked at once; more answer `busy` at once. Default:
    /// twice the number of cores (16 when unknown).
    #[must_use]
    pub fn with_max_concurrent(self, n: usize) -> Self {
        let n = n.clamp(1, Semaphore::MAX_PERMITS);
        self.rebuild(|inner| {
            inner.max_concurrent = n;
            inner.permits = Arc::new(Semaphore::new(n));
        })
    }

    /// The `Retry-After` of a `busy` answer (default [`DEFAULT_RETRY_AFTER`]).
    #[must_use]
    pub fn with_retry_after(self, retry_after: Duration) -> Self {
        self.rebuild(|inner| inner.retry_after = retry_after)
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            cred: self.inner.cred.clone(),
            service: self.inner.service.clone(),
            permits: Arc::clone(&self.inner.permits),
            max_concurrent: self.inner.max_concurrent,
            retry_after: self.inner.retry_after,
        };
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The service name given to [`new`](Self::new).
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// How many tokens may be checked at once.
    pub fn max_concurrent(&self) -> usize {
        self.inner.max_concurrent
    }

    /// Checks one SPNEGO token (from [`parse_authorization`](crate::parse_authorization)).
    ///
    /// One round only: HTTP is stateless, so a token that GSSAPI answers with "continue"
    /// (a SPNEGO exchange whose first mechanism is not Kerberos, NegoEx, IAKERB) is refused,
    /// and so is a raw NTLM message. The context must end on the Kerberos 5 mechanism and
    /// not be anonymous.
    ///
    /// A permit is taken when `accept` is called, not when the future is first polled, and
    /// is held until the future completes or is dropped; with none free the future answers
    /// `busy` at once.
    ///
    /// # Errors
    ///
    /// - [`AuthError::invalid`] (401): GSSAPI refused the token (defective, for a service not
    ///   in the keytab, expired ticket, clock skew, replayed authenticator, wrong mechanism,
    ///   further round needed). The detail has GSSAPI's major and minor status texts, never
    ///   the token.
    /// - [`AuthError::malformed`] (400): empty or over [`MAX_TOKEN_BYTES`].
    /// - [`AuthError::busy`] (503 with `Retry-After`): every permit is in use.
    /// - [`AuthError::unavailable`] (503): the keytab or replay cache could not be read or
    ///   written, no tokio runtime, or the blocking task failed.
    pub fn accept(
        &self,
        token: Vec<u8>,
    ) -> impl Future<Output = Result<Accepted, AuthError>> + Send + 'static {
        let permit = Arc::clone(&self.inner.permits).try_acquire_owned();
        let inner = Arc::clone(&self.inner);
        async move {
            let Ok(permit) = permit else {
                return Err(AuthError::busy(
                    "Kerberos acceptor: every permit is in use",
                    inner.retry_after,
                ));
            };
            if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
                return Err(AuthError::malformed("Negotiate token empty or over 64 KiB"));
            }
            if token.starts_with(NTLM_SIGNATURE) {
                return Err(AuthError::invalid(
                    "Negotiate: an NTLM message; only Kerberos is accepted",
                ));
            }
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return Err(AuthError::unavailable(
                    "Kerberos acceptor: accept called outside a tokio runtime",
                ));
            };
            runtime
                .spawn_blocking(move || accept_blocking(&inner, &token, permit))
                .await
                .unwrap_or_else(|_| {
                    Err(AuthError::unavailable(
                        "Kerberos acceptor: the GSSAPI task failed",
                    ))
                })
        }
    }
}

/// Acquires an accept-only credential for `service` (`HTTP` or `HTTP@host`), for SPNEGO and
/// raw Kerberos 5 tokens.
///
/// The Kerberos credential is acquired alone first: its error tells what is wrong with the
/// keytab (SPNEGO's own says only "cannot find mechanisms to negotiate").
fn acquire(service: &str) -> Result<Cred, GssError> {
    let name = service_name(service)?;
    keytab_has_key(&name)?;
    let mut mechs = OidSet::new();
    mechs.add(GSS_MECH_SPNEGO)?;
    mechs.add(GSS_MECH_KRB5)?;
    Cred::acquire(Some(&name), None, CredUsage::Accept, Some(&mechs))
}

fn service_name(service: &str) -> Result<Name, GssError> {
    Name::new(service.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE))
}

/// Whether the keytab (read now) has a key for `name`: a Kerberos-only accept credential.
fn keytab_has_key(name: &Name) -> Result<(), GssError> {
    Cred::acquire(
        Some(name),
        None,
        CredUsage::Accept,
        Some(&OidSet::singleton(GSS_MECH_KRB5)?),
    )
    .map(drop)
}

fn accept_blocking(
    inner: &Inner,
    token: &[u8],
    _permit: OwnedSemaphorePermit,
) -> Result<Accepted, AuthError> {
    let mut ctx = ServerCtx::new(Some(inner.cred.clone()));
    let reply = match ctx.step(token, None) {
        Ok(reply) => reply,
        // The status text is formatted here, on the thread of the failed call: MIT keeps
        // the extended message ("No key table entry found for ...") per thread.
        Err(e) => return Err(refusal(inner, e)),
    };
    if !ctx.is_complete() {
        return Err(AuthError::invalid(
            "Negotiate: GSSAPI needs a further round (another mechanism than Kerberos \
             first, NegoEx, IAKERB); HTTP allows one",
        ));
    }
    let mech = ctx
        .mechanism()
        .map_err(|e| AuthError::invalid(format!("Negotiate: no mechanism: {e}")))?;
    if mech != GSS_MECH_KRB5 && mech != MECH_KRB5_MS && mech != MECH_KRB5_OLD {
        return Err(AuthError::invalid(format!(
            "Negotiate: mechanism {mech} is not Kerberos 5"
        )));
    }
    let flags = ctx
        .flags()
        .map_err(|e| AuthError::invalid(format!("Negotiate: no context flags: {e}")))?;
    if flags.contains(CtxFlags::GSS_C_ANON_FLAG) {
        return Err(AuthError::invalid(
            "Negotiate: anonymous Kerberos is refused",
        ));
    }
    let name = ctx
        .source_name()
        .and_then(|n| n.display_name())
        .map_err(|e| AuthError::invalid(format!("Negotiate: no client name: {e}")))?;
    let client = String::from_utf8(name.to_vec())
        .map_err(|_| AuthError::invalid("Negotiate: the client name is not UTF-8"))?;
    let realm_at = realm_separator(&client)
        .ok_or_else(|| AuthError::invalid("Negotiate: the client name has no realm"))?;
    Ok(Accepted {
        client,
        realm_at,
        reply: reply.map(|b| b.to_vec()).filter(|r| !r.is_empty()),
    })
}

/// The answer to a GSSAPI failure: the server's own trouble is `unavailable`, anything
/// else is the token's fault, `invalid`.
///
/// The server's trouble: no credential (`GSS_S_NO_CRED`); a general failure after which the
/// credential cannot be acquired again (the keytab is gone or unreadable: MIT reports a
/// missing keytab file and a missing entry with the same code, so the keytab is read again
/// to tell them apart, on failures only); a general failure whose text is a system error
/// (the replay cache could not be written).
fn refusal(inner: &Inner, e: GssError) -> AuthError {
    let text = e.to_string();
    let detail = format!(
        "Negotiate: GSSAPI refused the token (major {:#x}, minor {:#x}): {text}",
        e.major.bits(),
        e.minor
    );
    // The routine error is a number in bits 16..24 (RFC 2744 §3.9.1), not a set of flags.
    let routine = (e.major.bits() >> 16) & 0xff;
    let local = routine == ROUTINE_NO_CRED
        || (routine == ROUTINE_FAILURE
            && (system_error(&text)
                || service_name(&inner.service)
                    .and_then(|name| keytab_has_key(&name))
                    .is_err()));
    if local {
        AuthError::unavailable(detail)
    } else {
        AuthError::invalid(detail)
    }
}

/// Whether a GSSAPI status text carries one of [`LOCAL_ERRNOS`]' messages (as the minor
/// status, in parentheses: `... (Permission denied (filename: /var/tmp/...))`).
fn system_error(text: &str) -> bool {
    LOCAL_ERRNOS.iter().any(|&errno| {
        let message = std::io::Error::from_raw_os_error(errno).to_string();
        // std appends " (os error N)" to the C library's text.
        let message = message.split(" (os error").next().unwrap_or_default();
        !message.is_empty() && text.contains(&format!("({message}"))
    })
}

/// The byte index of the `@` before the realm in a displayed Kerberos principal name
/// (`alice@EXAMPLE.COM`, `a\@b@EXAMPLE.COM`): the last `@` not escaped by a backslash.
fn realm_separator(name: &str) -> Option<usize> {
    let mut found = None;
    let mut escaped = false;
    for (i, b) in name.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'@' => found = Some(i),
            _ => {}
        }
    }
    found.filter(|&i| i > 0)
}

/// An accepted Kerberos client: its principal name and the reply token for the response.
#[derive(Clone, PartialEq, Eq)]
pub struct Accepted {
    client: String,
    realm_at: usize,
    reply: Option<Vec<u8>>,
}

impl Accepted {
    /// The client principal as GSSAPI displays it: `alice@EXAMPLE.COM`.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// The principal without its realm: `alice` (`alice/admin` for a two-part principal;
    /// still escaped as Kerberos displays it). Only meaningful together with
    /// [`realm`](Self::realm): `alice@A.COM` and `alice@B.COM` are different people.
    pub fn user(&self) -> &str {
        &self.client[..self.realm_at]
    }

    /// The realm: `EXAMPLE.COM`.
    pub fn realm(&self) -> &str {
        &self.client[self.realm_at + 1..]
    }

    /// The acceptor's reply token (the SPNEGO answer, with the Kerberos AP-REP when the
    /// client asked for mutual authentication), to send as
    /// `WWW-Authenticate: Negotiate <base64>` on the response.
    pub fn reply(&self) -> Option<&[u8]> {
        self.reply.as_deref()
    }

    /// The `WWW-Authenticate` value for the response: `Negotiate <base64 reply>`, or `None`
    /// when there is no reply token.
    pub fn reply_header(&self) -> Option<HeaderValue> {
        self.reply.as_deref().map(reply_header)
    }

    /// A [`Principal`]: a user whose id is the full client principal
    /// ([`client`](Self::client), unique across realms), named [`user`](Self::user),
    /// proved by scheme `negotiate`, found in `Authorization: Negotiate`.
    pub fn principal(&self) -> Principal {
        Principal::user(self.client.clone())
            .with_name(self.user())
            .with_scheme("negotiate")
            .with_location(CredentialLocation::Authorization(NEGOTIATE.into()))
    }
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("client", &self.client)
            .field(
                "reply",
                &self.reply.as_ref().map(|r| format!("<{} bytes>", r.len())),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_realm() {
        assert_eq!(realm_separator("alice@EXAMPLE.COM"), Some(5));
        assert_eq!(realm_separator("a\\@b@EXAMPLE.COM"), Some(4));
        assert_eq!(realm_separator("HTTP/h@R@X"), Some(8));
        assert_eq!(realm_separator("alice"), None);
        assert_eq!(realm_separator("a\\@b"), None);
        assert_eq!(realm_separator("@R"), None);
        let a = Accepted {
            client: "alice@AUTHN.TEST".into(),
            realm_at: 5,
            reply: Some(vec![1, 2, 3]),
        };
        assert_eq!((a.user(), a.realm()), ("alice", "AUTHN.TEST"));
        assert_eq!(
            a.reply_header().as_ref().map(|h| h.as_bytes()),
            Some(&b"Negotiate AQID"[..])
        );
        let debug = format!("{a:?}");
        assert!(
            debug.contains("<3 bytes>") && !debug.contains("[1, 2, 3]"),
            "{debug}"
        );
        let p = a.principal();
        assert_eq!(p.id, "alice@AUTHN.TEST");
        assert_eq!(p.name.as_deref(), Some("alice"));
    }

    #[test]
    fn refuses_bad_service_names() {
        for s in ["", "@host", "HTTP/localhost", "HT TP", "HTTP\0"] {
            assert!(Acceptor::new(s).is_err(), "{s:?}");
        }
    }
}
