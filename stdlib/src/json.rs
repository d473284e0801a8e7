//! A JSON reader that behaves like Go's `encoding/json` decoding into `interface{}`:
//! the same accepted syntax, the same error texts (its scanner's `invalid character
//! 'x' after array element`, `unexpected end of JSON input`, ...), lone surrogate
//! escapes turned into U+FFFD, and the last of duplicate keys winning.
//!
//! Checking runs first, byte by byte as Go's scanner does, so the error is the one Go
//! reports; building the value then runs on input known to be valid.

use std::collections::BTreeMap;

use alloy_syntax::value::Value;

/// Go stops at 10000 levels. Values nested this deep are walked recursively elsewhere
/// (rendering, equality, dropping), so we stop far earlier, with Go's message.
const MAX_DEPTH: usize = 1000;

/// Parses `text`. With `all_floats` every number is a float, as Go's `encoding/json`
/// gives; otherwise integers stay integers (what `json_path`'s ojg parser does).
pub(crate) fn parse(text: &str, all_floats: bool) -> Result<Value, String> {
    check(text.as_bytes())?;
    Builder {
        s: text.as_bytes(),
        text,
        i: 0,
        all_floats,
    }
    .build()
}

// ---- Checking, in the manner of Go's scanner ----

#[derive(Clone, Copy, PartialEq)]
enum Frame {
    ObjectKey,
    ObjectValue,
    ArrayValue,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    BeginValue,
    BeginValueOrEmpty,
    BeginStringOrEmpty,
    BeginString,
    EndValue,
    EndTop,
    InString,
    InStringEsc,
    /// Inside `\u`, with this many hex digits read.
    InStringEscU(u8),
    Neg,
    One,
    Zero,
    Dot,
    Dot0,
    E,
    ESign,
    E0,
    /// Inside a literal: the remaining bytes expected and the literal's name.
    Literal(&'static [u8], &'static str),
}

struct Scanner {
    state: State,
    frames: Vec<Frame>,
    end_top: bool,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `quoteChar`: the byte as a rune, quoted with single quotes.
fn quote_byte(c: u8) -> String {
    match c {
        b'\'' => r"'\''".into(),
        b'"' => "'\"'".into(),
        c => {
            let q = crate::string::format::quote(&char::from(c).to_string(), '"', false);
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_byte(c))
}

impl Scanner {
    fn push(&mut self, frame: Frame, next: State) -> Result<(), String> {
        if self.frames.len() >= MAX_DEPTH {
            return Err("exceeded max depth".into());
        }
        self.frames.push(frame);
        self.state = next;
        Ok(())
    }

    fn pop(&mut self) {
        self.frames.pop();
        if self.frames.is_empty() {
            self.state = State::EndTop;
            self.end_top = true;
        } else {
            self.state = State::EndValue;
        }
    }

    fn step(&mut self, c: u8) -> Result<(), String> {
        use State::*;
        match self.state {
            BeginValueOrEmpty if c == b']' => self.end_value(c),
            BeginValueOrEmpty | BeginValue => self.begin_value(c),
            BeginStringOrEmpty if c == b'}' => {
                if let Some(top) = self.frames.last_mut() {
                    *top = Frame::ObjectValue;
                }
                self.end_value(c)
            }
            BeginStringOrEmpty | BeginString => {
                if is_space(c) {
                    Ok(())
                } else if c == b'"' {
                    self.state = InString;
                    Ok(())
                } else {
                    Err(invalid(c, "looking for beginning of object key string"))
                }
            }
            EndValue => self.end_value(c),
            EndTop => {
                if is_space(c) {
                    Ok(())
                } else {
                    Err(invalid(c, "after top-level value"))
                }
            }
            InString => {
                match c {
                    b'"' => self.state = EndValue,
                    b'\\' => self.state = InStringEsc,
                    c if c < 0x20 => return Err(invalid(c, "in string literal")),
                    _ => {}
                }
                Ok(())
            }
            InStringEsc => match c {
                b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {
                    self.state = InString;
                    Ok(())
                }
                b'u' => {
                    self.state = InStringEscU(0);
                    Ok(())
                }
                c => Err(invalid(c, "in string escape code")),
            },
            InStringEscU(n) => {
                if !c.is_ascii_hexdigit() {
                    return Err(invalid(c, "in \\u hexadecimal character escape"));
                }
                self.state = if n == 3 {
                    InString
                } else {
                    InStringEscU(n + 1)
                };
                Ok(())
            }
            Neg => match c {
                b'0' => {
                    self.state = Zero;
                    Ok(())
                }
                b'1'..=b'9' => {
                    self.state = One;
                    Ok(())
                }
                c => Err(invalid(c, "in numeric literal")),
            },
            One if c.is_ascii_digit() => Ok(()),
            One | Zero => match c {
                b'.' => {
                    self.state = Dot;
                    Ok(())
                }
                b'e' | b'E' => {
                    self.state = E;
                    Ok(())
                }
                c => self.end_value(c),
            },
            Dot => {
                if c.is_ascii_digit() {
                    self.state = Dot0;
                    Ok(())
                } else {
                    Err(invalid(c, "after decimal point in numeric literal"))
                }
            }
            Dot0 => match c {
                b'0'..=b'9' => Ok(()),
                b'e' | b'E' => {
                    self.state = E;
                    Ok(())
                }
                c => self.end_value(c),
            },
            E if c == b'+' || c == b'-' => {
                self.state = ESign;
                Ok(())
            }
            E | ESign => {
                if c.is_ascii_digit() {
                    self.state = E0;
                    Ok(())
                } else {
                    Err(invalid(c, "in exponent of numeric literal"))
                }
            }
            E0 => {
                if c.is_ascii_digit() {
                    Ok(())
                } else {
                    self.end_value(c)
                }
            }
            Literal(rest, name) => {
                if c != rest[0] {
                    let context = format!("in literal {name} (expecting {})", quote_byte(rest[0]));
                    return Err(invalid(c, &context));
                }
                self.state = if rest.len() == 1 {
                    EndValue
                } else {
                    Literal(&rest[1..], name)
                };
                Ok(())
            }
        }
    }

    fn begin_value(&mut self, c: u8) -> Result<(), String> {
        use State::*;
        match c {
            c if is_space(c) => return Ok(()),
            b'{' => return self.push(Frame::ObjectKey, BeginStringOrEmpty),
            b'[' => return self.push(Frame::ArrayValue, BeginValueOrEmpty),
            b'"' => self.state = InString,
            b'-' => self.state = Neg,
            b'0' => self.state = Zero,
            b'1'..=b'9' => self.state = One,
            b't' => self.state = Literal(b"rue", "true"),
            b'f' => self.state = Literal(b"alse", "false"),
            b'n' => self.state = Literal(b"ull", "null"),
            c => return Err(invalid(c, "looking for beginning of value")),
        }
        Ok(())
    }

    fn end_value(&mut self, c: u8) -> Result<(), String> {
        let Some(&top) = self.frames.last() else {
            // The top-level value ended before this byte.
            self.state = State::EndTop;
            self.end_top = true;
            return self.step(c);
        };
        if is_space(c) {
            self.state = State::EndValue;
            return Ok(());
        }
        match top {
            Frame::ObjectKey => {
                if c == b':' {
                    if let Some(f) = self.frames.last_mut() {
                        *f = Frame::ObjectValue;
                    }
                    self.state = State::BeginValue;
                    Ok(())
                } else {
                    Err(invalid(c, "after object key"))
                }
            }
            Frame::ObjectValue => match c {
                b',' => {
                    if let Some(f) = self.frames.last_mut() {
                        *f = Frame::ObjectKey;
                    }
                    self.state = State::BeginString;
                    Ok(())
                }
                b'}' => {
                    self.pop();
                    Ok(())
                }
                c => Err(invalid(c, "after object key:value pair")),
            },
            Frame::ArrayValue => match c {
                b',' => {
                    self.state = State::BeginValue;
                    Ok(())
                }
                b']' => {
                    self.pop();
                    Ok(())
                }
                c => Err(invalid(c, "after array element")),
            },
        }
    }
}

/// Go's `checkValid`: every byte, then a space standing for the end of input.
fn check(s: &[u8]) -> Result<(), String> {
    let mut scanner = Scanner {
        state: State::BeginValue,
        frames: Vec::new(),
        end_top: false,
    };
    for &c in s {
        scanner.step(c)?;
    }
    if scanner.end_top {
        return Ok(());
    }
    scanner.step(b' ')?;
    if scanner.end_top {
        Ok(())
    } else {
        Err("unexpected end of JSON input".into())
    }
}

// ---- Building values from checked input ----

struct Builder<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    all_floats: bool,
}

/// A container being filled, with the key its value will be stored under.
enum Open {
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>, Option<String>),
}

impl Builder<'_> {
    fn skip_space(&mut self) {
        while self.i < self.s.len() && is_space(self.s[self.i]) {
            self.i += 1;
        }
    }

    /// Iterative, so nesting depth costs heap rather than stack.
    fn build(mut self) -> Result<Value, String> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            self.skip_space();
            // Object keys come first inside objects.
            if let Some(Open::Object(_, key @ None)) = stack.last_mut() {
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    let Some(Open::Object(map, _)) = stack.pop() else {
                        unreachable!("just matched an object");
                    };
                    if let Some(v) = self.finish(&mut stack, Value::object(map))? {
                        return Ok(v);
                    }
                    continue;
                }
                let k = self.string();
                *key = Some(k);
                self.skip_space();
                self.i += 1; // The ':'.
                self.skip_space();
            }
            let value = match self.s.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    stack.push(Open::Object(BTreeMap::new(), None));
                    continue;
                }
                Some(b'[') => {
                    self.i += 1;
                    self.skip_space();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        Value::array(Vec::new())
                    } else {
                        stack.push(Open::Array(Vec::new()));
                        continue;
                    }
                }
                Some(b'"') => Value::string(self.string()),
                Some(b't') => {
                    self.i += 4;
                    Value::Bool(true)
                }
                Some(b'f') => {
                    self.i += 5;
                    Value::Bool(false)
                }
                Some(b'n') => {
                    self.i += 4;
                    Value::Null
                }
                _ => self.number()?,
            };
            if let Some(v) = self.finish(&mut stack, value)? {
                return Ok(v);
            }
        }
    }

    /// Stores a finished value in its container, closing containers whose end follows.
    /// Returns the top-level value once complete.
    fn finish(&mut self, stack: &mut Vec<Open>, mut value: Value) -> Result<Option<Value>, String> {
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(Some(value));
            };
            match top {
                Open::Array(items) => items.push(value),
                Open::Object(map, key) => {
                    map.insert(key.take().unwrap_or_default(), value);
                }
            }
            self.skip_space();
            match self.s.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    return Ok(None);
                }
                Some(b']') | Some(b'}') => {
                    self.i += 1;
                    value = match stack.pop() {
                        Some(Open::Array(items)) => Value::array(items),
                        Some(Open::Object(map, _)) => Value::object(map),
                        None => unreachable!("the stack had a top"),
                    };
                }
                _ => return Err("unexpected end of JSON input".into()),
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
            )
        {
            self.i += 1;
        }
        let text = &self.text[start..self.i];
        let is_int = !text.contains(['.', 'e', 'E']);
        if !self.all_floats && is_int {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::int(i));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::uint(u));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::float(f)),
            _ => Err(format!(
                "json: cannot unmarshal number {text} into Go value of type float64"
            )),
        }
    }

    /// A string literal at `i` (checked already), escapes resolved the way Go does.
    fn string(&mut self) -> String {
        self.i += 1; // The opening quote.
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.s.get(self.i).copied().unwrap_or(b'"');
                    self.i += 1;
                    match c {
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let r = self.hex4();
                            if (0xD800..0xDC00).contains(&r)
                                && self.s.get(self.i) == Some(&b'\\')
                                && self.s.get(self.i + 1) == Some(&b'u')
                            {
                                let save = self.i;
                                self.i += 2;
                                let low = self.hex4();
                                if (0xDC00..0xE000).contains(&low) {
                                    let c = 0x10000 + ((r - 0xD800) << 10) + (low - 0xDC00);
                                    out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                    continue;
                                }
                                // Not a pair: the high half is replaced and the next
                                // escape read on its own.
                                self.i = save;
                            }
                            out.push(char::from_u32(r).unwrap_or('\u{fffd}'));
                        }
                        other => out.push(char::from(other)),
                    }
                }
                _ => {
                    self.i += 1; // The closing quote.
                    return out;
                }
            }
        }
    }

    fn hex4(&mut self) -> u32 {
        let end = (self.i + 4).min(self.s.len());
        let v = u32::from_str_radix(&self.text[self.i..end], 16).unwrap_or(0xFFFD);
        self.i = end;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, true).unwrap_err()
    }

    #[test]
    fn errors_match_go() {
        // Expected texts are Go's json.Unmarshal errors for the same inputs.
        let cases = [
            ("", "unexpected end of JSON input"),
            ("{", "unexpected end of JSON input"),
            ("x", "invalid character 'x' looking for beginning of value"),
            ("[1 2]", "invalid character '2' after array element"),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            (
                "{\"a\":1,}",
                "invalid character '}' looking for beginning of object key string",
            ),
            (
                "[1,]",
                "invalid character ']' looking for beginning of value",
            ),
            (
                "tru",
                "invalid character ' ' in literal true (expecting 'e')",
            ),
            (
                "nan",
                "invalid character 'a' in literal null (expecting 'u')",
            ),
            ("01", "invalid character '1' after top-level value"),
            (
                "1.",
                "invalid character ' ' after decimal point in numeric literal",
            ),
            ("-", "invalid character ' ' in numeric literal"),
            (
                "1.5e+",
                "invalid character ' ' in exponent of numeric literal",
            ),
            ("\"\\x\"", "invalid character 'x' in string escape code"),
            ("\"\t\"", "invalid character '\\t' in string literal"),
            (
                "\"\\u12\"",
                "invalid character '\"' in \\u hexadecimal character escape",
            ),
            ("é", "invalid character 'Ã' looking for beginning of value"),
            (
                "'a'",
                "invalid character '\\'' looking for beginning of value",
            ),
            (
                "{\"a\":1 \"b\":2}",
                "invalid character '\"' after object key:value pair",
            ),
            (
                "{\"a\":[1,{\"b\":tx}]}",
                "invalid character 'x' in literal true (expecting 'r')",
            ),
            (
                "1e400",
                "json: cannot unmarshal number 1e400 into Go value of type float64",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(err(input), want, "input {input:?}");
        }
        assert_eq!(err(&"[".repeat(MAX_DEPTH + 1)), "exceeded max depth");
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&deep, true).is_ok());
    }

    #[test]
    fn values_match_go() {
        let v = parse(
            r#" {"a": [1, -2.5e1, true, null, "x\u00e9\ud83d\ude00\ud800"], "a": {}, "b": []} "#,
            true,
        )
        .unwrap();
        assert_eq!(format!("{v:?}"), r#"{"a": {}, "b": []}"#);
        let v = parse(
            r#"["\ud83d\ude00\ud800\u0041", 1, 18446744073709551615, 1.0, {"k": [[]]}]"#,
            false,
        )
        .unwrap();
        assert_eq!(
            format!("{v:?}"),
            "[\"😀\u{fffd}A\", Int(1), Uint(18446744073709551615), Float(1.0), {\"k\": [[]]}]"
        );
        let v = parse("[1, 2]", true).unwrap();
        assert_eq!(format!("{v:?}"), "[Float(1.0), Float(2.0)]");
    }
}
