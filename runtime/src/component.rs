//! The component model: typed arguments in, exports out, a long-running task, and
//! health. Components implement [`Component`]; the registry stores them type-erased as
//! [`Registration`]s so the runtime never names a concrete component.

use crate::decode::Decoder;
use crate::schema::Schema;
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// How mature a feature is. Ordered: a minimum level admits itself and above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stability {
    Experimental,
    PublicPreview,
    GenerallyAvailable,
}

impl Stability {
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Experimental => "experimental",
            Stability::PublicPreview => "public-preview",
            Stability::GenerallyAvailable => "generally-available",
        }
    }

    pub fn parse(text: &str) -> Option<Stability> {
        match text {
            "experimental" => Some(Stability::Experimental),
            "public-preview" => Some(Stability::PublicPreview),
            "generally-available" => Some(Stability::GenerallyAvailable),
            _ => None,
        }
    }

    /// Upstream's refusal text for using `what` (at level `self`) below `minimum`.
    pub fn check_allowed(self, minimum: Stability, what: &str) -> Result<(), String> {
        if self >= minimum {
            return Ok(());
        }
        Err(format!(
            "{what} is at stability level {:?}, which is below the minimum allowed stability level {:?}. Use --stability.level command-line flag to enable {:?} features",
            self.as_str(),
            minimum.as_str(),
            self.as_str()
        ))
    }
}

/// Health states, ordered from best to worst as upstream ranks them when combining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthState {
    Healthy,
    Unknown,
    Unhealthy,
    Exited,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Unknown => "unknown",
            HealthState::Unhealthy => "unhealthy",
            HealthState::Exited => "exited",
        }
    }
}

/// A health report: state, why, and when it was last set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: HealthState,
    pub message: String,
    pub updated: SystemTime,
}

impl Health {
    pub fn new(state: HealthState, message: impl Into<String>) -> Health {
        Health {
            state,
            message: message.into(),
            updated: SystemTime::now(),
        }
    }

    /// The least healthy of several reports; among equally bad ones the newest wins.
    pub fn worst<'h>(reports: impl IntoIterator<Item = &'h Health>) -> Option<Health> {
        reports
            .into_iter()
            .max_by(|a, b| a.state.cmp(&b.state).then(a.updated.cmp(&b.updated)))
            .cloned()
    }
}

/// Where a component publishes its exports. Publishing a value equal to the last one
/// is a no-op for the graph (the controller compares).
pub type ExportsSink = Arc<dyn Fn(Value) + Send + Sync>;

/// What a component is given when it is built.
#[derive(Clone)]
pub struct Options {
    /// Global ID: `prometheus.scrape.default`, or `module.x/prometheus.scrape.y`.
    pub id: String,
    /// A directory the component may keep state in, under `--storage.path`.
    pub data_path: PathBuf,
    pub exports: ExportsSink,
    /// The cluster this node is part of, for components that shard work
    /// (`clustering { enabled = true }`): `is_local(labels)` and `subscribe()` for
    /// changes. A one-node cluster when clustering is off.
    pub cluster: crate::cluster::Cluster,
    /// What the process offers components besides the cluster.
    pub services: Services,
}

/// Process facilities components may use: the HTTP server's address (for
/// `prometheus.exporter.self`), live debugging and the process's `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Services {
    /// The address the HTTP server listens on (`host:port`), empty when none runs.
    pub http_addr: String,
    /// Components publish what passes through them here; see [`crate::livedebug`].
    pub live_debugging: crate::livedebug::LiveDebugging,
    /// The registry `/metrics` serves; components add a [`crate::metrics::MetricSource`].
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Options {
    /// The counter a forwarding component adds each batch's sample count to (once
    /// per batch), read by the UI for edge throughput (see [`crate::throughput`]).
    pub fn samples_out(&self) -> Arc<std::sync::atomic::AtomicU64> {
        crate::throughput::counter(&self.id)
    }
}

/// A component's decoded arguments.
pub trait Arguments: Sized + Clone + PartialEq + Send + Sync + 'static {
    /// What the block body may contain; checked before [`Arguments::decode`].
    fn schema() -> &'static Schema;
    /// Reads the typed arguments, applying defaults for what is not set.
    fn decode(d: &Decoder) -> Result<Self, Diagnostic>;
}

/// A boxed future, for the type-erased run loop.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A component implementation.
pub trait Component: Send + Sync + Sized + 'static {
    type Arguments: Arguments;

    /// Creates the component. It may publish initial exports through `opts.exports`
    /// (a receiver, say) before returning so dependants see them on first evaluation.
    fn build(opts: Options, args: Self::Arguments) -> Result<Self, String>;

    /// Applies new arguments; only called when they differ from the current ones.
    fn update(&self, args: Self::Arguments) -> Result<(), String>;

    /// Runs until `cancel` fires. Returning early marks the component `exited`.
    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>>;

    /// The component's own health, if it reports one.
    fn health(&self) -> Option<Health> {
        None
    }

    /// What the UI shows as debug info (an object, say a scrape's targets and
    /// their owners); `None` when the component has nothing to add.
    fn debug_info(&self) -> Option<Value> {
        None
    }
}

/// A built component, type-erased.
pub trait DynComponent: Send + Sync {
    /// Decodes and applies new arguments. `Ok(false)` when they equal the current
    /// ones and nothing was called.
    fn update(&self, d: &Decoder) -> Result<bool, Diagnostic>;
    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>>;
    fn health(&self) -> Option<Health>;
    fn debug_info(&self) -> Option<Value>;
}

struct Erased<C: Component> {
    inner: Arc<C>,
    args: Mutex<C::Arguments>,
}

impl<C: Component> DynComponent for Erased<C> {
    fn update(&self, d: &Decoder) -> Result<bool, Diagnostic> {
        let args = C::Arguments::decode(d)?;
        let mut current = self.args.lock().unwrap_or_else(|e| e.into_inner());
        if *current == args {
            return Ok(false);
        }
        self.inner
            .update(args.clone())
            .map_err(|message| d.error(Default::default(), message))?;
        *current = args;
        Ok(true)
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        self.inner.clone().run(cancel)
    }

    fn health(&self) -> Option<Health> {
        self.inner.health()
    }

    fn debug_info(&self) -> Option<Value> {
        self.inner.debug_info()
    }
}

/// Builds a component of a registered kind from decoded arguments.
pub type BuildFn = fn(Options, &Decoder) -> Result<Arc<dyn DynComponent>, BuildError>;

/// Why a component could not be built.
#[derive(Debug, Clone)]
pub enum BuildError {
    /// The arguments did not decode.
    Decode(Diagnostic),
    /// The constructor refused (`Failed to build component: ...`).
    Build(String),
}

fn build_erased<C: Component>(
    opts: Options,
    d: &Decoder,
) -> Result<Arc<dyn DynComponent>, BuildError> {
    let args = C::Arguments::decode(d).map_err(BuildError::Decode)?;
    let inner = C::build(opts, args.clone()).map_err(BuildError::Build)?;
    Ok(Arc::new(Erased {
        inner: Arc::new(inner),
        args: Mutex::new(args),
    }))
}

/// One registry entry: a component kind's name, stability, schema and constructor.
#[derive(Clone)]
pub struct Registration {
    pub name: &'static str,
    pub stability: Stability,
    pub schema: &'static Schema,
    pub build: BuildFn,
}

impl Registration {
    /// The registration of component type `C` under `name`.
    pub fn of<C: Component>(name: &'static str, stability: Stability) -> Registration {
        Registration {
            name,
            stability,
            schema: C::Arguments::schema(),
            build: build_erased::<C>,
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("stability", &self.stability)
            .finish()
    }
}

/// The component kinds available to a configuration, by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    kinds: std::collections::BTreeMap<&'static str, Registration>,
    /// Module sources: what fetches the content of `import.*` and `module.*` blocks.
    /// Each is a component whose exports are `{content = ...}`.
    sources: std::collections::BTreeMap<&'static str, Registration>,
}

impl Registry {
    pub fn new(kinds: impl IntoIterator<Item = Registration>) -> Registry {
        Registry {
            kinds: kinds.into_iter().map(|r| (r.name, r)).collect(),
            sources: Default::default(),
        }
    }

    /// Adds the module sources (`import.http`, `module.file`, ...).
    pub fn with_sources(mut self, sources: impl IntoIterator<Item = Registration>) -> Registry {
        self.sources
            .extend(sources.into_iter().map(|r| (r.name, r)));
        self
    }

    /// The source that fetches content for the `import.*` or `module.*` block `name`.
    pub fn source(&self, name: &str) -> Option<&Registration> {
        self.sources.get(name)
    }

    pub fn get(&self, name: &str) -> Option<&Registration> {
        self.kinds.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{AttrValue, BodyValue};
    use crate::schema::{Attr, LabelRule, Ty};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static SCHEMA: Schema = Schema {
        label: LabelRule::Ignored,
        attrs: &[Attr {
            name: "n",
            ty: Ty::Int,
            required: true,
        }],
        blocks: &[],
        free_form: false,
    };

    #[derive(Clone, PartialEq)]
    struct Args {
        n: i64,
    }

    impl Arguments for Args {
        fn schema() -> &'static Schema {
            &SCHEMA
        }
        fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
            Ok(Args {
                n: d.required("n")?,
            })
        }
    }

    static UPDATES: AtomicUsize = AtomicUsize::new(0);

    struct Counter {
        exports: ExportsSink,
    }

    impl Component for Counter {
        type Arguments = Args;
        fn build(opts: Options, args: Args) -> Result<Self, String> {
            if args.n < 0 {
                return Err("n must not be negative".into());
            }
            (opts.exports)(Value::int(args.n));
            Ok(Counter {
                exports: opts.exports,
            })
        }
        fn update(&self, args: Args) -> Result<(), String> {
            UPDATES.fetch_add(1, Ordering::SeqCst);
            (self.exports)(Value::int(args.n));
            Ok(())
        }
        fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
            Box::pin(async move {
                cancel.cancelled().await;
                Ok(())
            })
        }
    }

    fn body(n: i64) -> BodyValue {
        BodyValue {
            attrs: vec![AttrValue {
                name: "n".into(),
                value: Value::int(n),
                span: Default::default(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn registry_builds_and_updates_only_on_change() {
        let registry = Registry::new([Registration::of::<Counter>(
            "test.counter",
            Stability::GenerallyAvailable,
        )]);
        let reg = registry.get("test.counter").unwrap();
        let published = Arc::new(Mutex::new(Vec::new()));
        let sink = published.clone();
        let opts = Options {
            id: "test.counter.a".into(),
            data_path: PathBuf::new(),
            exports: Arc::new(move |v| sink.lock().unwrap().push(v.as_number().unwrap().as_i64())),
            cluster: crate::cluster::Cluster::standalone("test"),
            services: Default::default(),
        };
        let file: Arc<str> = Arc::from("f");
        let c = (reg.build)(opts.clone(), &Decoder::new(&file, &body(1))).unwrap();
        assert!(!c.update(&Decoder::new(&file, &body(1))).unwrap());
        assert!(c.update(&Decoder::new(&file, &body(2))).unwrap());
        assert_eq!(UPDATES.load(Ordering::SeqCst), 1);
        assert_eq!(*published.lock().unwrap(), [1, 2]);
        match (reg.build)(opts, &Decoder::new(&file, &body(-1))) {
            Err(BuildError::Build(msg)) => assert_eq!(msg, "n must not be negative"),
            _ => panic!("negative n must fail to build"),
        }
    }

    #[test]
    fn stability_gate_uses_upstream_wording() {
        let err = Stability::Experimental
            .check_allowed(Stability::GenerallyAvailable, "array.combine_maps")
            .unwrap_err();
        assert_eq!(err, "array.combine_maps is at stability level \"experimental\", which is below the minimum allowed stability level \"generally-available\". Use --stability.level command-line flag to enable \"experimental\" features");
        assert!(Stability::GenerallyAvailable
            .check_allowed(Stability::PublicPreview, "x")
            .is_ok());
    }

    #[test]
    fn worst_health_wins_and_newest_breaks_ties() {
        let old = Health::new(HealthState::Unhealthy, "old");
        let healthy = Health::new(HealthState::Healthy, "ok");
        let mut new = Health::new(HealthState::Unhealthy, "new");
        new.updated = old.updated + std::time::Duration::from_secs(1);
        assert_eq!(
            Health::worst([&healthy, &old, &new]).unwrap().message,
            "new"
        );
    }
}
