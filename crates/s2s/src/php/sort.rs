//! PHP 8's `ksort($a)` (`SORT_REGULAR`): the key order of the canonical string.
//!
//! Two integer keys compare as integers. Two string keys compare numerically when both are
//! numeric strings (`"1.5"`, `"1e3"`, `" 7"`), and byte-wise otherwise. An integer and a
//! string compare numerically when the string is numeric, and otherwise as the integer's
//! decimal text against the string, byte-wise. Ties keep the earlier entry first (PHP 8 sorts
//! are stable). The sort itself is a port of `zend_sort`, so even key sets for which these
//! rules are not a consistent order come out in the order PHP gives them.
//!
//! ```
//! use tower_authn_s2s::php::{ksort, Array, Key};
//!
//! let mut a = Array::new().with("b", "").with("10", "").with("a", "").with("9", "");
//! ksort(&mut a);
//! let keys: Vec<Key> = a.keys().cloned().collect();
//! assert_eq!(keys, [Key::Int(9), Key::Int(10), Key::from("a"), Key::from("b")]);
//! ```

use std::cmp::Ordering;

use super::array::{Array, Key};

/// A numeric string's value, as `is_numeric_string_ex` reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Numeric {
    /// An integer within range.
    Long(i64),
    /// A float; `oflow` is `1`/`-1` when it is an integer literal beyond the 64-bit range.
    Double { value: f64, oflow: i8 },
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// PHP's `is_numeric_string_ex(.., allow_errors = false)`: leading and trailing whitespace is
/// allowed, the rest must be a decimal integer or float literal.
pub(crate) fn numeric(s: &[u8]) -> Option<Numeric> {
    // Reads like the C code, where the string is NUL-terminated.
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    if s.is_empty() {
        return None;
    }
    let mut start = 0;
    while is_ws(at(start)) {
        start += 1;
    }
    let mut ptr = start;
    if at(ptr) == b'-' || at(ptr) == b'+' {
        ptr += 1;
    }
    let mut oflow: i8 = 0;
    let mut digits = 0usize;
    let mut magnitude: u64 = 0;
    let double;
    if at(ptr).is_ascii_digit() {
        while at(ptr) == b'0' {
            ptr += 1;
        }
        let mut to_double = false;
        while digits < 20 {
            let c = at(ptr);
            if c.is_ascii_digit() {
                magnitude = magnitude.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                digits += 1;
                ptr += 1;
                continue;
            }
            if c == b'.' {
                to_double = true;
            } else if c == b'e' || c == b'E' {
                let mut e = ptr + 1;
                if at(e) == b'-' || at(e) == b'+' {
                    ptr = e;
                    e += 1;
                }
                if at(e).is_ascii_digit() {
                    to_double = true;
                }
            }
            break;
        }
        if digits >= 20 {
            oflow = if at(start) == b'-' { -1 } else { 1 };
            to_double = true;
        }
        double = to_double;
    } else if at(ptr) == b'.' && at(ptr + 1).is_ascii_digit() {
        double = true;
    } else {
        return None;
    }

    let mut value = 0.0;
    if double {
        let (v, end) = strtod(s, start);
        value = v;
        ptr = end;
    }
    if ptr != s.len() {
        let mut end = ptr;
        while end < s.len() && is_ws(at(end)) {
            end += 1;
        }
        if end != s.len() {
            return None;
        }
    }
    if double {
        return Some(Numeric::Double { value, oflow });
    }
    if digits == 19 {
        let tail = s.get(ptr.saturating_sub(digits)..).unwrap_or_default();
        let cmp = tail.cmp(&b"9223372036854775808"[..]);
        if !(cmp == Ordering::Less || (cmp == Ordering::Equal && at(start) == b'-')) {
            let (v, _) = strtod(s, start);
            let oflow = if at(start) == b'-' { -1 } else { 1 };
            return Some(Numeric::Double { value: v, oflow });
        }
    }
    let long = if at(start) == b'-' {
        0i64.wrapping_sub_unsigned(magnitude)
    } else {
        magnitude as i64
    };
    Some(Numeric::Long(long))
}

/// `zend_strtod` from `start`: the longest decimal float prefix, its value and where it ends.
pub(crate) fn strtod(s: &[u8], start: usize) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut p = start;
    if at(p) == b'-' || at(p) == b'+' {
        p += 1;
    }
    let mut mantissa_digits = 0;
    while at(p).is_ascii_digit() {
        p += 1;
        mantissa_digits += 1;
    }
    if at(p) == b'.' {
        let mut q = p + 1;
        let mut frac = 0;
        while at(q).is_ascii_digit() {
            q += 1;
            frac += 1;
        }
        if mantissa_digits + frac > 0 {
            p = q;
            mantissa_digits += frac;
        }
    }
    if mantissa_digits == 0 {
        return (0.0, start);
    }
    if at(p) == b'e' || at(p) == b'E' {
        let mut q = p + 1;
        if at(q) == b'-' || at(q) == b'+' {
            q += 1;
        }
        if at(q).is_ascii_digit() {
            while at(q).is_ascii_digit() {
                q += 1;
            }
            p = q;
        }
    }
    let text = s
        .get(start..p)
        .and_then(|t| std::str::from_utf8(t).ok())
        .unwrap_or("0");
    (text.parse::<f64>().unwrap_or(0.0), p)
}

fn normalize(x: f64) -> Ordering {
    if x > 0.0 {
        Ordering::Greater
    } else if x < 0.0 {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

fn threeway(a: f64, b: f64) -> Ordering {
    if a == b {
        Ordering::Equal
    } else if a < b {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

/// `zendi_smart_strcmp`: two strings, numerically when both are numeric.
pub(crate) fn smart_strcmp(s1: &[u8], s2: &[u8]) -> Ordering {
    let (Some(n1), Some(n2)) = (numeric(s1), numeric(s2)) else {
        return s1.cmp(s2);
    };
    let (d1, o1) = match n1 {
        Numeric::Double { value, oflow } => (value, oflow),
        Numeric::Long(_) => (0.0, 0),
    };
    let (d2, o2) = match n2 {
        Numeric::Double { value, oflow } => (value, oflow),
        Numeric::Long(_) => (0.0, 0),
    };
    if o1 != 0 && o1 == o2 && d1 - d2 == 0.0 {
        return s1.cmp(s2);
    }
    match (n1, n2) {
        (Numeric::Long(l1), Numeric::Long(l2)) => l1.cmp(&l2),
        (Numeric::Long(l1), Numeric::Double { .. }) => {
            if o2 != 0 {
                return if o2 > 0 {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            normalize(l1 as f64 - d2)
        }
        (Numeric::Double { .. }, Numeric::Long(l2)) => {
            if o1 != 0 {
                return if o1 > 0 {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            normalize(d1 - l2 as f64)
        }
        (Numeric::Double { .. }, Numeric::Double { .. }) => {
            if d1 == d2 && !d1.is_finite() {
                return s1.cmp(s2);
            }
            normalize(d1 - d2)
        }
    }
}

/// `compare_longs_to_string`: an integer key against a string key.
fn long_to_string(l: i64, s: &[u8]) -> Ordering {
    match numeric(s) {
        Some(Numeric::Long(sl)) => l.cmp(&sl),
        Some(Numeric::Double { value, .. }) => threeway(l as f64, value),
        None => l.to_string().as_bytes().cmp(s),
    }
}

/// `php_array_key_compare_unstable_i`: the key order of `ksort` before the stable fallback.
pub fn compare_keys(a: &Key, b: &Key) -> Ordering {
    match (a, b) {
        (Key::Int(x), Key::Int(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Key::Str(x), Key::Str(y)) => smart_strcmp(x, y),
        (Key::Int(x), Key::Str(y)) => long_to_string(*x, y),
        (Key::Str(x), Key::Int(y)) => long_to_string(*y, x).reverse(),
    }
}

/// Sorts `a` by key in place, as PHP 8's `ksort($a)` does.
pub fn ksort(a: &mut Array) {
    let entries = std::mem::take(a).into_entries();
    let mut items: Vec<(usize, Key, super::Value)> = entries
        .into_iter()
        .enumerate()
        .map(|(i, (k, v))| (i, k, v))
        .collect();
    zend_sort(&mut items, &|x, y| match compare_keys(&x.1, &y.1) {
        Ordering::Equal => x.0.cmp(&y.0),
        o => o,
    });
    *a = items.into_iter().map(|(_, k, v)| (k, v)).collect();
}

/// `cmp(a, b) > 0` for indices into `v`; out-of-range indices compare as "not greater".
fn gt<T>(v: &[T], a: usize, b: usize, cmp: &dyn Fn(&T, &T) -> Ordering) -> bool {
    match (v.get(a), v.get(b)) {
        (Some(x), Some(y)) => cmp(x, y) == Ordering::Greater,
        _ => false,
    }
}

fn swap<T>(v: &mut [T], a: usize, b: usize) {
    if a < v.len() && b < v.len() {
        v.swap(a, b);
    }
}

fn sort2<T>(v: &mut [T], a: usize, b: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    if gt(v, a, b, cmp) {
        swap(v, a, b);
    }
}

fn sort3<T>(v: &mut [T], a: usize, b: usize, c: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    if !gt(v, a, b, cmp) {
        if !gt(v, b, c, cmp) {
            return;
        }
        swap(v, b, c);
        if gt(v, a, b, cmp) {
            swap(v, a, b);
        }
        return;
    }
    if !gt(v, c, b, cmp) {
        swap(v, a, c);
        return;
    }
    swap(v, a, b);
    if gt(v, b, c, cmp) {
        swap(v, b, c);
    }
}

fn sort4<T>(v: &mut [T], [a, b, c, d]: [usize; 4], cmp: &dyn Fn(&T, &T) -> Ordering) {
    sort3(v, a, b, c, cmp);
    if gt(v, c, d, cmp) {
        swap(v, c, d);
        if gt(v, b, c, cmp) {
            swap(v, b, c);
            if gt(v, a, b, cmp) {
                swap(v, a, b);
            }
        }
    }
}

fn sort5<T>(v: &mut [T], [a, b, c, d, e]: [usize; 5], cmp: &dyn Fn(&T, &T) -> Ordering) {
    sort4(v, [a, b, c, d], cmp);
    if gt(v, d, e, cmp) {
        swap(v, d, e);
        if gt(v, c, d, cmp) {
            swap(v, c, d);
            if gt(v, b, c, cmp) {
                swap(v, b, c);
                if gt(v, a, b, cmp) {
                    swap(v, a, b);
                }
            }
        }
    }
}

/// `zend_insert_sort` on `v[start..start + n]`.
fn insert_sort<T>(v: &mut [T], start: usize, n: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    match n {
        0 | 1 => {}
        2 => sort2(v, start, start + 1, cmp),
        3 => sort3(v, start, start + 1, start + 2, cmp),
        4 => sort4(v, [start, start + 1, start + 2, start + 3], cmp),
        5 => sort5(v, [start, start + 1, start + 2, start + 3, start + 4], cmp),
        _ => {
            let end = start + n;
            let sentry = start + 6;
            let mut i = start + 1;
            while i < sentry {
                let mut j = i - 1;
                if gt(v, j, i, cmp) {
                    while j != start {
                        j -= 1;
                        if !gt(v, j, i, cmp) {
                            j += 1;
                            break;
                        }
                    }
                    let mut k = i;
                    while k > j {
                        swap(v, k, k - 1);
                        k -= 1;
                    }
                }
                i += 1;
            }
            let mut i = sentry;
            while i < end {
                let mut j = i - 1;
                if gt(v, j, i, cmp) {
                    loop {
                        j -= 2;
                        if !gt(v, j, i, cmp) {
                            j += 1;
                            if !gt(v, j, i, cmp) {
                                j += 1;
                            }
                            break;
                        }
                        if j == start {
                            break;
                        }
                        if j == start + 1 {
                            j -= 1;
                            if gt(v, i, j, cmp) {
                                j += 1;
                            }
                            break;
                        }
                    }
                    let mut k = i;
                    while k > j {
                        swap(v, k, k - 1);
                        k -= 1;
                    }
                }
                i += 1;
            }
        }
    }
}

/// `zend_sort`: hybrid insertion sort and quicksort, element for element as PHP does it.
pub(crate) fn zend_sort<T>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> Ordering) {
    sort_range(v, 0, v.len(), cmp);
}

fn sort_range<T>(v: &mut [T], mut base: usize, mut n: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    loop {
        if n <= 16 {
            insert_sort(v, base, n, cmp);
            return;
        }
        let start = base;
        let end = start + n;
        let offset = n >> 1;
        let pivot = start + offset;
        if n >> 10 != 0 {
            let delta = offset >> 1;
            sort5(
                v,
                [start, start + delta, pivot, pivot + delta, end - 1],
                cmp,
            );
        } else {
            sort3(v, start, pivot, end - 1, cmp);
        }
        swap(v, start + 1, pivot);
        let pivot = start + 1;
        let mut i = pivot + 1;
        let mut j = end - 1;
        'partition: loop {
            while gt(v, pivot, i, cmp) {
                i += 1;
                if i == j {
                    break 'partition;
                }
            }
            j -= 1;
            if j == i {
                break 'partition;
            }
            while gt(v, j, pivot, cmp) {
                j -= 1;
                if j == i {
                    break 'partition;
                }
            }
            swap(v, i, j);
            i += 1;
            if i == j {
                break 'partition;
            }
        }
        swap(v, pivot, i - 1);
        if (i - 1) - start < end - i {
            sort_range(v, start, (i - start) - 1, cmp);
            base = i;
            n = end - i;
        } else {
            sort_range(v, i, end - i, cmp);
            base = start;
            n = (i - start) - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The entries as `(key, value)` text, sorted: equal for two arrays holding the same
    /// entries in any order.
    fn entries_by_key(a: &Array) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = a
            .iter()
            .map(|(k, v)| (format!("{k:?}"), index(v)))
            .collect();
        out.sort();
        out
    }

    fn index(v: &crate::php::Value) -> i64 {
        match v {
            crate::php::Value::Int(i) => *i,
            _ => -1,
        }
    }

    /// Keys on which `compare_keys` is a total preorder: integers, numeric strings of
    /// moderate size (with PHP's leading and trailing whitespace), and words that begin with
    /// a letter. Numeric text begins with a digit, sign, dot or space, all below letters.
    fn ordered_key() -> impl Strategy<Value = String> {
        prop_oneof![
            (-999i64..1000).prop_map(|n| n.to_string()),
            (-99i64..100, 0u32..1000).prop_map(|(i, f)| format!("{i}.{f}")),
            (1i64..10, -3i32..4).prop_map(|(m, e)| format!("{m}e{e}")),
            (0i64..100).prop_map(|n| format!(" {n}")),
            (0i64..100).prop_map(|n| format!("{n} ")),
            (0i64..100).prop_map(|n| format!("0{n}")),
            "[a-z][a-z0-9 ._-]{0,5}",
        ]
    }

    /// `SORT_REGULAR` on the keys of [`ordered_key`], written from PHP's documentation rather
    /// than from its C code: numbers (integer keys, numeric strings) by value, before words;
    /// words byte-wise.
    fn sort_regular_model(a: &Key, b: &Key) -> Ordering {
        let rank = |k: &Key| -> Result<f64, Vec<u8>> {
            match k {
                Key::Int(i) => Ok(*i as f64),
                Key::Str(s) => std::str::from_utf8(s)
                    .ok()
                    // Rust reads `inf` and `nan`; PHP does not.
                    .filter(|t| !t.starts_with(|c: char| c.is_ascii_alphabetic()))
                    .and_then(|t| t.trim_matches(' ').parse::<f64>().ok())
                    .ok_or_else(|| s.to_vec()),
            }
        };
        match (rank(a), rank(b)) {
            (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(x), Err(y)) => x.cmp(&y),
        }
    }

    fn sorted(keys: &[&str]) -> Vec<Key> {
        let mut a: Array = keys.iter().map(|k| (*k, "")).collect();
        ksort(&mut a);
        a.keys().cloned().collect()
    }

    #[test]
    fn numeric_strings() {
        assert_eq!(numeric(b"12"), Some(Numeric::Long(12)));
        assert_eq!(numeric(b" 12 "), Some(Numeric::Long(12)));
        assert_eq!(numeric(b"-0"), Some(Numeric::Long(0)));
        assert_eq!(numeric(b"007"), Some(Numeric::Long(7)));
        assert_eq!(
            numeric(b"1.5"),
            Some(Numeric::Double {
                value: 1.5,
                oflow: 0
            })
        );
        assert_eq!(
            numeric(b".5"),
            Some(Numeric::Double {
                value: 0.5,
                oflow: 0
            })
        );
        assert_eq!(
            numeric(b"5."),
            Some(Numeric::Double {
                value: 5.0,
                oflow: 0
            })
        );
        assert_eq!(
            numeric(b"1e3"),
            Some(Numeric::Double {
                value: 1000.0,
                oflow: 0
            })
        );
        assert_eq!(
            numeric(b"9223372036854775808"),
            Some(Numeric::Double {
                value: 9.223372036854776e18,
                oflow: 1
            })
        );
        assert_eq!(
            numeric(b"-9223372036854775808"),
            Some(Numeric::Long(i64::MIN))
        );
        for s in [
            &b""[..],
            b" ",
            b"-",
            b"1e",
            b"1e+",
            b"abc",
            b"1a",
            b"0x1A",
            b".",
            b"1 2",
            b"inf",
        ] {
            assert_eq!(numeric(s), None, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn ksort_orders_like_php_8() {
        // Integer keys numerically, before letters (their text sorts before letters too).
        assert_eq!(
            sorted(&["b", "10", "a", "9"]),
            [Key::Int(9), Key::Int(10), Key::from("a"), Key::from("b")]
        );
        // Numeric strings compare as numbers.
        assert_eq!(sorted(&["1e3", "999"]), [Key::Int(999), Key::from("1e3")]);
        assert_eq!(
            sorted(&["10.5", "9.5"]),
            [Key::from("9.5"), Key::from("10.5")]
        );
        // Plain byte-wise order for ordinary names.
        assert_eq!(
            sorted(&["x-app-id", "host", "content-type"]),
            [
                Key::from("content-type"),
                Key::from("host"),
                Key::from("x-app-id")
            ]
        );
        // Ties keep insertion order (stable).
        assert_eq!(sorted(&["1.0", "1"]), [Key::from("1.0"), Key::Int(1)]);
        assert_eq!(sorted(&["1", "1.0"]), [Key::Int(1), Key::from("1.0")]);
    }

    #[test]
    fn zend_sort_matches_a_stable_sort_for_total_orders() {
        for n in 0..200usize {
            let mut v: Vec<(u32, usize)> = (0..n)
                .map(|i| ((i as u32).wrapping_mul(2_654_435_761) % 17, i))
                .collect();
            let mut expected = v.clone();
            expected.sort();
            zend_sort(&mut v, &|a, b| a.cmp(b));
            assert_eq!(v, expected, "n = {n}");
        }
    }

    proptest! {
        #[test]
        fn numeric_never_panics(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = numeric(&s);
            let _ = strtod(&s, 0);
        }

        /// Whatever the keys (these include sets PHP itself cannot order consistently),
        /// `ksort` returns exactly the entries it was given, each key with its own value.
        #[test]
        fn ksort_is_a_permutation_of_its_input(keys in proptest::collection::vec("[0-9a-e. +-]{0,6}", 0..60)) {
            let mut a: Array = keys.iter().enumerate().map(|(i, k)| (k.as_str(), i as i64)).collect();
            let before = entries_by_key(&a);
            ksort(&mut a);
            prop_assert_eq!(entries_by_key(&a), before);
        }

        /// On keys where `SORT_REGULAR` is a total order (integers, numeric strings and words
        /// beginning with a letter), `ksort` is the stable sort by [`compare_keys`]: every
        /// neighbour in order, equal keys (`"1.0"` and `1`) in insertion order.
        #[test]
        fn ksort_orders_as_sort_regular(keys in proptest::collection::vec(ordered_key(), 0..60)) {
            let mut a: Array = keys.iter().enumerate().map(|(i, k)| (k.as_str(), i as i64)).collect();
            let mut expected: Vec<(Key, i64)> = a.iter().map(|(k, v)| (k.clone(), index(v))).collect();
            expected.sort_by(|x, y| sort_regular_model(&x.0, &y.0));
            ksort(&mut a);
            let got: Vec<(Key, i64)> = a.iter().map(|(k, v)| (k.clone(), index(v))).collect();
            for pair in got.windows(2) {
                if let [x, y] = pair {
                    prop_assert_ne!(compare_keys(&x.0, &y.0), Ordering::Greater, "{:?} before {:?}", x.0, y.0);
                }
            }
            prop_assert_eq!(got, expected);
        }

        /// Under any comparator, even one that contradicts itself, `zend_sort` only moves
        /// elements: the output is a permutation of the input.
        #[test]
        fn zend_sort_is_a_permutation_under_inconsistent_comparators(
            v in proptest::collection::vec(any::<u8>(), 0..1500),
            seed in any::<u64>(),
        ) {
            let mut sorted = v.clone();
            zend_sort(&mut sorted, &|a, b| {
                let h = (u64::from(*a) * 31 + u64::from(*b)).wrapping_mul(seed | 1);
                match h % 3 { 0 => Ordering::Less, 1 => Ordering::Equal, _ => Ordering::Greater }
            });
            let (mut got, mut want) = (sorted, v);
            got.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(got, want);
        }

        /// With a total order and the insertion index as tie-break (as `ksort` uses it),
        /// `zend_sort` (insertion sort below 16 elements, hybrid above) sorts like the
        /// standard library's stable sort.
        #[test]
        fn zend_sort_sorts_stably_under_a_total_order(v in proptest::collection::vec(0u8..24, 0..1500)) {
            let mut items: Vec<(u8, usize)> = v.iter().copied().zip(0..).collect();
            let mut expected = items.clone();
            expected.sort_by_key(|x| x.0);
            zend_sort(&mut items, &|x, y| x.0.cmp(&y.0).then(x.1.cmp(&y.1)));
            prop_assert_eq!(items, expected);
        }
    }
}
