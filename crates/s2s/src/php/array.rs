//! PHP's ordered array: the map type every canonical part is built from.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// A key of a PHP array: an integer, or a byte string that does not look like one.
///
/// PHP turns a string key such as `"9"` or `"-3"` into the integer `9` or `-3`, but keeps
/// `"09"`, `"-0"` and `"1.5"` as strings. [`Key::from_bytes`] applies the same rule, so two keys
/// are equal exactly when PHP would store them in the same slot.
///
/// ```
/// use tower_authn_s2s::php::Key;
///
/// assert_eq!(Key::from("10"), Key::Int(10));
/// assert_eq!(Key::from("010"), Key::Str(b"010".to_vec()));
/// assert_eq!(Key::from("Count").to_lowercase(), Key::from("count"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A string key that is not integer-like.
    Str(Vec<u8>),
}

impl Key {
    /// The key PHP stores for the string `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match integer_like(bytes) {
            Some(i) => Key::Int(i),
            None => Key::Str(bytes.to_vec()),
        }
    }

    /// The key as text (`10`, `name`).
    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Key::Int(i) => Cow::Owned(i.to_string().into_bytes()),
            Key::Str(s) => Cow::Borrowed(s),
        }
    }

    /// The key with ASCII letters lowercased, as `array_change_key_case` does.
    pub fn to_lowercase(&self) -> Self {
        match self {
            Key::Int(i) => Key::Int(*i),
            Key::Str(s) => Key::Str(s.to_ascii_lowercase()),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::from_bytes(s.as_bytes())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        match integer_like(s.as_bytes()) {
            Some(i) => Key::Int(i),
            None => Key::Str(s.into_bytes()),
        }
    }
}

impl From<i64> for Key {
    fn from(i: i64) -> Self {
        Key::Int(i)
    }
}

/// PHP's `ZEND_HANDLE_NUMERIC_STR`: `0`, or an optional `-` then a digit other than `0`
/// then digits, within the range of a 64-bit integer.
pub(crate) fn integer_like(b: &[u8]) -> Option<i64> {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let first = *digits.first()?;
    if !first.is_ascii_digit() || digits.len() > 19 || (first == b'0' && b.len() > 1) {
        return None;
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut magnitude: u64 = 0;
    for d in digits {
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(d - b'0'))?;
    }
    if b.first() == Some(&b'-') {
        if magnitude > i64::MAX as u64 + 1 {
            return None;
        }
        Some(0i64.wrapping_sub_unsigned(magnitude))
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// A value stored in a PHP array.
///
/// ```
/// use tower_authn_s2s::php::{Array, Value};
///
/// let filter = Array::new().with("from", "02/06/2020 00:01");
/// let v = Value::from(filter);
/// assert!(matches!(v, Value::Array(_)));
/// assert_eq!(Value::from(true), Value::Bool(true));
/// ```
#[derive(Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A byte string (PHP strings are bytes, not necessarily UTF-8).
    Str(Vec<u8>),
    /// A nested array (a map or a list).
    Array(Array),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
            Value::Array(a) => a.fmt(f),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.as_bytes().to_vec())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s.into_bytes())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<Array> for Value {
    fn from(a: Array) -> Self {
        Value::Array(a)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::Array(Array::list(items))
    }
}

/// The next append index could not be used: the slot is taken or the index space is exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendError;

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the next array index is not available")
    }
}

impl std::error::Error for AppendError {}

/// PHP's ordered hash map: insertion order is kept, and updating an existing key keeps its
/// position (so "the later value wins, at the earlier place").
///
/// ```
/// use tower_authn_s2s::php::{Array, Key, Value};
///
/// let mut a = Array::new();
/// a.insert("b", "1");
/// a.insert("a", "2");
/// a.insert("b", "3"); // updates in place
/// let keys: Vec<Key> = a.iter().map(|(k, _)| k.clone()).collect();
/// assert_eq!(keys, [Key::from("b"), Key::from("a")]);
/// assert_eq!(a.get(&Key::from("b")), Some(&Value::from("3")));
/// a.push("appended").unwrap();
/// assert_eq!(a.get(&Key::Int(0)), Some(&Value::from("appended")));
/// ```
#[derive(Clone, Default)]
pub struct Array {
    entries: Vec<(Key, Value)>,
    index: HashMap<Key, usize>,
    /// PHP 8.3's `nNextFreeElement`: `None` until an integer key is stored.
    next_free: Option<i64>,
}

impl Array {
    /// An empty array.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value at `key`.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        let i = *self.index.get(key)?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// The value at `key`, mutably.
    pub fn get_mut(&mut self, key: &Key) -> Option<&mut Value> {
        let i = *self.index.get(key)?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &Key) -> bool {
        self.index.contains_key(key)
    }

    /// Stores `value` at `key`: a new key goes last, an existing key keeps its place.
    /// Returns the previous value.
    pub fn insert(&mut self, key: impl Into<Key>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        if let Key::Int(i) = key {
            self.bump_next_free(i);
        }
        if let Some(&i) = self.index.get(&key) {
            if let Some(slot) = self.entries.get_mut(i) {
                return Some(std::mem::replace(&mut slot.1, value));
            }
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
        None
    }

    /// Builder form of [`Array::insert`].
    pub fn with(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Appends `value` at the next integer index (`$a[] = $value`).
    ///
    /// # Errors
    ///
    /// [`AppendError`] when that index is already used or the index space is exhausted.
    pub fn push(&mut self, value: impl Into<Value>) -> Result<i64, AppendError> {
        let i = self.next_index().ok_or(AppendError)?;
        if self.index.contains_key(&Key::Int(i)) {
            return Err(AppendError);
        }
        self.insert(Key::Int(i), value);
        Ok(i)
    }

    /// The index the next [`Array::push`] would use, if any.
    pub fn next_index(&self) -> Option<i64> {
        match self.next_free {
            None => Some(0),
            Some(i64::MAX) if self.index.contains_key(&Key::Int(i64::MAX)) => None,
            Some(n) => Some(n),
        }
    }

    fn bump_next_free(&mut self, i: i64) {
        let next = i.saturating_add(1);
        match self.next_free {
            Some(n) if i < n => {}
            _ => self.next_free = Some(next),
        }
    }

    /// The entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Key> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The entries, consuming the array.
    pub fn into_entries(self) -> Vec<(Key, Value)> {
        self.entries
    }

    /// A list: `items` at keys `0, 1, 2, ...`.
    pub fn list<I, V>(items: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let mut a = Array::new();
        for (i, v) in (0i64..).zip(items) {
            a.insert(Key::Int(i), v);
        }
        a
    }

    /// Whether the keys are exactly `0, 1, 2, ...` in order (a list).
    pub fn is_list(&self) -> bool {
        self.entries
            .iter()
            .enumerate()
            .all(|(i, (k, _))| matches!(k, Key::Int(j) if i64::try_from(i).is_ok_and(|i| i == *j)))
    }
}

impl PartialEq for Array {
    /// Same entries in the same order.
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: Into<Key>, V: Into<Value>> FromIterator<(K, V)> for Array {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut a = Array::new();
        for (k, v) in iter {
            a.insert(k, v);
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_like_follows_php() {
        assert_eq!(integer_like(b"0"), Some(0));
        assert_eq!(integer_like(b"9"), Some(9));
        assert_eq!(integer_like(b"-3"), Some(-3));
        assert_eq!(integer_like(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(integer_like(b"-9223372036854775808"), Some(i64::MIN));
        for s in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b" 1",
            b"1 ",
            b"1.0",
            b"+1",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
        ] {
            assert_eq!(integer_like(s), None, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn next_index_follows_php_8_3() {
        let mut a = Array::new();
        a.insert(Key::Int(-5), "x");
        assert_eq!(a.push("y"), Ok(-4));
        a.insert(Key::Int(10), "z");
        assert_eq!(a.push("w"), Ok(11));
        let mut b = Array::new();
        b.insert("name", "x");
        assert_eq!(b.push("y"), Ok(0));
        let mut c = Array::new();
        c.insert(Key::Int(i64::MAX), "x");
        assert_eq!(c.push("y"), Err(AppendError));
    }

    #[test]
    fn update_keeps_position() {
        let a: Array = [("b", "1"), ("a", "2"), ("b", "3")].into_iter().collect();
        assert_eq!(a.len(), 2);
        let keys: Vec<_> = a.keys().cloned().collect();
        assert_eq!(keys, [Key::from("b"), Key::from("a")]);
    }
}
