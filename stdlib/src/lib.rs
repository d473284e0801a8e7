//! The Alloy standard library (LANGUAGE.md §5): namespaces as object values of functions.
//!
//! Where to start reading: [`Stdlib`] holds every top-level identifier (`string`,
//! `encoding`, `coalesce`, the deprecated aliases, ...) and is what the evaluator
//! falls back to after its own scope (§4.8). Each namespace is one file with a table
//! of `(name, full name, fn)` entries: [`string`] (with Go's `Sprintf` in
//! [`string::format`]), `encoding`, `array`, `sys`, `file`, `convert` and `constants`;
//! `coalesce` and `json_path` live at the top level. `args` has the arity and
//! conversion helpers every function uses, and `json` reads JSON as Go does. [`lint`]
//! finds uses of deprecated and experimental functions in a syntax tree, for
//! `alloy validate`.

mod args;
mod array;
mod coalesce;
mod constants;
mod convert;
mod encoding;
mod file;
mod json;
mod json_path;
pub mod lint;
pub mod string;
mod sys;
mod yaml;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use alloy_syntax::value::Value;

pub use lint::{
    deprecation_warnings, experimental_uses, expr_deprecation_warnings, ExperimentalUse,
};

/// Deprecated top-level names and their namespaced replacements (§5.3). They resolve
/// to the very same functions.
pub const DEPRECATED_ALIASES: &[(&str, &str)] = &[
    ("base64_decode", "encoding.from_base64"),
    ("concat", "array.concat"),
    ("env", "sys.env"),
    ("format", "string.format"),
    ("join", "string.join"),
    ("json_decode", "encoding.from_json"),
    ("nonsensitive", "convert.nonsensitive"),
    ("replace", "string.replace"),
    ("split", "string.split"),
    ("to_lower", "string.to_lower"),
    ("to_upper", "string.to_upper"),
    ("trim", "string.trim"),
    ("trim_prefix", "string.trim_prefix"),
    ("trim_space", "string.trim_space"),
    ("trim_suffix", "string.trim_suffix"),
    ("yaml_decode", "encoding.from_yaml"),
];

/// Functions that need `--stability.level=experimental` (§5.1, §10).
pub const EXPERIMENTAL: &[&str] = &["array.combine_maps", "array.group_by"];

/// The warning `alloy validate` prints for a deprecated name (§5.3).
pub const DEPRECATION_MESSAGE: &str =
    "this stdlib function is deprecated; please refer to the documentation for updated usage and alternatives";

/// The warning `alloy validate` gives when a reference's first name is both a
/// component and a standard-library name (§10).
pub const SHADOWING_MESSAGE: &str = "a component is shadowing an existing stdlib name";

/// The replacement of a deprecated top-level alias, such as `sys.env` for `env`.
pub fn deprecated_alias(name: &str) -> Option<&'static str> {
    DEPRECATED_ALIASES
        .iter()
        .find(|(old, _)| *old == name)
        .map(|(_, new)| *new)
}

/// Whether `full_name` (such as `array.group_by`) is an experimental function.
pub fn is_experimental(full_name: &str) -> bool {
    EXPERIMENTAL.contains(&full_name)
}

/// Every top-level identifier of the standard library.
#[derive(Clone)]
pub struct Stdlib {
    idents: BTreeMap<&'static str, Value>,
}

impl Stdlib {
    /// The standard library of this build; `constants.version` is the crate version.
    pub fn new() -> Stdlib {
        Stdlib::with_version(env!("CARGO_PKG_VERSION"))
    }

    /// The standard library with `constants.version` derived from `version`.
    pub fn with_version(version: &str) -> Stdlib {
        let mut idents = BTreeMap::new();
        idents.insert("array", args::namespace(array::ENTRIES));
        idents.insert("constants", constants::namespace(version));
        idents.insert("convert", args::namespace(convert::ENTRIES));
        idents.insert("encoding", args::namespace(encoding::ENTRIES));
        idents.insert("file", args::namespace(file::ENTRIES));
        idents.insert("string", args::namespace(string::ENTRIES));
        idents.insert("sys", args::namespace(sys::ENTRIES));
        idents.insert("coalesce", args::function("coalesce", coalesce::coalesce));
        idents.insert(
            "json_path",
            args::function("json_path", json_path::json_path),
        );
        for (old, new) in DEPRECATED_ALIASES {
            let (ns, name) = new.split_once('.').expect("replacements are namespaced");
            let Some(Value::Object(fields)) = idents.get(ns) else {
                continue;
            };
            if let Some(f) = fields.get(name).cloned() {
                idents.insert(old, f);
            }
        }
        Stdlib { idents }
    }

    /// The value of a top-level identifier, if the standard library defines it.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        self.idents.get(name).cloned()
    }

    /// Whether `name` is a standard-library identifier (for shadowing warnings).
    pub fn contains(&self, name: &str) -> bool {
        self.idents.contains_key(name)
    }

    /// All top-level names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.idents.keys().copied()
    }
}

impl Default for Stdlib {
    fn default() -> Stdlib {
        Stdlib::new()
    }
}

/// A shared standard library for callers that need no custom version.
pub fn stdlib() -> &'static Stdlib {
    static STDLIB: OnceLock<Stdlib> = OnceLock::new();
    STDLIB.get_or_init(Stdlib::new)
}

/// `vars` with the shared standard library behind it: the scope an expression sees
/// (§4.8). Names in `vars` shadow the standard library.
pub fn scope<S: alloy_syntax::eval::Scope>(
    vars: S,
) -> alloy_syntax::eval::Layered<S, &'static Stdlib> {
    alloy_syntax::eval::Layered(vars, stdlib())
}

/// Looks `name` up in the shared standard library.
pub fn lookup(name: &str) -> Option<Value> {
    stdlib().lookup(name)
}

impl alloy_syntax::eval::Scope for Stdlib {
    fn lookup(&self, name: &str) -> Option<Value> {
        Stdlib::lookup(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_syntax::eval::{eval_str, EmptyScope, Layered, Scope};

    #[test]
    fn aliases_resolve_to_the_namespaced_functions() {
        let lib = Stdlib::new();
        for (old, new) in DEPRECATED_ALIASES {
            let Some(Value::Function(f)) = lib.lookup(old) else {
                panic!("{old} is not a function");
            };
            assert_eq!(f.name, *new);
            assert_eq!(deprecated_alias(old), Some(*new));
        }
        assert_eq!(deprecated_alias("coalesce"), None);
        assert!(is_experimental("array.group_by"));
    }

    #[test]
    fn conformance_runner_knows_every_name() {
        // The syntax crate's runner decides which cases need the stdlib by this list.
        let names: Vec<&str> = Stdlib::new().names().collect();
        assert_eq!(names, alloy_syntax::conformance::STDLIB_NAMES);
    }

    #[test]
    fn constants_use_go_names() {
        let lib = Stdlib::with_version("");
        let Some(Value::Object(c)) = lib.lookup("constants") else {
            panic!("constants is an object");
        };
        assert_eq!(format!("{:?}", c["version"]), "\"v0.0.0\"");
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(format!("{:?}", c["os"]), "\"linux\"");
            assert_eq!(format!("{:?}", c["arch"]), "\"amd64\"");
        }
    }

    #[test]
    fn scope_layers_variables_over_the_stdlib() {
        let mut vars = std::collections::BTreeMap::new();
        vars.insert("sys".to_string(), Value::string("mine"));
        let scoped = scope(vars);
        assert!(matches!(scoped.lookup("sys"), Some(Value::String(_))));
        assert!(matches!(scoped.lookup("string"), Some(Value::Object(_))));
        let v = eval_str("", "string.format(\"%d-%s\", 1, sys)", &scoped).unwrap();
        assert_eq!(format!("{v:?}"), "\"1-mine\"");
        assert!(eval_str("", "string.nope", &Layered(EmptyScope, stdlib())).is_err());
    }
}
