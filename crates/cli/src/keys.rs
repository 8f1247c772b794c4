//! `ha1b` and `new-key`.

use secrecy::ExposeSecret as _;
use tower_authn_core::issue::mask_key;
use tower_authn_core::store::generate_key;

use crate::input::{hasher, password, pepper};
use crate::{Outcome, Output, bad};

/// What `new-key` makes a key for.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Kind {
    /// An app API key (`X-VoltMX-App-API-Key`): an `[[app_keys]]` table.
    App,
    /// A device token (`X-Device-AuthToken`): a `[[device_tokens]]` table.
    Device,
    /// An access pair (`AccessToken` + `AccessSecret`) and their digests.
    Access,
    /// A shared server token: the value for PLAY_AUTH_TOKEN.
    Shared,
}

/// A TOML basic string.
pub(crate) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(crate) fn ha1b(login: &str, domain: &str) -> Outcome {
    if login.is_empty() || domain.is_empty() {
        return Err(bad("--login and --domain must not be empty"));
    }
    let pepper = pepper()?;
    let password = password(false)?;
    let ha1b = secrecy::SecretString::from(tower_authn_password::ha1b(
        login,
        domain,
        password.expose_secret(),
    ));
    let mut out = format!("{}\n", ha1b.expose_secret());
    let mut err = String::new();
    match pepper {
        Some(p) => {
            let digest = hasher(&p).digest(ha1b.expose_secret());
            out.push_str(&format!("ha1b_digest = \"{}\"\n", digest.to_hex()));
        }
        None => err.push_str(
            "authn: set GATEWAY_KEY_PEPPER (the gateway's) to also get the ha1b_digest line \
             for the gateway file\n",
        ),
    }
    Ok(Output {
        stdout: out,
        stderr: err,
        code: 0,
    })
}

/// A random id: `prefix-` and 8 hex digits.
fn random_id(prefix: &str) -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 4];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}-{}", hex::encode(bytes))
}

fn non_empty(option: &str, value: Option<String>) -> Result<Option<String>, crate::Failure> {
    match value {
        Some(v) if v.trim().is_empty() => Err(bad(format!("{option} must not be empty"))),
        other => Ok(other),
    }
}

pub(crate) fn new_key(kind: Kind, app_id: Option<String>, id: Option<String>) -> Outcome {
    let app_id = non_empty("--app-id", app_id)?;
    let id = non_empty("--id", id)?;
    let pepper = pepper()?;
    let need_pepper = |what: &str| {
        bad(format!(
            "GATEWAY_KEY_PEPPER is not set: the digest of {what} is keyed with the gateway's \
             pepper (set it to the gateway's value)"
        ))
    };
    let key = secrecy::SecretString::from(generate_key());
    let key_text = key.expose_secret();
    let out = match kind {
        Kind::Shared => {
            if app_id.is_some() || id.is_some() {
                return Err(bad("--app-id and --id are not used with --kind shared"));
            }
            format!(
                "# The shared server token (shown once): start the gateway with\n\
                 PLAY_AUTH_TOKEN={key_text}\n"
            )
        }
        Kind::App => {
            let pepper = pepper.ok_or_else(|| need_pepper("an app key"))?;
            let app_id = app_id.ok_or_else(|| bad("--app-id is required with --kind app"))?;
            let id = id.unwrap_or_else(|| random_id(&format!("{app_id}-key")));
            format!(
                "key: {key_text}\n\
                 # The key above is shown once: give it to the app. Paste the table below into\n\
                 # the gateway file (the digest is keyed with GATEWAY_KEY_PEPPER):\n\
                 [[app_keys]]\n\
                 id = {}\n\
                 app_id = {}\n\
                 digest = \"{}\"\n\
                 hint = {}\n",
                toml_string(&id),
                toml_string(&app_id),
                hasher(&pepper).digest(key_text).to_hex(),
                toml_string(&mask_key(key_text)),
            )
        }
        Kind::Device => {
            let pepper = pepper.ok_or_else(|| need_pepper("a device token"))?;
            let id = id.unwrap_or_else(|| random_id("device"));
            let app = app_id
                .map(|a| format!("app_id = {}\n", toml_string(&a)))
                .unwrap_or_default();
            format!(
                "key: {key_text}\n\
                 # The token above is shown once: give it to the device. Paste the table below\n\
                 # into the gateway file (the digest is keyed with GATEWAY_KEY_PEPPER):\n\
                 [[device_tokens]]\n\
                 id = {}\n\
                 {app}\
                 digest = \"{}\"\n",
                toml_string(&id),
                hasher(&pepper).digest(key_text).to_hex(),
            )
        }
        Kind::Access => {
            if app_id.is_some() {
                return Err(bad("--app-id is not used with --kind access"));
            }
            let secret = secrecy::SecretString::from(generate_key());
            let id = id.unwrap_or_else(|| random_id("access"));
            let mut out = format!(
                "access_token: {key_text}\n\
                 access_secret: {}\n\
                 # The pair above is shown once: send it as the AccessToken and AccessSecret headers.\n",
                secret.expose_secret()
            );
            match pepper {
                Some(p) => {
                    let h = hasher(&p);
                    out.push_str(&format!(
                        "# Its key-store record (kind access; digests keyed with GATEWAY_KEY_PEPPER):\n\
                         id = {}\n\
                         digest = \"{}\"\n\
                         secret_digest = \"{}\"\n",
                        toml_string(&id),
                        h.digest(key_text).to_hex(),
                        h.digest(secret.expose_secret()).to_hex(),
                    ));
                }
                None => out.push_str(
                    "# Set GATEWAY_KEY_PEPPER to also get the digests a key store keeps.\n",
                ),
            }
            out
        }
    };
    Ok(Output::ok(out))
}

/// `digest`: the keyed digest of an existing key (from a prompt or one line of stdin).
pub(crate) fn digest(with_hint: bool) -> Outcome {
    let pepper = pepper()?.ok_or_else(|| {
        bad("GATEWAY_KEY_PEPPER is not set: a digest is keyed with the gateway's pepper")
    })?;
    let key = password(false)?;
    let mut out = format!(
        "digest = \"{}\"\n",
        hasher(&pepper).digest(key.expose_secret()).to_hex()
    );
    if with_hint {
        out.push_str(&format!(
            "hint = {}\n",
            toml_string(&mask_key(key.expose_secret()))
        ));
    }
    Ok(Output::ok(out))
}
