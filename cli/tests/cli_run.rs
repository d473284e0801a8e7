//! `ferroalloy run` as a process: the initial load, reload on a config change and on
//! SIGHUP, a broken reload that keeps the old graph, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferroalloy");

fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_run")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A running `ferroalloy run` whose stderr lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(dir: &Path) -> Running {
        let mut child = Command::new(BIN)
            .args(["run", "config.alloy", "--storage.path", "data"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("binary starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 10 s) for a stderr line containing `needle`.
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!(
            "no line with {needle:?}; stderr so far:\n{}",
            self.seen.join("\n")
        );
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

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

    run.signal("TERM");
    let status = run.child.wait().expect("exits");
    assert!(status.success(), "{status:?}");
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
        .args(["run", "config.alloy"])
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
