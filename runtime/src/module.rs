//! Modules (RUNTIME.md §9): the custom-component definitions a scope can instantiate
//! (`declare` blocks and `import.*` namespaces), checking fetched module content, the
//! scope a module body evaluates in (`module_path`), and the last-known-good copy of
//! fetched modules kept under `--storage.path`.

use crate::source::{parse_sources, SourceFile};
use alloy_syntax::ast::{Block, Stmt};
use alloy_syntax::eval::Scope;
use alloy_syntax::value::{Capsule, Value};
use alloy_syntax::Diagnostic;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The file a fetched module's last accepted content is kept in, inside the import's
/// data directory, so a restart during the source's outage still runs the module.
pub const LAST_GOOD_FILE: &str = "last-good-module.alloy";

/// A `declare` block: the template of a custom component.
#[derive(Debug)]
pub struct DeclareDef {
    pub file: Arc<SourceFile>,
    pub block: Block,
    /// `module_path` inside instances: the directory or URL the definition came from.
    pub module_path: Value,
}

/// The current definitions of one `import.*` namespace, replaced whenever the import
/// accepts new content. `None` until the first content arrives.
#[derive(Debug, Default)]
pub struct ImportSlot {
    defs: Mutex<Option<Arc<Defs>>>,
}

impl ImportSlot {
    pub fn get(&self) -> Option<Arc<Defs>> {
        self.defs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, defs: Arc<Defs>) {
        *self.defs.lock().unwrap_or_else(|e| e.into_inner()) = Some(defs);
    }
}

/// What custom component names a scope can instantiate: its own declares and import
/// namespaces, then those of the enclosing scopes.
#[derive(Debug, Default)]
pub struct Defs {
    pub declares: HashMap<String, Arc<DeclareDef>>,
    pub imports: HashMap<String, Arc<ImportSlot>>,
    pub parent: Option<Arc<Defs>>,
}

/// The outcome of resolving a custom component name.
pub enum Lookup {
    /// The definition, and the scope it was defined in (what its body may instantiate).
    Found(Arc<DeclareDef>, Arc<Defs>),
    /// The namespace is an import that has no content yet.
    NotLoaded(String),
    /// The namespace is an import whose module lacks this declare.
    Missing {
        namespace: String,
        name: String,
    },
    NotFound,
}

impl Defs {
    /// Whether `name` names something instantiable here, known before any import has
    /// fetched: an import namespace or a declare, in this scope or an enclosing one.
    pub fn knows(&self, name: &str) -> bool {
        let namespace = name.split_once('.').map(|(ns, _)| ns);
        let mut scope = Some(self);
        while let Some(defs) = scope {
            if namespace.is_some_and(|ns| defs.imports.contains_key(ns))
                || defs.declares.contains_key(name)
            {
                return true;
            }
            scope = defs.parent.as_deref();
        }
        false
    }

    /// Resolves `name` as upstream: split on the first dot; if the namespace is an
    /// import in scope, the declare comes from that import; otherwise the whole name
    /// is a declare in scope. The nearest scope wins.
    pub fn lookup(self: &Arc<Self>, name: &str) -> Lookup {
        let split = name.split_once('.');
        let mut scope = Some(self.clone());
        while let Some(defs) = scope {
            if let Some((ns, rest)) = split {
                if let Some(slot) = defs.imports.get(ns) {
                    let Some(imported) = slot.get() else {
                        return Lookup::NotLoaded(ns.to_string());
                    };
                    return match imported.declares.get(rest) {
                        Some(def) => Lookup::Found(def.clone(), imported.clone()),
                        None => Lookup::Missing {
                            namespace: ns.to_string(),
                            name: rest.to_string(),
                        },
                    };
                }
            }
            if let Some(def) = defs.declares.get(name) {
                return Lookup::Found(def.clone(), defs.clone());
            }
            scope = defs.parent.clone();
        }
        Lookup::NotFound
    }
}

/// Parses fetched module content (`name` is where it came from, for diagnostics).
pub fn parse_module(name: &str, text: &str) -> Result<Arc<SourceFile>, Vec<Diagnostic>> {
    match parse_sources(vec![(name.to_string(), text.as_bytes().to_vec())]) {
        Ok((mut files, diags)) if diags.is_empty() => Ok(Arc::new(files.remove(0))),
        Ok((_, diags)) => Err(diags),
        Err(err) => Err(vec![Diagnostic::error(
            "alloy::module",
            &Arc::from(name),
            Default::default(),
            err.to_string(),
        )]),
    }
}

/// The declares of an imported module, and the names of its own `import.*` blocks
/// (which the caller runs). Such a module may contain only `declare` and `import.*`
/// blocks; a repeated declare label keeps the first, as upstream.
pub fn imported_defs(
    file: &Arc<SourceFile>,
    module_path: &Value,
) -> Result<(Defs, Vec<String>), String> {
    let src = file.text.as_str();
    let mut defs = Defs::default();
    let mut imports = Vec::new();
    for stmt in &file.file.body {
        let got = match stmt {
            Stmt::Attribute(attr) => attr.name.text(src).to_string(),
            Stmt::Block(block) => {
                let name = block.name_text(src);
                if name == "declare" {
                    match block.label(src) {
                        Some(label) => {
                            defs.declares.entry(label.to_string()).or_insert_with(|| {
                                Arc::new(DeclareDef {
                                    file: file.clone(),
                                    block: (**block).clone(),
                                    module_path: module_path.clone(),
                                })
                            });
                        }
                        None => return Err("declare block must have a label".to_string()),
                    }
                    continue;
                }
                if name.starts_with("import.") {
                    imports.push(name);
                    continue;
                }
                name
            }
        };
        return Err(format!(
            "only declare and import blocks are allowed in a module, got {got}"
        ));
    }
    Ok((defs, imports))
}

/// A module source's content: one text (`None` name: it is named after where it came
/// from), or the `*.alloy` files of a directory by path.
pub type Content = Vec<(Option<String>, String)>;

/// The content of a source's exports: `content` (a string or a secret), or `files`, an
/// object of file path to text, for a directory.
pub fn content_of(exports: &Value) -> Option<Content> {
    let fields = exports.as_object()?;
    if let Some(files) = fields.get("files").and_then(Value::as_object) {
        return files
            .iter()
            .map(|(path, text)| Some((Some(path.clone()), text_of(text)?)))
            .collect();
    }
    Some(vec![(None, text_of(fields.get("content")?)?)])
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_string()),
        Value::Capsule(Capsule::Secret(s)) => Some(s.to_string()),
        Value::Capsule(Capsule::OptionalSecret { value, .. }) => Some(value.to_string()),
        _ => None,
    }
}

/// `module_path` for content fetched from `location`: the URL without its last path
/// segment, or the file's directory.
pub fn module_path_of(location: &str) -> String {
    if location.contains("://") {
        match location.rfind('/') {
            Some(i) if i > location.find("://").unwrap_or(0) + 2 => location[..i].to_string(),
            _ => location.to_string(),
        }
    } else {
        let path = Path::new(location);
        if path.is_dir() {
            return location.to_string();
        }
        match path.parent().map(|p| p.display().to_string()) {
            Some(dir) if !dir.is_empty() => dir,
            _ => ".".to_string(),
        }
    }
}

/// Keeps `text` as the last good module of the import whose data directory is `dir`.
/// Written to a temporary file and renamed, so a crash never leaves half a module.
pub fn persist_last_good(dir: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join(LAST_GOOD_FILE);
    let tmp = dir.join(format!(".{LAST_GOOD_FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &target)
}

/// The last good module kept for the import whose data directory is `dir`.
pub fn read_last_good(dir: &Path) -> Option<(PathBuf, String)> {
    let path = dir.join(LAST_GOOD_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    Some((path, text))
}

/// The scope a module body evaluates in: `module_path`, then the base scope.
pub struct ModuleScope<S> {
    pub module_path: Value,
    pub base: S,
}

impl<S: Scope> Scope for ModuleScope<S> {
    fn lookup(&self, name: &str) -> Option<Value> {
        if name == "module_path" {
            return Some(self.module_path.clone());
        }
        self.base.lookup(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs_of(text: &str) -> Result<Defs, String> {
        let file = parse_module("m.alloy", text).expect("parses");
        imported_defs(&file, &Value::string("/m")).map(|(defs, _)| defs)
    }

    #[test]
    fn imported_modules_hold_only_declares() {
        let defs =
            defs_of("declare \"a\" { }\ndeclare \"a\" { x {} }\ndeclare \"b\" {}\n").unwrap();
        assert_eq!(defs.declares.len(), 2);
        assert!(
            defs.declares["a"].block.body.is_empty(),
            "first declare wins"
        );
        assert_eq!(
            defs_of("argument \"x\" {}\n").unwrap_err(),
            "only declare and import blocks are allowed in a module, got argument"
        );
        assert_eq!(
            defs_of("x = 1\n").unwrap_err(),
            "only declare and import blocks are allowed in a module, got x"
        );
    }

    #[test]
    fn lookup_prefers_import_namespaces_then_nearest_declares() {
        let file = parse_module("m.alloy", "declare \"inner\" {}\n").unwrap();
        let imported = Arc::new(imported_defs(&file, &Value::Null).unwrap().0);
        let slot = Arc::new(ImportSlot::default());
        let root = Arc::new(Defs {
            imports: HashMap::from([("ns".to_string(), slot.clone())]),
            ..Defs::default()
        });
        assert!(root.knows("ns.inner"));
        assert!(!root.knows("inner"));
        assert!(matches!(root.lookup("ns.inner"), Lookup::NotLoaded(ns) if ns == "ns"));
        slot.set(imported);
        assert!(matches!(root.lookup("ns.inner"), Lookup::Found(..)));
        assert!(matches!(root.lookup("ns.other"), Lookup::Missing { .. }));
        let child = Arc::new(Defs {
            parent: Some(root),
            ..Defs::default()
        });
        assert!(matches!(child.lookup("ns.inner"), Lookup::Found(..)));
        assert!(matches!(child.lookup("nothing"), Lookup::NotFound));
    }

    #[test]
    fn module_paths_drop_the_last_segment() {
        assert_eq!(
            module_path_of("http://127.0.0.1:80/mods/a.alloy"),
            "http://127.0.0.1:80/mods"
        );
        assert_eq!(module_path_of("http://host"), "http://host");
        assert_eq!(module_path_of("/etc/alloy/m.alloy"), "/etc/alloy");
    }

    #[test]
    fn last_good_round_trips() {
        let dir = std::env::temp_dir().join(format!("ferroalloy-lkg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(read_last_good(&dir).is_none());
        persist_last_good(&dir, "declare \"a\" {}").unwrap();
        assert_eq!(read_last_good(&dir).unwrap().1, "declare \"a\" {}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
