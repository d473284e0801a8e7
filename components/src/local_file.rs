//! `local.file`: exports a file's contents (COMPONENTS.md §7), re-read on filesystem
//! events (`detector = "fsnotify"`, watching the parent directory so atomic renames
//! and Kubernetes ConfigMap symlink swaps are seen) or every `poll_frequency`.

use alloy_runtime::component::{
    Arguments, BoxFuture, Component, ExportsSink, Health, HealthState, Options,
};
use alloy_runtime::decode::Decoder;
use alloy_runtime::duration::GoDuration;
use alloy_runtime::schema::{attr, LabelRule, Schema, Ty};
use alloy_runtime::watch::{same_name, watch};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        attr!("filename", Ty::String, required),
        attr!("detector", Ty::String),
        attr!("poll_frequency", Ty::Duration),
        attr!("is_secret", Ty::Bool),
    ],
    blocks: &[],
    free_form: false,
};

/// How changes are noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    Fsnotify,
    Poll,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocalFileArgs {
    pub filename: String,
    pub detector: Detector,
    pub poll_frequency: GoDuration,
    pub is_secret: bool,
}

impl Arguments for LocalFileArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        let detector = match d.attr_or("detector", "fsnotify".to_string())?.as_str() {
            "fsnotify" => Detector::Fsnotify,
            "poll" => Detector::Poll,
            other => {
                return Err(d.error(
                    d.span_of("detector"),
                    format!("unrecognized detector {other:?}, expected fsnotify or poll"),
                ))
            }
        };
        let poll_frequency = d.positive_duration("poll_frequency", GoDuration::from_secs(60))?;
        Ok(LocalFileArgs {
            filename: d.required("filename")?,
            detector,
            poll_frequency,
            is_secret: d.attr_or("is_secret", false)?,
        })
    }
}

/// The running component.
pub struct LocalFile {
    exports: ExportsSink,
    state: Mutex<State>,
    /// Wakes the run loop when the arguments change (new file, new detector).
    reconfigured: Notify,
    /// Turns the arguments into exports: [`read`] here, a module reader for
    /// `import.file` and `module.file`.
    reader: Reader,
}

/// Reads what the arguments name into an exports value.
pub type Reader = fn(&LocalFileArgs) -> Result<Value, String>;

struct State {
    args: LocalFileArgs,
    health: Health,
}

impl LocalFile {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the file and publishes its content; on failure the last content stays.
    fn refresh(&self) {
        let args = self.lock().args.clone();
        let health = match (self.reader)(&args) {
            Ok(value) => {
                (self.exports)(value);
                Health::new(HealthState::Healthy, "read file")
            }
            Err(err) => Health::new(HealthState::Unhealthy, err),
        };
        self.lock().health = health;
    }
}

/// The file's content as the export value (a secret when `is_secret`).
pub fn read(args: &LocalFileArgs) -> Result<Value, String> {
    let content =
        std::fs::read_to_string(&args.filename).map_err(|e| format!("failed to read file: {e}"))?;
    let exports = if args.is_secret {
        Value::secret(content)
    } else {
        Value::string(content)
    };
    Ok(Value::object([("content".to_string(), exports)].into()))
}

impl LocalFile {
    /// A file follower whose exports `reader` makes.
    pub fn with_reader(opts: Options, args: LocalFileArgs, reader: Reader) -> Result<Self, String> {
        // The first read is synchronous: a missing file fails the load.
        (opts.exports)(reader(&args)?);
        Ok(LocalFile {
            exports: opts.exports,
            state: Mutex::new(State {
                args,
                health: Health::new(HealthState::Healthy, "read file"),
            }),
            reconfigured: Notify::new(),
            reader,
        })
    }
}

impl Component for LocalFile {
    type Arguments = LocalFileArgs;

    fn build(opts: Options, args: LocalFileArgs) -> Result<Self, String> {
        LocalFile::with_reader(opts, args, read)
    }

    fn update(&self, args: LocalFileArgs) -> Result<(), String> {
        let value = (self.reader)(&args)?;
        (self.exports)(value);
        {
            let mut state = self.lock();
            state.args = args;
            state.health = Health::new(HealthState::Healthy, "read file");
        }
        self.reconfigured.notify_one();
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            loop {
                let args = self.lock().args.clone();
                let (tx, mut events) = mpsc::unbounded_channel();
                // Kept alive for this configuration; dropping it stops watching.
                let _watcher = match args.detector {
                    // A directory (a module made of files) is watched for its own
                    // `*.alloy` files; a file through its parent directory.
                    Detector::Fsnotify if Path::new(&args.filename).is_dir() => watch(
                        Path::new(&args.filename),
                        |p: &Path| p.extension().is_some_and(|e| e == "alloy"),
                        tx,
                    ),
                    Detector::Fsnotify => {
                        let file = Path::new(&args.filename);
                        watch(file, same_name(file), tx)
                    }
                    Detector::Poll => None,
                };
                // Changes made between the last read and the watch being in place
                // would otherwise wait for the next poll.
                self.refresh();
                let mut ticker = tokio::time::interval(args.poll_frequency.to_std());
                ticker.tick().await;
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = self.reconfigured.notified() => break,
                        _ = ticker.tick() => self.refresh(),
                        Some(()) = events.recv() => {
                            // Editors write in several steps; one read after the burst.
                            while events.try_recv().is_ok() {}
                            self.refresh();
                        }
                    }
                }
            }
        })
    }

    fn health(&self) -> Option<Health> {
        Some(self.lock().health.clone())
    }
}
