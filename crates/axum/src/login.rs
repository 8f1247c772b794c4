//! Reading a login request: user and password from a JSON body, a form body or
//! `Authorization: Basic`, with the field names each platform uses. Never panics; every
//! client mistake is a [`LoginError`] the preset turns into its 400 shape.
//!
//! ```
//! use http::HeaderMap;
//! use secrecy::ExposeSecret;
//! use tower_authn_axum::login::{LoginFields, parse_login};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", "application/json;charset=UTF-8;charset=UTF-8".parse().unwrap());
//! let body = br#"{"userid": "alice", "password": "wonderland"}"#;
//! let fields = LoginFields { user: "userid", ..LoginFields::GENERIC };
//! let c = parse_login(&headers, body, fields).unwrap();
//! assert_eq!((c.username.as_str(), c.password.expose_secret()), ("alice", "wonderland"));
//!
//! headers.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
//! let c = parse_login(&headers, b"userid=alice&password=won%64erland", fields).unwrap();
//! assert_eq!(c.password.expose_secret(), "wonderland");
//! ```

use std::fmt;

use http::HeaderMap;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use secrecy::SecretString;
use serde_json::Value;
use tower_authn_core::AuthError;
use tower_authn_core::credential::BasicCredentials;
use tower_authn_core::schemes::parse_basic;

/// The names of the user and password fields, and which carriers are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginFields {
    /// The user field (`login`, `userid`, `username`).
    pub user: &'static str,
    /// The password field.
    pub password: &'static str,
    /// Whether a JSON body is accepted.
    pub json: bool,
    /// Whether a form body is accepted.
    pub form: bool,
    /// Whether `Authorization: Basic` is accepted.
    pub basic: bool,
}

impl LoginFields {
    /// A generic login: JSON or form `username`, `password`, or Basic.
    pub const GENERIC: Self = Self {
        user: "username",
        password: "password",
        json: true,
        form: true,
        basic: true,
    };
}

/// Why a login request could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginError {
    /// The body is not JSON, not an object, repeats a key, or lacks a string user or
    /// password.
    InvalidJson,
    /// The form body lacks the user or password, or repeats one.
    InvalidForm,
    /// The body's content type is not one the preset accepts (only `application/json` and,
    /// where the platform takes forms, `application/x-www-form-urlencoded`; no
    /// `Content-Type` at all is not accepted either).
    UnsupportedMediaType,
    /// `Authorization: Basic` is malformed (or credentials came both in the body and Basic).
    Malformed(AuthError),
    /// No credentials at all.
    Missing,
}

impl LoginError {
    /// The HTTP status: 400 for every client mistake, 415 for an unsupported body, 401
    /// when nothing was sent.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::InvalidJson | Self::InvalidForm | Self::Malformed(_) => {
                http::StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType => http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Missing => http::StatusCode::UNAUTHORIZED,
        }
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidJson => "The body is not the expected JSON.",
            Self::InvalidForm => "The form is missing a field or repeats one.",
            Self::UnsupportedMediaType => "Unsupported content type.",
            Self::Malformed(_) => "The credentials are malformed.",
            Self::Missing => "Authentication is required.",
        })
    }
}

impl std::error::Error for LoginError {}

/// What a body is, judging by its one `Content-Type` (parameters ignored).
///
/// Only `application/json` and `application/x-www-form-urlencoded` are read; anything else
/// (`text/plain`, `multipart/form-data`, `+json` types, no `Content-Type`, or two of them)
/// is [`BodyKind::Other`], answered `415`. A body a cross-site HTML form can send as
/// `text/plain` or without a type is therefore never parsed as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body, or only whitespace.
    Empty,
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else: answer 415.
    Other,
}

/// The [`BodyKind`] of a request with `headers` and `body`.
pub fn body_kind(headers: &HeaderMap, body: &[u8]) -> BodyKind {
    if body.iter().all(u8::is_ascii_whitespace) {
        return BodyKind::Empty;
    }
    let mut types = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (types.next(), types.next()) else {
        return BodyKind::Other;
    };
    let essence = value.to_str().ok().map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    match essence.as_deref() {
        Some("application/json") => BodyKind::Json,
        Some("application/x-www-form-urlencoded") => BodyKind::Form,
        _ => BodyKind::Other,
    }
}

/// A JSON body as an object, every key distinct at every depth; `None` otherwise.
pub fn json_object(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match crate::strict_json::from_slice(body).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The string fields `names` of a JSON object body; `None` when it is not an object, repeats
/// a key, or a named field is present but not a string. Absent fields are `None` inside.
pub fn json_fields<const N: usize>(body: &[u8], names: [&str; N]) -> Option<[Option<String>; N]> {
    let mut map = json_object(body)?;
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for (slot, name) in out.iter_mut().zip(names) {
        match map.remove(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => *slot = Some(s),
            Some(_) => return None,
        }
    }
    Some(out)
}

/// The fields `names` of a form body; `None` when one is repeated.
pub fn form_fields<const N: usize>(body: &[u8], names: [&str; N]) -> Option<[Option<String>; N]> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for (k, v) in form_urlencoded::parse(body) {
        if let Some(i) = names.iter().position(|n| *n == k) {
            if out[i].is_some() {
                return None;
            }
            out[i] = Some(v.into_owned());
        }
    }
    Some(out)
}

/// Why a `refresh_token` field could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The body is neither JSON nor a form.
    UnsupportedType,
    /// The field is missing, empty, repeated, or not a string.
    Missing,
}

/// The `refresh_token` field of a JSON or form body.
pub fn refresh_token_field(headers: &HeaderMap, body: &[u8]) -> Result<String, FieldError> {
    let field = match body_kind(headers, body) {
        BodyKind::Json => json_fields(body, ["refresh_token"]).map(|[t]| t),
        BodyKind::Form => form_fields(body, ["refresh_token"]).map(|[t]| t),
        BodyKind::Empty => Some(None),
        BodyKind::Other => return Err(FieldError::UnsupportedType),
    };
    match field {
        Some(Some(t)) if !t.is_empty() => Ok(t),
        _ => Err(FieldError::Missing),
    }
}

/// Reads user and password from `body` (JSON or form, as `fields` allows) or from
/// `Authorization: Basic`.
///
/// # Errors
///
/// A [`LoginError`] for each way the request can be wrong; see its variants.
pub fn parse_login(
    headers: &HeaderMap,
    body: &[u8],
    fields: LoginFields,
) -> Result<BasicCredentials, LoginError> {
    let basic = if fields.basic {
        let mut lines = headers.get_all(AUTHORIZATION).iter();
        match (lines.next(), lines.next()) {
            (None, _) => None,
            (Some(_), Some(_)) => {
                return Err(LoginError::Malformed(AuthError::duplicate(
                    "two Authorization header lines",
                )));
            }
            (Some(v), None) => parse_basic(v.as_bytes()).map_err(LoginError::Malformed)?,
        }
    } else {
        None
    };
    let names = [fields.user, fields.password];
    let from_body = match body_kind(headers, body) {
        BodyKind::Empty => None,
        BodyKind::Json if fields.json => {
            let [user, password] = json_fields(body, names).ok_or(LoginError::InvalidJson)?;
            match (user, password) {
                (Some(u), Some(p)) => Some((u, p)),
                (None, None) if basic.is_some() => None,
                _ => return Err(LoginError::InvalidJson),
            }
        }
        BodyKind::Form if fields.form => {
            let [user, password] = form_fields(body, names).ok_or(LoginError::InvalidForm)?;
            match (user, password) {
                (Some(u), Some(p)) => Some((u, p)),
                (None, None) if basic.is_some() => None,
                _ => return Err(LoginError::InvalidForm),
            }
        }
        _ => return Err(LoginError::UnsupportedMediaType),
    };
    match (from_body, basic) {
        (Some(_), Some(_)) => Err(LoginError::Malformed(AuthError::duplicate(
            "credentials in the body and in Basic",
        ))),
        (Some((username, password)), None) => Ok(BasicCredentials {
            username,
            password: SecretString::from(password),
        }),
        (None, Some(c)) => Ok(c),
        (None, None) if fields.json && !fields.form && !fields.basic => {
            Err(LoginError::InvalidJson)
        }
        (None, None) => Err(LoginError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    /// XiVO's fields: JSON only.
    const XIVO: LoginFields = LoginFields {
        user: "login",
        password: "password",
        json: true,
        form: false,
        basic: false,
    };
    /// Volt MX's fields: JSON, form or Basic.
    const VOLTMX: LoginFields = LoginFields {
        user: "userid",
        ..LoginFields::GENERIC
    };

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn xivo_json_only() {
        let json = headers(&[("content-type", "application/json; charset=UTF-8")]);
        let ok = parse_login(&json, br#"{"login":"alice","password":"pw"}"#, XIVO).unwrap();
        assert_eq!(
            (ok.username.as_str(), ok.password.expose_secret()),
            ("alice", "pw")
        );
        for bad in [
            &b"{"[..],
            b"[]",
            b"login=alice&password=pw",
            br#"{"login":1,"password":"pw"}"#,
            br#"{"login":"a"}"#,
            b"",
        ] {
            assert!(
                matches!(parse_login(&json, bad, XIVO), Err(LoginError::InvalidJson)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn duplicate_json_keys_are_refused() {
        let json = headers(&[("content-type", "application/json")]);
        for body in [
            &br#"{"login":"bob@example.com","login":"alice","password":"wonderland"}"#[..],
            br#"{"login":"alice","password":"x","password":"wonderland"}"#,
            br#"{"login":"alice","password":"wonderland","extra":{"a":1,"a":2}}"#,
        ] {
            assert!(
                matches!(parse_login(&json, body, XIVO), Err(LoginError::InvalidJson)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let dup = br#"{"userid":"bob","userid":"alice","password":"wonderland"}"#;
        assert_eq!(parse_login(&json, dup, VOLTMX).unwrap_err().status(), 400);
    }

    #[test]
    fn only_json_and_form_media_types_are_read() {
        let body = br#"{"login":"alice","password":"pw"}"#;
        let form_body = b"userid=alice&password=pw";
        for ct in [
            None,
            Some("text/plain"),
            Some("text/plain;charset=UTF-8"),
            Some("application/vnd.api+json"),
            Some("text/json"),
            Some("multipart/form-data; boundary=x"),
            Some("application/octet-stream"),
            Some(""),
        ] {
            let h = headers(
                &ct.map(|c| ("content-type", c))
                    .into_iter()
                    .collect::<Vec<_>>(),
            );
            for fields in [XIVO, VOLTMX, LoginFields::GENERIC] {
                assert!(
                    matches!(
                        parse_login(&h, body, fields),
                        Err(LoginError::UnsupportedMediaType)
                    ),
                    "{ct:?}"
                );
                assert_eq!(
                    parse_login(&h, form_body, fields).unwrap_err().status(),
                    415
                );
            }
        }
        let two = headers(&[
            ("content-type", "application/json"),
            ("content-type", "application/json"),
        ]);
        assert_eq!(parse_login(&two, body, XIVO).unwrap_err().status(), 415);
        // XiVO documents a JSON login: a form is not one.
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        assert!(matches!(
            parse_login(&form, b"login=a&password=b", XIVO),
            Err(LoginError::UnsupportedMediaType)
        ));
        assert!(parse_login(&form, form_body, VOLTMX).is_ok());
    }

    #[test]
    fn voltmx_json_form_basic() {
        let json = headers(&[(
            "content-type",
            "application/json;charset=UTF-8;charset=UTF-8",
        )]);
        let c = parse_login(
            &json,
            br#"{"userid":"u","password":"p","provider":"x"}"#,
            VOLTMX,
        )
        .unwrap();
        assert_eq!(c.username, "u");
        let form = headers(&[(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )]);
        let c = parse_login(&form, b"userid=u%40x&password=a+b", VOLTMX).unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.expose_secret()),
            ("u@x", "a b")
        );
        assert!(matches!(
            parse_login(&form, b"userid=u&userid=v&password=p", VOLTMX),
            Err(LoginError::InvalidForm)
        ));
        assert!(matches!(
            parse_login(&form, b"userid=u", VOLTMX),
            Err(LoginError::InvalidForm)
        ));
        let basic = headers(&[("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")]);
        assert_eq!(
            parse_login(&basic, b"", VOLTMX).unwrap().username,
            "Aladdin"
        );
        let bad = headers(&[("authorization", "Basic !!")]);
        assert_eq!(parse_login(&bad, b"", VOLTMX).unwrap_err().status(), 400);
        let both = headers(&[
            ("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            ("content-type", "application/json"),
        ]);
        assert_eq!(
            parse_login(&both, br#"{"userid":"u","password":"p"}"#, VOLTMX)
                .unwrap_err()
                .status(),
            400
        );
        assert!(matches!(
            parse_login(&headers(&[]), b"", VOLTMX),
            Err(LoginError::Missing)
        ));
        let xml = headers(&[("content-type", "text/xml")]);
        assert_eq!(
            parse_login(&xml, b"<a/>", VOLTMX).unwrap_err().status(),
            415
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let h = headers(&[]);
        for body in [
            &b"\xff\xfe"[..],
            b"{\"userid\":\"\\ud800\"}",
            b"%%%=&&=",
            b"{\"userid\":{}}",
        ] {
            let _ = parse_login(&h, body, VOLTMX);
            let _ = parse_login(&h, body, XIVO);
        }
    }
}
