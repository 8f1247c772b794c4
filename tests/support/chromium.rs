//! A headless Chromium for the browser tests, driven over the Chrome DevTools Protocol.
//!
//! `Chromium::launch()` starts Debian's `/usr/bin/chromium` headless on a fresh profile (a
//! temporary `--user-data-dir`, deleted on drop) with every background connection turned off,
//! so nothing talks to the internet; `new_page()` opens a tab; `Page::navigate` waits for the
//! load event; `Page::eval` runs JavaScript (promises awaited) and returns its value as JSON.
//! Every wait is bounded ([`TIMEOUT`]) and ends in a panic that says what was awaited: a test
//! never hangs. A machine without Chromium fails the test (install it with `scripts/deps`).
//!
//! Include it with `#[path = "support/chromium.rs"] mod chromium;`.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// Where Debian's package puts Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The bound on every wait: the start, each DevTools call, each page load.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The flags every launch passes: headless, no sandbox (the tests run as root), and no
/// connection of Chromium's own (updates, sync, safe browsing, QUIC probes).
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
];

/// The most of Chromium's stderr kept for a failure's message (its last lines).
const STDERR_KEEP: usize = 16 * 1024;

/// A running headless Chromium; killed (and waited for), its profile deleted, on drop.
pub struct Chromium {
    child: Child,
    profile: PathBuf,
    port: u16,
    stderr: Arc<Mutex<String>>,
    cdp: Cdp,
}

impl std::fmt::Debug for Chromium {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chromium")
            .field("pid", &self.child.id())
            .field("port", &self.port)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl Chromium {
    /// Starts Chromium and connects to its browser endpoint. Panics, with Chromium's stderr,
    /// when it is not installed, exits, or has not opened its DevTools port within
    /// [`TIMEOUT`].
    pub async fn launch() -> Chromium {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the browser tests need Debian's chromium; install it with \
             scripts/deps"
        );
        let profile = fresh_profile_dir();
        let mut child = Command::new(CHROMIUM)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Left in the test's process group, so that a runner that kills the group (nextest
            // on a time out) ends Chromium too.
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                // Without a D-Bus (a container) every start logs dozens of these.
                if line.contains(":ERROR:dbus/") {
                    continue;
                }
                let mut kept = sink.lock().unwrap_or_else(|e| e.into_inner());
                kept.push_str(&line);
                kept.push('\n');
                if kept.len() > STDERR_KEEP {
                    let mut cut = kept.len() - STDERR_KEEP;
                    while !kept.is_char_boundary(cut) {
                        cut += 1;
                    }
                    kept.drain(..cut);
                }
            }
        });
        // From here on a panic drops `guard`, which kills Chromium and removes the profile.
        let mut guard = Launching {
            child: Some(child),
            profile: Some(profile.clone()),
        };

        let port_file = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + TIMEOUT;
        let (port, path) = loop {
            // The file is written whole, then renamed into place: two lines, port and path.
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    if let Ok(port) = port.trim().parse::<u16>() {
                        break (port, path.trim().to_owned());
                    }
                }
            }
            let running = guard.child.as_mut().expect("child").try_wait();
            if let Ok(Some(status)) = running {
                // Let the reader drain what it printed last.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "{CHROMIUM} exited ({status}) before opening its DevTools port; stderr:\n{}",
                    stderr_of(&stderr)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{CHROMIUM} wrote no {} within {TIMEOUT:?}; stderr:\n{}",
                    port_file.display(),
                    stderr_of(&stderr)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };

        let url = format!("ws://127.0.0.1:{port}{path}");
        let cdp = match tokio::time::timeout(TIMEOUT, Cdp::connect(&url)).await {
            Ok(Ok(cdp)) => cdp,
            Ok(Err(e)) => panic!(
                "cannot open the DevTools socket {url}: {e}; stderr:\n{}",
                stderr_of(&stderr)
            ),
            Err(_) => panic!(
                "the DevTools socket {url} did not open within {TIMEOUT:?}; stderr:\n{}",
                stderr_of(&stderr)
            ),
        };
        Chromium {
            child: guard.child.take().expect("child"),
            profile: guard.profile.take().expect("profile"),
            port,
            stderr,
            cdp,
        }
    }

    /// The DevTools port Chromium chose.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What Chromium has printed on stderr so far (the last 16 KiB, D-Bus complaints left out).
    pub fn stderr(&self) -> String {
        stderr_of(&self.stderr)
    }

    /// Opens a new tab on `about:blank`, attached (flat session) with the `Page` domain on.
    pub async fn new_page(&self) -> Page {
        let target = self
            .cdp
            .call("Target.createTarget", json!({"url": "about:blank"}), None)
            .await;
        let target_id = target["targetId"]
            .as_str()
            .unwrap_or_else(|| panic!("Target.createTarget answered no targetId: {target}"))
            .to_owned();
        let attached = self
            .cdp
            .call(
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
                None,
            )
            .await;
        let session = attached["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("Target.attachToTarget answered no sessionId: {attached}"))
            .to_owned();
        let page = Page {
            cdp: self.cdp.clone(),
            session,
            target_id,
        };
        page.call("Page.enable", json!({})).await;
        page
    }

    /// A DevTools call on the browser itself (no session): its `result`, or a panic with the
    /// protocol's error.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.cdp.call(method, params, None).await
    }

    /// Every cookie of the browser's profile (`Storage.getCookies`), `HttpOnly` ones too: each
    /// a DevTools `Network.Cookie` (`name`, `value`, `domain`, `path`, `httpOnly`, `secure`,
    /// `sameSite`, ...).
    pub async fn cookies(&self) -> Vec<Value> {
        let answer = self.call("Storage.getCookies", json!({})).await;
        cookie_list(answer)
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        kill(&mut self.child);
        remove_profile(&self.profile);
    }
}

/// Cleans up a launch that panicked before it returned.
struct Launching {
    child: Option<Child>,
    profile: Option<PathBuf>,
}

impl Drop for Launching {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            kill(child);
        }
        if let Some(profile) = &self.profile {
            remove_profile(profile);
        }
    }
}

/// Kills the browser process and reaps it. Its zygotes, renderers, utility processes and
/// crash handlers watch it and exit by themselves when it is gone (seen: none outlives it).
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn remove_profile(profile: &Path) {
    // A helper that has not yet died may still write a file: try a few times.
    for _ in 0..20 {
        match std::fs::remove_dir_all(profile) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => return,
        }
    }
}

fn fresh_profile_dir() -> PathBuf {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "tower-authn-chromium-{}-{nanos}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot create the profile {}: {e}", dir.display()));
    dir
}

fn stderr_of(stderr: &Mutex<String>) -> String {
    stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn cookie_list(answer: Value) -> Vec<Value> {
    match answer.get("cookies") {
        Some(Value::Array(cookies)) => cookies.clone(),
        _ => panic!("no cookie list in {answer}"),
    }
}

/// One tab, attached through a flat DevTools session on the browser's socket.
#[derive(Debug, Clone)]
pub struct Page {
    cdp: Cdp,
    session: String,
    target_id: String,
}

impl Page {
    /// The DevTools target id of this tab.
    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    /// A DevTools call in this tab's session: its `result`, or a panic with the protocol's
    /// error.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.cdp.call(method, params, Some(&self.session)).await
    }

    /// Loads `url` in this tab and waits (at most [`TIMEOUT`]) for its load event. Panics when
    /// the navigation fails (`errorText`: refused connection, bad address, ...).
    pub async fn navigate(&self, url: &str) {
        // Listen before asking, so that no event of this navigation can be missed.
        let mut events = self.cdp.events.subscribe();
        let answer = self.call("Page.navigate", json!({"url": url})).await;
        if let Some(error) = answer.get("errorText").and_then(Value::as_str) {
            panic!("navigating to {url} failed: {error}");
        }
        // A same-document navigation (a fragment) has no loader and no load event.
        let Some(loader) = answer.get("loaderId").and_then(Value::as_str) else {
            return;
        };
        // The main frame commits this loader, then fires its load event: a load event of an
        // earlier document (the first about:blank) comes before the commit and is skipped.
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let mut committed = false;
        loop {
            let event = match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(event)) => event,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    panic!("the DevTools connection closed while loading {url}")
                }
                Err(_) => panic!(
                    "{url} did not finish loading within {TIMEOUT:?} (committed: {committed})"
                ),
            };
            if event["sessionId"].as_str() != Some(&self.session) {
                continue;
            }
            match event["method"].as_str() {
                Some("Page.frameNavigated") => {
                    let frame = &event["params"]["frame"];
                    if frame.get("parentId").is_none() && frame["loaderId"].as_str() == Some(loader)
                    {
                        committed = true;
                    }
                }
                Some("Page.loadEventFired") if committed => return,
                _ => {}
            }
        }
    }

    /// Evaluates `js` in the page (a promise is awaited) and returns its value as JSON
    /// (`undefined` is `null`); panics with the exception's text when it throws or rejects.
    pub async fn eval(&self, js: &str) -> Value {
        match self.try_eval(js).await {
            Ok(value) => value,
            Err(exception) => panic!("JavaScript threw: {exception}\n--- in:\n{js}"),
        }
    }

    /// Like [`Page::eval`], but an exception (or rejection) is `Err` with its text, e.g.
    /// `TypeError: Failed to fetch`.
    pub async fn try_eval(&self, js: &str) -> Result<Value, String> {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "awaitPromise": true,
                    "returnByValue": true,
                    "userGesture": true,
                }),
            )
            .await;
        if let Some(details) = answer.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or_else(|| details["exception"]["value"].as_str())
                .or_else(|| details["text"].as_str())
                .map_or_else(|| details.to_string(), str::to_owned);
            return Err(text);
        }
        Ok(answer["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Every cookie the browser holds (`Network.getAllCookies`), `HttpOnly` ones included,
    /// which the page's own `document.cookie` never shows.
    pub async fn cookies(&self) -> Vec<Value> {
        cookie_list(self.call("Network.getAllCookies", json!({})).await)
    }

    /// The cookies the browser would send to `url` (`Network.getCookies`).
    pub async fn cookies_for(&self, url: &str) -> Vec<Value> {
        cookie_list(
            self.call("Network.getCookies", json!({"urls": [url]}))
                .await,
        )
    }
}

type Replies = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Value>>>>>;

/// A DevTools connection: calls matched to replies by id, events broadcast to whoever waits
/// for one (and dropped otherwise).
#[derive(Clone)]
struct Cdp {
    next_id: Arc<AtomicU64>,
    out: mpsc::UnboundedSender<Message>,
    /// `None` once the socket has closed: no reply will come.
    replies: Replies,
    events: broadcast::Sender<Value>,
}

impl std::fmt::Debug for Cdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cdp").finish_non_exhaustive()
    }
}

impl Cdp {
    async fn connect(url: &str) -> Result<Cdp, tokio_tungstenite::tungstenite::Error> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        let (mut write, mut read) = socket.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<Message>();
        let replies: Replies = Arc::new(Mutex::new(Some(HashMap::new())));
        let (events, _) = broadcast::channel(1024);

        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if write.send(message).await.is_err() {
                    break;
                }
            }
            let _ = write.close().await;
        });
        let (replies_in, events_in) = (replies.clone(), events.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = read.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if let Some(id) = value.get("id").and_then(Value::as_u64) {
                    let waiter = replies_in
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_mut()
                        .and_then(|m| m.remove(&id));
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(value);
                    }
                } else if value.get("method").is_some() {
                    // No receiver: nobody waits for events now, and this one is dropped.
                    let _ = events_in.send(value);
                }
            }
            // Closed: every waiting call learns it at once.
            replies_in.lock().unwrap_or_else(|e| e.into_inner()).take();
        });
        Ok(Cdp {
            next_id: Arc::new(AtomicU64::new(1)),
            out,
            replies,
            events,
        })
    }

    /// Sends one call and waits (at most [`TIMEOUT`]) for its reply; panics with the protocol's
    /// error, on a closed connection, or on time out.
    async fn call(&self, method: &str, params: Value, session: Option<&str>) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = Value::from(session);
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
            let Some(replies) = replies.as_mut() else {
                panic!("DevTools {method}: the connection to Chromium is closed");
            };
            replies.insert(id, tx);
        }
        if self.out.send(Message::text(message.to_string())).is_err() {
            panic!("DevTools {method}: the connection to Chromium is closed");
        }
        let reply = match tokio::time::timeout(TIMEOUT, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => panic!("DevTools {method}: the connection closed before its reply"),
            Err(_) => {
                if let Some(replies) = self
                    .replies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
                {
                    replies.remove(&id);
                }
                panic!("DevTools {method}: no reply within {TIMEOUT:?}")
            }
        };
        if let Some(error) = reply.get("error") {
            panic!("DevTools {method} failed: {error}");
        }
        reply.get("result").cloned().unwrap_or(Value::Null)
    }
}
