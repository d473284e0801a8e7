//! Formatter conformance against upstream's data, read in place from
//! `shared/conformance/alloy-syntax/`: the printer test files, the formatted docs
//! examples (with their messy variants), the `fmt` command and redaction cases, and
//! round trips: formatting is idempotent and generated configs come back unchanged.

use alloy_syntax::parse_file;
use alloy_syntax::printer::{format_file, format_file_with, PrintOptions};
use alloy_testdata::{alloy_syntax, files_with_suffix, Harness};
use serde_json::Value as Json;
use std::path::Path;

// The `ferroalloy` binary runs on mimalloc; time and weigh the formatter with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn case_name(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}

/// Shows where two texts first differ, with a little context.
fn diff(got: &str, want: &str) -> String {
    let at = got
        .bytes()
        .zip(want.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let line = want[..at.min(want.len())].matches('\n').count() + 1;
    let from = at.saturating_sub(80);
    let ctx = |s: &str| {
        let lo = (from..=at.min(s.len()))
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        let hi = (at + 80).min(s.len());
        let hi = (hi..=s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(s.len());
        s[lo..hi].to_string()
    };
    format!(
        "first difference at byte {at} (line {line})\n got: {:?}\nwant: {:?}",
        ctx(got),
        ctx(want)
    )
}

/// Formats `input` as a file; `Err` when it does not parse.
fn fmt(input: &str) -> Result<String, String> {
    let parsed = parse_file("in.alloy", input);
    if parsed.has_errors() {
        let msgs: Vec<String> = parsed
            .diagnostics
            .iter()
            .map(|d| d.message.to_string())
            .collect();
        return Err(msgs.join("\n"));
    }
    Ok(format_file(&parsed.file, input))
}

fn check_pair(input: &str, expect: &str) -> Result<(), String> {
    let got = fmt(input).map_err(|e| format!("does not parse: {e}"))?;
    let want = expect.trim_end();
    if got == want {
        Ok(())
    } else {
        Err(diff(&got, want))
    }
}

fn check_idempotent(input: &str) -> Result<(), String> {
    let once = fmt(input).map_err(|e| format!("does not parse: {e}"))?;
    let twice = fmt(&once).map_err(|e| format!("output does not parse: {e}\n{once}"))?;
    if once == twice {
        Ok(())
    } else {
        Err(diff(&twice, &once))
    }
}

/// Runs every `NAME.in` of `dir` against `NAME.expect` (or `NAME.error`).
fn run_pairs(family: &str, dir: &Path) {
    let inputs = files_with_suffix(dir, ".in");
    assert!(!inputs.is_empty(), "no .in files in {}", dir.display());
    let mut h = Harness::new(family);
    for input_path in inputs {
        let name = case_name(&input_path);
        let input = read(&input_path);
        let expect_path = input_path.with_extension("expect");
        let error_path = input_path.with_extension("error");
        let result = if expect_path.exists() {
            check_pair(&input, &read(&expect_path))
        } else if error_path.exists() {
            let want = read(&error_path).replace("\r\n", "\n");
            let want = want.trim();
            match fmt(&input) {
                Ok(out) => Err(format!("parsed, want error {want:?}; printed:\n{out}")),
                Err(e) if e.contains(want) => Ok(()),
                Err(e) => Err(format!("errors {e:?} do not contain {want:?}")),
            }
        } else {
            Err("neither .expect nor .error".to_string())
        };
        h.record(&name, result);
    }
    h.finish();
}

#[test]
fn printer_files() {
    let Some(dir) = alloy_syntax("printer") else {
        return;
    };
    run_pairs("printer", &dir);
}

#[test]
fn printer_docs_files() {
    let Some(dir) = alloy_syntax("printer-docs") else {
        return;
    };
    run_pairs("printer-docs", &dir);
}

#[test]
fn printer_docs_idempotent() {
    let Some(dir) = alloy_syntax("printer-docs") else {
        return;
    };
    let mut h = Harness::new("printer-idempotent");
    for input_path in files_with_suffix(&dir, ".in") {
        h.record(
            &case_name(&input_path),
            check_idempotent(&read(&input_path)),
        );
    }
    h.finish();
}

#[test]
fn fmt_extra_cases() {
    let Some(path) = alloy_syntax("cases/fmt_extra.json") else {
        return;
    };
    let cases: Vec<Json> = serde_json::from_str(&read(&path)).expect("case file is JSON");
    let mut h = Harness::new("printer-extra");
    for case in &cases {
        let name = case["name"].as_str().unwrap_or_default();
        let input = case["input"].as_str().unwrap_or_default();
        let want = case["expect"].as_str().unwrap_or_default();
        let parsed = parse_file("in.alloy", input);
        let result = if parsed.has_errors() {
            Err(format!("does not parse: {:?}", parsed.diagnostics))
        } else {
            let got = match case["mode"].as_str() {
                Some("fmt_command") => Some(format_file(&parsed.file, input) + "\n"),
                Some("print_file") => Some(format_file(&parsed.file, input)),
                Some("print_file_redacted") => {
                    let opts = PrintOptions {
                        redact_secrets: true,
                        secret_attributes: case["secret_attributes"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(Json::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    };
                    Some(format_file_with(&parsed.file, input, &opts))
                }
                _ => None,
            };
            match got {
                None => Err(format!("unknown mode {}", case["mode"])),
                Some(got) if got == want => Ok(()),
                Some(got) => Err(diff(&got, want)),
            }
        };
        h.record(name, result);
    }
    h.finish();
}

#[test]
fn generated_config_is_already_formatted() {
    let Some(src) = alloy_testdata::generated_config(100_000) else {
        eprintln!("skipping: could not generate a config");
        return;
    };
    let got = fmt(&src).expect("generated config parses");
    assert!(got == src.trim_end(), "{}", diff(&got, src.trim_end()));
}

/// Files that do not parse still format without a panic: the tree then holds
/// whatever the parser recovered, with spans that may point at the wrong tokens.
#[test]
fn broken_files_format_without_panic() {
    let Some(root) = alloy_syntax("") else {
        return;
    };
    let mut count = 0;
    for (dir, suffix) in [
        ("parser", ".alloy"),
        ("parser/valid", ".alloy"),
        ("parser/fuzz-corpus", ""),
        ("parse-errors", ".alloy"),
    ] {
        for path in files_with_suffix(&root.join(dir), suffix) {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let (text, parsed) = alloy_syntax::parser::parse_bytes("in.alloy", &bytes);
            let _ = format_file(&parsed.file, &text);
            count += 1;
        }
    }
    assert!(count > 250, "only {count} broken files found");
}

/// CPU time this thread has run, in seconds, from `/proc` (Linux only): on a busy
/// machine it says more than the wall clock. Falls back to the wall clock.
fn thread_cpu_seconds(wall: std::time::Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns as f64 / 1e9)
}

/// Peak memory of this process so far, from `/proc` (Linux only).
fn peak_rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Parse+fmt of a 10 MB generated config: throughput (best of five runs, in CPU
/// time, so that a busy machine disturbs it less) and the growth of peak memory. Slow, so only with
/// `RUN_SLOW_BENCHES` set; run it in release for meaningful figures.
#[test]
fn large_config_throughput_and_memory() {
    if std::env::var_os("RUN_SLOW_BENCHES").is_none() {
        return;
    }
    let Some(src) = alloy_testdata::generated_config(10_000_000) else {
        return;
    };
    let before = peak_rss_bytes().unwrap_or(0);
    let parsed = parse_file("big.alloy", &src);
    let after_parse = peak_rss_bytes().unwrap_or(0);
    let out = format_file(&parsed.file, &src);
    drop(parsed);
    let after = peak_rss_bytes().unwrap_or(0);
    assert!(out == src.trim_end(), "{}", diff(&out, src.trim_end()));
    drop(out);

    let (mut parse_best, mut total_best) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let wall = std::time::Instant::now();
        let start = thread_cpu_seconds(wall);
        let parsed = parse_file("big.alloy", &src);
        let parsed_at = thread_cpu_seconds(wall) - start;
        let out = format_file(&parsed.file, &src);
        let total = thread_cpu_seconds(wall) - start;
        drop((parsed, out));
        parse_best = parse_best.min(parsed_at);
        total_best = total_best.min(total);
    }
    let mb = src.len() as f64 / 1e6;
    eprintln!(
        "{mb:.1} MB: parse {:.0} MB/s, fmt alone {:.0} MB/s, parse+fmt {:.0} MB/s; \
         peak memory +{:.1} MB ({:.2}x the file, source excluded; parse alone +{:.1} MB)",
        mb / parse_best,
        mb / (total_best - parse_best),
        mb / total_best,
        after.saturating_sub(before) as f64 / 1e6,
        after.saturating_sub(before) as f64 / src.len() as f64,
        after_parse.saturating_sub(before) as f64 / 1e6,
    );
}

/// Formats `src` statement by statement, as `ferroalloy fmt` does for files that
/// parse, taking the output after every statement.
fn fmt_streamed(src: &str) -> String {
    let opts = PrintOptions::default();
    let mut f = alloy_syntax::printer::StmtFormatter::new(src, &opts);
    let mut out = Vec::new();
    for stmt in alloy_syntax::parser::Statements::new("in.alloy", src) {
        f.push(&stmt);
        f.write_ready(|ready| {
            out.extend_from_slice(ready);
            Ok::<(), ()>(())
        })
        .expect("writing to a vector cannot fail");
    }
    out.extend_from_slice(&f.finish());
    String::from_utf8(out).expect("formatted text is UTF-8")
}

/// The statement-by-statement formatter (`ferroalloy fmt`'s low-memory path) prints
/// exactly what the whole-file formatter prints, and the comments it scans for
/// itself are the parser's, over every fixture that parses and generated configs.
#[test]
fn statement_stream_formats_like_the_whole_file() {
    let Some(root) = alloy_syntax("") else {
        return;
    };
    let mut inputs: Vec<(String, String)> = Vec::new();
    for (dir, suffix) in [
        ("printer", ".in"),
        ("printer", ".expect"),
        ("printer-docs", ".in"),
        ("printer-docs", ".expect"),
        ("parser", ".alloy"),
        ("parser/valid", ".alloy"),
        ("parser/fuzz-corpus", ""),
    ] {
        for path in files_with_suffix(&root.join(dir), suffix) {
            if let Ok(text) = std::fs::read_to_string(&path) {
                inputs.push((path.display().to_string(), text));
            }
        }
    }
    for size in [100_000, 1_000_000] {
        if let Some(src) = alloy_testdata::generated_config(size) {
            inputs.push((format!("generated {size}"), src));
        }
    }
    let mut h = Harness::new("printer-stream");
    let mut compared = 0;
    for (name, src) in &inputs {
        let parsed = parse_file("in.alloy", src);
        if parsed.has_errors() {
            continue;
        }
        compared += 1;
        let scanned: Vec<_> = alloy_syntax::parser::CommentGroups::new(src).collect();
        let result = if scanned != parsed.file.comments {
            Err("scanned comment groups differ from the parser's".to_string())
        } else {
            let whole = format_file(&parsed.file, src);
            let streamed = fmt_streamed(src);
            if whole == streamed {
                Ok(())
            } else {
                Err(diff(&streamed, &whole))
            }
        };
        h.record(name, result);
    }
    assert!(compared > 2000, "only {compared} files compared");
    h.finish();
}
