//! Fixed-width lowercase hex, the id encoding shared by every header format.

/// Parses `s` as lowercase hex of at most `max` digits into a u128; `None` on any other byte.
#[inline]
pub(crate) fn parse_lower(s: &str, max: usize) -> Option<u128> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > max {
        return None;
    }
    let mut value: u128 = 0;
    for &b in bytes {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// Parses exactly `len` lowercase hex digits.
#[inline]
pub(crate) fn parse_exact(s: &str, len: usize) -> Option<u128> {
    if s.len() != len {
        return None;
    }
    parse_lower(s, len)
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `value` as `width` lowercase hex digits (zero padded) at the end of `out`.
#[inline]
pub(crate) fn push(out: &mut String, value: u128, width: usize) {
    let mut buf = [0u8; 32];
    for (i, slot) in buf.iter_mut().take(width).enumerate() {
        let shift = 4 * (width - 1 - i);
        *slot = DIGITS[((value >> shift) & 0xf) as usize];
    }
    // Every byte written above is an ASCII hex digit.
    out.push_str(std::str::from_utf8(&buf[..width]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_non_lowercase() {
        let mut s = String::new();
        push(&mut s, 0xabc, 16);
        assert_eq!(s, "0000000000000abc");
        assert_eq!(parse_exact(&s, 16), Some(0xabc));
        assert_eq!(parse_exact("ABC", 3), None);
        assert_eq!(parse_exact("+bc", 3), None);
        assert_eq!(parse_exact("abc", 4), None);
        assert_eq!(parse_lower("", 4), None);
    }
}
