//! [`ClaimsMapping`]: how verified claims become a [`Principal`].
//!
//! Claim names are taken literally, dots included (`https://example.com/roles` is one claim),
//! unless a nested path is asked for with [`ClaimPath::nested`]. Every claim is also kept
//! verbatim in [`Principal::attributes`].
//!
//! ```
//! use serde_json::json;
//! use tower_authn_jwt::{ClaimPath, ClaimsMapping};
//!
//! let mapping = ClaimsMapping::new()
//!     .with_subject("uuid")
//!     .with_roles(["role", "https://example.com/roles"])
//!     .with_scopes([ClaimPath::nested(["realm_access", "scopes"])]);
//! let claims = json!({
//!     "uuid": "2984a1ca",
//!     "role": "User",
//!     "https://example.com/roles": ["admin"],
//!     "realm_access": {"scopes": "read write"},
//! });
//! let principal = mapping.principal(claims.as_object().unwrap())?;
//! assert_eq!(principal.id, "2984a1ca");
//! assert_eq!(principal.roles, ["User", "admin"]);
//! assert_eq!(principal.scopes, ["read", "write"]);
//! assert_eq!(principal.attributes["https://example.com/roles"], json!(["admin"]));
//! # Ok::<(), tower_authn_core::AuthError>(())
//! ```

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value};
use tower_authn_core::PrincipalKind;
use tower_authn_core::{AuthError, Principal};

/// Where a claim is: one literal name (dots are part of the name), or a path into nested
/// objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimPath {
    /// A top-level claim, named literally.
    Name(String),
    /// A path through nested objects (`["realm_access", "roles"]`).
    Nested(Vec<String>),
}

impl ClaimPath {
    /// A nested path.
    pub fn nested<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::Nested(segments.into_iter().map(Into::into).collect())
    }

    /// The value at this path.
    pub fn get<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        match self {
            Self::Name(name) => claims.get(name),
            Self::Nested(path) => {
                let (first, rest) = path.split_first()?;
                rest.iter()
                    .try_fold(claims.get(first)?, |v, seg| v.as_object()?.get(seg))
            }
        }
    }

    /// [`get`](Self::get) through an index made once for several lookups.
    fn find<'a>(&self, claims: &ClaimIndex<'a>) -> Option<&'a Value> {
        match self {
            Self::Name(name) => claims.get(name),
            Self::Nested(path) => {
                let (first, rest) = path.split_first()?;
                rest.iter()
                    .try_fold(claims.get(first)?, |v, seg| v.as_object()?.get(seg))
            }
        }
    }
}

/// The top-level claims, for the several lookups a mapping makes: a small map is laid out
/// once in an array and searched by length, then bytes (a few instructions per claim), where
/// each map lookup would make a tree search of `memcmp` calls; a large one is searched in
/// the map.
struct ClaimIndex<'a> {
    map: &'a Map<String, Value>,
    few: [(&'a str, &'a Value); ClaimIndex::FEW],
    len: usize,
}

impl<'a> ClaimIndex<'a> {
    const FEW: usize = 16;

    fn new(map: &'a Map<String, Value>) -> Self {
        let mut few = [("", &Value::Null); Self::FEW];
        let len = if map.len() <= Self::FEW {
            for (slot, (name, value)) in few.iter_mut().zip(map) {
                *slot = (name.as_str(), value);
            }
            map.len()
        } else {
            0
        };
        Self { map, few, len }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        if self.map.len() > Self::FEW {
            return self.map.get(name);
        }
        let same = |claim: &str| {
            claim.len() == name.len() && claim.bytes().zip(name.bytes()).all(|(a, b)| a == b)
        };
        self.few[..self.len]
            .iter()
            .find(|(claim, _)| same(claim))
            .map(|&(_, value)| value)
    }
}

impl From<&str> for ClaimPath {
    fn from(name: &str) -> Self {
        Self::Name(name.to_owned())
    }
}

impl From<String> for ClaimPath {
    fn from(name: String) -> Self {
        Self::Name(name)
    }
}

/// How claims map to a [`Principal`].
///
/// Defaults: a user whose id is `sub`, scheme `jwt`, name from `name`, email from `email`,
/// roles from `roles`, scopes from `scope` and `scp`.
#[derive(Clone, Debug)]
pub struct ClaimsMapping {
    kind: PrincipalKind,
    scheme: Cow<'static, str>,
    subject: ClaimPath,
    name: Option<ClaimPath>,
    email: Option<ClaimPath>,
    email_verified: Option<ClaimPath>,
    roles: Vec<ClaimPath>,
    scopes: Vec<ClaimPath>,
    app_id: Option<ClaimPath>,
}

impl Default for ClaimsMapping {
    fn default() -> Self {
        Self {
            kind: PrincipalKind::User,
            scheme: Cow::Borrowed("jwt"),
            subject: "sub".into(),
            name: Some("name".into()),
            email: Some("email".into()),
            email_verified: None,
            roles: vec!["roles".into()],
            scopes: vec!["scope".into(), "scp".into()],
            app_id: None,
        }
    }
}

/// A string, or an integer written as a number (some platforms send numeric ids).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// A string or an array of strings; `split` splits strings on whitespace (OAuth `scope`).
fn list(value: &Value, split: bool, out: &mut Vec<String>) {
    let mut push = |s: &str| {
        if split {
            out.extend(s.split_whitespace().map(str::to_owned));
        } else if !s.is_empty() {
            out.push(s.to_owned());
        }
    };
    match value {
        Value::String(s) => push(s),
        Value::Array(items) => items.iter().filter_map(Value::as_str).for_each(push),
        _ => {}
    }
}

impl ClaimsMapping {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The kind of principal (default: user).
    pub fn with_kind(mut self, kind: PrincipalKind) -> Self {
        self.kind = kind;
        self
    }

    /// The scheme name recorded on the principal (default `jwt`).
    pub fn with_scheme(mut self, scheme: impl Into<Cow<'static, str>>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// The claim holding the principal id: `sub`, `identifier`, `uuid`, ... A string or an
    /// integer; a token without it is refused.
    pub fn with_subject(mut self, claim: impl Into<ClaimPath>) -> Self {
        self.subject = claim.into();
        self
    }

    /// The display-name claim.
    pub fn with_name(mut self, claim: impl Into<ClaimPath>) -> Self {
        self.name = Some(claim.into());
        self
    }

    /// The email claim.
    pub fn with_email(mut self, claim: impl Into<ClaimPath>) -> Self {
        self.email = Some(claim.into());
        self
    }

    /// Keeps the email only when this claim is `true` (Google's `email_verified`).
    pub fn with_email_verified(mut self, claim: impl Into<ClaimPath>) -> Self {
        self.email_verified = Some(claim.into());
        self
    }

    /// Claims whose values (a string, or an array of strings) are roles.
    pub fn with_roles<I, P>(mut self, claims: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<ClaimPath>,
    {
        self.roles = claims.into_iter().map(Into::into).collect();
        self
    }

    /// Takes no roles from the claims.
    pub fn without_roles(mut self) -> Self {
        self.roles.clear();
        self
    }

    /// Takes no scopes from the claims.
    pub fn without_scopes(mut self) -> Self {
        self.scopes.clear();
        self
    }

    /// Claims whose values (a space-separated string, or an array of strings) are scopes.
    pub fn with_scopes<I, P>(mut self, claims: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<ClaimPath>,
    {
        self.scopes = claims.into_iter().map(Into::into).collect();
        self
    }

    /// The claim holding the application id (`azp`, `client_id`, ...).
    pub fn with_app_id(mut self, claim: impl Into<ClaimPath>) -> Self {
        self.app_id = Some(claim.into());
        self
    }

    /// The scheme name.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Builds the principal from verified claims. `expires_at` comes from `exp`; every claim
    /// is kept in `attributes`.
    ///
    /// # Errors
    ///
    /// [`AuthError::invalid`] when the subject claim is missing or not a string or integer.
    pub fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, AuthError> {
        self.build(Cow::Borrowed(claims), None)
    }

    /// [`principal`](Self::principal) taking the claims by value: they move into
    /// `attributes` instead of being copied there. What the verifiers use.
    ///
    /// # Errors
    ///
    /// As [`principal`](Self::principal).
    pub fn principal_from_claims(
        &self,
        claims: Map<String, Value>,
    ) -> Result<Principal, AuthError> {
        self.build(Cow::Owned(claims), None)
    }

    /// The principal of verified claims whose token named `key_id` (owned claims move into
    /// `attributes`, borrowed ones are copied). Every field is set through one mutable
    /// borrow of the new principal's data.
    pub(crate) fn build(
        &self,
        claims: Cow<'_, Map<String, Value>>,
        key_id: Option<String>,
    ) -> Result<Principal, AuthError> {
        let index = ClaimIndex::new(&claims);
        let id = self
            .subject
            .find(&index)
            .and_then(text)
            .ok_or_else(|| AuthError::invalid("jwt: no subject claim"))?;
        let mut principal = Principal::new(self.kind, id);
        let data = &mut *principal;
        data.scheme = self.scheme.clone();
        data.key_id = key_id;
        let get = |path: &Option<ClaimPath>| path.as_ref().and_then(|p| p.find(&index));
        data.name = get(&self.name).and_then(Value::as_str).map(str::to_owned);
        let verified = self.email_verified.as_ref().is_none_or(|p| {
            p.find(&index)
                .is_some_and(|v| v == &Value::Bool(true) || v == "true")
        });
        if verified {
            data.email = get(&self.email).and_then(Value::as_str).map(str::to_owned);
        }
        data.app_id = get(&self.app_id).and_then(text);
        for path in &self.roles {
            if let Some(v) = path.find(&index) {
                list(v, false, &mut data.roles);
            }
        }
        for path in &self.scopes {
            if let Some(v) = path.find(&index) {
                list(v, true, &mut data.scopes);
            }
        }
        data.expires_at = index
            .get("exp")
            .and_then(Value::as_u64)
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)));
        data.attributes = claims.into_owned();
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn defaults() {
        let p = ClaimsMapping::new()
            .principal(&map(json!({
                "sub": "alice", "name": "Alice", "email": "a@example.com",
                "roles": ["admin", 7, "user"], "scope": "read  write", "scp": ["x"], "exp": 1_700_000_000u64,
            })))
            .unwrap();
        assert_eq!(p.id, "alice");
        assert_eq!(p.scheme, "jwt");
        assert_eq!(p.name.as_deref(), Some("Alice"));
        assert_eq!(p.email.as_deref(), Some("a@example.com"));
        assert_eq!(p.roles, ["admin", "user"]);
        assert_eq!(p.scopes, ["read", "write", "x"]);
        assert_eq!(
            p.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(p.attributes["sub"], "alice");
    }

    #[test]
    fn subject_rules() {
        let m = ClaimsMapping::new().with_subject("identifier");
        assert_eq!(
            m.principal(&map(json!({"identifier": 42}))).unwrap().id,
            "42"
        );
        for bad in [
            json!({}),
            json!({"identifier": ""}),
            json!({"identifier": 1.5}),
            json!({"identifier": ["a"]}),
            json!({"sub": "a"}),
        ] {
            assert!(m.principal(&map(bad)).is_err());
        }
    }

    #[test]
    fn dotted_names_are_literal() {
        let m = ClaimsMapping::new().with_subject("a.b");
        assert_eq!(
            m.principal(&map(json!({"a.b": "x", "a": {"b": "y"}})))
                .unwrap()
                .id,
            "x"
        );
        let nested = ClaimsMapping::new().with_subject(ClaimPath::nested(["a", "b"]));
        assert_eq!(
            nested
                .principal(&map(json!({"a.b": "x", "a": {"b": "y"}})))
                .unwrap()
                .id,
            "y"
        );
        assert!(nested.principal(&map(json!({"a": "b"}))).is_err());
        assert!(
            ClaimsMapping::new()
                .with_subject(ClaimPath::nested(Vec::<String>::new()))
                .principal(&map(json!({"sub": "a"})))
                .is_err()
        );
    }

    #[test]
    fn email_verified_gate() {
        let m = ClaimsMapping::new().with_email_verified("email_verified");
        let p = m
            .principal(&map(
                json!({"sub": "a", "email": "a@x", "email_verified": false}),
            ))
            .unwrap();
        assert_eq!(p.email, None);
        let p = m
            .principal(&map(
                json!({"sub": "a", "email": "a@x", "email_verified": true}),
            ))
            .unwrap();
        assert_eq!(p.email.as_deref(), Some("a@x"));
    }
}
