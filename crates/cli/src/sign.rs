//! `sign-request`: a request signed by tower-authn-s2s's `Signer`, printed.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Uri};
use secrecy::ExposeSecret as _;
use tower_authn_s2s::Signer;

use crate::input::{env_secret, read_bounded};
use crate::{Outcome, Output, bad};

/// The largest body signed (the verifier's default limit).
const MAX_BODY: u64 = 1024 * 1024;

fn parse_param(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=VALUE".to_owned())?;
    if k.is_empty() {
        return Err("the parameter name is empty".to_owned());
    }
    Ok((k.to_owned(), v.to_owned()))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once(':')
        .ok_or_else(|| "expected NAME:VALUE".to_owned())?;
    let k = k.trim();
    if k.is_empty() {
        return Err("the header name is empty".to_owned());
    }
    Ok((k.to_owned(), v.trim().to_owned()))
}

/// `sign-request`'s options.
#[derive(clap::Args)]
pub(crate) struct SignArgs {
    /// The app id (`X-APP-ID`).
    #[arg(long)]
    app_id: String,
    /// The app name (the token's `iss`).
    #[arg(long)]
    app_name: String,
    /// The environment variable that holds the app's secret.
    #[arg(long, value_name = "NAME")]
    secret_env: String,
    /// The method.
    #[arg(long)]
    method: String,
    /// The absolute URL (http:// or https://), query included if any.
    #[arg(long)]
    url: String,
    /// A query parameter to add, NAME=VALUE; repeatable.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_param)]
    param: Vec<(String, String)>,
    /// A header, NAME:VALUE (Content-Type is signed); repeatable.
    #[arg(long, value_name = "NAME:VALUE", value_parser = parse_header)]
    header: Vec<(String, String)>,
    /// The body, from a file or `-` for stdin (needs a Content-Type header: a form or JSON).
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
    /// Seconds the token lives (300 by default, as with the reference client).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    ttl: u64,
}

/// Header names as they are usually written (`X-APP-ID`, `Content-Type`).
fn display_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("x-app-id") {
        return "X-APP-ID".to_owned();
    }
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A word for a POSIX shell, single-quoted.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

pub(crate) fn sign(args: &SignArgs) -> Outcome {
    let secret = env_secret("--secret-env", &args.secret_env)?;
    if args.app_id.trim().is_empty() || args.app_name.trim().is_empty() {
        return Err(bad("--app-id and --app-name must not be empty"));
    }
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| bad("--method: not an HTTP method"))?;
    let mut url = args.url.clone();
    if !args.param.is_empty() {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &args.param {
            query.append_pair(k, v);
        }
        let query = query.finish();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query);
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| bad("--url: not a URL (http://host/path?query)"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => {}
        _ => {
            return Err(bad(
                "--url must be absolute: http://host/path or https://host/path",
            ));
        }
    }
    let body = match &args.body_file {
        Some(path) => Bytes::from(read_bounded("--body-file", path, MAX_BODY)?),
        None => Bytes::new(),
    };
    if !body.is_empty() && (method == Method::GET || method == Method::DELETE) {
        return Err(bad(format!(
            "--body-file: a {method} request carries no body (the signature cannot cover it)"
        )));
    }
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in &args.header {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("--header {name}: not a header name")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| bad(format!("--header {name}: not a header value")))?;
        request = request.header(name, value);
    }
    let (mut parts, body) = request
        .body(body)
        .map_err(|e| bad(format!("cannot build the request: {e}")))?
        .into_parts();

    let signer = Signer::new(
        args.app_id.as_str(),
        args.app_name.as_str(),
        secret.expose_secret(),
    )
    .with_ttl(Duration::from_secs(args.ttl));
    let wire = signer
        .sign_parts(&mut parts, body)
        .map_err(|e| bad(e.to_string()))?;

    let mut out = format!("{} {}\n", parts.method, parts.uri);
    let mut curl = format!("curl -sS -X {}", parts.method);
    for (name, value) in &parts.headers {
        let value = value
            .to_str()
            .map_err(|_| bad("a header value is not printable"))?;
        let name = display_name(name.as_str());
        out.push_str(&format!("{name}: {value}\n"));
        if name != "Content-Length" {
            curl.push_str(&format!(" -H {}", shell_quote(&format!("{name}: {value}"))));
        }
    }
    out.push('\n');
    if !wire.is_empty() {
        let text = String::from_utf8_lossy(&wire);
        out.push_str(&text);
        out.push_str("\n\n");
        curl.push_str(&format!(" --data-binary {}", shell_quote(&text)));
    }
    curl.push_str(&format!(" {}", shell_quote(&parts.uri.to_string())));
    out.push_str(&format!(
        "# curl (the token expires {} s after signing):\n{curl}\n",
        args.ttl
    ));
    Ok(Output::ok(out))
}
