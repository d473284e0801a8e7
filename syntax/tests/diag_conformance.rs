//! The plain diagnostic printer against upstream's printer tests, transcribed in
//! `cases/diag_printer.json` (mode `diag_print`), and against the one `validate` case
//! that is only syntax errors; all read in place.

use alloy_syntax::diag::{render_plain, Diagnostic, LineIndex, Span};
use alloy_syntax::parse_file;
use alloy_testdata::{alloy_syntax, Harness};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;

/// Byte offset of a `{filename, line, column}` position in its file's text.
fn offset(pos: &Json, files: &HashMap<String, String>) -> Result<(String, u32), String> {
    let file = pos["filename"]
        .as_str()
        .ok_or("position without filename")?;
    let text = files.get(file).ok_or_else(|| format!("no file {file:?}"))?;
    let line = pos["line"].as_u64().ok_or("position without line")? as u32;
    let col = pos["column"].as_u64().ok_or("position without column")? as u32;
    Ok((file.to_string(), LineIndex::new(text).offset(line, col)))
}

/// Turns a case's diagnostic into ours: upstream's inclusive end becomes an exclusive
/// span end, and a missing end becomes an empty span.
fn diagnostic(d: &Json, files: &HashMap<String, String>) -> Result<Diagnostic, String> {
    let (file, start) = offset(&d["start"], files)?;
    let end = if d["end"].is_object() {
        offset(&d["end"], files)?.1 + 1
    } else {
        start
    };
    let file: Arc<str> = Arc::from(file);
    let message = d["message"].as_str().unwrap_or_default();
    let span = Span::new(start, end);
    Ok(match d["severity"].as_str() {
        Some("warning") => Diagnostic::warning("test", &file, span, message),
        Some("error") => Diagnostic::error("test", &file, span, message),
        other => return Err(format!("unknown severity {other:?}")),
    })
}

fn diag_print(case: &Json) -> Result<(), String> {
    let files: HashMap<String, String> = case["files"]
        .as_object()
        .ok_or("case without files")?
        .iter()
        .map(|(name, text)| (name.clone(), text.as_str().unwrap_or_default().to_string()))
        .collect();
    let diags = case["diagnostics"]
        .as_array()
        .ok_or("case without diagnostics")?
        .iter()
        .map(|d| diagnostic(d, &files))
        .collect::<Result<Vec<_>, _>>()?;
    let got = render_plain(&diags, &files);
    let want = case["expect"].as_str().unwrap_or_default();
    if got == want {
        Ok(())
    } else {
        Err(format!("got:\n{got}\nwant:\n{want}"))
    }
}

#[test]
fn diag_printer_cases() {
    let Some(path) = alloy_syntax("cases/diag_printer.json") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("case file is readable");
    let cases: Vec<Json> = serde_json::from_str(&text).expect("case file is JSON");
    let mut h = Harness::new("diag_printer");
    for case in &cases {
        let name = case["name"].as_str().unwrap_or_default();
        let result = match case["mode"].as_str() {
            Some("diag_print") => diag_print(case),
            other => Err(format!("unknown mode {other:?}")),
        };
        h.record(name, result);
    }
    h.finish();
}

/// The validator case made only of syntax errors, across two files: parsing each file
/// and printing every diagnostic together must give upstream's `validate` output.
#[test]
fn validator_syntax_errors_print_like_upstream() {
    let Some(dir) = alloy_syntax("validator/default") else {
        return;
    };
    let archive = std::fs::read_to_string(dir.join("syntax_errors.txtar")).expect("readable");
    let want = std::fs::read_to_string(dir.join("syntax_errors.diags")).expect("readable");
    let mut files = alloy_testdata::txtar_files(&archive);
    files.sort();
    let mut diags = Vec::new();
    for (name, text) in &files {
        diags.extend(parse_file(name, text).diagnostics);
    }
    let sources: HashMap<String, String> = files.into_iter().collect();
    assert_eq!(render_plain(&diags, &sources), want);
}
