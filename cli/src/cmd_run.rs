//! `ferroalloy run PATH`: loads the configuration, runs its components, and reloads
//! on SIGHUP or when the configuration changes on disk. A reload that fails to parse
//! or build leaves the running graph untouched (RUNTIME.md §10).

use crate::cmd_validate::{parse_stability, sources_of};
use crate::diagnostics::{stderr_wants_color, DiagnosticsFormat, Printer};
use alloy_runtime::component::Stability;
use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_runtime::source::load;
use alloy_syntax::Diagnostic;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Flags and arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A configuration file, or a directory whose `*.alloy` files form one configuration.
    #[arg(value_name = "PATH")]
    path: PathBuf,

    /// Where components keep their state.
    #[arg(long = "storage.path", default_value = "data-alloy/")]
    storage_path: PathBuf,

    /// Minimum stability level of features that may be used.
    #[arg(long = "stability.level", default_value = "generally-available", value_parser = parse_stability)]
    stability: Stability,

    /// The format of the source file; only `alloy` is supported so far.
    #[arg(long = "config.format", default_value = "alloy")]
    config_format: String,
}

pub fn run(args: &RunArgs, format: Option<DiagnosticsFormat>) -> Result<()> {
    if args.config_format != "alloy" {
        bail!(
            "--config.format={} is not supported yet; convert the file first",
            args.config_format
        );
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(stderr_wants_color())
        .init();
    let printer = Printer::new(
        format.unwrap_or(DiagnosticsFormat::Plain),
        stderr_wants_color(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, printer))
}

async fn serve(args: &RunArgs, printer: Printer) -> Result<()> {
    let controller = Controller::new(
        alloy_components::registry(),
        Arc::new(alloy_stdlib::Stdlib::new()),
        ControllerOptions {
            storage_path: args.storage_path.clone(),
            min_stability: args.stability,
            module_path: alloy_runtime::module::module_path_of(&args.path.display().to_string()),
        },
    );
    // Signal handlers and the watch come first: a SIGHUP must never kill the process,
    // and an edit made while loading must not be missed.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let (changed_tx, mut changed) = mpsc::unbounded_channel();
    let _watcher = watch_config(&args.path, changed_tx);
    // The initial load must succeed completely; nothing runs otherwise.
    if let Err(diags) = reload(&controller, &args.path).await {
        print_diags(&printer, &diags.0, &diags.1);
        bail!("could not perform the initial load successfully");
    }
    tracing::info!(path = %args.path.display(), "now listening for changes; ferroalloy is running");

    loop {
        let trigger = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => "SIGHUP",
            Some(()) = changed.recv() => {
                // Editors and ConfigMap swaps touch files several times; settle first.
                tokio::time::sleep(Duration::from_millis(250)).await;
                while changed.try_recv().is_ok() {}
                "file change"
            }
        };
        match reload(&controller, &args.path).await {
            Ok(()) => tracing::info!(trigger, "config reloaded"),
            Err((diags, sources)) => {
                print_diags(&printer, &diags, &sources);
                tracing::error!(
                    trigger,
                    "reload failed; the previous configuration keeps running"
                );
            }
        }
    }
    tracing::info!("shutting down");
    controller.shutdown();
    Ok(())
}

type Failure = (Vec<Diagnostic>, crate::diagnostics::Sources);

/// Reads, parses and loads the configuration at `path`.
async fn reload(controller: &Controller, path: &Path) -> Result<(), Failure> {
    let (files, parse_diags) = match load(path) {
        Ok(loaded) => loaded,
        Err(err) => {
            let diag = Diagnostic::error(
                "alloy::load",
                &Arc::from(""),
                Default::default(),
                err.to_string(),
            );
            return Err((vec![diag], Default::default()));
        }
    };
    let sources = sources_of(&files);
    if !parse_diags.is_empty() {
        return Err((parse_diags, sources));
    }
    match controller.load(files).await {
        Ok(report) if report.errors.is_empty() => {
            for id in &report.started {
                tracing::info!(node = %id, "started component");
            }
            for id in &report.stopped {
                tracing::info!(node = %id, "stopped component");
            }
            for warning in &report.warnings {
                tracing::warn!(file = %warning.file, "{}", warning.message);
            }
            Ok(())
        }
        Ok(report) => Err((report.errors, sources)),
        Err(diags) => Err((diags, sources)),
    }
}

fn print_diags(printer: &Printer, diags: &[Diagnostic], sources: &crate::diagnostics::Sources) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(printer.render(diags, sources).as_bytes());
    let _ = stderr.flush();
}

/// Watches the configuration: the file itself, or the `*.alloy` files of a directory.
fn watch_config(path: &Path, tx: mpsc::UnboundedSender<()>) -> Option<notify::RecommendedWatcher> {
    if path.is_dir() {
        alloy_runtime::watch::watch(
            path,
            |p: &Path| p.extension().is_some_and(|e| e == "alloy"),
            tx,
        )
    } else {
        alloy_runtime::watch::watch(path, alloy_runtime::watch::same_name(path), tx)
    }
}
