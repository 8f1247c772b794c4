//! The shared store of tower-authn on Redis, for several instances that must agree, at
//! once, on which users, keys, tokens and sessions are valid.
//!
//! [`RedisStores::connect`] gives one handle per instance, and from it every store trait
//! of the suite on one Redis:
//!
//! - [`RedisUserStore`]: a [`UserStore`](tower_authn_core::UserStore); passwords only as
//!   PHC strings, never an HA1B (register those as digests in the key store).
//! - [`RedisKeyStore`]: a [`KeyStore`](tower_authn_core::KeyStore) for shared tokens, device
//!   tokens, app API keys, access pairs, issued and refresh tokens, HA1Bs: only digests;
//!   every change is one Lua script, so a record and its indexes are never half-written, and
//!   `consume` is atomic across instances.
//! - [`RedisAttempts`]: an [`AttemptStore`](tower_authn_core::AttemptStore), so failed-attempt
//!   throttling counts across instances.
//! - [`RedisStores::audit`]: a [`RedisAudit`], an
//!   [`AuditSink`](tower_authn_core::audit::AuditSink) that appends every instance's audit
//!   events to one capped stream (`P:audit`), without making a request wait.
//! - [`RedisStores::invalidator`]: the instance's [`Invalidator`]. Every change is published
//!   on a Redis channel in the same script that makes it, and every instance listens:
//!   caches drop what a change concerns on this instance before the call returns, on the
//!   others as soon as the message arrives. A heartbeat on the channel proves it is heard;
//!   after [`RedisConfig::max_silence`] without one (Redis down, a half-open connection),
//!   the invalidator is not live and caches are bypassed until the listener is back, when
//!   it drops every cache entry first.
//!
//! Every call has a timeout ([`RedisConfig::timeout`]); a Redis that does not answer is a
//! [`StoreError`], so requests fail closed with 503, and they
//! recover by themselves when Redis is back (the connection is re-established on demand).
//!
//! Keys live under a prefix ([`RedisConfig::prefix`], default `authn`); the scripts build
//! key names from it, so this is for one Redis primary (with replicas or Sentinel), not a
//! Redis Cluster.
//!
//! ```
//! use std::time::Duration;
//! use tower_authn_redis::{RedisConfig, RedisStores};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let config = RedisConfig::new("redis://127.0.0.1:6379/")
//!     .key_pepper(*b"a secret of 32 bytes or more....")
//!     .prefix("my-app")
//!     .timeout(Duration::from_millis(300));
//! // Connecting is lazy: nothing is sent until a store is used.
//! let stores = RedisStores::connect(config).unwrap();
//! let (users, keys) = (stores.users(), stores.keys());
//! # let _ = (users, keys);
//! assert!(!format!("{stores:?}").contains("6379"), "the URL may hold a password");
//! # }
//! ```

mod attempts;
mod audit;
mod codec;
mod connection;
mod keys;
mod listener;
mod users;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tower_authn_core::{Invalidator, KeyHasher, StoreError};

pub use attempts::RedisAttempts;
pub use audit::{DEFAULT_AUDIT_MAX_LEN, DEFAULT_AUDIT_QUEUE, RedisAudit};
pub use keys::RedisKeyStore;
pub use users::RedisUserStore;

use connection::Connection;

/// How to reach Redis and how to use it.
#[derive(Clone)]
pub struct RedisConfig {
    url: SecretString,
    prefix: String,
    timeout: Duration,
    /// `None` until chosen: [`RedisStores::connect`] refuses to guess.
    hasher: Option<KeyHasher>,
    heartbeat: Duration,
    max_silence: Duration,
    retention: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"[REDACTED]")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("hasher", &self.hasher)
            .field("heartbeat", &self.heartbeat)
            .field("max_silence", &self.max_silence)
            .field("retention", &self.retention)
            .finish()
    }
}

impl RedisConfig {
    /// Redis at `url` (`redis://[user:password@]host:port/db`, or `rediss://` when the
    /// `redis` crate's TLS is enabled), prefix `authn`, 500 ms timeout, a heartbeat every
    /// 200 ms, live while heard within 800 ms.
    ///
    /// How digests are keyed has no default: give the pepper every instance shares
    /// ([`key_pepper`](Self::key_pepper)), or choose another [`key_hasher`](Self::key_hasher);
    /// [`RedisStores::connect`] refuses a configuration without one.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            prefix: "authn".to_owned(),
            timeout: Duration::from_millis(500),
            hasher: None,
            heartbeat: Duration::from_millis(200),
            max_silence: Duration::from_millis(800),
            retention: Duration::from_secs(24 * 3600),
        }
    }

    /// The prefix of every Redis key (several deployments can share one Redis).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest any Redis call may take; past it the call fails (503).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Keys, tokens and HA1Bs are stored as HMAC-SHA256 digests under `pepper`, a server
    /// secret of at least [`MIN_PEPPER_LEN`] bytes that every instance shares and Redis
    /// never sees: a copy of Redis is then useless without it (an HA1B, a password
    /// equivalent, cannot be cracked offline from its digest).
    ///
    /// Rotating the pepper makes every stored digest unknown: keys, tokens and HA1Bs must
    /// be issued or registered again (users log in again; passwords, stored as PHC strings,
    /// are not affected).
    pub fn key_pepper(self, pepper: impl Into<Vec<u8>>) -> Self {
        self.key_hasher(KeyHasher::hmac(pepper))
    }

    /// How keys are digested (every instance must use the same): [`KeyHasher::hmac`] (what
    /// [`key_pepper`](Self::key_pepper) sets), or [`KeyHasher::Sha256`] to store unkeyed
    /// digests knowingly.
    pub fn key_hasher(mut self, hasher: KeyHasher) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// How often each instance publishes a heartbeat on the invalidation channel.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// How long the invalidation channel may stay silent before caches are bypassed: the
    /// bound on how late another instance's change can reach this instance's caches.
    /// Keep it a few heartbeats long, and under a second.
    pub fn max_silence(mut self, silence: Duration) -> Self {
        self.max_silence = silence;
        self
    }

    /// How long an expired key's record stays in Redis (answering `expired` rather than
    /// unknown) before Redis drops it.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }
}

/// The shortest pepper [`RedisStores::connect`] accepts, in bytes.
pub const MIN_PEPPER_LEN: usize = 32;

/// What every store of one instance shares.
pub(crate) struct Shared {
    pub(crate) conn: Connection,
    pub(crate) prefix: String,
    pub(crate) hasher: KeyHasher,
    pub(crate) invalidator: Invalidator,
    pub(crate) channel: String,
    pub(crate) retention: Duration,
    /// Stops the listener and the heartbeat when the last store goes.
    _tasks: listener::Tasks,
}

impl Shared {
    /// `prefix:part:part...`.
    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }
}

/// One instance's handle on the shared Redis: the stores and the invalidator. Clones
/// share the connection. See the [crate docs](crate).
#[derive(Clone)]
pub struct RedisStores {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStores")
            .field("prefix", &self.shared.prefix)
            .field("invalidator", &self.shared.invalidator)
            .finish_non_exhaustive()
    }
}

impl RedisStores {
    /// Prepares the connection (lazily: nothing is sent yet) and starts listening for
    /// other instances' changes on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the URL is not a Redis URL, when no key hasher was chosen or
    /// the pepper is shorter than [`MIN_PEPPER_LEN`], or when called outside a tokio
    /// runtime.
    pub fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::new(
                "RedisStores::connect needs a tokio runtime to listen on",
            ));
        }
        let hasher = match config.hasher {
            None => {
                return Err(StoreError::new(
                    "RedisConfig needs the digests' pepper: .key_pepper(secret shared by every \
                     instance), or .key_hasher(KeyHasher::Sha256) for unkeyed digests",
                ));
            }
            Some(h) if h.is_keyed() && h.pepper_len() < MIN_PEPPER_LEN => {
                return Err(StoreError::new(format!(
                    "the key pepper must be at least {MIN_PEPPER_LEN} bytes"
                )));
            }
            Some(h) => h,
        };
        let client = redis::Client::open(config.url.expose_secret())
            .map_err(|e| StoreError::new(format!("REDIS_URL unusable: {}", e.category())))?;
        let conn = Connection::new(client.clone(), config.timeout)?;
        let invalidator = Invalidator::with_heartbeat(config.max_silence);
        let channel = format!("{}:invalidate", config.prefix);
        let tasks = listener::start(listener::Listener {
            client,
            conn: conn.clone(),
            channel: channel.clone(),
            invalidator: invalidator.clone(),
            heartbeat: config.heartbeat,
            max_silence: config.max_silence,
            timeout: config.timeout,
        });
        Ok(Self {
            shared: Arc::new(Shared {
                conn,
                prefix: config.prefix,
                hasher,
                invalidator,
                channel,
                retention: config.retention,
                _tasks: tasks,
            }),
        })
    }

    /// The user store.
    pub fn users(&self) -> RedisUserStore {
        RedisUserStore::new(Arc::clone(&self.shared))
    }

    /// The key store.
    pub fn keys(&self) -> RedisKeyStore {
        RedisKeyStore::new(Arc::clone(&self.shared))
    }

    /// The failed-attempt counts, for `Throttle::with_store`.
    pub fn attempts(&self) -> RedisAttempts {
        RedisAttempts::new(Arc::clone(&self.shared))
    }

    /// An audit sink writing to the stream `P:audit`, capped at about
    /// [`DEFAULT_AUDIT_MAX_LEN`] entries, with a queue of [`DEFAULT_AUDIT_QUEUE`] events:
    /// give it to the issuers' `with_audit`. Each call starts one writing task.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when called outside a tokio runtime.
    pub fn audit(&self) -> Result<RedisAudit, StoreError> {
        self.audit_with(DEFAULT_AUDIT_MAX_LEN, DEFAULT_AUDIT_QUEUE)
    }

    /// [`audit`](Self::audit) keeping about `max_len` entries, with a queue of `queue`
    /// events (at least 1 each).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when called outside a tokio runtime.
    pub fn audit_with(&self, max_len: usize, queue: usize) -> Result<RedisAudit, StoreError> {
        RedisAudit::start(
            self.shared.conn.clone(),
            self.shared.key(&["audit"]),
            max_len,
            queue,
        )
    }

    /// This instance's invalidator: give it to the verification caches.
    pub fn invalidator(&self) -> Invalidator {
        self.shared.invalidator.clone()
    }

    /// Asks Redis for a `PONG`, within the timeout.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when Redis does not answer.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = self.shared.conn.query(redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::new("redis: unexpected answer to PING"))
        }
    }
}
