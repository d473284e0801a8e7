//! The `string` namespace: Go's `fmt.Sprintf` and `strings` helpers (LANGUAGE.md §5.1).

pub mod format;

use alloy_syntax::value::{self, Value, ValueError};

use crate::args::{self, Entry};

pub(crate) const ENTRIES: &[Entry] = &[
    ("format", "string.format", format),
    ("join", "string.join", join),
    ("replace", "string.replace", replace),
    ("split", "string.split", split),
    ("to_lower", "string.to_lower", to_lower),
    ("to_upper", "string.to_upper", to_upper),
    ("trim", "string.trim", trim),
    ("trim_prefix", "string.trim_prefix", trim_prefix),
    ("trim_suffix", "string.trim_suffix", trim_suffix),
    ("trim_space", "string.trim_space", trim_space),
];

/// `string.format(format, ...args)`: the format is converted to a string, the rest
/// are passed as they are (§5.2).
pub(crate) fn format(args: &[Value]) -> Result<Value, ValueError> {
    args::at_least(args, 1)?;
    let spec = args::string(args, 0)?;
    format::sprintf(&spec, &args[1..])
        .map(Value::string)
        .map_err(ValueError::message)
}

/// `string.join(array[string], sep)`; number elements convert to strings.
pub(crate) fn join(args: &[Value]) -> Result<Value, ValueError> {
    let [list, _] = args::fixed(args)?;
    let items = value::to_array_target(list).map_err(|e| e.in_arg(0))?;
    let sep = args::string(args, 1)?;
    let mut parts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let s = value::to_string_target(item).map_err(|e| e.in_element(i).in_arg(0))?;
        parts.push(s);
    }
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(&sep);
        }
        out.push_str(part);
    }
    Ok(Value::string(out))
}

/// `string.replace(s, old, new)`: every occurrence. An empty `old` matches before each
/// character and at the end, as in Go and Rust alike.
pub(crate) fn replace(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<3>(args)?;
    let s = args::string(args, 0)?;
    let old = args::string(args, 1)?;
    let new = args::string(args, 2)?;
    Ok(Value::string(s.replace(&*old, &new)))
}

/// `string.split(s, sep)`: Go's `strings.Split`; an empty separator splits into
/// characters (and an empty string into nothing).
pub(crate) fn split(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<2>(args)?;
    let s = args::string(args, 0)?;
    let sep = args::string(args, 1)?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::string(c.to_string())).collect()
    } else {
        s.split(&*sep).map(Value::string).collect()
    };
    Ok(Value::array(parts))
}

/// Go maps case one character to one character (simple case mapping). Rust's full
/// mapping can produce several (`ß` → `SS`); those characters keep Go's result: the
/// first character when lowering (`İ` → `i`), unchanged when raising, except the
/// Greek letters with iota subscript, whose simple uppercase is the titlecase form.
fn map_case(s: &str, upper: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if upper {
            let mut it = c.to_uppercase();
            match (it.next(), it.next()) {
                (Some(u), None) => out.push(u),
                _ => out.push(greek_iota_upper(c).unwrap_or(c)),
            }
        } else {
            out.push(c.to_lowercase().next().unwrap_or(c));
        }
    }
    out
}

/// Simple uppercase of the Greek letters with ypogegrammeni (U+1F80..U+1FF3), which
/// full case mapping expands to two characters.
fn greek_iota_upper(c: char) -> Option<char> {
    let u = c as u32;
    let mapped = match u {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => u + 8,
        0x1FB3 | 0x1FC3 | 0x1FF3 => u + 9,
        _ => return None,
    };
    char::from_u32(mapped)
}

pub(crate) fn to_lower(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    Ok(Value::string(map_case(&args::string(args, 0)?, false)))
}

pub(crate) fn to_upper(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    Ok(Value::string(map_case(&args::string(args, 0)?, true)))
}

/// `string.trim(s, cutset)`: strips leading and trailing characters found in the set.
pub(crate) fn trim(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<2>(args)?;
    let s = args::string(args, 0)?;
    let cutset = args::string(args, 1)?;
    Ok(Value::string(s.trim_matches(|c| cutset.contains(c))))
}

pub(crate) fn trim_prefix(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<2>(args)?;
    let s = args::string(args, 0)?;
    let prefix = args::string(args, 1)?;
    Ok(Value::string(s.strip_prefix(&*prefix).unwrap_or(&s)))
}

pub(crate) fn trim_suffix(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<2>(args)?;
    let s = args::string(args, 0)?;
    let suffix = args::string(args, 1)?;
    Ok(Value::string(s.strip_suffix(&*suffix).unwrap_or(&s)))
}

/// Go's `unicode.IsSpace` is the Unicode White_Space property, as is Rust's
/// `char::is_whitespace`.
pub(crate) fn trim_space(args: &[Value]) -> Result<Value, ValueError> {
    args::fixed::<1>(args)?;
    Ok(Value::string(args::string(args, 0)?.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn text(v: Value) -> String {
        match v {
            Value::String(s) => s.to_string(),
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn case_mapping_is_per_character() {
        assert_eq!(map_case("straße", true), "STRAßE");
        assert_eq!(map_case("İ", false), "i");
        assert_eq!(map_case("ΟΔΟΣ", false), "οδοσ");
        assert_eq!(map_case("ᾀᾳῳ", true), "ᾈᾼῼ");
    }

    #[test]
    fn split_and_replace_follow_go() {
        let parts = |v: Value| match v {
            Value::Array(a) => a.iter().cloned().map(text).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(parts(split(&[s("a,"), s(",")]).unwrap()), ["a", ""]);
        assert_eq!(parts(split(&[s(""), s(",")]).unwrap()), [""]);
        assert_eq!(parts(split(&[s("abé"), s("")]).unwrap()), ["a", "b", "é"]);
        assert!(parts(split(&[s(""), s("")]).unwrap()).is_empty());
        assert_eq!(text(replace(&[s("ab"), s(""), s("-")]).unwrap()), "-a-b-");
        assert_eq!(text(trim(&[s("xxhixyx"), s("xy")]).unwrap()), "hi");
        assert_eq!(text(trim(&[s("ab"), s("")]).unwrap()), "ab");
        assert_eq!(
            text(trim_space(&[s("\u{a0}\u{85} hi\u{3000}\n")]).unwrap()),
            "hi"
        );
    }

    #[test]
    fn arity_errors_use_upstream_wording() {
        let err = |r: Result<Value, ValueError>| format!("{:?}", r.unwrap_err());
        assert_eq!(err(join(&[s("a")])), "expected 2 args, got 1");
        assert_eq!(err(format(&[])), "expected at least 1 args, got 0");
    }
}
