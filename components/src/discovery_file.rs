//! `discovery.file`: Prometheus file service discovery. Reads JSON or YAML target
//! groups from the files matching `files` (glob patterns) and exports them as
//! `targets`, each with `__meta_filepath`. Files are re-read when their directory
//! reports a change and every `refresh_interval`; a file that fails to read or parse
//! keeps the targets it had, as Prometheus does.

use alloy_runtime::component::{
    Arguments, BoxFuture, Component, ExportsSink, Health, HealthState, Options,
};
use alloy_runtime::decode::Decoder;
use alloy_runtime::duration::GoDuration;
use alloy_runtime::livedebug::Tap;
use alloy_runtime::schema::{attr, LabelRule, Schema, Ty};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        attr!("files", Ty::Array(&Ty::String), required),
        attr!("refresh_interval", Ty::Duration),
    ],
    blocks: &[],
    free_form: false,
};

/// Editors write a file in several steps; events closer than this are one change.
const SETTLE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryFileArgs {
    /// Files to read; the last path element may be a glob (`targets/*.json`).
    pub files: Vec<String>,
    /// How often every file is re-read even without a change event (default 5m).
    pub refresh_interval: GoDuration,
}

impl Arguments for DiscoveryFileArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        let files: Vec<String> = d.required("files")?;
        for pattern in &files {
            if let Err(err) = glob::Pattern::new(pattern) {
                return Err(d.error(
                    d.span_of("files"),
                    format!("invalid file pattern {pattern:?}: {err}"),
                ));
            }
            if !has_sd_extension(Path::new(pattern)) {
                return Err(d.error(
                    d.span_of("files"),
                    format!("{pattern:?}: discovery.file reads only .json, .yml and .yaml files"),
                ));
            }
        }
        let refresh_interval =
            d.positive_duration("refresh_interval", GoDuration::from_secs(300))?;
        Ok(DiscoveryFileArgs {
            files,
            refresh_interval,
        })
    }
}

fn has_sd_extension(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json" | "yml" | "yaml")
    )
}

/// One target group of a file.
#[derive(Debug, Clone, serde::Deserialize)]
struct Group {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Reads one file's target groups by its extension.
fn read_groups(path: &Path) -> Result<Vec<Group>, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_slice(&text).map_err(|e| e.to_string()),
        _ => {
            if text.iter().all(u8::is_ascii_whitespace) {
                // An empty YAML file is no groups, not an error.
                return Ok(Vec::new());
            }
            serde_norway::from_slice(&text).map_err(|e| e.to_string())
        }
    }
}

/// The files the patterns match now, sorted.
fn expand(patterns: &[String]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for pattern in patterns {
        if let Ok(paths) = glob::glob(pattern) {
            out.extend(paths.filter_map(Result::ok).filter(|p| p.is_file()));
        }
    }
    out
}

/// The directories to watch: each pattern's parent, up to its first glob character.
fn watch_dirs(patterns: &[String]) -> BTreeSet<PathBuf> {
    patterns
        .iter()
        .filter_map(|p| {
            let parent = Path::new(p).parent()?;
            let plain: PathBuf = parent
                .components()
                .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
                .collect();
            Some(if plain.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                plain
            })
        })
        .collect()
}

/// The running component.
pub struct DiscoveryFile {
    exports: ExportsSink,
    state: Mutex<State>,
    reconfigured: Notify,
    live: Tap,
}

struct State {
    args: DiscoveryFileArgs,
    health: Health,
    /// The groups each file had at its last good read.
    last: BTreeMap<PathBuf, Vec<Group>>,
    published: Option<Value>,
}

fn exports_of(targets: Value) -> Value {
    Value::object(BTreeMap::from([("targets".to_string(), targets)]))
}

impl DiscoveryFile {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-reads every matching file and publishes the targets when they changed.
    fn refresh(&self) {
        let mut state = self.lock();
        let files = expand(&state.args.files);
        let mut next = BTreeMap::new();
        let mut failed = Vec::new();
        for path in files {
            match read_groups(&path) {
                Ok(groups) => {
                    next.insert(path, groups);
                }
                Err(err) => {
                    tracing::warn!(path = %path.display(), %err, "discovery.file could not read a file; keeping its last targets");
                    failed.push(format!("{}: {err}", path.display()));
                    if let Some(old) = state.last.get(&path) {
                        next.insert(path, old.clone());
                    }
                }
            }
        }
        state.health = if failed.is_empty() {
            Health::new(HealthState::Healthy, "started discovery")
        } else {
            Health::new(
                HealthState::Healthy,
                format!("some files could not be read: {}", failed.join("; ")),
            )
        };
        let mut targets = Vec::new();
        for (path, groups) in &next {
            let filepath = path.display().to_string();
            for group in groups {
                for address in &group.targets {
                    let mut labels: BTreeMap<String, Value> = group
                        .labels
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::string(v.as_str())))
                        .collect();
                    labels.insert("__address__".into(), Value::string(address.as_str()));
                    labels.insert("__meta_filepath".into(), Value::string(filepath.as_str()));
                    targets.push(Value::object(labels));
                }
            }
        }
        state.last = next;
        let targets = Value::array(targets);
        let same = state
            .published
            .as_ref()
            .is_some_and(|p| alloy_syntax::value::values_identical(p, &targets));
        if !same {
            self.live
                .publish(|| alloy_syntax::value::render::render(&targets));
            state.published = Some(targets.clone());
            drop(state);
            (self.exports)(exports_of(targets));
        }
    }
}

impl Component for DiscoveryFile {
    type Arguments = DiscoveryFileArgs;

    fn build(opts: Options, args: DiscoveryFileArgs) -> Result<Self, String> {
        let live = opts.services.live_debugging.tap(&opts.id);
        let component = DiscoveryFile {
            exports: opts.exports,
            state: Mutex::new(State {
                args,
                health: Health::new(HealthState::Healthy, "started discovery"),
                last: BTreeMap::new(),
                published: None,
            }),
            reconfigured: Notify::new(),
            live,
        };
        // Dependants see the files' targets on their first evaluation.
        component.refresh();
        Ok(component)
    }

    fn update(&self, args: DiscoveryFileArgs) -> Result<(), String> {
        self.lock().args = args;
        self.refresh();
        self.reconfigured.notify_one();
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            loop {
                let args = self.lock().args.clone();
                let (tx, mut changed) = mpsc::unbounded_channel();
                // Kept alive for this configuration; dropping them stops the watches.
                let _watchers: Vec<_> = watch_dirs(&args.files)
                    .iter()
                    .filter_map(|dir| {
                        alloy_runtime::watch::watch(dir, has_sd_extension, tx.clone())
                    })
                    .collect();
                let mut ticker = tokio::time::interval(args.refresh_interval.to_std());
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker.tick().await;
                // Changes made before the watches existed (between build and now)
                // raised no event: read once more.
                self.refresh();
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = self.reconfigured.notified() => break,
                        _ = ticker.tick() => self.refresh(),
                        Some(()) = changed.recv() => {
                            tokio::time::sleep(SETTLE).await;
                            while changed.try_recv().is_ok() {}
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
