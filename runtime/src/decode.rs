//! Typed component arguments: an evaluated block body ([`BodyValue`]) is decoded into
//! a Rust struct through [`Decoder`], with errors that point at the attribute or block
//! at fault. Structural problems (unknown or missing entries) are found first by
//! [`crate::schema::check_body`] on the source; decoding only converts values.

use crate::duration::GoDuration;
use alloy_syntax::value::{self, Value, ValueError};
use alloy_syntax::{Diagnostic, Span};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Diagnostic code for values that do not convert to an argument's type.
pub const CODE_DECODE: &str = "alloy::decode";

/// A block body after evaluation: attribute values and nested blocks, in source order.
#[derive(Debug, Clone, Default)]
pub struct BodyValue {
    pub attrs: Vec<AttrValue>,
    pub blocks: Vec<BlockValue>,
    /// The enclosing block, for "missing" errors.
    pub span: Span,
}

/// One evaluated attribute.
#[derive(Debug, Clone)]
pub struct AttrValue {
    pub name: String,
    pub value: Value,
    /// The value expression, where conversion errors point.
    pub span: Span,
}

/// One nested block, evaluated.
#[derive(Debug, Clone)]
pub struct BlockValue {
    pub name: String,
    pub label: Option<String>,
    pub body: BodyValue,
}

impl BodyValue {
    /// The body as one object (attributes, then blocks by name; repeated blocks make
    /// an array), which is what free-form blocks and module arguments receive.
    pub fn to_object(&self) -> Value {
        let mut fields = BTreeMap::new();
        for attr in &self.attrs {
            fields.insert(attr.name.clone(), attr.value.clone());
        }
        for block in &self.blocks {
            fields.insert(block.name.clone(), block.body.to_object());
        }
        Value::object(fields)
    }
}

/// Conversion from an Alloy value to a Rust argument type.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, ValueError>;
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        Ok(value.clone())
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        value::to_string_target(value).map(|s| s.to_string())
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        value::to_bool_target(value)
    }
}

macro_rules! from_value_number {
    ($($t:ty => $target:expr, $get:ident;)*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, ValueError> {
                let converted = value::decode(value, &$target)?;
                let number = converted
                    .as_number()
                    .ok_or_else(|| ValueError::type_mismatch(value, "number"))?;
                Ok(number.$get() as $t)
            }
        }
    )*};
}

from_value_number! {
    i64 => value::Target::Int(64), as_i64;
    i32 => value::Target::Int(32), as_i64;
    u64 => value::Target::Uint(64), as_u64;
    u32 => value::Target::Uint(32), as_u64;
    usize => value::Target::Uint(64), as_u64;
    f64 => value::Target::Float64, as_f64;
}

impl FromValue for GoDuration {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let text = value::to_string_target(value)?;
        GoDuration::parse(&text).map_err(ValueError::message)
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let items = value::to_array_target(value)?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_value(item).map_err(|e| e.in_element(i)))
            .collect()
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let fields = value::to_object_target(value)?;
        fields
            .iter()
            .map(|(k, v)| Ok((k.clone(), T::from_value(v).map_err(|e| e.in_field(k))?)))
            .collect()
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        if value.is_null() {
            Ok(None)
        } else {
            T::from_value(value).map(Some)
        }
    }
}

/// A value of any type as an argument. Compared structurally, so arguments holding
/// one can still tell "unchanged" from "changed" (`Value` itself has no `PartialEq`:
/// Alloy equality is a language operation with its own rules).
#[derive(Clone, Debug)]
pub struct AnyValue(pub Value);

impl PartialEq for AnyValue {
    fn eq(&self, other: &Self) -> bool {
        value::values_identical(&self.0, &other.0)
    }
}

impl FromValue for AnyValue {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        Ok(AnyValue(value.clone()))
    }
}

/// A secret argument: never printed. `Debug` and `Display` show `(secret)`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub Arc<str>);

impl Secret {
    /// The secret text, for the one place that must send it (a header, a password).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(secret)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(secret)")
    }
}

impl FromValue for Secret {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        value::to_secret_target(value).map(Secret)
    }
}

/// A string that may or may not be sensitive (`alloytypes.OptionalSecret`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct OptionalSecret {
    pub value: Arc<str>,
    pub is_secret: bool,
}

impl fmt::Debug for OptionalSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_secret {
            f.write_str("(secret)")
        } else {
            write!(f, "{:?}", self.value)
        }
    }
}

impl FromValue for OptionalSecret {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        let (value, is_secret) = value::to_optional_secret_target(value)?;
        Ok(OptionalSecret { value, is_secret })
    }
}

/// Reads typed fields out of a [`BodyValue`], turning conversion failures into
/// diagnostics at the attribute's value.
#[derive(Clone, Copy)]
pub struct Decoder<'b> {
    file: &'b Arc<str>,
    body: &'b BodyValue,
}

impl<'b> Decoder<'b> {
    pub fn new(file: &'b Arc<str>, body: &'b BodyValue) -> Decoder<'b> {
        Decoder { file, body }
    }

    /// The attribute `name` converted to `T`, or `None` when it is not set.
    pub fn attr<T: FromValue>(&self, name: &str) -> Result<Option<T>, Diagnostic> {
        let Some(attr) = self.body.attrs.iter().find(|a| a.name == name) else {
            return Ok(None);
        };
        T::from_value(&attr.value)
            .map(Some)
            .map_err(|err| self.error(attr.span, render_value_error(&err)))
    }

    /// The attribute `name`, or `default` when it is not set.
    pub fn attr_or<T: FromValue>(&self, name: &str, default: T) -> Result<T, Diagnostic> {
        Ok(self.attr(name)?.unwrap_or(default))
    }

    /// A duration attribute that must be greater than zero (intervals, timeouts), or
    /// `default` when it is not set; the error points at the attribute.
    pub fn positive_duration(
        &self,
        name: &str,
        default: GoDuration,
    ) -> Result<GoDuration, Diagnostic> {
        let v = self.attr_or(name, default)?;
        if v.nanos() <= 0 {
            return Err(self.error(self.span_of(name), format!("{name} must be greater than 0")));
        }
        Ok(v)
    }

    /// A required attribute (its presence was checked against the schema already;
    /// this still reports it, for bodies built without a schema check).
    pub fn required<T: FromValue>(&self, name: &str) -> Result<T, Diagnostic> {
        self.attr(name)?.ok_or_else(|| {
            self.error(
                self.body.span,
                format!("missing required attribute {name:?}"),
            )
        })
    }

    /// Every nested block called `name`, in order.
    pub fn blocks(&self, name: &'b str) -> impl Iterator<Item = Decoder<'b>> + 'b {
        let file = self.file;
        self.body
            .blocks
            .iter()
            .filter(move |b| b.name == name)
            .map(move |b| Decoder::new(file, &b.body))
    }

    /// The nested block `name`, if present (the first one).
    pub fn block(&self, name: &'b str) -> Option<Decoder<'b>> {
        self.blocks(name).next()
    }

    /// A decoding error at `span`, for checks a component makes itself.
    pub fn error(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(CODE_DECODE, self.file, span, message)
    }

    /// The span of the whole block, where checks across several attributes point.
    pub fn span(&self) -> Span {
        self.body.span
    }

    /// Whether attribute `name` is set, for rules that care about presence rather
    /// than value (a field "set to its default" still counts as set).
    pub fn has(&self, name: &str) -> bool {
        self.body.attrs.iter().any(|a| a.name == name)
    }

    /// The span of attribute `name`'s value, or of the whole body.
    pub fn span_of(&self, name: &str) -> Span {
        self.body
            .attrs
            .iter()
            .find(|a| a.name == name)
            .map_or(self.body.span, |a| a.span)
    }
}

/// A conversion error as one message, with the path to the part at fault first
/// (`[2].name: expected string, got number`).
pub fn render_value_error(err: &ValueError) -> String {
    let mut path = String::new();
    let mut cur = err;
    loop {
        match cur {
            ValueError::Element { index, inner } => {
                path.push_str(&format!("[{index}]"));
                cur = inner;
            }
            ValueError::Field { name, inner } => {
                path.push('.');
                path.push_str(name);
                cur = inner;
            }
            ValueError::Arg { inner, .. } => cur = inner,
            other => {
                let text = other.to_string();
                return if path.is_empty() {
                    text
                } else {
                    format!("{}: {text}", path.trim_start_matches('.'))
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(attrs: Vec<(&str, Value)>) -> BodyValue {
        BodyValue {
            attrs: attrs
                .into_iter()
                .enumerate()
                .map(|(i, (name, value))| AttrValue {
                    name: name.to_string(),
                    value,
                    span: Span::new(i as u32 * 10, i as u32 * 10 + 5),
                })
                .collect(),
            blocks: vec![],
            span: Span::new(0, 100),
        }
    }

    #[test]
    fn decodes_typed_fields_with_defaults() {
        let file: Arc<str> = Arc::from("f");
        let b = body(vec![
            ("interval", Value::string("1m")),
            ("limit", Value::int(5)),
            (
                "names",
                Value::array(vec![Value::string("a"), Value::int(1)]),
            ),
            ("password", Value::secret("hunter2")),
        ]);
        let d = Decoder::new(&file, &b);
        assert_eq!(
            d.required::<GoDuration>("interval").unwrap(),
            GoDuration::from_secs(60)
        );
        assert_eq!(d.attr_or("limit", 0u32).unwrap(), 5);
        assert_eq!(d.attr_or("missing", 7u32).unwrap(), 7);
        assert_eq!(
            d.required::<Vec<String>>("names").unwrap(),
            ["a".to_string(), "1".to_string()]
        );
        let secret: Secret = d.required("password").unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "(secret) (secret)");
    }

    #[test]
    fn conversion_errors_point_at_the_value() {
        let file: Arc<str> = Arc::from("f");
        let b = body(vec![
            ("interval", Value::string("1d")),
            ("flag", Value::string("yes")),
        ]);
        let d = Decoder::new(&file, &b);
        let err = d.required::<GoDuration>("interval").unwrap_err();
        assert_eq!(err.span, Span::new(0, 5));
        assert_eq!(err.message, "time: unknown unit \"d\" in duration \"1d\"");
        let err = d.required::<bool>("flag").unwrap_err();
        assert_eq!(err.span, Span::new(10, 15));
        let err = d.required::<bool>("absent").unwrap_err();
        assert_eq!(err.message, "missing required attribute \"absent\"");
        assert_eq!(err.span, Span::new(0, 100));
    }
}
