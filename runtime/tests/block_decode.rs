//! Runs `cases/block_decode.json` against the runtime's block schemas: each case's Go
//! struct description (`target_schema`) becomes a [`Schema`], and the structural checks
//! must report upstream's error. Upstream reports "missing required" errors without a
//! position; we point at the enclosing block, so such expectations compare the message.

use alloy_runtime::schema::{check_body, Attr, BlockSpec, LabelRule, Repeat, Schema, Ty};
use alloy_syntax::ast::Stmt;
use alloy_syntax::diag::LineIndex;
use alloy_testdata::{alloy_syntax, Harness};
use serde_json::Value as Json;
use std::sync::Arc;

/// Builds a schema from the conformance encoding: `"name": "int (attr)"`,
/// `"name": "block"`, `"name": "map[string]any (block)"`, `"": "string (label)"`.
/// Schemas live for the whole test run, so leaking them is fine.
fn schema(desc: &serde_json::Map<String, Json>, free_form: bool) -> &'static Schema {
    let mut attrs = Vec::new();
    let mut blocks = Vec::new();
    let mut label = LabelRule::Forbidden;
    for (name, kind) in desc {
        let kind = kind.as_str().unwrap_or_default();
        let optional = kind.contains("optional");
        if kind.contains("(label)") {
            label = LabelRule::Required;
        } else if kind == "block" || kind.ends_with("(block)") {
            let free = kind.starts_with("map[");
            blocks.push(BlockSpec {
                name: Box::leak(name.clone().into_boxed_str()),
                schema: schema(&serde_json::Map::new(), free),
                required: !optional,
                repeat: Repeat::Once,
            });
        } else {
            attrs.push(Attr {
                name: Box::leak(name.clone().into_boxed_str()),
                ty: Ty::Any,
                required: !optional,
            });
        }
    }
    Box::leak(Box::new(Schema {
        label,
        attrs: Box::leak(attrs.into_boxed_slice()),
        blocks: Box::leak(blocks.into_boxed_slice()),
        free_form,
    }))
}

fn run_case(case: &Json) -> Result<(), String> {
    let input = case["input"].as_str().unwrap_or_default();
    let desc = case["target_schema"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let expected = case["error"].as_str().unwrap_or_default();
    let parsed = alloy_syntax::parse_file("", input);
    if !parsed.diagnostics.is_empty() {
        return Err(format!("parse errors: {:?}", parsed.diagnostics));
    }
    let file: Arc<str> = Arc::from("");
    let mut diags = Vec::new();
    let root = schema(&desc, false);
    match case["mode"].as_str() {
        // The input is one block decoded into the schema.
        Some("evaluate_block") => {
            for stmt in &parsed.file.body {
                if let Stmt::Block(block) = stmt {
                    check_body(&file, input, Some(block), &block.body, root, &mut diags);
                }
            }
        }
        // The input is a whole file decoded into the schema.
        _ => {
            let file_schema = Schema {
                label: LabelRule::Ignored,
                ..*root
            };
            check_body(
                &file,
                input,
                None,
                &parsed.file.body,
                &file_schema,
                &mut diags,
            );
        }
    }
    let index = LineIndex::new(input);
    let got: Vec<String> = diags.iter().map(|d| d.one_line(&index)).collect();
    let has_position = expected
        .split(':')
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let exact = case["error_exact"].as_bool().unwrap_or(false);
    let matches = |line: &String, message: &str| {
        let text = if has_position { line.as_str() } else { message };
        if exact {
            text == expected
        } else {
            text.contains(expected)
        }
    };
    if diags
        .iter()
        .zip(&got)
        .any(|(d, line)| matches(line, &d.message))
    {
        Ok(())
    } else {
        Err(format!("expected {expected:?}, got {got:?}"))
    }
}

#[test]
fn block_decode_cases() {
    let Some(path) = alloy_syntax("cases/block_decode.json") else {
        return;
    };
    let text = std::fs::read_to_string(path).expect("block_decode.json");
    let cases: Vec<Json> = serde_json::from_str(&text).expect("valid JSON");
    let mut harness = Harness::new("runtime/block_decode");
    for case in &cases {
        let name = case["name"].as_str().unwrap_or_default();
        harness.record(name, run_case(case));
    }
    harness.finish();
}
