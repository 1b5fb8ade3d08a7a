//! Query-string parsing shared by the Jaeger v1 and v3 handlers: repeated parameters, Go
//! durations (`1.5ms`, `2s`, `100us`) and RFC 3339 timestamps.

use percent_encoding::percent_decode_str;

/// Decoded `application/x-www-form-urlencoded` query parameters, in order, repeats kept.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Parses a raw query string (without `?`).
    pub fn parse(raw: Option<&str>) -> Self {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_decode_str(&s).decode_utf8_lossy().into_owned()
        };
        QueryParams(
            raw.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(pair), String::new()),
                })
                .collect(),
        )
    }

    /// First non-empty value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// All non-empty values of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// All pairs whose key starts with `prefix`, with the prefix removed.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0
            .iter()
            .filter_map(move |(k, v)| Some((k.strip_prefix(prefix)?, v.as_str())))
    }
}

/// Parses a Go duration (`time.ParseDuration`) into nanoseconds; negative durations are clamped
/// to zero.
///
/// ```
/// use tracer_collector::query::params::parse_go_duration;
/// assert_eq!(parse_go_duration("1.5ms"), Ok(1_500_000));
/// assert_eq!(parse_go_duration("1h2m"), Ok(3_720_000_000_000));
/// assert_eq!(parse_go_duration("100us"), Ok(100_000));
/// assert!(parse_go_duration("5").is_err());
/// ```
pub fn parse_go_duration(s: &str) -> Result<u64, String> {
    let err = || format!("invalid duration {s:?}");
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {s:?}"))?;
        if num_len == 0 {
            return Err(err());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            unit => return Err(format!("unknown unit {unit:?} in duration {s:?}")),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if negative {
        return Ok(0);
    }
    if total > u64::MAX as f64 {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(total.round() as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00.5Z`, `...+02:00`) into Unix nanoseconds.
///
/// ```
/// use tracer_collector::query::params::parse_rfc3339;
/// assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Ok(1_500_000_000));
/// assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Ok(0));
/// ```
pub fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let err = || format!("invalid RFC 3339 time {s:?}");
    let b = s.as_bytes();
    // Every valid form is ASCII; checking first keeps the slicing below on char boundaries.
    if !s.is_ascii()
        || b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
    {
        return Err(err());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(err)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        part.parse::<i64>().map_err(|_| err())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(err());
    }
    let mut rest = &s[19..];
    let mut nanos: i64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if digits == 0 {
            return Err(err());
        }
        let mut padded = frac[..digits.min(9)].to_owned();
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().map_err(|_| err())?;
        rest = &frac[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        // Bytes, not `&rest[..1]`: the offset may hold a multi-byte character (`ü:000`).
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let h: i64 = rest[1..3].parse().map_err(|_| err())?;
            let m: i64 = rest[4..6].parse().map_err(|_| err())?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(err()),
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    u64::try_from(total).map_err(|_| format!("time {s:?} is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_parameters_count_as_absent() {
        let q = QueryParams::parse(Some("service=&service=a%20b&tag=x:1&tag=&tag=y%3A2"));
        assert_eq!(q.get("service"), Some("a b"));
        assert_eq!(q.all("tag").collect::<Vec<_>>(), ["x:1", "y:2"]);
        assert_eq!(q.get("limit"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("2s"), Ok(2_000_000_000));
        assert_eq!(parse_go_duration("1.5µs"), Ok(1500));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("1x").is_err());
        assert!(parse_go_duration("ms").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56.123456789Z"),
            Ok(1_709_210_096_123_456_789)
        );
        assert!(parse_rfc3339("2024-02-29 nonsense").is_err());
    }

    #[test]
    fn rfc3339_rejects_non_ascii_at_any_position_without_panicking() {
        let valid = "2024-01-01T00:00:00.5+01:00";
        for i in 0..=valid.len() {
            let mut s = valid.to_owned();
            s.insert(i, 'ü');
            assert!(parse_rfc3339(&s).is_err(), "{s}");
        }
        assert!(parse_rfc3339("2024-01-01T00:00:00ü:000").is_err());
    }
}
