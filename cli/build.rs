//! Records what `ferroalloy --version` reports about the build: the git commit and
//! branch (when built from a checkout) and the compiler version.

use std::process::Command;

/// Output of a command, trimmed, or `None` when it fails or prints nothing.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let revision = output("git", &["rev-parse", "--short=12", "HEAD"]);
    let branch = output("git", &["rev-parse", "--abbrev-ref", "HEAD"]);
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let rustc_version = output(&rustc, &["--version"]);

    println!(
        "cargo:rustc-env=FERROALLOY_REVISION={}",
        revision.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=FERROALLOY_BRANCH={}",
        branch.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=FERROALLOY_RUSTC_VERSION={}",
        rustc_version.as_deref().unwrap_or("unknown")
    );

    // Rebuild when the checked-out commit moves: HEAD itself (a branch switch) and the
    // branch it points to (a new commit). Worktrees keep these in different places, so
    // ask git for the paths instead of assuming `.git/`.
    println!("cargo:rerun-if-changed=build.rs");
    for rel in [
        "HEAD".to_string(),
        format!("refs/heads/{}", branch.unwrap_or_default()),
    ] {
        if let Some(path) = output("git", &["rev-parse", "--git-path", &rel]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
