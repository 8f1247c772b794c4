//! LEB128 unsigned integers (7 bits per byte, low first): the lengths and times of the
//! stores' compact records (the memory key table, the Redis record codec), written once.

/// Appends `n`.
pub fn put(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Reads one integer from the front of `bytes` and advances past it; `None` when it is cut
/// short or does not fit 64 bits (never panics).
pub fn take(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_cut_short() {
        for n in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put(&mut out, n);
            let mut bytes = out.as_slice();
            assert_eq!(take(&mut bytes), Some(n));
            assert!(bytes.is_empty());
            let mut cut = &out[..out.len() - 1];
            assert_eq!(take(&mut cut), None);
        }
        assert_eq!(take(&mut [0xff; 11].as_slice()), None);
    }
}
