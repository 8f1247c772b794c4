//! `mint-jwt`, `inspect-jwt`, `verify-jwt`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use secrecy::ExposeSecret as _;
use serde_json::{Map, Value};
use tower_authn_jwt::{
    Algorithm, Claims, JwtIssuer, JwtVerifier, KeyFamily, KeySet, SigningKey, Validation,
    VerifyingKey,
};

use crate::input::{env_secret, read_text};
use crate::{Failure, Outcome, Output, bad};

/// The largest key, JWKS or token file read.
const MAX_FILE: u64 = 1024 * 1024;

fn parse_alg(text: &str) -> Result<Algorithm, String> {
    text.parse::<Algorithm>().map_err(|_| {
        let all: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        format!("unknown algorithm (one of {})", all.join(", "))
    })
}

fn parse_claim(text: &str) -> Result<(String, Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=VALUE".to_owned())?;
    if name.is_empty() {
        return Err("the claim name is empty".to_owned());
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

/// `mint-jwt`'s options.
#[derive(clap::Args)]
pub(crate) struct MintArgs {
    #[command(flatten)]
    key: MintKey,
    /// The algorithm (default: HS256 for a secret, RS256 for an RSA key; an EC or Ed25519
    /// key fixes its own).
    #[arg(long, value_parser = parse_alg)]
    alg: Option<Algorithm>,
    /// The `kid` header.
    #[arg(long)]
    kid: Option<String>,
    /// The subject (`sub`).
    #[arg(long)]
    sub: String,
    /// The issuer (`iss`).
    #[arg(long)]
    iss: Option<String>,
    /// An audience (`aud`); repeat for several.
    #[arg(long)]
    aud: Vec<String>,
    /// Seconds until `exp`.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    ttl: u64,
    /// Another claim, NAME=VALUE (VALUE as JSON when it parses, else a string); repeatable.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_claim)]
    claim: Vec<(String, Value)>,
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct MintKey {
    /// The HMAC secret is in this environment variable.
    #[arg(long, value_name = "NAME")]
    secret_env: Option<String>,
    /// A private key in PEM (RSA, EC P-256/P-384 in PKCS#8, Ed25519 in PKCS#8).
    #[arg(long, value_name = "PEM")]
    key_file: Option<PathBuf>,
}

/// `verify-jwt`'s options.
#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// The token, or `-` to read it from stdin.
    token: String,
    #[command(flatten)]
    key: VerifyKey,
    /// The algorithm to accept (default: HS256 for a secret, RS256 for an RSA key; an EC or
    /// Ed25519 key fixes its own; a JWKS its keys' `alg`).
    #[arg(long, value_parser = parse_alg)]
    alg: Option<Algorithm>,
    /// The key id of the key given with --secret-env or --key-file (a token that names a
    /// `kid` is checked only against a key of that id).
    #[arg(long, conflicts_with = "jwks_file")]
    kid: Option<String>,
    /// The issuer required (`iss`); repeat to accept several.
    #[arg(long)]
    iss: Vec<String>,
    /// An audience accepted (`aud`); repeat for several. Without it a token naming an
    /// audience is refused, unless --any-audience.
    #[arg(long)]
    aud: Vec<String>,
    /// Accept any audience.
    #[arg(long, conflicts_with = "aud")]
    any_audience: bool,
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct VerifyKey {
    /// The HMAC secret is in this environment variable.
    #[arg(long, value_name = "NAME")]
    secret_env: Option<String>,
    /// A key in PEM: a public key (RSA, EC, Ed25519), or a private key.
    #[arg(long, value_name = "PEM")]
    key_file: Option<PathBuf>,
    /// A JWKS file ({"keys": [...]}).
    #[arg(long, value_name = "FILE")]
    jwks_file: Option<PathBuf>,
}

fn key_error(option: &str) -> impl Fn(tower_authn_jwt::KeyError) -> Failure + '_ {
    move |e| bad(format!("{option}: {e}"))
}

fn signing_key(args: &MintArgs) -> Result<SigningKey, Failure> {
    if let Some(var) = &args.key.secret_env {
        let secret = env_secret("--secret-env", var)?;
        let alg = args.alg.unwrap_or(Algorithm::HS256);
        if alg.family() != KeyFamily::Hmac {
            return Err(bad(format!("--alg {alg} needs --key-file, not a secret")));
        }
        return SigningKey::hmac(alg, secret.expose_secret().as_bytes())
            .map_err(key_error("--secret-env"));
    }
    let path = args.key.key_file.as_deref().unwrap_or(Path::new("-"));
    let pem = secrecy::SecretString::from(read_text("--key-file", path, MAX_FILE)?);
    let pem = pem.expose_secret().as_bytes();
    let key = match args.alg.map(Algorithm::family) {
        Some(KeyFamily::Hmac) => {
            return Err(bad("an HMAC algorithm needs --secret-env, not a key file"));
        }
        Some(KeyFamily::Rsa) => {
            SigningKey::rsa_pem(args.alg.unwrap_or(Algorithm::RS256), pem)
                .map_err(key_error("--key-file"))?
        }
        _ => SigningKey::ec_pem(pem)
            .or_else(|_| SigningKey::ed_pem(pem))
            .or_else(|_| SigningKey::rsa_pem(Algorithm::RS256, pem))
            .map_err(|_| {
                bad("--key-file: not a private key in PEM (RSA, EC P-256/P-384 or Ed25519 in PKCS#8)")
            })?,
    };
    match args.alg {
        Some(alg) if alg != key.algorithm() => Err(bad(format!(
            "--alg {alg}: the key is a {} key",
            key.algorithm()
        ))),
        _ => Ok(key),
    }
}

const REGISTERED: [(&str, &str); 5] = [
    ("iss", "--iss"),
    ("aud", "--aud"),
    ("iat", "--ttl"),
    ("exp", "--ttl"),
    ("jti", "nothing: it is random"),
];

pub(crate) fn mint(args: &MintArgs) -> Outcome {
    let mut key = signing_key(args)?;
    if let Some(kid) = &args.kid {
        key = key.with_kid(kid.clone());
    }
    if args.ttl == 0 {
        return Err(bad("--ttl must be at least 1 second"));
    }
    let mut claims = Claims::new().with("sub", args.sub.as_str());
    for (name, value) in &args.claim {
        if let Some((_, option)) = REGISTERED.iter().find(|(n, _)| n == name) {
            return Err(bad(format!("--claim {name}: set it with {option}")));
        }
        if name == "sub" {
            return Err(bad("--claim sub: set it with --sub"));
        }
        claims.set(name.clone(), value.clone());
    }
    let mut issuer = JwtIssuer::new(key)
        .with_lifetime(Duration::from_secs(args.ttl))
        .with_audiences(args.aud.iter().cloned());
    if let Some(iss) = &args.iss {
        issuer = issuer.with_issuer(iss.clone());
    }
    let token = issuer.issue(claims).map_err(|e| bad(e.to_string()))?;
    Ok(Output::ok(format!("{token}\n")))
}

/// The token argument, or stdin for `-`.
fn token_text(arg: &str) -> Result<String, Failure> {
    let text = if arg == "-" {
        read_text("TOKEN", Path::new("-"), MAX_FILE)?
    } else {
        arg.to_owned()
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(bad("TOKEN is empty"));
    }
    Ok(text)
}

fn decode_part(part: &str, what: &str) -> Result<Map<String, Value>, Failure> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| bad(format!("not a JWT: the {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad(format!("not a JWT: the {what} is not a JSON object"))),
    }
}

fn pretty(map: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(map).unwrap_or_else(|_| "{}".to_owned())
}

pub(crate) fn inspect(arg: &str) -> Outcome {
    let token = token_text(arg)?;
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(bad(format!(
            "not a JWT: expected 3 parts separated by dots, found {}",
            parts.len()
        )));
    }
    let header = decode_part(parts[0], "header")?;
    let claims = decode_part(parts[1], "payload")?;
    Ok(Output::ok(format!(
        "UNVERIFIED: the signature was not checked; do not trust these claims \
         (authn verify-jwt checks them).\n\
         header:\n{}\nclaims:\n{}\n",
        pretty(&header),
        pretty(&claims)
    )))
}

fn narrow(key: VerifyingKey, alg: Option<Algorithm>) -> Result<VerifyingKey, Failure> {
    match alg {
        None => Ok(key),
        Some(alg) if key.family() != alg.family() => Err(bad(format!(
            "--alg {alg} does not fit the key (a {:?} key)",
            key.family()
        ))),
        Some(alg) => key.with_algorithms([alg]).map_err(key_error("--alg")),
    }
}

fn with_kid(key: VerifyingKey, kid: Option<&String>) -> VerifyingKey {
    match kid {
        Some(kid) => key.with_kid(kid.clone()),
        None => key,
    }
}

fn verifying_keys(args: &VerifyArgs) -> Result<KeySet, Failure> {
    if let Some(var) = &args.key.secret_env {
        let secret = env_secret("--secret-env", var)?;
        let key = VerifyingKey::hmac(secret.expose_secret().as_bytes())
            .map_err(key_error("--secret-env"))?;
        let key = with_kid(narrow(key, args.alg)?, args.kid.as_ref());
        return Ok(KeySet::new().with_key(key));
    }
    if let Some(path) = &args.key.jwks_file {
        let text = read_text("--jwks-file", path, MAX_FILE)?;
        let set = KeySet::from_jwks(&text).map_err(key_error("--jwks-file"))?;
        if args.alg.is_some() {
            let keys = set
                .iter()
                .map(|k| narrow(k.clone(), args.alg))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(KeySet::from_keys(keys));
        }
        return Ok(set);
    }
    let path = args.key.key_file.as_deref().unwrap_or(Path::new("-"));
    let pem = secrecy::SecretString::from(read_text("--key-file", path, MAX_FILE)?);
    let pem = pem.expose_secret().as_bytes();
    let public = VerifyingKey::rsa_pem(pem)
        .or_else(|_| VerifyingKey::ec_pem(pem))
        .or_else(|_| VerifyingKey::ed_pem(pem));
    let key = match public {
        Ok(key) => key,
        Err(_) => SigningKey::ec_pem(pem)
            .or_else(|_| SigningKey::ed_pem(pem))
            .or_else(|_| SigningKey::rsa_pem(Algorithm::RS256, pem))
            .and_then(|k| k.verifying_key())
            .map_err(|_| {
                bad("--key-file: not a public or private key in PEM (RSA, EC P-256/P-384, Ed25519)")
            })?,
    };
    let key = with_kid(narrow(key, args.alg)?, args.kid.as_ref());
    Ok(KeySet::new().with_key(key))
}

/// The `kid` a token's header names, read without verifying anything.
fn token_kid(token: &str) -> Option<String> {
    let header = decode_part(token.split('.').next()?, "header").ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

pub(crate) fn verify(args: &VerifyArgs) -> Outcome {
    let token = token_text(&args.token)?;
    let keys = verifying_keys(args)?;
    let mut rules = Validation::new();
    if !args.iss.is_empty() {
        rules = rules.with_issuers(args.iss.iter().cloned());
    }
    if !args.aud.is_empty() {
        rules = rules.with_audiences(args.aud.iter().cloned());
    }
    if args.any_audience {
        rules = rules.accept_any_audience();
    }
    let verifier = JwtVerifier::new(keys).with_validation(rules);
    match verifier.verify_token(&token) {
        Ok(verified) => Ok(Output::ok(format!("{}\n", pretty(verified.claims())))),
        Err(e) => {
            let hint = match token_kid(&token) {
                Some(kid) if args.kid.is_none() && args.key.jwks_file.is_none() => {
                    format!(" (the token names kid {kid:?}: add --kid to check it with this key)")
                }
                _ => String::new(),
            };
            Err(Failure::No(format!(
                "invalid token: {}: {}{hint}",
                e.code(),
                e.detail()
            )))
        }
    }
}
