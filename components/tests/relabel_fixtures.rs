//! The relabel engine over `testdata/relabel/*.alloy`: each `case "name"` block holds an
//! `input` label map, `rule` blocks, and either the expected `output`, `dropped = true`,
//! or the `error` decoding the rules must give. Every case runs; failures are reported
//! together, named `file/case`.

use alloy_components::prometheus::relabel::{decode_rules, process_labels};
use alloy_components::prometheus::Labels;
use alloy_runtime::decode::Decoder;
use alloy_runtime::evaluate::eval_body_value;
use alloy_syntax::ast::Stmt;
use alloy_syntax::eval::EmptyScope;
use alloy_testdata::{files_with_suffix, fixtures, Harness};
use std::collections::BTreeMap;
use std::sync::Arc;

fn run_case(file: &Arc<str>, src: &str, body: &alloy_syntax::ast::Body) -> Result<(), String> {
    let value = eval_body_value(body, src, &EmptyScope).map_err(|e| format!("{e:?}"))?;
    let d = Decoder::new(file, &value);
    let input: BTreeMap<String, String> =
        d.attr_or("input", BTreeMap::new()).map_err(|e| e.message)?;
    let want_error: Option<String> = d.attr("error").map_err(|e| e.message)?;
    let want_dropped: bool = d.attr_or("dropped", false).map_err(|e| e.message)?;
    let want_output: Option<BTreeMap<String, String>> = d.attr("output").map_err(|e| e.message)?;
    let rules = match (decode_rules(&d, "rule"), want_error) {
        (Ok(rules), None) => rules,
        (Err(err), Some(want)) if err.message == want => return Ok(()),
        (Err(err), want) => return Err(format!("error {:?}, want {want:?}", err.message)),
        (Ok(_), Some(want)) => return Err(format!("rules decoded, want error {want:?}")),
    };
    let labels = Labels::from_pairs(input.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let got = process_labels(&labels, &rules);
    let got_map = got.as_ref().map(|l| {
        l.iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect::<BTreeMap<_, _>>()
    });
    match (got_map, want_dropped, want_output) {
        (None, true, _) => Ok(()),
        (Some(got), false, Some(want)) if got == want => Ok(()),
        (got, dropped, want) => Err(format!(
            "got {got:?}, want {}",
            if dropped {
                "dropped".to_string()
            } else {
                format!("{want:?}")
            }
        )),
    }
}

#[test]
fn relabel_fixtures() {
    let dir = fixtures().join("relabel");
    let mut harness = Harness::new("relabel");
    let files = files_with_suffix(&dir, ".alloy");
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    for path in files {
        let src = std::fs::read_to_string(&path).expect("readable fixture");
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let parsed = alloy_syntax::parse_file(&stem, &src);
        assert!(
            parsed.diagnostics.is_empty(),
            "{stem}: {:?}",
            parsed.diagnostics
        );
        let file: Arc<str> = Arc::from(stem.as_str());
        for stmt in &parsed.file.body {
            let Stmt::Block(block) = stmt else { continue };
            let label = block.label(&src).unwrap_or_default().to_string();
            harness.record(
                &format!("{stem}/{label}"),
                run_case(&file, &src, &block.body),
            );
        }
    }
    harness.finish();
}
