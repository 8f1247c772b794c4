//! [`RedisAudit`]: audit events of every instance in one capped Redis stream, `P:audit`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};
use tower_authn_core::StoreError;
use tower_authn_core::audit::{AuditEvent, AuditSink};

use crate::connection::Connection;

/// How many entries the stream keeps by default (about: Redis trims whole nodes).
pub const DEFAULT_AUDIT_MAX_LEN: usize = 100_000;
/// How many events wait to be written, by default, before new ones are dropped.
pub const DEFAULT_AUDIT_QUEUE: usize = 1024;

enum Msg {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
}

/// An [`AuditSink`] that appends each event to the Redis stream `P:audit` (`P` the
/// prefix), capped with `XADD ... MAXLEN ~ N`, so several instances share one trail.
/// Made by [`RedisStores::audit`](crate::RedisStores::audit).
///
/// [`record`](AuditSink::record) never waits: it queues the event (a bounded queue) for a
/// task that writes them in order. When the queue is full (Redis slow or down) the event
/// is dropped and counted ([`dropped`](Self::dropped)); a write that fails is logged (at
/// `warn`, without the event) and counted the same way. Clones share the queue.
///
/// Each entry has the fields `action`, `outcome`, `actor`, `at` (milliseconds since the
/// Unix epoch) and, when known, `key_kind`, `key_id`, `subject`, `subject_kind` and
/// `family`: never a secret or a digest.
#[derive(Clone)]
pub struct RedisAudit {
    tx: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
    stream: Arc<str>,
}

impl fmt::Debug for RedisAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAudit")
            .field("stream", &self.stream)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl RedisAudit {
    /// Starts the writing task on the current tokio runtime.
    pub(crate) fn start(
        conn: Connection,
        stream: String,
        max_len: usize,
        queue: usize,
    ) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::new("RedisStores::audit needs a tokio runtime"))?;
        let (tx, rx) = mpsc::channel(queue.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let stream: Arc<str> = stream.into();
        runtime.spawn(write_all(
            conn,
            Arc::clone(&stream),
            max_len.max(1),
            rx,
            Arc::clone(&dropped),
        ));
        Ok(Self {
            tx,
            dropped,
            stream,
        })
    }

    /// The stream's Redis key (`P:audit`).
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// How many events were dropped (queue full) or not written (Redis failed).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every event recorded before the call has been written (or has failed):
    /// for tests and shutdown, never on a request's path.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the writing task is gone (its runtime shut down).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let gone = || StoreError::new("redis audit writer stopped");
        let (done, wait) = oneshot::channel();
        self.tx.send(Msg::Flush(done)).await.map_err(|_| gone())?;
        wait.await.map_err(|_| gone())
    }
}

impl AuditSink for RedisAudit {
    fn record(&self, event: AuditEvent) {
        if self.tx.try_send(Msg::Event(event)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `XADD stream MAXLEN ~ max_len * field value ...` for `e`.
fn xadd(stream: &str, max_len: usize, e: &AuditEvent) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("MAXLEN").arg("~").arg(max_len).arg("*");
    cmd.arg("action").arg(e.action.as_str());
    cmd.arg("outcome").arg(e.outcome.as_str());
    cmd.arg("actor").arg(e.actor.to_string());
    cmd.arg("at").arg(e.at_millis());
    let optional = [
        ("key_kind", e.key_kind.map(|k| k.as_str().to_owned())),
        ("key_id", e.key_id.clone()),
        ("subject", e.subject.clone()),
        (
            "subject_kind",
            e.subject_kind.map(|k| k.as_str().to_owned()),
        ),
        ("family", e.family.clone()),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            cmd.arg(name).arg(v);
        }
    }
    cmd
}

async fn write_all(
    conn: Connection,
    stream: Arc<str>,
    max_len: usize,
    mut rx: mpsc::Receiver<Msg>,
    dropped: Arc<AtomicU64>,
) {
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Event(e) => {
                if let Err(err) = conn.query::<redis::Value>(xadd(&stream, max_len, &e)).await {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %err, "audit event not written to redis");
                }
            }
            Msg::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
