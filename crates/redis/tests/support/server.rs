//! A private `redis-server` for one test, on a free loopback port, persisted to a temporary
//! directory (append-only, fsync always) so it can be stopped and started again with its
//! data, as a crashed and restarted Redis would be.
//!
//! A test that needs Redis and cannot find `redis-server` fails: it never skips.
//! `.ci/run` and `scripts/test` install it (`apt-get install -y redis-server`).
//!
//! The port is the OS's (port 0), and a server counts as up only when the Redis answering
//! on it reports our child's process id (`INFO server`): a port taken meanwhile by another
//! test's redis-server is never mistaken for ours. A restart on the same port that finds
//! the port taken fails the test, saying so, rather than talking to someone else's Redis.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) private Redis.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// What answers on a port.
enum Answer {
    /// Nothing (yet): no connection, or no complete answer.
    Nothing,
    /// A Redis whose `INFO server` gives this `process_id`.
    Redis(u32),
}

/// Asks the Redis on `port` whether it serves (`PING`: not while it still loads its data)
/// and for its process id (`INFO server`, a RESP2 bulk reply).
fn who_answers(port: u16) -> Answer {
    fn ask(port: u16) -> std::io::Result<Option<u32>> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_millis(500)))?;
        s.write_all(b"PING\r\nINFO server\r\n")?;
        let mut reader = BufReader::new(s);
        let mut pong = String::new();
        reader.read_line(&mut pong)?;
        let mut head = String::new();
        reader.read_line(&mut head)?;
        if pong != "+PONG\r\n" {
            return Ok(None); // -LOADING: up, but not serving yet
        }
        let Some(len) = head
            .strip_prefix('$')
            .and_then(|n| n.trim_end().parse::<usize>().ok())
        else {
            return Ok(None); // an error reply (still loading) or not Redis at all
        };
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        Ok(String::from_utf8_lossy(&body).lines().find_map(|l| {
            l.strip_prefix("process_id:")
                .and_then(|pid| pid.trim().parse().ok())
        }))
    }
    match ask(port) {
        Ok(Some(pid)) => Answer::Redis(pid),
        _ => Answer::Nothing,
    }
}

/// How a spawn ended.
enum Spawned {
    /// Our child answers on the port.
    Ours,
    /// Our child exited (it could not bind the port, most likely).
    Exited,
    /// Another process's Redis answers on the port; our child was killed.
    Foreign(u32),
    /// Nothing answered in time; our child was killed.
    Silent,
}

impl RedisServer {
    /// Starts a fresh server. Panics (fails the test) when `redis-server` is missing or
    /// does not come up.
    pub fn start() -> Self {
        for _ in 0..5 {
            if let Some(server) = Self::try_start_on(free_port()) {
                return server;
            }
        }
        panic!("redis-server did not start (as our own child) on any of 5 free ports");
    }

    /// Starts a fresh server on `port`; `None` when it does not come up as our own child
    /// there (the port is taken).
    pub fn try_start_on(port: u16) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!(
            "tower-authn-redis-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory for redis");
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        match server.spawn() {
            Spawned::Ours => Some(server),
            _ => None, // dropped: its directory goes
        }
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server at once (SIGKILL, like a crash); its data stays on disk.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same data. Fails the test when
    /// the port is no longer ours (another process took it while the server was stopped):
    /// the clients of the test would otherwise talk to that process.
    pub fn restart(&mut self) {
        self.stop();
        match self.spawn() {
            Spawned::Ours => {}
            Spawned::Foreign(pid) => panic!(
                "port {} is no longer ours: while our redis-server was stopped, another \
                 Redis (process {pid}) took it; refusing to run the test against it",
                self.port
            ),
            Spawned::Exited => panic!(
                "redis-server did not restart on port {}: it exited (the port is taken by \
                 another process?)",
                self.port
            ),
            Spawned::Silent => panic!(
                "redis-server did not answer on port {} after a restart",
                self.port
            ),
        }
    }

    /// The process id of the running server, if any.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The port the server listens on (and comes back on after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts `redis-server` and waits until it answers as itself (its process id).
    fn spawn(&mut self) -> Spawned {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot run redis-server ({e}): install it (apt-get install -y redis-server); \
                 tests that need Redis fail rather than skip"
            ),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        let outcome = loop {
            if let Ok(Some(_)) = child.try_wait() {
                // It could not bind: say whether a Redis of someone else's holds the port.
                return match who_answers(self.port) {
                    Answer::Redis(pid) => Spawned::Foreign(pid),
                    Answer::Nothing => Spawned::Exited,
                };
            }
            match who_answers(self.port) {
                Answer::Redis(pid) if pid == child.id() => {
                    self.child = Some(child);
                    return Spawned::Ours;
                }
                Answer::Redis(pid) => break Spawned::Foreign(pid),
                Answer::Nothing if Instant::now() >= deadline => break Spawned::Silent,
                Answer::Nothing => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        outcome
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
