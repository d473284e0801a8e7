//! The `file` namespace: `path_join` (LANGUAGE.md §5.1).

use alloy_syntax::value::{Value, ValueError};

use crate::args::{self, Entry};

pub(crate) const ENTRIES: &[Entry] = &[("path_join", "file.path_join", path_join)];

/// The separator Go's `filepath` uses on this OS.
const SEPARATOR: char = std::path::MAIN_SEPARATOR;

/// `file.path_join(...parts)`: Go's `filepath.Join`: empty parts are skipped, the rest
/// joined with the separator and cleaned. No non-empty parts give `""`.
pub(crate) fn path_join(args: &[Value]) -> Result<Value, ValueError> {
    let mut parts = Vec::with_capacity(args.len());
    for i in 0..args.len() {
        parts.push(args::string(args, i)?);
    }
    let joined: Vec<&str> = parts
        .iter()
        .map(|p| &**p)
        .filter(|p| !p.is_empty())
        .collect();
    if joined.is_empty() {
        return Ok(Value::string(""));
    }
    Ok(Value::string(clean(&joined.join(&SEPARATOR.to_string()))))
}

/// Go's `path.Clean` with the OS separator: collapses doubled separators, drops `.`,
/// resolves `..` lexically, and removes a trailing separator. An empty result is `.`.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with(SEPARATOR);
    let mut out: Vec<&str> = Vec::new();
    for part in path.split(SEPARATOR) {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|p| *p != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
                // `..` at the root stays at the root.
            }
            p => out.push(p),
        }
    }
    let body = out.join(&SEPARATOR.to_string());
    match (rooted, body.is_empty()) {
        (true, _) => format!("{SEPARATOR}{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn clean_follows_go() {
        assert_eq!(clean("a/../b/c/"), "b/c");
        assert_eq!(clean("/../a//b/./c/.."), "/a/b");
        assert_eq!(clean("../../a"), "../../a");
        assert_eq!(clean("a/.."), ".");
        assert_eq!(clean("/"), "/");
    }

    #[test]
    fn join_skips_empty_parts() {
        let v = path_join(&[
            Value::string(""),
            Value::string("a"),
            Value::string(""),
            Value::string("../b"),
        ])
        .unwrap();
        assert!(matches!(v, Value::String(ref s) if &**s == "b"));
        let v = path_join(&[Value::string(""), Value::string("")]).unwrap();
        assert!(matches!(v, Value::String(ref s) if s.is_empty()));
    }
}
