//! PHP 8 `ksort` (`SORT_REGULAR`) and its key comparison (crates/s2s/src/php/sort.rs).
//!
//! Keys are the input split at NUL bytes, stored under PHP's key rule.
//! - `ksort` is a permutation: the same keys, each with its own value.
//! - `compare_keys` is antisymmetric.
//! - Whenever the keys are consistently ordered by `compare_keys` (PHP's rules are not a
//!   total order on every set), the result is exactly the stable sort by `compare_keys`;
//!   integer keys alone come out strictly increasing.
//! - `Key::from_bytes` is PHP's canonical form: `from_bytes(k.as_bytes()) == k`.
#![no_main]

use std::cmp::Ordering;

use libfuzzer_sys::fuzz_target;
use tower_authn_s2s::php::{Array, Key, Value, compare_keys, ksort};

/// Beyond this many keys the O(n^3) consistency check is skipped (the sort still runs).
const CHECK_ORDER_UP_TO: usize = 40;

fuzz_target!(|data: &[u8]| {
    let mut a = Array::new();
    for (i, k) in (0i64..).zip(data.split(|&b| b == 0).take(300)) {
        let key = Key::from_bytes(k);
        assert_eq!(Key::from_bytes(&key.as_bytes()), key);
        a.insert(key, Value::Int(i));
    }
    let before: Vec<(Key, Value)> = a.clone().into_entries();
    let mut sorted = a.clone();
    ksort(&mut sorted);
    let after: Vec<(Key, Value)> = sorted.clone().into_entries();

    assert_eq!(after.len(), before.len());
    for (k, v) in &before {
        assert_eq!(sorted.get(k), Some(v), "ksort lost or changed {k:?}");
    }

    let n = before.len();
    if n > CHECK_ORDER_UP_TO {
        return;
    }
    let keys: Vec<&Key> = before.iter().map(|(k, _)| k).collect();
    let mut cmp = vec![Ordering::Equal; n * n];
    for i in 0..n {
        for j in 0..n {
            cmp[i * n + j] = if i == j {
                Ordering::Equal
            } else {
                compare_keys(keys[i], keys[j])
            };
        }
    }
    for i in 0..n {
        for j in 0..n {
            assert_eq!(
                cmp[i * n + j],
                cmp[j * n + i].reverse(),
                "compare_keys not antisymmetric on {:?} {:?}",
                keys[i],
                keys[j]
            );
        }
    }
    // `lt` is the order ksort uses: compare_keys, ties by original position.
    let lt = |i: usize, j: usize| match cmp[i * n + j] {
        Ordering::Less => true,
        Ordering::Greater => false,
        Ordering::Equal => i < j,
    };
    let consistent =
        (0..n).all(|i| (0..n).all(|j| !lt(i, j) || (0..n).all(|k| !lt(j, k) || lt(i, k))));
    if !consistent {
        return;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| {
        if i == j {
            Ordering::Equal
        } else if lt(i, j) {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    });
    let want: Vec<&Key> = order.iter().map(|&i| keys[i]).collect();
    let got: Vec<&Key> = after.iter().map(|(k, _)| k).collect();
    assert_eq!(
        got, want,
        "ksort differs from the order its comparison defines"
    );
    if keys.iter().all(|k| matches!(k, Key::Int(_))) {
        assert!(
            got.windows(2)
                .all(|w| matches!((w[0], w[1]), (Key::Int(x), Key::Int(y)) if x < y))
        );
    }
});
