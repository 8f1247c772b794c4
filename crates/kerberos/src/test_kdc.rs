//! [`TestKdc`]: a real, throwaway MIT Kerberos KDC for tests, and [`TestClient`], a real
//! GSSAPI initiator that makes SPNEGO tokens from its tickets.
//!
//! MIT Kerberos reads its configuration, keytab, ticket cache and replay cache from the
//! process environment (`KRB5_CONFIG`, `KRB5_KTNAME`, `KRB5CCNAME`, `KRB5RCACHENAME`), and
//! this workspace forbids `unsafe` (so no `std::env::set_var`). Tests therefore re-run their
//! own binary with the KDC's [`env`](TestKdc::env): the test function, run normally, starts
//! the KDC and calls [`TestKdc::run_child`]; the child (same function, [`in_child`] true)
//! does the Kerberos work and must exit 0.
//!
//! ```no_run
//! use tower_authn_kerberos::test_kdc::{TestClient, TestKdc, in_child};
//!
//! #[test]
//! fn accepts_alice() {
//!     if !in_child() {
//!         return TestKdc::start().run_child("accepts_alice", &[]);
//!     }
//!     // Here KRB5_CONFIG, KRB5_KTNAME, KRB5CCNAME ... point at the parent's KDC.
//!     let (client, token) = TestClient::spnego("HTTP@localhost", true).unwrap();
//!     // ... Acceptor::new("HTTP"), accept(token), client.finish(reply) ...
//! #   drop((client, token));
//! }
//! ```

use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE};

/// The variable that marks the re-run child of a test (see [`TestKdc::run_child`]).
pub const CHILD_MARKER: &str = "TOWER_AUTHN_TEST_KDC_CHILD";

/// Whether this process is the child a test re-ran with [`TestKdc::run_child`].
pub fn in_child() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

/// The test realm.
pub const REALM: &str = "AUTHN.TEST";
/// The user whose tickets are in [`TestKdc::ccache`].
pub const ALICE: &str = "alice";
/// A second user, with a keytab of its own ([`TestKdc::bob_keytab`]).
pub const BOB: &str = "bob";
/// The service principal whose key is in [`TestKdc::server_keytab`].
pub const SERVICE: &str = "HTTP/localhost";
/// A service principal the KDC knows but whose key is not in the server keytab.
pub const OTHER_SERVICE: &str = "HTTP/other.localhost";
/// The `clockskew` of the test `krb5.conf`, in seconds: how far past a ticket's end or an
/// authenticator's time MIT still accepts it (5 minutes by default; small here, so expiry
/// tests wait seconds).
pub const CLOCKSKEW_SECS: u64 = 1;

const KRB5KDC: &str = "/usr/sbin/krb5kdc";
const KDB5_UTIL: &str = "/usr/sbin/kdb5_util";
const KADMIN_LOCAL: &str = "/usr/sbin/kadmin.local";
const KINIT: &str = "/usr/bin/kinit";

/// A running MIT KDC in a fresh temporary directory; killed and removed on drop.
///
/// The realm [`REALM`] has users [`ALICE`] and [`BOB`] and services [`SERVICE`] and
/// [`OTHER_SERVICE`]. The directory holds `krb5.conf`, `kdc.conf`, the database,
/// `server.keytab` ([`SERVICE`] only), `alice.keytab`, `bob.keytab`, the ticket cache
/// `alice.ccache` (alice's TGT, from `kinit -k`), `rcache/` (the acceptor's replay cache)
/// and `kdc.log`.
pub struct TestKdc {
    dir: PathBuf,
    port: u16,
    kdc: Child,
}

impl fmt::Debug for TestKdc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestKdc")
            .field("dir", &self.dir)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl TestKdc {
    /// Creates the realm and starts the KDC.
    ///
    /// # Panics
    ///
    /// When a binary is missing (the message names the Debian package to install) or a step
    /// fails (the message has its output and the KDC log): a test with no KDC fails, it is
    /// never skipped.
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(kdc) => kdc,
            Err(e) => panic!("TestKdc: {e}"),
        }
    }

    /// [`start`](Self::start), with the failure as an error.
    ///
    /// # Errors
    ///
    /// The reason, as [`start`](Self::start) would panic with.
    pub fn try_start() -> Result<Self, String> {
        for (bin, package) in [
            (KRB5KDC, "krb5-kdc"),
            (KDB5_UTIL, "krb5-kdc"),
            (KADMIN_LOCAL, "krb5-admin-server"),
            (KINIT, "krb5-user"),
        ] {
            if !Path::new(bin).is_file() {
                return Err(format!(
                    "{bin} is missing: install the Debian package {package} (scripts/deps)"
                ));
            }
        }
        let dir = fresh_dir()?;
        let port = free_port()?;
        std::fs::create_dir(dir.join("rcache")).map_err(|e| format!("mkdir rcache: {e}"))?;
        let d = dir.display();
        let krb5_conf = format!(
            "[libdefaults]\n\
             \tdefault_realm = {REALM}\n\
             \tdns_canonicalize_hostname = false\n\
             \trdns = false\n\
             \tdns_lookup_kdc = false\n\
             \tdns_lookup_realm = false\n\
             \tudp_preference_limit = 1\n\
             \tclockskew = {CLOCKSKEW_SECS}\n\
             [realms]\n\
             \t{REALM} = {{\n\t\tkdc = 127.0.0.1:{port}\n\t}}\n\
             [domain_realm]\n\
             \tlocalhost = {REALM}\n\
             \t.localhost = {REALM}\n"
        );
        let kdc_conf = format!(
            "[kdcdefaults]\n\
             \tkdc_listen = 127.0.0.1:{port}\n\
             \tkdc_tcp_listen = 127.0.0.1:{port}\n\
             [realms]\n\
             \t{REALM} = {{\n\
             \t\tdatabase_name = {d}/principal\n\
             \t\tkey_stash_file = {d}/stash\n\
             \t\tacl_file = {d}/kadm5.acl\n\
             \t\tmax_life = 1h\n\
             \t}}\n\
             [logging]\n\
             \tkdc = FILE:{d}/kdc.log\n\
             \tadmin_server = FILE:{d}/kadmin.log\n\
             \tdefault = FILE:{d}/kdc.log\n"
        );
        write(&dir.join("krb5.conf"), &krb5_conf)?;
        write(&dir.join("kdc.conf"), &kdc_conf)?;
        write(&dir.join("kadm5.acl"), "")?;

        // The master password guards nothing: the realm lives for one test.
        run(
            Command::new(KDB5_UTIL)
                .args(["create", "-s", "-r", REALM, "-P", "test-master-password"])
                .envs(config_env(&dir)),
            "kdb5_util create",
        )?;
        let script = format!(
            "addprinc -randkey {ALICE}\n\
             addprinc -randkey {BOB}\n\
             addprinc -randkey {SERVICE}\n\
             addprinc -randkey {OTHER_SERVICE}\n\
             ktadd -k {d}/server.keytab {SERVICE}\n\
             ktadd -k {d}/alice.keytab {ALICE}\n\
             ktadd -k {d}/bob.keytab {BOB}\n"
        );
        kadmin(&dir, &script)?;
        for keytab in ["server.keytab", "alice.keytab", "bob.keytab"] {
            if !dir.join(keytab).is_file() {
                return Err(format!("kadmin.local wrote no {keytab}"));
            }
        }

        let kdc = Command::new(KRB5KDC)
            .arg("-n")
            .envs(config_env(&dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {KRB5KDC}: {e}"))?;
        let mut kdc = Self { dir, port, kdc };
        kdc.wait_until_listening()?;
        kdc.kinit(ALICE, &kdc.ccache(), None)?;
        Ok(kdc)
    }

    fn wait_until_listening(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.kdc.try_wait() {
                return Err(format!(
                    "krb5kdc exited with {status}; kdc.log:\n{}",
                    self.log()
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "krb5kdc does not answer on {addr}; kdc.log:\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The KDC's port on 127.0.0.1 (TCP and UDP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The keytab with [`SERVICE`]'s key only: what a server is given as `KRB5_KTNAME`.
    pub fn server_keytab(&self) -> PathBuf {
        self.dir.join("server.keytab")
    }

    /// Alice's keytab (no service key in it).
    pub fn alice_keytab(&self) -> PathBuf {
        self.dir.join("alice.keytab")
    }

    /// Bob's keytab.
    pub fn bob_keytab(&self) -> PathBuf {
        self.dir.join("bob.keytab")
    }

    /// Alice's ticket cache (a file), with a TGT of the realm's maximum life (1 hour).
    pub fn ccache(&self) -> PathBuf {
        self.dir.join("alice.ccache")
    }

    /// The KDC log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kdc.log")).unwrap_or_default()
    }

    /// `kinit -k` for `user` ([`ALICE`] or [`BOB`], from their keytab) into the file ticket
    /// cache `ccache`; `lifetime` is kinit's `-l` (`"4s"`, `"10m"`), the realm maximum when
    /// `None`.
    ///
    /// # Errors
    ///
    /// kinit's output when it fails.
    pub fn kinit(&self, user: &str, ccache: &Path, lifetime: Option<&str>) -> Result<(), String> {
        let keytab = self.dir.join(format!("{user}.keytab"));
        let mut cmd = Command::new(KINIT);
        if let Some(lifetime) = lifetime {
            cmd.args(["-l", lifetime]);
        }
        cmd.arg("-k")
            .arg("-t")
            .arg(&keytab)
            .arg(format!("{user}@{REALM}"))
            .envs(config_env(&self.dir))
            .env("KRB5CCNAME", file_name(ccache));
        run(&mut cmd, "kinit")
    }

    /// A new ticket cache for alice whose TGT lives `secs` seconds (for expiry tests).
    ///
    /// # Panics
    ///
    /// When kinit fails.
    pub fn short_lived_ccache(&self, secs: u64) -> PathBuf {
        let path = self.dir.join(format!("alice-{secs}s.ccache"));
        if let Err(e) = self.kinit(ALICE, &path, Some(&format!("{secs}s"))) {
            panic!("TestKdc: {e}");
        }
        path
    }

    /// Runs one `kadmin.local` script (one query a line) on the realm.
    ///
    /// # Errors
    ///
    /// kadmin.local's output when it fails.
    pub fn kadmin(&self, script: &str) -> Result<(), String> {
        kadmin(&self.dir, script)
    }

    /// What a process that talks to this realm needs in its environment: `KRB5_CONFIG`,
    /// `KRB5_KDC_PROFILE`, `KRB5_KTNAME` (the server keytab), `KRB5CCNAME` (alice's
    /// ticket cache), `KRB5RCACHEDIR` and `KRB5RCACHENAME` (a replay cache in the directory).
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let mut env = config_env(&self.dir);
        env.push(("KRB5_KTNAME", file_name(&self.server_keytab())));
        env.push(("KRB5CCNAME", file_name(&self.ccache())));
        env.push(("KRB5RCACHEDIR", self.dir.join("rcache").into_os_string()));
        let mut rcache = OsString::from("file2:");
        rcache.push(self.dir.join("rcache").join("acceptor.rcache2"));
        env.push(("KRB5RCACHENAME", rcache));
        env
    }

    /// Re-runs this test binary for the one test `test` (`--exact test --nocapture`) with
    /// [`env`](Self::env), then `overrides`, and [`CHILD_MARKER`] set; panics unless the
    /// child exits 0. The child's output is passed through.
    ///
    /// # Panics
    ///
    /// When the child cannot be started or fails.
    pub fn run_child(&self, test: &str, overrides: &[(&str, OsString)]) {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => panic!("TestKdc: no current_exe: {e}"),
        };
        let mut cmd = Command::new(exe);
        cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"]);
        cmd.envs(self.env());
        for (k, v) in overrides {
            cmd.env(k, v);
        }
        cmd.env(CHILD_MARKER, "1");
        let output = match cmd.stderr(Stdio::inherit()).output() {
            Ok(output) => output,
            Err(e) => panic!("TestKdc: cannot re-run the test binary: {e}"),
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        // The child's output is the test's output (libtest captures print!, not raw writes).
        #[allow(clippy::print_stdout)]
        {
            print!("{stdout}");
        }
        assert!(
            output.status.success(),
            "the child run of {test} failed ({}); kdc.log:\n{}",
            output.status,
            self.log()
        );
        // A filter that matched nothing would pass vacuously: the child must have run it.
        assert!(
            stdout.contains("test result: ok. 1 passed"),
            "the child did not run {test}"
        );
    }
}

impl Drop for TestKdc {
    fn drop(&mut self) {
        let _ = self.kdc.kill();
        let _ = self.kdc.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A GSSAPI initiator on the default ticket cache (`KRB5CCNAME`): what a browser or
/// `curl --negotiate` does, for tests.
#[derive(Debug)]
pub struct TestClient {
    ctx: ClientCtx,
}

impl TestClient {
    /// Starts a SPNEGO context to host-based service `target` (`HTTP@localhost`), with
    /// mutual authentication when `mutual`, and returns it with its first token (the one an
    /// HTTP client sends as `Authorization: Negotiate <base64>`).
    ///
    /// # Errors
    ///
    /// GSSAPI's message (no ticket cache, expired TGT, unknown service).
    pub fn spnego(target: &str, mutual: bool) -> Result<(Self, Vec<u8>), String> {
        let name = Name::new(target.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE))
            .map_err(|e| format!("import {target}: {e}"))?;
        let cred = Cred::acquire(None, None, CredUsage::Initiate, None)
            .map_err(|e| format!("initiator credential: {e}"))?;
        let flags = if mutual {
            CtxFlags::GSS_C_MUTUAL_FLAG
        } else {
            CtxFlags::empty()
        };
        let mut ctx = ClientCtx::new(Some(cred), name, flags, Some(GSS_MECH_SPNEGO));
        let token = ctx
            .step(None, None)
            .map_err(|e| format!("init_sec_context: {e}"))?
            .ok_or("init_sec_context gave no token")?;
        Ok((Self { ctx }, token.to_vec()))
    }

    /// Feeds the acceptor's reply token (from `WWW-Authenticate: Negotiate <base64>`);
    /// `Ok(())` when the context is then complete, which with mutual authentication means
    /// the server proved it holds the service key.
    ///
    /// # Errors
    ///
    /// GSSAPI's message, or "not complete" when it wants a further round.
    pub fn finish(&mut self, reply: &[u8]) -> Result<(), String> {
        match self.ctx.step(Some(reply), None) {
            Ok(None) if self.ctx.is_complete() => Ok(()),
            Ok(_) => Err("the initiator context is not complete".to_owned()),
            Err(e) => Err(format!("init_sec_context on the reply: {e}")),
        }
    }

    /// Whether the context is complete.
    pub fn is_complete(&self) -> bool {
        self.ctx.is_complete()
    }

    /// Whether the context has mutual authentication (`GSS_C_MUTUAL_FLAG`): asked for,
    /// and, once [`finish`](Self::finish) succeeded, proved by the server's reply.
    pub fn is_mutual(&self) -> bool {
        self.ctx
            .flags()
            .is_ok_and(|f| f.contains(CtxFlags::GSS_C_MUTUAL_FLAG))
    }

    /// The remaining lifetime of the context (of the service ticket behind it).
    pub fn lifetime(&self) -> Option<Duration> {
        self.ctx.lifetime().ok()
    }
}

fn config_env(dir: &Path) -> Vec<(&'static str, OsString)> {
    vec![
        ("KRB5_CONFIG", dir.join("krb5.conf").into_os_string()),
        ("KRB5_KDC_PROFILE", dir.join("kdc.conf").into_os_string()),
    ]
}

fn file_name(path: &Path) -> OsString {
    let mut name = OsString::from("FILE:");
    name.push(path);
    name
}

fn kadmin(dir: &Path, script: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut child = Command::new(KADMIN_LOCAL)
        .arg("-r")
        .arg(REALM)
        .envs(config_env(dir))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {KADMIN_LOCAL}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| format!("kadmin.local stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("kadmin.local: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // kadmin.local exits 0 even when a query fails; its errors start with "kadmin.local:"
    // followed by a message, or name a missing principal.
    if !out.status.success() || text.contains("while ") || text.contains("does not exist") {
        return Err(format!("kadmin.local failed:\n{text}"));
    }
    Ok(())
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

fn fresh_dir() -> Result<PathBuf, String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "tower-authn-kdc-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    Ok(dir)
}

/// A port free on 127.0.0.1 for both TCP and UDP (the KDC listens on both).
fn free_port() -> Result<u16, String> {
    for _ in 0..50 {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("bind: {e}"))?;
        let port = tcp
            .local_addr()
            .map_err(|e| format!("local_addr: {e}"))?
            .port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no port free for both TCP and UDP on 127.0.0.1".to_owned())
}
