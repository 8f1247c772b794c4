//! [`RedisAttempts`]: failed-attempt counts shared by every instance, one expiring counter
//! per key under `P:attempts:KEY`.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use redis::Script;
use tower_authn_core::StoreError;
use tower_authn_core::throttle::{AttemptStore, Failures};

use crate::Shared;

/// Counts one failure; the first one of a window sets the window's end.
static RECORD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('INCR', ARGV[1])
local ttl = redis.call('PTTL', ARGV[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', ARGV[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {n, ttl}
",
    )
});

/// Reads a count and the time left in its window.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('GET', ARGV[1])
if not n then return false end
return {tonumber(n), redis.call('PTTL', ARGV[1])}
",
    )
});

/// Failed-attempt counts in Redis, for `Throttle::with_store`. Clones share the connection.
#[derive(Clone)]
pub struct RedisAttempts {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisAttempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAttempts")
            .field("prefix", &self.shared.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisAttempts {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn key(&self, key: &str) -> String {
        self.shared.key(&["attempts", key])
    }
}

fn failures(count: i64, ttl_ms: i64) -> Failures {
    Failures {
        count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
        resets_in: Duration::from_millis(u64::try_from(ttl_ms.max(0)).unwrap_or(0)),
    }
}

impl AttemptStore for RedisAttempts {
    fn failures<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Failures>, StoreError>> {
        async move {
            let mut call = READ.prepare_invoke();
            call.arg(self.key(key));
            let found: Option<(i64, i64)> = self.shared.conn.script(&call).await?;
            Ok(found
                .filter(|&(_, ttl)| ttl != -2)
                .map(|(n, ttl)| failures(n, ttl)))
        }
        .boxed()
    }

    fn record_failure<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<Failures, StoreError>> {
        async move {
            let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut call = RECORD.prepare_invoke();
            call.arg(self.key(key)).arg(window_ms);
            let (n, ttl): (i64, i64) = self.shared.conn.script(&call).await?;
            Ok(failures(n, ttl))
        }
        .boxed()
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let mut del = redis::cmd("DEL");
            del.arg(self.key(key));
            self.shared.conn.query::<i64>(del).await.map(|_| ())
        }
        .boxed()
    }
}
