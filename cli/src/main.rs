//! The `ferroalloy` command line: flag parsing and dispatch to one module per subcommand.
//!
//! Each subcommand lives in its own `cmd_*.rs` with a clap `Args` struct and a `run`
//! function returning `anyhow::Result`. Errors are printed here, once, as upstream's
//! cobra does (`Error: <message>` on stderr, exit status 1).

mod cluster_flags;
mod cmd_cluster;
mod cmd_completion;
mod cmd_eval;
mod cmd_fmt;
mod cmd_run;
mod cmd_validate;
mod convert;
mod diagnostics;
mod logging;
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

    /// How to print diagnostics: `plain` (upstream's layout with source lines, the
    /// default), `fancy` (miette) or `short` (one `FILE:LINE:COL: message` line each).
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

/// The subcommands, each in its own `cmd_*.rs`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Format a configuration file.
    #[command(visible_alias = "format", long_about = cmd_fmt::LONG_ABOUT)]
    Fmt(cmd_fmt::FmtArgs),
    /// Run a configuration: build its components and keep them running, reloading on
    /// SIGHUP or when the configuration changes.
    Run(Box<cmd_run::RunArgs>),
    /// Check a configuration without running it; reports every problem at once.
    Validate(cmd_validate::ValidateArgs),
    /// Evaluate one expression with the standard library and print its value.
    Eval(cmd_eval::EvalArgs),
    /// Convert a Prometheus or Grafana Agent configuration to Alloy.
    #[command(long_about = convert::LONG_ABOUT)]
    Convert(convert::ConvertArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(long_about = cmd_completion::LONG_ABOUT)]
    Completion(cmd_completion::CompletionArgs),
    /// Write man pages generated from the command-line definitions.
    #[command(hide = true)]
    Mangen(cmd_completion::MangenArgs),
    /// Ask a running clustered node about the cluster.
    #[command(subcommand)]
    Cluster(cmd_cluster::ClusterCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print!("{}", version::text());
        return ExitCode::SUCCESS;
    }
    diagnostics::install_miette_hook(
        cli.diagnostics_format.unwrap_or(DiagnosticsFormat::Plain),
        diagnostics::stderr_wants_color(),
    );
    let result = match cli.command {
        Some(Command::Fmt(args)) => cmd_fmt::run(&args, cli.diagnostics_format),
        Some(Command::Run(args)) => cmd_run::run(&args, cli.diagnostics_format),
        Some(Command::Validate(args)) => cmd_validate::run(&args, cli.diagnostics_format),
        Some(Command::Eval(args)) => cmd_eval::run(&args, cli.diagnostics_format),
        Some(Command::Convert(args)) => convert::run(&args, cli.diagnostics_format),
        Some(Command::Completion(args)) => cmd_completion::completion(&args, Cli::command()),
        Some(Command::Mangen(args)) => cmd_completion::mangen(&args, Cli::command()),
        Some(Command::Cluster(command)) => cmd_cluster::run(&command),
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
