//! `ferroalloy validate PATH`: every static check (LANGUAGE.md §10) in one run, without
//! building components or touching the network. Prints all diagnostics and fails with
//! `validation failed` when any is an error; warnings alone pass.

use crate::diagnostics::{stderr_wants_color, DiagnosticsFormat, Printer, Sources};
use alloy_runtime::component::Stability;
use alloy_runtime::source::{load, SourceFile};
use alloy_runtime::validate::{validate, ValidateOptions};
use anyhow::{bail, Result};
use std::path::PathBuf;

/// Flags and arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// A configuration file, or a directory whose `*.alloy` files form one configuration.
    #[arg(value_name = "PATH")]
    path: PathBuf,

    /// Minimum stability level of features that may be used.
    #[arg(long = "stability.level", default_value = "generally-available", value_parser = parse_stability)]
    stability: Stability,

    /// The format of the source file; only `alloy` is supported so far.
    #[arg(long = "config.format", default_value = "alloy")]
    config_format: String,
}

/// Parses a `--stability.level` value.
pub fn parse_stability(text: &str) -> Result<Stability, String> {
    Stability::parse(text).ok_or_else(|| {
        format!("invalid stability level {text:?}: expected experimental, public-preview or generally-available")
    })
}

/// The texts of loaded files, for printing snippets.
pub fn sources_of(files: &[SourceFile]) -> Sources {
    files
        .iter()
        .map(|f| (f.name.to_string(), f.text.as_str().into()))
        .collect()
}

pub fn run(args: &ValidateArgs, format: Option<DiagnosticsFormat>) -> Result<()> {
    if args.config_format != "alloy" {
        bail!(
            "--config.format={} is not supported yet; convert the file first",
            args.config_format
        );
    }
    let printer = Printer::new(
        format.unwrap_or(DiagnosticsFormat::Plain),
        stderr_wants_color(),
    );
    let (files, parse_diags) = load(&args.path)?;
    // Syntax errors of all files are reported together, and validation stops there.
    let diags = if parse_diags.is_empty() {
        let registry = alloy_components::registry();
        validate(
            &files,
            &ValidateOptions {
                registry: &registry,
                min_stability: args.stability,
            },
        )
    } else {
        parse_diags
    };
    if diags.is_empty() {
        return Ok(());
    }
    printer.eprint(&diags, &sources_of(&files));
    if diags.iter().any(|d| d.is_error()) {
        bail!("validation failed");
    }
    Ok(())
}
