//! Runs one evaluation case of the upstream conformance data (the JSON format of
//! `shared/conformance/alloy-syntax/README.md`) against a scope. Shared by this
//! crate's tests and the `stdlib` crate's, which passes a scope holding the standard
//! library so that the same files run in both places. Reading the files and setting
//! `env` variables is left to the caller: this crate does no I/O.

use crate::eval::{eval_expr, eval_expr_as, Layered, Scope};
use crate::value::{Capsule, Number, NumberKind, Target, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// What differed.
    Fail(String),
    /// Why the case was not run (it needs a Go struct schema, or a mode this runner
    /// does not handle).
    Skip(String),
}

/// Top-level names of the standard library, including the deprecated aliases. Cases
/// that use them need a scope with the stdlib (the `stdlib` crate runs them).
pub const STDLIB_NAMES: &[&str] = &[
    "array",
    "base64_decode",
    "coalesce",
    "concat",
    "constants",
    "convert",
    "encoding",
    "env",
    "file",
    "format",
    "join",
    "json_decode",
    "json_path",
    "nonsensitive",
    "replace",
    "split",
    "string",
    "sys",
    "to_lower",
    "to_upper",
    "trim",
    "trim_prefix",
    "trim_space",
    "trim_suffix",
    "yaml_decode",
];

/// Whether the case's input uses a standard-library name that its own scope does not
/// define.
pub fn needs_stdlib(case: &Json) -> bool {
    let input = case["input"].as_str().unwrap_or_default();
    let (expr, _) = crate::parse_expression("", input);
    let mut names = Vec::new();
    root_idents(&expr, input, &mut names);
    names
        .iter()
        .any(|n| STDLIB_NAMES.contains(&n.as_str()) && case["scope"].get(n.as_str()).is_none())
}

fn root_idents(expr: &crate::ast::Expr, src: &str, out: &mut Vec<String>) {
    use crate::ast::Expr;
    match expr {
        Expr::Ident(i) => out.push(i.text(src).to_string()),
        Expr::Literal(_) => {}
        Expr::Array(a) => a.elements.iter().for_each(|e| root_idents(e, src, out)),
        Expr::Object(o) => o
            .fields
            .iter()
            .for_each(|f| root_idents(&f.value, src, out)),
        Expr::Access(a) => root_idents(&a.value, src, out),
        Expr::Index(i) => {
            root_idents(&i.value, src, out);
            root_idents(&i.index, src, out);
        }
        Expr::Call(c) => {
            root_idents(&c.value, src, out);
            c.args.iter().for_each(|e| root_idents(e, src, out));
        }
        Expr::Unary(u) => root_idents(&u.value, src, out),
        Expr::Binary(b) => {
            root_idents(&b.left, src, out);
            root_idents(&b.right, src, out);
        }
        Expr::Paren(p) => root_idents(&p.inner, src, out),
    }
}

/// Converts a JSON value of the case format to a value: integers are ints (uints
/// above `i64::MAX`), other numbers floats, and the special objects `{"$secret": s}`
/// and `{"$optional_secret": {"value": v, "is_secret": b}}` are secret capsules.
pub fn value_from_json(json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => crate::value::from_json_number(n),
        Json::String(s) => Value::string(s.as_str()),
        Json::Array(items) => Value::array(
            items
                .iter()
                .map(value_from_json)
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(fields) => {
            if let Some(s) = fields.get("$secret") {
                return Ok(Value::secret(s.as_str().unwrap_or_default()));
            }
            if let Some(o) = fields.get("$optional_secret") {
                return Ok(Value::optional_secret(
                    o["value"].as_str().unwrap_or_default(),
                    o["is_secret"].as_bool().unwrap_or(false),
                ));
            }
            if fields.contains_key("$struct") {
                return Err("a Go struct-backed value needs a schema".to_string());
            }
            let mut out = BTreeMap::new();
            for (k, v) in fields {
                out.insert(k.clone(), value_from_json(v)?);
            }
            Value::object(out)
        }
    })
}

/// The case's `scope` as variables.
pub fn scope_from_json(scope: &Json) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    if let Some(fields) = scope.as_object() {
        for (k, v) in fields {
            out.insert(k.clone(), value_from_json(v)?);
        }
    }
    Ok(out)
}

/// Runs one case. `base` is consulted after the case's own scope (pass
/// [`crate::eval::EmptyScope`] or a stdlib scope).
pub fn run_case(case: &Json, base: &dyn Scope) -> Outcome {
    if case["needs_schema"].as_bool() == Some(true) {
        return Outcome::Skip("needs a Go struct schema".to_string());
    }
    match case["mode"].as_str() {
        Some("evaluate_expression") => evaluate_expression(case, base),
        Some("parse_expression") => parse_expression(case),
        other => Outcome::Skip(format!("mode {other:?} is not an evaluation mode")),
    }
}

fn parse_expression(case: &Json) -> Outcome {
    let input = case["input"].as_str().unwrap_or_default();
    let (_, diags) = crate::parse_expression("", input);
    let index = crate::diag::LineIndex::new(input);
    let texts: Vec<String> = diags.iter().map(|d| d.one_line(&index)).collect();
    match case["error"].as_str() {
        Some(want) if texts.iter().any(|t| t.contains(want)) => Outcome::Pass,
        Some(want) => Outcome::Fail(format!("errors {texts:?}, want one containing {want:?}")),
        None if texts.is_empty() => Outcome::Pass,
        None => Outcome::Fail(format!("unexpected errors {texts:?}")),
    }
}

fn evaluate_expression(case: &Json, base: &dyn Scope) -> Outcome {
    let input = case["input"].as_str().unwrap_or_default();
    let filename = case["filename"].as_str().unwrap_or_default();
    let vars = match scope_from_json(&case["scope"]) {
        Ok(vars) => vars,
        Err(why) => return Outcome::Skip(why),
    };
    let scope = Layered(&vars, base);
    let (expr, diags) = crate::parse_expression(filename, input);
    if let Some(d) = diags.iter().find(|d| d.is_error()) {
        let index = crate::diag::LineIndex::new(input);
        return check_error(case, &d.one_line(&index));
    }
    let decode_as = case["decode_as"].as_str();
    let target = match decode_as {
        None => None,
        Some(t) => match Target::parse(t) {
            Some(target) => Some(target),
            None => return Outcome::Skip(format!("decode_as {t:?} needs a schema")),
        },
    };
    let result = match &target {
        Some(target) => eval_expr_as(&expr, input, &scope, target),
        None => eval_expr(&expr, input, &scope),
    };
    match result {
        Err(e) => check_error(case, &e.one_line(filename, input)),
        Ok(value) => {
            if let Some(want) = case["error"].as_str() {
                return Outcome::Fail(format!(
                    "got value {value:?}, want error containing {want:?}"
                ));
            }
            let float32 = target == Some(Target::Float32);
            let unordered = case["unordered"].as_bool() == Some(true);
            if let Err(why) = compare(&value, &case["expect"], float32, unordered) {
                return Outcome::Fail(format!("got {value:?}, want {}: {why}", case["expect"]));
            }
            let kinds = case["number_kind"]
                .as_str()
                .or_else(|| case["number_kinds"].as_str());
            match kinds.map(|k| check_kinds(&value, k)) {
                Some(Err(why)) => Outcome::Fail(why),
                _ => Outcome::Pass,
            }
        }
    }
}

fn check_error(case: &Json, got: &str) -> Outcome {
    let Some(want) = case["error"].as_str() else {
        return Outcome::Fail(format!("unexpected error: {got}"));
    };
    let ok = if case["error_exact"].as_bool() == Some(true) {
        got == want
    } else {
        got.contains(want)
    };
    if ok {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("error {got:?}, want {want:?}"))
    }
}

/// Checks `number_kind`/`number_kinds`: `int`, `uint`, `float`, or `<kind> elements`
/// for every number in an array or object.
fn check_kinds(value: &Value, spec: &str) -> Result<(), String> {
    let (kind, elements) = match spec.split_once(' ') {
        Some((k, _)) => (k, true),
        None => (spec, false),
    };
    let want = match kind {
        "int" | "int64" => NumberKind::Int,
        "uint" | "uint64" => NumberKind::Uint,
        "float" | "float64" => NumberKind::Float,
        _ => return Ok(()),
    };
    let numbers: Vec<Number> = match value {
        Value::Number(n) if !elements => vec![*n],
        Value::Array(items) => items.iter().filter_map(Value::as_number).collect(),
        Value::Object(fields) => fields.values().filter_map(Value::as_number).collect(),
        Value::Number(n) => vec![*n],
        _ => Vec::new(),
    };
    match numbers.iter().find(|n| n.kind() != want) {
        Some(n) => Err(format!("number {n:?} is not of kind {kind}")),
        None => Ok(()),
    }
}

/// Compares a value with the case's JSON expectation: numbers by value (`3 == 3.0`),
/// objects as unordered maps, secrets by their special encodings.
fn compare(value: &Value, want: &Json, float32: bool, unordered: bool) -> Result<(), String> {
    let mismatch = || Err(format!("{value:?} != {want}"));
    match (value, want) {
        (Value::Null, Json::Null) => Ok(()),
        (Value::Bool(a), Json::Bool(b)) if a == b => Ok(()),
        (Value::String(a), Json::String(b)) if **a == **b => Ok(()),
        (Value::Number(n), Json::Number(j)) => {
            let equal = if float32 {
                n.as_f64() as f32 == j.as_f64().unwrap_or(f64::NAN) as f32
            } else if let Some(i) = j.as_i64() {
                n.equals(Number::Int(i)) && n.as_f64() == i as f64
            } else if let Some(u) = j.as_u64() {
                n.equals(Number::Uint(u)) && n.as_f64() == u as f64
            } else {
                n.as_f64() == j.as_f64().unwrap_or(f64::NAN)
            };
            if equal {
                Ok(())
            } else {
                mismatch()
            }
        }
        (Value::Array(items), Json::Array(wants)) if items.len() == wants.len() => {
            if unordered {
                let mut used = vec![false; wants.len()];
                for item in items.iter() {
                    let slot = (0..wants.len())
                        .find(|&i| !used[i] && compare(item, &wants[i], float32, true).is_ok());
                    match slot {
                        Some(i) => used[i] = true,
                        None => return Err(format!("no match for element {item:?}")),
                    }
                }
                Ok(())
            } else {
                for (i, (item, w)) in items.iter().zip(wants).enumerate() {
                    compare(item, w, float32, unordered).map_err(|e| format!("[{i}]: {e}"))?;
                }
                Ok(())
            }
        }
        (Value::Capsule(Capsule::Secret(s)), Json::Object(o)) => match o.get("$secret") {
            Some(Json::String(w)) if **s == **w => Ok(()),
            _ => mismatch(),
        },
        (
            Value::Capsule(Capsule::OptionalSecret {
                value: v,
                is_secret,
            }),
            Json::Object(o),
        ) => match o.get("$optional_secret") {
            Some(w)
                if w["value"].as_str() == Some(&**v)
                    && w["is_secret"].as_bool() == Some(*is_secret) =>
            {
                Ok(())
            }
            _ => mismatch(),
        },
        (Value::Object(fields), Json::Object(wants)) if fields.len() == wants.len() => {
            for (k, w) in wants {
                let Some(v) = fields.get(k) else {
                    return Err(format!("missing key {k:?}"));
                };
                compare(v, w, float32, unordered).map_err(|e| format!(".{k}: {e}"))?;
            }
            Ok(())
        }
        _ => mismatch(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::EmptyScope;

    fn case(text: &str) -> Json {
        serde_json::from_str(text).expect("test case is JSON")
    }

    #[test]
    fn mismatches_fail() {
        let wrong_value = case(
            r#"{"name":"x","mode":"evaluate_expression","input":"1 + 1","decode_as":"any","expect":3}"#,
        );
        assert!(matches!(
            run_case(&wrong_value, &EmptyScope),
            Outcome::Fail(_)
        ));
        let wrong_error =
            case(r#"{"name":"x","mode":"evaluate_expression","input":"1 / 0","error":"nope"}"#);
        assert!(matches!(
            run_case(&wrong_error, &EmptyScope),
            Outcome::Fail(_)
        ));
        let wrong_kind = case(
            r#"{"name":"x","mode":"evaluate_expression","input":"1.0","decode_as":"any","expect":1,"number_kind":"int"}"#,
        );
        assert!(matches!(
            run_case(&wrong_kind, &EmptyScope),
            Outcome::Fail(_)
        ));
        let right = case(
            r#"{"name":"x","mode":"evaluate_expression","input":"[1, 2.5]","decode_as":"[]float64","expect":[1, 2.5]}"#,
        );
        assert_eq!(run_case(&right, &EmptyScope), Outcome::Pass);
    }

    #[test]
    fn stdlib_references_are_detected() {
        assert!(needs_stdlib(&case(
            r#"{"input":"string.format(\"%d\", 1)"}"#
        )));
        assert!(!needs_stdlib(&case(
            r#"{"input":"sys","scope":{"sys":"x"}}"#
        )));
        assert!(!needs_stdlib(&case(r#"{"input":"{string = 1}.string"}"#)));
    }
}
