//! The configuration file: every kind of broken file answers one line with its position and
//! field; a full file reads back field by field; the sample file reproduces the demo
//! identities; `parse` never panics.

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use secrecy::ExposeSecret;
use tower_authn_cli::config_file::{self, ConfigError, GatewayFile, Routes};
use tower_authn_core::{KeyHasher, KeyKind};

/// "wonderland" as argon2id (authn hash-password), as in the sample file.
const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$dYzM0uXgOrLJxwoF0G7b8Q$vOHlmJU3mc/Jx1jqa1Szru8OM4CweUGlqg3dKZpSfgU";
const PEPPER: &str = "demo-pepper-0123456789abcdef0123456789";
const D1: &str = "932ee21913a57eea515178e59bf62b987daf00b6fb667e6e869692e6ab1d78d2";
const D2: &str = "00716b09f078b4d341a414a6d66798a88a292848aa3b66276b6b1da318ee356c";

fn env(name: &str) -> Option<String> {
    match name {
        "S2S_CRM_SECRET" => Some("s3cr3t-k3y-0123456789abcdef".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn err(text: &str) -> ConfigError {
    match config_file::parse("gw.toml", text, env) {
        Ok(_) => panic!("parsed:\n{text}"),
        Err(e) => e,
    }
}

fn user(extra: &str) -> String {
    format!("[[users]]\nlogin = \"alice\"\npassword_hash = \"{PHC}\"\n{extra}")
}

#[test]
fn every_error_names_file_line_column_and_field() {
    let two_users = format!(
        "{}\n[[users]]\nlogin = \"alice\"\npassword_hash = \"{PHC}\"\n",
        user("")
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown top-level key",
            "# comment\nusers_typo = []\n".to_owned(),
            "gw.toml:2:1: users_typo: unknown field `users_typo`, expected one of `users`, \
             `app_keys`, `device_tokens`, `s2s_apps`, `routes`",
        ),
        (
            "unknown field in a user (a plaintext password)",
            user("password = \"wonderland\"\n"),
            "gw.toml:4:1: users[0].password: unknown field `password`, expected one of `login`, \
             `password_hash`, `name`, `email`, `roles`, `sip_domain`, `ha1b_digest`, `disabled` \
             (the file holds no plaintext secret: use password_hash from `authn hash-password`, \
             a digest from `authn new-key`, ha1b_digest from `authn ha1b`, or secret_env)",
        ),
        (
            "unknown field in routes",
            "[routes]\nxivo = true\nsoap = false\n".to_owned(),
            "gw.toml:3:1: routes.soap: unknown field `soap`, expected one of `whoami`, `xivo`, \
             `voltmx`, `opentact`, `ccai`, `wildix`, `forward_auth`",
        ),
        (
            "wrong type (routes)",
            "[routes]\nxivo = \"no\"\n".to_owned(),
            "gw.toml:2:8: routes.xivo: invalid type: string, expected a boolean",
        ),
        (
            "wrong type (roles)",
            user("roles = \"admin\"\n"),
            "gw.toml:4:9: users[0].roles: invalid type: string, expected a sequence",
        ),
        (
            "wrong type (a table for an array of tables)",
            "[users]\nlogin = \"x\"\n".to_owned(),
            "gw.toml:1:1: users: invalid type: map, expected a sequence",
        ),
        (
            "wrong type (a number for a table)",
            "routes = 5\n".to_owned(),
            "gw.toml:1:10: routes: invalid type: integer `5`, expected a table",
        ),
        (
            "wrong type (an array for a table)",
            "routes = []\n".to_owned(),
            "gw.toml:1:10: routes: invalid type: array, expected a table",
        ),
        (
            "wrong type (a number in an array of tables)",
            "users = [5]\n".to_owned(),
            "gw.toml:1:10: users[0]: invalid type: integer `5`, expected a table",
        ),
        (
            "missing field",
            "[[app_keys]]\nid = \"k\"\ndigest = \"\"\n".to_owned(),
            "gw.toml:1:1: app_keys[0].app_id: required field is missing",
        ),
        (
            "bad PHC (a plaintext password)",
            "[[users]]\nlogin = \"alice\"\npassword_hash = \"wonderland\"\n".to_owned(),
            "gw.toml:3:17: users[0].password_hash: not a PHC string (make one with `authn \
             hash-password`)",
        ),
        (
            "bad PHC (not argon2)",
            "[[users]]\nlogin = \"a\"\npassword_hash = \"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\"\n"
                .to_owned(),
            "gw.toml:3:17: users[0].password_hash: not an argon2 hash (make one with `authn \
             hash-password`)",
        ),
        (
            "bad PHC (over the limits)",
            "[[users]]\nlogin = \"a\"\npassword_hash = \"$argon2id$v=19$m=1048576,t=2,p=1$dYzM0uXgOrLJxwoF0G7b8Q$vOHlmJU3mc/Jx1jqa1Szru8OM4CweUGlqg3dKZpSfgU\"\n"
                .to_owned(),
            "gw.toml:3:17: users[0].password_hash: argon2 parameters over the limits \
             (m <= 65536 KiB, t <= 10)",
        ),
        (
            "bad digest (too short)",
            format!("[[app_keys]]\nid = \"k\"\napp_id = \"a\"\ndigest = \"{}\"\n", &D1[..63]),
            "gw.toml:4:10: app_keys[0].digest: not a digest: 64 lowercase hex digits \
             (HMAC-SHA256 keyed with GATEWAY_KEY_PEPPER, as `authn new-key` and `authn ha1b` \
             print it)",
        ),
        (
            "bad digest (upper case)",
            format!("[[device_tokens]]\nid = \"d\"\ndigest = \"{}\"\n", D1.to_uppercase()),
            "gw.toml:3:10: device_tokens[0].digest: not a digest: 64 lowercase hex digits \
             (HMAC-SHA256 keyed with GATEWAY_KEY_PEPPER, as `authn new-key` and `authn ha1b` \
             print it)",
        ),
        (
            "bad ha1b_digest (an HA1B, not its digest)",
            user("ha1b_digest = \"d1c63d9ca7950c26102b560288c86c6b\"\n"),
            "gw.toml:4:15: users[0].ha1b_digest: not a digest: 64 lowercase hex digits \
             (HMAC-SHA256 keyed with GATEWAY_KEY_PEPPER, as `authn new-key` and `authn ha1b` \
             print it)",
        ),
        (
            "duplicate login",
            two_users,
            "gw.toml:6:9: users[1].login: duplicate: users[0].login has the same value",
        ),
        (
            "duplicate digest",
            format!(
                "[[device_tokens]]\nid = \"a\"\ndigest = \"{D1}\"\n[[device_tokens]]\nid = \"b\"\ndigest = \"{D1}\"\n"
            ),
            "gw.toml:6:10: device_tokens[1].digest: duplicate: device_tokens[0].digest has the \
             same digest (the same secret)",
        ),
        (
            "empty login",
            "[[users]]\nlogin = \"\"\npassword_hash = \"x\"\n".to_owned(),
            "gw.toml:2:9: users[0].login: must not be empty",
        ),
        (
            "missing secret env",
            "[[s2s_apps]]\nid = \"s2s-app-id-123\"\nname = \"CRM Connector\"\nsecret_env = \"S2S_NOPE\"\n"
                .to_owned(),
            "gw.toml:4:14: s2s_apps[0].secret_env: the environment variable S2S_NOPE is not set",
        ),
        (
            "empty secret env",
            "[[s2s_apps]]\nid = \"x\"\nname = \"X\"\nsecret_env = \"EMPTY\"\n".to_owned(),
            "gw.toml:4:14: s2s_apps[0].secret_env: the environment variable EMPTY is empty",
        ),
        (
            "bad expires_at",
            format!(
                "[[app_keys]]\nid = \"k\"\napp_id = \"a\"\ndigest = \"{D1}\"\nexpires_at = \"next tuesday\"\n"
            ),
            "gw.toml:5:14: app_keys[0].expires_at: not an RFC 3339 date-time with a time zone \
             (\"2027-01-31T00:00:00Z\")",
        ),
        (
            "expires_at without a time zone",
            format!(
                "[[app_keys]]\nid = \"k\"\napp_id = \"a\"\ndigest = \"{D1}\"\nexpires_at = 2027-01-31T00:00:00\n"
            ),
            "gw.toml:5:14: app_keys[0].expires_at: not an RFC 3339 date-time with a time zone \
             (\"2027-01-31T00:00:00Z\")",
        ),
        (
            "TOML syntax error (unterminated string)",
            "[[users]]\nlogin = \"alice\npassword_hash = \"x\"\n".to_owned(),
            "gw.toml:2:15: users[0].login: invalid basic string, expected `\"`",
        ),
        (
            "TOML syntax error (unquoted value)",
            "[routes]\nxivo = yes\n".to_owned(),
            "gw.toml:2:8: routes.xivo: string values must be quoted, expected literal string",
        ),
        (
            "TOML syntax error (duplicate key)",
            "[routes]\nxivo = true\nxivo = false\n".to_owned(),
            "gw.toml:3:1: routes.xivo: duplicate key",
        ),
        (
            "TOML syntax error outside any field",
            "[[users]\n".to_owned(),
            "gw.toml:1:9: syntax error: unclosed array table, expected `]`",
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, expected) in &cases {
        let e = err(text);
        let line = e.to_string();
        if line != *expected {
            failures.push(format!("{what}:\n  got      {line}\n  expected {expected}"));
        }
        assert!(!line.contains('\n'), "{what}: one line: {line:?}");
        assert_eq!(e.file(), "gw.toml");
        assert!(e.line().is_some() && e.column().is_some(), "{what}");
        assert!(line.contains(e.field()), "{what}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn accessors_and_field_paths() {
    let e = err("[routes]\nxivo = 1\n");
    assert_eq!(
        (e.line(), e.column(), e.field()),
        (Some(2), Some(8), "routes.xivo")
    );
    assert_eq!(e.message(), "invalid type: integer `1`, expected a boolean");
    // The second of two users, in an inline array of tables.
    let text = format!(
        "users = [\n  {{ login = \"a\", password_hash = \"{PHC}\" }},\n  {{ login = \"b\", password_hash = \"{PHC}\", secret = \"s\" }},\n]\n"
    );
    let e = err(&text);
    assert_eq!(e.field(), "users[1].secret");
    let line = text.lines().nth(2).expect("line 3");
    let column = line.find("secret").expect("secret") + 1;
    assert_eq!((e.line(), e.column()), (Some(3), Some(column)));
}

#[test]
fn no_value_of_the_file_is_quoted_in_an_error() {
    for text in [
        "[routes]\nxivo = \"hunter2\"\n".to_owned(),
        "[[users]]\nlogin = \"a\"\npassword_hash = \"hunter2\"\n".to_owned(),
        user("roles = \"hunter2\"\n"),
        user("disabled = \"hunter2\"\n"),
        "[[s2s_apps]]\nid = \"x\"\nname = \"X\"\nsecret_env = \"hunter2\"\n".to_owned(),
    ] {
        let line = err(&text).to_string();
        // The secret_env case names the variable, which is not a secret.
        if !text.contains("secret_env") {
            assert!(!line.contains("hunter2"), "{line}");
        }
    }
}

#[test]
fn an_unreadable_file_is_named() {
    let e = config_file::load(std::path::Path::new("/nonexistent/gw.toml"), env).unwrap_err();
    assert_eq!(e.file(), "/nonexistent/gw.toml");
    assert_eq!(e.line(), None);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/gw.toml: cannot read the file: "),
        "{e}"
    );
    let _: &dyn std::error::Error = &e;
}

#[test]
fn a_full_file_reads_back() {
    let text = format!(
        r#"
[[users]]
login = "alice"
password_hash = "{PHC}"
name = "Alice Liddell"
email = "alice@example.com"
roles = ["admin", "ops"]
sip_domain = "sip.example.com"
ha1b_digest = "{D2}"
disabled = false

[[users]]
login = "carol"
password_hash = "{PHC}"
disabled = true

[[app_keys]]
id = "demo-app-key"
app_id = "demo-app"
digest = "{D1}"
description = "demo key"
hint = "demo****ey-1"
expires_at = "2027-01-31T12:30:00+01:00"

[[app_keys]]
id = "native-date"
app_id = "other-app"
digest = "{D2}"
expires_at = 2027-01-31T11:30:00Z

[[device_tokens]]
id = "demo-device"
app_id = "demo-app"
digest = "{D2}"

[[device_tokens]]
id = "loose-device"
digest = "{D1}"

[[s2s_apps]]
id = "s2s-app-id-123"
name = "CRM Connector"
secret_env = "S2S_CRM_SECRET"

[routes]
xivo = false
forward_auth = false
"#
    );
    let file: GatewayFile = config_file::parse("gw.toml", &text, env).expect("parses");

    let [alice, carol] = &file.users[..] else {
        panic!("two users")
    };
    assert_eq!(alice.login, "alice");
    assert_eq!(alice.password_hash.expose_secret(), PHC);
    assert_eq!(alice.name.as_deref(), Some("Alice Liddell"));
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.roles, ["admin", "ops"]);
    assert_eq!(alice.sip_domain.as_deref(), Some("sip.example.com"));
    assert_eq!(alice.ha1b_digest.map(|d| d.to_hex()).as_deref(), Some(D2));
    assert!(!alice.disabled);
    assert_eq!(carol.login, "carol");
    assert!(carol.disabled);
    assert!(carol.name.is_none() && carol.email.is_none() && carol.sip_domain.is_none());
    assert!(carol.roles.is_empty() && carol.ha1b_digest.is_none());

    let [key, native] = &file.app_keys[..] else {
        panic!("two app keys")
    };
    assert_eq!(key.id, "demo-app-key");
    assert_eq!(key.app_id, "demo-app");
    assert_eq!(key.digest.to_hex(), D1);
    assert_eq!(key.description.as_deref(), Some("demo key"));
    assert_eq!(key.hint.as_deref(), Some("demo****ey-1"));
    // 2027-01-31T11:30:00Z
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_801_395_000);
    assert_eq!(key.expires_at, Some(at));
    assert_eq!(native.expires_at, Some(at));
    assert!(native.description.is_none() && native.hint.is_none());

    let [device, loose] = &file.device_tokens[..] else {
        panic!("two devices")
    };
    assert_eq!(
        (device.id.as_str(), device.app_id.as_deref()),
        ("demo-device", Some("demo-app"))
    );
    assert_eq!(device.digest.to_hex(), D2);
    assert_eq!(
        (loose.id.as_str(), loose.app_id.as_deref()),
        ("loose-device", None)
    );

    let [app] = &file.s2s_apps[..] else {
        panic!("one app")
    };
    assert_eq!(
        (app.id.as_str(), app.name.as_str(), app.secret_env.as_str()),
        ("s2s-app-id-123", "CRM Connector", "S2S_CRM_SECRET")
    );
    assert_eq!(app.secret.expose_secret(), "s3cr3t-k3y-0123456789abcdef");

    assert_eq!(
        file.routes,
        Routes {
            xivo: false,
            forward_auth: false,
            ..Routes::default()
        }
    );
    assert_eq!(file.routes.off(), ["xivo", "forward_auth"]);

    // As store records.
    let users = file.user_records();
    assert_eq!(users[0].login, "alice");
    assert_eq!(users[0].password_hash.expose_secret(), PHC);
    assert_eq!(users[0].name.as_deref(), Some("Alice Liddell"));
    assert_eq!(users[0].email.as_deref(), Some("alice@example.com"));
    assert_eq!(users[0].roles, ["admin", "ops"]);
    assert_eq!(users[0].attributes["sip_domain"], "sip.example.com");
    assert!(users[0].ha1b.is_none());
    assert!(users[1].disabled && users[1].attributes.is_empty());

    let now = SystemTime::now();
    let keys = file.key_records(now);
    assert_eq!(keys.len(), 4);
    assert_eq!(
        (keys[0].id.as_str(), keys[0].kind),
        ("demo-app-key", KeyKind::AppApiKey)
    );
    assert_eq!(keys[0].principal.app_id.as_deref(), Some("demo-app"));
    assert_eq!(keys[0].expires_at, Some(at));
    assert_eq!(keys[0].hint.as_deref(), Some("demo****ey-1"));
    assert_eq!(
        (keys[2].id.as_str(), keys[2].kind),
        ("demo-device", KeyKind::DeviceToken)
    );
    assert_eq!(keys[2].principal.id, "demo-device");
    assert_eq!(keys[3].principal.app_id, None);

    // Only alice has an HA1B (carol is disabled and has none).
    let ha1b = file.ha1b_records(now);
    assert_eq!(ha1b.len(), 1);
    assert_eq!(
        (
            ha1b[0].id.as_str(),
            ha1b[0].kind,
            &*ha1b[0].principal.scheme
        ),
        ("alice", KeyKind::Ha1b, "ha1b")
    );
    assert_eq!(ha1b[0].digest.to_hex(), D2);

    // Debug never shows a secret.
    let debug = format!("{file:?}");
    assert!(
        !debug.contains("s3cr3t") && !debug.contains("argon2id"),
        "{debug}"
    );
}

#[test]
fn the_sample_file_reproduces_the_demo_identities() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/gateway/gateway.toml");
    let file = config_file::load(&path, env).expect("the sample parses");
    let hasher = KeyHasher::hmac(PEPPER.as_bytes().to_vec());

    let alice = file
        .users
        .iter()
        .find(|u| u.login == "alice")
        .expect("alice");
    assert!(
        tower_authn_password::verify_password(alice.password_hash.expose_secret(), "wonderland")
            .expect("usable hash")
    );
    assert_eq!(alice.roles, ["admin"]);
    assert_eq!(alice.sip_domain.as_deref(), Some("sip.example.com"));
    let ha1b = tower_authn_password::ha1b("alice", "sip.example.com", "wonderland");
    assert!(
        alice
            .ha1b_digest
            .expect("alice's ha1b_digest")
            .ct_eq(&hasher.digest(&ha1b))
    );

    let bob = file
        .users
        .iter()
        .find(|u| u.login == "bob@example.com")
        .expect("bob");
    assert!(
        tower_authn_password::verify_password(bob.password_hash.expose_secret(), "builder")
            .expect("usable hash")
    );
    assert_eq!(bob.roles, ["user"]);

    let [key] = &file.app_keys[..] else {
        panic!("one app key")
    };
    assert_eq!(
        (key.id.as_str(), key.app_id.as_str()),
        ("demo-app-key", "demo-app")
    );
    assert!(key.digest.ct_eq(&hasher.digest("demo-app-key-1")));

    let [device] = &file.device_tokens[..] else {
        panic!("one device")
    };
    assert_eq!(
        (device.id.as_str(), device.app_id.as_deref()),
        ("demo-device", Some("demo-app"))
    );
    assert!(device.digest.ct_eq(&hasher.digest("demo-device-token")));

    let [app] = &file.s2s_apps[..] else {
        panic!("one s2s app")
    };
    assert_eq!(
        (app.id.as_str(), app.name.as_str(), app.secret_env.as_str()),
        ("s2s-app-id-123", "CRM Connector", "S2S_CRM_SECRET")
    );
    assert_eq!(file.routes, Routes::default());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_any_text(text in "\\PC*") {
        let _ = config_file::parse("f", &text, env);
    }

    #[test]
    fn parse_never_panics_on_toml_like_text(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("[[users]]".to_owned()),
                Just("[[app_keys]]".to_owned()),
                Just("[[device_tokens]]".to_owned()),
                Just("[[s2s_apps]]".to_owned()),
                Just("[routes]".to_owned()),
                "[a-z_]{1,12} = \"[^\"\\\\\n]{0,70}\"",
                "[a-z_]{1,12} = [0-9]{1,5}",
                "[a-z_]{1,12} = (true|false)",
                "[a-z_]{1,12} = \\[\"[a-z]{0,5}\"\\]",
                "[a-z_]{1,12} = 2027-01-31T00:00:00(Z)?",
                "\\PC{0,20}",
            ],
            0..16,
        )
    ) {
        let text = lines.join("\n");
        if let Err(e) = config_file::parse("f", &text, env) {
            let line = e.to_string();
            prop_assert!(!line.contains('\n'));
            prop_assert!(line.starts_with("f:"));
            prop_assert!(!line.contains("Raw"), "{}", line);
        }
    }
}
