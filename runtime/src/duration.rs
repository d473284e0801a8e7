//! A typed Go `time.Duration` for component arguments; the text form (parsing and
//! printing exactly as upstream) lives with the value model in `alloy_syntax`.

use std::fmt;

/// A signed duration in nanoseconds, as Go's `time.Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub i64);

impl GoDuration {
    pub const fn from_secs(s: i64) -> GoDuration {
        GoDuration(s * 1_000_000_000)
    }

    pub const fn from_millis(ms: i64) -> GoDuration {
        GoDuration(ms * 1_000_000)
    }

    pub fn nanos(self) -> i64 {
        self.0
    }

    /// The duration for timers; negative durations count as zero.
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.max(0) as u64)
    }

    /// Parses Go's syntax: an optional sign, then one or more `<decimal><unit>` with
    /// units `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`; `"0"` alone is allowed.
    pub fn parse(text: &str) -> Result<GoDuration, String> {
        alloy_syntax::value::duration::parse_go_duration(text).map(GoDuration)
    }
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&alloy_syntax::value::duration::format_go_duration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let ok = [
            ("0", 0),
            ("1s", 1_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("-2ms", -2_000_000),
            ("+5us", 5_000),
            ("3µs", 3_000),
            (".5s", 500_000_000),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
        ];
        for (text, nanos) in ok {
            assert_eq!(GoDuration::parse(text), Ok(GoDuration(nanos)), "{text}");
        }
        assert_eq!(
            GoDuration::parse("1d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            GoDuration::parse("10").unwrap_err(),
            "time: missing unit in duration \"10\""
        );
        for bad in ["", "-", "s", "1.s.", "9999999999999999999h"] {
            assert!(GoDuration::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prints_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_000_000_000, "1s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (5_400_500_000_000, "1h30m0.5s"),
            (-60_000_000_000, "-1m0s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(GoDuration(nanos).to_string(), text);
        }
    }
}
