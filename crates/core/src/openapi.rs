//! What a layer accepts, as OpenAPI security schemes and requirements for `utoipa`
//! documents (feature `openapi`): the router documents its authentication from the layers
//! themselves, never by repeating it.
//!
//! [`SecurityDoc::of`] reads a layer's [`Scheme::requirements`]: each way a request can
//! satisfy the layer becomes one security requirement (OpenAPI: any one of the list), and
//! the credentials a way needs together (the access pair, a signed request's app id and
//! token) are one requirement object (all of them). Each credential slot is one scheme:
//!
//! | slot | security scheme | name |
//! |---|---|---|
//! | `Authorization: Basic` | `http`, `basic` | `basic` |
//! | `Authorization: Bearer` | `http`, `bearer` ([`bearer_format`](SecurityDoc::bearer_format)) | `bearer` |
//! | `Authorization: Negotiate` | `http`, `negotiate` | `negotiate` |
//! | a named header | `apiKey` in `header` | `header.<name>` |
//! | a query parameter | `apiKey` in `query` | `query.<name>` |
//! | a cookie | `apiKey` in `cookie` | `cookie.<name>` |
//!
//! A WebSocket subprotocol entry has no OpenAPI form: a way that needs one is left out.
//! Names can be changed with [`rename`](SecurityDoc::rename).
//!
//! ```
//! use tower_authn_core::openapi::SecurityDoc;
//! use tower_authn_core::{BasicAuthLayer, HeaderTokenLayer, SharedTokenVerifier};
//! # use tower_authn_core::{credential::BasicCredentials, AuthError, Principal};
//! # async fn users(_: BasicCredentials) -> Result<Principal, AuthError> { Ok(Principal::user("u")) }
//! use utoipa::openapi::{HttpMethod, OpenApiBuilder, PathItem, Paths, path::OperationBuilder};
//!
//! let layer = BasicAuthLayer::new(users)
//!     .or(HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver")).with_query("token"));
//! let mut doc = OpenApiBuilder::new()
//!     .paths(Paths::builder().path("/whoami", PathItem::new(HttpMethod::Get, OperationBuilder::new())))
//!     .build();
//! SecurityDoc::of(&layer).apply(&mut doc, &["/whoami"]);
//! let json = serde_json::to_value(&doc).unwrap();
//! assert_eq!(json["components"]["securitySchemes"]["header.x-auth-token"]["in"], "header");
//! assert_eq!(json["paths"]["/whoami"]["get"]["security"].as_array().unwrap().len(), 3);
//! ```

use std::fmt;

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, OpenApi};

use crate::authn::AuthnLayer;
use crate::scheme::{CredentialSlot, Scheme};

/// The security schemes and requirements of one layer (module docs).
#[derive(Clone)]
pub struct SecurityDoc {
    /// Every scheme a requirement names, by name, in the order first needed.
    schemes: Vec<(String, SecurityScheme)>,
    /// The ways to satisfy the layer: each a list of scheme names needed together.
    ways: Vec<Vec<String>>,
}

impl fmt::Debug for SecurityDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.schemes.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("SecurityDoc")
            .field("schemes", &names)
            .field("requirements", &self.ways)
            .finish()
    }
}

/// The OpenAPI scheme of `slot` and its name; `None` when OpenAPI cannot say it.
fn describe(slot: &CredentialSlot) -> Option<(String, SecurityScheme)> {
    let http = |scheme| SecurityScheme::Http(Http::new(scheme));
    Some(match slot {
        CredentialSlot::Authorization("basic") => ("basic".to_owned(), http(HttpAuthScheme::Basic)),
        CredentialSlot::Authorization("bearer") => {
            ("bearer".to_owned(), http(HttpAuthScheme::Bearer))
        }
        CredentialSlot::Authorization("negotiate") => {
            ("negotiate".to_owned(), http(HttpAuthScheme::Negotiate))
        }
        CredentialSlot::Header(name) => (
            format!("header.{name}"),
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(name.as_str()))),
        ),
        CredentialSlot::Query(name) => (
            format!("query.{name}"),
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new(name.as_ref()))),
        ),
        CredentialSlot::Cookie(name) => (
            format!("cookie.{name}"),
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(name.as_ref()))),
        ),
        // Another auth-scheme, a WebSocket subprotocol entry: no OpenAPI form.
        _ => return None,
    })
}

impl SecurityDoc {
    /// What `layer` accepts.
    pub fn of<Sc: Scheme>(layer: &AuthnLayer<Sc>) -> Self {
        Self::of_scheme(layer.scheme())
    }

    /// What `scheme` accepts.
    pub fn of_scheme<Sc: Scheme>(scheme: &Sc) -> Self {
        let mut requirements = Vec::new();
        scheme.requirements(&mut requirements);
        let mut doc = Self {
            schemes: Vec::new(),
            ways: Vec::new(),
        };
        for slots in requirements {
            let Some(described) = slots.iter().map(describe).collect::<Option<Vec<_>>>() else {
                continue;
            };
            let mut way = Vec::new();
            for (name, security) in described {
                if !doc.schemes.iter().any(|(n, _)| *n == name) {
                    doc.schemes.push((name.clone(), security));
                }
                way.push(name);
            }
            if !way.is_empty() && !doc.ways.contains(&way) {
                doc.ways.push(way);
            }
        }
        doc
    }

    /// Says what the Bearer token is (`JWT`, say).
    pub fn bearer_format(mut self, format: &str) -> Self {
        for (_, scheme) in &mut self.schemes {
            if let SecurityScheme::Http(http) = scheme {
                if http.scheme == HttpAuthScheme::Bearer {
                    http.bearer_format = Some(format.to_owned());
                }
            }
        }
        self
    }

    /// Names the scheme called `from` `to` instead (both in the schemes and the
    /// requirements).
    pub fn rename(mut self, from: &str, to: &str) -> Self {
        for (name, _) in &mut self.schemes {
            if name == from {
                to.clone_into(name);
            }
        }
        for way in &mut self.ways {
            for name in way.iter_mut().filter(|n| *n == from) {
                to.clone_into(name);
            }
        }
        self
    }

    /// The schemes, by name.
    pub fn schemes(&self) -> &[(String, SecurityScheme)] {
        &self.schemes
    }

    /// The security requirements: any one of them satisfies the layer.
    pub fn requirements(&self) -> Vec<SecurityRequirement> {
        self.ways
            .iter()
            .map(|way| {
                way.iter()
                    .fold(SecurityRequirement::default(), |req, name| {
                        req.add::<_, [&str; 0], &str>(name.as_str(), [])
                    })
            })
            .collect()
    }

    /// Adds the schemes to `components`.
    pub fn add_schemes(&self, components: &mut Components) {
        for (name, scheme) in &self.schemes {
            components.add_security_scheme(name.as_str(), scheme.clone());
        }
    }

    /// Sets the requirements on `operation`.
    pub fn apply_to(&self, operation: &mut Operation) {
        operation.security = Some(self.requirements());
    }

    /// Adds the schemes to `openapi`'s components and sets the requirements on every
    /// operation of `paths` (paths the document does not have are left alone).
    pub fn apply(&self, openapi: &mut OpenApi, paths: &[&str]) {
        self.add_schemes(openapi.components.get_or_insert_with(Components::new));
        for path in paths {
            let Some(item) = openapi.paths.paths.get_mut(*path) else {
                continue;
            };
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                self.apply_to(operation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{AccessPair, BasicCredentials, TokenCredential};
    use crate::{
        AccessSecretLayer, AuthError, BasicAuthLayer, HeaderTokenLayer, Principal, QueryTokenLayer,
    };

    async fn user(_: BasicCredentials) -> Result<Principal, AuthError> {
        Ok(Principal::user("u"))
    }
    async fn token(_: TokenCredential) -> Result<Principal, AuthError> {
        Ok(Principal::server("s"))
    }
    async fn pair(_: AccessPair) -> Result<Principal, AuthError> {
        Ok(Principal::app("a"))
    }

    fn json(doc: &SecurityDoc) -> serde_json::Value {
        serde_json::to_value(doc.requirements()).unwrap()
    }

    #[test]
    fn any_of_is_a_list_and_a_pair_is_one_requirement() {
        let layer = BasicAuthLayer::new(user)
            .or(HeaderTokenLayer::bearer(token))
            .or(AccessSecretLayer::new(pair));
        let doc = SecurityDoc::of(&layer).bearer_format("JWT");
        assert_eq!(
            json(&doc),
            serde_json::json!([
                {"basic": []},
                {"bearer": []},
                {"header.accesstoken": [], "header.accesssecret": []}
            ])
        );
        let bearer = doc.schemes().iter().find(|(n, _)| n == "bearer").unwrap();
        assert_eq!(
            serde_json::to_value(&bearer.1).unwrap(),
            serde_json::json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
        );
    }

    #[test]
    fn all_of_is_the_product_and_an_optional_side_may_be_absent() {
        let both = HeaderTokenLayer::new("X-A", token)
            .with_query("a")
            .and(QueryTokenLayer::new("b", token));
        assert_eq!(
            json(&SecurityDoc::of(&both)),
            serde_json::json!([
                {"header.x-a": [], "query.b": []},
                {"query.a": [], "query.b": []}
            ])
        );
        let optional =
            HeaderTokenLayer::new("X-A", token).and(QueryTokenLayer::new("b", token).optional());
        assert_eq!(
            json(&SecurityDoc::of(&optional)),
            serde_json::json!([{"header.x-a": [], "query.b": []}, {"header.x-a": []}])
        );
    }

    #[test]
    fn a_subprotocol_way_is_left_out_and_names_can_change() {
        let layer = HeaderTokenLayer::new("X-Auth-Token", token)
            .with_subprotocol()
            .with_cookie("sid");
        let doc = SecurityDoc::of(&layer).rename("header.x-auth-token", "token");
        assert_eq!(
            json(&doc),
            serde_json::json!([{"token": []}, {"cookie.sid": []}])
        );
        assert!(format!("{doc:?}").contains("cookie.sid"));
    }
}
