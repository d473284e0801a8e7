//! Rendering values: as Alloy text (LANGUAGE.md §4.9, used in error messages and
//! `ferroalloy eval`) and as JSON (`ferroalloy eval --format=json`). Secrets print as
//! `(secret)` in both, so rendering never leaks them.

use super::{Capsule, Number, Value};
use crate::lexer::is_valid_identifier;
use crate::parser::go_quote;

/// Renders a value as Alloy text: arrays on one line, objects one `key = value,` per
/// line with sorted keys, aligned `=` and tab indentation (an empty object is `{`,
/// newline, `}`), strings quoted like Go's `%q`, floats without exponent.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Number(n) => out.push_str(&n.to_go_string()),
        Value::String(s) => out.push_str(&go_quote(s)),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, indent);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            write_object(out, fields.iter().map(|(k, v)| (k.as_str(), v)), indent)
        }
        Value::Function(_) => out.push_str("function"),
        Value::Capsule(Capsule::Secret(_))
        | Value::Capsule(Capsule::OptionalSecret {
            is_secret: true, ..
        }) => out.push_str("(secret)"),
        Value::Capsule(Capsule::OptionalSecret { value, .. }) => out.push_str(&go_quote(value)),
        Value::Capsule(Capsule::Host(h)) => match h.as_object() {
            Some(fields) => write_object(out, fields.iter().map(|(k, v)| (k.as_str(), v)), indent),
            None => {
                out.push_str("capsule(");
                out.push_str(&go_quote(h.type_name()));
                out.push(')');
            }
        },
    }
}

fn write_object<'v>(
    out: &mut String,
    fields: impl Iterator<Item = (&'v str, &'v Value)> + Clone,
    indent: usize,
) {
    let keys: Vec<(String, &Value)> = fields
        .map(|(k, v)| {
            let key = if is_valid_identifier(k) {
                k.to_string()
            } else {
                go_quote(k)
            };
            (key, v)
        })
        .collect();
    if keys.is_empty() {
        // Upstream's builder always breaks the line after `{`, even with no fields.
        out.push_str("{\n");
        push_tabs(out, indent);
        out.push('}');
        return;
    }
    // The printer aligns the `=` of consecutive keys, as a tabwriter would.
    let width = keys
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    out.push_str("{\n");
    for (key, value) in &keys {
        push_tabs(out, indent + 1);
        out.push_str(key);
        for _ in key.chars().count()..width {
            out.push(' ');
        }
        out.push_str(" = ");
        write_value(out, value, indent + 1);
        out.push_str(",\n");
    }
    push_tabs(out, indent);
    out.push('}');
}

fn push_tabs(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push('\t');
    }
}

/// Renders a value as JSON: numbers keep their kind (ints exact, floats as floats;
/// NaN and infinities, which JSON cannot hold, become their Go text as strings),
/// objects have sorted keys, functions are `"function"`, secrets `"(secret)"` and
/// other capsules `"capsule(\"T\")"` unless they present as objects.
/// A JSON number as a value: integers stay integers (int, else uint), the rest are
/// floats, as ojg and the conformance data keep them.
pub fn from_json_number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::int(i)
    } else if let Some(u) = n.as_u64() {
        Value::uint(u)
    } else {
        Value::float(n.as_f64().unwrap_or(f64::NAN))
    }
}

pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Null => Json::Null,
        Value::Number(Number::Int(i)) => Json::from(*i),
        Value::Number(Number::Uint(u)) => Json::from(*u),
        // Whole floats print without a fraction, as Go's encoding/json prints them
        // (`1`, not `1.0`); 2^53 keeps the integer exact.
        Value::Number(Number::Float(f))
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 =>
        {
            Json::from(*f as i64)
        }
        Value::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or_else(|| Json::String(Number::Float(*f).to_go_string())),
        Value::String(s) => Json::String(s.to_string()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        Value::Function(_) => Json::String("function".to_string()),
        Value::Capsule(Capsule::OptionalSecret {
            value,
            is_secret: false,
        }) => Json::String(value.to_string()),
        Value::Capsule(Capsule::Host(h)) => match h.as_object() {
            Some(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), to_json(v)))
                    .collect(),
            ),
            None => Json::String(format!("capsule({})", go_quote(h.type_name()))),
        },
        Value::Capsule(_) => Json::String("(secret)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn renders_alloy_text() {
        let mut fields = BTreeMap::new();
        fields.insert(
            "b".to_string(),
            Value::array(vec![Value::int(1), Value::float(2.5)]),
        );
        fields.insert("a-b".to_string(), Value::string("x\n"));
        fields.insert("pw".to_string(), Value::secret("hunter2"));
        let text = render(&Value::object(fields));
        assert_eq!(
            text,
            "{\n\t\"a-b\" = \"x\\n\",\n\tb     = [1, 2.5],\n\tpw    = (secret),\n}"
        );
        assert_eq!(render(&Value::float(1e21)), "1000000000000000000000");
        assert_eq!(render(&Value::Null), "null");
        assert_eq!(render(&Value::object(BTreeMap::new())), "{\n}");
    }

    #[test]
    fn json_hides_secrets() {
        let json = to_json(&Value::array(vec![
            Value::secret("s"),
            Value::uint(u64::MAX),
        ]));
        assert_eq!(json.to_string(), "[\"(secret)\",18446744073709551615]");
    }
}
