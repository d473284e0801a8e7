//! The `encoding` namespace: JSON, YAML, base64 and URL query escaping (LANGUAGE.md §5.1).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use alloy_syntax::value::{Capsule, Number, Value, ValueError};

use crate::args::{self, Entry};

pub(crate) const ENTRIES: &[Entry] = &[
    ("from_json", "encoding.from_json", from_json),
    ("from_yaml", "encoding.from_yaml", from_yaml),
    ("from_base64", "encoding.from_base64", from_base64),
    ("from_URLbase64", "encoding.from_URLbase64", from_url_base64),
    ("to_base64", "encoding.to_base64", to_base64),
    ("to_URLbase64", "encoding.to_URLbase64", to_url_base64),
    ("to_json", "encoding.to_json", to_json),
    ("url_encode", "encoding.url_encode", url_encode),
    ("url_decode", "encoding.url_decode", url_decode),
];

// ---- JSON ----

/// `encoding.from_json(string)`: Go's `encoding/json` into "any", so every number is
/// a float, with Go's error texts.
pub(crate) fn from_json(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let text = args::string(args, 0)?;
    crate::json::parse(&text, true).map_err(ValueError::message)
}

/// `encoding.to_json(object)`: Go's `json.Marshal` of a map: compact, keys sorted,
/// HTML-sensitive characters escaped.
pub(crate) fn to_json(args: &[Value]) -> Result<Value, ValueError> {
    let [v] = args::fixed(args)?;
    let Value::Object(map) = v else {
        return Err(ValueError::message("jsonEncode only supports map"));
    };
    let mut out = String::new();
    write_json_object(&mut out, map)?;
    Ok(Value::string(out))
}

fn write_json_object(out: &mut String, map: &BTreeMap<String, Value>) -> Result<(), ValueError> {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, k);
        out.push(':');
        write_json(out, v)?;
    }
    out.push('}');
    Ok(())
}

fn write_json(out: &mut String, v: &Value) -> Result<(), ValueError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(Number::Int(i)) => {
            let _ = write!(out, "{i}");
        }
        Value::Number(Number::Uint(u)) => {
            let _ = write!(out, "{u}");
        }
        Value::Number(Number::Float(f)) => write_json_float(out, *f)?,
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => write_json_object(out, map)?,
        // Go marshals the secret types by their Go shape: a Secret is a string and an
        // OptionalSecret a struct with exported fields. Upstream leaks both; so do we.
        Value::Capsule(Capsule::Secret(s)) => write_json_string(out, s),
        Value::Capsule(Capsule::OptionalSecret { value, is_secret }) => {
            let _ = write!(out, "{{\"IsSecret\":{is_secret},\"Value\":");
            write_json_string(out, value);
            out.push('}');
        }
        Value::Capsule(Capsule::Host(h)) => match h.as_object() {
            Some(map) => write_json_object(out, &map)?,
            None => {
                return Err(ValueError::message(format!(
                    "json: unsupported type: {}",
                    h.type_name()
                )))
            }
        },
        Value::Function(_) => {
            return Err(ValueError::message("json: unsupported type: func()"));
        }
    }
    Ok(())
}

/// Go's JSON float form: shortest digits, `%f` style for 1e-6 <= |f| < 1e21, otherwise
/// `%e` style with Go's clean-up of negative exponents (`1e-7`, but `1e+21`).
fn write_json_float(out: &mut String, f: f64) -> Result<(), ValueError> {
    if !f.is_finite() {
        let text = crate::string::format::format_float(f, 'g', -1);
        return Err(ValueError::message(format!(
            "json: unsupported value: {text}"
        )));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = crate::string::format::format_float(f, 'e', -1);
        let n = s.len();
        if s.as_bytes()[n - 4..n - 1] == *b"e-0" {
            s.remove(n - 2);
        }
        out.push_str(&s);
    } else {
        out.push_str(&crate::string::format::format_float(f, 'f', -1));
    }
    Ok(())
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---- YAML ----

/// `encoding.from_yaml(string)`: the first document, integers as ints, floats as
/// floats, string-keyed mappings as objects, as Go's yaml.v3 decodes into "any".
/// Known differences, from serde_norway's YAML 1.2 reading: the YAML 1.1 forms that
/// yaml.v3 still resolves as numbers (`1_000`, octal `0777`) stay strings, and error
/// texts can differ.
pub(crate) fn from_yaml(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let text = args::string(args, 0)?;
    crate::yaml::parse(&text).map_err(ValueError::message)
}

// ---- base64 ----

const STD_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_encode(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's padded, non-strict `base64.Encoding.DecodeString`: `\r` and `\n` are skipped,
/// and errors give the byte offset Go reports (`illegal base64 data at input byte N`).
fn base64_decode(src: &[u8], alphabet: &[u8; 64]) -> Result<Vec<u8>, ValueError> {
    let mut map = [0xffu8; 256];
    for (i, &c) in alphabet.iter().enumerate() {
        map[usize::from(c)] = i as u8;
    }
    let corrupt =
        |at: usize| ValueError::message(format!("illegal base64 data at input byte {at}"));
    let is_newline = |c: u8| c == b'\n' || c == b'\r';
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    while si < src.len() {
        // One quantum of up to four symbols.
        let mut dbuf = [0u8; 4];
        let mut dlen = 4;
        let mut trailing_error = None;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                // Padding is required, so a short final quantum is an error.
                return Err(corrupt(si - j));
            }
            let c = src[si];
            si += 1;
            let v = map[usize::from(c)];
            if v != 0xff {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if is_newline(c) {
                continue;
            }
            if c != b'=' {
                return Err(corrupt(si - 1));
            }
            // Padding: only after two or three symbols.
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < src.len() && is_newline(src[si]) {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && is_newline(src[si]) {
                si += 1;
            }
            if si < src.len() {
                trailing_error = Some(corrupt(si));
            }
            dlen = j;
            break;
        }
        let val = (u32::from(dbuf[0]) << 18)
            | (u32::from(dbuf[1]) << 12)
            | (u32::from(dbuf[2]) << 6)
            | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(err) = trailing_error {
            return Err(err);
        }
    }
    Ok(out)
}

/// Decoded bytes as a value. Upstream returns a Go byte slice, an array of numbers
/// that turns into a string only on assignment to a string target; we return the
/// string directly (invalid UTF-8 replaced), which LANGUAGE.md §5.1 allows.
fn bytes_value(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => Value::string(s),
        Err(e) => Value::string(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

pub(crate) fn from_base64(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let s = args::string(args, 0)?;
    base64_decode(s.as_bytes(), STD_ALPHABET).map(bytes_value)
}

pub(crate) fn from_url_base64(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let s = args::string(args, 0)?;
    base64_decode(s.as_bytes(), URL_ALPHABET).map(bytes_value)
}

pub(crate) fn to_base64(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let s = args::string(args, 0)?;
    Ok(Value::string(base64_encode(s.as_bytes(), STD_ALPHABET)))
}

pub(crate) fn to_url_base64(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let s = args::string(args, 0)?;
    Ok(Value::string(base64_encode(s.as_bytes(), URL_ALPHABET)))
}

// ---- URL query escaping ----

/// Go's `url.QueryEscape`.
pub(crate) fn url_encode(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let s = args::string(args, 0)?;
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Ok(Value::string(out))
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte.
pub(crate) fn url_decode(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let s = args::string(args, 0)?;
    let b = s.as_bytes();
    let hex = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    // Go quotes the (up to) three bytes from the bad escape, even when
                    // that cuts a character in half.
                    let bad = &b[i..(i + 3).min(b.len())];
                    return Err(ValueError::message(format!(
                        "invalid URL escape {}",
                        crate::string::format::quote_bytes(bad)
                    )));
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(bytes_value(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn err(r: Result<Value, ValueError>) -> String {
        format!("{:?}", r.unwrap_err())
    }

    #[test]
    fn base64_round_trips_and_reports_go_offsets() {
        assert_eq!(base64_encode(b"hi", STD_ALPHABET), "aGk=");
        assert_eq!(base64_encode(b"", STD_ALPHABET), "");
        assert_eq!(base64_decode(b"aGk=", STD_ALPHABET).unwrap(), b"hi");
        assert_eq!(base64_decode(b"aG\nk=", STD_ALPHABET).unwrap(), b"hi");
        assert_eq!(base64_decode(b"", STD_ALPHABET).unwrap(), b"");
        let e = |s: &[u8]| format!("{:?}", base64_decode(s, STD_ALPHABET).unwrap_err());
        assert_eq!(e(b"!!"), "illegal base64 data at input byte 0");
        assert_eq!(e(b"aGk"), "illegal base64 data at input byte 0");
        assert_eq!(e(b"aGk=x"), "illegal base64 data at input byte 4");
        assert_eq!(
            e(b"aG=="[..3].as_ref()),
            "illegal base64 data at input byte 3"
        );
        assert_eq!(e(b"a==="), "illegal base64 data at input byte 1");
    }

    #[test]
    fn url_escaping_matches_go() {
        let v = url_encode(&[s("a b/c~é")]).unwrap();
        assert!(matches!(v, Value::String(ref t) if &**t == "a+b%2Fc~%C3%A9"));
        assert_eq!(err(url_decode(&[s("%zz")])), "invalid URL escape \"%zz\"");
        assert_eq!(err(url_decode(&[s("ab%4")])), "invalid URL escape \"%4\"");
        assert_eq!(
            err(url_decode(&[s("%Gé")])),
            "invalid URL escape \"%G\\xc3\""
        );
    }

    #[test]
    fn json_errors_use_go_wording() {
        assert_eq!(err(from_json(&[s("")])), "unexpected end of JSON input");
        assert_eq!(
            err(from_json(&[s("{\"a\": 1")])),
            "unexpected end of JSON input"
        );
        assert_eq!(
            err(from_json(&[s("x")])),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            err(from_json(&[s("[1 2]")])),
            "invalid character '2' after array element"
        );
        assert_eq!(
            err(from_json(&[s("{} x")])),
            "invalid character 'x' after top-level value"
        );
    }

    #[test]
    fn to_json_matches_go_marshal() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), Value::float(1e-7));
        m.insert("a".to_string(), Value::string("<&>\u{2028}\u{8}"));
        m.insert("c".to_string(), Value::float(1.5));
        m.insert("d".to_string(), Value::float(1e21));
        let out = to_json(&[Value::object(m)]).unwrap();
        assert!(
            matches!(out, Value::String(ref t) if &**t == r#"{"a":"\u003c\u0026\u003e\u2028\b","b":1e-7,"c":1.5,"d":1e+21}"#),
            "{out:?}"
        );
        assert_eq!(
            err(to_json(&[Value::int(12)])),
            "jsonEncode only supports map"
        );
    }

    #[test]
    fn yaml_keeps_number_kinds() {
        let v = from_yaml(&[s("a: [1, 2.5, ~]\nb: &x {c: 1}\nd:\n  <<: *x\n")]).unwrap();
        let Value::Object(o) = v else { panic!() };
        assert!(
            matches!(&o["a"], Value::Array(a) if matches!(a[0], Value::Number(Number::Int(1))) && matches!(a[1], Value::Number(Number::Float(_))) && matches!(a[2], Value::Null))
        );
        assert!(matches!(&o["d"], Value::Object(d) if d.contains_key("c")));
        assert!(matches!(from_yaml(&[s("")]).unwrap(), Value::Null));
        assert!(matches!(
            from_yaml(&[s("1: a")]).unwrap(),
            Value::Capsule(_)
        ));
        assert_eq!(
            err(from_yaml(&[s("a: [1, 2")])),
            "yaml: line 2: did not find expected ',' or ']'"
        );
    }
}
