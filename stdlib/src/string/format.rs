//! `string.format`: Go's `fmt.Sprintf` over Alloy values (LANGUAGE.md §5.2).
//!
//! Upstream hands the arguments straight to Go's `fmt.Sprintf`, so this is a port of
//! its behaviour: flags, width, precision, `*`, explicit argument indexes, every verb
//! that applies to the Go types Alloy values become, and the error markers written
//! into the output (`%!d(string=a)`, `%!s(MISSING)`, `%!(EXTRA int=1)`, ...).
//! Formatting never fails, except when the output would grow past [`MAX_OUTPUT`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use alloy_syntax::value::{Capsule, Number, Value};

/// Go refuses widths, precisions and argument indexes above this (fmt's `tooLarge`);
/// it also keeps one verb's output bounded.
const MAX_NUM: i64 = 1_000_000;

/// A format string can still repeat a huge width many times. Go would try to allocate
/// it all; we stop with an error instead of exhausting memory.
pub const MAX_OUTPUT: usize = 64 << 20;

/// An `f64` written out exactly never has more than 767 significant digits or 1074
/// fractional digits, so asking Rust for more than these only appends zeros, which we
/// add ourselves (Rust's formatter limits precision).
const MAX_SIG_DIGITS: usize = 780;
const MAX_FRAC_DIGITS: usize = 1100;

/// Formats `args` by `format` as Go's `fmt.Sprintf` would. `Err` only when the result
/// would exceed [`MAX_OUTPUT`] bytes.
pub fn sprintf(format: &str, args: &[Value]) -> Result<String, String> {
    let mut p = Printer {
        buf: String::with_capacity(format.len() + 16),
        f: Flags::default(),
        args,
        arg_num: 0,
        reordered: false,
        good_arg_num: true,
        overflow: false,
    };
    p.do_printf(format)?;
    Ok(p.buf)
}

/// The formatting state of one verb (Go's `fmt.fmtFlags` plus width and precision).
#[derive(Default, Clone, Copy)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    /// `%+v` and `%#v` move `plus` and `sharp` here.
    plus_v: bool,
    sharp_v: bool,
    wid: usize,
    prec: usize,
}

/// The Go value an Alloy value becomes when converted to "any" (§5.2 table).
#[derive(Clone, Copy)]
enum GoVal<'a> {
    Nil,
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Slice(&'a [Value]),
    Map(&'a BTreeMap<String, Value>),
    /// `alloytypes.Secret`, a named string type.
    Secret(&'a str),
    /// `alloytypes.OptionalSecret{IsSecret bool; Value string}`.
    OptSecret(bool, &'a str),
    Func,
    Host(&'a str),
}

fn go_val(v: &Value) -> GoVal<'_> {
    match v {
        Value::Null => GoVal::Nil,
        Value::Number(Number::Int(i)) => GoVal::Int(*i),
        // A uint that fits an int becomes an int; only larger ones stay uint64.
        Value::Number(Number::Uint(u)) => match i64::try_from(*u) {
            Ok(i) => GoVal::Int(i),
            Err(_) => GoVal::Uint(*u),
        },
        Value::Number(Number::Float(f)) => GoVal::Float(*f),
        Value::String(s) => GoVal::Str(s),
        Value::Bool(b) => GoVal::Bool(*b),
        Value::Array(a) => GoVal::Slice(a),
        Value::Object(o) => GoVal::Map(o),
        Value::Function(_) => GoVal::Func,
        Value::Capsule(Capsule::Secret(s)) => GoVal::Secret(s),
        Value::Capsule(Capsule::OptionalSecret { value, is_secret }) => {
            GoVal::OptSecret(*is_secret, value)
        }
        Value::Capsule(Capsule::Host(h)) => GoVal::Host(h.type_name()),
    }
}

/// Go's `reflect.Type.String()` for the value, as `%T` and the error markers print it.
fn type_name(g: GoVal<'_>) -> String {
    match g {
        GoVal::Nil => "<nil>".into(),
        GoVal::Int(_) => "int".into(),
        GoVal::Uint(_) => "uint64".into(),
        GoVal::Float(_) => "float64".into(),
        GoVal::Str(_) => "string".into(),
        GoVal::Bool(_) => "bool".into(),
        GoVal::Slice(_) => "[]interface {}".into(),
        GoVal::Map(_) => "map[string]interface {}".into(),
        GoVal::Secret(_) => "alloytypes.Secret".into(),
        GoVal::OptSecret(..) => "alloytypes.OptionalSecret".into(),
        GoVal::Func => "func()".into(),
        GoVal::Host(name) => name.to_string(),
    }
}

const LDIGITS: &[u8; 16] = b"0123456789abcdef";
const UDIGITS: &[u8; 16] = b"0123456789ABCDEF";

struct Printer<'a> {
    buf: String,
    f: Flags,
    args: &'a [Value],
    arg_num: usize,
    /// An explicit index was used; EXTRA is then not reported.
    reordered: bool,
    good_arg_num: bool,
    /// Output would pass [`MAX_OUTPUT`]; writing stops and the call fails.
    overflow: bool,
}

/// Go's `parsenum`: digits from `start` up to `end`. Returns `None` for no digits or a
/// number past [`MAX_NUM`] (then `newi` is `end`, as in Go).
fn parse_num(s: &[u8], start: usize, end: usize) -> (Option<usize>, usize) {
    if start >= end {
        return (None, end);
    }
    let mut num: i64 = 0;
    let mut is_num = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > MAX_NUM {
            return (None, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        is_num = true;
        i += 1;
    }
    (is_num.then_some(num as usize), i)
}

/// Go's `parseArgNumber` on `s` starting at `[`: (zero-based index, bytes consumed, ok).
fn parse_arg_number(s: &[u8]) -> (i64, usize, bool) {
    if s.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..s.len() {
        if s[i] == b']' {
            let (num, newi) = parse_num(s, 1, i);
            return match num {
                Some(n) if newi == i => (n as i64 - 1, i + 1, true),
                _ => (0, i + 1, false),
            };
        }
    }
    (0, 1, false)
}

impl<'a> Printer<'a> {
    fn do_printf(&mut self, format: &str) -> Result<(), String> {
        let s = format.as_bytes();
        let end = s.len();
        let mut i = 0;
        let mut after_index;
        'format_loop: while i < end {
            if self.overflow || self.buf.len() > MAX_OUTPUT {
                return Err(too_large());
            }
            self.good_arg_num = true;
            let last = i;
            while i < end && s[i] != b'%' {
                i += 1;
            }
            if i > last {
                self.buf.push_str(&format[last..i]);
            }
            if i >= end {
                break;
            }
            i += 1; // Skip the '%'.
            self.f = Flags::default();
            // Flags, and the fast path of a lower-case verb right after them.
            while i < end {
                let c = s[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && self.arg_num < self.args.len() {
                            if c == b'v' {
                                self.move_v_flags();
                            }
                            let arg = &self.args[self.arg_num];
                            self.print_arg(go_val(arg), char::from(c));
                            self.arg_num += 1;
                            i += 1;
                            continue 'format_loop;
                        }
                        break;
                    }
                }
                i += 1;
            }

            // Explicit argument index, then width.
            (i, after_index) = self.arg_number(s, i);
            if i < end && s[i] == b'*' {
                i += 1;
                let (num, ok) = self.int_from_arg();
                self.f.wid_present = ok;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if num < 0 {
                    // A negative width means left-justify.
                    self.f.wid = num.unsigned_abs() as usize;
                    self.f.minus = true;
                    self.f.zero = false;
                } else {
                    self.f.wid = num as usize;
                }
                after_index = false;
            } else {
                let (num, newi) = parse_num(s, i, end);
                i = newi;
                self.f.wid_present = num.is_some();
                self.f.wid = num.unwrap_or(0);
                if after_index && self.f.wid_present {
                    // "%[3]2d" is not allowed.
                    self.good_arg_num = false;
                }
            }

            // Precision.
            if i + 1 < end && s[i] == b'.' {
                i += 1;
                if after_index {
                    // "%[3].2d" is not allowed.
                    self.good_arg_num = false;
                }
                (i, after_index) = self.arg_number(s, i);
                if i < end && s[i] == b'*' {
                    i += 1;
                    let (num, ok) = self.int_from_arg();
                    self.f.prec_present = ok;
                    self.f.prec = num.max(0) as usize;
                    // A negative precision means none.
                    if num < 0 {
                        self.f.prec_present = false;
                    }
                    if !self.f.prec_present {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (num, newi) = parse_num(s, i, end);
                    i = newi;
                    // "%.d" means precision zero.
                    self.f.prec = num.unwrap_or(0);
                    self.f.prec_present = true;
                }
            }

            if !after_index {
                (i, after_index) = self.arg_number(s, i);
            }
            let _ = after_index;

            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }

            let verb = format[i..].chars().next().unwrap_or('%');
            i += verb.len_utf8();

            if verb == '%' {
                // A literal percent takes no operand and ignores width and precision.
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.bad_arg_num(verb);
            } else if self.arg_num >= self.args.len() {
                self.missing_arg(verb);
            } else {
                if verb == 'v' {
                    self.move_v_flags();
                }
                let arg = &self.args[self.arg_num];
                self.print_arg(go_val(arg), verb);
                self.arg_num += 1;
            }
        }

        // Unused arguments are reported unless indexes were used.
        if !self.reordered && self.arg_num < self.args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (n, arg) in self.args[self.arg_num..].iter().enumerate() {
                if n > 0 {
                    self.buf.push_str(", ");
                }
                let g = go_val(arg);
                if matches!(g, GoVal::Nil) {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&type_name(g));
                    self.buf.push('=');
                    self.print_arg(g, 'v');
                }
            }
            self.buf.push(')');
        }
        if self.overflow || self.buf.len() > MAX_OUTPUT {
            return Err(too_large());
        }
        Ok(())
    }

    /// Whether `n` more bytes fit under [`MAX_OUTPUT`]; records the overflow if not.
    fn room(&mut self, n: usize) -> bool {
        if self.overflow || self.buf.len().saturating_add(n) > MAX_OUTPUT {
            self.overflow = true;
            return false;
        }
        true
    }

    fn move_v_flags(&mut self) {
        self.f.sharp_v = self.f.sharp;
        self.f.sharp = false;
        self.f.plus_v = self.f.plus;
        self.f.plus = false;
    }

    /// Go's `argNumber`: an optional `[n]` at `i`. Returns the new position and
    /// whether an index was found.
    fn arg_number(&mut self, s: &[u8], i: usize) -> (usize, bool) {
        if i >= s.len() || s[i] != b'[' {
            return (i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&s[i..]);
        if ok && 0 <= index && (index as usize) < self.args.len() {
            self.arg_num = index as usize;
            return (i + wid, true);
        }
        self.good_arg_num = false;
        (i + wid, ok)
    }

    /// Go's `intFromArg`: the argument for a `*`, which must be an int within range.
    fn int_from_arg(&mut self) -> (i64, bool) {
        if self.arg_num >= self.args.len() {
            return (0, false);
        }
        let (mut num, mut ok) = match go_val(&self.args[self.arg_num]) {
            GoVal::Int(i) => (i, true),
            _ => (0, false),
        };
        self.arg_num += 1;
        if !(-MAX_NUM..=MAX_NUM).contains(&num) {
            num = 0;
            ok = false;
        }
        (num, ok)
    }

    fn bad_arg_num(&mut self, verb: char) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push_str("(BADINDEX)");
    }

    fn missing_arg(&mut self, verb: char) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push_str("(MISSING)");
    }

    /// `%!verb(type=value)`, printed with the verb's flags still in force, as Go does.
    fn bad_verb(&mut self, verb: char, g: GoVal<'_>) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if matches!(g, GoVal::Nil) {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(&type_name(g));
            self.buf.push('=');
            self.print_arg(g, 'v');
        }
        self.buf.push(')');
    }

    /// Go's `printArg` for a top-level argument.
    fn print_arg(&mut self, g: GoVal<'_>, verb: char) {
        if let GoVal::Nil = g {
            match verb {
                'T' | 'v' => self.pad_str("<nil>"),
                _ => self.bad_verb(verb, g),
            }
            return;
        }
        if verb == 'T' {
            let name = type_name(g);
            self.fmt_s(&name);
            return;
        }
        self.print_value(g, verb);
    }

    /// Go's `printValue`: scalars by kind, containers element by element.
    fn print_value(&mut self, g: GoVal<'_>, verb: char) {
        // Containers repeat widths per element; stop as soon as the output is too big.
        if self.overflow {
            return;
        }
        // Go checks `%w` before looking inside a value (`handleMethods`): outside
        // `fmt.Errorf` it is wrong for every non-nil value, containers included.
        if verb == 'w' && !matches!(g, GoVal::Nil) {
            self.bad_verb(verb, g);
            return;
        }
        match g {
            GoVal::Nil => {
                // Only reachable inside a container: a nil interface element.
                if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            GoVal::Bool(b) => self.fmt_bool(b, verb, g),
            GoVal::Int(i) => self.fmt_integer(i as u64, true, verb, g),
            GoVal::Uint(u) => self.fmt_integer(u, false, verb, g),
            GoVal::Float(v) => self.fmt_float_verb(v, verb, g),
            GoVal::Str(s) | GoVal::Secret(s) => self.fmt_string(s, verb, g),
            GoVal::OptSecret(is_secret, value) => {
                if self.f.sharp_v {
                    self.buf.push_str("alloytypes.OptionalSecret");
                }
                self.buf.push('{');
                if self.f.plus_v || self.f.sharp_v {
                    self.buf.push_str("IsSecret:");
                }
                self.print_value(GoVal::Bool(is_secret), verb);
                self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                if self.f.plus_v || self.f.sharp_v {
                    self.buf.push_str("Value:");
                }
                self.print_value(GoVal::Str(value), verb);
                self.buf.push('}');
            }
            GoVal::Slice(items) => {
                if self.f.sharp_v {
                    self.buf.push_str("[]interface {}{");
                    for (n, item) in items.iter().enumerate() {
                        if n > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(go_val(item), verb);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (n, item) in items.iter().enumerate() {
                        if n > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(go_val(item), verb);
                    }
                    self.buf.push(']');
                }
            }
            GoVal::Map(map) => {
                if self.f.sharp_v {
                    self.buf.push_str("map[string]interface {}{");
                } else {
                    self.buf.push_str("map[");
                }
                // BTreeMap iterates keys sorted, which is Go's fmtsort order for strings.
                for (n, (k, v)) in map.iter().enumerate() {
                    if n > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(GoVal::Str(k), verb);
                    self.buf.push(':');
                    self.print_value(go_val(v), verb);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            GoVal::Func => match verb {
                // Go prints a function's address; ours has none worth showing.
                'v' | 'p' => self.pad_str("0x0"),
                _ => self.bad_verb(verb, g),
            },
            GoVal::Host(name) => {
                let text = format!("capsule({name:?})");
                match verb {
                    'v' | 's' => self.pad_str(&text),
                    _ => self.bad_verb(verb, g),
                }
            }
        }
    }

    // ---- Padding (Go's fmt.writePadding, pad, padString) ----

    fn write_padding(&mut self, n: usize) {
        if !self.room(n) {
            return;
        }
        let pad = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(pad, n));
    }

    /// Pads `s` to the width, counted in characters, as Go counts runes.
    fn pad_str(&mut self, s: &str) {
        if !self.room(s.len()) {
            return;
        }
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    /// Pads with the zero flag off: Go does this for numbers whose zero padding was
    /// already handled as precision.
    fn pad_no_zero(&mut self, s: &str) {
        let old = self.f.zero;
        self.f.zero = false;
        self.pad_str(s);
        self.f.zero = old;
    }

    // ---- Booleans ----

    fn fmt_bool(&mut self, b: bool, verb: char, g: GoVal<'_>) {
        match verb {
            't' | 'v' => self.pad_str(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb, g),
        }
    }

    // ---- Integers ----

    fn fmt_integer(&mut self, u: u64, signed: bool, verb: char, g: GoVal<'_>) {
        match verb {
            'v' => {
                if self.f.sharp_v && !signed {
                    // %#v of a uint64 is Go syntax: 0x-prefixed hex.
                    let sharp = self.f.sharp;
                    self.f.sharp = true;
                    self.fmt_int(u, 16, signed, verb, LDIGITS);
                    self.f.sharp = sharp;
                } else {
                    self.fmt_int(u, 10, signed, verb, LDIGITS);
                }
            }
            'd' => self.fmt_int(u, 10, signed, verb, LDIGITS),
            'b' => self.fmt_int(u, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_int(u, 8, signed, verb, LDIGITS),
            'x' => self.fmt_int(u, 16, signed, verb, LDIGITS),
            'X' => self.fmt_int(u, 16, signed, verb, UDIGITS),
            'c' => {
                let c = rune_or_replacement(u);
                self.pad_str(c.encode_utf8(&mut [0; 4]));
            }
            'q' => {
                let c = rune_or_replacement(u);
                let quoted = quote_rune(c, self.f.plus);
                self.pad_str(&quoted);
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, g),
        }
    }

    /// Go's `fmt.fmtInteger`.
    fn fmt_int(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 16]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative { u.wrapping_neg() } else { u };

        // Two ways to ask for leading zeros: %.3d or %03d. With both, the zero flag is
        // ignored and spaces pad.
        let mut prec: usize = 0;
        if self.f.prec_present {
            prec = self.f.prec;
            // Precision 0 and value 0 print nothing but padding.
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1); // Leave room for the sign.
            }
        }

        // Digits are produced least significant first, then reversed.
        let mut rev: Vec<u8> = Vec::with_capacity(prec.max(24));
        if u == 0 {
            rev.push(b'0');
        }
        while u > 0 {
            rev.push(digits[(u % base) as usize]);
            u /= base;
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(digits[10] + (b'x' - b'a'));
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let text = String::from_utf8(rev).unwrap_or_default();
        self.pad_no_zero(&text);
    }

    /// Go's `fmt.fmtUnicode`: `U+0041`, or `U+0041 'A'` with `#`.
    fn fmt_unicode(&mut self, u: u64) {
        let mut prec = 4;
        if self.f.prec_present && self.f.prec > 4 {
            prec = self.f.prec;
        }
        let mut hex = format!("{u:X}");
        if hex.len() < prec {
            hex = "0".repeat(prec - hex.len()) + &hex;
        }
        let mut text = format!("U+{hex}");
        if self.f.sharp {
            if let Some(c) = u32::try_from(u).ok().and_then(char::from_u32) {
                if is_print(c) {
                    text.push_str(" '");
                    text.push(c);
                    text.push('\'');
                }
            }
        }
        self.pad_no_zero(&text);
    }

    // ---- Floats ----

    fn fmt_float_verb(&mut self, v: f64, verb: char, g: GoVal<'_>) {
        match verb {
            'v' => self.fmt_float(v, 'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(v, verb, -1),
            'f' | 'e' | 'E' => self.fmt_float(v, verb, 6),
            'F' => self.fmt_float(v, 'f', 6),
            _ => self.bad_verb(verb, g),
        }
    }

    /// Go's `fmt.fmtFloat`: sign handling, `#`, and zero padding after the sign.
    fn fmt_float(&mut self, v: f64, verb: char, default_prec: i64) {
        let prec = if self.f.prec_present {
            self.f.prec as i64
        } else {
            default_prec
        };
        let formatted = format_float(v, verb, prec);
        // `num` always starts with a sign, as in Go.
        let mut num: Vec<u8> = if formatted.starts_with('-') || formatted.starts_with('+') {
            formatted.into_bytes()
        } else {
            let mut n = Vec::with_capacity(formatted.len() + 1);
            n.push(b'+');
            n.extend_from_slice(formatted.as_bytes());
            n
        };
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        // Infinities and NaN are not padded with zeros.
        if num.get(1) == Some(&b'I') || num.get(1) == Some(&b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            let text = String::from_utf8(num).unwrap_or_default();
            self.pad_str(&text);
            self.f.zero = old;
            return;
        }
        // `#` keeps the decimal point, and for %g keeps trailing zeros.
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = 0;
            if matches!(verb, 'v' | 'g' | 'G' | 'x') {
                digits = if prec == -1 { 6 } else { prec };
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        if self.f.plus || num[0] != b'+' {
            // With zero padding the sign goes before the zeros.
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() {
                self.buf.push(char::from(num[0]));
                let width = self.f.wid - num.len();
                self.write_padding(width);
                self.buf
                    .push_str(std::str::from_utf8(&num[1..]).unwrap_or_default());
                return;
            }
            let text = String::from_utf8(num).unwrap_or_default();
            self.pad_str(&text);
            return;
        }
        let text = std::str::from_utf8(&num[1..])
            .unwrap_or_default()
            .to_string();
        self.pad_str(&text);
    }

    // ---- Strings ----

    fn fmt_string(&mut self, s: &str, verb: char, g: GoVal<'_>) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s);
                } else {
                    self.fmt_s(s);
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, g),
        }
    }

    /// The precision truncates a string to that many characters.
    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present {
            if let Some((idx, _)) = s.char_indices().nth(self.f.prec) {
                return &s[..idx];
            }
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad_str(s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let text = format!("`{s}`");
            self.pad_str(&text);
            return;
        }
        let quoted = quote(s, '"', self.f.plus);
        self.pad_str(&quoted);
    }

    /// Go's `fmt.fmtSbx` for strings: hex of each byte, `#` adds 0x, space separates.
    fn fmt_sx(&mut self, s: &str, digits: &[u8; 16]) {
        let b = s.as_bytes();
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        let x = char::from(digits[10] + (b'x' - b'a'));
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(x);
        }
        for (i, &c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(x);
                }
            }
            self.buf.push(char::from(digits[usize::from(c >> 4)]));
            self.buf.push(char::from(digits[usize::from(c & 0xF)]));
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }
}

fn too_large() -> String {
    format!("string.format: result larger than {MAX_OUTPUT} bytes")
}

/// Go turns integers that are not valid code points into U+FFFD for %c and %q.
fn rune_or_replacement(u: u64) -> char {
    u32::try_from(u)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

// ---- strconv: quoting ----

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the
/// ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !matches!(
        get_general_category(c),
        G::Control
            | G::Format
            | G::Surrogate
            | G::PrivateUse
            | G::Unassigned
            | G::SpaceSeparator
            | G::LineSeparator
            | G::ParagraphSeparator
    )
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        if c == '\u{feff}' {
            return false;
        }
        !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}')
    })
}

/// Go's `strconv.Quote` (or `QuoteToASCII` when `ascii_only`), with `quote` as the
/// delimiter. Our strings are valid UTF-8, so no `\x` escapes of stray bytes arise.
pub(crate) fn quote(s: &str, quote: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        escape_rune(&mut out, c, quote, ascii_only);
    }
    out.push(quote);
    out
}

/// Go's `strconv.Quote` of bytes that may not be UTF-8: bytes that do not start a
/// valid character are written as `\xNN`.
pub(crate) fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::from('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            escape_rune(&mut out, c, '"', false);
        }
        for &byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out.push('"');
    out
}

fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from('\'');
    escape_rune(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

fn escape_rune(out: &mut String, c: char, quote: char, ascii_only: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    let printable = if ascii_only {
        c.is_ascii() && is_print(c)
    } else {
        is_print(c)
    };
    if printable {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if c < ' ' || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

// ---- strconv: FormatFloat ----

/// Decimal digits of |v| with the decimal point after `dp` digits. Zero has no digits.
struct Digits {
    d: Vec<u8>,
    dp: i64,
}

/// Parses Rust's `{:e}` output (`d.ddde±x`) into digits, trimming trailing zeros as
/// Go's decimal conversion does.
fn digits_from_exp(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`; a negative `prec` asks for the
/// shortest representation that reads back as `v`.
pub(crate) fn format_float(v: f64, fmt: char, prec: i64) -> String {
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let raw_exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if raw_exp == 0x7ff {
        return if mant != 0 {
            "NaN".into()
        } else if neg {
            "-Inf".into()
        } else {
            "+Inf".into()
        };
    }
    let mut exp = raw_exp;
    if raw_exp == 0 {
        exp += 1; // Denormal.
    } else {
        mant |= 1 << 52;
    }
    exp -= 1023;
    match fmt {
        'b' => return fmt_b(neg, mant, exp),
        'x' | 'X' => return fmt_x(prec, fmt, neg, mant, exp),
        _ => {}
    }

    let abs = v.abs();
    let shortest = prec < 0;
    let mut prec = prec;
    let digs = if shortest {
        let digs = shortest_digits(abs);
        let nd = digs.d.len() as i64;
        prec = match fmt {
            'e' | 'E' => (nd - 1).max(0),
            'f' => (nd - digs.dp).max(0),
            _ => nd,
        };
        digs
    } else {
        match fmt {
            'f' => {
                // Fixed decimals: Rust's exact formatting rounds as Go's does.
                let p = prec as usize;
                let mut s = format!("{:.*}", p.min(MAX_FRAC_DIGITS), abs);
                if p > MAX_FRAC_DIGITS {
                    if !s.contains('.') {
                        s.push('.');
                    }
                    s.extend(std::iter::repeat_n('0', p - MAX_FRAC_DIGITS));
                }
                return if neg { format!("-{s}") } else { s };
            }
            'g' | 'G' => {
                if prec == 0 {
                    prec = 1;
                }
                sig_digits(abs, prec as usize)
            }
            _ => sig_digits(abs, prec as usize + 1),
        }
    };
    format_digits(neg, &digs, prec, fmt, shortest)
}

/// The shortest digits that read back as `abs`. When two such strings are equally
/// close to the exact value, Go takes the one ending in an even digit; Rust's
/// formatter may take the other, so exact ties are detected and settled Go's way.
fn shortest_digits(abs: f64) -> Digits {
    let digs = digits_from_exp(&format!("{abs:e}"));
    let n = digs.d.len();
    if n == 0 || digs.d[n - 1] & 1 == 0 {
        return digs;
    }
    // A tie means the exact value has exactly n+1 significant digits, the last a 5.
    let next = digits_from_exp(&format!("{:.*e}", n, abs));
    if next.d.len() != n + 1 || next.d[n] != b'5' {
        return digs;
    }
    let exact = digits_from_exp(&format!("{:.*e}", MAX_SIG_DIGITS, abs));
    if exact.d.len() != n + 1 || exact.d[n] != b'5' || exact.dp != digs.dp {
        return digs;
    }
    // The two candidates are the exact digits truncated, and that plus one unit.
    let low = Digits {
        d: exact.d[..n].to_vec(),
        dp: exact.dp,
    };
    let high = increment(&low);
    for cand in [low, high] {
        let even = cand.d.last().is_some_and(|d| d & 1 == 0);
        if even && digits_to_f64(&cand) == Some(abs) {
            let mut cand = cand;
            while cand.d.last() == Some(&b'0') {
                cand.d.pop();
            }
            return cand;
        }
    }
    digs
}

/// The digits plus one unit in the last place.
fn increment(d: &Digits) -> Digits {
    let mut out = d.d.clone();
    let mut dp = d.dp;
    let mut i = out.len();
    loop {
        if i == 0 {
            out.insert(0, b'1');
            out.pop();
            dp += 1;
            break;
        }
        i -= 1;
        if out[i] == b'9' {
            out[i] = b'0';
        } else {
            out[i] += 1;
            break;
        }
    }
    Digits { d: out, dp }
}

fn digits_to_f64(d: &Digits) -> Option<f64> {
    let text = format!("0.{}e{}", std::str::from_utf8(&d.d).ok()?, d.dp);
    text.parse().ok()
}

/// |v| rounded to `n` significant digits.
fn sig_digits(abs: f64, n: usize) -> Digits {
    let n = n.clamp(1, MAX_SIG_DIGITS);
    digits_from_exp(&format!("{:.*e}", n - 1, abs))
}

fn format_digits(neg: bool, digs: &Digits, prec: i64, fmt: char, shortest: bool) -> String {
    match fmt {
        'e' | 'E' => fmt_e(neg, digs, prec, fmt),
        'f' => fmt_f(neg, digs, prec),
        'g' | 'G' => {
            let nd = digs.d.len() as i64;
            let mut eprec = prec;
            if eprec > nd && nd >= digs.dp {
                eprec = nd;
            }
            // Shortest output switches to %e at the same point as precision 6.
            if shortest {
                eprec = 6;
            }
            let exp = digs.dp - 1;
            let e = if fmt == 'g' { 'e' } else { 'E' };
            if exp < -4 || exp >= eprec {
                let p = prec.min(nd);
                return fmt_e(neg, digs, p - 1, e);
            }
            let p = if prec > digs.dp { nd } else { prec };
            fmt_f(neg, digs, (p - digs.dp).max(0))
        }
        _ => format!("%{fmt}"),
    }
}

/// `-d.ddde±dd`.
fn fmt_e(neg: bool, digs: &Digits, prec: i64, fmt: char) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let nd = digs.d.len();
    out.push(char::from(digs.d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        out.push('.');
        let prec = prec as usize;
        let m = nd.min(prec + 1);
        let mut i = 1;
        if i < m {
            out.push_str(std::str::from_utf8(&digs.d[i..m]).unwrap_or_default());
            i = m;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(fmt);
    let exp = if nd == 0 { 0 } else { digs.dp - 1 };
    push_exponent(&mut out, exp);
    out
}

/// `-ddd.ddd`.
fn fmt_f(neg: bool, digs: &Digits, prec: i64) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let nd = digs.d.len() as i64;
    if digs.dp > 0 {
        let m = nd.min(digs.dp);
        out.push_str(std::str::from_utf8(&digs.d[..m as usize]).unwrap_or_default());
        for _ in m..digs.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = digs.dp + i - 1;
            let c = if (0..nd).contains(&j) {
                digs.d[j as usize]
            } else {
                b'0'
            };
            out.push(char::from(c));
        }
    }
    out
}

/// `%b`: `-mantissa p ±exponent`, both decimal.
fn fmt_b(neg: bool, mant: u64, exp: i64) -> String {
    let exp = exp - 52;
    let sign = if neg { "-" } else { "" };
    let esign = if exp >= 0 { "+" } else { "" };
    format!("{sign}{mant}p{esign}{exp}")
}

/// `%x`: `-0x1.hhhhp±dd`, Go's hexadecimal float form.
fn fmt_x(prec: i64, fmt: char, neg: bool, mut mant: u64, mut exp: i64) -> String {
    if mant == 0 {
        exp = 0;
    }
    // Put the leading 1 (if any) at bit 60.
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex = if fmt == 'X' { UDIGITS } else { LDIGITS };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push('0');
    out.push(fmt);
    out.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    }
    out.push(if fmt == 'X' { 'P' } else { 'p' });
    push_exponent(&mut out, exp);
    out
}

/// A signed exponent of at least two digits, as Go writes `e+07` and `p-10`.
fn push_exponent(out: &mut String, exp: i64) {
    let sign = if exp < 0 { '-' } else { '+' };
    out.push(sign);
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    let _ = write!(out, "{exp}");
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;

    fn f(format: &str, args: &[Value]) -> String {
        sprintf(format, args).expect("small output")
    }

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    #[test]
    fn basic_verbs() {
        assert_eq!(
            f(
                "%s-%d-%.2f-%t-%v-%5s|%-3d|",
                &[
                    s("a"),
                    Value::int(7),
                    Value::float(3.14259),
                    Value::Bool(true),
                    Value::array(vec![Value::int(1), Value::int(2)]),
                    s("x"),
                    Value::int(1)
                ]
            ),
            "a-7-3.14-true-[1 2]-    x|1  |"
        );
        assert_eq!(f("%05.2f", &[Value::float(3.14259)]), "03.14");
        assert_eq!(
            f(
                "%x %X %o %b",
                &[
                    Value::int(255),
                    Value::int(255),
                    Value::int(8),
                    Value::int(5)
                ]
            ),
            "ff FF 10 101"
        );
        assert_eq!(f("%q", &[s("a\"b")]), "\"a\\\"b\"");
        assert_eq!(f("%[2]s %[1]s", &[s("a"), s("b")]), "b a");
        assert_eq!(f("100%%", &[]), "100%");
    }

    #[test]
    fn error_markers() {
        assert_eq!(f("%d", &[Value::float(1.5)]), "%!d(float64=1.5)");
        assert_eq!(
            f("%v %d", &[Value::float(3.0), Value::float(3.0)]),
            "3 %!d(float64=3)"
        );
        assert_eq!(f("%s", &[Value::int(1)]), "%!s(int=1)");
        assert_eq!(f("%s %s", &[s("a")]), "a %!s(MISSING)");
        assert_eq!(f("x", &[Value::int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(
            f("x", &[Value::int(1), s("a"), Value::Null]),
            "x%!(EXTRA int=1, string=a, <nil>)"
        );
        assert_eq!(f("%d", &[Value::Null]), "%!d(<nil>)");
        assert_eq!(f("%v", &[Value::Null]), "<nil>");
        assert_eq!(f("%", &[]), "%!(NOVERB)");
        assert_eq!(f("%[3]d", &[Value::int(1)]), "%!d(BADINDEX)");
        assert_eq!(f("%*d", &[s("a"), Value::int(1)]), "%!(BADWIDTH)1");
        assert_eq!(f("%.*d", &[s("a"), Value::int(1)]), "%!(BADPREC)1");
        assert_eq!(f("%!", &[]), "%!!(MISSING)");
        // Flags stay in force inside the marker.
        assert_eq!(f("%05.1f", &[Value::int(255)]), "%!f(int=  255)");
        assert_eq!(f("%t", &[Value::int(-3)]), "%!t(int=-3)");
        assert_eq!(
            f("%q", &[Value::float(18446744073709551615.0 / 1e3)]),
            "%!q(float64=1.844674407370955e+16)"
        );
    }

    #[test]
    fn integers() {
        assert_eq!(f("%x", &[Value::int(-4)]), "-4");
        assert_eq!(
            f(
                "%#x %#o %#b",
                &[Value::int(255), Value::int(8), Value::int(5)]
            ),
            "0xff 010 0b101"
        );
        assert_eq!(f("%O", &[Value::int(8)]), "0o10");
        assert_eq!(f("%+d % d", &[Value::int(5), Value::int(5)]), "+5  5");
        assert_eq!(
            f(
                "%06d|%-6d|%6d",
                &[Value::int(-42), Value::int(42), Value::int(42)]
            ),
            "-00042|42    |    42"
        );
        assert_eq!(
            f(
                "%.3d|%6.3d|%06.3d",
                &[Value::int(7), Value::int(7), Value::int(7)]
            ),
            "007|   007|   007"
        );
        assert_eq!(f("%.0d|%3.0d|", &[Value::int(0), Value::int(0)]), "|   |");
        assert_eq!(f("%c%c", &[Value::int(65), Value::int(0x1F600)]), "A😀");
        assert_eq!(f("%q", &[Value::int(-3)]), "'\u{fffd}'");
        assert_eq!(
            f("%q %+q", &[Value::int(0x263A), Value::int(0x263A)]),
            "'☺' '\\u263a'"
        );
        assert_eq!(
            f("%U %#U", &[Value::int(0x1F600), Value::int(65)]),
            "U+1F600 U+0041 'A'"
        );
        assert_eq!(f("%v", &[Value::uint(u64::MAX)]), "18446744073709551615");
        assert_eq!(f("%#v", &[Value::uint(u64::MAX)]), "0xffffffffffffffff");
        assert_eq!(
            f("%T %T", &[Value::uint(u64::MAX), Value::uint(3)]),
            "uint64 int"
        );
        assert_eq!(f("%d", &[Value::int(i64::MIN)]), "-9223372036854775808");
        assert_eq!(
            f(
                "%*d|%-*d",
                &[Value::int(4), Value::int(1), Value::int(-4), Value::int(1)]
            )
            .as_str(),
            "   1|1   "
        );
    }

    #[test]
    fn floats() {
        assert_eq!(f("%v", &[Value::float(1e6)]), "1e+06");
        assert_eq!(f("%v", &[Value::float(123456.0)]), "123456");
        assert_eq!(f("%v", &[Value::float(0.0001)]), "0.0001");
        assert_eq!(f("%v", &[Value::float(0.00001)]), "1e-05");
        assert_eq!(f("%v", &[Value::float(-0.0)]), "-0");
        assert_eq!(f("%e", &[Value::float(1234.5678)]), "1.234568e+03");
        assert_eq!(f("%E", &[Value::float(0.0)]), "0.000000E+00");
        assert_eq!(f("%.3g", &[Value::float(1234.0)]), "1.23e+03");
        assert_eq!(f("%.3g", &[Value::float(100.0)]), "100");
        assert_eq!(f("%.3g", &[Value::float(1.0)]), "1");
        assert_eq!(f("%g", &[Value::float(1e21)]), "1e+21");
        assert_eq!(f("%G", &[Value::float(1e-7)]), "1E-07");
        assert_eq!(
            f("%f", &[Value::float(1e21)]),
            "1000000000000000000000.000000"
        );
        assert_eq!(
            f(
                "%.1f %.0f %.0f",
                &[Value::float(0.25), Value::float(0.5), Value::float(1.5)]
            ),
            "0.2 0 2"
        );
        assert_eq!(f("%05.1f", &[Value::float(-0.5)]), "-00.5");
        assert_eq!(
            f(
                "%+.2f|% .2f|%8.2f|%-8.2f|",
                &[
                    Value::float(1.0),
                    Value::float(1.0),
                    Value::float(-1.0),
                    Value::float(1.0)
                ]
            ),
            "+1.00| 1.00|   -1.00|1.00    |"
        );
        assert_eq!(
            f(
                "%#g %#.3g %#.0f %#e",
                &[
                    Value::float(1.0),
                    Value::float(1.0),
                    Value::float(2.0),
                    Value::float(1.0)
                ]
            ),
            "1.00000 1.00 2. 1.000000e+00"
        );
        assert_eq!(f("%b", &[Value::float(1.0)]), "4503599627370496p-52");
        assert_eq!(
            f("%x %X", &[Value::float(1.0), Value::float(-3.5)]),
            "0x1p+00 -0X1.CP+01"
        );
        assert_eq!(
            f("%.1x %.1x", &[Value::float(1.9375), Value::float(1.96875)]),
            "0x1.fp+00 0x1.0p+01"
        );
        assert_eq!(f("%.3f", &[Value::float(f64::INFINITY)]), "+Inf");
        assert_eq!(
            f(
                "%05f|%+f|%f",
                &[
                    Value::float(f64::NEG_INFINITY),
                    Value::float(f64::INFINITY),
                    Value::float(f64::NAN)
                ]
            ),
            " -Inf|+Inf|NaN"
        );
        assert_eq!(f("%.2f", &[Value::float(-0.001)]), "-0.00");
        assert_eq!(f("%.1000000f", &[Value::float(1.0)]).len(), 1_000_002);
        assert_eq!(f("%v", &[Value::float(5e-324)]), "5e-324");
        // An exact tie between two shortest forms goes to the even digit, as in Go.
        assert_eq!(
            f("%v", &[Value::float(702_430_699_988_740.2)]),
            "7.024306999887402e+14"
        );
        assert_eq!(
            f("%.20e", &[Value::float(0.1)]),
            "1.00000000000000005551e-01"
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            f("%x % X %#x", &[s("hi"), s("hi"), s("hi")]),
            "6869 68 69 0x6869"
        );
        assert_eq!(
            f("%.2s|%5.1s|%-4s|", &[s("héllo"), s("héllo"), s("é")]),
            "hé|    h|é   |"
        );
        assert_eq!(f("%05s", &[s("ab")]), "000ab");
        assert_eq!(f("%#q %#q", &[s("a\"b"), s("a`b")]), "`a\"b` \"a`b\"");
        assert_eq!(
            f("%q", &[s("\u{0}\t\u{7f}é\u{a0}")]),
            "\"\\x00\\t\\x7fé\\u00a0\""
        );
        assert_eq!(f("%+q", &[s("é😀")]), "\"\\u00e9\\U0001f600\"");
        assert_eq!(f("%#v", &[s("a")]), "\"a\"");
        assert_eq!(f("%T", &[s("a")]), "string");
    }

    #[test]
    fn containers() {
        let arr = Value::array(vec![Value::int(1), s("a"), Value::Null, Value::Bool(true)]);
        assert_eq!(f("%v", &[arr.clone()]), "[1 a <nil> true]");
        assert_eq!(
            f("%#v", &[arr.clone()]),
            "[]interface {}{1, \"a\", interface {}(nil), true}"
        );
        assert_eq!(
            f("%d", &[arr.clone()]),
            "[1 %!d(string=a) <nil> %!d(bool=true)]"
        );
        assert_eq!(f("%T", &[arr]), "[]interface {}");
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), Value::int(2));
        m.insert("a".to_string(), s("x"));
        let obj = Value::object(m);
        assert_eq!(f("%v", &[obj.clone()]), "map[a:x b:2]");
        assert_eq!(
            f("%#v", &[obj.clone()]),
            "map[string]interface {}{\"a\":\"x\", \"b\":2}"
        );
        assert_eq!(f("%q", &[obj]), "map[\"a\":\"x\" \"b\":'\\x02']");
    }

    #[test]
    fn secrets() {
        let secret = Value::Capsule(Capsule::Secret("foo".into()));
        let opt = Value::Capsule(Capsule::OptionalSecret {
            value: "bar".into(),
            is_secret: false,
        });
        assert_eq!(
            f("%v %s %d", &[secret.clone(), secret.clone(), secret]),
            "foo foo %!d(alloytypes.Secret=foo)"
        );
        assert_eq!(
            f("%v %+v", &[opt.clone(), opt.clone()]),
            "{false bar} {IsSecret:false Value:bar}"
        );
        assert_eq!(
            f("%#v", &[opt]),
            "alloytypes.OptionalSecret{IsSecret:false, Value:\"bar\"}"
        );
    }

    #[test]
    fn malformed_and_huge() {
        assert_eq!(f("%[x]d", &[Value::int(1)]), "%!d(BADINDEX)");
        assert_eq!(f("%[1]", &[Value::int(1)]), "%!(NOVERB)");
        assert_eq!(
            f("%[2]d %d", &[Value::int(1), Value::int(2)]),
            "2 %!d(MISSING)"
        );
        assert_eq!(f("%[1]d %[1]d", &[Value::int(1), Value::int(2)]), "1 1");
        assert_eq!(
            f("%99999999999999999999d", &[Value::int(1)]),
            "%!(NOVERB)%!(EXTRA int=1)"
        );
        assert_eq!(f("%-", &[]), "%!(NOVERB)");
        assert_eq!(f("%é", &[Value::int(1)]), "%!é(int=1)");
        let nested = Value::array(vec![
            Value::int(1),
            Value::Null,
            Value::array(vec![Value::int(2)]),
        ]);
        assert_eq!(
            f(
                "%w|%5w|%w",
                &[nested, Value::array(vec![s("x")]), Value::Null]
            ),
            "%!w([]interface {}=[1 <nil> [2]])|%!w([]interface {}=[    x])|%!w(<nil>)"
        );
        let big = "%999999d".repeat(100);
        assert!(sprintf(&big, &vec![Value::int(1); 100]).is_err());
        let wide = Value::array(vec![Value::int(1); 1000]);
        assert!(sprintf("%999999v", &[wide]).is_err());
    }
}
