//! Fixed-width lowercase hex, the id encoding shared by every header format.
//!
//! Hand-written rather than the `hex` crate's: the formats accept lowercase digits only
//! (`traceparent` with an uppercase digit is invalid), which a general decoder does not check,
//! and ids are decoded eight digits at a time in one 64-bit word (range checks and nibble
//! packing on all eight bytes at once) instead of one digit per loop turn into a `u128`: a W3C
//! extract's 52 digits went from 446 to about 250 instructions under callgrind
//! (docs/BENCHMARKS.md, "Extract back near the pre-Level-2 cost").

/// `0x01` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte set where that byte is `>= lo`, for bytes below `0x80` (adding
/// `0x80 - lo` carries into bit 7 exactly then, and never into the next byte).
#[inline(always)]
fn at_least(x: u64, lo: u8) -> u64 {
    x.wrapping_add(ONES * u64::from(0x80 - lo)) & HIGH
}

/// Eight lowercase hex digits, the first the most significant; `None` if any byte is not one.
#[inline(always)]
fn eight(chunk: [u8; 8]) -> Option<u32> {
    let x = u64::from_le_bytes(chunk);
    let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
    let letter = at_least(x, b'a') & !at_least(x, b'f' + 1);
    if x & HIGH != 0 || digit | letter != HIGH {
        return None;
    }
    // '0'..'9' and 'a'..'f' carry their value (less 9 for letters) in the low nibble.
    let nibbles = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // First digit in the top byte, then fold neighbouring nibbles, bytes and pairs together.
    let v = nibbles.swap_bytes();
    let v = (v | (v >> 4)) & 0x00ff_00ff_00ff_00ff;
    let v = (v | (v >> 8)) & 0x0000_ffff_0000_ffff;
    Some((v | (v >> 16)) as u32)
}

/// One lowercase hex digit's value.
#[inline(always)]
fn digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Exactly 16 lowercase hex digits.
#[inline]
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    let s: &[u8; 16] = s.try_into().ok()?;
    let (high, low) = s.split_at(8);
    let high = eight(high.try_into().ok()?)?;
    let low = eight(low.try_into().ok()?)?;
    Some(u64::from(high) << 32 | u64::from(low))
}

/// Exactly 32 lowercase hex digits.
#[inline]
pub(crate) fn parse_u128(s: &[u8]) -> Option<u128> {
    if s.len() != 32 {
        return None;
    }
    let (high, low) = s.split_at(16);
    Some(u128::from(parse_u64(high)?) << 64 | u128::from(parse_u64(low)?))
}

/// Exactly two lowercase hex digits.
#[inline]
pub(crate) fn parse_u8(s: &[u8]) -> Option<u8> {
    match *s {
        [high, low] => Some(digit(high)? << 4 | digit(low)?),
        _ => None,
    }
}

/// Parses `s` as lowercase hex of 1 to `max` (at most 32) digits into a u128; `None` on any
/// other byte.
#[inline]
pub(crate) fn parse_lower(s: &str, max: usize) -> Option<u128> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > max.min(32) {
        return None;
    }
    match bytes.len() {
        32 => parse_u128(bytes),
        16 => parse_u64(bytes).map(u128::from),
        len if len <= 2 => bytes
            .iter()
            .try_fold(0u8, |value, &b| Some(value << 4 | digit(b)?))
            .map(u128::from),
        len => {
            // Left-padded with zeros to the next fixed width.
            let mut padded = [b'0'; 32];
            padded[32 - len..].copy_from_slice(bytes);
            if len <= 16 {
                parse_u64(&padded[16..]).map(u128::from)
            } else {
                parse_u128(&padded)
            }
        }
    }
}

/// Eight lowercase hex digits of `value`, the most significant first.
#[inline(always)]
fn encode_eight(value: u32) -> [u8; 8] {
    // Spread the nibbles over the bytes (the inverse of `eight`'s folding), first one on top.
    let v = u64::from(value);
    let v = (v | (v << 16)) & 0x0000_ffff_0000_ffff;
    let v = (v | (v << 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v | (v << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // '0' + n, and 'a' - 10 + n (39 more) for nibbles above 9.
    let above_nine = ((v + ONES * 6) >> 4) & ONES;
    (v + ONES * u64::from(b'0') + above_nine * 39).to_be_bytes()
}

/// Writes `value` as 16 lowercase hex digits at the end of `out`.
#[inline]
pub(crate) fn push_u64(out: &mut String, value: u64) {
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(&encode_eight((value >> 32) as u32));
    buf[8..].copy_from_slice(&encode_eight(value as u32));
    push_ascii(out, &buf);
}

/// Writes `value` as 32 lowercase hex digits at the end of `out`.
#[inline]
pub(crate) fn push_u128(out: &mut String, value: u128) {
    push_u64(out, (value >> 64) as u64);
    push_u64(out, value as u64);
}

/// Writes `value` as two lowercase hex digits at the end of `out`.
#[inline]
pub(crate) fn push_u8(out: &mut String, value: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(DIGITS[usize::from(value >> 4)]));
    out.push(char::from(DIGITS[usize::from(value & 0xf)]));
}

/// Appends hex digits (ASCII) to `out`.
#[inline(always)]
fn push_ascii(out: &mut String, digits: &[u8]) {
    // Every byte `encode_eight` writes is an ASCII hex digit.
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-at-a-time decoder this module had before, as the reference.
    fn reference(s: &str) -> Option<u128> {
        if s.is_empty() || s.len() > 32 {
            return None;
        }
        s.bytes()
            .try_fold(0u128, |v, b| Some(v << 4 | u128::from(digit(b)?)))
    }

    #[test]
    fn round_trips_and_rejects_non_lowercase() {
        let mut s = String::new();
        push_u64(&mut s, 0xabc);
        assert_eq!(s, "0000000000000abc");
        assert_eq!(parse_u64(s.as_bytes()), Some(0xabc));
        assert_eq!(parse_lower("ABC", 3), None);
        assert_eq!(parse_lower("+bc", 3), None);
        assert_eq!(parse_lower("abcde", 4), None);
        assert_eq!(parse_lower("", 4), None);
        let mut s = String::new();
        push_u128(&mut s, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        push_u8(&mut s, 0x0f);
        assert_eq!(s, "4bf92f3577b34da6a3ce929d0e0e47360f");
    }

    #[test]
    fn every_byte_in_every_position_decodes_as_the_reference_does() {
        let base = *b"0123456789abcdef0123456789abcdef";
        for len in 1..=32 {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut input = base[..len].to_vec();
                    input[pos] = b;
                    let Ok(s) = std::str::from_utf8(&input) else {
                        continue;
                    };
                    assert_eq!(parse_lower(s, 32), reference(s), "{s:?}");
                }
            }
        }
        assert_eq!(parse_u64(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_u128(&[b'f'; 32]), Some(u128::MAX));
        assert_eq!(parse_u8(b"0g"), None);
    }

    #[test]
    fn every_nibble_encodes_as_its_digit() {
        for shift in (0..64).step_by(4) {
            for n in 0..16u64 {
                let mut s = String::new();
                push_u64(&mut s, n << shift);
                assert_eq!(s, format!("{:016x}", n << shift));
            }
        }
        let mut s = String::new();
        push_u64(&mut s, 0x0123_4567_89ab_cdef);
        assert_eq!(s, "0123456789abcdef");
    }
}
