//! The `ferroalloy` binary end to end: runs it over the cases in
//! `testdata/cli/<command>/<case>/` (fmt, validate, eval) and over upstream's
//! `fmt_command` cases.
//!
//! A case folder holds `args` (one argument per line), optionally `stdin` and a
//! `files/` tree copied into a fresh working directory, and what must come out:
//! `expect.stdout`, `expect.stderr` (absent means empty), `expect.code` (absent means 0)
//! and optionally `expect.files/`, files the working directory must hold afterwards.
//! `UPDATE_EXPECT=1` rewrites the `expect.*` files (never `expect.files/`).

use alloy_testdata::{alloy_syntax, fixtures, update_mode, Harness};
use serde_json::Value as Json;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ferroalloy");

/// What one run of the binary produced.
struct Outcome {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: i32,
}

/// Runs the binary in `dir` with `args`, feeding it `stdin`.
fn run(dir: &Path, args: &[String], stdin: &[u8]) -> Outcome {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The binary may exit before reading stdin (a flag error); a broken pipe is fine.
    let _ = child.stdin.take().expect("stdin is piped").write_all(stdin);
    let out = child.wait_with_output().expect("the binary finishes");
    Outcome {
        stdout: out.stdout,
        stderr: out.stderr,
        code: out.status.code().unwrap_or(-1),
    }
}

/// A fresh, empty working directory for `name` under Cargo's scratch folder.
fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_cases")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch folder is writable");
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).expect("fixture folder is readable") {
        let entry = entry.expect("fixture entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            fs::create_dir_all(&dest).expect("scratch folder is writable");
            copy_tree(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).expect("fixture copies");
        }
    }
}

/// Files under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn read_or_empty(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_default()
}

/// Compares `got` with the expected file `path`, or rewrites it in update mode.
fn check_file(problems: &mut Vec<String>, path: &Path, got: &[u8]) {
    let want = read_or_empty(path);
    if got == want.as_slice() {
        return;
    }
    if update_mode() {
        if got.is_empty() {
            let _ = fs::remove_file(path);
        } else {
            fs::write(path, got).expect("fixture is writable");
        }
        return;
    }
    problems.push(format!(
        "{}:\n  got:  {:?}\n  want: {:?}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(&want),
    ));
}

fn run_case(case: &Path, name: &str) -> Result<(), String> {
    let dir = work_dir(name);
    if case.join("files").is_dir() {
        copy_tree(&case.join("files"), &dir);
    }
    let args: Vec<String> = fs::read_to_string(case.join("args"))
        .map_err(|e| format!("args: {e}"))?
        .lines()
        .map(str::to_string)
        .collect();
    let out = run(&dir, &args, &read_or_empty(&case.join("stdin")));

    let mut problems = Vec::new();
    check_file(&mut problems, &case.join("expect.stdout"), &out.stdout);
    check_file(&mut problems, &case.join("expect.stderr"), &out.stderr);
    let code = format!("{}\n", out.code);
    let want_code = fs::read_to_string(case.join("expect.code")).unwrap_or_else(|_| "0\n".into());
    if code != want_code {
        if update_mode() {
            fs::write(case.join("expect.code"), &code).expect("fixture is writable");
        } else {
            problems.push(format!("exit code {}, want {}", out.code, want_code.trim()));
        }
    }
    let expect_files = case.join("expect.files");
    for rel in tree(&expect_files) {
        let want = read_or_empty(&expect_files.join(&rel));
        let got = read_or_empty(&dir.join(&rel));
        if got != want {
            problems.push(format!(
                "file {}:\n  got:  {:?}\n  want: {:?}",
                rel.display(),
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Runs every case folder under `testdata/cli/<command>/`.
fn command_cases(command: &str) {
    let root = fixtures().join("cli").join(command);
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .expect("the fixture folder exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let mut h = Harness::new(&format!("cli-{command}"));
    for case in &cases {
        let name = format!(
            "{command}/{}",
            case.file_name().unwrap_or_default().to_string_lossy()
        );
        h.record(&name, run_case(case, &name));
    }
    h.finish();
}

#[test]
fn fmt_cases() {
    command_cases("fmt");
}

#[test]
fn validate_cases() {
    command_cases("validate");
}

#[test]
fn eval_cases() {
    command_cases("eval");
}

/// Upstream's `fmt_command` cases.
#[test]
fn upstream_fmt_command_cases() {
    let Some(path) = alloy_syntax("cases/fmt_extra.json") else {
        return;
    };
    let text = fs::read_to_string(&path).expect("case file is readable");
    let cases: Vec<Json> = serde_json::from_str(&text).expect("case file is JSON");
    let mut h = Harness::new("fmt_extra");
    for case in cases
        .iter()
        .filter(|c| c["mode"].as_str() == Some("fmt_command"))
    {
        let name = case["name"].as_str().unwrap_or_default();
        let input = case["input"].as_str().unwrap_or_default();
        let want = case["expect"].as_str().unwrap_or_default();
        let out = run(&work_dir("fmt_extra"), &["fmt".into()], input.as_bytes());
        let got = String::from_utf8_lossy(&out.stdout);
        h.record(
            name,
            if out.code == 0 && got == want {
                Ok(())
            } else {
                Err(format!(
                    "exit {}, stdout {got:?}, stderr {:?}, want {want:?}",
                    out.code,
                    String::from_utf8_lossy(&out.stderr)
                ))
            },
        );
    }
    h.finish();
}

#[cfg(unix)]
#[test]
fn write_keeps_permissions_and_symlinks() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let dir = work_dir("write_keeps_permissions_and_symlinks");
    let real = dir.join("real.alloy");
    // Unformatted under any printer: `=` needs spaces around it.
    fs::write(&real, "a=1\n").expect("scratch file");
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).expect("chmod");
    symlink("real.alloy", dir.join("link.alloy")).expect("symlink");

    let out = run(&dir, &["fmt".into(), "-w".into(), "link.alloy".into()], b"");
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let link = fs::symlink_metadata(dir.join("link.alloy")).expect("link stays");
    assert!(link.file_type().is_symlink(), "the symlink was replaced");
    let meta = fs::metadata(&real).expect("target stays");
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_ne!(fs::read(&real).expect("target"), b"a=1\n", "not rewritten");
    let leftovers: Vec<_> = tree(&dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("ferroalloy-fmt"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn fancy_format_draws_a_miette_report() {
    let dir = work_dir("fancy_format_draws_a_miette_report");
    let out = run(
        &dir,
        &["--diagnostics.format=fancy".into(), "fmt".into()],
        b"a = ]\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.code, 1);
    // miette's exact drawing is its own business; check that it is a report about
    // the right place, followed by upstream's closing error.
    assert!(stderr.contains("<stdin>:1:5"), "{stderr}");
    assert!(stderr.contains("alloy::syntax::"), "{stderr}");
    assert!(
        stderr.ends_with("Error: encountered errors during formatting\n"),
        "{stderr}"
    );
}

#[test]
fn version_names_the_program_and_version() {
    let out = run(Path::new("."), &["--version".into()], b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.code, 0);
    assert!(
        stdout.starts_with(&format!(
            "ferroalloy, version v{} (",
            env!("CARGO_PKG_VERSION")
        )),
        "{stdout}"
    );
}

#[test]
fn no_subcommand_prints_usage_and_succeeds() {
    let out = run(Path::new("."), &[], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.code, 0);
    assert!(stderr.contains("Usage: ferroalloy"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// The examples are in canonical form (`fmt -t` accepts them) and the runnable ones
/// (every top-level file, and each folder's `main.alloy`) validate.
#[test]
fn examples_are_formatted_and_validate() {
    let examples = fixtures().join("examples");
    for path in alloy_testdata::files_with_suffix(&examples, ".alloy") {
        let out = run(
            Path::new("."),
            &["fmt".into(), "-t".into(), path.display().to_string()],
            b"",
        );
        assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
        let top_level = path.parent() == Some(examples.as_path());
        if !top_level && !path.ends_with("main.alloy") {
            continue;
        }
        // Paths in the examples are relative to the repository root.
        let rel = path.strip_prefix(fixtures().join("..")).unwrap_or(&path);
        let out = run(
            &fixtures().join(".."),
            &["validate".into(), rel.display().to_string()],
            b"",
        );
        assert_eq!(
            out.code,
            0,
            "{}: {}",
            rel.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
