//! `ferroalloy run` as a process: the initial load, reload on a config change, on
//! SIGHUP and on `/-/reload`, a broken reload that keeps the old graph, readiness and
//! health over HTTP, and a clean stop on SIGTERM.

mod support;

use std::process::Command;
use support::{call, http, poll_until, work_dir, Running, BIN};

#[test]
fn reloads_on_change_and_sighup_and_stops_on_sigterm() {
    let dir = work_dir("lifecycle");
    std::fs::write(dir.join("data.txt"), "x").unwrap();
    let v1 = "local.file \"a\" {\n\tfilename = \"data.txt\"\n}\n";
    std::fs::write(dir.join("config.alloy"), v1).unwrap();
    let mut run = Running::start(&dir);
    run.wait_for("started component node=local.file.a");
    run.wait_for("ferroalloy is running");

    // A new component appears when the file changes.
    let v2 = format!("{v1}\nlocal.file \"b\" {{\n\tfilename = local.file.a.filename\n}}\n");
    std::fs::write(
        dir.join("config.alloy"),
        v2.replace("local.file.a.filename", "\"data.txt\""),
    )
    .unwrap();
    run.wait_for("started component node=local.file.b");
    run.wait_for("config reloaded");

    // A broken config is reported with its position and changes nothing.
    std::fs::write(
        dir.join("config.alloy"),
        "local.file \"a\" {\n\tfilename = nope.x\n}\n",
    )
    .unwrap();
    run.wait_for("config.alloy:2:13: component \"nope.x\" does not exist or is out of scope");
    run.wait_for("reload failed");

    // SIGHUP re-reads too.
    std::fs::write(dir.join("config.alloy"), v1).unwrap();
    run.signal("HUP");
    run.wait_for("stopped component node=local.file.b");

    run.stop();
}

#[test]
fn failed_initial_load_exits_with_the_diagnostics() {
    let dir = work_dir("initial_failure");
    std::fs::write(
        dir.join("config.alloy"),
        "local.file \"a\" {\n\tfilename = \"missing.txt\"\n}\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "run",
            "config.alloy",
            "--server.http.listen-addr",
            "127.0.0.1:0",
        ])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Error: config.alloy:1:1: Failed to build component: failed to read file"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("Error: could not perform the initial load successfully\n"),
        "{stderr}"
    );
}

#[test]
fn http_reload_applies_edits_and_reports_broken_configs() {
    let dir = work_dir("http");
    std::fs::write(dir.join("a.txt"), "a").unwrap();
    std::fs::write(dir.join("b.txt"), "b").unwrap();
    let v1 = "local.file \"a\" {\n\tfilename = \"a.txt\"\n}\n";
    std::fs::write(dir.join("config.alloy"), v1).unwrap();
    let mut run = Running::start(&dir);
    let base = run.http_base();
    run.wait_for("ferroalloy is running");
    let client = http();
    let get = |path: &str| call(&client, reqwest::Method::GET, &format!("{base}{path}"));
    let post = |path: &str| call(&client, reqwest::Method::POST, &format!("{base}{path}"));

    assert_eq!(get("/-/ready"), (200, "Alloy is ready.\n".into()));
    assert_eq!(
        get("/-/healthy"),
        (200, "All Alloy components are healthy.\n".into())
    );

    // An edit applied through the endpoint. The file watch may reload too; reloads
    // run one at a time, so either order ends with both components.
    let v2 = format!("{v1}\nlocal.file \"b\" {{\n\tfilename = \"b.txt\"\n}}\n");
    std::fs::write(dir.join("config.alloy"), &v2).unwrap();
    assert_eq!(post("/-/reload"), (200, "config reloaded\n".into()));
    run.wait_for("started component node=local.file.b");

    // A broken config: 400 with the diagnostic, and the running graph stays.
    std::fs::write(
        dir.join("config.alloy"),
        "local.file \"a\" {\n\tfilename = nope.x\n}\n",
    )
    .unwrap();
    assert_eq!(
        post("/-/reload"),
        (
            400,
            "config.alloy:2:13: component \"nope.x\" does not exist or is out of scope\n".into()
        )
    );
    assert_eq!(get("/-/ready").0, 200);
    let (status, metrics) = get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("alloy_config_last_load_successful 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("alloy_config_hash{sha256=\""), "{metrics}");
    assert!(metrics.contains("alloy_build_info{"), "{metrics}");
    // `local.file.b` is still running: it notices its file going away.
    std::fs::remove_file(dir.join("b.txt")).unwrap();
    assert_eq!(
        poll_until(&client, &format!("{base}/-/healthy"), 500),
        "unhealthy components: local.file\n"
    );
    std::fs::write(dir.join("b.txt"), "b again").unwrap();
    poll_until(&client, &format!("{base}/-/healthy"), 200);

    // Fixed again: the reload succeeds and removes `b`.
    std::fs::write(dir.join("config.alloy"), v1).unwrap();
    assert_eq!(get("/-/reload"), (200, "config reloaded\n".into()));
    run.wait_for("stopped component node=local.file.b");
    let (_, metrics) = get("/metrics");
    assert!(
        metrics.contains("alloy_config_last_load_successful 1\n"),
        "{metrics}"
    );

    run.stop();
}

#[test]
fn run_fails_when_the_listen_address_is_taken() {
    let dir = work_dir("port_taken");
    std::fs::write(dir.join("config.alloy"), "").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["run", "config.alloy", "--server.http.listen-addr", &addr])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("Error: failed to listen on {addr}: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("ferroalloy is running"), "{stderr}");
}
