//! Values of literal tokens: numbers with their kind (§2.3), strings with Go escape
//! processing (§2.4), bools and null.

use crate::ast::Literal;
use crate::token::Token;
use crate::value::number::{parse_float_literal, parse_number_literal};
use crate::value::{Number, Value};
use std::borrow::Cow;

/// The value of a literal, or upstream's message when a number literal is out of
/// range (`strconv.ParseFloat: parsing "1e400": value out of range`).
pub fn literal_value(lit: &Literal, src: &str) -> Result<Value, String> {
    let text = lit.text(src);
    match lit.kind {
        Token::Number => parse_number_literal(&text).map(Value::Number),
        Token::Float => parse_float_literal(&text).map(|f| Value::Number(Number::Float(f))),
        Token::String => Ok(Value::String(match unquote(&text) {
            Cow::Borrowed(s) => s.into(),
            Cow::Owned(s) => s.into(),
        })),
        Token::Bool => Ok(Value::Bool(&*text == "true")),
        _ => Ok(Value::Null),
    }
}

/// The value of a STRING token: raw strings lose their backticks (their `\r` is
/// already gone), quoted strings have Go escapes processed. Escapes that produce
/// invalid UTF-8 (`\xff`) are replaced by U+FFFD, since values hold text. The
/// scanner has already reported malformed escapes, so they are kept literally here.
pub fn unquote(text: &str) -> Cow<'_, str> {
    if let Some(raw) = text.strip_prefix('`') {
        return Cow::Borrowed(raw.strip_suffix('`').unwrap_or(raw));
    }
    let inner = text.strip_prefix('"').unwrap_or(text);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let bytes = inner.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' || i + 1 >= bytes.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let esc = bytes[i + 1];
        let simple = match esc {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0C),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0B),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        let (len, radix) = match esc {
            b'0'..=b'7' => (3, 8),
            b'x' => (2, 16),
            b'u' => (4, 16),
            b'U' => (8, 16),
            _ => (0, 0),
        };
        let start = if esc.is_ascii_digit() { i + 1 } else { i + 2 };
        let digits = inner.get(start..start + len);
        let code = digits
            .filter(|_| len > 0)
            .and_then(|d| u32::from_str_radix(d, radix).ok());
        match (esc, code) {
            (b'0'..=b'7' | b'x', Some(c)) if c <= 0xFF => out.push(c as u8),
            (b'u' | b'U', Some(c)) => {
                let ch = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => {
                // Malformed (already reported by the scanner): keep the text.
                out.push(b);
                i += 1;
                continue;
            }
        }
        i = start + len;
    }
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::unquote;

    #[test]
    fn escapes() {
        assert_eq!(unquote(r#""\x41\u00e9\U0001F600\101\t|""#), "Aé😀A\t|");
        assert_eq!(unquote(r#""a\"b\\""#), "a\"b\\");
        assert_eq!(unquote("`a\\nb`"), "a\\nb");
        assert_eq!(unquote(r#""\400""#), "\\400");
        // Malformed escapes were reported by the scanner; they must not crash here.
        assert_eq!(unquote(r#""\q\x4\u12""#), r"\q\x4\u12");
        assert_eq!(unquote(r#""\""#), "\\");
    }
}
