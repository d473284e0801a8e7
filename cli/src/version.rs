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
