//! Reading secrets and files: passwords from a prompt or one line of stdin, variables from
//! the environment, bounded files.

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::path::Path;

use secrecy::{ExposeSecret as _, SecretString};

use crate::{Failure, bad};

/// The longest password line read from stdin.
const MAX_LINE: u64 = 64 * 1024;

/// A password: from a prompt without echo when stdin is a terminal (twice when `confirm`),
/// else one line of stdin (its line ending removed).
pub(crate) fn password(confirm: bool) -> Result<SecretString, Failure> {
    let password = if std::io::stdin().is_terminal() {
        let first = prompt("Password: ")?;
        if confirm {
            let again = prompt("Again: ")?;
            if first.expose_secret() != again.expose_secret() {
                return Err(bad("the two passwords differ"));
            }
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_LINE + 1)
            .read_line(&mut line)
            .map_err(|e| bad(format!("cannot read the password from stdin: {e}")))?;
        let line = SecretString::from(line);
        let text = line.expose_secret();
        if text.len() as u64 > MAX_LINE {
            return Err(bad("the password line on stdin is too long"));
        }
        let text = text.strip_suffix('\n').unwrap_or(text);
        SecretString::from(text.strip_suffix('\r').unwrap_or(text).to_owned())
    };
    if password.expose_secret().is_empty() {
        return Err(bad(
            "empty password (type it at the prompt, or give one line on stdin)",
        ));
    }
    Ok(password)
}

fn prompt(text: &str) -> Result<SecretString, Failure> {
    rpassword::prompt_password(text)
        .map(SecretString::from)
        .map_err(|e| bad(format!("cannot read the password: {e}")))
}

/// The value of environment variable `name`, which `option` named; set and non-empty.
pub(crate) fn env_secret(option: &str, name: &str) -> Result<SecretString, Failure> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(SecretString::from(v)),
        Ok(_) => Err(bad(format!(
            "{option}: the environment variable {name} is empty"
        ))),
        Err(std::env::VarError::NotPresent) => Err(bad(format!(
            "{option}: the environment variable {name} is not set"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(bad(format!(
            "{option}: the environment variable {name} is not UTF-8"
        ))),
    }
}

/// `GATEWAY_KEY_PEPPER`, as the gateway requires it (at least 32 bytes); `None` when unset.
pub(crate) fn pepper() -> Result<Option<SecretString>, Failure> {
    match std::env::var("GATEWAY_KEY_PEPPER") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(bad("GATEWAY_KEY_PEPPER is not UTF-8")),
        Ok(p) if p.len() < 32 => Err(bad(format!(
            "GATEWAY_KEY_PEPPER must be at least 32 bytes, as the gateway requires (it has {})",
            p.len()
        ))),
        Ok(p) => Ok(Some(SecretString::from(p))),
    }
}

/// The hasher the gateway digests keys with, keyed with `pepper`.
pub(crate) fn hasher(pepper: &SecretString) -> tower_authn_core::KeyHasher {
    tower_authn_core::KeyHasher::hmac(pepper.expose_secret().as_bytes().to_vec())
}

/// The bytes of `path` (`-`: stdin), at most `limit`; `option` names it in errors.
pub(crate) fn read_bounded(option: &str, path: &Path, limit: u64) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    let result = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
    };
    result.map_err(|e| bad(format!("{option}: cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(bad(format!(
            "{option}: {} is larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// A text file (`-`: stdin), at most `limit` bytes.
pub(crate) fn read_text(option: &str, path: &Path, limit: u64) -> Result<String, Failure> {
    String::from_utf8(read_bounded(option, path, limit)?)
        .map_err(|_| bad(format!("{option}: {} is not UTF-8 text", path.display())))
}
