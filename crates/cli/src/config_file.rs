//! The gateway's configuration file (`GATEWAY_CONFIG=path.toml`): users, app API keys,
//! device tokens, server-to-server apps and which routes are on.
//!
//! Nothing secret is in the file in plain text: passwords are PHC strings
//! (`authn hash-password`), keys, tokens and HA1Bs are HMAC-SHA256 digests keyed with the
//! gateway's `GATEWAY_KEY_PEPPER` (`authn new-key`, `authn ha1b`), and the secret of a
//! server-to-server app is read from the environment variable the file names. There is no
//! field a plaintext secret could go in: every table refuses unknown fields.
//!
//! ```toml
//! [[users]]
//! login = "alice"
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."   # authn hash-password
//! roles = ["admin"]
//! sip_domain = "sip.example.com"
//! ha1b_digest = "64 hex digits"                          # authn ha1b --login alice --domain ..
//!
//! [[app_keys]]
//! id = "demo-app-key"
//! app_id = "demo-app"
//! digest = "64 hex digits"                               # authn new-key --kind app
//!
//! [[device_tokens]]
//! id = "demo-device"
//! app_id = "demo-app"
//! digest = "64 hex digits"                               # authn new-key --kind device
//!
//! [[s2s_apps]]
//! id = "s2s-app-id-123"
//! name = "CRM Connector"
//! secret_env = "S2S_CRM_SECRET"
//!
//! [routes]
//! xivo = false
//! ```
//!
//! A file that does not parse, has a field of the wrong type, an unknown field or a value
//! that does not validate is refused with one [`ConfigError`] line naming the file, the line
//! and column, and the field:
//!
//! ```
//! use tower_authn_cli::config_file::parse;
//!
//! let err = parse("gateway.toml", "[[users]]\nlogin = \"alice\"\npassword = \"x\"\n", |_| None)
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("gateway.toml:3:1: users[0].password: unknown field `password`"));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use tower_authn_core::{KeyDigest, KeyKind, KeyRecord, Principal, UserRecord};

/// A configuration file, validated.
#[derive(Clone, Debug, Default)]
pub struct GatewayFile {
    /// `[[users]]`.
    pub users: Vec<UserEntry>,
    /// `[[app_keys]]`.
    pub app_keys: Vec<AppKeyEntry>,
    /// `[[device_tokens]]`.
    pub device_tokens: Vec<DeviceTokenEntry>,
    /// `[[s2s_apps]]`.
    pub s2s_apps: Vec<S2sAppEntry>,
    /// `[routes]`.
    pub routes: Routes,
}

/// A user (`[[users]]`).
#[derive(Clone)]
pub struct UserEntry {
    /// The login; non-empty, unique in the file.
    pub login: String,
    /// The password as a PHC string (argon2; `authn hash-password`), checked to parse.
    pub password_hash: SecretString,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// The SIP domain (the user's attribute `sip_domain`).
    pub sip_domain: Option<String>,
    /// The keyed digest of the user's HA1B (never the HA1B), as `authn ha1b` prints it:
    /// HMAC-SHA256 of the lowercase hex HA1B keyed with `GATEWAY_KEY_PEPPER`.
    pub ha1b_digest: Option<KeyDigest>,
    /// A disabled user never authenticates.
    pub disabled: bool,
}

impl fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserEntry")
            .field("login", &self.login)
            .field("password_hash", &"[REDACTED]")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("sip_domain", &self.sip_domain)
            .field(
                "ha1b_digest",
                &self.ha1b_digest.as_ref().map(|_| "[REDACTED]"),
            )
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// An app API key (`[[app_keys]]`).
#[derive(Clone, Debug)]
pub struct AppKeyEntry {
    /// The key id; non-empty, unique among the app keys.
    pub id: String,
    /// The app it authenticates as.
    pub app_id: String,
    /// The keyed digest of the key (`authn new-key --kind app`).
    pub digest: KeyDigest,
    /// A free-text description.
    pub description: Option<String>,
    /// A masked form of the key for listings (`abcd****wxyz`).
    pub hint: Option<String>,
    /// When the key stops working (RFC 3339 in the file).
    pub expires_at: Option<SystemTime>,
}

/// A device token (`[[device_tokens]]`).
#[derive(Clone, Debug)]
pub struct DeviceTokenEntry {
    /// The device id; non-empty, unique among the device tokens.
    pub id: String,
    /// The app the device belongs to.
    pub app_id: Option<String>,
    /// The keyed digest of the token (`authn new-key --kind device`).
    pub digest: KeyDigest,
}

/// A server-to-server app (`[[s2s_apps]]`).
#[derive(Clone)]
pub struct S2sAppEntry {
    /// The app id (`X-APP-ID`); non-empty, unique among the apps.
    pub id: String,
    /// The app name (the token's `iss`).
    pub name: String,
    /// The name of the environment variable that holds the secret.
    pub secret_env: String,
    /// The secret, read from `secret_env` when the file is loaded.
    pub secret: SecretString,
}

impl fmt::Debug for S2sAppEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S2sAppEntry")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret_env", &self.secret_env)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Which route groups are on (`[routes]`, a table of booleans; every one defaults to `true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routes {
    /// `/whoami` and the per-scheme `/*/whoami` routes.
    pub whoami: bool,
    /// The XiVO routes.
    pub xivo: bool,
    /// The Volt MX routes.
    pub voltmx: bool,
    /// The Opentact routes.
    pub opentact: bool,
    /// The CCAI routes.
    pub ccai: bool,
    /// The Wildix (server-to-server) routes.
    pub wildix: bool,
    /// The forward-authentication route.
    pub forward_auth: bool,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            whoami: true,
            xivo: true,
            voltmx: true,
            opentact: true,
            ccai: true,
            wildix: true,
            forward_auth: true,
        }
    }
}

impl Routes {
    /// The names of the route groups that are off, in the order of the fields.
    pub fn off(&self) -> Vec<&'static str> {
        [
            ("whoami", self.whoami),
            ("xivo", self.xivo),
            ("voltmx", self.voltmx),
            ("opentact", self.opentact),
            ("ccai", self.ccai),
            ("wildix", self.wildix),
            ("forward_auth", self.forward_auth),
        ]
        .into_iter()
        .filter_map(|(name, on)| (!on).then_some(name))
        .collect()
    }
}

impl GatewayFile {
    /// The users as store records: login, password hash, name, email, roles, the attribute
    /// `sip_domain` (when set) and `disabled`. No HA1B: the file holds its digest, which is
    /// registered as a key ([`ha1b_records`](Self::ha1b_records)).
    pub fn user_records(&self) -> Vec<UserRecord> {
        self.users
            .iter()
            .map(|u| {
                let mut record = UserRecord::new(u.login.clone(), u.password_hash.expose_secret())
                    .with_roles(u.roles.iter().cloned());
                record.name.clone_from(&u.name);
                record.email.clone_from(&u.email);
                if let Some(domain) = &u.sip_domain {
                    record = record.with_attribute("sip_domain", domain.as_str());
                }
                record.disabled = u.disabled;
                record
            })
            .collect()
    }

    /// The app keys and device tokens as key records, created at `created_at`, with the
    /// principals the demo gateway gives them: an app key authenticates as
    /// `Principal::app(app_id)` with that app id and scheme `app-api-key`; a device token as
    /// `Principal::device(id)` with its app id.
    pub fn key_records(&self, created_at: SystemTime) -> Vec<KeyRecord> {
        let apps = self.app_keys.iter().map(|k| {
            let principal = Principal::app(k.app_id.clone())
                .with_app_id(k.app_id.clone())
                .with_scheme("app-api-key");
            let mut record = KeyRecord::new(
                k.id.clone(),
                KeyKind::AppApiKey,
                k.digest,
                principal,
                created_at,
            )
            .expires_at(k.expires_at);
            record.description.clone_from(&k.description);
            record.hint.clone_from(&k.hint);
            record
        });
        let devices = self.device_tokens.iter().map(|d| {
            let mut principal = Principal::device(d.id.clone());
            if let Some(app) = &d.app_id {
                principal = principal.with_app_id(app.clone());
            }
            KeyRecord::new(
                d.id.clone(),
                KeyKind::DeviceToken,
                d.digest,
                principal,
                created_at,
            )
        });
        apps.chain(devices).collect()
    }

    /// The HA1B digests of the users that have one and are not disabled, as key records of
    /// kind [`KeyKind::Ha1b`] (id: the login; principal: the user's, scheme `ha1b`), as
    /// `Ha1bVerifier::register_user` would store them.
    pub fn ha1b_records(&self, created_at: SystemTime) -> Vec<KeyRecord> {
        self.users
            .iter()
            .zip(self.user_records())
            .filter(|(u, _)| !u.disabled)
            .filter_map(|(u, record)| {
                let digest = u.ha1b_digest?;
                let principal = record.principal().with_scheme("ha1b");
                Some(KeyRecord::new(
                    u.login.clone(),
                    KeyKind::Ha1b,
                    digest,
                    principal,
                    created_at,
                ))
            })
            .collect()
    }
}

/// Why a configuration file was refused. `Display` is one line,
/// `FILE:LINE:COLUMN: FIELD: message` (line and column 1-based, of the offending key or
/// value); a TOML syntax error outside any field reads `FILE:LINE:COLUMN: syntax error:
/// message`, and a file that cannot be read `FILE: message`. A message never quotes a
/// value of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    file: String,
    position: Option<(usize, usize)>,
    field: String,
    message: String,
}

impl ConfigError {
    /// The file name, as given.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line of the offending key or value (`None`: the file could not be read).
    pub fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    /// The 1-based column (in characters) of the offending key or value.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }

    /// The dotted path of the field (`users[1].password_hash`, `routes.xivo`); empty for a
    /// syntax error outside any field and for an unreadable file.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.position, self.field.is_empty()) {
            (Some((line, column)), false) => write!(
                f,
                "{}:{line}:{column}: {}: {}",
                self.file, self.field, self.message
            ),
            (Some((line, column)), true) => {
                write!(
                    f,
                    "{}:{line}:{column}: syntax error: {}",
                    self.file, self.message
                )
            }
            (None, _) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads and parses the file at `path` ([`parse`]); `env` gives the environment variables
/// (`|name| std::env::var(name).ok()`).
///
/// # Errors
///
/// An unreadable file (the error names it), or any error of [`parse`].
pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<GatewayFile, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: name.clone(),
        position: None,
        field: String::new(),
        message: format!("cannot read the file: {e}"),
    })?;
    parse(&name, &text, env)
}

/// Parses and validates the text of a configuration file named `file_name` (the name is only
/// used in errors). `env` gives the environment variables the `secret_env` fields name.
/// Never panics.
///
/// # Errors
///
/// The first problem found, as a [`ConfigError`].
pub fn parse(
    file_name: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<GatewayFile, ConfigError> {
    let at = Locator {
        file: file_name,
        text,
    };
    // Syntax first: its errors get a best-effort field from what did parse.
    if let Err(e) = DeTable::parse(text) {
        let offset = e.span().map_or(0, |s| s.start);
        let (partial, _) = DeTable::parse_recoverable(text);
        let field = syntax_path(partial.get_ref(), text, offset);
        return Err(at.error(offset, field, one_line(e.message())));
    }
    let raw: RawFile = toml::from_str(text).map_err(|e| at.serde_error(&e))?;
    validate(&at, raw, &env)
}

/// Turns byte offsets of the text into errors.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, offset: usize, field: String, message: String) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            position: Some(line_column(self.text, offset)),
            field,
            message,
        }
    }

    fn at<T>(&self, value: &Spanned<T>, field: String, message: impl Into<String>) -> ConfigError {
        self.error(value.span().start, field, message.into())
    }

    fn serde_error(&self, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map_or(0, |s| s.start);
        let field = match DeTable::parse(self.text) {
            Ok(table) => path_at(table.get_ref(), offset),
            Err(_) => String::new(),
        };
        let message = one_line(e.message());
        if let Some(missing) = between(&message, "missing field `", "`") {
            let field = join(&field, missing);
            return self.error(offset, field, "required field is missing".to_owned());
        }
        if let Some(unknown) = between(&message, "unknown field `", "`") {
            let hint = if is_secret_name(unknown) {
                " (the file holds no plaintext secret: use password_hash from `authn \
                 hash-password`, a digest from `authn new-key`, ha1b_digest from `authn ha1b`, \
                 or secret_env)"
            } else {
                ""
            };
            let field = if field.is_empty() {
                unknown.to_owned()
            } else {
                field
            };
            return self.error(offset, field, format!("{message}{hint}"));
        }
        self.error(offset, field, without_quoted_values(&table_names(&message)))
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_boundary(text, offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "secret", "key", "token", "ha1b", "pepper"]
        .iter()
        .any(|s| name.contains(s))
}

/// serde names the structs this module reads into ("expected struct RawRoutes"); the file
/// has tables.
fn table_names(message: &str) -> String {
    match message.find("expected struct Raw") {
        Some(_) if message.starts_with("invalid length") => {
            "invalid type: array, expected a table".to_owned()
        }
        Some(i) => format!("{}expected a table", &message[..i]),
        None => message.to_owned(),
    }
}

/// serde's "invalid type: string \"...\", expected X" quotes the value; a misplaced secret
/// must not end up in a log, so quoted strings are left out of messages.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("string \"") {
        out.push_str(&rest[..i + "string".len()]);
        let after = &rest[i + "string \"".len()..];
        // The quoted value ends at the last `"` before the next `, expected` (or the end).
        let end = after.find("\", expected").or_else(|| after.rfind('"'));
        match end {
            Some(e) => rest = &after[e + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The dotted path of the key or value at byte `offset`: the innermost entry whose key or
/// value span holds it (a table's span is its header).
fn path_at(table: &DeTable<'_>, offset: usize) -> String {
    let mut best: Option<(usize, String)> = None;
    search_table(table, offset, "", &mut best);
    best.map(|(_, p)| p).unwrap_or_default()
}

/// The field a syntax error at `offset` is in, as far as it can be told: the last table
/// header before it (from what did parse) and the key on its line, if the line is
/// `key = ...`. Empty when the error is in a header.
fn syntax_path(table: &DeTable<'_>, text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..floor_boundary(text, offset)]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    if line.trim_start().starts_with('[') {
        return String::new();
    }
    let mut header: Option<(usize, String)> = None;
    last_header(table, offset, "", &mut header);
    let prefix = header.map(|(_, p)| p).unwrap_or_default();
    let key = line.find('=').and_then(|eq| {
        let key = line[..eq].trim();
        let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        (!key.is_empty() && key.chars().all(bare)).then_some(key)
    });
    match key {
        Some(key) => join(&prefix, key),
        None => prefix,
    }
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The table header (a table's span) that starts last at or before `offset`.
fn last_header(
    table: &DeTable<'_>,
    offset: usize,
    prefix: &str,
    best: &mut Option<(usize, String)>,
) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        match value.get_ref() {
            DeValue::Table(t) => {
                note_header(best, &value.span(), offset, &path);
                last_header(t, offset, &path, best);
            }
            DeValue::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    if let DeValue::Table(t) = item.get_ref() {
                        let item_path = format!("{path}[{i}]");
                        note_header(best, &item.span(), offset, &item_path);
                        last_header(t, offset, &item_path, best);
                    }
                }
            }
            _ => {}
        }
    }
}

fn note_header(best: &mut Option<(usize, String)>, span: &Range<usize>, offset: usize, path: &str) {
    if span.start <= offset && best.as_ref().is_none_or(|(start, _)| span.start >= *start) {
        *best = Some((span.start, path.to_owned()));
    }
}

fn holds(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

fn consider(best: &mut Option<(usize, String)>, span: &Range<usize>, path: &str) {
    let len = span.len();
    // Ties go to the deeper path (found later).
    if best.as_ref().is_none_or(|(l, _)| len <= *l) {
        *best = Some((len, path.to_owned()));
    }
}

fn search_table(
    table: &DeTable<'_>,
    offset: usize,
    prefix: &str,
    best: &mut Option<(usize, String)>,
) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        for span in [key.span(), value.span()] {
            if holds(&span, offset) {
                consider(best, &span, &path);
            }
        }
        search_value(value.get_ref(), offset, &path, best);
    }
}

fn search_value(
    value: &DeValue<'_>,
    offset: usize,
    path: &str,
    best: &mut Option<(usize, String)>,
) {
    match value {
        DeValue::Table(t) => search_table(t, offset, path, best),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                let span = item.span();
                if holds(&span, offset) {
                    consider(best, &span, &item_path);
                }
                search_value(item.get_ref(), offset, &item_path, best);
            }
        }
        _ => {}
    }
}

// ---- The file as serde reads it, with spans ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    app_keys: Vec<RawAppKey>,
    #[serde(default)]
    device_tokens: Vec<RawDeviceToken>,
    #[serde(default)]
    s2s_apps: Vec<RawS2sApp>,
    #[serde(default)]
    routes: Option<RawRoutes>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    login: Spanned<String>,
    password_hash: Spanned<String>,
    name: Option<Spanned<String>>,
    email: Option<Spanned<String>>,
    #[serde(default)]
    roles: Vec<Spanned<String>>,
    sip_domain: Option<Spanned<String>>,
    ha1b_digest: Option<Spanned<String>>,
    #[serde(default)]
    disabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppKey {
    id: Spanned<String>,
    app_id: Spanned<String>,
    digest: Spanned<String>,
    description: Option<String>,
    hint: Option<String>,
    expires_at: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeviceToken {
    id: Spanned<String>,
    app_id: Option<Spanned<String>>,
    digest: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS2sApp {
    id: Spanned<String>,
    name: Spanned<String>,
    secret_env: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoutes {
    whoami: Option<bool>,
    xivo: Option<bool>,
    voltmx: Option<bool>,
    opentact: Option<bool>,
    ccai: Option<bool>,
    wildix: Option<bool>,
    forward_auth: Option<bool>,
}

// ---- Validation ----

/// Non-empty (after trimming) and unique in `seen`.
fn check_id(
    at: &Locator<'_>,
    value: &Spanned<String>,
    field: String,
    seen: &mut HashMap<String, String>,
) -> Result<String, ConfigError> {
    let text = value.get_ref();
    if text.trim().is_empty() {
        return Err(at.at(value, field, "must not be empty"));
    }
    if text.trim() != text {
        return Err(at.at(value, field, "must not begin or end with white space"));
    }
    if let Some(first) = seen.get(text) {
        return Err(at.at(
            value,
            field,
            format!("duplicate: {first} has the same value"),
        ));
    }
    seen.insert(text.clone(), field);
    Ok(text.clone())
}

fn non_empty(
    at: &Locator<'_>,
    value: &Spanned<String>,
    field: String,
) -> Result<String, ConfigError> {
    if value.get_ref().trim().is_empty() {
        return Err(at.at(value, field, "must not be empty"));
    }
    Ok(value.get_ref().clone())
}

/// 64 lowercase hex digits.
fn check_digest(
    at: &Locator<'_>,
    value: &Spanned<String>,
    field: String,
    seen: &mut HashMap<String, String>,
) -> Result<KeyDigest, ConfigError> {
    let text = value.get_ref();
    let lower_hex = text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let mut bytes = [0u8; 32];
    if text.len() != 64 || !lower_hex || hex::decode_to_slice(text, &mut bytes).is_err() {
        return Err(at.at(
            value,
            field,
            "not a digest: 64 lowercase hex digits (HMAC-SHA256 keyed with GATEWAY_KEY_PEPPER, \
             as `authn new-key` and `authn ha1b` print it)",
        ));
    }
    if let Some(first) = seen.get(text) {
        return Err(at.at(
            value,
            field,
            format!("duplicate: {first} has the same digest (the same secret)"),
        ));
    }
    seen.insert(text.clone(), field);
    Ok(KeyDigest(bytes))
}

/// What `tower-authn-password` verifies: an argon2 PHC string with a hash and a salt, within
/// the default limits. Parsed only (no hashing at load).
fn check_phc(phc: &str) -> Result<(), String> {
    use password_hash::PasswordHash;
    let how = "make one with `authn hash-password`";
    if !phc.starts_with('$') {
        return Err(format!("not a PHC string ({how})"));
    }
    match phc.split('$').nth(1) {
        Some("argon2id" | "argon2i" | "argon2d") => {}
        _ => return Err(format!("not an argon2 hash ({how})")),
    }
    let parsed = PasswordHash::new(phc).map_err(|e| format!("not a PHC string: {e} ({how})"))?;
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" | "argon2d" => {}
        _ => return Err(format!("not an argon2 hash ({how})")),
    }
    if let Some(v) = parsed.version {
        if argon2::Version::try_from(v).is_err() {
            return Err(format!("unsupported argon2 version {v}"));
        }
    }
    let params =
        argon2::Params::try_from(&parsed).map_err(|e| format!("bad argon2 parameters: {e}"))?;
    let limits = tower_authn_password::HashLimits::default();
    if params.m_cost() > limits.max_memory_kib || params.t_cost() > limits.max_time_cost {
        return Err(format!(
            "argon2 parameters over the limits (m <= {} KiB, t <= {})",
            limits.max_memory_kib, limits.max_time_cost
        ));
    }
    if parsed.hash.is_none() {
        return Err("no hash in the PHC string".to_owned());
    }
    let mut salt = [0u8; 64];
    let salt_len = parsed
        .salt
        .ok_or_else(|| "no salt in the PHC string".to_owned())?
        .decode_b64(&mut salt)
        .map_err(|e| format!("bad salt: {e}"))?
        .len();
    if salt_len < argon2::MIN_SALT_LEN {
        return Err(format!("salt shorter than {} bytes", argon2::MIN_SALT_LEN));
    }
    Ok(())
}

/// RFC 3339 (a string, or a TOML offset date-time) to a time.
fn check_time(value: &toml::Value) -> Result<SystemTime, &'static str> {
    use time::format_description::well_known::Rfc3339;
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        _ => return Err("not an RFC 3339 date-time (\"2027-01-31T00:00:00Z\")"),
    };
    time::OffsetDateTime::parse(&text, &Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| "not an RFC 3339 date-time with a time zone (\"2027-01-31T00:00:00Z\")")
}

fn validate(
    at: &Locator<'_>,
    raw: RawFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<GatewayFile, ConfigError> {
    let mut file = GatewayFile::default();

    let mut logins = HashMap::new();
    let mut ha1bs = HashMap::new();
    for (i, u) in raw.users.into_iter().enumerate() {
        let f = |name: &str| format!("users[{i}].{name}");
        let login = check_id(at, &u.login, f("login"), &mut logins)?;
        check_phc(u.password_hash.get_ref())
            .map_err(|m| at.at(&u.password_hash, f("password_hash"), m))?;
        let optional = |v: Option<Spanned<String>>, name: &str| {
            v.map(|v| non_empty(at, &v, f(name))).transpose()
        };
        let name = optional(u.name, "name")?;
        let email = optional(u.email, "email")?;
        let sip_domain = optional(u.sip_domain, "sip_domain")?;
        let mut roles = Vec::with_capacity(u.roles.len());
        for (j, role) in u.roles.iter().enumerate() {
            roles.push(non_empty(at, role, format!("users[{i}].roles[{j}]"))?);
        }
        let ha1b_digest = u
            .ha1b_digest
            .map(|d| check_digest(at, &d, f("ha1b_digest"), &mut ha1bs))
            .transpose()?;
        file.users.push(UserEntry {
            login,
            password_hash: SecretString::from(u.password_hash.into_inner()),
            name,
            email,
            roles,
            sip_domain,
            ha1b_digest,
            disabled: u.disabled,
        });
    }

    let (mut ids, mut digests) = (HashMap::new(), HashMap::new());
    for (i, k) in raw.app_keys.into_iter().enumerate() {
        let f = |name: &str| format!("app_keys[{i}].{name}");
        let id = check_id(at, &k.id, f("id"), &mut ids)?;
        let app_id = non_empty(at, &k.app_id, f("app_id"))?;
        let digest = check_digest(at, &k.digest, f("digest"), &mut digests)?;
        let expires_at = k
            .expires_at
            .map(|v| check_time(v.get_ref()).map_err(|m| at.at(&v, f("expires_at"), m)))
            .transpose()?;
        file.app_keys.push(AppKeyEntry {
            id,
            app_id,
            digest,
            description: k.description,
            hint: k.hint,
            expires_at,
        });
    }

    let (mut ids, mut digests) = (HashMap::new(), HashMap::new());
    for (i, d) in raw.device_tokens.into_iter().enumerate() {
        let f = |name: &str| format!("device_tokens[{i}].{name}");
        let id = check_id(at, &d.id, f("id"), &mut ids)?;
        let app_id = d
            .app_id
            .map(|v| non_empty(at, &v, f("app_id")))
            .transpose()?;
        let digest = check_digest(at, &d.digest, f("digest"), &mut digests)?;
        file.device_tokens
            .push(DeviceTokenEntry { id, app_id, digest });
    }

    let mut ids = HashMap::new();
    for (i, a) in raw.s2s_apps.into_iter().enumerate() {
        let f = |name: &str| format!("s2s_apps[{i}].{name}");
        let id = check_id(at, &a.id, f("id"), &mut ids)?;
        let name = non_empty(at, &a.name, f("name"))?;
        let var = non_empty(at, &a.secret_env, f("secret_env"))?;
        let secret = match env(&var) {
            None => {
                return Err(at.at(
                    &a.secret_env,
                    f("secret_env"),
                    format!("the environment variable {var} is not set"),
                ));
            }
            Some(s) if s.trim().is_empty() => {
                return Err(at.at(
                    &a.secret_env,
                    f("secret_env"),
                    format!("the environment variable {var} is empty"),
                ));
            }
            Some(s) => SecretString::from(s),
        };
        file.s2s_apps.push(S2sAppEntry {
            id,
            name,
            secret_env: var,
            secret,
        });
    }

    if let Some(r) = raw.routes {
        let d = Routes::default();
        file.routes = Routes {
            whoami: r.whoami.unwrap_or(d.whoami),
            xivo: r.xivo.unwrap_or(d.xivo),
            voltmx: r.voltmx.unwrap_or(d.voltmx),
            opentact: r.opentact.unwrap_or(d.opentact),
            ccai: r.ccai.unwrap_or(d.ccai),
            wildix: r.wildix.unwrap_or(d.wildix),
            forward_auth: r.forward_auth.unwrap_or(d.forward_auth),
        };
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_characters() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("a\nbc", 3), (2, 2));
        assert_eq!(line_column("é=1\nx", 2), (1, 2));
        assert_eq!(line_column("é=1\nx", 3), (1, 3));
        assert_eq!(line_column("ab", 99), (1, 3));
        // Inside a multi-byte character: the character's position.
        assert_eq!(line_column("é", 1), (1, 1));
    }

    #[test]
    fn quoted_values_are_left_out() {
        assert_eq!(
            without_quoted_values("invalid type: string \"hunter2\", expected a boolean"),
            "invalid type: string, expected a boolean"
        );
        assert_eq!(
            without_quoted_values("invalid type: integer `5`, expected a sequence"),
            "invalid type: integer `5`, expected a sequence"
        );
        assert_eq!(without_quoted_values("string \"open"), "string");
    }

    #[test]
    fn phc_checks() {
        let phc = tower_authn_password::hash_password("x").expect("hash");
        assert_eq!(check_phc(&phc), Ok(()));
        assert!(check_phc("wonderland").is_err());
        assert!(check_phc("$2b$12$abcdefghijklmnopqrstuv").is_err());
        assert!(check_phc("$argon2id$v=19$m=999999,t=2,p=1$c2FsdHNhbHQ$aGFzaA").is_err());
        assert!(check_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ").is_err());
    }

    #[test]
    fn debug_redacts() {
        let file = parse(
            "f",
            "[[s2s_apps]]\nid = \"a\"\nname = \"n\"\nsecret_env = \"V\"\n",
            |_| Some("top-secret-value".to_owned()),
        )
        .expect("parses");
        let debug = format!("{file:?}");
        assert!(!debug.contains("top-secret-value"), "{debug}");
        assert!(debug.contains("[REDACTED]"));
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        let file = parse("f", "", |_| None).expect("parses");
        assert!(file.users.is_empty() && file.app_keys.is_empty());
        assert_eq!(file.routes, Routes::default());
        assert!(file.routes.off().is_empty());
    }
}
