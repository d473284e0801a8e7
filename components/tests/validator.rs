//! Upstream's `alloy validate` cases (`validator/{default,ga}/*.txtar`) through our
//! validator with the real component registry: the printed diagnostics must equal
//! the `.diags` files byte for byte. `default/` runs at the experimental stability
//! level, `ga/` at generally-available, as upstream's test does.

use alloy_runtime::component::Stability;
use alloy_runtime::source::parse_sources;
use alloy_runtime::validate::{validate, ValidateOptions};
use alloy_syntax::diag::render_plain;
use alloy_testdata::{alloy_syntax, files_with_suffix, txtar_files, Harness};
use std::collections::HashMap;

fn run_case(archive: &str, level: Stability) -> String {
    let mut files = txtar_files(archive);
    files.sort();
    let sources: HashMap<String, String> = files.iter().cloned().collect();
    let named = files
        .into_iter()
        .map(|(name, text)| (name, text.into_bytes()))
        .collect();
    let (parsed, parse_diags) = match parse_sources(named) {
        Ok(ok) => ok,
        Err(err) => return err.to_string(),
    };
    // Like upstream: syntax errors of all files, and nothing else, when there are any.
    let diags = if parse_diags.is_empty() {
        let registry = alloy_components::registry();
        validate(
            &parsed,
            &ValidateOptions {
                registry: &registry,
                min_stability: level,
            },
        )
    } else {
        parse_diags
    };
    render_plain(&diags, &sources)
}

#[test]
fn validator_cases() {
    let Some(root) = alloy_syntax("validator") else {
        return;
    };
    let mut harness = Harness::new("validator");
    for (dir, level) in [
        ("default", Stability::Experimental),
        ("ga", Stability::GenerallyAvailable),
    ] {
        for path in files_with_suffix(&root.join(dir), ".txtar") {
            let archive = std::fs::read_to_string(&path).expect("readable case");
            let want = std::fs::read_to_string(path.with_extension("diags")).unwrap_or_default();
            let got = run_case(&archive, level);
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let name = format!("{dir}/{stem}");
            let result = if got == want {
                Ok(())
            } else {
                Err(format!("--- want\n{want}\n--- got\n{got}"))
            };
            harness.record(&name, result);
        }
    }
    harness.finish();
}
