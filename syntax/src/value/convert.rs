//! Conversion on assignment ("decoding", LANGUAGE.md §4.5 and §4.7) and equality
//! (§4.4). Expressions produce values; conversion happens only when a value is
//! assigned to a typed target: a component argument, a function parameter, or a
//! test's `decode_as`.

use super::number::{parse_number_string, NumberKind};
use super::{Capsule, Number, Value, ValueError, ValueType};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Upstream's text for a secret assigned to a string target.
const SECRET_TO_STRING: &str = "secrets may not be converted into strings";

/// A typed assignment target, named after the Go types upstream decodes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Go `any`: the natural representation (§4.5 rule 9).
    Any,
    Bool,
    String,
    /// A number of any kind, kept as is (parameters typed "number").
    Number,
    /// A signed integer of this many bits (Go `int` is 64).
    Int(u8),
    /// An unsigned integer of this many bits.
    Uint(u8),
    Float32,
    Float64,
    Secret,
    OptionalSecret,
    /// Go `[]T`.
    Array(Box<Target>),
    /// Go `map[string]T`.
    Map(Box<Target>),
}

impl Target {
    /// Parses a Go type name as written in the conformance data's `decode_as`:
    /// `int`, `uint16`, `float32`, `string`, `bool`, `any`, `secret`,
    /// `optional_secret`, `[]T`, `map[string]T`. `None` for anything else (structs).
    pub fn parse(go_type: &str) -> Option<Target> {
        let t = go_type.trim();
        if let Some(elem) = t.strip_prefix("[]") {
            return Target::parse(elem).map(|e| Target::Array(Box::new(e)));
        }
        if let Some(elem) = t.strip_prefix("map[string]") {
            return Target::parse(elem).map(|e| Target::Map(Box::new(e)));
        }
        Some(match t {
            "any" | "interface{}" => Target::Any,
            "bool" => Target::Bool,
            "string" => Target::String,
            "number" => Target::Number,
            "int" | "int64" => Target::Int(64),
            "int8" => Target::Int(8),
            "int16" => Target::Int(16),
            "int32" => Target::Int(32),
            "uint" | "uint64" => Target::Uint(64),
            "uint8" | "byte" => Target::Uint(8),
            "uint16" => Target::Uint(16),
            "uint32" => Target::Uint(32),
            "float32" => Target::Float32,
            "float64" => Target::Float64,
            "secret" | "alloytypes.Secret" => Target::Secret,
            "optional_secret" | "alloytypes.OptionalSecret" => Target::OptionalSecret,
            _ => return None,
        })
    }
}

/// Assigns `value` to a target of type `target` and returns the converted value:
/// numbers are truncated or wrapped to the target width, strings and numbers convert
/// into each other, secrets follow §4.7, and arrays and maps convert element by
/// element (an error names the path, `[i]` or `.key`). `null` gives the target's
/// zero value (null for arrays, maps and `any`).
pub fn decode(value: &Value, target: &Target) -> Result<Value, ValueError> {
    if value.is_null() {
        return Ok(zero_value(target));
    }
    match target {
        Target::Any => Ok(decode_any(value)),
        Target::Bool => to_bool_target(value).map(Value::Bool),
        Target::String => to_string_target(value).map(Value::String),
        Target::Number => to_number_target(value).map(Value::Number),
        Target::Int(bits) => {
            let i = to_number_target(value)?.as_i64();
            // Go conversion to a narrower int keeps the low bits.
            let narrowed = match bits {
                8 => i as i8 as i64,
                16 => i as i16 as i64,
                32 => i as i32 as i64,
                _ => i,
            };
            Ok(Value::int(narrowed))
        }
        Target::Uint(bits) => {
            let u = to_number_target(value)?.as_u64();
            let narrowed = match bits {
                8 => u as u8 as u64,
                16 => u as u16 as u64,
                32 => u as u32 as u64,
                _ => u,
            };
            Ok(Value::uint(narrowed))
        }
        Target::Float32 => Ok(Value::float(to_number_target(value)?.as_f64() as f32 as f64)),
        Target::Float64 => Ok(Value::float(to_number_target(value)?.as_f64())),
        Target::Secret => to_secret_target(value).map(Value::secret),
        Target::OptionalSecret => {
            let (text, is_secret) = to_optional_secret_target(value)?;
            Ok(Value::optional_secret(text, is_secret))
        }
        Target::Array(elem) => {
            let items = to_array_target(value)?;
            let converted = items
                .iter()
                .enumerate()
                .map(|(i, item)| decode(item, elem).map_err(|e| e.in_element(i)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::array(converted))
        }
        Target::Map(elem) => {
            let fields = to_object_target(value)?;
            let mut out = BTreeMap::new();
            for (k, v) in fields.iter() {
                out.insert(
                    k.clone(),
                    decode(v, elem).map_err(|e| e.in_field(k.clone()))?,
                );
            }
            Ok(Value::object(out))
        }
    }
}

fn zero_value(target: &Target) -> Value {
    match target {
        Target::Any | Target::Array(_) | Target::Map(_) => Value::Null,
        Target::Bool => Value::Bool(false),
        Target::String => Value::string(""),
        Target::Number | Target::Int(_) => Value::int(0),
        Target::Uint(_) => Value::uint(0),
        Target::Float32 | Target::Float64 => Value::float(0.0),
        Target::Secret => Value::secret(""),
        Target::OptionalSecret => Value::optional_secret("", false),
    }
}

/// Go `any`: numbers that are not floats become int when they fit an i64 (so a uint
/// below 2^63 becomes int), arrays and objects convert recursively, and functions and
/// capsules pass through.
fn decode_any(value: &Value) -> Value {
    match value {
        Value::Number(Number::Uint(u)) => match i64::try_from(*u) {
            Ok(i) => Value::int(i),
            Err(_) => value.clone(),
        },
        Value::Array(items) => Value::array(items.iter().map(decode_any).collect()),
        Value::Object(fields) => Value::object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), decode_any(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Assignment to a `string` target: numbers print in decimal (floats shortest, no
/// exponent), an optional secret with its flag off yields its text, a secret is the
/// error `secrets may not be converted into strings`.
pub fn to_string_target(value: &Value) -> Result<Arc<str>, ValueError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_go_string().into()),
        Value::Capsule(Capsule::Secret(_))
        | Value::Capsule(Capsule::OptionalSecret {
            is_secret: true, ..
        }) => Err(ValueError::message(SECRET_TO_STRING)),
        Value::Capsule(Capsule::OptionalSecret { value: s, .. }) => Ok(s.clone()),
        other => Err(ValueError::type_mismatch(other, "string")),
    }
}

/// Assignment to a number target: numbers pass through, strings parse strictly
/// (§4.5 rule 4), and an optional secret with its flag off converts through its text.
pub fn to_number_target(value: &Value) -> Result<Number, ValueError> {
    match value {
        Value::Number(n) => Ok(*n),
        Value::String(s) => {
            parse_number_string(s).ok_or_else(|| ValueError::type_mismatch(value, "number"))
        }
        Value::Capsule(Capsule::OptionalSecret {
            value: s,
            is_secret: false,
        }) => parse_number_string(s).ok_or_else(|| ValueError::type_mismatch(value, "number")),
        other => Err(ValueError::type_mismatch(other, "number")),
    }
}

/// Assignment to a `bool` target: only bools convert.
pub fn to_bool_target(value: &Value) -> Result<bool, ValueError> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(ValueError::type_mismatch(other, "bool")),
    }
}

/// Assignment to a `secret` target: strings and optional secrets become secrets.
/// Anything else is `should be capsule, got <type>`, as upstream words it.
pub fn to_secret_target(value: &Value) -> Result<Arc<str>, ValueError> {
    match value {
        Value::String(s)
        | Value::Capsule(Capsule::Secret(s))
        | Value::Capsule(Capsule::OptionalSecret { value: s, .. }) => Ok(s.clone()),
        other => Err(ValueError::type_mismatch(other, "capsule")),
    }
}

/// Assignment to an optional-secret target: a string gives flag off, a secret flag on.
pub fn to_optional_secret_target(value: &Value) -> Result<(Arc<str>, bool), ValueError> {
    match value {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Capsule(Capsule::Secret(s)) => Ok((s.clone(), true)),
        Value::Capsule(Capsule::OptionalSecret { value, is_secret }) => {
            Ok((value.clone(), *is_secret))
        }
        other => Err(ValueError::type_mismatch(other, "capsule")),
    }
}

/// Assignment to an array target (elements unconverted).
pub fn to_array_target(value: &Value) -> Result<Arc<Vec<Value>>, ValueError> {
    match value {
        Value::Array(items) => Ok(items.clone()),
        other => Err(ValueError::type_mismatch(other, "array")),
    }
}

/// Assignment to an object target; host capsules that present as objects convert.
pub fn to_object_target(value: &Value) -> Result<Arc<BTreeMap<String, Value>>, ValueError> {
    match value {
        Value::Object(fields) => Ok(fields.clone()),
        Value::Capsule(Capsule::Host(h)) => h
            .as_object()
            .map(Arc::new)
            .ok_or_else(|| ValueError::type_mismatch(value, "object")),
        other => Err(ValueError::type_mismatch(other, "object")),
    }
}

/// Equality per §4.4: different types are never equal; numbers compare in the fitted
/// kind; functions are never equal; capsules compare deeply. Callers comparing with
/// `==` unwrap secrets first ([`unwrap_secrets`]).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Number(x), Value::Number(y)) => x.equals(*y),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        (Value::Capsule(x), Value::Capsule(y)) => match (x, y) {
            (Capsule::Secret(p), Capsule::Secret(q)) => p == q,
            (
                Capsule::OptionalSecret {
                    value: p,
                    is_secret: fp,
                },
                Capsule::OptionalSecret {
                    value: q,
                    is_secret: fq,
                },
            ) => p == q && fp == fq,
            (Capsule::Host(p), Capsule::Host(q)) => p.equals(q.as_ref()),
            _ => false,
        },
        _ => false,
    }
}

/// Structural identity, for change detection (the runtime's "did the exports really
/// change?"), not for the language's `==`: number kinds must match and floats compare
/// by bits (so NaN is identical to itself and `3` is not identical to `3.0`), a
/// function is identical to itself (same implementation), secrets compare by content.
pub fn values_identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x, y) {
            (Number::Int(p), Number::Int(q)) => p == q,
            (Number::Uint(p), Number::Uint(q)) => p == q,
            (Number::Float(p), Number::Float(q)) => p.to_bits() == q.to_bits(),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            Arc::ptr_eq(x, y)
                || (x.len() == y.len()
                    && x.iter().zip(y.iter()).all(|(p, q)| values_identical(p, q)))
        }
        (Value::Object(x), Value::Object(y)) => {
            Arc::ptr_eq(x, y)
                || (x.len() == y.len()
                    && x.iter()
                        .zip(y.iter())
                        .all(|((k, v), (l, w))| k == l && values_identical(v, w)))
        }
        (Value::Function(f), Value::Function(g)) => Arc::ptr_eq(&f.call, &g.call),
        _ => values_equal(a, b),
    }
}

/// The secret unwrapping that `+` and the comparisons apply before looking at types
/// (§4.7), decided by the left operand. Values that need no change are returned as
/// they are.
pub fn unwrap_secrets(lhs: &Value, rhs: &Value) -> (Value, Value) {
    use Capsule::{OptionalSecret, Secret};
    match (lhs, rhs) {
        (Value::Capsule(OptionalSecret { value, .. }), Value::Capsule(Secret(_))) => {
            (Value::secret(value.clone()), rhs.clone())
        }
        (Value::Capsule(OptionalSecret { value, is_secret }), Value::String(s)) => {
            if *is_secret {
                (lhs.clone(), Value::optional_secret(s.clone(), true))
            } else {
                (Value::String(value.clone()), rhs.clone())
            }
        }
        (Value::Capsule(Secret(_)), Value::Capsule(OptionalSecret { value, .. })) => {
            (lhs.clone(), Value::secret(value.clone()))
        }
        (Value::Capsule(Secret(_)), Value::String(s)) => (lhs.clone(), Value::secret(s.clone())),
        (Value::String(s), Value::Capsule(OptionalSecret { value, is_secret })) => {
            if *is_secret {
                (Value::optional_secret(s.clone(), true), rhs.clone())
            } else {
                (lhs.clone(), Value::String(value.clone()))
            }
        }
        (Value::String(s), Value::Capsule(Secret(_))) => (Value::secret(s.clone()), rhs.clone()),
        _ => (lhs.clone(), rhs.clone()),
    }
}

impl Value {
    /// The type name used in `should be one of [...]` checks; secrets are capsules.
    pub fn type_name(&self) -> &'static str {
        self.value_type().as_str()
    }

    /// The kind of a number value.
    pub fn number_kind(&self) -> Option<NumberKind> {
        self.as_number().map(Number::kind)
    }
}

impl ValueType {
    /// All type names, in upstream's order.
    pub const ALL: [ValueType; 8] = [
        ValueType::Null,
        ValueType::Number,
        ValueType::String,
        ValueType::Bool,
        ValueType::Array,
        ValueType::Object,
        ValueType::Function,
        ValueType::Capsule,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_convert() {
        assert_eq!(&*to_string_target(&Value::float(3.0)).unwrap(), "3");
        assert_eq!(
            &*to_string_target(&Value::float(1e21)).unwrap(),
            "1000000000000000000000"
        );
        assert!(matches!(
            to_number_target(&Value::string("12")),
            Ok(Number::Uint(12))
        ));
        let err = to_number_target(&Value::string("1 2")).unwrap_err();
        assert_eq!(err.to_string(), "expected number, got string");
    }

    #[test]
    fn secrets_never_become_strings() {
        assert!(to_string_target(&Value::secret("s")).is_err());
        assert!(to_string_target(&Value::optional_secret("s", true)).is_err());
        assert_eq!(
            &*to_string_target(&Value::optional_secret("s", false)).unwrap(),
            "s"
        );
        assert!(matches!(
            to_number_target(&Value::optional_secret("23.5", false)),
            Ok(Number::Float(f)) if f == 23.5
        ));
    }

    #[test]
    fn narrow_targets_wrap() {
        let v = decode(&Value::int(300), &Target::Uint(8)).unwrap();
        assert!(matches!(v, Value::Number(Number::Uint(44))));
        let v = decode(&Value::int(-1), &Target::Int(8)).unwrap();
        assert!(matches!(v, Value::Number(Number::Int(-1))));
    }

    #[test]
    fn identity_is_stricter_than_equality() {
        assert!(values_equal(&Value::int(3), &Value::float(3.0)));
        assert!(!values_identical(&Value::int(3), &Value::float(3.0)));
        assert!(values_identical(
            &Value::float(f64::NAN),
            &Value::float(f64::NAN)
        ));
        let f = Value::Function(super::super::Function::new("f", |_| Ok(Value::Null)));
        assert!(!values_equal(&f, &f));
        assert!(values_identical(&f, &f.clone()));
    }

    #[test]
    fn element_errors_name_the_path() {
        let arr = Value::array(vec![Value::int(1), Value::Bool(true)]);
        let err = decode(&arr, &Target::Array(Box::new(Target::Int(64)))).unwrap_err();
        assert!(matches!(err, ValueError::Element { index: 1, .. }));
    }
}
