//! Argument checking shared by every function: arity errors and parameter conversion
//! with upstream's wording (LANGUAGE.md §4.6, §5).

use std::sync::Arc;

use alloy_syntax::value::{self, Function, Value, ValueError};

/// The body of a standard-library function: already-evaluated arguments in, a value
/// or an upstream-worded error out.
pub(crate) type Body = fn(&[Value]) -> Result<Value, ValueError>;

/// One entry of a namespace table: the short name and its body.
pub(crate) type Entry = (&'static str, &'static str, Body);

/// Builds the object value of a namespace from its table of `(short name, full
/// name, body)` entries.
pub(crate) fn namespace(entries: &[Entry]) -> Value {
    Value::object(
        entries
            .iter()
            .map(|&(short, full, body)| (short.to_string(), function(full, body)))
            .collect(),
    )
}

pub(crate) fn function(full_name: &'static str, body: Body) -> Value {
    Value::Function(Function::new(full_name, body))
}

/// Exactly `N` arguments, as Go's reflection-based call checks: `expected N args, got M`.
pub(crate) fn fixed<const N: usize>(args: &[Value]) -> Result<&[Value; N], ValueError> {
    args.try_into()
        .map_err(|_| ValueError::message(format!("expected {N} args, got {}", args.len())))
}

/// At least `n` arguments for a variadic function.
pub(crate) fn at_least(args: &[Value], n: usize) -> Result<(), ValueError> {
    if args.len() < n {
        return Err(ValueError::message(format!(
            "expected at least {n} args, got {}",
            args.len()
        )));
    }
    Ok(())
}

/// Argument `index` converted to a `string` parameter (numbers are accepted).
pub(crate) fn string(args: &[Value], index: usize) -> Result<Arc<str>, ValueError> {
    value::to_string_target(&args[index]).map_err(|e| e.in_arg(index))
}

/// Whether the value is a string, for functions that do not convert numbers.
pub(crate) fn strict_string(v: &Value) -> Result<Arc<str>, ValueError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(ValueError::type_mismatch(other, "string")),
    }
}
