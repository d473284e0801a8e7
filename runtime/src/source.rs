//! Reading a configuration from disk: one file or every `*.alloy` file directly in a
//! directory, checked for encoding and parsed, with all parse errors collected.

use alloy_syntax::{ast, parser, Diagnostic};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One parsed source file. Spans in `file` index into `text`.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name diagnostics print: the path as the user gave it (joined for directories).
    pub name: Arc<str>,
    pub text: String,
    pub file: ast::File,
}

impl SourceFile {
    /// `name:line:col` of byte `offset`, as diagnostics refer to other places.
    pub fn position(&self, offset: u32) -> String {
        let (line, col) = alloy_syntax::diag::LineIndex::new(&self.text).line_col(offset);
        format!("{}:{line}:{col}", self.name)
    }
}

/// Why a configuration could not be read at all (before any parsing).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    // The I/O error is part of the message, not a `source`, so it prints once.
    #[error("reading {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: configuration is encoded with {encoding} but must be utf8")]
    WrongEncoding {
        path: String,
        encoding: &'static str,
    },
    #[error("{path}: unknown encoding for config")]
    UnknownEncoding { path: String },
}

/// The files that make up the configuration at `path`, in the order they are loaded:
/// the file itself, or every `*.alloy` file directly inside the directory (no
/// recursion) in lexicographic order of path, as upstream.
pub fn config_paths(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |error| LoadError::Io {
        path: path.display().to_string(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        let is_file = entry.file_type().map(|t| !t.is_dir()).unwrap_or(false);
        if is_file && p.extension().is_some_and(|ext| ext == "alloy") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Rejects UTF-16/UTF-32 byte-order marks and invalid UTF-8 the way upstream's loader
/// does; a UTF-8 BOM passes through to the parser.
pub fn check_encoding(path: &str, bytes: &[u8]) -> Result<(), LoadError> {
    let encoding = if bytes.starts_with(&[0x00, 0x00, 0xFE, 0xFF]) {
        Some("UTF-32BE")
    } else if bytes.starts_with(&[0xFF, 0xFE, 0x00, 0x00]) {
        Some("UTF-32LE")
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        Some("UTF-16BE")
    } else if bytes.starts_with(&[0xFF, 0xFE]) {
        Some("UTF-16LE")
    } else {
        None
    };
    if let Some(encoding) = encoding {
        return Err(LoadError::WrongEncoding {
            path: path.to_string(),
            encoding,
        });
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(LoadError::UnknownEncoding {
            path: path.to_string(),
        });
    }
    Ok(())
}

/// Reads and parses the configuration at `path`. Parse diagnostics of every file are
/// returned together; the files are returned even when some have errors so callers
/// can report everything in one run.
pub fn load(path: &Path) -> Result<(Vec<SourceFile>, Vec<Diagnostic>), LoadError> {
    let mut named = Vec::new();
    for p in config_paths(path)? {
        let name = p.display().to_string();
        let bytes = std::fs::read(&p).map_err(|error| LoadError::Io {
            path: name.clone(),
            error,
        })?;
        named.push((name, bytes));
    }
    parse_sources(named)
}

/// Parses already-read sources (name, bytes), in the given order.
pub fn parse_sources(
    sources: Vec<(String, Vec<u8>)>,
) -> Result<(Vec<SourceFile>, Vec<Diagnostic>), LoadError> {
    let mut files = Vec::with_capacity(sources.len());
    let mut diags = Vec::new();
    for (name, bytes) in sources {
        check_encoding(&name, &bytes)?;
        let (text, parsed) = parser::parse_bytes(&name, &bytes);
        diags.extend(parsed.diagnostics);
        files.push(SourceFile {
            name: Arc::from(name),
            text,
            file: parsed.file,
        });
    }
    Ok((files, diags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_utf16_and_invalid_utf8() {
        let err = check_encoding("a.alloy", &[0xFF, 0xFE, b'a', 0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.alloy: configuration is encoded with UTF-16LE but must be utf8"
        );
        let err = check_encoding("a.alloy", b"x = \xC3\x28").unwrap_err();
        assert_eq!(err.to_string(), "a.alloy: unknown encoding for config");
        assert!(check_encoding("a.alloy", "\u{FEFF}x {}".as_bytes()).is_ok());
    }

    #[test]
    fn directory_loads_alloy_files_sorted_without_recursion() {
        let dir = std::env::temp_dir().join(format!("ferroalloy-src-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        std::fs::write(dir.join("b.alloy"), "b {}\n").unwrap();
        std::fs::write(dir.join("a.alloy"), "a {\n").unwrap();
        std::fs::write(dir.join("c.txt"), "ignored").unwrap();
        std::fs::write(dir.join("nested/d.alloy"), "d {}").unwrap();
        let (files, diags) = load(&dir).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| Path::new(&*f.name).file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.alloy", "b.alloy"]);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].file.ends_with("a.alloy"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
