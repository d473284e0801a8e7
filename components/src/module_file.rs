//! The source behind `import.file` and `module.file`: `local.file`'s following of a
//! path, except that the path may be a directory, which is one module made of every
//! `*.alloy` file directly in it (COMPONENTS.md §1.2).

use crate::local_file::{read, LocalFile, LocalFileArgs};
use alloy_runtime::component::{BoxFuture, Component, Health, Options};
use alloy_syntax::value::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A module file or directory, followed like `local.file` follows a file.
pub struct ModuleFile {
    inner: Arc<LocalFile>,
}

/// A file's content as `{content = ...}`; a directory's `*.alloy` files (no
/// recursion, in name order) as `{files = {path = content}}`.
fn read_module(args: &LocalFileArgs) -> Result<Value, String> {
    let dir = std::path::Path::new(&args.filename);
    if !dir.is_dir() {
        return read(args);
    }
    let files = alloy_runtime::source::config_paths(dir).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("failed to read file {}: {e}", path.display()))?;
        out.insert(path.display().to_string(), Value::string(text));
    }
    Ok(Value::object(BTreeMap::from([(
        "files".to_string(),
        Value::object(out),
    )])))
}

impl Component for ModuleFile {
    type Arguments = LocalFileArgs;

    fn build(opts: Options, args: LocalFileArgs) -> Result<Self, String> {
        Ok(ModuleFile {
            inner: Arc::new(LocalFile::with_reader(opts, args, read_module)?),
        })
    }

    fn update(&self, args: LocalFileArgs) -> Result<(), String> {
        self.inner.update(args)
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        self.inner.clone().run(cancel)
    }

    fn health(&self) -> Option<Health> {
        self.inner.health()
    }
}
