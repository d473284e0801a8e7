//! `ferroalloy convert` over the fixtures in `testdata/convert/{prometheus,agent}/`:
//! each `NAME.yaml` must convert to `NAME.alloy` with the diagnostics in `NAME.diags`
//! (absent means none), and every expected `.alloy` must pass `ferroalloy validate`.
//!
//! `UPDATE_EXPECT=1` rewrites the expected files; a missing expected file is written
//! on a local run (and the case fails, so it gets looked at), never under `CI`.

mod support;

use alloy_testdata::{files_with_suffix, fixtures, update_mode, Harness};
use std::path::Path;
use std::process::Command;
use support::work_dir;

const BIN: &str = env!("CARGO_BIN_EXE_ferroalloy");

/// Runs `convert` on one fixture (from its own folder, so diagnostics name only the
/// file) and returns the Alloy text and the report.
fn convert(format: &str, yaml: &Path, scratch: &Path) -> (String, String, bool) {
    let name = yaml.file_name().unwrap().to_str().unwrap();
    let report = scratch.join(format!("{format}-{name}.diags"));
    let out = Command::new(BIN)
        .args(["convert", "--source-format", format, "--bypass-errors"])
        .arg(format!("--report={}", report.display()))
        .arg(name)
        .current_dir(yaml.parent().unwrap())
        .output()
        .expect("the binary runs");
    let report = std::fs::read_to_string(&report).unwrap_or_default();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        report,
        out.status.success(),
    )
}

/// Compares `actual` with the file at `path`, writing it in update mode (or when it
/// is missing outside CI).
fn check(path: &Path, actual: &str, may_be_absent: bool) -> Result<(), String> {
    let ci = std::env::var_os("CI").is_some();
    let expected = std::fs::read_to_string(path).ok();
    let expected_text = match (&expected, may_be_absent) {
        (None, true) => String::new(),
        (None, false) => {
            if !ci {
                std::fs::write(path, actual).expect("fixture folder is writable");
            }
            return Err(format!(
                "{} is missing{}",
                path.display(),
                if ci { "" } else { "; written, check it" }
            ));
        }
        (Some(text), _) => text.clone(),
    };
    if expected_text == actual {
        return Ok(());
    }
    if update_mode() && !ci {
        if actual.is_empty() && may_be_absent {
            let _ = std::fs::remove_file(path);
        } else {
            std::fs::write(path, actual).expect("fixture folder is writable");
        }
        return Ok(());
    }
    Err(format!(
        "{} differs\n--- expected\n{expected_text}--- actual\n{actual}",
        path.display()
    ))
}

fn validate(alloy: &Path) -> Result<(), String> {
    let out = Command::new(BIN)
        .args(["validate", "--diagnostics.format=short"])
        .arg(alloy)
        .output()
        .expect("the binary runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} does not validate:\n{}",
            alloy.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn run_family(format: &str) {
    let dir = fixtures().join("convert").join(format);
    let scratch = work_dir(&format!("convert-{format}"));
    let mut harness = Harness::new(&format!("convert-{format}"));
    let cases = files_with_suffix(&dir, ".yaml");
    assert!(!cases.is_empty(), "no fixtures in {}", dir.display());
    for yaml in cases {
        let stem = yaml.file_stem().unwrap().to_str().unwrap().to_string();
        let (alloy, report, ok) = convert(format, &yaml, &scratch);
        let result = (|| {
            if !ok {
                return Err("convert failed even with --bypass-errors".to_string());
            }
            check(&dir.join(format!("{stem}.alloy")), &alloy, false)?;
            check(&dir.join(format!("{stem}.diags")), &report, true)?;
            validate(&dir.join(format!("{stem}.alloy")))
        })();
        harness.record(&stem, result);
    }
    harness.finish();
}

#[test]
fn prometheus_fixtures() {
    run_family("prometheus");
}

#[test]
fn agent_fixtures() {
    run_family("agent");
}

/// Without `--bypass-errors`, an error diagnostic fails the command and nothing is
/// written; the diagnostic points at the YAML line and column.
#[test]
fn errors_stop_the_output_unless_bypassed() {
    let dir = work_dir("convert-errors");
    let yaml = dir.join("bad.yaml");
    std::fs::write(
        &yaml,
        "scrape_configs:\n  - job_name: x\n    consul_sd_configs: []\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "convert",
            "-f",
            "prometheus",
            "--diagnostics.format=short",
            "-o",
        ])
        .arg(dir.join("out.alloy"))
        .arg(&yaml)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml:3:5: The converter does not support converting the provided scrape_configs consul_sd_configs config."),
        "{stderr}"
    );
    assert!(!dir.join("out.alloy").exists());

    let out = Command::new(BIN)
        .args(["convert", "-f", "prometheus", "-b", "-o"])
        .arg(dir.join("out.alloy"))
        .arg(&yaml)
        .output()
        .unwrap();
    assert!(out.status.success());
    let alloy = std::fs::read_to_string(dir.join("out.alloy")).unwrap();
    assert!(alloy.contains("prometheus.scrape \"x\""), "{alloy}");
}

/// Broken YAML is an error at its position, not a panic.
#[test]
fn broken_yaml_is_reported() {
    let dir = work_dir("convert-broken");
    let yaml = dir.join("broken.yaml");
    std::fs::write(&yaml, "scrape_configs:\n  - job_name: [x\n").unwrap();
    let out = Command::new(BIN)
        .args(["convert", "-f", "agent", "--diagnostics.format=short"])
        .arg(&yaml)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml:"), "{stderr}");
    assert!(stderr.contains("cannot parse YAML"), "{stderr}");
}
