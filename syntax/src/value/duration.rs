//! Go `time.Duration` text, for targets that take durations (LANGUAGE.md §4.5 rule
//! 5): `"1h30m"`, `"1.5s"`, `"-250ms"`. Parsing and printing follow Go's
//! `time.ParseDuration` and `Duration.String`, including their error messages.

use super::{to_string_target, Value, ValueError};

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;

/// The largest magnitude a duration can have (2^63 ns, reachable only negated).
const LIMIT: u64 = 1 << 63;

fn unit(name: &str) -> Option<u64> {
    Some(match name {
        "ns" => NS,
        "us" | "\u{00B5}s" | "\u{03BC}s" => US,
        "ms" => MS,
        "s" => SEC,
        "m" => MIN,
        "h" => HOUR,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`: the duration in nanoseconds, or Go's error text.
pub fn parse_go_duration(text: &str) -> Result<i64, String> {
    let quote = crate::parser::go_quote;
    let invalid = || format!("time: invalid duration {}", quote(text));
    let mut s = text;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part; overflow is an error.
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..digits] {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        let pre = digits > 0;
        s = &s[digits..];
        // Fraction: digits past what fits are ignored, as in Go.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            let fd = s.bytes().take_while(|c| c.is_ascii_digit()).count();
            post = fd > 0;
            let mut overflow = false;
            for c in s[..fd].bytes() {
                if overflow {
                    continue;
                }
                if frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = frac * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            s = &s[fd..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .bytes()
            .take_while(|c| !(*c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", quote(text)));
        }
        let name = &s[..unit_len];
        s = &s[unit_len..];
        let Some(unit) = unit(name) else {
            return Err(format!(
                "time: unknown unit {} in duration {}",
                quote(name),
                quote(text)
            ));
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if frac > 0 {
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// Go's `Duration.String`: `"1h30m0s"`, `"1.5s"`, `"250ms"`, `"0s"`.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < SEC {
        let (unit, name) = if u < US {
            (NS, "ns")
        } else if u < MS {
            (US, "\u{00B5}s")
        } else {
            (MS, "ms")
        };
        out.push_str(&fraction(u, unit));
        out.push_str(name);
    } else {
        let hours = u / HOUR;
        let mins = (u % HOUR) / MIN;
        let secs = u % MIN;
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        if hours > 0 || mins > 0 {
            out.push_str(&format!("{mins}m"));
        }
        out.push_str(&fraction(secs, SEC));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `v / unit` with the remainder as a decimal fraction without trailing zeros.
fn fraction(v: u64, unit: u64) -> String {
    let whole = v / unit;
    let rem = v % unit;
    if rem == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Assignment to a duration target: the value converts to a string first (so a
/// number gives `time: missing unit in duration "15"`), then parses as a Go duration.
pub fn to_duration_target(value: &Value) -> Result<i64, ValueError> {
    let text = to_string_target(value)?;
    parse_go_duration(&text).map_err(ValueError::message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        assert_eq!(parse_go_duration("1h30m"), Ok(90 * 60 * 1_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("-250ms"), Ok(-250_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("1µs"), Ok(1_000));
        assert_eq!(parse_go_duration("-9223372036854775808ns"), Ok(i64::MIN));
        assert_eq!(
            parse_go_duration("15"),
            Err("time: missing unit in duration \"15\"".to_string())
        );
        assert_eq!(
            parse_go_duration("1x"),
            Err("time: unknown unit \"x\" in duration \"1x\"".to_string())
        );
        assert_eq!(
            parse_go_duration(""),
            Err("time: invalid duration \"\"".to_string())
        );
        assert!(parse_go_duration("9223372036854775808ns").is_err());
        assert!(parse_go_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(90 * 60 * 1_000_000_000), "1h30m0s");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
        assert_eq!(format_go_duration(250_000_000), "250ms");
        assert_eq!(format_go_duration(1_500), "1.5µs");
        assert_eq!(format_go_duration(-61_000_000_000), "-1m1s");
        assert_eq!(format_go_duration(i64::MIN), "-2562047h47m16.854775808s");
    }
}
