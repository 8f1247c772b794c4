//! `authn`: the command-line companion of tower-authn's gateway. Password hashes, HA1Bs, new
//! keys and their digests, JWTs, signed server-to-server requests, and `check-config` for the
//! gateway's configuration file. See the crate's README.

mod input;
mod jwt;
mod keys;
mod sign;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

/// What a command answers: its standard output and exit code.
struct Output {
    stdout: String,
    stderr: String,
    code: u8,
}

impl Output {
    fn ok(stdout: String) -> Self {
        Self {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }
}

/// Why a command failed.
enum Failure {
    /// The answer is no (a mismatch, an invalid token, a broken file): exit 1.
    No(String),
    /// The input was unusable: exit 2.
    Bad(String),
}

type Outcome = Result<Output, Failure>;

fn bad(message: impl Into<String>) -> Failure {
    Failure::Bad(message.into())
}

const MAIN_EXAMPLES: &str = "\
EXAMPLES:
  authn hash-password                      # prompts for the password, prints a PHC string
  printf 'wonderland\\n' | authn hash-password
  GATEWAY_KEY_PEPPER=... authn new-key --kind app --app-id demo-app
  GATEWAY_JWT_SECRET=... authn mint-jwt --secret-env GATEWAY_JWT_SECRET --sub alice
  authn check-config examples/gateway/gateway.toml

Secrets never come from the command line: passwords from a prompt (or one line of stdin),
keys and peppers from environment variables.";

/// tower-authn's command-line tool.
#[derive(Parser)]
#[command(
    name = "authn",
    version,
    about = "tower-authn's command-line tool: password hashes, HA1Bs, keys and their digests, JWTs, signed server-to-server requests, gateway configuration checks",
    after_help = MAIN_EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Hashes a password as an argon2id PHC string (for `password_hash` in the gateway file).
    #[command(after_help = "\
EXAMPLES:
  authn hash-password                            # prompts twice (no echo)
  printf 'wonderland\\n' | authn hash-password     # one line of stdin

The password is read from a prompt when stdin is a terminal, else as one line of stdin;
never from the command line.")]
    HashPassword,

    /// Checks a password against a PHC string: prints `ok` (exit 0) or `mismatch` (exit 1).
    #[command(after_help = "\
EXAMPLES:
  authn verify-password --hash '$argon2id$v=19$m=19456,t=2,p=1$...'
  printf 'wonderland\\n' | authn verify-password --hash \"$PHC\"

Exit status: 0 ok, 1 mismatch, 2 unusable hash or input.")]
    VerifyPassword {
        /// The PHC string (quote it: it contains `$`).
        #[arg(long, value_name = "PHC")]
        hash: String,
    },

    /// Computes a SIP user's HA1B, md5(login@domain:domain:password), and its digest for the
    /// gateway file.
    #[command(after_help = "\
EXAMPLES:
  authn ha1b --login alice --domain sip.example.com
  printf 'wonderland\\n' | GATEWAY_KEY_PEPPER=demo-pepper-0123456789abcdef0123456789 \\
    authn ha1b --login alice --domain sip.example.com

Prints the HA1B (a password equivalent: give it only to the SIP client) and, when
GATEWAY_KEY_PEPPER is set, the line `ha1b_digest = \"...\"` for the user's [[users]] table.")]
    Ha1b {
        /// The SIP login.
        #[arg(long)]
        login: String,
        /// The SIP domain.
        #[arg(long)]
        domain: String,
    },

    /// Generates a random key and prints it once, with what to put in the gateway's
    /// configuration.
    #[command(after_help = "\
EXAMPLES:
  GATEWAY_KEY_PEPPER=... authn new-key --kind app --app-id demo-app --id demo-app-key
  GATEWAY_KEY_PEPPER=... authn new-key --kind device --id demo-device --app-id demo-app
  GATEWAY_KEY_PEPPER=... authn new-key --kind access --id alice-pair
  authn new-key --kind shared                    # a value for PLAY_AUTH_TOKEN

app and device print an [[app_keys]] / [[device_tokens]] table whose digest is keyed with
GATEWAY_KEY_PEPPER (required for them); the key itself is printed once, on the first line.")]
    NewKey {
        /// What the key is for.
        #[arg(long, value_enum)]
        kind: keys::Kind,
        /// The app the key (or device) belongs to (required for app).
        #[arg(long, value_name = "APP_ID")]
        app_id: Option<String>,
        /// The record's id (key id, device id); random when left out.
        #[arg(long)]
        id: Option<String>,
    },

    /// Prints the keyed digest of an existing key or token (for a file entry of a key that
    /// was already handed out).
    #[command(after_help = "\
EXAMPLES:
  printf 'demo-app-key-1\\n' | GATEWAY_KEY_PEPPER=demo-pepper-0123456789abcdef0123456789 \\
    authn digest --hint
  GATEWAY_KEY_PEPPER=... authn digest            # prompts for the key (no echo)

The key is read like a password (prompt, or one line of stdin); the digest is HMAC-SHA256
keyed with GATEWAY_KEY_PEPPER, as the gateway stores it.")]
    Digest {
        /// Also print the masked `hint` line (for `[[app_keys]]`).
        #[arg(long)]
        hint: bool,
    },

    /// Signs a JWT.
    #[command(after_help = "\
EXAMPLES:
  GATEWAY_JWT_SECRET=change-me-to-32-bytes-or-more-please \\
    authn mint-jwt --secret-env GATEWAY_JWT_SECRET --sub alice --iss tower-authn --ttl 900
  authn mint-jwt --key-file es256.pem --sub alice --aud api --claim roles='[\"admin\"]'

--claim NAME=VALUE: VALUE is read as JSON when it is JSON (numbers, true, arrays, objects,
\"quoted\"), else as a string. iss, aud, iat, exp and jti come from the options.")]
    MintJwt(jwt::MintArgs),

    /// Prints a JWT's header and claims, UNVERIFIED (the signature is not checked).
    #[command(after_help = "\
EXAMPLES:
  authn inspect-jwt eyJhbGciOi...
  echo \"$JWT\" | authn inspect-jwt -")]
    InspectJwt {
        /// The token, or `-` to read it from stdin.
        token: String,
    },

    /// Verifies a JWT: prints its claims (exit 0) or the reason it is refused (exit 1).
    #[command(after_help = "\
EXAMPLES:
  authn verify-jwt \"$JWT\" --secret-env GATEWAY_JWT_SECRET --iss tower-authn
  echo \"$JWT\" | authn verify-jwt - --jwks-file jwks.json --aud api
  authn verify-jwt \"$JWT\" --key-file public.pem --kid 2024-01

Exit status: 0 valid, 1 refused (reason on stderr), 2 unusable key or input.")]
    VerifyJwt(jwt::VerifyArgs),

    /// Signs a server-to-server request (Wildix WMS 5) and prints its headers and a curl line.
    #[command(after_help = "\
EXAMPLES:
  S2S_CRM_SECRET=s3cr3t-k3y-0123456789abcdef authn sign-request \\
    --app-id s2s-app-id-123 --app-name 'CRM Connector' --secret-env S2S_CRM_SECRET \\
    --method GET --url http://127.0.0.1:8080/api/v1/PBX/CallHistory/ --param count=10
  authn sign-request ... --method POST --url https://pbx.example.com/api/v1/Originate/ \\
    --header 'Content-Type: application/x-www-form-urlencoded' --body-file body.txt

Prints the request line, every header the signer set (Host, X-APP-ID, Authorization:
Bearer <JWT>), the body as sent, then a curl line. Query and form keys are sent lowercased
and sorted, as the signer sends them.")]
    SignRequest(sign::SignArgs),

    /// Checks a gateway configuration file (GATEWAY_CONFIG) without starting a server.
    #[command(after_help = "\
EXAMPLES:
  S2S_CRM_SECRET=s3cr3t-k3y-0123456789abcdef authn check-config examples/gateway/gateway.toml

Prints `FILE: ok (...)` (exit 0) or the first problem as FILE:LINE:COLUMN: FIELD: message
(exit 1). The variables the file's secret_env fields name must be set.")]
    CheckConfig {
        /// The file.
        file: PathBuf,
    },
}

fn run(cli: Cli) -> Outcome {
    match cli.command {
        Command::HashPassword => {
            let password = input::password(true)?;
            let phc = tower_authn_password::hash_password(password.expose_secret())
                .map_err(|e| bad(e.to_string()))?;
            Ok(Output::ok(format!("{phc}\n")))
        }
        Command::VerifyPassword { hash } => {
            let password = input::password(false)?;
            match tower_authn_password::verify_password(hash.trim(), password.expose_secret()) {
                Ok(true) => Ok(Output::ok("ok\n".to_owned())),
                Ok(false) => Ok(Output {
                    stdout: "mismatch\n".to_owned(),
                    stderr: String::new(),
                    code: 1,
                }),
                Err(e) => Err(bad(format!("--hash: {e}"))),
            }
        }
        Command::Ha1b { login, domain } => keys::ha1b(&login, &domain),
        Command::NewKey { kind, app_id, id } => keys::new_key(kind, app_id, id),
        Command::Digest { hint } => keys::digest(hint),
        Command::MintJwt(args) => jwt::mint(&args),
        Command::InspectJwt { token } => jwt::inspect(&token),
        Command::VerifyJwt(args) => jwt::verify(&args),
        Command::SignRequest(args) => sign::sign(&args),
        Command::CheckConfig { file } => {
            let env = |name: &str| std::env::var(name).ok();
            match tower_authn_cli::config_file::load(&file, env) {
                Ok(f) => {
                    let mut line = format!(
                        "{}: ok ({} users, {} app keys, {} device tokens, {} s2s apps",
                        file.display(),
                        f.users.len(),
                        f.app_keys.len(),
                        f.device_tokens.len(),
                        f.s2s_apps.len()
                    );
                    let off = f.routes.off();
                    if !off.is_empty() {
                        line.push_str(&format!("; routes off: {}", off.join(", ")));
                    }
                    line.push_str(")\n");
                    Ok(Output::ok(line))
                }
                Err(e) => Err(Failure::No(e.to_string())),
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print to stdout and exit 0; usage errors to stderr, exit 2.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let (stdout, stderr, code) = match run(cli) {
        Ok(out) => (out.stdout, out.stderr, out.code),
        Err(Failure::No(message)) => (String::new(), format!("{message}\n"), 1),
        Err(Failure::Bad(message)) => (String::new(), format!("authn: {message}\n"), 2),
    };
    // A closed pipe is not worth a panic: write what can be written.
    let _ = std::io::stdout().lock().write_all(stdout.as_bytes());
    let _ = std::io::stderr().lock().write_all(stderr.as_bytes());
    ExitCode::from(code)
}
