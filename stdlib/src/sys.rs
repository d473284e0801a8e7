//! The `sys` namespace: the process environment (LANGUAGE.md §5.1).

use alloy_syntax::value::{Value, ValueError};

use crate::args::{self, Entry};

pub(crate) const ENTRIES: &[Entry] = &[("env", "sys.env", env)];

/// `sys.env(name)`: the variable's value, or `""` when unset (Go's `os.Getenv`).
/// A value that is not UTF-8 has its bad bytes replaced.
pub(crate) fn env(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    let name = args::string(args, 0)?;
    // An empty name or one with `=` or NUL cannot be set; std would panic on some.
    if name.is_empty() || name.contains(['=', '\0']) {
        return Ok(Value::string(""));
    }
    let value = std::env::var_os(&*name)
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Value::string(value))
}
