//! Evaluation conformance against upstream's JSON cases, read in place from
//! `shared/conformance/alloy-syntax/cases/`: `vm_eval`, `value_coercion`,
//! `derived_semantics`, `generated_eval` and the schema-free part of `block_decode`.
//! Cases that need the standard library are run by the `stdlib` crate with the same
//! runner ([`alloy_syntax::conformance`]); cases that need a Go struct schema are
//! out of scope. Both are counted and printed, never dropped silently.

use alloy_syntax::conformance::{needs_stdlib, run_case, Outcome};
use alloy_syntax::eval::EmptyScope;
use alloy_testdata::{alloy_syntax, Harness};
use serde_json::Value as Json;
use std::collections::HashMap;

fn run_family(file: &str) {
    let family = format!("eval/{}", file.trim_end_matches(".json"));
    let Some(path) = alloy_syntax(&format!("cases/{file}")) else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("case file is readable");
    let cases: Vec<Json> = serde_json::from_str(&text).expect("case file is JSON");
    let mut harness = Harness::new(&family);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for case in &cases {
        let base = case["name"].as_str().unwrap_or("?").to_string();
        // Names are unique only within their upstream table; number repeats.
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let name = if *n == 1 {
            base
        } else {
            format!("{base} [{n}]")
        };
        if needs_stdlib(case) {
            harness.skip("needs stdlib (run by the stdlib crate)");
            continue;
        }
        match run_case(case, &EmptyScope) {
            Outcome::Pass => harness.record(&name, Ok(())),
            Outcome::Fail(why) => harness.record(&name, Err(why)),
            Outcome::Skip(why) => harness.skip(why),
        }
    }
    harness.finish();
}

#[test]
fn vm_eval() {
    run_family("vm_eval.json");
}

#[test]
fn value_coercion() {
    run_family("value_coercion.json");
}

#[test]
fn derived_semantics() {
    run_family("derived_semantics.json");
}

#[test]
fn generated_eval() {
    run_family("generated_eval.json");
}

#[test]
fn block_decode() {
    run_family("block_decode.json");
}

/// Every upstream docs example (`printer-docs/*.in`) and broken file
/// (`parse-errors/*.alloy`) evaluates, or fails to, without a panic. Without the
/// components and the stdlib most fail on their first reference; the point is that
/// nothing in real-world text crashes the evaluator.
#[test]
fn docs_examples_evaluate_without_panicking() {
    let mut files = Vec::new();
    for (dir, suffix) in [("printer-docs", ".in"), ("parse-errors", ".alloy")] {
        let Some(path) = alloy_syntax(dir) else {
            return;
        };
        files.extend(alloy_testdata::files_with_suffix(&path, suffix));
    }
    let (mut ok, mut failed) = (0, 0);
    for file in &files {
        let bytes = std::fs::read(file).expect("fixture is readable");
        let (text, parsed) = alloy_syntax::parser::parse_bytes("", &bytes);
        match alloy_syntax::eval::eval_body(&parsed.file.body, &text, &EmptyScope) {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    eprintln!(
        "docs examples: {} files, {ok} evaluated, {failed} failed on a reference",
        files.len()
    );
}
