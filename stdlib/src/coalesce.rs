//! `coalesce`: the first argument that is not empty (LANGUAGE.md §5.1).

use alloy_syntax::value::{Capsule, Number, Value, ValueError};

/// `coalesce(...values)`: the first non-empty argument, else the last one, else null.
pub(crate) fn coalesce(args: &[Value]) -> Result<Value, ValueError> {
    Ok(args
        .iter()
        .find(|v| !is_empty(v))
        .or(args.last())
        .cloned()
        .unwrap_or(Value::Null))
}

/// Empty means null, the zero value of the Go type (Go's `reflect.Value.IsZero`), or
/// an array or object with no elements.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Number(Number::Int(i)) => *i == 0,
        Value::Number(Number::Uint(u)) => *u == 0,
        // IsZero compares the bits, so -0.0 is not empty.
        Value::Number(Number::Float(f)) => f.to_bits() == 0,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Function(_) => false,
        Value::Capsule(Capsule::Secret(s)) => s.is_empty(),
        Value::Capsule(Capsule::OptionalSecret { value, is_secret }) => {
            value.is_empty() && !is_secret
        }
        Value::Capsule(Capsule::Host(h)) => h.as_object().is_some_and(|o| o.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_follow_go_is_zero() {
        let first = |args: &[Value]| format!("{:?}", coalesce(args).unwrap());
        assert_eq!(first(&[]), "null");
        assert_eq!(first(&[Value::float(0.0), Value::int(2)]), "Int(2)");
        // Go's IsZero compares float bits: negative zero is a value.
        assert_eq!(first(&[Value::float(-0.0), Value::int(2)]), "Float(-0.0)");
        assert_eq!(first(&[Value::string(""), Value::int(0)]), "Int(0)");
        assert_eq!(first(&[Value::secret(""), Value::Bool(true)]), "true");
        assert_eq!(first(&[Value::array(vec![]), Value::Null]), "null");
    }
}
