//! [`Principal`]: who made the request, whatever scheme proved it.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::Value;

use crate::Attributes;

/// What kind of party a [`Principal`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// A person who logged in (Basic, login token, JWT, HA1B, Google, Facebook).
    User,
    /// An application holding an API key or an access pair.
    App,
    /// A device holding a device token.
    Device,
    /// A server: the shared server token, or a signed server-to-server request.
    Server,
}

impl PrincipalKind {
    /// The lowercase name used in JSON (`user`, `app`, `device`, `server`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::App => "app",
            Self::Device => "device",
            Self::Server => "server",
        }
    }
}

/// Where on the request the credential that proved a principal was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialLocation {
    /// The `Authorization` header with this auth-scheme (`Basic`, `Bearer`).
    Authorization(Cow<'static, str>),
    /// A named header such as `X-Auth-Token`.
    Header(http::HeaderName),
    /// A query parameter such as `token`.
    Query(Cow<'static, str>),
    /// Several headers together (the `AccessToken` + `AccessSecret` pair, signed requests).
    Headers(Cow<'static, str>),
    /// A cookie of the `Cookie` header, by name (`authn_session`).
    Cookie(Cow<'static, str>),
    /// A `Sec-WebSocket-Protocol` entry with this prefix (`authn.bearer`, the entry being
    /// `authn.bearer.<token>`).
    Subprotocol(Cow<'static, str>),
}

impl std::fmt::Display for CredentialLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Authorization(scheme) => write!(f, "authorization:{scheme}"),
            Self::Header(name) => write!(f, "header:{name}"),
            Self::Query(name) => write!(f, "query:{name}"),
            Self::Headers(names) => write!(f, "headers:{names}"),
            Self::Cookie(name) => write!(f, "cookie:{name}"),
            Self::Subprotocol(prefix) => write!(f, "subprotocol:{prefix}"),
        }
    }
}

/// Who made the request: one type for every scheme.
///
/// A verifier builds it; the auth layer records where the credential was found and inserts
/// it into the request's extensions, where handlers read it (in axum, as an extractor).
///
/// A `Principal` is a shared handle: what a store, cache or verifier proved is kept once
/// ([`PrincipalData`], behind an `Arc`), and handing it to a request, a handler or a cache
/// costs a reference-count increment, never a copy of its strings and maps. Fields read
/// through it as if they were its own (`principal.id`, `principal.roles`); writing one
/// (`principal.name = ..`, the `with_*` builders) copies the data first if it is shared
/// (copy on write). Only [`location`](Self::location), set per request, is the handle's own.
///
/// ```
/// use tower_authn_core::{Principal, PrincipalKind};
///
/// let alice = Principal::user("alice")
///     .with_scheme("basic")
///     .with_name("Alice Liddell")
///     .with_roles(["admin"]);
/// assert_eq!(alice.kind, PrincipalKind::User);
/// assert!(alice.has_role("admin"));
/// let handed_on = alice.clone(); // one reference-count increment
/// assert!(handed_on.shares_data_with(&alice));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    data: Arc<PrincipalData>,
    /// Where the credential was found; set by the auth layer for this request.
    pub location: Option<CredentialLocation>,
}

/// What a [`Principal`] says, shared by every handle to it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PrincipalData {
    /// A stable identifier: a user's login, an app id, a device id, a token subject.
    pub id: String,
    /// What kind of party this is.
    pub kind: PrincipalKind,
    /// The scheme that proved it (`basic`, `token`, `jwt`, `app-api-key`, ...).
    pub scheme: Cow<'static, str>,
    /// Display name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Roles, for role checks (`admin`, `user`).
    pub roles: Vec<String>,
    /// OAuth-style scopes.
    pub scopes: Vec<String>,
    /// The application the credential belongs to.
    pub app_id: Option<String>,
    /// The identifier of the key or token that proved it (never the secret itself).
    pub key_id: Option<String>,
    /// When the credential stops being valid.
    pub expires_at: Option<SystemTime>,
    /// When the credential that proved it was issued, where the verifier knows it (the
    /// key-store verifiers: the record's creation). Read by
    /// [`user_state`](crate::user_state) to end credentials issued before a user's change.
    /// A field, not an attribute, so stamping it costs no map insertion per request.
    pub issued_at: Option<SystemTime>,
    /// Raw claims (JWT) or attributes (store records), kept verbatim; read as a
    /// [`Map`](serde_json::Map) (a JWT's claims are parsed into it on the first read, not per request).
    pub attributes: Attributes,
}

impl Deref for Principal {
    type Target = PrincipalData;

    fn deref(&self) -> &PrincipalData {
        &self.data
    }
}

/// Copy on write: the data is copied only when another handle shares it.
impl DerefMut for Principal {
    fn deref_mut(&mut self) -> &mut PrincipalData {
        Arc::make_mut(&mut self.data)
    }
}

impl Principal {
    /// A principal of `kind` with `id`; every other field empty.
    pub fn new(kind: PrincipalKind, id: impl Into<String>) -> Self {
        Self {
            data: Arc::new(PrincipalData {
                id: id.into(),
                kind,
                scheme: Cow::Borrowed(""),
                name: None,
                email: None,
                roles: Vec::new(),
                scopes: Vec::new(),
                app_id: None,
                key_id: None,
                expires_at: None,
                issued_at: None,
                attributes: Attributes::new(),
            }),
            location: None,
        }
    }

    /// Whether `self` and `other` are handles to the same data (no copy was made between
    /// them).
    pub fn shares_data_with(&self, other: &Principal) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }

    /// The principal's id, taken out of the handle (a copy only when the data is shared).
    pub fn into_id(self) -> String {
        match Arc::try_unwrap(self.data) {
            Ok(data) => data.id,
            Err(shared) => shared.id.clone(),
        }
    }

    /// A [`PrincipalKind::User`].
    pub fn user(id: impl Into<String>) -> Self {
        Self::new(PrincipalKind::User, id)
    }

    /// A [`PrincipalKind::App`].
    pub fn app(id: impl Into<String>) -> Self {
        Self::new(PrincipalKind::App, id)
    }

    /// A [`PrincipalKind::Device`].
    pub fn device(id: impl Into<String>) -> Self {
        Self::new(PrincipalKind::Device, id)
    }

    /// A [`PrincipalKind::Server`].
    pub fn server(id: impl Into<String>) -> Self {
        Self::new(PrincipalKind::Server, id)
    }

    /// Sets the scheme name.
    pub fn with_scheme(mut self, scheme: impl Into<Cow<'static, str>>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Sets the credential location.
    pub fn with_location(mut self, location: CredentialLocation) -> Self {
        self.location = Some(location);
        self
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email address.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Replaces the roles.
    pub fn with_roles<I, R>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the scopes.
    pub fn with_scopes<I, R>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the application id.
    pub fn with_app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// Sets the key id.
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// Sets the expiry.
    pub fn with_expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Says when the credential that proved it was issued ([`PrincipalData::issued_at`]).
    pub fn with_issued_at(mut self, at: SystemTime) -> Self {
        self.issued_at = Some(at);
        self
    }

    /// Adds one attribute (or claim).
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Replaces the attributes.
    pub fn with_attributes(mut self, attributes: impl Into<Attributes>) -> Self {
        self.attributes = attributes.into();
        self
    }

    /// Whether the principal has `role` (exact, case-sensitive match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the principal has `scope` (exact, case-sensitive match).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Serialized as the gateway's `whoami` shape: `id`, `kind`, `scheme`, `name`, `email`,
/// `roles`, `scopes`, `app_id`, `key_id`, `location`, `expires_at` (Unix seconds) and
/// `attributes`; absent values are `null`.
impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Principal", 11)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("kind", self.kind.as_str())?;
        let scheme = (!self.scheme.is_empty()).then_some(&*self.scheme);
        s.serialize_field("scheme", &scheme)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("email", &self.email)?;
        s.serialize_field("roles", &self.roles)?;
        s.serialize_field("scopes", &self.scopes)?;
        s.serialize_field("app_id", &self.app_id)?;
        s.serialize_field("key_id", &self.key_id)?;
        let location = self.location.as_ref().map(ToString::to_string);
        s.serialize_field("location", &location)?;
        let expires = self
            .expires_at
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        s.serialize_field("expires_at", &expires)?;
        s.serialize_field("attributes", &self.attributes)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_whoami_shape_with_nulls() {
        let p = Principal::user("alice")
            .with_scheme("basic")
            .with_roles(["admin"]);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["id"], "alice");
        assert_eq!(v["kind"], "user");
        assert_eq!(v["scheme"], "basic");
        assert_eq!(v["name"], Value::Null);
        assert_eq!(v["email"], Value::Null);
        assert_eq!(v["roles"], serde_json::json!(["admin"]));
    }

    #[test]
    fn location_display() {
        let h = CredentialLocation::Header(http::HeaderName::from_static("x-auth-token"));
        assert_eq!(h.to_string(), "header:x-auth-token");
        assert_eq!(
            CredentialLocation::Query("jwt".into()).to_string(),
            "query:jwt"
        );
    }
}
