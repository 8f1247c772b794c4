//! The reference PHP client (Wildix `s2s-client-php`), step for step: what it signs and what
//! it puts on the wire. Our own signing uses the canonical wire form instead; this one exists
//! so that tests (and interoperability checks) can send exactly what the reference sends,
//! with parameters in the caller's order and case.

use bytes::Bytes;
use http::Request;

use super::{SignError, Signature, Signer};
use crate::canonical::{Collisions, canonical_data};
use crate::php::{Array, Key, Value, build_query, json_encode, parse_str};

/// One call of the reference client:
/// `$client->get($endpoint, ['params' => .., 'body' => .., 'headers' => ..])`.
#[derive(Clone, Copy, Debug)]
pub struct PhpClientCall<'a> {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'a str,
    /// The endpoint as given (`api/v1/PBX/CallHistory/`, possibly with `?query`).
    pub endpoint: &'a str,
    /// `params`: the query parameters (merged over the endpoint's own query).
    pub params: &'a Array,
    /// `body`: the form (or, with a JSON `Content-Type` header, JSON) parameters.
    pub body: &'a Array,
    /// `headers`: extra headers, signed in this order before `Host` and `X-APP-ID`.
    pub headers: &'a [(&'a str, &'a str)],
}

/// What the reference client sends for one call. `Debug` hides the token.
#[derive(Clone)]
pub struct PhpClientRequest {
    /// The method.
    pub method: String,
    /// The request target (`/path?query`), with the query in the caller's order and case.
    pub target: String,
    /// The headers, `Authorization` included, in sending order.
    pub headers: Vec<(String, String)>,
    /// The body bytes (empty for `GET` and `DELETE`).
    pub body: Bytes,
    /// The signature.
    pub signature: Signature,
}

impl std::fmt::Debug for PhpClientRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let v = if n.eq_ignore_ascii_case("authorization") {
                    "[REDACTED]"
                } else {
                    v
                };
                (n.as_str(), v)
            })
            .collect();
        f.debug_struct("PhpClientRequest")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("headers", &headers)
            .field("body", &self.body)
            .field("signature", &self.signature)
            .finish()
    }
}

impl PhpClientRequest {
    /// The request as an [`http::Request`]: the target appended to `base`
    /// (`http://127.0.0.1:8080`, or empty for an origin-form URI).
    ///
    /// # Errors
    ///
    /// [`SignError::Invalid`] when a part is not valid in a request.
    pub fn to_http(&self, base: &str) -> Result<Request<Bytes>, SignError> {
        let mut b = Request::builder().method(self.method.as_str()).uri(format!(
            "{}{}",
            base.trim_end_matches('/'),
            self.target
        ));
        for (n, v) in &self.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        b.body(self.body.clone())
            .map_err(|_| SignError::Invalid("request"))
    }
}

/// PHP's `trim()`.
fn php_trim(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0b'))
}

/// `array_merge($a, $b)`: string keys of `$b` replace, integer keys are renumbered and appended.
fn array_merge(a: &Array, b: &Array) -> Result<Array, SignError> {
    let mut out = Array::new();
    for (k, v) in a.iter().chain(b.iter()) {
        match k {
            Key::Int(_) => {
                out.push(v.clone())
                    .map_err(|_| SignError::Invalid("parameter index"))?;
            }
            Key::Str(_) => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(out)
}

impl Signer {
    /// Prepares `call` exactly as the reference PHP client does (`RequestFactory::createRequest`
    /// and Guzzle's `form_params`), at the time `now` (Unix seconds). Needs
    /// [`Signer::with_host`]: the client is configured with the PBX URL.
    ///
    /// ```
    /// use tower_authn_s2s::php::Array;
    /// use tower_authn_s2s::{PhpClientCall, Signer};
    ///
    /// let signer = Signer::new("s2s-app-id-123", "CRM Connector", "s3cr3t-k3y-0123456789abcdef")
    ///     .with_host("https://pbx.example.wildixin.com");
    /// let params = Array::new().with("start", "0").with("Count", "10");
    /// let call = PhpClientCall {
    ///     method: "GET",
    ///     endpoint: "api/v1/PBX/CallHistory/",
    ///     params: &params,
    ///     body: &Array::new(),
    ///     headers: &[],
    /// };
    /// let req = signer.php_client_request(&call, 1_700_000_000).unwrap();
    /// assert_eq!(req.target, "/api/v1/PBX/CallHistory/?start=0&Count=10");
    /// assert_eq!(
    ///     req.signature.canonical(),
    ///     b"GET/api/v1/PBX/CallHistory/host:pbx.example.wildixin.com;x-app-id:s2s-app-id-123;count:10;start:0;"
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// [`SignError`] when the endpoint's query cannot be parsed unambiguously, there is no
    /// host, or a part cannot be encoded.
    pub fn php_client_request(
        &self,
        call: &PhpClientCall<'_>,
        now: i64,
    ) -> Result<PhpClientRequest, SignError> {
        let host = self.inner.host.clone().ok_or(SignError::NoHost)?;
        let endpoint = call.endpoint;

        // parse_str(parse_url($endpoint, PHP_URL_QUERY) ?? '', $query)
        let query_text = endpoint
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or_default())
            .unwrap_or_default();
        let query = parse_str(query_text.as_bytes(), &self.inner.limits)?;
        // parse_url('/' . ltrim(trim($endpoint), '/'), PHP_URL_PATH)
        let full = format!("/{}", php_trim(endpoint).trim_start_matches('/'));
        let path = full.split(['?', '#']).next().unwrap_or("/").to_owned();
        let params = array_merge(&query, call.params)?;
        let no_body = matches!(call.method, "GET" | "DELETE");
        let empty = Array::new();
        let body = if no_body { &empty } else { call.body };

        let mut headers = Array::new();
        for (name, value) in call.headers {
            headers.insert(Key::from(*name), Value::from(*value));
        }
        headers.insert("Host", host.as_str());
        headers.insert("X-APP-ID", self.inner.app_id.as_str());

        let mut canonical = Vec::with_capacity(128);
        canonical.extend_from_slice(call.method.as_bytes());
        canonical.extend_from_slice(path.as_bytes());
        canonical_data(&headers, Collisions::LaterWins, &mut canonical)?;
        canonical_data(&params, Collisions::LaterWins, &mut canonical)?;
        canonical_data(body, Collisions::LaterWins, &mut canonical)?;
        let signature = self.signature(canonical, &headers, now);

        let target = if params.is_empty() {
            path
        } else {
            format!("{path}?{}", build_query(&params))
        };

        let custom_type = call
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| *v);
        let json = custom_type.is_some_and(|t| t.to_ascii_lowercase().contains("application/json"));
        let wire_body = if no_body {
            Bytes::new()
        } else if json {
            Bytes::from(
                json_encode(&Value::Array(body.clone()))
                    .map_err(|_| SignError::Invalid("JSON body"))?,
            )
        } else {
            Bytes::from(build_query(body))
        };

        let mut wire_headers: Vec<(String, String)> = Vec::new();
        for (k, v) in headers.iter() {
            let Value::Str(v) = v else { continue };
            wire_headers.push((
                String::from_utf8_lossy(&k.as_bytes()).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ));
        }
        use secrecy::ExposeSecret;
        wire_headers.push((
            "Authorization".to_owned(),
            format!("Bearer {}", signature.token().expose_secret()),
        ));
        if custom_type.is_none() {
            wire_headers.push((
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ));
        }
        Ok(PhpClientRequest {
            method: call.method.to_owned(),
            target,
            headers: wire_headers,
            body: wire_body,
            signature,
        })
    }
}
