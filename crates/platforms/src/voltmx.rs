//! Volt MX Foundry Engagement preset: the accounts (login, refresh), OAuth access-pair and
//! app API key routes with Volt MX's request fields and answers.
//!
//! | route | request | answer |
//! |---|---|---|
//! | `POST /authService/accounts/login` | JSON or form `userid`, `password` (or Basic) | `{"profile": {email, userid, firstname, lastname}, "refresh_token", "claims_token": {"value", "exp"}}`, `exp` in ms |
//! | `POST /authService/accounts/refresh` | JSON or form `refresh_token` | a new pair in the same shape; the old refresh token is spent, and presenting it again revokes the family |
//! | `GET /api/v1/oauth/accesstoken` | Basic | `{"AccessToken", "AccessSecret"}` |
//! | `POST /api/v1/applications/key` | form or JSON `appId`, `expiresOn` (`mm/dd/yyyy hh:mm:ss`, UTC), `neverExpires`, `description` (≤ 100 chars) | `{"id": "<the new key>", "message"}` (the only time the key is shown) |
//! | `GET /api/v1/applications/key?appId=` | | `{"status": 200, "result": [details...]}`, keys masked |
//! | `GET /api/v1/applications/key/{key}` | | `{"status": 200, "result": {appAPIKey (masked), appId, description, neverExpires, createdOn, updatedOn, expiresOn}}` |
//! | `POST /api/v1/applications/key/{key}` | `expiresOn`, `neverExpires`, `description`, `regenerate` | `{"id", "message"}`: the new key when regenerated, else masked |
//! | `DELETE /api/v1/applications/key/{key}` | | `{"id" (masked), "message"}` |
//!
//! Errors: `{"status": <http status>, "code": "<stable code>", "message": "<text>"}`; an
//! unknown app key is 400 (`not_found`), as Volt MX answers. The claims token goes in
//! `X-VoltMX-Authorization` ([`claims_layer`]); the access pair in `AccessToken` +
//! `AccessSecret` (`AccessSecretLayer`). The app-key routes carry no auth of their own:
//! add a `route_layer`, such as `claims_layer(..).require(Requirement::role("admin"))`.
//!
//! ```
//! use axum::Router;
//! use tower_authn_core::issue::{AccessPairs, AppKeys, OpaqueTokenIssuer, RefreshTokens};
//! use tower_authn_platforms::voltmx;
//! use tower_authn_core::memory::{MemoryKeyStore, MemoryUserStore};
//! use tower_authn_core::{Requirement, UserStoreExt};
//!
//! let (users, keys) = (MemoryUserStore::new(), MemoryKeyStore::new());
//! let claims = OpaqueTokenIssuer::new(keys.clone()).scheme("claims");
//! let admin = voltmx::claims_layer(claims.verifier()).require(Requirement::role("admin"));
//! let app: Router = Router::new()
//!     .merge(voltmx::accounts_router(users.password_verifier(), claims.clone(), RefreshTokens::new(keys.clone())))
//!     .merge(voltmx::oauth_router(users.password_verifier(), AccessPairs::new(keys.clone())))
//!     .merge(voltmx::app_keys_router(AppKeys::new(keys.clone())).route_layer(admin));
//! # let _ = app;
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use tower_authn_core::credential::{BasicCredentials, TokenCredential};
use tower_authn_core::respond::json_response;
use tower_authn_core::{
    AppApiKeyLayer, AuthError, BasicAuthLayer, DeviceTokenLayer, ErrorKind, ErrorResponder,
    HeaderTokenLayer, KeyRecord, KeyStore, Principal, Verifier,
};

use tower_authn_axum::login::{
    BodyKind, FieldError, LoginFields, body_kind, json_object, parse_login, refresh_token_field,
};
use tower_authn_axum::reply::{failure, json_reply, read_body};
use tower_authn_core::issue::{
    AccessPairs, AppKeys, Expiry, KeyChanges, RefreshGrant, RefreshTokens, TokenIssuer,
};

use crate::split_name;

/// The login route.
pub const LOGIN_PATH: &str = "/authService/accounts/login";
/// The refresh route.
pub const REFRESH_PATH: &str = "/authService/accounts/refresh";
/// The OAuth access-pair route.
pub const ACCESS_TOKEN_PATH: &str = "/api/v1/oauth/accesstoken";
/// The app API key collection.
pub const APP_KEYS_PATH: &str = "/api/v1/applications/key";
/// The header that carries the claims token.
pub const CLAIMS_HEADER: &str = "X-VoltMX-Authorization";
/// The header that carries an app API key.
pub const APP_KEY_HEADER: &str = "X-VoltMX-App-API-Key";
/// The header that carries a device token.
pub const DEVICE_TOKEN_HEADER: &str = "X-Device-AuthToken";
/// The login request's fields: JSON or form `userid`, `password`, or Basic.
pub const LOGIN_FIELDS: LoginFields = LoginFields {
    user: "userid",
    password: "password",
    json: true,
    form: true,
    basic: true,
};

fn shape(status: StatusCode, code: &str, message: &str) -> http::Response<Bytes> {
    json_response(
        status,
        json!({ "status": status.as_u16(), "code": code, "message": message }).to_string(),
    )
}

/// The Volt MX error shape: `.responder(voltmx::Errors)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Errors;

impl ErrorResponder for Errors {
    fn respond(&self, error: &AuthError) -> http::Response<Bytes> {
        shape(error.status(), error.code(), error.message())
    }
}

fn reject(status: StatusCode, code: &str, message: &str) -> Response {
    let mut res = shape(status, code, message).map(Body::from);
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    res
}

/// `X-VoltMX-Authorization: <claims token>` with the Volt MX error shape; scheme `claims`.
pub fn claims_layer<C: Verifier<TokenCredential>>(verifier: C) -> HeaderTokenLayer<C> {
    HeaderTokenLayer::new(CLAIMS_HEADER, verifier)
        .scheme_name("claims")
        .challenge_scheme("Claims")
        .responder(Errors)
}

/// An app API key in `X-VoltMX-App-API-Key` with the Volt MX error shape.
pub fn app_key_layer<C: Verifier<TokenCredential>>(verifier: C) -> AppApiKeyLayer<C> {
    AppApiKeyLayer::new(APP_KEY_HEADER, verifier).responder(Errors)
}

/// A device token in `X-Device-AuthToken` with the Volt MX error shape.
pub fn device_token_layer<C: Verifier<TokenCredential>>(verifier: C) -> DeviceTokenLayer<C> {
    DeviceTokenLayer::new(DEVICE_TOKEN_HEADER, verifier).responder(Errors)
}

/// Volt MX's `profile`: `email`, `userid`, `firstname`, `lastname` (from the principal's
/// `firstname` / `lastname` attributes, else its name split at the first space).
pub fn profile(p: &Principal) -> Value {
    let (first, last) = split_name(p.name.as_deref());
    let attr = |k: &str| p.attributes.get(k).and_then(Value::as_str);
    json!({
        "email": p.email,
        "userid": p.id,
        "firstname": attr("firstname").or(first),
        "lastname": attr("lastname").or(last),
    })
}

struct Accounts<V, I, K> {
    passwords: V,
    claims: I,
    refresh: RefreshTokens<K>,
}

/// The login and refresh routes: `passwords` checks logins, `claims` issues the claims
/// tokens, `refresh` keeps the refresh-token families.
pub fn accounts_router<V, I, K>(passwords: V, claims: I, refresh: RefreshTokens<K>) -> Router
where
    V: Verifier<BasicCredentials>,
    I: TokenIssuer,
    K: KeyStore + Clone,
{
    Router::new()
        .route(LOGIN_PATH, post(login::<V, I, K>))
        .route(REFRESH_PATH, post(refresh_pair::<V, I, K>))
        .with_state(Arc::new(Accounts {
            passwords,
            claims,
            refresh,
        }))
}

async fn pair<V, I: TokenIssuer, K>(
    accounts: &Accounts<V, I, K>,
    grant: &RefreshGrant,
) -> Result<Response, AuthError> {
    let claims = accounts
        .claims
        .issue(&grant.principal, Some(&grant.family))
        .await?;
    Ok(json_reply(
        StatusCode::OK,
        &json!({
            "profile": profile(&grant.principal),
            "refresh_token": grant.token.expose_secret(),
            "claims_token": { "value": claims.expose(), "exp": claims.expires_at_millis() },
        }),
    ))
}

async fn login<V, I, K>(
    State(accounts): State<Arc<Accounts<V, I, K>>>,
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
        Err(e) => return failure(&Errors, &e),
    };
    let credentials = match parse_login(&headers, &body, LOGIN_FIELDS) {
        Ok(c) => c,
        Err(e) => {
            return reject(
                e.status(),
                if e.status() == 401 {
                    "missing_credentials"
                } else {
                    "invalid_request"
                },
                &e.to_string(),
            );
        }
    };
    let result = async {
        let principal = accounts.passwords.verify(credentials).await?;
        let grant = accounts.refresh.start(&principal).await?;
        pair(&accounts, &grant).await
    };
    result.await.unwrap_or_else(|e| failure(&Errors, &e))
}

/// Reads `refresh_token` from a JSON or form body.
fn refresh_field(headers: &HeaderMap, body: &[u8]) -> Result<String, Rejected> {
    refresh_token_field(headers, body).map_err(|e| {
        Box::new(match e {
            FieldError::UnsupportedType => reject(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "Unsupported content type.",
            ),
            FieldError::Missing => reject(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "refresh_token is required.",
            ),
        })
    })
}

async fn refresh_pair<V, I, K>(
    State(accounts): State<Arc<Accounts<V, I, K>>>,
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
        Err(e) => return failure(&Errors, &e),
    };
    let token = match refresh_field(&headers, &body) {
        Ok(t) => t,
        Err(res) => return *res,
    };
    let result = async {
        let grant = accounts.refresh.rotate(&token).await?;
        pair(&accounts, &grant).await
    };
    result.await.unwrap_or_else(|e| failure(&Errors, &e))
}

/// `GET /api/v1/oauth/accesstoken` with Basic credentials checked by `passwords`: issues an
/// `AccessToken` + `AccessSecret` pair from `pairs` (its store, lifetime and clock).
pub fn oauth_router<V, K>(passwords: V, pairs: AccessPairs<K>) -> Router
where
    V: Verifier<BasicCredentials>,
    K: KeyStore + Clone,
{
    let basic = BasicAuthLayer::new(passwords).responder(Errors);
    Router::new()
        .route(ACCESS_TOKEN_PATH, get(access_token::<K>).route_layer(basic))
        .with_state(Arc::new(pairs))
}

async fn access_token<K: KeyStore + Clone>(
    State(pairs): State<Arc<AccessPairs<K>>>,
    principal: Principal,
) -> Response {
    match pairs.issue(&principal).await {
        Ok(pair) => json_reply(
            StatusCode::OK,
            &json!({ "AccessToken": pair.token.expose_secret(), "AccessSecret": pair.secret.expose_secret() }),
        ),
        Err(e) => failure(&Errors, &e),
    }
}

/// The app API key routes over `keys` (no auth of their own: add a `route_layer`).
pub fn app_keys_router<K: KeyStore + Clone>(keys: AppKeys<K>) -> Router {
    Router::new()
        .route(APP_KEYS_PATH, post(add_key::<K>).get(list_keys::<K>))
        .route(
            &format!("{APP_KEYS_PATH}/{{key}}"),
            get(key_details::<K>)
                .post(modify_key::<K>)
                .delete(delete_key::<K>),
        )
        .with_state(Arc::new(keys))
}

/// A failure answer, boxed: it travels through `?` in the key handlers.
type Rejected = Box<Response>;

fn not_found() -> Rejected {
    Box::new(reject(
        StatusCode::BAD_REQUEST,
        "not_found",
        "App API key not found",
    ))
}

fn invalid(message: &str) -> Rejected {
    Box::new(reject(StatusCode::BAD_REQUEST, "invalid_request", message))
}

fn store_failure(e: &AuthError) -> Rejected {
    if e.kind() == ErrorKind::MalformedCredentials {
        // Validation failures from AppKeys: the detail is safe and useful (no secret in it).
        return invalid(e.detail());
    }
    Box::new(failure(&Errors, e))
}

/// The fields of a key request body (form or JSON), as JSON values.
fn key_fields(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Rejected> {
    match body_kind(headers, body) {
        BodyKind::Empty => Ok(Map::new()),
        BodyKind::Json => json_object(body)
            .ok_or_else(|| invalid("The body is not a JSON object, or repeats a key.")),
        BodyKind::Form => {
            let mut map = Map::new();
            for (k, v) in form_urlencoded::parse(body) {
                if map
                    .insert(k.into_owned(), Value::String(v.into_owned()))
                    .is_some()
                {
                    return Err(invalid("A form field is repeated."));
                }
            }
            Ok(map)
        }
        BodyKind::Other => Err(Box::new(reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "Unsupported content type.",
        ))),
    }
}

fn string_field(map: &Map<String, Value>, name: &str) -> Result<Option<String>, Rejected> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(&format!("{name} must be a string."))),
    }
}

fn bool_field(map: &Map<String, Value>, name: &str) -> Result<Option<bool>, Rejected> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid(&format!("{name} must be true or false."))),
    }
}

/// `neverExpires` wins over `expiresOn`, as in Volt MX. `None`: neither given.
fn expiry_fields(map: &Map<String, Value>) -> Result<Option<Expiry>, Rejected> {
    let never = bool_field(map, "neverExpires")?;
    let on = string_field(map, "expiresOn")?;
    match (never, on) {
        (Some(true), _) => Ok(Some(Expiry::Never)),
        (_, Some(text)) => match parse_voltmx_time(&text) {
            Some(t) => Ok(Some(Expiry::At(t))),
            None => Err(invalid("expiresOn must be mm/dd/yyyy hh:mm:ss.")),
        },
        (Some(false), None) => Err(invalid("expiresOn is required when neverExpires is false.")),
        (None, None) => Ok(None),
    }
}

async fn body_map(headers: &HeaderMap, body: Body) -> Result<Map<String, Value>, Rejected> {
    let body = read_body(body)
        .await
        .map_err(|e| Box::new(failure(&Errors, &e)))?;
    key_fields(headers, &body)
}

/// Volt MX's details of a key, masked.
fn details(r: &KeyRecord) -> Value {
    json!({
        "appAPIKey": r.hint.clone().unwrap_or_else(|| "********".to_owned()),
        "appId": r.principal.app_id.as_deref().unwrap_or(&r.principal.id),
        "description": r.description.as_deref().unwrap_or(""),
        "neverExpires": r.expires_at.is_none(),
        "createdOn": format_voltmx_time(r.created_at),
        "updatedOn": format_voltmx_time(r.updated_at.unwrap_or(r.created_at)),
        "expiresOn": r.expires_at.map(format_voltmx_time),
    })
}

async fn add_key<K: KeyStore + Clone>(
    State(keys): State<Arc<AppKeys<K>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let add = async {
        let map = body_map(&headers, body).await?;
        let app_id = string_field(&map, "appId")?.ok_or_else(|| invalid("appId is required."))?;
        let expiry = expiry_fields(&map)?
            .ok_or_else(|| invalid("expiresOn or neverExpires is required."))?;
        let description = string_field(&map, "description")?;
        let (_, key) = keys
            .add(&app_id, expiry, description)
            .await
            .map_err(|e| store_failure(&e))?;
        Ok::<_, Rejected>(json_reply(
            StatusCode::OK,
            &json!({ "id": key.expose_secret(), "message": "App API key added successfully" }),
        ))
    };
    add.await.unwrap_or_else(|res| *res)
}

async fn list_keys<K: KeyStore + Clone>(State(keys): State<Arc<AppKeys<K>>>, uri: Uri) -> Response {
    let mut apps = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == "appId")
                .map(|(_, v)| v.into_owned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if apps.len() > 1 {
        return *invalid("appId is repeated.");
    }
    match keys.list(apps.pop().as_deref()).await {
        Ok(records) => {
            let result: Vec<Value> = records.iter().map(details).collect();
            json_reply(StatusCode::OK, &json!({ "status": 200, "result": result }))
        }
        Err(e) => *store_failure(&e),
    }
}

fn path_key(key: Result<Path<String>, PathRejection>) -> Result<String, Rejected> {
    key.map(|Path(k)| k).map_err(|_| not_found())
}

async fn key_details<K: KeyStore + Clone>(
    State(keys): State<Arc<AppKeys<K>>>,
    key: Result<Path<String>, PathRejection>,
) -> Response {
    let key = match path_key(key) {
        Ok(k) => k,
        Err(res) => return *res,
    };
    match keys.find(&key).await {
        Ok(Some(r)) => json_reply(
            StatusCode::OK,
            &json!({ "status": 200, "result": details(&r) }),
        ),
        Ok(None) => *not_found(),
        Err(e) => failure(&Errors, &e),
    }
}

async fn modify_key<K: KeyStore + Clone>(
    State(keys): State<Arc<AppKeys<K>>>,
    key: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let modify = async {
        let key = path_key(key)?;
        let map = body_map(&headers, body).await?;
        let changes = KeyChanges {
            expiry: expiry_fields(&map)?,
            description: string_field(&map, "description")?,
            regenerate: bool_field(&map, "regenerate")?.unwrap_or(false),
        };
        let (record, fresh) = keys
            .modify(&key, changes)
            .await
            .map_err(|e| store_failure(&e))?
            .ok_or_else(not_found)?;
        let id = match &fresh {
            Some(k) => k.expose_secret().to_owned(),
            None => record.hint.unwrap_or_default(),
        };
        Ok::<_, Rejected>(json_reply(
            StatusCode::OK,
            &json!({ "id": id, "message": "App API key updated successfully" }),
        ))
    };
    modify.await.unwrap_or_else(|res| *res)
}

async fn delete_key<K: KeyStore + Clone>(
    State(keys): State<Arc<AppKeys<K>>>,
    key: Result<Path<String>, PathRejection>,
) -> Response {
    let key = match path_key(key) {
        Ok(k) => k,
        Err(res) => return *res,
    };
    match keys.delete(&key).await {
        Ok(Some(r)) => json_reply(
            StatusCode::OK,
            &json!({ "id": r.hint.unwrap_or_default(), "message": "App API key deleted successfully" }),
        ),
        Ok(None) => *not_found(),
        Err(e) => failure(&Errors, &e),
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Formats `t` as Volt MX does, `mm/dd/yyyy hh:mm:ss`, in UTC.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tower_authn_platforms::voltmx::{format_voltmx_time, parse_voltmx_time};
///
/// let t = UNIX_EPOCH + Duration::from_secs(1_408_953_838);
/// assert_eq!(format_voltmx_time(t), "08/25/2014 08:03:58");
/// assert_eq!(parse_voltmx_time("08/25/2014 08:03:58"), Some(t));
/// assert_eq!(parse_voltmx_time("2014-08-25 08:03:58"), None);
/// ```
pub fn format_voltmx_time(t: SystemTime) -> String {
    let secs = i64::try_from(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
        .unwrap_or(i64::MAX / 2);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{m:02}/{d:02}/{y:04} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Parses `mm/dd/yyyy hh:mm:ss` (UTC) strictly: two-digit fields, a real date, 24-hour time.
/// `None` for anything else. Never panics.
pub fn parse_voltmx_time(text: &str) -> Option<SystemTime> {
    let b = text.trim().as_bytes();
    if b.len() != 19
        || b[2] != b'/'
        || b[5] != b'/'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = b.get(r)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let (m, d, y) = (num(0..2)?, num(3..5)?, num(6..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || hh > 23 || mm > 59 || ss > 59 || y < 1970 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d == 0 || d > month_days[usize::try_from(m - 1).ok()?] {
        return None;
    }
    let days = days_from_civil(i64::from(y), m, d);
    let secs = u64::try_from(days * 86_400 + i64::from(hh * 3600 + mm * 60 + ss)).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn voltmx_vectors_round_trip() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/vectors/voltmx.json"
        );
        // A missing vector file fails the test: it never silently checks half.
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("the Volt MX vectors must be at {path}: {e}"));
        {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let cases = v["claims_exp_ms_to_utc"].as_object().unwrap();
            assert!(!cases.is_empty(), "no vectors in {path}");
            for (ms, iso) in cases {
                let t = UNIX_EPOCH + Duration::from_millis(ms.parse().unwrap());
                let iso = iso.as_str().unwrap();
                // 2014-08-25T08:03:58+00:00 → 08/25/2014 08:03:58
                let expected = format!(
                    "{}/{}/{} {}",
                    &iso[5..7],
                    &iso[8..10],
                    &iso[0..4],
                    &iso[11..19]
                );
                assert_eq!(format_voltmx_time(t), expected);
                assert_eq!(parse_voltmx_time(&expected), Some(t));
            }
        }
        assert_eq!(
            parse_voltmx_time("02/29/2024 00:00:00")
                .map(format_voltmx_time)
                .as_deref(),
            Some("02/29/2024 00:00:00")
        );
        for bad in [
            "02/29/2023 00:00:00",
            "13/01/2024 00:00:00",
            "1/01/2024 00:00:00",
            "01/01/2024 24:00:00",
            "",
            "01/01/2024T00:00:00",
            "０1/01/2024 00:00:00",
        ] {
            assert_eq!(parse_voltmx_time(bad), None, "{bad}");
        }
    }
}
