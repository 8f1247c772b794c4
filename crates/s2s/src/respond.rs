//! The Wildix error shape: `{"type":"error","reason":"<code>"}`.
//!
//! ```
//! use tower_authn_core::{AuthError, ErrorResponder};
//! use tower_authn_s2s::WildixErrors;
//!
//! let res = WildixErrors.respond(&AuthError::invalid("unknown app id"));
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.body(), r#"{"type":"error","reason":"invalid_credentials"}"#);
//! ```

use bytes::Bytes;
use http::Response;
use tower_authn_core::respond::json_response;
use tower_authn_core::{AuthError, ErrorResponder};

use crate::php::json_encode_str;

/// Failure bodies in the shape of Wildix WMS responses (`{"type":"result",...}` on success,
/// `{"type":"error","reason":...}` on failure). The reason is the stable machine code of
/// the error kind (`missing_credentials`, `malformed_credentials`, `invalid_credentials`,
/// `expired`, `payload_too_large`, `unavailable`, ...): it never says which part of a
/// credential was wrong, and never echoes the request.
#[derive(Clone, Copy, Debug, Default)]
pub struct WildixErrors;

impl ErrorResponder for WildixErrors {
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        let mut body = String::from(r#"{"type":"error","reason":"#);
        json_encode_str(error.code(), &mut body);
        body.push('}');
        json_response(error.status(), body)
    }
}
