//! [`RedisKeyStore`]: keys and tokens as digests, one Lua script per change.
//!
//! Layout, under the prefix `P`:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:key:KIND:ID` | hash | `rec` (the record as JSON, digests only), `digest`, `owner`, `revoked` |
//! | `P:digest:KIND:HEX` | string | the id of the record with that digest |
//! | `P:owner:KIND:OWNER` | set | the ids of the owner's records |
//!
//! A record that expires is dropped by Redis after the configured retention (until then it
//! answers `expired`); its digest index goes with it. An owner's set expires with its
//! longest-lived record, and every write drops up to three members whose records are gone
//! (a set of N live records holds about N/2 dead ids at most, however many were written).

use std::fmt;
use std::sync::{Arc, LazyLock};

use futures_util::future::{BoxFuture, FutureExt};
use redis::Script;
use tower_authn_core::{
    Invalidation, KeyDigest, KeyHasher, KeyKind, KeyRecord, KeyStore, StoreError,
};

use crate::Shared;
use crate::codec::{decode_record, encode_record, millis};
use crate::listener::message;

/// Writes a record and its indexes, dropping the indexes of the record it replaces.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p, kind, id = ARGV[1], ARGV[2], ARGV[3]
local rk = p .. ':key:' .. kind .. ':' .. id
local old = redis.call('HMGET', rk, 'digest', 'owner')
if old[1] then
  local odk = p .. ':digest:' .. kind .. ':' .. old[1]
  if redis.call('GET', odk) == id then redis.call('DEL', odk) end
end
if old[2] then redis.call('SREM', p .. ':owner:' .. kind .. ':' .. old[2], id) end
redis.call('DEL', rk)
redis.call('HSET', rk, 'rec', ARGV[6], 'digest', ARGV[4], 'owner', ARGV[5], 'revoked', ARGV[7])
local dk = p .. ':digest:' .. kind .. ':' .. ARGV[4]
redis.call('SET', dk, id)
local ok = p .. ':owner:' .. kind .. ':' .. ARGV[5]
local okp = p .. ':key:' .. kind .. ':'
-- Members whose records Redis dropped go: a few picked at random on every write, so the
-- set holds its live records and (in expectation) at most half as many dead ones.
for _, m in ipairs(redis.call('SRANDMEMBER', ok, 3)) do
  if m ~= id and redis.call('EXISTS', okp .. m) == 0 then redis.call('SREM', ok, m) end
end
local existed = redis.call('EXISTS', ok)
redis.call('SADD', ok, id)
if ARGV[8] ~= '' then
  redis.call('PEXPIREAT', rk, ARGV[8])
  redis.call('PEXPIREAT', dk, ARGV[8])
  -- The set lives as long as its longest-lived record (-1: one never expires).
  local ttl = redis.call('PTTL', ok)
  local want = math.floor(tonumber(ARGV[8]) - tonumber(ARGV[9]))
  if existed == 0 or (ttl ~= -1 and want > ttl) then redis.call('PEXPIRE', ok, math.max(want, 1)) end
else
  redis.call('PERSIST', ok)
end
redis.call('PUBLISH', ARGV[10], ARGV[11])
return 1
",
    )
});

/// The record a digest points to, in one round trip.
static FIND_BY_DIGEST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local id = redis.call('GET', ARGV[1] .. ':digest:' .. ARGV[2] .. ':' .. ARGV[3])
if not id then return false end
local r = redis.call('HMGET', ARGV[1] .. ':key:' .. ARGV[2] .. ':' .. id, 'rec', 'revoked')
if not r[1] then return false end
return {r[1], r[2]}
",
    )
});

/// Marks a record revoked.
static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local rk = ARGV[1] .. ':key:' .. ARGV[2] .. ':' .. ARGV[3]
if redis.call('EXISTS', rk) == 0 then return 0 end
redis.call('HSET', rk, 'revoked', '1')
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
",
    )
});

/// Revokes a live record and returns it as it was: of two racing calls, one gets it.
static CONSUME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local rk = ARGV[1] .. ':key:' .. ARGV[2] .. ':' .. ARGV[3]
local r = redis.call('HMGET', rk, 'rec', 'revoked')
if not r[1] or r[2] == '1' then return false end
redis.call('HSET', rk, 'revoked', '1')
redis.call('PUBLISH', ARGV[4], ARGV[5])
return r[1]
",
    )
});

/// Deletes a record and its indexes.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p, kind, id = ARGV[1], ARGV[2], ARGV[3]
local rk = p .. ':key:' .. kind .. ':' .. id
local old = redis.call('HMGET', rk, 'digest', 'owner')
if redis.call('DEL', rk) == 0 then return 0 end
if old[1] then
  local dk = p .. ':digest:' .. kind .. ':' .. old[1]
  if redis.call('GET', dk) == id then redis.call('DEL', dk) end
end
if old[2] then redis.call('SREM', p .. ':owner:' .. kind .. ':' .. old[2], id) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
",
    )
});

/// Every record of an owner, forgetting ids whose records Redis dropped.
static LIST_OWNER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p, kind = ARGV[1], ARGV[2]
local ok = p .. ':owner:' .. kind .. ':' .. ARGV[3]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', ok)) do
  local r = redis.call('HMGET', p .. ':key:' .. kind .. ':' .. id, 'rec', 'revoked')
  if r[1] then
    table.insert(out, r[1])
    table.insert(out, r[2])
  else
    redis.call('SREM', ok, id)
  end
end
return out
",
    )
});

/// Keys and tokens in Redis, as digests. Clones share the connection.
///
/// Layout, under the prefix `P`:
///
/// | key | type | holds |
/// |---|---|---|
/// | `P:key:KIND:ID` | hash | `rec` (the record as JSON, digests only), `digest`, `owner`, `revoked` |
/// | `P:digest:KIND:HEX` | string | the id of the record with that digest |
/// | `P:owner:KIND:OWNER` | set | the ids of the owner's records |
///
/// Each change is one Lua script that also publishes the change. A record that expires is
/// dropped by Redis after the configured retention (until then it answers `expired`), its
/// digest index with it.
#[derive(Clone)]
pub struct RedisKeyStore {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisKeyStore")
            .field("prefix", &self.shared.prefix)
            .field("hasher", &self.shared.hasher)
            .finish_non_exhaustive()
    }
}

fn owner_of(record: &KeyRecord) -> &str {
    record
        .principal
        .app_id
        .as_deref()
        .unwrap_or(&record.principal.id)
}

/// Escapes Redis glob characters.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn decode_pairs(flat: Vec<Option<String>>) -> Result<Vec<KeyRecord>, StoreError> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(rec), Some(revoked)) = (it.next(), it.next()) {
        if let Some(rec) = rec {
            out.push(decode_record(&rec, revoked.as_deref() == Some("1"))?);
        }
    }
    Ok(out)
}

impl RedisKeyStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Announces a change here at once (the script publishes it to every instance).
    fn changed(&self, kind: KeyKind, id: &str) {
        self.shared
            .invalidator
            .invalidate(Invalidation::key(kind, id));
    }

    async fn put_record(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let json = encode_record(record)?;
        let expire_at = record
            .expires_at
            .map(|at| millis(at + self.shared.retention).to_string())
            .unwrap_or_default();
        let now = millis(std::time::SystemTime::now());
        let mut call = PUT.prepare_invoke();
        call.arg(&self.shared.prefix)
            .arg(record.kind.as_str())
            .arg(&record.id)
            .arg(record.digest.to_hex())
            .arg(owner_of(record))
            .arg(json)
            .arg(if record.revoked { "1" } else { "0" })
            .arg(expire_at)
            .arg(now)
            .arg(&self.shared.channel)
            .arg(message::key(record.kind, &record.id));
        self.shared.conn.script::<i64>(&call).await.map(|_| ())
    }

    async fn change(
        &self,
        script: &Script,
        kind: KeyKind,
        id: &str,
    ) -> Result<redis::Value, StoreError> {
        let mut call = script.prepare_invoke();
        call.arg(&self.shared.prefix)
            .arg(kind.as_str())
            .arg(id)
            .arg(&self.shared.channel)
            .arg(message::key(kind, id));
        let out = self.shared.conn.script(&call).await;
        self.changed(kind, id);
        out
    }

    async fn list_all(&self, kind: KeyKind) -> Result<Vec<KeyRecord>, StoreError> {
        let pattern = format!(
            "{}:key:{}:*",
            glob_escape(&self.shared.prefix),
            glob_escape(kind.as_str())
        );
        let mut out = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500);
            let (next, keys): (u64, Vec<String>) = self.shared.conn.query(scan).await?;
            for key in keys {
                let mut get = redis::cmd("HMGET");
                get.arg(&key).arg("rec").arg("revoked");
                let pair: Vec<Option<String>> = self.shared.conn.query(get).await?;
                out.extend(decode_pairs(pair)?);
            }
            if next == 0 {
                return Ok(out);
            }
            cursor = next;
        }
    }
}

fn sorted(mut records: Vec<KeyRecord>) -> Vec<KeyRecord> {
    records.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    records
}

impl KeyStore for RedisKeyStore {
    fn key_hasher(&self) -> &KeyHasher {
        &self.shared.hasher
    }

    fn find_by_digest(
        &self,
        kind: KeyKind,
        digest: KeyDigest,
    ) -> BoxFuture<'_, Result<Option<KeyRecord>, StoreError>> {
        async move {
            let mut call = FIND_BY_DIGEST.prepare_invoke();
            call.arg(&self.shared.prefix)
                .arg(kind.as_str())
                .arg(digest.to_hex());
            let found: Option<(String, Option<String>)> = self.shared.conn.script(&call).await?;
            found
                .map(|(rec, revoked)| decode_record(&rec, revoked.as_deref() == Some("1")))
                .transpose()
        }
        .boxed()
    }

    fn find_by_id<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        async move {
            let mut get = redis::cmd("HMGET");
            get.arg(self.shared.key(&["key", kind.as_str(), id]))
                .arg("rec")
                .arg("revoked");
            let pair: Vec<Option<String>> = self.shared.conn.query(get).await?;
            Ok(decode_pairs(pair)?.pop())
        }
        .boxed()
    }

    fn put(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            let out = self.put_record(&record).await;
            self.changed(record.kind, &record.id);
            out
        }
        .boxed()
    }

    fn revoke<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        async move {
            let out = self.change(&REVOKE, kind, id).await?;
            Ok(redis::from_redis_value::<i64>(out)
                .map_err(|_| StoreError::new("redis: odd answer to revoke"))?
                == 1)
        }
        .boxed()
    }

    fn delete<'a>(&'a self, kind: KeyKind, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        async move {
            let out = self.change(&DELETE, kind, id).await?;
            Ok(redis::from_redis_value::<i64>(out)
                .map_err(|_| StoreError::new("redis: odd answer to delete"))?
                == 1)
        }
        .boxed()
    }

    fn list<'a>(
        &'a self,
        kind: KeyKind,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        async move {
            let records = match owner {
                Some(owner) => {
                    let mut call = LIST_OWNER.prepare_invoke();
                    call.arg(&self.shared.prefix).arg(kind.as_str()).arg(owner);
                    let flat: Vec<Option<String>> = self.shared.conn.script(&call).await?;
                    decode_pairs(flat)?
                }
                None => self.list_all(kind).await?,
            };
            Ok(sorted(records))
        }
        .boxed()
    }

    fn consume<'a>(
        &'a self,
        kind: KeyKind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        async move {
            let out = self.change(&CONSUME, kind, id).await?;
            let rec: Option<String> = redis::from_redis_value(out)
                .map_err(|_| StoreError::new("redis: odd answer to consume"))?;
            rec.map(|json| decode_record(&json, false)).transpose()
        }
        .boxed()
    }
}
