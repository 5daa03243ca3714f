//! Go's number and time formatting, byte for byte, where sops' output or MAC depends on it.
//!
//! - `strconv.FormatFloat(f, 'f', -1, 64)`: the MAC and the plaintext of `float` values
//!   (`../shared/docs/SOPS-FORMAT.md` §1).
//! - `strconv.FormatFloat(f, 'g', -1, 64)`: how go-yaml v3 writes floats.
//! - `encoding/json` float output: how sops' JSON store writes numbers.
//! - `time.Time.MarshalText` (RFC 3339 with nanoseconds): `time` values.

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
pub fn format_f(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    // Rust's Display is shortest round-trip and never uses an exponent: the same digits as Go.
    format!("{f}")
}

/// Shortest digits and decimal exponent: `f = 0.d1d2d3… × 10^exp` as Go's `decimal` holds it.
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs()); // e.g. "1.234568e9"
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (f.is_sign_negative(), digits, exp)
}

fn format_exp(neg: bool, digits: &str, exp: i32, min_exp_digits: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs().to_string();
    for _ in e.len()..min_exp_digits {
        out.push('0');
    }
    out.push_str(&e);
    out
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` as go-yaml v3 writes floats, with YAML's spellings
/// of infinity and NaN.
pub fn format_yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (neg, digits, exp) = shortest_digits(f);
    // Go's ftoa: with the shortest precision, %e is chosen when exp < -4 || exp >= 6.
    let eprec = 6;
    if exp < -4 || exp >= eprec {
        format_exp(neg, &digits, exp, 2)
    } else {
        format_f(f)
    }
}

/// `encoding/json`'s float encoding: 'f' unless the exponent is < -6 or >= 21, then 'e'
/// with a one- or two-digit exponent.
pub fn format_json_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (neg, digits, exp) = shortest_digits(f);
        Some(format_exp(neg, &digits, exp, 1))
    } else {
        Some(format_f(f))
    }
}

/// A broken-down timestamp, as the YAML timestamp formats go-yaml v3 accepts give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timestamp {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
    /// Offset east of UTC in seconds; `None` for UTC.
    pub offset: Option<i32>,
}

fn num(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses what go-yaml v3 resolves as `!!timestamp` in a plain scalar: `2006-1-2`,
/// `2006-1-2T15:4:5.999999999Z07:00` (also lower-case `t`), `2006-1-2 15:4:5.999999999`.
pub fn parse_yaml_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let (year, rest) = num(s, 4, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = num(rest, 1, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = num(rest, 1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year as i32, month) {
        return None;
    }
    let mut ts = Timestamp { year: year as i32, month, day, hour: 0, minute: 0, second: 0, nanos: 0, offset: None };
    if rest.is_empty() {
        return Some(ts);
    }
    let (zoned, rest) = match rest.as_bytes()[0] {
        b'T' | b't' => (true, &rest[1..]),
        b' ' => (false, &rest[1..]),
        _ => return None,
    };
    let (hour, rest) = num(rest, 1, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (minute, rest) = num(rest, 1, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (second, mut rest) = num(rest, 1, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    ts.hour = hour;
    ts.minute = minute;
    ts.second = second;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        ts.nanos = frac[..n].parse::<u32>().ok()? * 10u32.pow(9 - n as u32);
        rest = &frac[n..];
    }
    if !zoned {
        return rest.is_empty().then_some(ts);
    }
    if rest == "Z" {
        return Some(ts);
    }
    let sign = match rest.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, r) = num(&rest[1..], 2, 2)?;
    let r = r.strip_prefix(':')?;
    let (om, r) = num(r, 2, 2)?;
    if !r.is_empty() || oh > 23 || om > 59 {
        return None;
    }
    let off = sign * (oh * 3600 + om * 60) as i32;
    ts.offset = if off == 0 { None } else { Some(off) };
    Some(ts)
}

/// `time.Time.MarshalText`: RFC 3339 with trailing-zero-trimmed nanoseconds.
pub fn format_rfc3339_nano(t: &Timestamp) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if t.nanos != 0 {
        let frac = format!("{:09}", t.nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    match t.offset {
        None => s.push('Z'),
        Some(off) => {
            let sign = if off < 0 { '-' } else { '+' };
            let off = off.unsigned_abs();
            s.push_str(&format!("{sign}{:02}:{:02}", off / 3600, (off % 3600) / 60));
        }
    }
    s
}

/// Parses RFC 3339 as Go's `time.Parse(time.RFC3339, …)` accepts it and re-formats it as
/// `Format(time.RFC3339)` (no fractional seconds): the AAD of the MAC is this string.
pub fn canonical_rfc3339(s: &str) -> Option<String> {
    let t = parse_yaml_timestamp(s)?;
    if !s.contains(['T', 't']) {
        return None;
    }
    let t = Timestamp { nanos: 0, ..t };
    Some(format_rfc3339_nano(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(format_f(0.5), "0.5");
        assert_eq!(format_f(3.0), "3");
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(1e-7), "0.0000001");
        assert_eq!(format_yaml_float(1234568000.0), "1.234568e+09");
        assert_eq!(format_yaml_float(1234567890.0), "1.23456789e+09");
        assert_eq!(format_yaml_float(100000.0), "100000");
        assert_eq!(format_yaml_float(1000000.0), "1e+06");
        assert_eq!(format_yaml_float(3.25), "3.25");
        assert_eq!(format_yaml_float(0.0001), "0.0001");
        assert_eq!(format_yaml_float(0.00001), "1e-05");
        assert_eq!(format_yaml_float(25.4), "25.4");
        assert_eq!(format_json_float(25.4).unwrap(), "25.4");
        assert_eq!(format_json_float(1e21).unwrap(), "1e+21");
        assert_eq!(format_json_float(1e-7).unwrap(), "1e-7");
        assert_eq!(format_json_float(12345678901234567890.0).unwrap(), "12345678901234567000");
    }

    #[test]
    fn timestamps_like_go_yaml() {
        let t = parse_yaml_timestamp("2024-01-01").unwrap();
        assert_eq!(format_rfc3339_nano(&t), "2024-01-01T00:00:00Z");
        let t = parse_yaml_timestamp("2001-12-14t21:59:43.10-05:00").unwrap();
        assert_eq!(format_rfc3339_nano(&t), "2001-12-14T21:59:43.1-05:00");
        let t = parse_yaml_timestamp("2001-12-14 21:59:43.10").unwrap();
        assert_eq!(format_rfc3339_nano(&t), "2001-12-14T21:59:43.1Z");
        assert!(parse_yaml_timestamp("2001-13-14").is_none());
        assert!(parse_yaml_timestamp("2001-12-14 21:59:43 +5").is_none());
        assert_eq!(canonical_rfc3339("2025-08-06T18:55:05Z").unwrap(), "2025-08-06T18:55:05Z");
    }
}
