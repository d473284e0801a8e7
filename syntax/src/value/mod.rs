//! Runtime values: null, numbers (int/uint/float kinds), strings, bools, arrays,
//! objects, functions and capsules (secrets and host values), per LANGUAGE.md §4.
//!
//! [`number`] holds number kinds and their Go-compatible arithmetic, [`convert`] the
//! conversions on assignment ("decoding", §4.5) and equality (§4.4), and [`render`]
//! the Alloy-text and JSON renderings (§4.9).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub mod convert;
pub mod duration;
pub mod number;
pub mod render;

pub use convert::{
    decode, to_array_target, to_bool_target, to_number_target, to_object_target,
    to_optional_secret_target, to_secret_target, to_string_target, values_equal, values_identical,
    Target,
};
pub use duration::{format_go_duration, parse_go_duration, to_duration_target};
pub use number::NumberKind;
pub use render::{from_json_number, render, to_json};

/// An Alloy value. Cloning is cheap: compound values share their contents.
#[derive(Clone)]
pub enum Value {
    Null,
    Number(Number),
    String(Arc<str>),
    Bool(bool),
    Array(Arc<Vec<Value>>),
    /// Objects are unordered maps; keys iterate sorted, which is the order upstream
    /// prints them in.
    Object(Arc<BTreeMap<String, Value>>),
    Function(Function),
    Capsule(Capsule),
}

/// The value type names used in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Null,
    Number,
    String,
    Bool,
    Array,
    Object,
    Function,
    Capsule,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Null => "null",
            ValueType::Number => "number",
            ValueType::String => "string",
            ValueType::Bool => "bool",
            ValueType::Array => "array",
            ValueType::Object => "object",
            ValueType::Function => "function",
            ValueType::Capsule => "capsule",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A number with its kind. Binary operators combine kinds as uint < int < float.
#[derive(Debug, Clone, Copy)]
pub enum Number {
    Int(i64),
    Uint(u64),
    Float(f64),
}

/// The implementation behind a function value.
pub type NativeFn = Arc<dyn Fn(&[Value]) -> Result<Value, ValueError> + Send + Sync>;

/// A function value: a name for messages and the implementation. Arguments arrive
/// already evaluated; the function converts them to its parameter types itself.
#[derive(Clone)]
pub struct Function {
    pub name: &'static str,
    pub call: NativeFn,
}

impl Function {
    pub fn new(
        name: &'static str,
        call: impl Fn(&[Value]) -> Result<Value, ValueError> + Send + Sync + 'static,
    ) -> Function {
        Function {
            name,
            call: Arc::new(call),
        }
    }
}

/// An opaque host value. Secrets are capsules with their own rules (§4.7).
#[derive(Clone)]
pub enum Capsule {
    /// Always sensitive; never printed, never converted to a plain string.
    Secret(Arc<str>),
    /// A string that may or may not be sensitive.
    OptionalSecret { value: Arc<str>, is_secret: bool },
    /// Any other host value (a receiver, a targets list, ...).
    Host(Arc<dyn HostValue>),
}

/// A host value carried in a capsule.
pub trait HostValue: Send + Sync + 'static {
    /// The upstream Go type name shown as `capsule("...")`.
    fn type_name(&self) -> &str;
    /// Deep equality with another host value.
    fn equals(&self, other: &dyn HostValue) -> bool;
    /// A host value that can present itself as an object (Prometheus targets can).
    fn as_object(&self) -> Option<BTreeMap<String, Value>> {
        None
    }
    fn as_any(&self) -> &dyn std::any::Any;
}

impl Capsule {
    /// The Go type name upstream shows for this capsule.
    pub fn type_name(&self) -> &str {
        match self {
            Capsule::Secret(_) => "alloytypes.Secret",
            Capsule::OptionalSecret { .. } => "alloytypes.OptionalSecret",
            Capsule::Host(h) => h.type_name(),
        }
    }
}

/// Why a value could not be used. Element, field and argument variants record the
/// path to the part at fault so evaluation can print `x.field[2] should be ...`.
#[derive(Clone)]
pub enum ValueError {
    /// `<value> should be <expected>, got <actual>`.
    Type {
        value: Value,
        expected: String,
        actual: ValueType,
    },
    /// `<value> does not have field named "<key>"`.
    MissingKey { value: Value, key: String },
    /// The error is in element `index` of the value.
    Element {
        index: usize,
        inner: Box<ValueError>,
    },
    /// The error is in field `name` of the value.
    Field {
        name: String,
        inner: Box<ValueError>,
    },
    /// The error is in argument `index` of a call.
    Arg {
        index: usize,
        inner: Box<ValueError>,
    },
    /// Any other failure, with upstream's text.
    Message(String),
}

impl ValueError {
    /// Any other failure: the text is upstream's message. When a function returns it,
    /// evaluation prefixes it with the callee's source text (`encoding.to_json ...`).
    pub fn message(msg: impl Into<String>) -> ValueError {
        ValueError::Message(msg.into())
    }

    /// A type mismatch of `value` against the `expected` type name.
    pub fn type_mismatch(value: &Value, expected: impl Into<String>) -> ValueError {
        ValueError::Type {
            value: value.clone(),
            expected: expected.into(),
            actual: value.value_type(),
        }
    }

    /// Marks the error as being about argument `index` of a call. Functions must wrap
    /// errors about their arguments this way so that evaluation reports them at the
    /// argument's source (`true should be string, got bool`), as upstream does.
    pub fn in_arg(self, index: usize) -> ValueError {
        ValueError::Arg {
            index,
            inner: Box::new(self),
        }
    }

    pub fn in_element(self, index: usize) -> ValueError {
        ValueError::Element {
            index,
            inner: Box::new(self),
        }
    }

    pub fn in_field(self, name: impl Into<String>) -> ValueError {
        ValueError::Field {
            name: name.into(),
            inner: Box::new(self),
        }
    }
}

impl Value {
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    pub fn uint(u: u64) -> Value {
        Value::Number(Number::Uint(u))
    }

    pub fn float(f: f64) -> Value {
        Value::Number(Number::Float(f))
    }

    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }

    pub fn object(fields: BTreeMap<String, Value>) -> Value {
        Value::Object(Arc::new(fields))
    }

    /// A [`Capsule::Secret`].
    pub fn secret(s: impl Into<Arc<str>>) -> Value {
        Value::Capsule(Capsule::Secret(s.into()))
    }

    /// A [`Capsule::OptionalSecret`].
    pub fn optional_secret(s: impl Into<Arc<str>>, is_secret: bool) -> Value {
        Value::Capsule(Capsule::OptionalSecret {
            value: s.into(),
            is_secret,
        })
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text of a plain string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number of a number value.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Null => ValueType::Null,
            Value::Number(_) => ValueType::Number,
            Value::String(_) => ValueType::String,
            Value::Bool(_) => ValueType::Bool,
            Value::Array(_) => ValueType::Array,
            Value::Object(_) => ValueType::Object,
            Value::Function(_) => ValueType::Function,
            Value::Capsule(_) => ValueType::Capsule,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Number(n) => write!(f, "{n:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Array(a) => f.debug_list().entries(a.iter()).finish(),
            Value::Object(o) => f.debug_map().entries(o.iter()).finish(),
            Value::Function(func) => write!(f, "function({})", func.name),
            Value::Capsule(Capsule::Secret(_)) => f.write_str("(secret)"),
            Value::Capsule(Capsule::OptionalSecret { value, is_secret }) => {
                if *is_secret {
                    f.write_str("(secret)")
                } else {
                    write!(f, "optional_secret({value:?})")
                }
            }
            Value::Capsule(Capsule::Host(h)) => write!(f, "capsule({:?})", h.type_name()),
        }
    }
}

impl fmt::Debug for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Type {
                value,
                expected,
                actual,
            } => {
                write!(f, "Type({value:?} should be {expected}, got {actual})")
            }
            ValueError::MissingKey { value, key } => write!(f, "MissingKey({value:?}, {key:?})"),
            ValueError::Element { index, inner } => write!(f, "[{index}] {inner:?}"),
            ValueError::Field { name, inner } => write!(f, ".{name} {inner:?}"),
            ValueError::Arg { index, inner } => write!(f, "arg {index}: {inner:?}"),
            ValueError::Message(m) => write!(f, "{m}"),
        }
    }
}

impl fmt::Display for ValueError {
    /// The undecorated text, as upstream's `err.Error()` for value errors. Evaluation
    /// decorates it further with source text (LANGUAGE.md §9.2).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Type {
                expected, actual, ..
            } => write!(f, "expected {expected}, got {actual}"),
            ValueError::MissingKey { key, .. } => write!(f, "does not have field named {key:?}"),
            ValueError::Element { index, inner } => write!(f, "index {index}: {inner}"),
            ValueError::Field { name, inner } => write!(f, "field {name}: {inner}"),
            ValueError::Arg { index, inner } => write!(f, "argument {index}: {inner}"),
            ValueError::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ValueError {}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::int(i)
    }
}

impl From<u64> for Value {
    fn from(u: u64) -> Value {
        Value::uint(u)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::float(f)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::array(items)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(fields: BTreeMap<String, Value>) -> Value {
        Value::object(fields)
    }
}
