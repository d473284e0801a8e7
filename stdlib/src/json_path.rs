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
    let path = JsonPath::parse(&rooted(&path)).map_err(|e| ValueError::message(e.to_string()))?;
    let doc: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| ValueError::message(crate::encoding::go_json_error(&json, &e)))?;
    let found = path
        .query(&doc)
        .all()
        .into_iter()
        .map(|v| crate::encoding::json_to_value(v, false))
        .collect();
    Ok(Value::array(found))
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
        assert_eq!(
            query("{", ".a").unwrap_err(),
            "unexpected end of JSON input"
        );
    }
}
