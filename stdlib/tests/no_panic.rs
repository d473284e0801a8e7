//! No standard-library function panics, whatever it is given: random values of every
//! type and random text for the parsers and the format engine.

use alloy_stdlib::Stdlib;
use alloy_syntax::value::Value;
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::int),
        any::<u64>().prop_map(Value::uint),
        any::<u64>().prop_map(|b| Value::float(f64::from_bits(b))),
        any::<bool>().prop_map(Value::Bool),
        "\\PC{0,12}".prop_map(Value::string),
        "[%#+\\- 0-9.*\\[\\]vdsqxXobcUeEfFgGtTp!]{0,12}".prop_map(Value::string),
        "[\\[\\]{}\":,0-9a-z \\\\.eE+-]{0,16}".prop_map(Value::string),
        Just(Value::secret("s")),
        Just(Value::optional_secret("o", false)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::array),
            prop::collection::btree_map("[a-z]{0,3}", inner, 0..4).prop_map(Value::object),
        ]
    })
}

/// Every function of the standard library with its full name.
fn functions() -> Vec<(String, Value)> {
    let lib = Stdlib::new();
    let mut out = Vec::new();
    for name in lib.names() {
        match lib.lookup(name) {
            Some(Value::Object(fields)) => {
                for (k, v) in fields.iter() {
                    if matches!(v, Value::Function(_)) {
                        out.push((format!("{name}.{k}"), v.clone()));
                    }
                }
            }
            Some(f @ Value::Function(_)) => out.push((name.to_string(), f)),
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn functions_never_panic(args in prop::collection::vec(value(), 0..5)) {
        for (_, f) in functions() {
            let Value::Function(f) = f else { continue };
            let _ = (f.call)(&args);
        }
    }

    #[test]
    fn format_never_panics(spec in "(%[#+\\- 0]{0,3}(\\[[0-9x]{0,2}\\]?)?[0-9*]{0,3}(\\.[0-9*]{0,3})?[a-zA-Z%!é]?|[a-z ]){0,6}", args in prop::collection::vec(value(), 0..4)) {
        let _ = alloy_stdlib::string::format::sprintf(&spec, &args);
    }
}
