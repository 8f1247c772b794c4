//! [`RedisUserStore`]: users as JSON under `P:user:LOGIN`, passwords only as PHC strings,
//! each with its epoch (see [`UserRecord::epoch`]) raised atomically by every write.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;

use futures_util::future::{BoxFuture, FutureExt};
use redis::Script;
use tower_authn_core::user_state::unix_millis;
use tower_authn_core::{Invalidation, StoreError, UserRecord, UserStore};

use crate::Shared;
use crate::codec::{decode_user, encode_user};
use crate::listener::message;

/// Writes a user and announces it, raising the epoch in Redis itself, so that two instances
/// writing one user at once still give it two distinct, rising epochs.
///
/// The stored JSON starts with `{"epoch":N,` (the script puts it there; the body it is given
/// starts with `{` and has no epoch). ARGV: key, body, expected current value (`\0` for
/// "whatever it is"), now in ms, the lowest epoch wanted, channel, message. Returns the
/// stored JSON, or `false` when the current value is not the expected one (the caller read
/// it, changed it, and must read it again).
static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local cur = redis.call('GET', ARGV[1])
if ARGV[3] ~= '\0' then
  if cur ~= ARGV[3] then return false end
end
local prev = 0
if cur then prev = tonumber(string.match(cur, '^{"epoch":(%d+),')) or 0 end
local epoch = math.max(prev + 1, tonumber(ARGV[4]), tonumber(ARGV[5]))
local json = '{"epoch":' .. string.format('%.0f', epoch) .. ',' .. string.sub(ARGV[2], 2)
redis.call('SET', ARGV[1], json)
redis.call('PUBLISH', ARGV[6], ARGV[7])
return json
"#,
    )
});

/// Deletes a user and announces it. ARGV: key, channel, message.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('DEL', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n
",
    )
});

/// How many times a read-change-write ([`UserStore::set_disabled`]) retries when another
/// writer changed the user in between.
const CAS_ATTEMPTS: usize = 8;

/// Users in Redis. Clones share the connection.
///
/// Every write ([`UserStore::put_user`], [`UserStore::set_disabled`],
/// [`UserStore::delete_user`]) is one Lua script that also publishes the change, so every
/// instance's caches drop the user, and raises the user's epoch, so every credential issued
/// before the change dies on every instance that checks users
/// ([`for_live_users`](tower_authn_core::user_state::UserStateExt::for_live_users)).
///
/// An HA1B is a password equivalent: [`put_user`](UserStore::put_user) never writes one.
/// Register it as a digest in the key store (`Ha1bVerifier::register_user`).
#[derive(Clone)]
pub struct RedisUserStore {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUserStore")
            .field("prefix", &self.shared.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisUserStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn user_key(&self, login: &str) -> String {
        self.shared.key(&["user", login])
    }

    async fn read(&self, login: &str) -> Result<Option<String>, StoreError> {
        let mut get = redis::cmd("GET");
        get.arg(self.user_key(login));
        self.shared.conn.query(get).await
    }

    /// Writes `user` when the stored value is `expected` (`None`: whatever it is); `None`
    /// back when it was not.
    async fn write(
        &self,
        user: &UserRecord,
        expected: Option<&str>,
    ) -> Result<Option<UserRecord>, StoreError> {
        let body = encode_user(user)?;
        let mut call = WRITE.prepare_invoke();
        call.arg(self.user_key(&user.login))
            .arg(body)
            .arg(expected.unwrap_or("\0"))
            .arg(unix_millis(SystemTime::now()))
            .arg(user.epoch)
            .arg(&self.shared.channel)
            .arg(message::principal(&user.login));
        let out: Option<String> = self.shared.conn.script(&call).await?;
        if out.is_some() {
            self.announce(&user.login);
        }
        out.as_deref().map(decode_user).transpose()
    }

    /// This instance's caches drop the user now (the others when the message arrives).
    fn announce(&self, login: &str) {
        self.shared
            .invalidator
            .invalidate(Invalidation::principal(login));
    }
}

impl UserStore for RedisUserStore {
    fn find_user<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        async move {
            self.read(login)
                .await?
                .as_deref()
                .map(decode_user)
                .transpose()
        }
        .boxed()
    }

    /// Inserts or replaces `user` (a changed password, role or state takes effect on every
    /// instance); the epoch stored is above the previous one, the current time in
    /// milliseconds and `user.epoch`.
    ///
    /// Refuses (with [`StoreError`]) a password that is not a PHC string.
    fn put_user(&self, user: UserRecord) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        async move {
            self.write(&user, None)
                .await?
                .ok_or_else(|| StoreError::new("redis: the user was not written"))
        }
        .boxed()
    }

    fn set_disabled<'a>(
        &'a self,
        login: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        async move {
            for _ in 0..CAS_ATTEMPTS {
                let Some(current) = self.read(login).await? else {
                    return Ok(false);
                };
                let mut user = decode_user(&current)?;
                user.disabled = disabled;
                if self.write(&user, Some(&current)).await?.is_some() {
                    return Ok(true);
                }
            }
            Err(StoreError::new(
                "redis: the user kept changing while being disabled",
            ))
        }
        .boxed()
    }

    fn delete_user<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        async move {
            let mut call = DELETE.prepare_invoke();
            call.arg(self.user_key(login))
                .arg(&self.shared.channel)
                .arg(message::principal(login));
            let n: i64 = self.shared.conn.script(&call).await?;
            self.announce(login);
            Ok(n == 1)
        }
        .boxed()
    }
}
