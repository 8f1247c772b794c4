//! The parts of a request the canonical form is rebuilt from, each read so that the
//! verifier and the service behind it see the same thing: one `Host` (the target's
//! authority when it has one), one `Content-Type`, one value per signed header, a path that
//! decoding cannot change, and a body only when the canonical form covers it.

use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method};
use tower_authn_core::AuthError;

use crate::coverage::{BodyType, body_type, path_is_stable};
use crate::php::{Array, ParseLimits, Value, json_decode, parse_str};

/// The one value of `name`, or `None`; a repeated header is `DuplicateCredentials` (400).
pub(super) fn single<'a>(
    parts: &'a Parts,
    name: &HeaderName,
) -> Result<Option<&'a HeaderValue>, AuthError> {
    let mut values = parts.headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::duplicate(format!("more than one {name} header")));
    }
    Ok(first)
}

/// What can be refused from the head alone, before the app is looked up: a repeated `Host`
/// or `Content-Type`, a `Host` that disagrees with an absolute-form target, and a path that
/// is not [stable](path_is_stable).
pub(super) fn check_head(parts: &Parts) -> Result<(), AuthError> {
    if parts.headers.get_all(CONTENT_TYPE).iter().nth(1).is_some() {
        return Err(AuthError::malformed("more than one Content-Type header"));
    }
    request_host(parts)?;
    if !path_is_stable(parts.uri.path().as_bytes()) {
        return Err(AuthError::malformed(
            "path with %2F, %5C, %2E or dot segments",
        ));
    }
    Ok(())
}

/// The request's one host: the authority of an absolute-form target (HTTP/2's
/// `:authority`), which a `Host` header must then equal byte for byte, else the one `Host`.
pub(super) fn request_host(parts: &Parts) -> Result<Option<&[u8]>, AuthError> {
    let header = single(parts, &HOST)?.map(HeaderValue::as_bytes);
    match (parts.uri.authority().map(|a| a.as_str().as_bytes()), header) {
        (Some(authority), Some(host)) if authority != host => Err(AuthError::malformed(
            "Host differs from the authority of the request target",
        )),
        (Some(authority), _) => Ok(Some(authority)),
        (None, host) => Ok(host),
    }
}

/// The value of the signed header `name` (as listed in `sign.headers`).
///
/// # Errors
///
/// `InvalidCredentials` (401) when it is missing, `DuplicateCredentials` (400) when it is
/// sent more than once.
pub(super) fn signed_header<'a>(parts: &'a Parts, name: &str) -> Result<&'a [u8], AuthError> {
    let missing = || AuthError::invalid(format!("signed header {name} is missing"));
    if name.eq_ignore_ascii_case(HOST.as_str()) {
        return request_host(parts)?.ok_or_else(missing);
    }
    let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
        return Err(missing());
    };
    single(parts, &header)?
        .map(HeaderValue::as_bytes)
        .ok_or_else(missing)
}

/// The body parameters of the canonical form.
///
/// An empty body is an empty map. A non-empty one must be covered: not on `GET` or `DELETE`
/// (the canonical form leaves their body out), without a `Content-Encoding`, under one
/// `Content-Type` that is a form or JSON ([`body_type`]), and parse as that type.
///
/// # Errors
///
/// `MalformedCredentials` (400) for a body the canonical form does not cover or that does
/// not parse.
pub(super) fn body_params(
    parts: &Parts,
    body: &[u8],
    limits: &ParseLimits,
) -> Result<Array, AuthError> {
    if body.is_empty() {
        return Ok(Array::new());
    }
    let uncovered = |why: &'static str| Err(AuthError::malformed(why));
    if parts.method == Method::GET || parts.method == Method::DELETE {
        return uncovered("a GET or DELETE body, which the signature does not cover");
    }
    if parts.headers.contains_key(CONTENT_ENCODING) {
        return uncovered("a body with a Content-Encoding, which the signature does not cover");
    }
    let content_type = single(parts, &CONTENT_TYPE)
        .map_err(|_| AuthError::malformed("more than one Content-Type header"))?;
    match content_type.map(|v| body_type(v.as_bytes())) {
        None => uncovered("a body without a Content-Type, which the signature does not cover"),
        Some(BodyType::Uncovered) => {
            uncovered("a body neither form nor JSON, which the signature does not cover")
        }
        Some(BodyType::Form) => {
            parse_str(body, limits).map_err(|e| AuthError::malformed(format!("form body: {e}")))
        }
        Some(BodyType::Json) => match json_decode(body) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(_) => uncovered("JSON body is not an object or array"),
            Err(e) => Err(AuthError::malformed(format!("JSON body: {e}"))),
        },
    }
}
