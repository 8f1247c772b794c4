//! [`RedisKeyStore`]: keys and tokens as digests, one Lua script per change.
//!
//! Layout, under the prefix `P`, for a kind of code `C` (one letter: `a` app keys, `d`
//! device tokens, `i` issued tokens, `r` refresh tokens, `x` access pairs, `s` shared
//! tokens, `h` HA1Bs); `ID` is the record's id as [`encode_id`] writes it (a generated id as
//! its 16 bytes), `DIGEST` the digest's 32 bytes:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:r:C` `DIGEST` | string | the record, binary (`codec.rs`): revoked, owner, id, times, principal; no field names |
//! | `P:i:C:B` | hash | `ID` → `DIGEST`, for the ids of bucket `B` (one of 8,192, by a hash of `ID`) |
//! | `P:o:C:OWNER` | hash | `ID` → empty, the owner's records |
//!
//! One Redis key per record, the rest in hashes Redis keeps compact (listpack) while they
//! are small: about 270 bytes of Redis memory per app key, where the JSON layout of
//! earlier versions (a hash per record, a key per digest, a set per owner) took about 1,300.
//! A lookup by digest is one `GET`.
//!
//! A record that expires is dropped by Redis after the configured retention (until then it
//! answers `expired`). The hashes live as long as their longest-lived record, and every
//! write drops up to three entries of each whose records are gone (a hash of N live
//! records holds about N/2 dead entries at most, however many were written).
//!
//! Records of the earlier layout (`P:key:KIND:ID` hashes of JSON, `P:digest:KIND:HEX`,
//! `P:owner:KIND:OWNER`) are still found, revoked, consumed, listed and deleted; writing a
//! record of the same id moves it to the new layout.

use std::fmt;
use std::sync::{Arc, LazyLock};

use futures_util::future::{BoxFuture, FutureExt};
use redis::Script;
use tower_authn_core::{
    Invalidation, KeyDigest, KeyHasher, KeyKind, KeyRecord, KeyStore, StoreError,
};

use crate::Shared;
use crate::codec::{decode_key, encode_id, encode_key, kind_code, millis, owner_of};
use crate::listener::message;

/// What every script shares.
const COMMON: &str = r"
-- The bucket of an id's index entry: 8,192 per kind.
local function bucket(id)
  local h = 5381
  for i = 1, #id do h = (h * 33 + string.byte(id, i)) % 8388608 end
  return tostring(h % 8192)
end
-- The owner and id of a binary record (nil for anything else).
local function head(rec)
  if not rec or string.byte(rec, 1) ~= 1 then return nil end
  local a, b = string.byte(rec, 3, 4)
  if not b then return nil end
  local ol = a * 256 + b
  local c, d = string.byte(rec, 5 + ol, 6 + ol)
  if not d then return nil end
  return string.sub(rec, 5, 4 + ol), string.sub(rec, 7 + ol, 6 + ol + c * 256 + d)
end
-- An encoded id as text.
local function plain(id)
  if string.byte(id, 1) == 1 then
    return (string.gsub(string.sub(id, 2), '.', function(ch)
      return string.format('%02x', string.byte(ch)) end))
  end
  return string.sub(id, 2)
end
-- The record of an id: digest, record key, record, owner, index key.
local function locate(p, c, id)
  local ik = p .. ':i:' .. c .. ':' .. bucket(id)
  local dg = redis.call('HGET', ik, id)
  if not dg then return nil end
  local rk = p .. ':r:' .. c .. dg
  local rec = redis.call('GET', rk)
  local owner, rid = head(rec)
  if rid ~= id then return nil end
  return dg, rk, rec, owner, ik
end
-- A hash lives as long as its longest-lived record (at = '': one never expires).
local function keep(k, existed, at, now)
  if at == '' then redis.call('PERSIST', k) return end
  local ttl = redis.call('PTTL', k)
  local want = math.floor(tonumber(at) - tonumber(now))
  if existed == 0 or (ttl ~= -1 and want > ttl) then redis.call('PEXPIRE', k, math.max(want, 1)) end
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}{body}"))
}

/// Writes a record and its index entries, dropping those of the record it replaces (the
/// same id, or another id holding the same digest), in either layout.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local p, c, id, dg, owner, rec, at, now, chan, msg, lkind, lid, lhex = unpack(ARGV)
local rk = p .. ':r:' .. c .. dg
local ik = p .. ':i:' .. c .. ':' .. bucket(id)
local function okey(o) return p .. ':o:' .. c .. ':' .. o end
local odg, ork, _, oowner = locate(p, c, id)
if odg then
  if ork ~= rk then redis.call('DEL', ork) end
  if oowner ~= owner then redis.call('HDEL', okey(oowner), id) end
end
local howner, hid = head(redis.call('GET', rk))
if hid and hid ~= id then
  redis.call('HDEL', p .. ':i:' .. c .. ':' .. bucket(hid), hid)
  redis.call('HDEL', okey(howner), hid)
  redis.call('PUBLISH', chan, 'k:' .. lkind .. ':' .. plain(hid))
end
-- The earlier layout: this id's record goes, and no record of it keeps this digest.
local lrk = p .. ':key:' .. lkind .. ':' .. lid
local old = redis.call('HMGET', lrk, 'digest', 'owner')
if old[1] then
  local odk = p .. ':digest:' .. lkind .. ':' .. old[1]
  if redis.call('GET', odk) == lid then redis.call('DEL', odk) end
  redis.call('DEL', lrk)
end
if old[2] then redis.call('SREM', p .. ':owner:' .. lkind .. ':' .. old[2], lid) end
redis.call('DEL', p .. ':digest:' .. lkind .. ':' .. lhex)

redis.call('SET', rk, rec)
if at ~= '' then redis.call('PEXPIREAT', rk, at) end
-- Entries whose records Redis dropped go: a few picked at random on every write, so a
-- hash holds its live records and (in expectation) at most half as many dead ones.
local fv = redis.call('HRANDFIELD', ik, 3, 'WITHVALUES')
for i = 1, #fv, 2 do
  if fv[i] ~= id then
    local _, rid = head(redis.call('GET', p .. ':r:' .. c .. fv[i + 1]))
    if rid ~= fv[i] then redis.call('HDEL', ik, fv[i]) end
  end
end
local existed = redis.call('EXISTS', ik)
redis.call('HSET', ik, id, dg)
keep(ik, existed, at, now)
local ok = okey(owner)
for _, f in ipairs(redis.call('HRANDFIELD', ok, 3)) do
  if f ~= id then
    local fdg, _, _, fowner = locate(p, c, f)
    if not fdg or fowner ~= owner then redis.call('HDEL', ok, f) end
  end
end
existed = redis.call('EXISTS', ok)
redis.call('HSET', ok, id, '')
keep(ok, existed, at, now)
redis.call('PUBLISH', chan, msg)
return 1
",
    )
});

/// The record a digest points to, in one round trip: `{record, legacy revoked flag}`.
static FIND_BY_DIGEST: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local p, c, dg, lkind, lhex = unpack(ARGV)
local rec = redis.call('GET', p .. ':r:' .. c .. dg)
if rec then return {rec, ''} end
local lid = redis.call('GET', p .. ':digest:' .. lkind .. ':' .. lhex)
if not lid then return false end
local r = redis.call('HMGET', p .. ':key:' .. lkind .. ':' .. lid, 'rec', 'revoked')
if not r[1] then return false end
return {r[1], r[2] or '0'}
",
    )
});

/// The record of an id: `{record, legacy revoked flag, digest}`.
static FIND_BY_ID: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local p, c, id, lkind, lid = unpack(ARGV)
local dg, _, rec = locate(p, c, id)
if dg then return {rec, '', dg} end
local r = redis.call('HMGET', p .. ':key:' .. lkind .. ':' .. lid, 'rec', 'revoked')
if r[1] then return {r[1], r[2] or '0', ''} end
return false
",
    )
});

/// Marks a record revoked (byte 1 of a binary record).
static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local p, c, id, chan, msg, lkind, lid = unpack(ARGV)
local dg, rk = locate(p, c, id)
if dg then
  redis.call('SETRANGE', rk, 1, '')
else
  local lrk = p .. ':key:' .. lkind .. ':' .. lid
  if redis.call('EXISTS', lrk) == 0 then return 0 end
  redis.call('HSET', lrk, 'revoked', '1')
end
redis.call('PUBLISH', chan, msg)
return 1
",
    )
});

/// Revokes a live record and returns it as it was: of two racing calls, one gets it.
static CONSUME: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local p, c, id, chan, msg, lkind, lid = unpack(ARGV)
local dg, rk, rec = locate(p, c, id)
if dg then
  if string.byte(rec, 2) ~= 0 then return false end
  redis.call('SETRANGE', rk, 1, '')
  redis.call('PUBLISH', chan, msg)
  return {rec, '', dg}
end
local lrk = p .. ':key:' .. lkind .. ':' .. lid
local r = redis.call('HMGET', lrk, 'rec', 'revoked')
if not r[1] or r[2] == '1' then return false end
redis.call('HSET', lrk, 'revoked', '1')
redis.call('PUBLISH', chan, msg)
return {r[1], '0', ''}
",
    )
});

/// Deletes a record and its index entries.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local p, c, id, chan, msg, lkind, lid = unpack(ARGV)
local dg, rk, _, owner, ik = locate(p, c, id)
if dg then
  redis.call('DEL', rk)
  redis.call('HDEL', ik, id)
  redis.call('HDEL', p .. ':o:' .. c .. ':' .. owner, id)
else
  local lrk = p .. ':key:' .. lkind .. ':' .. lid
  local old = redis.call('HMGET', lrk, 'digest', 'owner')
  if redis.call('DEL', lrk) == 0 then return 0 end
  if old[1] then
    local dk = p .. ':digest:' .. lkind .. ':' .. old[1]
    if redis.call('GET', dk) == lid then redis.call('DEL', dk) end
  end
  if old[2] then redis.call('SREM', p .. ':owner:' .. lkind .. ':' .. old[2], lid) end
end
redis.call('PUBLISH', chan, msg)
return 1
",
    )
});

/// Every record of an owner, `{record, legacy revoked flag, digest}` each, forgetting
/// entries whose records Redis dropped.
static LIST_OWNER: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local p, c, owner, lkind = unpack(ARGV)
local ok = p .. ':o:' .. c .. ':' .. owner
local out = {}
for _, id in ipairs(redis.call('HKEYS', ok)) do
  local dg, _, rec, rowner = locate(p, c, id)
  if dg and rowner == owner then
    table.insert(out, rec)
    table.insert(out, '')
    table.insert(out, dg)
  else
    redis.call('HDEL', ok, id)
  end
end
local lok = p .. ':owner:' .. lkind .. ':' .. owner
for _, id in ipairs(redis.call('SMEMBERS', lok)) do
  local r = redis.call('HMGET', p .. ':key:' .. lkind .. ':' .. id, 'rec', 'revoked')
  if r[1] then
    table.insert(out, r[1])
    table.insert(out, r[2] or '0')
    table.insert(out, '')
  else
    redis.call('SREM', lok, id)
  end
end
return out
",
    )
});

/// Keys and tokens in Redis, as digests. Clones share the connection.
///
/// Layout, under the prefix `P`, for a kind of code `C` (`a` app keys, `d` device tokens,
/// `i` issued tokens, `r` refresh tokens, `x` access pairs, `s` shared tokens, `h` HA1Bs):
///
/// | key | type | holds |
/// |---|---|---|
/// | `P:r:C` + the digest's 32 bytes | string | the record, binary: revoked, owner, id, times, principal (no field names) |
/// | `P:i:C:B` | hash | id → digest, for the ids of bucket `B` (one of 8,192) |
/// | `P:o:C:OWNER` | hash | id → empty, the owner's records |
///
/// Each change is one Lua script that also publishes the change. A record that expires is
/// dropped by Redis after the configured retention (until then it answers `expired`).
/// Records written by earlier versions (JSON, a hash per record) are still read, and move
/// to this layout when they are written again. Two records of one kind cannot share a
/// digest (one secret, two ids): the later replaces the earlier.
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

fn digest_of(bytes: &[u8]) -> Option<KeyDigest> {
    bytes.try_into().ok().map(KeyDigest)
}

/// Records as the scripts return them: `record, legacy revoked flag, digest` each (the
/// digest empty for a record of the earlier layout, which holds its own).
fn decode_triples(kind: KeyKind, flat: Vec<Vec<u8>>) -> Result<Vec<KeyRecord>, StoreError> {
    flat.chunks_exact(3)
        .map(|t| decode_key(&t[0], kind, digest_of(&t[2]), t[1] == b"1"))
        .collect()
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
        let rec = encode_key(record)?;
        let expire_at = record
            .expires_at
            .map(|at| millis(at + self.shared.retention).to_string())
            .unwrap_or_default();
        let now = millis(std::time::SystemTime::now());
        let mut call = PUT.prepare_invoke();
        call.arg(&self.shared.prefix)
            .arg(kind_code(record.kind))
            .arg(encode_id(&record.id))
            .arg(&record.digest.0[..])
            .arg(owner_of(record))
            .arg(rec)
            .arg(expire_at)
            .arg(now)
            .arg(&self.shared.channel)
            .arg(message::key(record.kind, &record.id))
            .arg(record.kind.as_str())
            .arg(&record.id)
            .arg(record.digest.to_hex());
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
            .arg(kind_code(kind))
            .arg(encode_id(id))
            .arg(&self.shared.channel)
            .arg(message::key(kind, id))
            .arg(kind.as_str())
            .arg(id);
        let out = self.shared.conn.script(&call).await;
        self.changed(kind, id);
        out
    }

    /// Every record of `kind`: the binary ones (`P:r:C*`), then those of the earlier
    /// layout (`P:key:KIND:*`).
    async fn list_all(&self, kind: KeyKind) -> Result<Vec<KeyRecord>, StoreError> {
        let prefix = glob_escape(&self.shared.prefix);
        let mut out = Vec::new();
        let pattern = format!("{prefix}:r:{}*", kind_code(kind));
        let named = format!("{}:r:{}", self.shared.prefix, kind_code(kind)).len();
        for key in self.scan(&pattern).await? {
            let Some(digest) = key.get(named..).and_then(digest_of) else {
                continue;
            };
            let mut get = redis::cmd("GET");
            get.arg(&key);
            if let Some(rec) = self.shared.conn.query::<Option<Vec<u8>>>(get).await? {
                out.push(decode_key(&rec, kind, Some(digest), false)?);
            }
        }
        let pattern = format!("{prefix}:key:{}:*", glob_escape(kind.as_str()));
        for key in self.scan(&pattern).await? {
            let mut get = redis::cmd("HMGET");
            get.arg(&key).arg("rec").arg("revoked");
            let pair: Vec<Option<Vec<u8>>> = self.shared.conn.query(get).await?;
            if let [Some(rec), revoked] = pair.as_slice() {
                out.push(decode_key(
                    rec,
                    kind,
                    None,
                    revoked.as_deref() == Some(b"1"),
                )?);
            }
        }
        Ok(out)
    }

    /// Every key name matching `pattern`.
    async fn scan(&self, pattern: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(500);
            let (next, keys): (u64, Vec<Vec<u8>>) = self.shared.conn.query(scan).await?;
            out.extend(keys);
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
                .arg(kind_code(kind))
                .arg(&digest.0[..])
                .arg(kind.as_str())
                .arg(digest.to_hex());
            let found: Option<(Vec<u8>, Vec<u8>)> = self.shared.conn.script(&call).await?;
            found
                .map(|(rec, revoked)| decode_key(&rec, kind, Some(digest), revoked == b"1"))
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
            let mut call = FIND_BY_ID.prepare_invoke();
            call.arg(&self.shared.prefix)
                .arg(kind_code(kind))
                .arg(encode_id(id))
                .arg(kind.as_str())
                .arg(id);
            let found: Option<Vec<Vec<u8>>> = self.shared.conn.script(&call).await?;
            Ok(decode_triples(kind, found.unwrap_or_default())?.pop())
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
                    call.arg(&self.shared.prefix)
                        .arg(kind_code(kind))
                        .arg(owner)
                        .arg(kind.as_str());
                    let flat: Vec<Vec<u8>> = self.shared.conn.script(&call).await?;
                    decode_triples(kind, flat)?
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
            let found: Option<Vec<Vec<u8>>> = redis::from_redis_value(out)
                .map_err(|_| StoreError::new("redis: odd answer to consume"))?;
            let mut record = decode_triples(kind, found.unwrap_or_default())?.pop();
            // As it was: live (the script refuses a revoked one).
            if let Some(r) = &mut record {
                r.revoked = false;
            }
            Ok(record)
        }
        .boxed()
    }
}
