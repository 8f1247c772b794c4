//! Cache invalidation across instances: every change is published on `P:invalidate` (by
//! the script that makes it), every instance listens, and a heartbeat proves the channel
//! is heard. The [`Invalidator`] is live only while this listener is subscribed and has
//! heard something within the allowed silence; when it comes back after any gap it drops
//! every cache entry first, since changes may have been published unheard.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::AbortHandle;
use tower_authn_core::{Invalidation, Invalidator};

use crate::connection::{Connection, store_error};

/// What goes over the channel: `k:KIND:ID`, `p:ID`, `all`, or the heartbeat `hb`.
pub(crate) mod message {
    use tower_authn_core::{Invalidation, KeyKind};

    use crate::codec::kind_named;

    /// The heartbeat.
    pub(crate) const HEARTBEAT: &str = "hb";

    /// A key changed.
    pub(crate) fn key(kind: KeyKind, id: &str) -> String {
        format!("k:{}:{id}", kind.as_str())
    }

    /// A principal changed.
    pub(crate) fn principal(id: &str) -> String {
        format!("p:{id}")
    }

    /// The change a message announces; `None` for a heartbeat. A message this version
    /// cannot read announces everything, so nothing stale survives it.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Invalidation> {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Some(Invalidation::All);
        };
        if text == HEARTBEAT {
            return None;
        }
        if let Some(rest) = text.strip_prefix("k:") {
            if let Some((kind, id)) = rest.split_once(':') {
                if let Some(kind) = kind_named(kind) {
                    return Some(Invalidation::key(kind, id));
                }
            }
        }
        if let Some(id) = text.strip_prefix("p:") {
            return Some(Invalidation::principal(id));
        }
        Some(Invalidation::All)
    }
}

/// Stops the listener and the heartbeat when dropped.
pub(crate) struct Tasks(Vec<AbortHandle>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// What the listener and the heartbeat need.
pub(crate) struct Listener {
    pub(crate) client: redis::Client,
    pub(crate) conn: Connection,
    pub(crate) channel: String,
    pub(crate) invalidator: Invalidator,
    pub(crate) heartbeat: Duration,
    pub(crate) max_silence: Duration,
    pub(crate) timeout: Duration,
}

/// Starts listening and beating; both stop when the returned [`Tasks`] is dropped.
pub(crate) fn start(listener: Listener) -> Tasks {
    let listener = Arc::new(listener);
    let listen = tokio::spawn(listen(Arc::clone(&listener)));
    let beat = tokio::spawn(beat(listener));
    Tasks(vec![listen.abort_handle(), beat.abort_handle()])
}

async fn beat(l: Arc<Listener>) {
    let mut tick = tokio::time::interval(l.heartbeat.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&l.channel).arg(message::HEARTBEAT);
        if let Err(e) = l.conn.query::<i64>(publish).await {
            tracing::debug!(error = %e, "heartbeat not published");
        }
    }
}

async fn subscribe(l: &Listener) -> Result<redis::aio::PubSub, String> {
    let connect = async {
        let mut pubsub = l
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| store_error(&e).to_string())?;
        pubsub
            .subscribe(&l.channel)
            .await
            .map_err(|e| store_error(&e).to_string())?;
        Ok(pubsub)
    };
    tokio::time::timeout(l.timeout, connect)
        .await
        .map_err(|_| "redis: subscribe timed out".to_owned())?
}

async fn listen(l: Arc<Listener>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        l.invalidator.set_live(false);
        match subscribe(&l).await {
            Ok(mut pubsub) => {
                backoff = Duration::from_millis(50);
                // Whatever was published while nobody listened here is lost: start afresh.
                l.invalidator.invalidate(Invalidation::All);
                l.invalidator.set_live(true);
                tracing::debug!(channel = %l.channel, "listening for invalidations");
                let mut messages = pubsub.on_message();
                // Until it closes, or stays silent too long (a half-open connection).
                while let Ok(Some(msg)) = tokio::time::timeout(l.max_silence, messages.next()).await
                {
                    if l.invalidator.is_silent() {
                        // A gap longer than allowed: changes may have been missed.
                        l.invalidator.invalidate(Invalidation::All);
                    }
                    if let Some(change) = message::parse(msg.get_payload_bytes()) {
                        l.invalidator.invalidate(change);
                    }
                    l.invalidator.heard();
                }
                l.invalidator.set_live(false);
                tracing::debug!(channel = %l.channel, "invalidation channel lost");
            }
            Err(e) => tracing::debug!(error = %e, "cannot listen for invalidations"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use tower_authn_core::KeyKind;

    use super::message::*;
    use super::*;

    #[test]
    fn messages_round_trip() {
        let k = key(KeyKind::AppApiKey, "id:with:colons");
        assert_eq!(
            parse(k.as_bytes()),
            Some(Invalidation::key(KeyKind::AppApiKey, "id:with:colons"))
        );
        assert_eq!(
            parse(principal("bob@example.com").as_bytes()),
            Some(Invalidation::principal("bob@example.com"))
        );
        assert_eq!(parse(HEARTBEAT.as_bytes()), None);
        for odd in [&b"k:nokind:x"[..], b"zzz", b"\xff\xfe", b"k:"] {
            assert_eq!(parse(odd), Some(Invalidation::All));
        }
    }
}
