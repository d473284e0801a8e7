//! Number kinds and Go-compatible number semantics: literal parsing, kind fitting,
//! wrapping arithmetic, conversions between widths and decimal printing (§2.3, §4.2).

use super::Number;
use std::cmp::Ordering;

/// The kind of a number. The derived order is upstream's "width" ranking used when
/// two kinds meet in an operator: uint < int < float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NumberKind {
    Uint,
    Int,
    Float,
}

impl NumberKind {
    /// The kind both operands of a binary operator are computed in.
    pub fn fit(a: NumberKind, b: NumberKind) -> NumberKind {
        a.max(b)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Uint => "uint",
            NumberKind::Int => "int",
            NumberKind::Float => "float",
        }
    }
}

/// 2^63 as a float: the first value out of range for an i64.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Go's `int64(f)` as compiled for amd64: out-of-range values and NaN give the
/// "integer indefinite" value `i64::MIN` (Rust's `as` would saturate instead).
pub fn go_f64_to_i64(f: f64) -> i64 {
    if f.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// Go's `uint64(f)` as compiled for amd64: values below 2^63 go through the signed
/// conversion (so -1.0 becomes 2^64-1), larger ones are offset by 2^63 first.
pub fn go_f64_to_u64(f: f64) -> u64 {
    if f < TWO_POW_63 {
        go_f64_to_i64(f) as u64
    } else {
        (go_f64_to_i64(f - TWO_POW_63) as u64) | (1 << 63)
    }
}

impl Number {
    pub fn kind(self) -> NumberKind {
        match self {
            Number::Int(_) => NumberKind::Int,
            Number::Uint(_) => NumberKind::Uint,
            Number::Float(_) => NumberKind::Float,
        }
    }

    /// The value as an i64, by Go conversion: uints reinterpret as two's complement
    /// and floats truncate toward zero.
    pub fn as_i64(self) -> i64 {
        match self {
            Number::Int(i) => i,
            Number::Uint(u) => u as i64,
            Number::Float(f) => go_f64_to_i64(f),
        }
    }

    /// The value as a u64, by Go conversion.
    pub fn as_u64(self) -> u64 {
        match self {
            Number::Int(i) => i as u64,
            Number::Uint(u) => u,
            Number::Float(f) => go_f64_to_u64(f),
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Uint(u) => u as f64,
            Number::Float(f) => f,
        }
    }

    /// Whether the number is zero in its own kind (the divide-by-zero check).
    pub fn is_zero(self) -> bool {
        match self {
            Number::Int(i) => i == 0,
            Number::Uint(u) => u == 0,
            Number::Float(f) => f == 0.0,
        }
    }

    /// Decimal text: ints as usual, floats as Go's `strconv.FormatFloat(f, 'f', -1, 64)`
    /// (shortest round-trip digits, never an exponent).
    pub fn to_go_string(self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Uint(u) => u.to_string(),
            Number::Float(f) => format_go_float(f),
        }
    }

    /// Equality in the fitted kind, so `3 == 3.0` and (quirk) `2^64-1 == -1`.
    pub fn equals(self, other: Number) -> bool {
        self.compare(other) == Some(Ordering::Equal)
    }

    /// Ordering in the fitted kind; `None` only when a float is NaN.
    pub fn compare(self, other: Number) -> Option<Ordering> {
        match NumberKind::fit(self.kind(), other.kind()) {
            NumberKind::Uint => Some(self.as_u64().cmp(&other.as_u64())),
            NumberKind::Int => Some(self.as_i64().cmp(&other.as_i64())),
            NumberKind::Float => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }

    /// `+` with wrapping integer overflow.
    pub fn wrapping_add(self, other: Number) -> Number {
        self.arith(other, u64::wrapping_add, i64::wrapping_add, |a, b| a + b)
    }

    /// `-` with wrapping integer overflow.
    pub fn wrapping_sub(self, other: Number) -> Number {
        self.arith(other, u64::wrapping_sub, i64::wrapping_sub, |a, b| a - b)
    }

    /// `*` with wrapping integer overflow.
    pub fn wrapping_mul(self, other: Number) -> Number {
        self.arith(other, u64::wrapping_mul, i64::wrapping_mul, |a, b| a * b)
    }

    /// `/`: `None` when `other` is zero in its own kind. Integer division truncates;
    /// `i64::MIN / -1` wraps to `i64::MIN` as in Go.
    pub fn checked_div(self, other: Number) -> Option<Number> {
        if other.is_zero() {
            return None;
        }
        // Fitting never turns a non-zero divisor into zero (a uint read as an int keeps
        // its bits; an integer read as a float stays non-zero), so the zero fallbacks
        // below are unreachable; they only spare us a panic path.
        Some(self.arith(
            other,
            |a, b| a.checked_div(b).unwrap_or(0),
            |a, b| if b == 0 { 0 } else { a.wrapping_div(b) },
            |a, b| a / b,
        ))
    }

    /// `%`: `None` when `other` is zero in its own kind. The result has the sign of
    /// the dividend; floats use `fmod`.
    pub fn checked_rem(self, other: Number) -> Option<Number> {
        if other.is_zero() {
            return None;
        }
        Some(self.arith(
            other,
            |a, b| a.checked_rem(b).unwrap_or(0),
            |a, b| if b == 0 { 0 } else { a.wrapping_rem(b) },
            |a, b| a % b,
        ))
    }

    /// `^`: `pow` for floats; for integers upstream's loop semantics (a negative
    /// exponent returns the base), computed by squaring so huge exponents finish.
    pub fn pow(self, other: Number) -> Number {
        self.arith(other, uint_pow, int_pow, f64::powf)
    }

    fn arith(
        self,
        other: Number,
        uint: impl Fn(u64, u64) -> u64,
        int: impl Fn(i64, i64) -> i64,
        float: impl Fn(f64, f64) -> f64,
    ) -> Number {
        match NumberKind::fit(self.kind(), other.kind()) {
            NumberKind::Uint => Number::Uint(uint(self.as_u64(), other.as_u64())),
            NumberKind::Int => Number::Int(int(self.as_i64(), other.as_i64())),
            NumberKind::Float => Number::Float(float(self.as_f64(), other.as_f64())),
        }
    }

    /// Unary minus: integers negate as i64 (wrapping) and become int.
    pub fn wrapping_neg(self) -> Number {
        match self {
            Number::Float(f) => Number::Float(-f),
            other => Number::Int(other.as_i64().wrapping_neg()),
        }
    }
}

/// Upstream's integer power: 1 for a zero exponent or base 1, 0 for base 0 with a
/// positive exponent, otherwise `base` multiplied in `exp - 1` more times (none for
/// exponents below 2). Squaring gives the same wrapped product in O(log exp).
fn int_pow(base: i64, exp: i64) -> i64 {
    if exp == 0 || base == 1 {
        return 1;
    }
    if base == 0 && exp > 0 {
        return 0;
    }
    if exp < 2 {
        return base;
    }
    wrapping_pow_u64(base as u64, exp as u64) as i64
}

fn uint_pow(base: u64, exp: u64) -> u64 {
    if exp == 0 || base == 1 {
        return 1;
    }
    if base == 0 {
        return 0;
    }
    if exp < 2 {
        return base;
    }
    wrapping_pow_u64(base, exp)
}

/// `base^exp` modulo 2^64. Two's complement makes this right for signed bases too.
fn wrapping_pow_u64(mut base: u64, mut exp: u64) -> u64 {
    let mut acc: u64 = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    acc
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`. Rust's `Display` already prints the
/// shortest round-trip digits without an exponent; only the special values differ.
pub fn format_go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f == f64::INFINITY {
        "+Inf".to_string()
    } else if f == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{f}")
    }
}

/// The value of a `NUMBER` token (ASCII digits): a signed 64-bit integer by Go's
/// base-0 rules (a leading `0` means octal), else an unsigned one, else a float
/// parsed as decimal (so `09` is the float 9). `Err` carries upstream's message for a
/// number too large even for a float.
pub fn parse_number_literal(text: &str) -> Result<Number, String> {
    let octal = text.len() > 1 && text.starts_with('0');
    let digits = if octal { &text[1..] } else { text };
    let radix: u128 = if octal { 8 } else { 10 };
    let mut acc: u128 = 0;
    let mut ok = !digits.is_empty();
    for b in digits.bytes() {
        let d = b.wrapping_sub(b'0') as u128;
        if d >= radix {
            ok = false;
            break;
        }
        acc = acc * radix + d;
        if acc > u64::MAX as u128 {
            ok = false;
            break;
        }
    }
    if ok {
        return Ok(match i64::try_from(acc) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Uint(acc as u64),
        });
    }
    parse_float_literal(text).map(Number::Float)
}

/// The value of a `FLOAT` token by Go's `strconv.ParseFloat`: underflow is 0, overflow
/// is upstream's error text.
pub fn parse_float_literal(text: &str) -> Result<f64, String> {
    match parse_go_float(text) {
        Some(f) => Ok(f),
        None if text.parse::<f64>().is_ok() => Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            crate::parser::go_quote(text)
        )),
        None => Err(format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            crate::parser::go_quote(text)
        )),
    }
}

/// Go's `strconv.ParseFloat(s, 64)`: `None` on a syntax error or when the value is
/// out of range. Accepts what Go accepts beyond Rust's parser: `_` between digits
/// (`1_000.5`) and hexadecimal mantissas with a binary exponent (`0x1.8p1`); rejects
/// a signed NaN, which Rust would take.
pub fn parse_go_float(s: &str) -> Option<f64> {
    let unsigned = s.trim_start_matches(['+', '-']);
    if s.len() - unsigned.len() > 1 {
        return None;
    }
    if s.contains('_') {
        if !underscores_ok(s) {
            return None;
        }
        return parse_go_float(&s.replace('_', ""));
    }
    if unsigned.len() >= 2
        && unsigned.as_bytes()[0] == b'0'
        && matches!(unsigned.as_bytes()[1], b'x' | b'X')
    {
        let f = parse_hex_float(&unsigned[2..])?;
        return Some(if s.starts_with('-') { -f } else { f });
    }
    if unsigned.eq_ignore_ascii_case("nan") && unsigned.len() != s.len() {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if f.is_infinite() {
        let lower = s.to_ascii_lowercase();
        let body = lower.trim_start_matches(['+', '-']);
        if body != "inf" && body != "infinity" {
            return None;
        }
    }
    Some(f)
}

/// Go's `underscoreOK`: each `_` sits between digits (a base prefix counts as one).
fn underscores_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let b = s.as_bytes();
    let mut i = 0;
    let mut hex = false;
    // What came last: '^' start, '0' a digit or prefix, '_' an underscore, '!' other.
    let mut saw = b'^';
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        hex = b[1].eq_ignore_ascii_case(&b'x');
        i = 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// A hexadecimal mantissa (after `0x`) with its mandatory `p` exponent.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mantissa, exp) = s.split_once(['p', 'P'])?;
    let exp: i64 = match exp.strip_prefix('+') {
        Some(rest) if !rest.starts_with(['+', '-']) => rest.parse().ok()?,
        _ => exp.parse().ok()?,
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let shift = exp.checked_sub(4 * frac_part.len() as i64)?;
    let f = value * 2f64.powi(shift.clamp(-2000, 2000) as i32);
    f.is_finite().then_some(f)
}

/// Go's strict string-to-number conversion on assignment (§4.5 rule 4): `None`
/// when the string is not a number by those rules.
pub fn parse_number_string(s: &str) -> Option<Number> {
    if s.is_empty() {
        return None;
    }
    if s.starts_with('-') {
        return s.parse::<i64>().ok().map(Number::Int);
    }
    if s.contains(['.', 'e', 'E']) {
        return parse_go_float(s).map(Number::Float);
    }
    // Rust accepts a leading `+` here; Go's ParseUint does not.
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().map(Number::Uint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_kinds() {
        assert!(matches!(parse_number_literal("010"), Ok(Number::Int(8))));
        assert!(matches!(parse_number_literal("09"), Ok(Number::Float(f)) if f == 9.0));
        assert!(matches!(parse_number_literal("0"), Ok(Number::Int(0))));
        assert!(matches!(
            parse_number_literal("18446744073709551615"),
            Ok(Number::Uint(u64::MAX))
        ));
        assert!(matches!(
            parse_number_literal("18446744073709551616"),
            Ok(Number::Float(_))
        ));
        assert!(parse_float_literal("1e400")
            .unwrap_err()
            .contains("value out of range"));
        assert_eq!(parse_float_literal("1e-400"), Ok(0.0));
    }

    #[test]
    fn integer_pow_matches_loop() {
        assert_eq!(int_pow(2, 63), i64::MIN);
        assert_eq!(int_pow(2, -1), 2);
        assert_eq!(int_pow(0, -1), 0);
        assert_eq!(int_pow(-8, 0), 1);
        assert_eq!(int_pow(3, 5), 243);
        // Finishes, unlike upstream's loop.
        let _ = int_pow(3, i64::MAX);
        let _ = uint_pow(3, u64::MAX);
    }

    #[test]
    fn go_float_conversions() {
        assert_eq!(go_f64_to_i64(f64::NAN), i64::MIN);
        assert_eq!(go_f64_to_i64(1e30), i64::MIN);
        assert_eq!(go_f64_to_i64(-1.9), -1);
        assert_eq!(go_f64_to_u64(-1.0), u64::MAX);
        assert_eq!(go_f64_to_u64(1e19), 10_000_000_000_000_000_000);
    }

    #[test]
    fn strict_strings() {
        assert!(matches!(parse_number_string("15"), Some(Number::Uint(15))));
        assert!(matches!(parse_number_string("-15"), Some(Number::Int(-15))));
        assert!(matches!(parse_number_string("1.5"), Some(Number::Float(_))));
        assert!(parse_number_string("+15").is_none());
        assert!(parse_number_string(" 15").is_none());
        assert!(parse_number_string("").is_none());
        assert!(parse_number_string("1e400").is_none());
        assert!(matches!(parse_number_string("1_000.5"), Some(Number::Float(f)) if f == 1000.5));
        assert!(parse_number_string("1__0.5").is_none());
        assert!(parse_number_string("_1.5").is_none());
        assert!(matches!(parse_number_string("0x1.8p1"), Some(Number::Float(f)) if f == 3.0));
        assert!(parse_number_string("0x1.8").is_none());
        assert!(parse_number_string("+-1.5").is_none());
        // Integers take no underscores outside Go's base-0 parsing.
        assert!(parse_number_string("1_000").is_none());
    }
}
