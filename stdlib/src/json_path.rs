//! `json_path(json, path)`: JSONPath queries, always returning an array (§5.1).
//!
//! Upstream uses Go's `ojg` library; we use `serde_json_path` (RFC 9535) after turning
//! ojg's shorthand forms (`.key`, `[0]`, bare `key`) into rooted paths.

use alloy_syntax::value::{Value, ValueError};
use serde_json_path::JsonPath;

use crate::args;

pub(crate) fn json_path(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<2>(args)?;
    let json = args::string(args, 0)?;
    let path = args::string(args, 1)?;
    // The JSONPath parser backtracks on nested filters, and its time grows steeply with
    // the nesting (a fuzzed 20-level query took most of a minute); real queries nest a
    // few levels. Deeper ones are refused rather than stall an evaluation.
    if nesting(&path) > MAX_NESTING {
        return Err(ValueError::message(format!(
            "json_path: query nests brackets more than {MAX_NESTING} levels deep"
        )));
    }
    let path = JsonPath::parse(&quote_names(&rooted(&path)))
        .map_err(|e| ValueError::message(e.to_string()))?;
    let doc = crate::json::parse(&json, false).map_err(ValueError::message)?;
    let doc = to_serde(&doc);
    let found = path.query(&doc).all().into_iter().map(from_serde).collect();
    Ok(Value::array(found))
}

/// Deepest bracket nesting a query may have.
const MAX_NESTING: usize = 12;

/// The deepest nesting of `[` and `(` in a query (quotes are not special here: the
/// count is only a bound).
fn nesting(path: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in path.chars() {
        match c {
            '[' | '(' => {
                depth += 1;
                max = max.max(depth);
            }
            ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// ojg accepts dotted names that RFC 9535 does not (`.content-type`, `.0x`); such
/// names outside brackets become bracketed string names (`['content-type']`).
fn quote_names(path: &str) -> String {
    let chars: Vec<(usize, char)> = path.char_indices().collect();
    let mut out = String::with_capacity(path.len() + 8);
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        if let Some(q) = quote {
            if c == '\\' {
                // An escape and the escaped character travel together.
                out.push(c);
                if let Some(&(_, next)) = chars.get(i + 1) {
                    out.push(next);
                }
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == '[' {
            depth += 1;
        } else if c == ']' {
            depth = depth.saturating_sub(1);
        } else if c == '.' && depth == 0 {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && !matches!(chars[end].1, '.' | '[' | ' ' | '*') {
                end += 1;
            }
            let name: String = chars[start..end].iter().map(|&(_, ch)| ch).collect();
            let plain = name.chars().enumerate().all(|(n, ch)| {
                ch == '_'
                    || ch.is_ascii_alphabetic()
                    || !ch.is_ascii()
                    || (n > 0 && ch.is_ascii_digit())
            });
            if !name.is_empty() && !plain {
                out.push_str("['");
                for ch in name.chars() {
                    if ch == '\'' || ch == '\\' {
                        out.push('\\');
                    }
                    out.push(ch);
                }
                out.push_str("']");
                i = end;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The parsed document in the form `serde_json_path` queries. Only JSON values occur.
fn to_serde(v: &Value) -> serde_json::Value {
    use alloy_syntax::value::Number;
    match v {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(Number::Int(i)) => serde_json::Value::from(*i),
        Value::Number(Number::Uint(u)) => serde_json::Value::from(*u),
        Value::Number(Number::Float(f)) => serde_json::Value::from(*f),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
        Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), to_serde(v))).collect())
        }
        _ => serde_json::Value::Null,
    }
}

/// A query result back as a value; integers stay integers, as ojg keeps them.
fn from_serde(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => alloy_syntax::value::from_json_number(n),
        serde_json::Value::String(s) => Value::string(s.as_str()),
        serde_json::Value::Array(items) => Value::array(items.iter().map(from_serde).collect()),
        serde_json::Value::Object(map) => Value::object(
            map.iter()
                .map(|(k, v)| (k.clone(), from_serde(v)))
                .collect(),
        ),
    }
}

/// ojg accepts paths without the `$` root; RFC 9535 does not.
fn rooted(path: &str) -> String {
    let path = path.trim();
    if path.starts_with('$') {
        path.to_string()
    } else if let Some(rest) = path.strip_prefix('@') {
        format!("${rest}")
    } else if path.starts_with('.') || path.starts_with('[') {
        format!("${path}")
    } else if path.is_empty() {
        "$".to_string()
    } else {
        format!("$.{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(json: &str, path: &str) -> Result<String, String> {
        json_path(&[Value::string(json), Value::string(path)])
            .map(|v| format!("{v:?}"))
            .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn deeply_nested_queries_are_refused_quickly() {
        // Found by fuzzing: nested filters made the parser backtrack for most of a
        // minute. Six filter levels still work; deeper ones are refused.
        let nested = |n: usize| format!("${}{}", "[?(@.a".repeat(n), ")]".repeat(n));
        assert!(query("[]", &nested(6)).is_ok());
        let err = query("[]", &nested(20)).unwrap_err();
        assert!(err.contains("more than 12 levels"), "{err}");
    }

    #[test]
    fn ojg_shorthands_are_rooted() {
        let doc = r#"{"a": {"b": [1, 2.5, "x"]}, "items": [{"name": "n1", "v": 1}, {"name": "n2", "v": 3}]}"#;
        assert_eq!(query(doc, ".a.b[0]").unwrap(), "[Int(1)]");
        assert_eq!(query(doc, "a.b[1]").unwrap(), "[Float(2.5)]");
        assert_eq!(
            query(doc, "$.a.b[*]").unwrap(),
            r#"[Int(1), Float(2.5), "x"]"#
        );
        assert_eq!(query(doc, "$..name").unwrap(), r#"["n1", "n2"]"#);
        assert_eq!(query(doc, ".items[?(@.v > 1)].name").unwrap(), r#"["n2"]"#);
        assert_eq!(query(doc, "$['a']['b'][-1]").unwrap(), r#"["x"]"#);
        assert_eq!(query(doc, ".nope").unwrap(), "[]");
        assert_eq!(query("[1, 2, 3]", "[0:2]").unwrap(), "[Int(1), Int(2)]");
        assert!(query(doc, ".a[").is_err());
        let dashed = r#"{"content-type": {"x.y": 1, "0a": 2}}"#;
        assert_eq!(query(dashed, ".content-type['x.y']").unwrap(), "[Int(1)]");
        assert_eq!(query(dashed, "$.content-type.0a").unwrap(), "[Int(2)]");
        assert_eq!(query(dashed, "$..[?(@ == 2)]").unwrap(), "[Int(2)]");
        assert_eq!(
            quote_names("$.a.b-c[?(@.d == 'e.f-g')]"),
            "$.a['b-c'][?(@.d == 'e.f-g')]"
        );
        assert_eq!(
            query("{", ".a").unwrap_err(),
            "unexpected end of JSON input"
        );
    }
}
