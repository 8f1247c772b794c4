//! [`RedisAttempts`]: attempt counts shared by every instance, one expiring counter per key
//! under `P:attempts:KEY`. Reserving is one Lua script over every key of the attempt, so
//! instances racing on one user can never be granted more attempts than the limit.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use redis::Script;
use tower_authn_core::StoreError;
use tower_authn_core::throttle::{AttemptStore, Failures, Limit, Reservation};

use crate::Shared;

/// Reserves one attempt on every key, or none. `KEYS[i]` has limit `ARGV[2i-1]`
/// attempts per window of `ARGV[2i]` ms. Returns `{1, 0}` granted, `{0, wait_ms}` locked.
/// A counter without an expiry (never made by this script) gets the window, so no key
/// can lock forever.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local wait = -1
for i, key in ipairs(KEYS) do
  local max = tonumber(ARGV[2 * i - 1])
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= max then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      if n > 0 then redis.call('PEXPIRE', key, ttl) end
    end
    if ttl > wait then wait = ttl end
  end
end
if wait >= 0 then return {0, wait} end
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 or redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, ARGV[2 * i])
  end
end
return {1, 0}
",
    )
});

/// Gives back one reserved attempt; the last one deletes the counter.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('DECR', KEYS[1])
",
    )
});

/// Reads a count and the time left in its window.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('GET', KEYS[1])
if not n then return false end
return {tonumber(n), redis.call('PTTL', KEYS[1])}
",
    )
});

/// Attempt counts in Redis, for `Throttle::with_store`. Clones share the connection.
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

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0))
}

impl AttemptStore for RedisAttempts {
    fn reserve<'a>(
        &'a self,
        keys: &'a [(String, Limit)],
    ) -> BoxFuture<'a, Result<Reservation, StoreError>> {
        async move {
            let mut call = RESERVE.prepare_invoke();
            for (key, limit) in keys {
                call.key(self.key(key))
                    .arg(limit.max_failures)
                    .arg(millis(limit.window));
            }
            let (granted, wait): (i64, i64) = self.shared.conn.script(&call).await?;
            Ok(if granted == 1 {
                Reservation::Granted
            } else {
                Reservation::Locked {
                    resets_in: duration(wait),
                }
            })
        }
        .boxed()
    }

    fn release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let mut call = RELEASE.prepare_invoke();
            call.key(self.key(key));
            self.shared.conn.script::<i64>(&call).await.map(|_| ())
        }
        .boxed()
    }

    fn failures<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Failures>, StoreError>> {
        async move {
            let mut call = READ.prepare_invoke();
            call.key(self.key(key));
            let found: Option<(i64, i64)> = self.shared.conn.script(&call).await?;
            Ok(found
                .filter(|&(_, ttl)| ttl != -2)
                .map(|(n, ttl)| Failures {
                    count: u32::try_from(n.max(0)).unwrap_or(u32::MAX),
                    resets_in: duration(ttl),
                }))
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
