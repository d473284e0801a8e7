//! The running graph: loading a configuration into component nodes, evaluating them
//! in dependency order, running each component in its own task, and re-evaluating
//! dependants when exports change (RUNTIME.md §4–§7, §10).
//!
//! Exports changes arrive on a queue. The controller loop drains it in batches and
//! submits each direct dependant for evaluation; a node has at most one evaluation
//! running and one pending, so bursts collapse. Evaluation stops propagating where a
//! node's arguments or exports come out unchanged.

use crate::component::{
    BuildError, DynComponent, Health, HealthState, Options, Registration, Registry, Stability,
};
use crate::decode::Decoder;
use crate::evaluate::{eval_body_value, ExportsScope};
use crate::graph::{Graph, GraphNode};
use crate::refs::{body_traversals, Traversal};
use crate::schema::check_body;
use crate::source::SourceFile;
use alloy_syntax::ast::{Block, Stmt};
use alloy_syntax::eval::{Layered, Scope};
use alloy_syntax::value::{values_identical, Value};
use alloy_syntax::{Diagnostic, Span};
use petgraph::graph::NodeIndex;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Diagnostic code for graph-level load errors.
pub const CODE_GRAPH: &str = "alloy::graph";
/// Diagnostic code for evaluation and build failures.
pub const CODE_EVAL: &str = "alloy::eval";

/// The standard library or any other base scope, shared across tasks.
pub type BaseScope = Arc<dyn Scope + Send + Sync>;

/// Settings that hold for the controller's lifetime.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    pub storage_path: PathBuf,
    pub min_stability: Stability,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            storage_path: PathBuf::from("data-alloy"),
            min_stability: Stability::GenerallyAvailable,
        }
    }
}

/// A component node of the running graph. Nodes survive reloads that keep their ID
/// and component name, so the component inside is updated, not restarted.
pub struct Node {
    pub id: String,
    reg: Registration,
    source: Mutex<(Arc<SourceFile>, Block)>,
    state: Mutex<NodeState>,
    sched: Mutex<Sched>,
}

struct NodeState {
    component: Option<Arc<dyn DynComponent>>,
    exports: Value,
    eval_health: Health,
    run_health: Health,
    run: Option<CancellationToken>,
    /// Bumped whenever `exports` changes.
    version: u64,
    /// The export versions of its dependencies this node last evaluated against, so
    /// a change it has already seen (during a load, say) does not evaluate it again.
    seen: HashMap<String, u64>,
}

/// Coalescing state: at most one evaluation running and one waiting.
#[derive(Default)]
struct Sched {
    running: bool,
    pending: bool,
}

impl GraphNode for Arc<Node> {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Node {
    /// The component's current exports (null before it first publishes).
    pub fn exports(&self) -> Value {
        self.lock_state().exports.clone()
    }

    /// The least healthy of evaluation, run and component-reported health.
    pub fn health(&self) -> Health {
        let state = self.lock_state();
        let own = state.component.as_ref().and_then(|c| c.health());
        Health::worst(
            [&state.eval_health, &state.run_health]
                .into_iter()
                .chain(own.as_ref()),
        )
        .unwrap_or_else(|| Health::new(HealthState::Unknown, "component created"))
    }

    pub fn component_name(&self) -> &'static str {
        self.reg.name
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn source(&self) -> (Arc<SourceFile>, Block) {
        let guard = self.source.lock().unwrap_or_else(|e| e.into_inner());
        (guard.0.clone(), guard.1.clone())
    }
}

/// A loaded configuration.
struct Loaded {
    graph: Graph<Arc<Node>>,
    /// Indices in dependency order (dependencies first).
    order: Vec<NodeIndex>,
}

/// What a successful or partly successful load did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Evaluation errors (the graph was installed; failing nodes keep their last good
    /// state and are unhealthy). Empty on full success.
    pub errors: Vec<Diagnostic>,
    /// Warnings found while loading.
    pub warnings: Vec<Diagnostic>,
    pub started: Vec<String>,
    pub stopped: Vec<String>,
    pub updated: Vec<String>,
}

/// The component controller. Cheap to clone.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    base: BaseScope,
    opts: ControllerOptions,
    current: RwLock<Option<Arc<Loaded>>>,
    /// Loads take it for writing, incremental evaluations for reading: a reload and
    /// an evaluation never interleave (upstream's loader-wide lock).
    load_lock: tokio::sync::RwLock<()>,
    updates: mpsc::UnboundedSender<String>,
    cancel: CancellationToken,
    evaluations: AtomicU64,
}

impl Controller {
    /// Creates a controller and starts its update loop on the current tokio runtime.
    pub fn new(registry: Registry, base: BaseScope, opts: ControllerOptions) -> Controller {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            registry,
            base,
            opts,
            current: RwLock::new(None),
            load_lock: tokio::sync::RwLock::new(()),
            updates: tx,
            cancel: CancellationToken::new(),
            evaluations: AtomicU64::new(0),
        });
        tokio::spawn(update_loop(
            Arc::downgrade(&inner),
            rx,
            inner.cancel.clone(),
        ));
        Controller { inner }
    }

    /// Loads `files` as the whole configuration. Graph-level errors (unknown
    /// components, duplicates, bad references, cycles) leave the running graph
    /// untouched and come back as `Err`. Otherwise the new graph is installed and
    /// evaluated; evaluation errors are in the report.
    pub async fn load(&self, files: Vec<SourceFile>) -> Result<LoadReport, Vec<Diagnostic>> {
        let _guard = self.inner.load_lock.write().await;
        self.inner.load(files)
    }

    /// The node with this ID in the running graph.
    pub fn node(&self, id: &str) -> Option<Arc<Node>> {
        let current = self.inner.current()?;
        let index = current.graph.get(id)?;
        Some(current.graph.node(index).clone())
    }

    /// Every node of the running graph, in dependency order.
    pub fn nodes(&self) -> Vec<Arc<Node>> {
        self.inner.current().map_or_else(Vec::new, |c| {
            c.order.iter().map(|&i| c.graph.node(i).clone()).collect()
        })
    }

    /// How many component evaluations have run (for tests and metrics).
    pub fn evaluations(&self) -> u64 {
        self.inner.evaluations.load(Ordering::Relaxed)
    }

    /// Stops every component and the update loop.
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A block classified for the graph, before anything runs.
struct Planned<'f> {
    id: String,
    reg: Registration,
    file: &'f Arc<SourceFile>,
    block: &'f Block,
}

impl GraphNode for Planned<'_> {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Inner {
    fn current(&self) -> Option<Arc<Loaded>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn load(self: &Arc<Self>, files: Vec<SourceFile>) -> Result<LoadReport, Vec<Diagnostic>> {
        let files: Vec<Arc<SourceFile>> = files.into_iter().map(Arc::new).collect();
        let (plan, warnings) = self.plan(&files)?;

        // The plan is sound: install it, reusing nodes whose ID and component kind
        // are unchanged.
        let old = self.current();
        let mut report = LoadReport {
            warnings,
            ..LoadReport::default()
        };
        let mut graph: Graph<Arc<Node>> = Graph::new();
        for planned in plan.indices().map(|i| plan.node(i)) {
            let reused = old
                .as_ref()
                .and_then(|o| o.graph.get(&planned.id).map(|i| o.graph.node(i).clone()))
                .filter(|n| n.reg.name == planned.reg.name);
            let node = match reused {
                Some(node) => {
                    *node.source.lock().unwrap_or_else(|e| e.into_inner()) =
                        (planned.file.clone(), planned.block.clone());
                    report.updated.push(node.id.clone());
                    node
                }
                None => Arc::new(Node {
                    id: planned.id.clone(),
                    reg: planned.reg.clone(),
                    source: Mutex::new((planned.file.clone(), planned.block.clone())),
                    state: Mutex::new(NodeState {
                        component: None,
                        exports: Value::Null,
                        eval_health: Health::new(HealthState::Unknown, "component created"),
                        run_health: Health::new(HealthState::Unknown, "component created"),
                        run: None,
                        version: 0,
                        seen: HashMap::new(),
                    }),
                    sched: Mutex::new(Sched::default()),
                }),
            };
            // IDs are unique in a sound plan.
            let _ = graph.add(node);
        }
        for i in plan.indices() {
            for d in plan.dependencies(i) {
                // Plan and graph were filled in the same order, so indices agree.
                graph.add_edge(i, d);
            }
        }
        let order = graph.dependency_order().unwrap_or_default();
        let loaded = Arc::new(Loaded { graph, order });

        // Stop what is gone before starting anything new (dependants first upstream;
        // a cancelled token stops a component whatever its position).
        if let Some(old) = &old {
            for &i in old.order.iter().rev() {
                let node = old.graph.node(i);
                let kept = loaded
                    .graph
                    .get(&node.id)
                    .is_some_and(|j| Arc::ptr_eq(loaded.graph.node(j), node));
                if !kept {
                    if let Some(token) = node.lock_state().run.take() {
                        token.cancel();
                    }
                    report.stopped.push(node.id.clone());
                }
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(loaded.clone());

        for &i in &loaded.order {
            if let Err(diag) = self.evaluate(&loaded, i) {
                report.errors.push(diag);
            }
        }
        // Start components that are not running yet, dependencies first.
        for &i in &loaded.order {
            let node = loaded.graph.node(i).clone();
            if self.start(&node) {
                report.started.push(node.id.clone());
            }
        }
        report.updated.retain(|id| !report.started.contains(id));
        Ok(report)
    }

    /// Classifies blocks, checks IDs, references and cycles. Nothing is built.
    fn plan<'f>(
        &self,
        files: &'f [Arc<SourceFile>],
    ) -> Result<(Graph<Planned<'f>>, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut graph: Graph<Planned> = Graph::new();
        let mut first_seen: HashMap<String, (Arc<str>, Span)> = HashMap::new();
        for file in files {
            let src = &file.text;
            for stmt in &file.file.body {
                let block = match stmt {
                    Stmt::Attribute(attr) => {
                        errors.push(Diagnostic::error(
                            CODE_GRAPH,
                            &file.name,
                            attr.span(),
                            format!("unrecognized attribute {}", attr.name.text(src)),
                        ));
                        continue;
                    }
                    Stmt::Block(block) => block,
                };
                let name = block.name_text(src);
                let name_span = block.name_span();
                let label = block.label(src);
                let id = match label {
                    Some(label) => format!("{name}.{label}"),
                    None => name.clone(),
                };
                let id_span = Span::new(name_span.start, name_span.start + id.len() as u32);
                if let Some((first_file, first_span)) = first_seen.get(&id) {
                    let first = files
                        .iter()
                        .find(|f| Arc::ptr_eq(&f.name, first_file))
                        .map(|f| {
                            let (line, col) = alloy_syntax::diag::LineIndex::new(&f.text)
                                .line_col(first_span.start);
                            format!("{first_file}:{line}:{col}")
                        })
                        .unwrap_or_default();
                    errors.push(Diagnostic::error(
                        CODE_GRAPH,
                        &file.name,
                        id_span,
                        format!("block {id} already declared at {first}"),
                    ));
                    continue;
                }
                first_seen.insert(id.clone(), (file.name.clone(), name_span));
                // Config blocks, declares and services arrive with the module system; until
                // then a load that uses one fails loudly rather than ignoring it.
                if name == "declare"
                    || crate::validate::CONFIG_BLOCKS.contains(&name.as_str())
                    || crate::validate::SERVICES.contains(&id.as_str())
                {
                    errors.push(Diagnostic::error(
                        CODE_GRAPH,
                        &file.name,
                        name_span,
                        format!("{name} blocks are not supported by ferroalloy yet"),
                    ));
                    continue;
                }
                let Some(reg) = self.registry.get(&name) else {
                    errors.push(Diagnostic::error(
                        CODE_GRAPH,
                        &file.name,
                        name_span,
                        format!("cannot find the definition of component name {name:?}"),
                    ));
                    continue;
                };
                if label.is_none() {
                    errors.push(Diagnostic::error(
                        CODE_GRAPH,
                        &file.name,
                        name_span,
                        format!("component {name:?} must have a label"),
                    ));
                    continue;
                }
                if let Err(message) = reg
                    .stability
                    .check_allowed(self.opts.min_stability, &format!("component {name:?}"))
                {
                    errors.push(Diagnostic::error(
                        CODE_GRAPH, &file.name, name_span, message,
                    ));
                    continue;
                }
                check_body(
                    &file.name,
                    src,
                    Some(block),
                    &block.body,
                    reg.schema,
                    &mut errors,
                );
                let _ = graph.add(Planned {
                    id,
                    reg: reg.clone(),
                    file,
                    block,
                });
            }
        }

        // References: the longest node prefix, else a name in the base scope.
        let indices: Vec<NodeIndex> = graph.indices().collect();
        for &i in &indices {
            let planned = graph.node(i);
            let (file, src) = (planned.file, planned.file.text.as_str());
            let mut traversals: Vec<Traversal> = Vec::new();
            body_traversals(&planned.block.body, &mut traversals);
            let mut deps = Vec::new();
            for t in &traversals {
                if let Some(resolved) = graph.resolve(t, src) {
                    deps.push(resolved.node);
                    continue;
                }
                let first = t.parts[0].text(src);
                if self.base.lookup(first).is_none() {
                    errors.push(Diagnostic::error(
                        CODE_GRAPH,
                        &file.name,
                        t.span(),
                        format!(
                            "component {:?} does not exist or is out of scope",
                            t.prefix(src, t.parts.len())
                        ),
                    ));
                }
            }
            for d in deps {
                graph.add_edge(i, d);
            }
        }

        let cycles = graph.cycles();
        for set in &cycles.sets {
            let ids: Vec<&str> = set.iter().map(|&n| graph.node(n).id.as_str()).collect();
            for &n in set {
                let p = graph.node(n);
                errors.push(Diagnostic::error(
                    CODE_GRAPH,
                    &p.file.name,
                    Span::new(p.block.name_span().start, p.block.lcurly + 1),
                    format!("cycle detected: {}", ids.join(", ")),
                ));
            }
        }
        for &n in &cycles.self_refs {
            let p = graph.node(n);
            errors.push(Diagnostic::error(
                CODE_GRAPH,
                &p.file.name,
                Span::new(p.block.name_span().start, p.block.lcurly + 1),
                "cannot reference self",
            ));
        }
        if errors.is_empty() {
            Ok((graph, std::mem::take(&mut warnings)))
        } else {
            errors.extend(warnings);
            Err(errors)
        }
    }

    /// Evaluates one node against the current exports of what it references: builds
    /// the component the first time, updates it afterwards when the arguments changed.
    fn evaluate(self: &Arc<Self>, loaded: &Loaded, index: NodeIndex) -> Result<(), Diagnostic> {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let node = loaded.graph.node(index).clone();
        let (file, block) = node.source();
        let mut exports = ExportsScope::default();
        let mut seen = HashMap::new();
        for dep in loaded.graph.dependencies(index) {
            let dep = loaded.graph.node(dep);
            let (value, version) = {
                let state = dep.lock_state();
                (state.exports.clone(), state.version)
            };
            exports.insert(&dep.id, value);
            seen.insert(dep.id.clone(), version);
        }
        let scope = Layered(exports, &*self.base);
        let result = eval_body_value(&block.body, &file.text, &scope)
            .map_err(|e| e.to_diagnostic(&file.name))
            .and_then(|mut body| {
                body.span = block.span();
                let decoder = Decoder::new(&file.name, &body);
                let existing = node.lock_state().component.clone();
                match existing {
                    Some(component) => component.update(&decoder).map(|_| ()),
                    None => {
                        let opts = Options {
                            id: node.id.clone(),
                            data_path: self.opts.storage_path.join(&node.id),
                            exports: exports_sink(&node, self.updates.clone()),
                        };
                        let built = (node.reg.build)(opts, &decoder).map_err(|e| match e {
                            BuildError::Decode(d) => d,
                            BuildError::Build(message) => Diagnostic::error(
                                CODE_EVAL,
                                &file.name,
                                block.name_span(),
                                format!("Failed to build component: {message}"),
                            ),
                        })?;
                        node.lock_state().component = Some(built);
                        Ok(())
                    }
                }
            });
        let mut state = node.lock_state();
        state.seen = seen;
        state.eval_health = match &result {
            Ok(()) => Health::new(HealthState::Healthy, "component evaluated"),
            Err(d) => Health::new(
                HealthState::Unhealthy,
                format!("component evaluation failed: {}", d.message),
            ),
        };
        result
    }

    /// Starts the node's run task if it has a component and no task yet.
    fn start(self: &Arc<Self>, node: &Arc<Node>) -> bool {
        let mut state = node.lock_state();
        let Some(component) = state.component.clone() else {
            return false;
        };
        if state.run.is_some() {
            return false;
        }
        let token = self.cancel.child_token();
        state.run = Some(token.clone());
        state.run_health = Health::new(HealthState::Healthy, "started component");
        drop(state);
        let node = node.clone();
        tokio::spawn(async move {
            let result = component.run(token.clone()).await;
            let mut state = node.lock_state();
            if token.is_cancelled() {
                return;
            }
            state.run_health = match result {
                Ok(()) => Health::new(HealthState::Exited, "component shut down normally"),
                Err(e) => Health::new(HealthState::Exited, format!("run error: {e}")),
            };
        });
        true
    }

    /// Submits `node` for re-evaluation, coalescing with a running evaluation.
    fn submit(self: &Arc<Self>, node: Arc<Node>) {
        {
            let mut sched = node.sched.lock().unwrap_or_else(|e| e.into_inner());
            if sched.running {
                sched.pending = true;
                return;
            }
            sched.running = true;
        }
        let inner = self.clone();
        tokio::spawn(async move {
            loop {
                let guard = inner.load_lock.read().await;
                if let Some(loaded) = inner.current() {
                    if let Some(index) = loaded.graph.get(&node.id) {
                        // The node may have been replaced by a reload; evaluate only
                        // the one that is installed.
                        if Arc::ptr_eq(loaded.graph.node(index), &node) {
                            if let Err(d) = inner.evaluate(&loaded, index) {
                                tracing::warn!(node = %node.id, err = %d.message, "failed to evaluate component");
                            }
                        }
                    }
                }
                drop(guard);
                let mut sched = node.sched.lock().unwrap_or_else(|e| e.into_inner());
                if sched.pending {
                    sched.pending = false;
                    continue;
                }
                sched.running = false;
                break;
            }
        });
    }
}

/// The exports callback handed to a component: stores changed exports and queues the
/// node so its dependants are re-evaluated.
fn exports_sink(
    node: &Arc<Node>,
    updates: mpsc::UnboundedSender<String>,
) -> crate::component::ExportsSink {
    let weak = Arc::downgrade(node);
    Arc::new(move |value: Value| {
        let Some(node) = weak.upgrade() else {
            return;
        };
        let changed = {
            let mut state = node.lock_state();
            if values_identical(&state.exports, &value) {
                false
            } else {
                state.exports = value;
                state.version += 1;
                true
            }
        };
        if changed {
            let _ = updates.send(node.id.clone());
        }
    })
}

/// Drains the exports-changed queue in batches and submits the direct dependants of
/// every changed node, in dependency order.
async fn update_loop(
    inner: std::sync::Weak<Inner>,
    mut rx: mpsc::UnboundedReceiver<String>,
    cancel: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => return,
            id = rx.recv() => match id {
                Some(id) => id,
                None => return,
            },
        };
        let mut batch = BTreeSet::from([first]);
        while let Ok(id) = rx.try_recv() {
            batch.insert(id);
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let Some(loaded) = inner.current() else {
            continue;
        };
        let mut dependants = BTreeSet::new();
        for id in &batch {
            let Some(index) = loaded.graph.get(id) else {
                continue;
            };
            let version = loaded.graph.node(index).lock_state().version;
            for d in loaded.graph.dependants(index) {
                let seen = loaded.graph.node(d).lock_state().seen.get(id).copied();
                if seen != Some(version) {
                    dependants.insert(d);
                }
            }
        }
        for &index in loaded.order.iter().filter(|i| dependants.contains(i)) {
            inner.submit(loaded.graph.node(index).clone());
        }
    }
}
