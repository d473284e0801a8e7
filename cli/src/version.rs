//! The text of `ferroalloy --version`, in the shape of upstream's build info.

/// `ferroalloy, version v0.1.0 (branch: main, revision: 0123abcd)` and the build
/// details below it, ending with a newline. The values come from `build.rs`.
pub fn text() -> String {
    format!(
        "ferroalloy, version v{} (branch: {}, revision: {})\n  rustc version:    {}\n  platform:         {}/{}\n",
        env!("CARGO_PKG_VERSION"),
        env!("FERROALLOY_BRANCH"),
        env!("FERROALLOY_REVISION"),
        env!("FERROALLOY_RUSTC_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

/// The labels of the `alloy_build_info` metric. Upstream's names are kept where they
/// mean the same (`goos`/`goarch` in Go's spelling, so dashboards keep working);
/// the compiler version is `rustversion` instead of `goversion`.
pub fn labels() -> Vec<(String, String)> {
    let go_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    [
        ("branch", env!("FERROALLOY_BRANCH").to_string()),
        ("goarch", go_arch.to_string()),
        ("goos", std::env::consts::OS.to_string()),
        ("revision", env!("FERROALLOY_REVISION").to_string()),
        ("rustversion", env!("FERROALLOY_RUSTC_VERSION").to_string()),
        ("version", format!("v{}", env!("CARGO_PKG_VERSION"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
