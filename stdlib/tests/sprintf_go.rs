//! `string.format` against Go's `fmt.Sprintf`: random format strings and arguments
//! whose expected output was produced by Go itself (our fixture
//! `testdata/stdlib/sprintf_go.json`, made by `testdata/stdlib/sprintf_go_gen.go` with
//! go1.19.8; floats are stored as their bits so NaN, infinities and every digit survive
//! the JSON). Upstream passes `string.format` arguments straight to `fmt.Sprintf`, so
//! Go's output is the reference.

use std::collections::BTreeMap;

use alloy_stdlib::string::format::sprintf;
use alloy_syntax::value::Value;
use serde_json::Value as Json;

/// Rebuilds the Alloy value for a Go argument: `int` and `uint64` from decimal text,
/// `float64` from its bits, containers recursively.
fn arg(json: &Json) -> Value {
    let v = &json["v"];
    match json["k"].as_str().unwrap_or_default() {
        "int" => Value::int(v.as_str().and_then(|s| s.parse().ok()).expect("int text")),
        "uint64" => Value::uint(v.as_str().and_then(|s| s.parse().ok()).expect("uint text")),
        "float64" => Value::float(f64::from_bits(
            v.as_str().and_then(|s| s.parse().ok()).expect("float bits"),
        )),
        "string" => Value::string(v.as_str().unwrap_or_default()),
        "bool" => Value::Bool(v.as_bool().unwrap_or_default()),
        "nil" => Value::Null,
        "array" => Value::array(
            v.as_array()
                .map(|a| a.iter().map(arg).collect())
                .unwrap_or_default(),
        ),
        "map" => Value::object(
            v.as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, a)| (k.clone(), arg(a)))
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default(),
        ),
        other => panic!("unknown argument kind {other}"),
    }
}

#[test]
fn sprintf_matches_go() {
    let path = alloy_testdata::fixtures()
        .join("stdlib")
        .join("sprintf_go.json");
    let text = std::fs::read_to_string(&path).expect("fixture is readable");
    let cases: Vec<Json> = serde_json::from_str(&text).expect("fixture is JSON");
    let mut failures = Vec::new();
    for case in &cases {
        let format = case["format"].as_str().unwrap_or_default();
        let args: Vec<Value> = case["args"]
            .as_array()
            .map(|a| a.iter().map(arg).collect())
            .unwrap_or_default();
        let want = case["expect"].as_str().unwrap_or_default();
        match sprintf(format, &args) {
            Ok(got) if got == want => {}
            got => failures.push(format!(
                "{format:?} {args:?}\n  got  {got:?}\n  want {want:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ from Go:\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
