//! Standard-library conformance against upstream's JSON cases, read in place from
//! `shared/conformance/alloy-syntax/cases/`: all of `stdlib.json`, and the cases of
//! `vm_eval`, `value_coercion`, `derived_semantics` and `generated_eval` that use the
//! standard library (the `syntax` crate runs the rest with the same runner).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use alloy_stdlib::Stdlib;
use alloy_syntax::conformance::{needs_stdlib, run_case, Outcome};
use alloy_testdata::{alloy_syntax, Harness};
use serde_json::Value as Json;

/// Cases set and unset process environment variables; the families run on parallel
/// test threads, so each family holds this lock for its whole run.
static ENV_LOCK: Mutex<()> = Mutex::new(());

fn env_lock() -> MutexGuard<'static, ()> {
    ENV_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets the case's `env` variables and removes its `unset_env` ones, returning what
/// to restore afterwards.
fn apply_env(case: &Json) -> Vec<(String, Option<std::ffi::OsString>)> {
    let mut saved = Vec::new();
    if let Some(vars) = case["env"].as_object() {
        for (k, v) in vars {
            saved.push((k.clone(), std::env::var_os(k)));
            std::env::set_var(k, v.as_str().unwrap_or_default());
        }
    }
    if let Some(names) = case["unset_env"].as_array() {
        for name in names.iter().filter_map(Json::as_str) {
            saved.push((name.to_string(), std::env::var_os(name)));
            std::env::remove_var(name);
        }
    }
    saved
}

fn restore_env(saved: Vec<(String, Option<std::ffi::OsString>)>) {
    for (k, v) in saved.into_iter().rev() {
        match v {
            Some(v) => std::env::set_var(&k, v),
            None => std::env::remove_var(&k),
        }
    }
}

/// Runs the cases of `file`; with `only_stdlib`, only those that use the stdlib.
fn run_family(file: &str, only_stdlib: bool) {
    let family = format!("stdlib/{}", file.trim_end_matches(".json"));
    let Some(path) = alloy_syntax(&format!("cases/{file}")) else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("case file is readable");
    let cases: Vec<Json> = serde_json::from_str(&text).expect("case file is JSON");
    let stdlib = Stdlib::new();
    let _guard = env_lock();
    let mut harness = Harness::new(&family);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for case in &cases {
        let base = case["name"].as_str().unwrap_or("?").to_string();
        // Names are unique only within their upstream table; number repeats, counting
        // every case so the numbering matches the `syntax` crate's harness.
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let name = if *n == 1 {
            base
        } else {
            format!("{base} [{n}]")
        };
        if only_stdlib && !needs_stdlib(case) {
            continue;
        }
        let saved = apply_env(case);
        let outcome = run_case(case, &stdlib);
        restore_env(saved);
        match outcome {
            Outcome::Pass => harness.record(&name, Ok(())),
            Outcome::Fail(why) => harness.record(&name, Err(why)),
            Outcome::Skip(why) => harness.skip(why),
        }
    }
    harness.finish();
}

#[test]
fn stdlib() {
    run_family("stdlib.json", false);
}

#[test]
fn generated_eval() {
    run_family("generated_eval.json", true);
}

#[test]
fn derived_semantics() {
    run_family("derived_semantics.json", true);
}

#[test]
fn vm_eval() {
    run_family("vm_eval.json", true);
}

#[test]
fn value_coercion() {
    run_family("value_coercion.json", true);
}
