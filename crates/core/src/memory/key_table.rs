//! The memory key store's table: compact records placed by their digest, one small index.
//!
//! - `slots` is a Robin Hood table of [`Slot`]s of 96 bytes (two cache lines), placed by a
//!   fingerprint of `(kind, digest)`: a lookup by digest goes straight to the record's home
//!   and reads it and its neighbours, one trip to memory whatever the size of the table. A
//!   slot holds the digest, the times as nanoseconds, the id (a generated id as its 16
//!   bytes), the principal as an index into the shared principals, the masked hint inline,
//!   flags; whatever does not fit (descriptions, families, secret halves, long ids) is
//!   packed into one boxed byte string that most records do not have.
//! - `by_id` is a Robin Hood table of 8-byte entries (the id's fingerprint, the digest's):
//!   it finds a record by id without pointing at a position, so records move freely.
//! - Principals are interned: the keys of one app share one [`Principal`] (one
//!   `Arc<PrincipalData>`), however many times the caller built it; a found record's
//!   principal is a reference-count clone of it.
//!
//! A record whose digest another record took (two ids, one secret: the later one wins the
//! digest, as in every store) stays, findable by id only (`ORPHAN`).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::principal::Principal;
use crate::store::{KeyDigest, KeyKind, KeyRecord};
use crate::varint;

/// Every kind, by its code ([`kind_code`]).
const KINDS: [KeyKind; 7] = [
    KeyKind::SharedToken,
    KeyKind::DeviceToken,
    KeyKind::AppApiKey,
    KeyKind::AccessToken,
    KeyKind::IssuedToken,
    KeyKind::RefreshToken,
    KeyKind::Ha1b,
];

fn kind_code(kind: KeyKind) -> u8 {
    match kind {
        KeyKind::SharedToken => 0,
        KeyKind::DeviceToken => 1,
        KeyKind::AppApiKey => 2,
        KeyKind::AccessToken => 3,
        KeyKind::IssuedToken => 4,
        KeyKind::RefreshToken => 5,
        KeyKind::Ha1b => 6,
    }
}

/// The kind code of a vacant slot.
const VACANT: u8 = u8::MAX;

// Slot flags.
const REVOKED: u8 = 1;
/// Lost its digest to a later record: in `by_id` only.
const ORPHAN: u8 = 1 << 1;
/// The id is 32 lowercase hex digits, kept as their 16 bytes.
const ID_HEX: u8 = 1 << 2;
/// The id is at most 16 bytes, kept inline (`id_len` of them).
const ID_SHORT: u8 = 1 << 3;
/// The hint is `abcd****wxyz` (ASCII), kept inline as its 8 visible bytes.
const HINT_INLINE: u8 = 1 << 4;

/// `expires` of a record that never expires.
const NEVER: u64 = u64::MAX;
/// `created` / `expires` of a time kept in the cold part (before 1970, after 2554).
const COLD_TIME: u64 = u64::MAX - 1;

fn nanos(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .filter(|&n| n < COLD_TIME)
}

fn time(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

/// Which fields of a record a lookup rebuilds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fields {
    /// Every field.
    All,
    /// What a verifier reads: the id, kind, digests, principal, times and the revocation.
    Verification,
}

/// A record (or a vacant bucket, `kind == VACANT`).
#[repr(align(32))] // 96 bytes at a multiple of 32: never more than two cache lines
struct Slot {
    digest: [u8; 32],
    /// Nanoseconds since the Unix epoch, or `COLD_TIME`.
    created: u64,
    /// Nanoseconds since the Unix epoch, `NEVER`, or `COLD_TIME`.
    expires: u64,
    /// `ID_HEX`: the id's 16 bytes; `ID_SHORT`: its first `id_len` bytes; else in `cold`.
    id: [u8; 16],
    /// The rarely set fields, packed ([`Cold`]).
    cold: Option<Box<[u8]>>,
    /// Index into the principals.
    principal: u32,
    /// `HINT_INLINE`: the hint's first and last four bytes.
    hint: [u8; 8],
    kind: u8,
    flags: u8,
    id_len: u8,
}

impl Slot {
    fn vacant() -> Self {
        Self {
            digest: [0; 32],
            created: 0,
            expires: NEVER,
            id: [0; 16],
            cold: None,
            principal: 0,
            hint: [0; 8],
            kind: VACANT,
            flags: 0,
            id_len: 0,
        }
    }

    fn is_vacant(&self) -> bool {
        self.kind == VACANT
    }

    fn cold(&self) -> Cold<'_> {
        Cold::read(self.cold.as_deref().unwrap_or_default())
    }

    fn id_key(&self) -> IdKey<'_> {
        if self.flags & ID_HEX != 0 {
            IdKey::Hex(self.id)
        } else if self.flags & ID_SHORT != 0 {
            IdKey::Short(self.id_len, self.id)
        } else {
            IdKey::Long(self.cold().id.unwrap_or_default())
        }
    }

    fn id_string(&self) -> String {
        if self.flags & ID_HEX != 0 {
            let mut s = String::with_capacity(32);
            for b in self.id {
                s.push(HEX[usize::from(b >> 4)] as char);
                s.push(HEX[usize::from(b & 15)] as char);
            }
            s
        } else if self.flags & ID_SHORT != 0 {
            let len = usize::from(self.id_len).min(16);
            String::from_utf8_lossy(&self.id[..len]).into_owned()
        } else {
            self.cold().id.unwrap_or_default().to_owned()
        }
    }

    fn expires_at(&self) -> Option<SystemTime> {
        match self.expires {
            NEVER => None,
            COLD_TIME => self.cold().expires_at,
            n => Some(time(n)),
        }
    }

    fn holds(&self, code: u8, digest: &[u8; 32]) -> bool {
        self.kind == code && self.flags & ORPHAN == 0 && self.digest == *digest
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// An id as the slot keeps it: equal ids, equal keys (the form is chosen by the id alone).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum IdKey<'a> {
    Hex([u8; 16]),
    Short(u8, [u8; 16]),
    Long(&'a str),
}

impl<'a> IdKey<'a> {
    fn of(id: &'a str) -> Self {
        let b = id.as_bytes();
        if b.len() == 32 {
            let mut out = [0u8; 16];
            let mut hex = true;
            for (slot, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
                match (nibble(pair[0]), nibble(pair[1])) {
                    (Some(h), Some(l)) => *slot = (h << 4) | l,
                    _ => hex = false,
                }
            }
            if hex {
                return Self::Hex(out);
            }
        }
        if b.len() <= 16 {
            let mut out = [0u8; 16];
            out[..b.len()].copy_from_slice(b);
            // At most 16: fits.
            return Self::Short(b.len() as u8, out);
        }
        Self::Long(id)
    }
}

/// A lowercase hex digit's value (uppercase is another id, kept as it is).
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// `abcd****wxyz` as its 8 visible bytes.
fn inline_hint(hint: &str) -> Option<[u8; 8]> {
    let b = hint.as_bytes();
    if b.len() != 12 || !hint.is_ascii() || &b[4..8] != b"****" {
        return None;
    }
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&b[..4]);
    out[4..].copy_from_slice(&b[8..]);
    Some(out)
}

fn hint_string(inline: [u8; 8]) -> String {
    let mut s = String::with_capacity(12);
    s.extend(inline[..4].iter().map(|&b| char::from(b)));
    s.push_str("****");
    s.extend(inline[4..].iter().map(|&b| char::from(b)));
    s
}

// The cold part: fields as `tag, value`; strings as a LEB128 length and their bytes, times
// as a sign byte (1: before the epoch), seconds (u64 LE) and nanoseconds (u32 LE).
const C_ID: u8 = 1;
const C_SECRET: u8 = 2;
const C_DESCRIPTION: u8 = 3;
const C_FAMILY: u8 = 4;
const C_HINT: u8 = 5;
const C_CREATED: u8 = 6;
const C_EXPIRES: u8 = 7;
const C_UPDATED: u8 = 8;

/// The fields of a cold part.
#[derive(Default)]
struct Cold<'a> {
    id: Option<&'a str>,
    secret_digest: Option<[u8; 32]>,
    description: Option<&'a str>,
    family: Option<&'a str>,
    hint: Option<&'a str>,
    created_at: Option<SystemTime>,
    expires_at: Option<SystemTime>,
    updated_at: Option<SystemTime>,
}

impl<'a> Cold<'a> {
    /// Reads what [`Cold::write`] wrote; stops at anything it does not understand (it
    /// never panics).
    fn read(mut bytes: &'a [u8]) -> Self {
        let mut out = Self::default();
        while let Some((&tag, rest)) = bytes.split_first() {
            bytes = rest;
            let ok = match tag {
                C_ID | C_DESCRIPTION | C_FAMILY | C_HINT => match take_str(&mut bytes) {
                    Some(s) => {
                        *match tag {
                            C_ID => &mut out.id,
                            C_DESCRIPTION => &mut out.description,
                            C_FAMILY => &mut out.family,
                            _ => &mut out.hint,
                        } = Some(s);
                        true
                    }
                    None => false,
                },
                C_SECRET => match bytes.split_first_chunk::<32>() {
                    Some((d, rest)) => {
                        out.secret_digest = Some(*d);
                        bytes = rest;
                        true
                    }
                    None => false,
                },
                C_CREATED | C_EXPIRES | C_UPDATED => match take_time(&mut bytes) {
                    Some(t) => {
                        *match tag {
                            C_CREATED => &mut out.created_at,
                            C_EXPIRES => &mut out.expires_at,
                            _ => &mut out.updated_at,
                        } = Some(t);
                        true
                    }
                    None => false,
                },
                _ => false,
            };
            if !ok {
                break;
            }
        }
        out
    }

    /// The packed form; `None` when there is nothing to keep.
    fn write(&self) -> Option<Box<[u8]>> {
        let mut out = Vec::new();
        for (tag, s) in [
            (C_ID, self.id),
            (C_DESCRIPTION, self.description),
            (C_FAMILY, self.family),
            (C_HINT, self.hint),
        ] {
            if let Some(s) = s {
                out.push(tag);
                put_len(&mut out, s.len());
                out.extend_from_slice(s.as_bytes());
            }
        }
        if let Some(d) = &self.secret_digest {
            out.push(C_SECRET);
            out.extend_from_slice(d);
        }
        for (tag, t) in [
            (C_CREATED, self.created_at),
            (C_EXPIRES, self.expires_at),
            (C_UPDATED, self.updated_at),
        ] {
            if let Some(t) = t {
                out.push(tag);
                put_time(&mut out, t);
            }
        }
        (!out.is_empty()).then(|| out.into_boxed_slice())
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    varint::put(out, n as u64);
}

fn take_len(bytes: &mut &[u8]) -> Option<usize> {
    usize::try_from(varint::take(bytes)?).ok()
}

fn take_str<'a>(bytes: &mut &'a [u8]) -> Option<&'a str> {
    let len = take_len(bytes)?;
    let (s, rest) = bytes.split_at_checked(len)?;
    *bytes = rest;
    std::str::from_utf8(s).ok()
}

fn put_time(out: &mut Vec<u8>, t: SystemTime) {
    let (sign, d) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (0u8, d),
        Err(e) => (1u8, e.duration()),
    };
    out.push(sign);
    out.extend_from_slice(&d.as_secs().to_le_bytes());
    out.extend_from_slice(&d.subsec_nanos().to_le_bytes());
}

fn take_time(bytes: &mut &[u8]) -> Option<SystemTime> {
    let (&sign, rest) = bytes.split_first()?;
    let (secs, rest) = rest.split_first_chunk::<8>()?;
    let (subsec, rest) = rest.split_first_chunk::<4>()?;
    *bytes = rest;
    let d = Duration::from_secs(u64::from_le_bytes(*secs))
        .checked_add(Duration::from_nanos(u64::from(u32::from_le_bytes(*subsec))))?;
    match sign {
        0 => UNIX_EPOCH.checked_add(d),
        _ => UNIX_EPOCH.checked_sub(d),
    }
}

/// What a [`Table`] holds.
trait Bucket {
    fn empty() -> Self;
    /// `None` for an empty bucket; else the fingerprint whose top bits place it
    /// (`fingerprint * capacity >> 32`, so the order of the table does not change as it
    /// grows).
    fn fingerprint(&self, seed: &[u64; 2]) -> Option<u32>;
}

/// A Robin Hood table: open addressing, linear probing, every bucket as near its home as
/// the others let it be (so a search stops at the first bucket nearer its home than the
/// searched one would be), backward-shift deletion (no tombstones). At most 80% full;
/// grows by a quarter.
struct Table<B> {
    buckets: Vec<B>,
    len: usize,
    seed: [u64; 2],
}

impl<B: Bucket> Table<B> {
    fn new(seed: [u64; 2]) -> Self {
        Self {
            buckets: Vec::new(),
            len: 0,
            seed,
        }
    }

    fn home(&self, fp: u32) -> usize {
        ((u64::from(fp) * self.buckets.len() as u64) >> 32) as usize
    }

    fn next(&self, pos: usize) -> usize {
        if pos + 1 == self.buckets.len() {
            0
        } else {
            pos + 1
        }
    }

    /// How far a bucket of fingerprint `fp` at `pos` is from its home.
    fn dist(&self, pos: usize, fp: u32) -> usize {
        let home = self.home(fp);
        if pos >= home {
            pos - home
        } else {
            pos + self.buckets.len() - home
        }
    }

    fn get(&self, pos: usize) -> Option<&B> {
        self.buckets.get(pos)
    }

    fn get_mut(&mut self, pos: usize) -> Option<&mut B> {
        self.buckets.get_mut(pos)
    }

    /// The position of the first bucket of fingerprint `fp` that `is`.
    fn find(&self, fp: u32, mut is: impl FnMut(&B) -> bool) -> Option<usize> {
        let mut pos = self.home(fp);
        for d in 0..self.buckets.len() {
            let b = &self.buckets[pos];
            let here = b.fingerprint(&self.seed)?;
            // Past a bucket nearer its home than ours would be, ours cannot be.
            if self.dist(pos, here) < d {
                return None;
            }
            if here == fp && is(b) {
                return Some(pos);
            }
            pos = self.next(pos);
        }
        None
    }

    /// Every occupied bucket, with its position.
    fn iter(&self) -> impl Iterator<Item = (usize, &B)> {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.fingerprint(&self.seed).is_some())
    }

    fn insert(&mut self, b: B) {
        if (self.len + 1) * 5 > self.buckets.len() * 4 {
            let cap = (self.buckets.len() + self.buckets.len() / 4).max(16);
            let old = std::mem::replace(&mut self.buckets, (0..cap).map(|_| B::empty()).collect());
            self.len = 0;
            for b in old {
                self.place(b);
            }
        }
        self.place(b);
    }

    fn place(&mut self, mut b: B) {
        let Some(mut fp) = b.fingerprint(&self.seed) else {
            return;
        };
        let mut pos = self.home(fp);
        let mut d = 0;
        loop {
            let Some(here) = self.buckets[pos].fingerprint(&self.seed) else {
                self.buckets[pos] = b;
                self.len += 1;
                return;
            };
            let hd = self.dist(pos, here);
            if hd < d {
                b = std::mem::replace(&mut self.buckets[pos], b);
                fp = here;
                d = hd;
            }
            let _ = fp;
            pos = self.next(pos);
            d += 1;
        }
    }

    /// Takes the bucket at `pos` out; the buckets after it move back.
    fn remove_at(&mut self, mut pos: usize) -> B {
        let taken = std::mem::replace(&mut self.buckets[pos], B::empty());
        self.len -= 1;
        loop {
            let next = self.next(pos);
            match self.buckets[next].fingerprint(&self.seed) {
                Some(fp) if self.dist(next, fp) > 0 => {
                    self.buckets.swap(pos, next);
                    pos = next;
                }
                _ => return taken,
            }
        }
    }
}

/// An entry of `by_id`: the id's fingerprint (never 0) `<< 32 |` the digest's.
impl Bucket for u64 {
    fn empty() -> Self {
        0
    }

    fn fingerprint(&self, _: &[u64; 2]) -> Option<u32> {
        (*self != 0).then_some((*self >> 32) as u32)
    }
}

impl Bucket for Slot {
    fn empty() -> Self {
        Slot::vacant()
    }

    fn fingerprint(&self, seed: &[u64; 2]) -> Option<u32> {
        (!self.is_vacant()).then(|| digest_fp(seed, self.kind, &self.digest))
    }
}

fn word(bytes: &[u8]) -> u64 {
    bytes
        .first_chunk::<8>()
        .map_or(0, |w| u64::from_le_bytes(*w))
}

/// The fingerprint of `(kind, digest)`: a keyed folded multiply of the digest's first 16
/// bytes (already uniform: SHA-256 output), keyed so that no one can line digests up in
/// one run of the table.
fn digest_fp(seed: &[u64; 2], code: u8, digest: &[u8; 32]) -> u32 {
    let a = word(digest) ^ seed[0] ^ u64::from(code).rotate_right(8);
    let b = word(&digest[8..]) ^ seed[1];
    let m = u128::from(a) * u128::from(b);
    (((m >> 64) as u64 ^ m as u64) >> 32) as u32
}

/// The principals the records authenticate as, each kept once.
#[derive(Default)]
struct Principals {
    /// A principal and how many slots use it; `None` when free.
    entries: Vec<Option<(Principal, u32)>>,
    free: Vec<u32>,
    /// Content hash → an entry with that content (on a collision of unequal principals
    /// the later one is kept apart, unshared).
    by_content: HashMap<u64, u32>,
    hasher: RandomState,
}

impl Principals {
    fn content_hash(&self, p: &Principal) -> u64 {
        let mut h = self.hasher.build_hasher();
        p.id.hash(&mut h);
        p.kind.hash(&mut h);
        p.scheme.hash(&mut h);
        p.name.hash(&mut h);
        p.email.hash(&mut h);
        p.roles.hash(&mut h);
        p.scopes.hash(&mut h);
        p.app_id.hash(&mut h);
        p.key_id.hash(&mut h);
        p.expires_at.hash(&mut h);
        p.attributes.len().hash(&mut h);
        for k in p.attributes.keys() {
            k.hash(&mut h);
        }
        p.location.hash(&mut h);
        h.finish()
    }

    /// The index of `p` (an equal principal's, if one is kept), counted once more.
    fn intern(&mut self, p: Principal) -> u32 {
        let hash = self.content_hash(&p);
        if let Some(&i) = self.by_content.get(&hash) {
            if let Some(Some((kept, n))) = self.entries.get_mut(i as usize) {
                if *kept == p {
                    *n += 1;
                    return i;
                }
            }
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = Some((p, 1));
                i
            }
            None => {
                self.entries.push(Some((p, 1)));
                // Never more principals than slots.
                (self.entries.len() - 1) as u32
            }
        };
        self.by_content.entry(hash).or_insert(i);
        i
    }

    fn get(&self, i: u32) -> Option<&Principal> {
        self.entries
            .get(i as usize)
            .and_then(Option::as_ref)
            .map(|(p, _)| p)
    }

    fn release(&mut self, i: u32) {
        let Some(entry) = self.entries.get_mut(i as usize) else {
            return;
        };
        let last = match entry {
            Some((_, n)) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => true,
            None => false,
        };
        if last {
            if let Some((p, _)) = entry.take() {
                let hash = self.content_hash(&p);
                if self.by_content.get(&hash) == Some(&i) {
                    self.by_content.remove(&hash);
                }
                self.free.push(i);
            }
        }
    }
}

/// The key table of a [`MemoryKeyStore`](super::MemoryKeyStore).
pub(super) struct KeyTable {
    /// The records, placed by their digest's fingerprint.
    slots: Table<Slot>,
    /// `(kind, id)` → the digest's fingerprint, to find the record by id.
    by_id: Table<u64>,
    principals: Principals,
    ids: RandomState,
}

impl Default for KeyTable {
    fn default() -> Self {
        Self {
            slots: Table::new([rand::random(), rand::random()]),
            by_id: Table::new([0, 0]),
            principals: Principals::default(),
            ids: RandomState::new(),
        }
    }
}

impl KeyTable {
    /// How many records.
    pub(super) fn len(&self) -> usize {
        self.slots.len
    }

    /// How many records can be found by digest (all but those that lost theirs).
    #[cfg(test)]
    pub(super) fn digests(&self) -> usize {
        self.slots
            .iter()
            .filter(|(_, s)| s.flags & ORPHAN == 0)
            .count()
    }

    fn digest_fp(&self, code: u8, digest: &[u8; 32]) -> u32 {
        digest_fp(&self.slots.seed, code, digest)
    }

    /// Never 0 (an empty `by_id` entry is 0).
    fn id_fp(&self, code: u8, id: IdKey<'_>) -> u32 {
        (self.ids.hash_one((code, id)) >> 32) as u32 | 1
    }

    /// The position of the record `(kind, id)`.
    fn locate(&self, kind: KeyKind, id: &str) -> Option<usize> {
        let (code, key) = (kind_code(kind), IdKey::of(id));
        let mut found = None;
        self.by_id.find(self.id_fp(code, key), |&e| {
            found = self
                .slots
                .find(e as u32, |s| s.kind == code && s.id_key() == key);
            found.is_some()
        })?;
        found
    }

    /// The record of `(kind, digest)`.
    pub(super) fn find_by_digest(&self, kind: KeyKind, digest: &KeyDigest) -> Option<KeyRecord> {
        self.record(
            self.slots.get(self.locate_digest(kind, digest)?)?,
            Fields::All,
        )
    }

    /// The record of `(kind, digest)` with only what verification reads: no description,
    /// family, hint or modification time (one allocation fewer per lookup of a key with a
    /// hint).
    pub(super) fn find_for_verification(
        &self,
        kind: KeyKind,
        digest: &KeyDigest,
    ) -> Option<KeyRecord> {
        let slot = self.slots.get(self.locate_digest(kind, digest)?)?;
        self.record(slot, Fields::Verification)
    }

    /// The position of the record `(kind, digest)`.
    fn locate_digest(&self, kind: KeyKind, digest: &KeyDigest) -> Option<usize> {
        let code = kind_code(kind);
        self.slots.find(self.digest_fp(code, &digest.0), |s| {
            s.holds(code, &digest.0)
        })
    }

    /// The record of `(kind, id)`.
    pub(super) fn find_by_id(&self, kind: KeyKind, id: &str) -> Option<KeyRecord> {
        self.record(self.slots.get(self.locate(kind, id)?)?, Fields::All)
    }

    /// The record `s` holds, its principal shared with the table.
    fn record(&self, s: &Slot, fields: Fields) -> Option<KeyRecord> {
        let kind = *KINDS.get(usize::from(s.kind))?;
        let principal = self.principals.get(s.principal)?.clone();
        let cold = s.cold();
        let created_at = match s.created {
            COLD_TIME => cold.created_at.unwrap_or(UNIX_EPOCH),
            n => time(n),
        };
        let mut r = KeyRecord::new(
            s.id_string(),
            kind,
            KeyDigest(s.digest),
            principal,
            created_at,
        )
        .expires_at(s.expires_at());
        r.revoked = s.flags & REVOKED != 0;
        r.secret_digest = cold.secret_digest.map(KeyDigest);
        if fields == Fields::Verification {
            return Some(r);
        }
        r.description = cold.description.map(str::to_owned);
        r.family = cold.family.map(str::to_owned);
        r.hint = if s.flags & HINT_INLINE != 0 {
            Some(hint_string(s.hint))
        } else {
            cold.hint.map(str::to_owned)
        };
        r.updated_at = cold.updated_at;
        Some(r)
    }

    /// Inserts or replaces (by id) `record`. A record of another id holding the same
    /// digest loses it (it stays, by id).
    pub(super) fn put(&mut self, record: KeyRecord) {
        let code = kind_code(record.kind);
        self.remove(record.kind, &record.id);
        let dfp = self.digest_fp(code, &record.digest.0);
        if let Some(pos) = self.slots.find(dfp, |s| s.holds(code, &record.digest.0)) {
            if let Some(s) = self.slots.get_mut(pos) {
                s.flags |= ORPHAN;
            }
        }

        let key = IdKey::of(&record.id);
        let ifp = self.id_fp(code, key);
        let mut cold = Cold::default();
        let mut slot = Slot::vacant();
        slot.kind = code;
        slot.digest = record.digest.0;
        match key {
            IdKey::Hex(b) => {
                slot.flags |= ID_HEX;
                slot.id = b;
            }
            IdKey::Short(len, b) => {
                slot.flags |= ID_SHORT;
                slot.id_len = len;
                slot.id = b;
            }
            IdKey::Long(id) => cold.id = Some(id),
        }
        slot.created = nanos(record.created_at).unwrap_or_else(|| {
            cold.created_at = Some(record.created_at);
            COLD_TIME
        });
        slot.expires = match record.expires_at {
            None => NEVER,
            Some(at) => nanos(at).unwrap_or_else(|| {
                cold.expires_at = Some(at);
                COLD_TIME
            }),
        };
        if record.revoked {
            slot.flags |= REVOKED;
        }
        match record.hint.as_deref().map(|h| (h, inline_hint(h))) {
            Some((_, Some(inline))) => {
                slot.flags |= HINT_INLINE;
                slot.hint = inline;
            }
            Some((h, None)) => cold.hint = Some(h),
            None => {}
        }
        cold.secret_digest = record.secret_digest.map(|d| d.0);
        cold.description = record.description.as_deref();
        cold.family = record.family.as_deref();
        cold.updated_at = record.updated_at;
        slot.cold = cold.write();
        slot.principal = self.principals.intern(record.principal);

        self.slots.insert(slot);
        self.by_id.insert((u64::from(ifp) << 32) | u64::from(dfp));
    }

    /// Removes the record at `pos` and its `by_id` entry.
    fn remove_at(&mut self, pos: usize) {
        let s = self.slots.remove_at(pos);
        let (dfp, ifp) = (
            self.digest_fp(s.kind, &s.digest),
            self.id_fp(s.kind, s.id_key()),
        );
        if let Some(at) = self.by_id.find(ifp, |&e| e as u32 == dfp) {
            self.by_id.remove_at(at);
        }
        self.principals.release(s.principal);
    }

    /// Deletes the record `(kind, id)`; `false` when there is none.
    pub(super) fn remove(&mut self, kind: KeyKind, id: &str) -> bool {
        match self.locate(kind, id) {
            Some(pos) => {
                self.remove_at(pos);
                true
            }
            None => false,
        }
    }

    /// Revokes `(kind, id)` if it is live; the record as it was before.
    pub(super) fn consume(&mut self, kind: KeyKind, id: &str) -> Option<KeyRecord> {
        let pos = self.locate(kind, id)?;
        let before = self
            .record(self.slots.get(pos)?, Fields::All)
            .filter(|r| !r.revoked)?;
        if let Some(s) = self.slots.get_mut(pos) {
            s.flags |= REVOKED;
        }
        Some(before)
    }

    /// Marks `(kind, id)` revoked; `false` when there is none.
    pub(super) fn set_revoked(&mut self, kind: KeyKind, id: &str) -> bool {
        match self
            .locate(kind, id)
            .and_then(|pos| self.slots.get_mut(pos))
        {
            Some(s) => {
                s.flags |= REVOKED;
                true
            }
            None => false,
        }
    }

    /// Every record of `kind` whose principal `keep` keeps.
    pub(super) fn list(
        &self,
        kind: KeyKind,
        mut keep: impl FnMut(&Principal) -> bool,
    ) -> Vec<KeyRecord> {
        let code = kind_code(kind);
        self.slots
            .iter()
            .filter(|(_, s)| {
                s.kind == code && self.principals.get(s.principal).is_some_and(&mut keep)
            })
            .filter_map(|(_, s)| self.record(s, Fields::All))
            .collect()
    }

    /// Drops every record that expired at least `retention` before `now`.
    pub(super) fn remove_expired(&mut self, now: SystemTime, retention: Duration) {
        let gone: Vec<(u8, String)> = self
            .slots
            .iter()
            .filter(|(_, s)| {
                s.expires_at()
                    .and_then(|at| at.checked_add(retention))
                    .is_some_and(|end| end <= now)
            })
            .map(|(_, s)| (s.kind, s.id_string()))
            .collect();
        for (code, id) in gone {
            if let Some(&kind) = KINDS.get(usize::from(code)) {
                self.remove(kind, &id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_96_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 96);
    }

    #[test]
    fn ids_and_hints_take_the_shortest_form_and_come_back() {
        for id in [
            "0123456789abcdef0123456789abcdef",
            "0123456789ABCDEF0123456789abcdef",
            "k1",
            "",
            "exactly-16-bytes",
            "family:0123456789abcdef0123456789abcdef",
            "ünïcödé-ïd-thät-is-löng",
        ] {
            let mut t = KeyTable::default();
            let d = KeyDigest([7; 32]);
            let p = Principal::app("a");
            t.put(
                KeyRecord::new(id, KeyKind::AppApiKey, d, p, UNIX_EPOCH).with_hint("abcd****wxyz"),
            );
            let r = t.find_by_id(KeyKind::AppApiKey, id).unwrap();
            assert_eq!(r.id, id);
            assert_eq!(r.hint.as_deref(), Some("abcd****wxyz"));
            assert_eq!(t.find_by_digest(KeyKind::AppApiKey, &d).unwrap().id, id);
        }
        assert!(matches!(
            IdKey::of("0123456789abcdef0123456789abcdef"),
            IdKey::Hex(_)
        ));
        assert!(matches!(
            IdKey::of("0123456789ABCDEF0123456789abcdef"),
            IdKey::Long(_)
        ));
        assert!(inline_hint("ab****cd").is_none() && inline_hint("äbcd****wxy").is_none());
    }

    #[test]
    fn every_field_survives_including_odd_times() {
        let mut t = KeyTable::default();
        let before_1970 = UNIX_EPOCH - Duration::from_secs(86_400);
        let far = UNIX_EPOCH + Duration::from_secs(1 << 40);
        let p = Principal::user("alice").with_roles(["admin"]);
        let mut r = KeyRecord::new(
            "r-with-a-rather-long-id-indeed",
            KeyKind::AccessToken,
            KeyDigest([1; 32]),
            p.clone(),
            before_1970,
        )
        .expires_at(Some(far))
        .with_secret_digest(KeyDigest([2; 32]))
        .with_description("a description")
        .with_family("fam")
        .with_hint("********");
        r.updated_at = Some(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789));
        r.revoked = true;
        t.put(r.clone());
        let back = t.find_by_id(KeyKind::AccessToken, &r.id).unwrap();
        assert_eq!(back.id, r.id);
        assert!(back.digest.ct_eq(&r.digest));
        assert!(back.secret_digest.unwrap().ct_eq(&KeyDigest([2; 32])));
        assert_eq!(back.principal, p);
        assert_eq!(
            (back.created_at, back.expires_at, back.updated_at),
            (r.created_at, r.expires_at, r.updated_at)
        );
        assert_eq!(
            (back.description, back.family, back.hint, back.revoked),
            (r.description, r.family, r.hint, true)
        );
        // Garbage in a cold part reads as nothing, never a panic.
        for junk in [
            &[1u8, 0xff][..],
            &[6, 0],
            &[2, 1, 2],
            &[9],
            &[1, 0x80, 0x80],
        ] {
            let c = Cold::read(junk);
            assert!(c.id.is_none() && c.created_at.is_none() && c.secret_digest.is_none());
        }
    }

    #[test]
    fn the_indexes_agree_with_a_map_through_inserts_and_deletes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut t = KeyTable::default();
        let mut model: HashMap<String, [u8; 32]> = HashMap::new();
        let p = Principal::app("a");
        for step in 0..20_000 {
            let id = format!("{:x}", rng.gen_range(0..3_000u32));
            if rng.gen_bool(0.6) {
                let d: [u8; 32] = rng.r#gen();
                t.put(KeyRecord::new(
                    &id,
                    KeyKind::DeviceToken,
                    KeyDigest(d),
                    p.clone(),
                    UNIX_EPOCH,
                ));
                model.insert(id, d);
            } else {
                assert_eq!(
                    t.remove(KeyKind::DeviceToken, &id),
                    model.remove(&id).is_some()
                );
            }
            if step % 1000 == 0 {
                assert_eq!(t.len(), model.len());
                assert_eq!(t.digests(), model.len());
                for (id, d) in &model {
                    let r = t
                        .find_by_digest(KeyKind::DeviceToken, &KeyDigest(*d))
                        .unwrap();
                    assert_eq!(&r.id, id);
                    assert!(
                        t.find_by_digest(KeyKind::AppApiKey, &KeyDigest(*d))
                            .is_none()
                    );
                }
            }
        }
        // One principal, kept once, released with its last record.
        assert_eq!(t.principals.entries.iter().flatten().count(), 1);
        let ids: Vec<String> = model.keys().cloned().collect();
        for id in ids {
            assert!(t.remove(KeyKind::DeviceToken, &id));
        }
        assert_eq!(t.principals.entries.iter().flatten().count(), 0);
        assert_eq!((t.len(), t.by_id.len), (0, 0));
    }

    #[test]
    fn equal_principals_are_kept_once_and_found_records_share_them() {
        let mut t = KeyTable::default();
        for i in 0..10u8 {
            let p = Principal::app("demo")
                .with_app_id("demo")
                .with_scheme("app-api-key");
            t.put(KeyRecord::new(
                format!("k{i}"),
                KeyKind::AppApiKey,
                KeyDigest([i; 32]),
                p,
                UNIX_EPOCH,
            ));
        }
        let other = Principal::app("demo").with_roles(["x"]);
        t.put(KeyRecord::new(
            "o",
            KeyKind::AppApiKey,
            KeyDigest([99; 32]),
            other,
            UNIX_EPOCH,
        ));
        assert_eq!(t.principals.entries.iter().flatten().count(), 2);
        let a = t
            .find_by_digest(KeyKind::AppApiKey, &KeyDigest([1; 32]))
            .unwrap();
        let b = t.find_by_id(KeyKind::AppApiKey, "k7").unwrap();
        assert!(a.principal.shares_data_with(&b.principal));
        let o = t.find_by_id(KeyKind::AppApiKey, "o").unwrap();
        assert!(!o.principal.shares_data_with(&a.principal));
    }

    #[test]
    fn a_digest_taken_by_a_later_record_leaves_the_earlier_one_findable_by_id() {
        let mut t = KeyTable::default();
        let (d, p) = (KeyDigest([5; 32]), Principal::device("phone"));
        let rec = |id: &str| KeyRecord::new(id, KeyKind::DeviceToken, d, p.clone(), UNIX_EPOCH);
        t.put(rec("a"));
        t.put(rec("b"));
        assert_eq!(t.find_by_digest(KeyKind::DeviceToken, &d).unwrap().id, "b");
        assert_eq!(t.find_by_id(KeyKind::DeviceToken, "a").unwrap().id, "a");
        assert_eq!((t.len(), t.digests()), (2, 1));
        // The digest goes with its holder; the earlier record does not take it back.
        assert!(t.remove(KeyKind::DeviceToken, "b"));
        assert!(t.find_by_digest(KeyKind::DeviceToken, &d).is_none());
        assert!(t.find_by_id(KeyKind::DeviceToken, "a").is_some());
        // Put again, it has it.
        t.put(rec("a"));
        assert_eq!(t.find_by_digest(KeyKind::DeviceToken, &d).unwrap().id, "a");
        assert_eq!((t.len(), t.digests()), (1, 1));
    }
}
