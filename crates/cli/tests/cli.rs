//! `authn` driven as a process; what it prints is checked with the libraries that will
//! consume it (tower-authn-password, KeyHasher, JwtVerifier, SignatureVerifier, the
//! configuration file).

use std::path::PathBuf;

use assert_cmd::Command;
use bytes::Bytes;
use predicates::prelude::*;
use secrecy::ExposeSecret;
use tower_authn_cli::config_file;
use tower_authn_core::KeyHasher;
use tower_authn_jwt::{JwtVerifier, KeySet, SigningKey, Validation};
use tower_authn_s2s::{App, MemoryAppStore, SignatureVerifier};

const PEPPER: &str = "demo-pepper-0123456789abcdef0123456789";
const JWT_SECRET: &str = "change-me-to-32-bytes-or-more-please";
const S2S_SECRET: &str = "s3cr3t-k3y-0123456789abcdef";

/// `authn` with a clean environment for the variables it reads.
fn authn() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authn"));
    cmd.env_remove("GATEWAY_KEY_PEPPER")
        .env_remove("S2S_CRM_SECRET")
        .env_remove("JWT_SECRET");
    cmd
}

fn hasher() -> KeyHasher {
    KeyHasher::hmac(PEPPER.as_bytes().to_vec())
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authn-cli-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

#[test]
fn hash_password_prints_a_phc_that_verifies() {
    let phc = stdout(authn().arg("hash-password").write_stdin("wonderland\n"));
    let phc = phc.trim();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(tower_authn_password::verify_password(phc, "wonderland").expect("usable"));
    assert!(!tower_authn_password::verify_password(phc, "wonderland\n").expect("usable"));
    // A CRLF line ending is not part of the password.
    let phc = stdout(authn().arg("hash-password").write_stdin("builder\r\n"));
    assert!(tower_authn_password::verify_password(phc.trim(), "builder").expect("usable"));
}

#[test]
fn the_password_never_comes_from_argv_and_is_never_empty() {
    authn()
        .args(["hash-password", "wonderland"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unexpected argument"));
    authn()
        .arg("hash-password")
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty password"));
}

#[test]
fn verify_password_answers_ok_or_mismatch() {
    let phc = tower_authn_password::hash_password("wonderland").expect("hash");
    authn()
        .args(["verify-password", "--hash", &phc])
        .write_stdin("wonderland\n")
        .assert()
        .code(0)
        .stdout("ok\n");
    authn()
        .args(["verify-password", "--hash", &phc])
        .write_stdin("looking-glass\n")
        .assert()
        .code(1)
        .stdout("mismatch\n");
    authn()
        .args(["verify-password", "--hash", "$argon2id$garbage"])
        .write_stdin("wonderland\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--hash: unusable password hash"));
}

#[test]
fn ha1b_prints_the_ha1b_and_with_a_pepper_its_digest() {
    let expected = tower_authn_password::ha1b("alice", "sip.example.com", "wonderland");
    let out = stdout(
        authn()
            .args(["ha1b", "--login", "alice", "--domain", "sip.example.com"])
            .env("GATEWAY_KEY_PEPPER", PEPPER)
            .write_stdin("wonderland\n"),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], expected);
    assert_eq!(
        lines[1],
        format!("ha1b_digest = \"{}\"", hasher().digest(&expected).to_hex())
    );
    assert_eq!(lines.len(), 2);

    // The digest line is what the file takes, and what Ha1bVerifier would look up.
    let phc = tower_authn_password::hash_password("wonderland").expect("hash");
    let file = format!(
        "[[users]]\nlogin = \"alice\"\npassword_hash = \"{phc}\"\n{}\n",
        lines[1]
    );
    let parsed = config_file::parse("f", &file, |_| None).expect("parses");
    assert!(
        parsed.users[0]
            .ha1b_digest
            .expect("digest")
            .ct_eq(&hasher().digest(&expected))
    );

    // Without a pepper: the HA1B only, and a note on stderr.
    authn()
        .args(["ha1b", "--login", "alice", "--domain", "sip.example.com"])
        .write_stdin("wonderland\n")
        .assert()
        .success()
        .stdout(format!("{expected}\n"))
        .stderr(predicate::str::contains("GATEWAY_KEY_PEPPER"));
}

/// The key on the `key: ` line and the rest of the output.
fn split_key(out: &str) -> (String, String) {
    let (first, rest) = out.split_once('\n').expect("two parts");
    let key = first.strip_prefix("key: ").expect("key line").to_owned();
    (key, rest.to_owned())
}

#[test]
fn new_key_app_prints_the_key_once_and_a_table_that_loads() {
    let out = stdout(
        authn()
            .args([
                "new-key", "--kind", "app", "--app-id", "demo-app", "--id", "k1",
            ])
            .env("GATEWAY_KEY_PEPPER", PEPPER),
    );
    let (key, table) = split_key(&out);
    assert_eq!(key.len(), 43);
    assert_eq!(
        out.matches(key.as_str()).count(),
        1,
        "the key is printed once"
    );
    // The rest pastes into a gateway file as it is.
    let file = config_file::parse("f", &table, |_| None).expect("the table parses");
    let entry = &file.app_keys[0];
    assert_eq!(
        (entry.id.as_str(), entry.app_id.as_str()),
        ("k1", "demo-app")
    );
    assert!(entry.digest.ct_eq(&hasher().digest(&key)));
    assert_eq!(
        entry.hint.as_deref(),
        Some(tower_authn_core::issue::mask_key(&key).as_str())
    );
    // Pasting the key line too is a syntax error, not a plaintext key in the file.
    assert!(config_file::parse("f", &out, |_| None).is_err());

    // Two runs, two keys; a random id when none is given.
    let (other, table) = split_key(&stdout(
        authn()
            .args(["new-key", "--kind", "app", "--app-id", "demo-app"])
            .env("GATEWAY_KEY_PEPPER", PEPPER),
    ));
    assert_ne!(key, other);
    let file = config_file::parse("f", &table, |_| None).expect("parses");
    assert!(file.app_keys[0].id.starts_with("demo-app-key-"));
}

#[test]
fn new_key_device_access_and_shared() {
    let out = stdout(
        authn()
            .args([
                "new-key", "--kind", "device", "--id", "dev-1", "--app-id", "demo-app",
            ])
            .env("GATEWAY_KEY_PEPPER", PEPPER),
    );
    let (key, table) = split_key(&out);
    let file = config_file::parse("f", &table, |_| None).expect("parses");
    let device = &file.device_tokens[0];
    assert_eq!(
        (device.id.as_str(), device.app_id.as_deref()),
        ("dev-1", Some("demo-app"))
    );
    assert!(device.digest.ct_eq(&hasher().digest(&key)));

    let out = stdout(
        authn()
            .args(["new-key", "--kind", "access", "--id", "pair-1"])
            .env("GATEWAY_KEY_PEPPER", PEPPER),
    );
    let value = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix} in {out}"))
            .trim_matches('"')
            .to_owned()
    };
    let (token, secret) = (value("access_token: "), value("access_secret: "));
    assert_ne!(token, secret);
    assert_eq!(value("id = "), "pair-1");
    assert_eq!(value("digest = "), hasher().digest(&token).to_hex());
    assert_eq!(value("secret_digest = "), hasher().digest(&secret).to_hex());

    let out = stdout(authn().args(["new-key", "--kind", "shared"]));
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("PLAY_AUTH_TOKEN="))
        .expect("PLAY_AUTH_TOKEN line");
    assert_eq!(token.len(), 43);
}

#[test]
fn new_key_needs_the_pepper_for_stored_digests() {
    for kind in ["app", "device"] {
        authn()
            .args(["new-key", "--kind", kind, "--app-id", "a"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("GATEWAY_KEY_PEPPER is not set"));
    }
    authn()
        .args(["new-key", "--kind", "app", "--app-id", "a"])
        .env("GATEWAY_KEY_PEPPER", "short")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("at least 32 bytes"));
    authn()
        .args(["new-key", "--kind", "app"])
        .env("GATEWAY_KEY_PEPPER", PEPPER)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--app-id is required"));
}

#[test]
fn digest_of_an_existing_key() {
    let out = stdout(
        authn()
            .args(["digest", "--hint"])
            .env("GATEWAY_KEY_PEPPER", PEPPER)
            .write_stdin("demo-app-key-1\n"),
    );
    assert_eq!(
        out,
        format!(
            "digest = \"{}\"\nhint = \"demo****ey-1\"\n",
            hasher().digest("demo-app-key-1").to_hex()
        )
    );
}

fn mint(args: &[&str]) -> String {
    stdout(
        authn()
            .arg("mint-jwt")
            .args(args)
            .env("JWT_SECRET", JWT_SECRET),
    )
    .trim()
    .to_owned()
}

#[test]
fn mint_jwt_with_a_secret_verifies_with_jwt_verifier() {
    let token = mint(&[
        "--secret-env",
        "JWT_SECRET",
        "--sub",
        "alice",
        "--iss",
        "tower-authn",
        "--aud",
        "api",
        "--ttl",
        "900",
        "--claim",
        "roles=[\"admin\"]",
        "--claim",
        "tenant=acme",
        "--claim",
        "level=3",
    ]);
    let verifier = JwtVerifier::hs256(JWT_SECRET)
        .expect("key")
        .with_validation(
            Validation::new()
                .with_issuers(["tower-authn"])
                .with_audiences(["api"])
                .with_max_lifetime(std::time::Duration::from_secs(900)),
        );
    let verified = verifier.verify_token(&token).expect("verifies");
    let claims = verified.claims();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["roles"], serde_json::json!(["admin"]));
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["level"], 3);
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        900
    );
    let principal = verifier.authenticate(&token).expect("principal");
    assert_eq!(principal.id, "alice");
    assert_eq!(principal.roles, ["admin"]);
}

#[test]
fn mint_and_verify_with_key_files_and_a_jwks() {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let private = secret.to_pkcs8_pem(LineEnding::LF).expect("pem");
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("pem");
    let private_file = temp_file("es256.pem", private.as_bytes());
    let public_file = temp_file("es256.pub.pem", public.as_bytes());

    let token = mint(&[
        "--key-file",
        private_file.to_str().expect("path"),
        "--sub",
        "bob",
        "--kid",
        "k1",
    ]);
    // The library agrees.
    let key = SigningKey::ec_pem(private.as_bytes())
        .expect("key")
        .with_kid("k1");
    let verifier = JwtVerifier::new(KeySet::new().with_key(key.verifying_key().expect("public")));
    assert_eq!(
        verifier.verify_token(&token).expect("verifies").claims()["sub"],
        "bob"
    );

    // verify-jwt with the public key, the private key, and a JWKS.
    let jwks = serde_json::json!({ "keys": [key.public_jwk().expect("jwk")] }).to_string();
    let jwks_file = temp_file("jwks.json", jwks.as_bytes());
    // A token that names a kid is checked only against a key of that kid.
    authn()
        .args([
            "verify-jwt",
            &token,
            "--key-file",
            public_file.to_str().expect("path"),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown kid").and(predicate::str::contains("--kid")));
    for (option, file, kid) in [
        ("--key-file", &public_file, "k1"),
        ("--key-file", &private_file, "k1"),
        ("--jwks-file", &jwks_file, ""),
    ] {
        let mut cmd = authn();
        cmd.args(["verify-jwt", &token, option, file.to_str().expect("path")]);
        if !kid.is_empty() {
            cmd.args(["--kid", kid]);
        }
        let out = stdout(&mut cmd);
        let claims: serde_json::Value = serde_json::from_str(&out).expect("JSON claims");
        assert_eq!(claims["sub"], "bob", "{option}");
    }
    // --alg must fit the key.
    authn()
        .args([
            "mint-jwt",
            "--key-file",
            private_file.to_str().expect("path"),
            "--sub",
            "x",
        ])
        .args(["--alg", "ES384"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--alg ES384"));
}

#[test]
fn inspect_jwt_shows_header_and_claims_unverified() {
    let token = mint(&[
        "--secret-env",
        "JWT_SECRET",
        "--sub",
        "alice",
        "--claim",
        "x=1",
    ]);
    let out = stdout(authn().args(["inspect-jwt", &token]));
    assert!(out.starts_with("UNVERIFIED"), "{out}");
    assert!(out.contains("\"alg\": \"HS256\""), "{out}");
    assert!(out.contains("\"sub\": \"alice\""), "{out}");
    assert!(out.contains("\"x\": 1"), "{out}");
    // From stdin.
    let piped = stdout(
        authn()
            .args(["inspect-jwt", "-"])
            .write_stdin(format!("{token}\n")),
    );
    assert_eq!(piped, out);
    authn()
        .args(["inspect-jwt", "not.a-jwt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a JWT"));
}

#[test]
fn verify_jwt_accepts_good_tokens_and_refuses_tampered_ones() {
    let token = mint(&[
        "--secret-env",
        "JWT_SECRET",
        "--sub",
        "alice",
        "--iss",
        "me",
    ]);
    let verify = |token: &str, extra: &[&str]| {
        let mut cmd = authn();
        cmd.args(["verify-jwt", token, "--secret-env", "JWT_SECRET"])
            .args(extra)
            .env("JWT_SECRET", JWT_SECRET);
        cmd
    };
    let out = stdout(&mut verify(&token, &["--iss", "me"]));
    let claims: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(claims["sub"], "alice");
    // From stdin.
    verify("-", &[])
        .write_stdin(token.clone())
        .assert()
        .success();

    // The payload changed (sub: mallory), the signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("b64")).expect("json");
    claims["sub"] = "mallory".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    verify(&tampered, &[])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with("invalid token: "));
    // A wrong issuer, a wrong secret.
    verify(&token, &["--iss", "other"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("iss"));
    authn()
        .args(["verify-jwt", &token, "--secret-env", "JWT_SECRET"])
        .env("JWT_SECRET", "another-secret-of-32-bytes-or-more!!")
        .assert()
        .code(1);
}

/// The request `sign-request` printed: request line, headers, body.
fn parse_signed(out: &str) -> (http::request::Parts, Bytes) {
    let (head, rest) = out.split_once("\n\n").expect("headers end");
    let mut lines = head.lines();
    let (method, url) = lines
        .next()
        .expect("request line")
        .split_once(' ')
        .expect("METHOD URL");
    let url: http::Uri = url.parse().expect("URL");
    // As curl sends it: origin-form, with the printed headers.
    let mut req = http::Request::builder()
        .method(method)
        .uri(url.path_and_query().expect("path").as_str());
    for line in lines {
        let (name, value) = line.split_once(": ").expect("header");
        req = req.header(name, value);
    }
    let body = match rest.split_once("\n\n# curl") {
        Some((body, _)) => Bytes::from(body.to_owned()),
        None => {
            assert!(rest.starts_with("# curl"), "{rest}");
            Bytes::new()
        }
    };
    let curl = out.lines().last().expect("curl line");
    assert!(curl.starts_with("curl "), "{curl}");
    req.body(body).expect("request").into_parts()
}

fn sign(args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = authn();
    cmd.args([
        "sign-request",
        "--app-id",
        "s2s-app-id-123",
        "--app-name",
        "CRM Connector",
        "--secret-env",
        "S2S_CRM_SECRET",
    ])
    .args(args)
    .env("S2S_CRM_SECRET", S2S_SECRET);
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_owned());
    }
    stdout(&mut cmd)
}

fn verifier() -> SignatureVerifier<MemoryAppStore> {
    SignatureVerifier::new(
        MemoryAppStore::new().with_app("s2s-app-id-123", App::new("CRM Connector", S2S_SECRET)),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn signed_requests_are_accepted_by_the_signature_verifier() {
    // GET with a query and added parameters (sent lowercased and sorted).
    let out = sign(
        &[
            "--method",
            "GET",
            "--url",
            "http://127.0.0.1:8080/api/v1/PBX/CallHistory/?Start=0",
            "--param",
            "count=10",
        ],
        None,
    );
    assert!(out.contains("\nX-APP-ID: s2s-app-id-123\n"), "{out}");
    assert!(out.contains("\nAuthorization: Bearer eyJ"), "{out}");
    let (parts, body) = parse_signed(&out);
    assert_eq!(parts.uri.query(), Some("count=10&start=0"));
    let principal = verifier().verify(&parts, &body).await.expect("verifies");
    assert_eq!(principal.id, "s2s-app-id-123");
    assert_eq!(principal.name.as_deref(), Some("CRM Connector"));

    // A query parameter changed after signing: refused.
    let mut forged = parts.clone();
    forged.uri = "/api/v1/PBX/CallHistory/?count=1000&start=0"
        .parse()
        .expect("uri");
    assert!(verifier().verify(&forged, &body).await.is_err());

    // POST with a form body from a file.
    let body_file = temp_file("form.txt", b"Exten=16144841500&channel=Local%2F108%40users");
    let out = sign(
        &[
            "--method",
            "POST",
            "--url",
            "https://pbx.example.com/api/v1/Originate/",
            "--header",
            "Content-Type: application/x-www-form-urlencoded",
            "--body-file",
            body_file.to_str().expect("path"),
        ],
        None,
    );
    let (parts, body) = parse_signed(&out);
    assert_eq!(body, "channel=Local%2F108%40users&exten=16144841500");
    verifier()
        .verify(&parts, &body)
        .await
        .expect("form body verifies");
    assert!(out.contains("--data-binary 'channel=Local%2F108%40users&exten=16144841500'"));

    // PUT with a JSON body from stdin.
    let out = sign(
        &[
            "--method",
            "put",
            "--url",
            "https://pbx.example.com/api/v1/Calls/42",
            "--header",
            "Content-Type: application/json",
            "--body-file",
            "-",
        ],
        Some("{\"state\":\"hold\",\"Note\":\"it's fine\"}"),
    );
    let (parts, body) = parse_signed(&out);
    assert_eq!(parts.method, "PUT");
    verifier()
        .verify(&parts, &body)
        .await
        .expect("JSON body verifies");
    // The single quote is quoted for the shell.
    assert!(out.contains("it'\\''s fine"), "{out}");
}

#[test]
fn sign_request_refuses_what_would_not_verify() {
    let base = [
        "sign-request",
        "--app-id",
        "a",
        "--app-name",
        "A",
        "--secret-env",
        "S2S_CRM_SECRET",
    ];
    let run = |extra: &[&str], stdin: &str| {
        let mut cmd = authn();
        cmd.args(base).args(extra).env("S2S_CRM_SECRET", S2S_SECRET);
        cmd.write_stdin(stdin.to_owned());
        cmd.assert()
    };
    run(
        &[
            "--method",
            "POST",
            "--url",
            "https://x/",
            "--body-file",
            "-",
        ],
        "{}",
    )
    .code(2)
    .stderr(predicate::str::contains("without a Content-Type"));
    run(
        &["--method", "GET", "--url", "https://x/", "--body-file", "-"],
        "a=1",
    )
    .code(2)
    .stderr(predicate::str::contains("carries no body"));
    run(&["--method", "GET", "--url", "/relative"], "")
        .code(2)
        .stderr(predicate::str::contains("absolute"));
    run(&["--method", "GET", "--url", "https://x/a%2Fb"], "")
        .code(2)
        .stderr(predicate::str::contains("%2F"));
    authn()
        .args(base)
        .args(["--method", "GET", "--url", "https://x/"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("S2S_CRM_SECRET is not set"));
}

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway/gateway.toml")
}

#[test]
fn check_config_passes_the_sample_and_names_the_line_of_a_broken_file() {
    let sample = sample();
    authn()
        .arg("check-config")
        .arg(&sample)
        .env("S2S_CRM_SECRET", S2S_SECRET)
        .assert()
        .code(0)
        .stdout(format!(
            "{}: ok (2 users, 1 app keys, 1 device tokens, 1 s2s apps)\n",
            sample.display()
        ));
    // Without the s2s secret in the environment.
    authn()
        .arg("check-config")
        .arg(&sample)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            ": s2s_apps[0].secret_env: the environment variable S2S_CRM_SECRET is not set",
        ));

    let broken = temp_file(
        "broken.toml",
        b"[routes]\nxivo = false\n\n[[users]]\nlogin = \"alice\"\npasword_hash = \"x\"\n",
    );
    authn()
        .arg("check-config")
        .arg(&broken)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(format!(
            "{}:6:1: users[0].pasword_hash: unknown field `pasword_hash`",
            broken.display()
        )));

    let off = temp_file("off.toml", b"[routes]\nxivo = false\nccai = false\n");
    authn()
        .arg("check-config")
        .arg(&off)
        .assert()
        .success()
        .stdout(predicate::str::ends_with(
            "ok (0 users, 0 app keys, 0 device tokens, 0 s2s apps; routes off: xivo, ccai)\n",
        ));
    authn()
        .args(["check-config", "/nonexistent/gateway.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "/nonexistent/gateway.toml: cannot read the file",
        ));
}

#[test]
fn the_sample_file_matches_what_authn_prints() {
    // The digests of the sample are those `authn digest` / `authn ha1b` print for the demo
    // secrets with the demo pepper.
    let file = config_file::load(&sample(), |n| {
        (n == "S2S_CRM_SECRET").then(|| S2S_SECRET.to_owned())
    })
    .expect("sample");
    let out = stdout(
        authn()
            .arg("digest")
            .env("GATEWAY_KEY_PEPPER", PEPPER)
            .write_stdin("demo-app-key-1\n"),
    );
    assert_eq!(
        out,
        format!("digest = \"{}\"\n", file.app_keys[0].digest.to_hex())
    );
    let out = stdout(
        authn()
            .args(["ha1b", "--login", "alice", "--domain", "sip.example.com"])
            .env("GATEWAY_KEY_PEPPER", PEPPER)
            .write_stdin("wonderland\n"),
    );
    let alice = &file.users[0];
    assert!(out.ends_with(&format!(
        "ha1b_digest = \"{}\"\n",
        alice.ha1b_digest.expect("digest").to_hex()
    )));
    assert_eq!(file.s2s_apps[0].secret.expose_secret(), S2S_SECRET);
}

const SUBCOMMANDS: [&str; 10] = [
    "hash-password",
    "verify-password",
    "ha1b",
    "new-key",
    "digest",
    "mint-jwt",
    "inspect-jwt",
    "verify-jwt",
    "sign-request",
    "check-config",
];

#[test]
fn every_help_has_examples() {
    authn()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("EXAMPLES"));
    for sub in SUBCOMMANDS {
        for flag in ["--help", "-h"] {
            authn().args([sub, flag]).assert().success().stdout(
                predicate::str::contains("EXAMPLES").and(predicate::str::contains("Usage: authn")),
            );
        }
        authn()
            .args(["help", sub])
            .assert()
            .success()
            .stdout(predicate::str::contains("EXAMPLES"));
    }
}

#[test]
fn bad_arguments_fail_cleanly_without_a_panic() {
    let phc = tower_authn_password::hash_password("x").expect("hash");
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["no-such-command"],
        vec!["verify-password"],
        vec!["ha1b", "--login", "alice"],
        vec!["ha1b", "--login", "", "--domain", "d"],
        vec!["new-key"],
        vec!["new-key", "--kind", "nope"],
        vec!["new-key", "--kind", "shared", "--id", "x"],
        vec!["mint-jwt", "--sub", "a"],
        vec!["mint-jwt", "--sub", "a", "--secret-env", "NOPE_UNSET"],
        vec![
            "mint-jwt",
            "--sub",
            "a",
            "--secret-env",
            "JWT_SECRET",
            "--alg",
            "none",
        ],
        vec![
            "mint-jwt",
            "--sub",
            "a",
            "--secret-env",
            "JWT_SECRET",
            "--alg",
            "RS256",
        ],
        vec!["mint-jwt", "--sub", "a", "--secret-env", "SHORT"],
        vec![
            "mint-jwt",
            "--sub",
            "a",
            "--secret-env",
            "JWT_SECRET",
            "--claim",
            "novalue",
        ],
        vec![
            "mint-jwt",
            "--sub",
            "a",
            "--secret-env",
            "JWT_SECRET",
            "--claim",
            "exp=1",
        ],
        vec![
            "mint-jwt",
            "--sub",
            "a",
            "--secret-env",
            "JWT_SECRET",
            "--ttl",
            "-5",
        ],
        vec!["mint-jwt", "--sub", "a", "--key-file", "/nonexistent.pem"],
        vec![
            "mint-jwt",
            "--sub",
            "a",
            "--secret-env",
            "X",
            "--key-file",
            "k.pem",
        ],
        vec!["inspect-jwt"],
        vec!["inspect-jwt", "a.b.c"],
        vec!["inspect-jwt", "...."],
        vec!["inspect-jwt", "é.é.é"],
        vec!["verify-jwt", "a.b.c"],
        vec!["verify-jwt", "a.b.c", "--jwks-file", "/nonexistent.json"],
        vec![
            "verify-jwt",
            "a.b.c",
            "--secret-env",
            "JWT_SECRET",
            "--alg",
            "ES256",
        ],
        vec!["sign-request", "--app-id", "a"],
        vec![
            "sign-request",
            "--app-id",
            "a",
            "--app-name",
            "b",
            "--secret-env",
            "JWT_SECRET",
            "--method",
            "G E T",
            "--url",
            "https://x/",
        ],
        vec![
            "sign-request",
            "--app-id",
            "a",
            "--app-name",
            "b",
            "--secret-env",
            "JWT_SECRET",
            "--method",
            "GET",
            "--url",
            "::",
        ],
        vec![
            "sign-request",
            "--app-id",
            "a",
            "--app-name",
            "b",
            "--secret-env",
            "JWT_SECRET",
            "--method",
            "GET",
            "--url",
            "https://x/",
            "--header",
            "bad header: x",
        ],
        vec![
            "sign-request",
            "--app-id",
            "a",
            "--app-name",
            "b",
            "--secret-env",
            "JWT_SECRET",
            "--method",
            "GET",
            "--url",
            "https://x/",
            "--param",
            "=x",
        ],
        vec![
            "sign-request",
            "--app-id",
            "a",
            "--app-name",
            "b",
            "--secret-env",
            "JWT_SECRET",
            "--method",
            "GET",
            "--url",
            "https://x/?a=1&A=2",
        ],
        vec!["check-config"],
        vec!["check-config", "/"],
    ];
    for args in &cases {
        let out = authn()
            .args(args)
            .env("JWT_SECRET", JWT_SECRET)
            .env("SHORT", "short")
            .write_stdin("x\n")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.status.code().is_some(), "{args:?}: killed by a signal");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?}: no message");
    }
    // A password on stdin that is not UTF-8, and a mismatch with a garbage hash.
    for (args, stdin) in [
        (vec!["hash-password"], vec![0xff, 0xfe, b'\n']),
        (vec!["verify-password", "--hash", phc.as_str()], vec![0xc3]),
    ] {
        let out = authn()
            .args(&args)
            .write_stdin(stdin)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}
