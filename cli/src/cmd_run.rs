//! `ferroalloy run PATH`: loads the configuration, runs its components, and reloads
//! on SIGHUP, on `/-/reload` or when the configuration changes on disk. A reload that
//! fails to parse or build leaves the running graph untouched (RUNTIME.md §10).
//!
//! The HTTP server is bound before the initial load, as upstream does, so `/metrics`
//! and `/-/ready` (503 until the load succeeds) answer during it.

use crate::cluster_flags::ClusterArgs;
use crate::cmd_validate::{parse_stability, sources_of};
use crate::diagnostics::{stderr_wants_color, DiagnosticsFormat, Printer};
use crate::logging::LogControl;
use alloy_runtime::cluster::Cluster;
use alloy_runtime::component::{Services, Stability};
use alloy_runtime::config_blocks::ConfigBlocks;
use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_runtime::http::{HttpOptions, HttpService, ReloadFn};
use alloy_runtime::livedebug::LiveDebugging;
use alloy_runtime::metrics::{ConfigMetrics, Metrics};
use alloy_runtime::source::{load, SourceFile};
use alloy_runtime::tls::TlsSlot;
use alloy_syntax::Diagnostic;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long open HTTP requests may take to finish once the process is stopping.
/// Probes and reloads are short; this only bounds a stuck client.
const HTTP_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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

    /// Address to serve the HTTP API on (`/-/ready`, `/-/healthy`, `/-/reload`,
    /// `/metrics`). Port 0 picks a free port, which is logged.
    #[arg(long = "server.http.listen-addr", default_value = "127.0.0.1:12345")]
    listen_addr: String,

    #[command(flatten)]
    cluster: ClusterArgs,
}

pub fn run(args: &RunArgs, format: Option<DiagnosticsFormat>) -> Result<()> {
    if args.config_format != "alloy" {
        bail!(
            "--config.format={} is not supported yet; convert the file first",
            args.config_format
        );
    }
    let logs = crate::logging::init(stderr_wants_color());
    let printer = Printer::new(
        format.unwrap_or(DiagnosticsFormat::Plain),
        stderr_wants_color(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, printer, logs))
}

async fn serve(args: &RunArgs, printer: Printer, logs: LogControl) -> Result<()> {
    let metrics = Arc::new(Metrics::new());
    metrics.register(
        "alloy_build",
        "A metric with a constant '1' value labeled by the version, revision and branch ferroalloy was built from, and the platform it was built for",
        prometheus_client::metrics::info::Info::new(crate::version::labels()),
    );
    // Upstream exits when it cannot listen; so do we, before loading anything.
    let listener = tokio::net::TcpListener::bind(&args.listen_addr)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen_addr))?;
    // Peers reach this node on the HTTP port, so the cluster is set up once the port
    // is known (it may have been 0).
    let http_addr = listener.local_addr()?;
    let http_port = http_addr.port();
    let live_debugging = LiveDebugging::default();
    let tls = TlsSlot::default();
    let cluster_opts = args.cluster.options(http_port).await?;
    let cluster = Cluster::start(cluster_opts, &metrics)
        .await
        .map_err(anyhow::Error::msg)
        .context("failed to start clustering")?;
    let controller = Controller::new(
        alloy_components::registry(),
        Arc::new(alloy_stdlib::Stdlib::new()),
        ControllerOptions {
            storage_path: args.storage_path.clone(),
            min_stability: args.stability,
            module_path: alloy_runtime::module::module_path_of(&args.path.display().to_string()),
            cluster: cluster.clone(),
            services: Services {
                http_addr: http_addr.to_string(),
                live_debugging: live_debugging.clone(),
                metrics: metrics.clone(),
            },
        },
    );
    let reloader = Arc::new(Reloader {
        controller: controller.clone(),
        path: args.path.clone(),
        printer,
        apply: Apply {
            logs,
            tls: tls.clone(),
            live_debugging: live_debugging.clone(),
        },
        metrics: ConfigMetrics::register(&metrics),
        cluster: cluster.clone(),
        one_at_a_time: tokio::sync::Mutex::new(()),
    });

    let http_shutdown = CancellationToken::new();
    let http = HttpService::start(
        listener,
        HttpOptions {
            controller: controller.clone(),
            metrics,
            reload: http_reload(reloader.clone()),
            cluster: cluster.clone(),
            tls,
            live: live_debugging,
        },
        http_shutdown.clone(),
    )?;
    if cluster.enabled() {
        tracing::info!(
            node = cluster.node_name(),
            cluster = cluster.cluster_name(),
            "starting clustering"
        );
    }
    // Upstream joins before the initial load; the node stays a viewer until the load
    // succeeds, so peers give it no work before it can do any.
    cluster.join().await;

    // Signal handlers and the watch come first: a SIGHUP must never kill the process,
    // and an edit made while loading must not be missed.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let (changed_tx, mut changed) = mpsc::unbounded_channel();
    let _watcher = watch_config(&args.path, changed_tx);
    // The initial load must succeed completely; nothing runs otherwise.
    if reloader.load().await.is_err() {
        // Say goodbye rather than leave peers to detect a failure.
        cluster.shutdown().await;
        bail!("could not perform the initial load successfully");
    }
    http.set_ready();
    cluster.participate().await;
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
        // The outcome is logged inside; the signal path has no one to answer.
        let _ = reloader.reload(trigger).await;
    }
    tracing::info!("shutting down");
    // Before the HTTP server stops: peers must hear `terminating` and the leave.
    cluster.shutdown().await;
    http_shutdown.cancel();
    controller.shutdown();
    match tokio::time::timeout(HTTP_SHUTDOWN_GRACE, http.stopped()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "HTTP server stopped with an error."),
        Err(_) => tracing::warn!("HTTP requests still open at shutdown were abandoned."),
    }
    Ok(())
}

/// Loads the configuration for every trigger (start, SIGHUP, file change, HTTP),
/// one load at a time, and keeps the config metrics.
struct Reloader {
    controller: Controller,
    path: PathBuf,
    printer: Printer,
    /// Where the config blocks of each successful load take effect.
    apply: Apply,
    metrics: ConfigMetrics,
    cluster: Cluster,
    /// Held for a whole read-parse-load-record sequence: two triggers at once would
    /// otherwise interleave their metrics, and an older file could be loaded last.
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// Reads, parses and loads the configuration, printing diagnostics on failure.
    /// `Err` is the diagnostics as one `FILE:LINE:COL: message` line each.
    async fn load(&self) -> Result<(), String> {
        let _serialised = self.one_at_a_time.lock().await;
        let result = reload(&self.controller, &self.path, &self.metrics, &self.cluster)
            .await
            .map(|config| self.apply.apply(&config));
        self.metrics.record_load(result.is_ok());
        result.map_err(|(diags, sources)| {
            self.printer.eprint(&diags, &sources);
            error_text(&diags, &sources)
        })
    }

    /// [`Reloader::load`] after the initial load, with the outcome logged.
    async fn reload(&self, trigger: &'static str) -> Result<(), String> {
        let result = self.load().await;
        match &result {
            Ok(()) => tracing::info!(trigger, "config reloaded"),
            Err(_) => tracing::error!(
                trigger,
                "reload failed; the previous configuration keeps running"
            ),
        }
        result
    }
}

/// Applies the config and service blocks of a load to the process.
struct Apply {
    logs: LogControl,
    tls: TlsSlot,
    live_debugging: LiveDebugging,
}

impl Apply {
    fn apply(&self, config: &ConfigBlocks) {
        self.logs.apply(config.logging.as_ref());
        self.tls.set(config.http.tls.clone());
        self.live_debugging
            .set_enabled(config.livedebugging.enabled);
    }
}

/// The `/-/reload` callback: the same serialised reload as SIGHUP.
fn http_reload(reloader: Arc<Reloader>) -> ReloadFn {
    Arc::new(move || {
        let reloader = reloader.clone();
        Box::pin(async move { reloader.reload("HTTP").await })
    })
}

/// What `/-/reload` answers on failure: one line per diagnostic, like upstream's
/// `err.Error()`. A diagnostic about no file in particular is its bare message.
fn error_text(diags: &[Diagnostic], sources: &crate::diagnostics::Sources) -> String {
    let short = Printer::new(DiagnosticsFormat::Short, false);
    diags
        .iter()
        .map(|d| {
            if d.file.is_empty() {
                format!("{}\n", d.message)
            } else {
                short.render(std::slice::from_ref(d), sources)
            }
        })
        .collect()
}

/// The SHA-256 of every source file's text, concatenated in the order loaded (sorted
/// by name), as lower-case hex: upstream's `alloy_config_hash` label.
fn config_hash(files: &[SourceFile]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.text.as_bytes());
    }
    // sha2 0.11's output type has no `LowerHex`; spell the bytes out.
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

type Failure = (Vec<Diagnostic>, crate::diagnostics::Sources);

/// Reads, parses and loads the configuration at `path`, returning its config blocks.
/// The config hash is recorded once the files parse, even if loading them then fails,
/// as upstream does.
async fn reload(
    controller: &Controller,
    path: &Path,
    metrics: &ConfigMetrics,
    cluster: &Cluster,
) -> Result<ConfigBlocks, Failure> {
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
    let hash = config_hash(&files);
    metrics.set_hash(&hash);
    match controller.load(files).await {
        Ok(report) if report.errors.is_empty() => {
            // Peers compare what each node runs: only a loaded configuration counts.
            cluster.set_config_hash(&hash);
            for id in &report.started {
                tracing::info!(node = %id, "started component");
            }
            for id in &report.stopped {
                tracing::info!(node = %id, "stopped component");
            }
            for warning in &report.warnings {
                tracing::warn!(file = %warning.file, "{}", warning.message);
            }
            Ok(report.config)
        }
        Ok(report) => Err((report.errors, sources)),
        Err(diags) => Err((diags, sources)),
    }
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
