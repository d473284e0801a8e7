//! Scanner and parser conformance against upstream's data, read in place from
//! `shared/conformance/alloy-syntax/`: token cases, expression and file parse cases,
//! `/* ERROR */`-marked files, valid files, the fuzz corpus, and the 250 broken docs
//! examples whose exact `validate` output upstream recorded.

use alloy_syntax::diag::{render_plain, Diagnostic, LineIndex};
use alloy_syntax::lexer::{decode_source, is_valid_identifier, sanitize_identifier, Lexer};
use alloy_syntax::token::Token;
use alloy_syntax::{parse_expression, parse_file};
use alloy_testdata::{alloy_syntax, files_with_suffix, Harness};
use serde_json::Value as Json;
use std::collections::HashMap;

fn load_cases(name: &str) -> Option<Vec<Json>> {
    let path = alloy_syntax(&format!("cases/{name}"))?;
    let text = std::fs::read_to_string(&path).expect("case file is readable");
    Some(serde_json::from_str::<Vec<Json>>(&text).expect("case file is JSON"))
}

fn case_input(case: &Json) -> Vec<u8> {
    if let Some(hex) = case["input_hex"].as_str() {
        return (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
    }
    case["input"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec()
}

fn scan_one(case: &Json) -> Result<(), String> {
    let bytes = case_input(case);
    let (text, invalid) = decode_source(&bytes);
    let mut lexer = Lexer::with_invalid_utf8(&text, invalid).without_terminators();
    let tok = lexer.next_token();
    let errors = lexer.take_errors();
    let expect = &case["expect"];
    let mut problems = Vec::new();
    let kind = tok.kind.conformance_name();
    if expect["token"].as_str() != Some(kind) {
        problems.push(format!("token {kind}, want {}", expect["token"]));
    }
    if let Some(want) = expect["literal"].as_str() {
        let got = match tok.kind {
            Token::Comment => alloy_syntax::ast::Comment { span: tok.span }
                .text(&text)
                .into_owned(),
            k if k.binary_precedence() > 0
                || !k.as_str().chars().all(|c| c.is_ascii_uppercase()) =>
            {
                String::new()
            }
            Token::Illegal => want.to_string(),
            _ => text[tok.span.range()].to_string(),
        };
        if got != want {
            problems.push(format!("literal {got:?}, want {want:?}"));
        }
    }
    if let Some(want) = expect["error"].as_str() {
        let offset = expect["error_offset"].as_u64().unwrap_or(0) as u32;
        if !errors
            .iter()
            .any(|e| e.message == want && e.offset == offset)
        {
            problems.push(format!("errors {errors:?}, want {want:?} at {offset}"));
        }
    }
    if expect["errors"].as_u64() == Some(0) && !errors.is_empty() {
        problems.push(format!("unexpected errors {errors:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn scan_all(case: &Json) -> Result<(), String> {
    let text = String::from_utf8(case_input(case)).expect("utf-8 input");
    let kinds: Vec<&str> = Lexer::new(&text)
        .without_terminators()
        .map(|t| t.kind.conformance_name())
        .filter(|k| *k != "EOF")
        .collect();
    let want: Vec<&str> = case["expect"]["tokens"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let want: Vec<&str> = want.into_iter().filter(|k| *k != "EOF").collect();
    if kinds == want {
        Ok(())
    } else {
        Err(format!("got  {kinds:?}\nwant {want:?}"))
    }
}

#[test]
fn scanner_cases() {
    let Some(cases) = load_cases("scanner.json") else {
        return;
    };
    let mut h = Harness::new("scanner");
    for case in &cases {
        let name = case["name"].as_str().unwrap_or_default();
        let input = case["input"].as_str().unwrap_or_default();
        let result = match case["mode"].as_str() {
            Some("scan_one") => scan_one(case),
            Some("scan_all_no_terminators") => scan_all(case),
            Some("is_valid_identifier") => {
                let got = is_valid_identifier(input);
                if Some(got) == case["expect"].as_bool() {
                    Ok(())
                } else {
                    Err(format!("got {got}"))
                }
            }
            Some("sanitize_identifier") => {
                match (sanitize_identifier(input), &case["expect"], &case["error"]) {
                    (Ok(got), Json::String(want), _) if &got == want => Ok(()),
                    (Err(got), _, Json::String(want)) if &got == want => Ok(()),
                    (got, _, _) => Err(format!("got {got:?}")),
                }
            }
            other => Err(format!("unknown mode {other:?}")),
        };
        h.record(name, result);
    }
    h.finish();
}

/// `line:col: message` (or `file:line:col: message`) for each diagnostic.
fn positioned(diags: &[Diagnostic], src: &str) -> Vec<(String, String)> {
    let index = LineIndex::new(src);
    diags
        .iter()
        .map(|d| {
            let (line, col) = index.line_col(d.span.start);
            let pos = if d.file.is_empty() {
                format!("{line}:{col}")
            } else {
                format!("{}:{line}:{col}", d.file)
            };
            (pos, d.message.clone())
        })
        .collect()
}

fn parser_case(case: &Json) -> Result<(), String> {
    let input = case["input"].as_str().unwrap_or_default();
    match case["mode"].as_str() {
        Some("parse_expression") => {
            let (_, diags) = parse_expression("", input);
            let got = positioned(&diags, input);
            if case["expect"].as_str() == Some("ok") {
                return if got.is_empty() {
                    Ok(())
                } else {
                    Err(format!("unexpected {got:?}"))
                };
            }
            let want = case["error"].as_str().unwrap_or_default();
            let first = got
                .first()
                .map(|(p, m)| format!("{p}: {m}"))
                .unwrap_or_default();
            let ok = if case["error_exact"].as_bool() == Some(true) {
                first == want
            } else {
                first.contains(want)
            };
            if ok {
                Ok(())
            } else {
                Err(format!("got {got:?}, want {want:?}"))
            }
        }
        Some("parse_file") => {
            let filename = case["filename"].as_str().unwrap_or_default();
            let parsed = parse_file(filename, input);
            let got = positioned(&parsed.diagnostics, input);
            let want: Vec<(String, String)> = case["errors"]
                .as_array()
                .map(|errs| {
                    errs.iter()
                        .map(|e| {
                            (
                                e["pos"].as_str().unwrap_or_default().to_string(),
                                e["message"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ok = if case["errors_exact"].as_bool() == Some(true) {
                got == want
            } else {
                want.iter().all(|w| got.contains(w))
            };
            if ok {
                Ok(())
            } else {
                Err(format!("got  {got:?}\nwant {want:?}"))
            }
        }
        other => Err(format!("unknown mode {other:?}")),
    }
}

#[test]
fn parser_cases() {
    let Some(cases) = load_cases("parser.json") else {
        return;
    };
    let mut h = Harness::new("parser");
    for case in &cases {
        h.record(case["name"].as_str().unwrap_or_default(), parser_case(case));
    }
    h.finish();
}

/// Expected errors marked in a file as `/* ERROR "regex" */` or `/* ERROR HERE "regex" */`
/// after the token at fault: (offset, regex).
fn error_markers(src: &str) -> Vec<(u32, regex::Regex)> {
    let marker =
        regex::Regex::new(r#"^/\* *ERROR *(HERE)? *"([^"]*)" *\*/$"#).expect("marker regex");
    let mut out = Vec::new();
    let mut prev = None;
    for tok in Lexer::new(src) {
        match tok.kind {
            Token::Comment => {
                if let Some(caps) = marker.captures(&src[tok.span.range()]) {
                    let prev: alloy_syntax::lexer::Tok = prev.expect("a marker follows a token");
                    let offset = if caps.get(1).is_some() {
                        prev.span.end
                    } else {
                        prev.span.start
                    };
                    out.push((offset, go_regex(&caps[2])));
                }
            }
            Token::Terminator => {}
            _ => prev = Some(tok),
        }
    }
    out
}

/// Compiles a Go regular expression: Go reads a `{` that starts no valid repetition
/// as a literal brace, where Rust's regex rejects it.
fn go_regex(pattern: &str) -> regex::Regex {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let escaped = i > 0 && chars[i - 1] == '\\';
        if c == '{' && !escaped && !chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()) {
            out.push('\\');
        }
        out.push(c);
    }
    regex::Regex::new(&out).expect("marker regex compiles")
}

#[test]
fn parser_marked_files() {
    let Some(dir) = alloy_syntax("parser") else {
        return;
    };
    let mut h = Harness::new("parser-files");
    for path in files_with_suffix(&dir, ".alloy") {
        let src = std::fs::read_to_string(&path).expect("readable");
        let parsed = parse_file("", &src);
        let mut markers = error_markers(&src);
        let index = LineIndex::new(&src);
        let mut problems = Vec::new();
        for d in &parsed.diagnostics {
            let found = markers
                .iter()
                .position(|(off, re)| *off == d.span.start && re.is_match(&d.message));
            match found {
                Some(i) => {
                    markers.remove(i);
                }
                None => problems.push(format!(
                    "unexpected {:?} at {:?}",
                    d.message,
                    index.line_col(d.span.start)
                )),
            }
        }
        for (off, re) in markers {
            problems.push(format!("missing {re} at {:?}", index.line_col(off)));
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        h.record(
            name,
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("\n"))
            },
        );
    }
    h.finish();
}

#[test]
fn parser_valid_files() {
    let Some(dir) = alloy_syntax("parser/valid") else {
        return;
    };
    let mut h = Harness::new("parser-valid");
    for path in files_with_suffix(&dir, ".alloy") {
        let src = std::fs::read_to_string(&path).expect("readable");
        let parsed = parse_file("", &src);
        let got = positioned(&parsed.diagnostics, &src);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        h.record(
            name,
            if got.is_empty() {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            },
        );
    }
    h.finish();
}

/// Decodes Go's fuzz corpus format: a header, then `[]byte("...")` with a Go-quoted input.
fn go_fuzz_input(text: &str) -> Vec<u8> {
    let start = text.find("[]byte(\"").map(|i| i + 8).unwrap_or(0);
    let end = text.rfind("\")").unwrap_or(text.len());
    let body = &text.as_bytes()[start..end];
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' && i + 1 < body.len() {
            match body[i + 1] {
                b'x' if i + 3 < body.len() => {
                    let hex = std::str::from_utf8(&body[i + 2..i + 4]).unwrap_or("00");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                    i += 4;
                    continue;
                }
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'"' => out.push(b'"'),
                b'\\' => out.push(b'\\'),
                other => out.extend_from_slice(&[b'\\', other]),
            }
            i += 2;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn fuzz_corpus_terminates() {
    let Some(dir) = alloy_syntax("parser/fuzz-corpus") else {
        return;
    };
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let input = go_fuzz_input(&text);
        let (src, parsed) = alloy_syntax::parser::parse_bytes("", &input);
        // Whatever it reports, it must report it with in-bounds spans.
        for d in &parsed.diagnostics {
            assert!(
                d.span.end as usize <= src.len(),
                "{path:?}: span out of bounds"
            );
        }
        count += 1;
    }
    assert!(count > 0, "the fuzz corpus is empty");
}

/// The 250 broken docs examples: our plain rendering must equal upstream's `.diags`.
#[test]
fn parse_error_files() {
    let Some(dir) = alloy_syntax("parse-errors") else {
        return;
    };
    let mut h = Harness::new("parse-errors");
    for path in files_with_suffix(&dir, ".alloy") {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let src = std::fs::read_to_string(&path).expect("readable");
        let want =
            std::fs::read_to_string(path.with_extension("diags")).expect("diags beside the file");
        let parsed = parse_file(&name, &src);
        let sources: HashMap<String, String> = [(name.clone(), src.clone())].into_iter().collect();
        let got = render_plain(&parsed.diagnostics, &sources);
        h.record(
            &name,
            if got == want {
                Ok(())
            } else {
                Err(format!("got:\n{got}\nwant:\n{want}"))
            },
        );
    }
    h.finish();
}
