//! [`RedisUserStore`]: users as JSON under `P:user:LOGIN`, passwords only as PHC strings.

use std::fmt;
use std::sync::{Arc, LazyLock};

use futures_util::future::{BoxFuture, FutureExt};
use redis::Script;
use tower_authn_core::{Invalidation, StoreError, UserRecord, UserStore};

use crate::Shared;
use crate::codec::{decode_user, encode_user};
use crate::listener::message;

/// Writes (or, with an empty body, deletes) a user and announces it.
static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n
if ARGV[2] == '' then
  n = redis.call('DEL', ARGV[1])
else
  redis.call('SET', ARGV[1], ARGV[2])
  n = 1
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return n
",
    )
});

/// Users in Redis. Clones share the connection.
///
/// An HA1B is a password equivalent: [`put_user`](Self::put_user) never writes one.
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

    async fn write(&self, login: &str, body: String) -> Result<bool, StoreError> {
        let mut call = WRITE.prepare_invoke();
        call.arg(self.shared.key(&["user", login]))
            .arg(body)
            .arg(&self.shared.channel)
            .arg(message::principal(login));
        let out = self.shared.conn.script::<i64>(&call).await;
        self.shared
            .invalidator
            .invalidate(Invalidation::principal(login));
        Ok(out? == 1)
    }

    /// Inserts or replaces `user` (a changed password, role or state takes effect on every
    /// instance: caches drop what they held for the user).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when Redis fails, or when the password is not a PHC string.
    pub async fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let body = encode_user(user)?;
        self.write(&user.login, body).await.map(|_| ())
    }

    /// Deletes the user `login`; `false` when there was none.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when Redis fails.
    pub async fn delete_user(&self, login: &str) -> Result<bool, StoreError> {
        self.write(login, String::new()).await
    }
}

impl UserStore for RedisUserStore {
    fn find_user<'a>(
        &'a self,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        async move {
            let mut get = redis::cmd("GET");
            get.arg(self.shared.key(&["user", login]));
            let json: Option<String> = self.shared.conn.query(get).await?;
            json.as_deref().map(decode_user).transpose()
        }
        .boxed()
    }
}
