//! The `convert` namespace: `nonsensitive`, the one way out of a secret (§4.7).

use alloy_syntax::value::{self, Value, ValueError};

use crate::args::{self, Entry};

pub(crate) const ENTRIES: &[Entry] = &[("nonsensitive", "convert.nonsensitive", nonsensitive)];

/// `convert.nonsensitive(secret)`: the argument converts to a secret first (strings
/// and optional secrets do), then its text is returned as a plain string.
pub(crate) fn nonsensitive(args: &[Value]) -> Result<Value, ValueError> {
    let [arg] = args::fixed(args)?;
    let secret = value::to_secret_target(arg).map_err(|e| e.in_arg(0))?;
    Ok(Value::String(secret))
}
