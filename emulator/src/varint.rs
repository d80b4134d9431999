//! LEB128 varints: seven bits a byte, low bits first, the top bit set on every byte but the
//! last. Convex writes the table number of an id this way, and the store writes lengths and
//! counts of its document encoding the same way, so both share this one implementation.

/// Appends `n` as a varint.
pub fn write(out: &mut Vec<u8>, mut n: u64) {
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

/// Reads a varint of at most `bytes_max` bytes from the start of `bytes`: the value and how
/// many bytes it took, or `None` when it is truncated, longer, or does not fit in 64 bits.
pub fn read(bytes: &[u8], bytes_max: usize) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(bytes_max.min(10)) {
        let bits = u64::from(b & 0x7f);
        let shifted = bits.checked_shl(7 * i as u32)?;
        if shifted >> (7 * i as u32) != bits {
            return None;
        }
        n |= shifted;
        if b & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_does_not_end() {
        for n in [0u64, 1, 127, 128, 10_001, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            write(&mut out, n);
            assert_eq!(read(&out, 10), Some((n, out.len())), "{n}");
        }
        let mut two = Vec::new();
        write(&mut two, 300);
        assert_eq!(two, [0xac, 0x02]);
        assert_eq!(read(&two, 1), None, "longer than allowed");
        assert_eq!(read(&[0x80], 10), None, "truncated");
    }
}
