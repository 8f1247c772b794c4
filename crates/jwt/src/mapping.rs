//! [`ClaimsMapping`]: how verified claims become a [`Principal`].
//!
//! Claim names are taken literally, dots included (`https://example.com/roles` is one claim),
//! unless a nested path is asked for with [`ClaimPath::nested`]. Every claim is also kept
//! verbatim in [`Principal::attributes`](tower_authn_core::PrincipalData::attributes).
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

use crate::claims::{Claim, ClaimIndex, ClaimName, Claims};
use crate::compact::Failure;

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

    /// The claim at this path, among claims looked up by name (`slot`: where its top-level
    /// claim was picked, if known).
    fn find<'a, C: Claims>(&self, claims: &'a C, slot: Option<usize>) -> Option<Claim<'a>> {
        match self {
            Self::Name(name) => claims.claim_in(slot, name),
            Self::Nested(path) => {
                let (first, rest) = path.split_first()?;
                let top = claims.claim_in(slot, first)?.as_value()?;
                rest.iter()
                    .try_fold(top, |v, seg| v.as_object()?.get(seg))
                    .map(Claim::Value)
            }
        }
    }

    /// The top-level claim the path starts at.
    fn top(&self) -> Option<&str> {
        match self {
            Self::Name(name) => Some(name),
            Self::Nested(path) => path.first().map(String::as_str),
        }
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
fn text(claim: Claim<'_>) -> Option<String> {
    match claim {
        Claim::Str(s) if !s.is_empty() => Some(s.to_owned()),
        Claim::Value(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Claim::Value(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Claim::Str(_) | Claim::Strs(_) | Claim::Value(_) => None,
    }
}

/// A string or an array of strings; `split` splits strings on whitespace (OAuth `scope`).
fn list(claim: Claim<'_>, split: bool, out: &mut Vec<String>) {
    let mut push = |s: &str| {
        if split {
            out.extend(s.split_whitespace().map(str::to_owned));
        } else if !s.is_empty() {
            out.push(s.to_owned());
        }
    };
    match claim {
        Claim::Str(s) => push(s),
        Claim::Value(Value::String(s)) => push(s),
        Claim::Strs(items) => items.iter().for_each(|s| push(s)),
        Claim::Value(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(push),
        Claim::Value(_) => {}
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
        let mut principal = self.build(&ClaimIndex::new(claims), &[], None)?;
        principal.attributes = claims.clone().into();
        Ok(principal)
    }

    /// [`principal`](Self::principal) taking the claims by value: they move into
    /// `attributes` instead of being copied there.
    ///
    /// # Errors
    ///
    /// As [`principal`](Self::principal).
    pub fn principal_from_claims(
        &self,
        claims: Map<String, Value>,
    ) -> Result<Principal, AuthError> {
        let mut principal = self.build(&ClaimIndex::new(&claims), &[], None)?;
        principal.attributes = claims.into();
        Ok(principal)
    }

    /// The paths the mapping reads, in the order [`build`](Self::build) looks them up.
    fn paths(&self) -> impl Iterator<Item = &ClaimPath> {
        let one = [&self.name, &self.email_verified, &self.email, &self.app_id];
        std::iter::once(&self.subject)
            .chain(one.into_iter().flatten())
            .chain(&self.roles)
            .chain(&self.scopes)
    }

    /// The top-level claims the mapping's paths read (repeats possible). `exp`, which
    /// [`build`](Self::build) reads too, is among the rules' claims
    /// ([`REGISTERED`](crate::claims::REGISTERED)), which a verifier picks first.
    pub(crate) fn claim_names(&self) -> impl Iterator<Item = &str> {
        self.paths().filter_map(ClaimPath::top)
    }

    /// Where each path starts among `names` (what a verifier picks), in the order of
    /// [`paths`](Self::paths): found once per verifier, so that [`build`](Self::build) reads
    /// a slot instead of searching the names.
    pub(crate) fn slots(&self, names: &[ClaimName]) -> Box<[Option<usize>]> {
        self.paths()
            .map(|p| {
                p.top()
                    .and_then(|top| names.iter().position(|n| n.name() == top))
            })
            .collect()
    }

    /// The principal of verified claims whose token named `key_id`, without attributes
    /// (the caller moves the claims there). `slots` are where the paths start among picked
    /// claims ([`slots`](Self::slots); empty for a map). Every field is set through one
    /// mutable borrow of the new principal's data.
    pub(crate) fn build<C: Claims>(
        &self,
        claims: &C,
        slots: &[Option<usize>],
        key_id: Option<String>,
    ) -> Result<Principal, Failure> {
        // Looked up in the order of `paths`, each with its slot.
        let mut slots = slots.iter().copied();
        let mut find = |path: &ClaimPath| path.find(claims, slots.next().flatten());
        let id = find(&self.subject)
            .and_then(text)
            .ok_or(Failure::Invalid("jwt: no subject claim"))?;
        let name = self.name.as_ref().and_then(&mut find);
        let email_verified = self.email_verified.as_ref().and_then(&mut find);
        let email = self.email.as_ref().and_then(&mut find);
        let app_id = self.app_id.as_ref().and_then(&mut find);

        let mut principal = Principal::new(self.kind, id);
        let data = &mut *principal;
        data.scheme = self.scheme.clone();
        data.key_id = key_id;
        data.name = name.and_then(Claim::as_str).map(str::to_owned);
        let verified = self.email_verified.is_none()
            || email_verified.is_some_and(|v| {
                matches!(v, Claim::Value(Value::Bool(true))) || v.as_str() == Some("true")
            });
        if verified {
            data.email = email.and_then(Claim::as_str).map(str::to_owned);
        }
        data.app_id = app_id.and_then(text);
        for path in &self.roles {
            if let Some(v) = find(path) {
                list(v, false, &mut data.roles);
            }
        }
        for path in &self.scopes {
            if let Some(v) = find(path) {
                list(v, true, &mut data.scopes);
            }
        }
        let [exp, ..] = claims.registered();
        data.expires_at = exp
            .and_then(Claim::as_value)
            .and_then(Value::as_u64)
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)));
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

    /// The principal built from the claims picked out of their JSON, with the slots a
    /// verifier finds, must be the one built from their map.
    fn same_from_picked(m: &ClaimsMapping, claims: &Value) {
        use crate::claims::{Picked, REGISTERED, unique_names};
        let names = unique_names(REGISTERED.into_iter().chain(m.claim_names()));
        let slots = m.slots(&names);
        let json = claims.to_string();
        let mut picked = Picked::wanting(&names).unwrap();
        assert!(picked.parse(&json));
        let from_map = m.build(&ClaimIndex::new(claims.as_object().unwrap()), &[], None);
        let from_picked = m.build(&picked, &slots, None);
        assert_eq!(from_map, from_picked, "{json}");
    }

    #[test]
    fn picked_claims_map_as_the_map_does() {
        let mappings = [
            ClaimsMapping::new(),
            ClaimsMapping::new()
                .with_subject("uuid")
                .with_email_verified("email_verified")
                .with_app_id("azp")
                .with_roles(["role", "https://example.com/roles", "sub"])
                .with_scopes([
                    ClaimPath::nested(["realm_access", "scopes"]),
                    "scope".into(),
                ]),
            ClaimsMapping::new()
                .with_subject(ClaimPath::nested(["a", "b"]))
                .with_name("exp")
                .without_roles()
                .without_scopes(),
        ];
        let claims = [
            json!({"sub": "alice", "name": "Alice", "email": "a@x", "roles": ["r", 1], "scope": "a b", "scp": ["c"], "exp": 17}),
            json!({"uuid": 42, "email": "a@x", "email_verified": true, "azp": "app", "role": "User",
                   "https://example.com/roles": ["admin"], "realm_access": {"scopes": "read write"}, "scope": ["x"]}),
            json!({"uuid": "u", "email": "a@x", "email_verified": "true", "sub": "s"}),
            json!({"uuid": "u", "email": "a@x", "email_verified": false}),
            json!({"a": {"b": "nested"}, "exp": 5, "name": "n"}),
            json!({"a": "flat", "sub": ""}),
            json!({}),
        ];
        for m in &mappings {
            for c in &claims {
                same_from_picked(m, c);
            }
        }
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
