//! Locates test fixtures: ours under `testdata/`, upstream's conformance data in
//! `shared/conformance/` beside the checkout, and the known-failures list.
//!
//! Conformance data is read in place and never copied into the repository. With `CI`
//! set, missing data fails the run; locally the caller is told to skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// This crate's own folder: the root of our fixtures.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `shared/conformance` folder: `$ALLOY_CONFORMANCE` if set, otherwise the first
/// `shared/conformance` found beside the checkout or any folder above it.
/// Panics under CI when it cannot be found, so a missing checkout never passes silently.
pub fn conformance_root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ALLOY_CONFORMANCE") {
        return Some(PathBuf::from(dir));
    }
    let found = fixtures()
        .ancestors()
        .map(|dir| dir.join("shared").join("conformance"))
        .find(|candidate| candidate.is_dir());
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!("shared/conformance not found beside the checkout; set ALLOY_CONFORMANCE");
    }
    if found.is_none() {
        eprintln!("skipping: shared/conformance not found (set ALLOY_CONFORMANCE)");
    }
    found
}

/// `shared/conformance/alloy-syntax/<rel>`, or `None` (after a note) when absent.
pub fn alloy_syntax(rel: &str) -> Option<PathBuf> {
    conformance_root().map(|root| root.join("alloy-syntax").join(rel))
}

/// Whether tests should rewrite our own expected files (`UPDATE_EXPECT=1`).
pub fn update_mode() -> bool {
    std::env::var_os("UPDATE_EXPECT").is_some()
}

/// Cases of `family` listed in `testdata/known-failures.txt`, with their reasons.
/// Lines look like `family case-name # reason`.
pub fn known_failures(family: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(fixtures().join("known-failures.txt")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (head, reason) = line.split_once(" # ").unwrap_or((line, ""));
            let (fam, case) = head.split_once(' ')?;
            (fam == family).then(|| (case.trim().to_string(), reason.trim().to_string()))
        })
        .collect()
}

/// Outcome of one data-driven family: pass every case not listed as a known failure,
/// fail every listed case, and report all mismatches at once.
pub struct Harness {
    family: String,
    known: BTreeMap<String, String>,
    failures: Vec<String>,
    unexpected_passes: Vec<String>,
    ran: usize,
    /// Cases not run, counted by reason (printed by `finish`).
    skipped: BTreeMap<String, usize>,
}

impl Harness {
    pub fn new(family: &str) -> Harness {
        Harness {
            family: family.to_string(),
            known: known_failures(family),
            failures: Vec::new(),
            unexpected_passes: Vec::new(),
            ran: 0,
            skipped: BTreeMap::new(),
        }
    }

    /// Records the result of case `name`: `Ok(())` or a description of the mismatch.
    pub fn record(&mut self, name: &str, result: Result<(), String>) {
        self.ran += 1;
        let known = self.known.contains_key(name);
        match (result, known) {
            (Ok(()), true) => self.unexpected_passes.push(name.to_string()),
            (Err(why), false) => self.failures.push(format!("--- {name}\n{why}")),
            _ => {}
        }
    }

    /// Counts a case that was not run, and why.
    pub fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_insert(0) += 1;
    }

    /// Panics with every failure when any case failed or a known failure now passes.
    pub fn finish(self) {
        for (why, count) in &self.skipped {
            eprintln!("{}: skipped {count}: {why}", self.family);
        }
        eprintln!(
            "{}: {} cases, {} known failures",
            self.family,
            self.ran,
            self.known.len()
        );
        let mut report = String::new();
        for f in &self.failures {
            report.push_str(f);
            report.push('\n');
        }
        for p in &self.unexpected_passes {
            report.push_str(&format!(
                "--- {p}\nlisted in testdata/known-failures.txt but passes now: remove it\n"
            ));
        }
        assert!(
            report.is_empty(),
            "{}: {} failing, {} unexpectedly passing of {}\n{report}",
            self.family,
            self.failures.len(),
            self.unexpected_passes.len(),
            self.ran
        );
    }
}

/// Files in `dir` whose names end with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_str().is_some_and(|s| s.ends_with(suffix)))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A generated `.alloy` config of about `size` bytes, made by the shared benchmark
/// generator (`shared/bench/lib/gen_config.py`) and cached under the target directory.
/// `None` when the shared folder or python3 is missing.
pub fn generated_config(size: usize) -> Option<String> {
    let shared = conformance_root()?.parent()?.to_path_buf();
    let script = shared.join("bench").join("lib").join("gen_config.py");
    let cache_dir = fixtures().parent()?.join("target").join("bench-inputs");
    std::fs::create_dir_all(&cache_dir).ok()?;
    let cached = cache_dir.join(format!("config-{size}.alloy"));
    if let Ok(text) = std::fs::read_to_string(&cached) {
        return Some(text);
    }
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(size.to_string())
        .arg("1")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    std::fs::write(&cached, &text).ok()?;
    Some(text)
}

/// The files of a txtar archive (as upstream's validator cases use): `-- name --`
/// lines start a file that runs to the next marker; text before the first marker is
/// the archive's comment and is dropped.
pub fn txtar_files(archive: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in archive.split_inclusive('\n') {
        let marker = line
            .trim_end_matches('\n')
            .strip_prefix("-- ")
            .and_then(|rest| rest.strip_suffix(" --"));
        match (marker, files.last_mut()) {
            (Some(name), _) => files.push((name.to_string(), String::new())),
            (None, Some((_, text))) => text.push_str(line),
            (None, None) => {}
        }
    }
    files
}
