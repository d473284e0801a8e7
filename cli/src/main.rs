//! The `ferroalloy` command line: flag parsing and dispatch to one module per subcommand.
//!
//! Each subcommand lives in its own `cmd_*.rs` with a clap `Args` struct and a `run`
//! function returning `anyhow::Result`. Errors are printed here, once, as upstream's
//! cobra does (`Error: <message>` on stderr, exit status 1).

mod cmd_fmt;
mod diagnostics;
mod version;

use clap::{CommandFactory, Parser, Subcommand};
use diagnostics::DiagnosticsFormat;
use std::process::ExitCode;

/// mimalloc is faster than the system allocator for the parser's many small
/// allocations and keeps long-running `run` processes' memory flat.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Rust implementation of Grafana Alloy.
#[derive(Debug, Parser)]
#[command(name = "ferroalloy", disable_version_flag = true)]
struct Cli {
    /// Print version information and exit.
    #[arg(short = 'v', long = "version")]
    version: bool,

    /// How diagnostics are printed: `plain` (upstream's layout with source lines),
    /// `fancy` (miette's graphical report) or `short` (one `FILE:LINE:COL: message`
    /// line each). Defaults to what upstream prints for the command.
    #[arg(
        long = "diagnostics.format",
        global = true,
        value_enum,
        value_name = "FORMAT"
    )]
    diagnostics_format: Option<DiagnosticsFormat>,

    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands. `run`, `validate`, `eval` and `convert` slot in here, each with
/// its own `cmd_*.rs`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Format a configuration file.
    #[command(visible_alias = "format", long_about = cmd_fmt::LONG_ABOUT)]
    Fmt(cmd_fmt::FmtArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print!("{}", version::text());
        return ExitCode::SUCCESS;
    }
    let result = match cli.command {
        Some(Command::Fmt(args)) => cmd_fmt::run(&args, cli.diagnostics_format),
        None => {
            // Upstream prints the usage and succeeds when no subcommand is given.
            let _ = Cli::command().write_help(&mut std::io::stderr());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
