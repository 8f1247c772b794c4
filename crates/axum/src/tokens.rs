//! A generic token service for servers that are not a platform preset: log in with a
//! password, refresh with rotation, check (renew), log out. Answers have OAuth 2.0's shape
//! (RFC 6749 §5.1); failures the suite's `{"error", "message"}`.
//!
//! | route | request | answer |
//! |---|---|---|
//! | `POST /login` | JSON or form `username`, `password`, or `Authorization: Basic` | `{access_token, token_type: "Bearer", expires_in, refresh_token, refresh_expires_in}` |
//! | `POST /refresh` | JSON or form `refresh_token` | a new pair; the old refresh token is spent, and presenting it again revokes its family |
//! | `GET /check` | `Authorization: Bearer <access token>` | a renewed pair without refresh token (the old token lives until it expires) |
//! | `POST /logout` | `token` (access or refresh, RFC 7009) | 200; a refresh token revokes its family |
//!
//! Nest it under any prefix: `Router::new().nest("/auth", tokens::router(..))`.
//!
//! ```
//! use axum::Router;
//! use tower_authn_axum::tokens;
//! use tower_authn_core::issue::{OpaqueTokenIssuer, RefreshTokens};
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::UserStoreExt;
//!
//! let users = MemoryUserStore::new();
//! let keys = MemoryKeyStore::new();
//! let access = OpaqueTokenIssuer::new(keys.clone());
//! let app: Router = Router::new().nest(
//!     "/auth",
//!     tokens::router(users.password_verifier(), access.clone(), access.verifier(), RefreshTokens::new(keys)),
//! );
//! # let _ = app;
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::{AuthError, HeaderTokenLayer, JsonErrors, KeyStore, Principal, Verifier};

use crate::login::{FieldError, LoginError, LoginFields, parse_login, refresh_token_field};
use crate::reply::{failure, json_reply, read_body, unsupported_media_type};
use tower_authn_core::issue::{IssuedToken, TokenIssuer};
use tower_authn_core::issue::{RefreshGrant, RefreshTokens};

struct Service<V, I, K> {
    passwords: V,
    issuer: I,
    refresh: RefreshTokens<K>,
}

/// `415`: the body is neither `application/json` nor a form.
pub(crate) fn unsupported() -> Response {
    unsupported_media_type(&serde_json::json!({
        "error": "unsupported_media_type",
        "message": "The body must be application/json or application/x-www-form-urlencoded.",
    }))
}

/// The login of a JSON-answering route: the body read (413), its credentials parsed as
/// `fields` says; a client mistake is the answer, in the [`JsonErrors`] shape (400, 401
/// without credentials, 415).
pub(crate) async fn read_login(
    headers: &HeaderMap,
    body: Body,
    fields: LoginFields,
) -> Result<BasicCredentials, Response> {
    let body = read_body(body)
        .await
        .map_err(|e| failure(&JsonErrors, &e))?;
    parse_login(headers, &body, fields).map_err(|e| match e {
        LoginError::Missing => failure(&JsonErrors, &AuthError::missing()),
        LoginError::UnsupportedMediaType => unsupported(),
        e => failure(&JsonErrors, &AuthError::malformed(e.to_string())),
    })
}

/// The routes `/login`, `/refresh`, `/check` and `/logout`: `passwords` checks logins,
/// `issuer` issues access tokens, `tokens` verifies them on `/check`, `refresh` keeps the
/// refresh-token families.
pub fn router<V, I, C, K>(passwords: V, issuer: I, tokens: C, refresh: RefreshTokens<K>) -> Router
where
    V: Verifier<BasicCredentials>,
    I: TokenIssuer + Clone,
    C: Verifier<TokenCredential>,
    K: KeyStore + Clone,
{
    let logout = crate::revocation::router("/logout", issuer.clone(), refresh.clone());
    let bearer = HeaderTokenLayer::bearer(tokens);
    Router::new()
        .route("/login", post(login::<V, I, K>))
        .route("/refresh", post(refresh_pair::<V, I, K>))
        .route("/check", get(check::<V, I, K>).route_layer(bearer))
        .with_state(Arc::new(Service {
            passwords,
            issuer,
            refresh,
        }))
        .merge(logout)
}

fn access_fields(token: &IssuedToken) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("access_token".into(), Value::from(token.expose()));
    m.insert("token_type".into(), Value::from("Bearer"));
    m.insert("expires_in".into(), Value::from(token.ttl_secs()));
    m
}

async fn pair<V, I: TokenIssuer, K>(
    service: &Service<V, I, K>,
    grant: &RefreshGrant,
) -> Result<Response, AuthError> {
    use secrecy::ExposeSecret as _;
    let access = service
        .issuer
        .issue(&grant.principal, Some(&grant.family))
        .await?;
    let mut body = access_fields(&access);
    body.insert(
        "refresh_token".into(),
        Value::from(grant.token.expose_secret()),
    );
    let left = grant
        .expires_at
        .duration_since(std::time::SystemTime::now())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    body.insert("refresh_expires_in".into(), Value::from(left));
    Ok(json_reply(StatusCode::OK, &Value::Object(body)))
}

async fn login<V, I, K>(
    State(service): State<Arc<Service<V, I, K>>>,
    headers: HeaderMap,
    body: Body,
) -> Response
where
    V: Verifier<BasicCredentials>,
    I: TokenIssuer,
    K: KeyStore + Clone,
{
    let credentials = match read_login(&headers, body, LoginFields::GENERIC).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let result = async {
        let principal = service.passwords.verify(credentials).await?;
        let grant = service.refresh.start(&principal).await?;
        pair(&service, &grant).await
    };
    result.await.unwrap_or_else(|e| failure(&JsonErrors, &e))
}

async fn refresh_pair<V, I, K>(
    State(service): State<Arc<Service<V, I, K>>>,
    headers: HeaderMap,
    body: Body,
) -> Response
where
    V: Verifier<BasicCredentials>,
    I: TokenIssuer,
    K: KeyStore + Clone,
{
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return failure(&JsonErrors, &e),
    };
    let token = match refresh_token_field(&headers, &body) {
        Ok(t) => t,
        Err(FieldError::UnsupportedType) => return unsupported(),
        Err(FieldError::Missing) => {
            return failure(
                &JsonErrors,
                &AuthError::malformed("refresh_token is required"),
            );
        }
    };
    let result = async {
        let grant = service.refresh.rotate(&token).await?;
        pair(&service, &grant).await
    };
    result.await.unwrap_or_else(|e| failure(&JsonErrors, &e))
}

async fn check<V, I, K>(
    State(service): State<Arc<Service<V, I, K>>>,
    principal: Principal,
) -> Response
where
    I: TokenIssuer,
{
    match service.issuer.issue(&principal, None).await {
        Ok(token) => json_reply(StatusCode::OK, &Value::Object(access_fields(&token))),
        Err(e) => failure(&JsonErrors, &e),
    }
}

#[cfg(test)]
mod tests {
    use http::Request;
    use serde_json::json;
    use tower::ServiceExt;
    use tower_authn_core::UserStoreExt;
    use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};

    use super::*;
    use tower_authn_core::issue::OpaqueTokenIssuer;

    fn app() -> Router {
        let users = MemoryUserStore::new();
        users
            .add_user("alice", "wonderland", |u| u.with_roles(["admin"]))
            .expect("hash");
        let keys = MemoryKeyStore::new();
        let access = OpaqueTokenIssuer::new(keys.clone());
        let api = Router::new().route(
            "/whoami",
            get(|p: Principal| async move { p.into_id() })
                .route_layer(HeaderTokenLayer::bearer(access.verifier())),
        );
        Router::new()
            .nest(
                "/auth",
                router(
                    users.password_verifier(),
                    access.clone(),
                    access.verifier(),
                    RefreshTokens::new(keys),
                ),
            )
            .merge(api)
    }

    async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
        let res = app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn post(path: &str, ct: &str, body: &str) -> Request<Body> {
        Request::post(path)
            .header("content-type", ct)
            .body(Body::from(body.to_owned()))
            .expect("request")
    }

    fn bearer(path: &str, token: &str) -> Request<Body> {
        Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn login_refresh_check_logout() {
        let app = app();
        let (status, pair) = call(
            &app,
            post(
                "/auth/login",
                "application/json",
                r#"{"username":"alice","password":"wonderland"}"#,
            ),
        )
        .await;
        assert_eq!(status, 200, "{pair}");
        assert_eq!(pair["token_type"], "Bearer");
        assert!(pair["expires_in"].as_u64().is_some_and(|s| s > 0));
        let access = pair["access_token"].as_str().expect("access").to_owned();
        let first = pair["refresh_token"].as_str().expect("refresh").to_owned();
        assert_eq!(call(&app, bearer("/whoami", &access)).await.0, 200);

        // Form and Basic logins too.
        let form = post(
            "/auth/login",
            "application/x-www-form-urlencoded",
            "username=alice&password=wonderland",
        );
        assert_eq!(call(&app, form).await.0, 200);
        let basic = Request::post("/auth/login")
            .header("authorization", "Basic YWxpY2U6d29uZGVybGFuZA==")
            .body(Body::empty())
            .expect("request");
        assert_eq!(call(&app, basic).await.0, 200);

        // Check renews the access token.
        let (status, renewed) = call(&app, bearer("/auth/check", &access)).await;
        assert_eq!(status, 200);
        assert_ne!(renewed["access_token"], pair["access_token"]);
        assert!(renewed.get("refresh_token").is_none());

        // Refresh rotates; the spent token is refused and its reuse revokes the family.
        let (status, next) = call(
            &app,
            post(
                "/auth/refresh",
                "application/json",
                &json!({"refresh_token": first}).to_string(),
            ),
        )
        .await;
        assert_eq!(status, 200);
        let second = next["refresh_token"].as_str().expect("refresh").to_owned();
        let reuse = call(
            &app,
            post(
                "/auth/refresh",
                "application/json",
                &json!({"refresh_token": first}).to_string(),
            ),
        )
        .await;
        assert_eq!(reuse.0, 401);
        let newest = call(
            &app,
            post(
                "/auth/refresh",
                "application/x-www-form-urlencoded",
                &format!("refresh_token={second}"),
            ),
        )
        .await;
        assert_eq!(newest.0, 401, "the whole family is revoked");

        // Logout revokes an access token.
        let (status, _) = call(
            &app,
            post(
                "/auth/logout",
                "application/x-www-form-urlencoded",
                &format!("token={access}"),
            ),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(call(&app, bearer("/whoami", &access)).await.0, 401);
    }

    #[tokio::test]
    async fn failures() {
        let app = app();
        let wrong = call(
            &app,
            post(
                "/auth/login",
                "application/json",
                r#"{"username":"alice","password":"x"}"#,
            ),
        )
        .await;
        let unknown = call(
            &app,
            post(
                "/auth/login",
                "application/json",
                r#"{"username":"mallory","password":"x"}"#,
            ),
        )
        .await;
        assert_eq!(wrong.0, 401);
        assert_eq!(
            wrong, unknown,
            "an unknown user and a wrong password look the same"
        );
        assert_eq!(wrong.1["error"], "invalid_credentials");
        assert_eq!(
            call(&app, post("/auth/login", "application/json", "{"))
                .await
                .0,
            400
        );
        assert_eq!(
            call(&app, post("/auth/login", "application/json", ""))
                .await
                .0,
            401
        );
        assert_eq!(
            call(&app, post("/auth/refresh", "application/json", "{}"))
                .await
                .0,
            400
        );
        assert_eq!(
            call(&app, post("/auth/refresh", "text/plain", "x")).await.0,
            415
        );
        assert_eq!(
            call(
                &app,
                post(
                    "/auth/refresh",
                    "application/json",
                    r#"{"refresh_token":"nope"}"#
                )
            )
            .await
            .0,
            401
        );
        assert_eq!(call(&app, bearer("/auth/check", "nope")).await.0, 401);
    }
}
