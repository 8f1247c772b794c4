//! One multiplexed, self-reconnecting connection (redis' `ConnectionManager`), with a
//! timeout on every call.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError, ScriptInvocation};
use tower_authn_core::StoreError;

/// The commands of one instance. Clones share the connection.
#[derive(Clone)]
pub(crate) struct Connection {
    manager: ConnectionManager,
    timeout: Duration,
}

/// A Redis error as a [`StoreError`]: its category only (details can echo data).
pub(crate) fn store_error(e: &RedisError) -> StoreError {
    tracing::debug!(category = e.category(), code = ?e.code(), "redis call failed");
    StoreError::new(format!("redis: {}", e.category()))
}

fn timed_out() -> StoreError {
    StoreError::new("redis: timed out")
}

impl Connection {
    /// A lazy connection to `client`: connected on first use, re-connected on demand after
    /// a failure, never waiting longer than `timeout`.
    pub(crate) fn new(client: redis::Client, timeout: Duration) -> Result<Self, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // One quick retry per reconnection; every later call starts another, so the
            // connection comes back as soon as Redis does.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(timeout);
        let manager =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|e| store_error(&e))?;
        Ok(Self { manager, timeout })
    }

    /// Runs `cmd`.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: Cmd) -> Result<T, StoreError> {
        let mut conn = self.manager.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(store_error(&e)),
            Err(_) => Err(timed_out()),
        }
    }

    /// Runs a script (loading it first if Redis does not know it yet).
    pub(crate) async fn script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.manager.clone();
        match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(store_error(&e)),
            Err(_) => Err(timed_out()),
        }
    }
}
