//! The running graph: loading a configuration into nodes, evaluating them in
//! dependency order, running each component in its own task, and re-evaluating
//! dependants when exports change (RUNTIME.md §4–§7, §9, §10).
//!
//! Exports changes arrive on a queue. The controller loop drains it in batches and
//! submits each direct dependant for evaluation; a node has at most one evaluation
//! running and one pending, so bursts collapse. Evaluation stops propagating where a
//! node's arguments or exports come out unchanged.
//!
//! A module — a custom component instance, or a classic module loaded from a file, a
//! string or a URL — runs as a nested controller of the same kind, with its own graph,
//! its `argument` values set by the caller and its `export` values published as the
//! instance's exports.

use crate::component::{
    BuildError, DynComponent, ExportsSink, Health, HealthState, Options, Registration, Registry,
    Stability,
};
use crate::config_blocks::ConfigBlocks;
use crate::decode::{AnyValue, BodyValue, Decoder};
use crate::evaluate::{eval_body_value, ExportsScope};
use crate::graph::{Graph, GraphNode};
use crate::metrics::{MetricSource, SampleKind, SourceSample};
use crate::module::{
    content_of, imported_defs, module_path_of, parse_module, persist_last_good, Content,
    DeclareDef, Defs, ImportSlot, Lookup, ModuleScope,
};
use crate::refs::{body_traversals, Traversal};
use crate::schema::check_body;
use crate::source::SourceFile;
use alloy_syntax::ast::{Block, Body, Stmt};
use alloy_syntax::eval::{Layered, Scope};
use alloy_syntax::value::{values_identical, Value};
use alloy_syntax::{Diagnostic, Span};
use petgraph::graph::NodeIndex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Diagnostic code for graph-level load errors.
pub const CODE_GRAPH: &str = "alloy::graph";
/// Diagnostic code for evaluation and build failures.
pub const CODE_EVAL: &str = "alloy::eval";

/// How deep modules may nest. A declare in an imported module that instantiates
/// itself is not a graph cycle anywhere, so depth is what stops it.
const MAX_MODULE_DEPTH: usize = 32;

/// The standard library or any other base scope, shared across tasks.
pub type BaseScope = Arc<dyn Scope + Send + Sync>;

/// Settings that hold for the controller's lifetime.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    pub storage_path: PathBuf,
    pub min_stability: Stability,
    /// `module_path` in the root configuration: the directory it was loaded from.
    pub module_path: String,
    /// Handed to every component through [`Options::cluster`].
    pub cluster: crate::cluster::Cluster,
    /// Handed to every component through [`Options::services`].
    pub services: crate::component::Services,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            storage_path: PathBuf::from("data-alloy"),
            min_stability: Stability::GenerallyAvailable,
            module_path: ".".to_string(),
            cluster: crate::cluster::Cluster::standalone("localhost"),
            services: Default::default(),
        }
    }
}

/// What a node of the graph is.
#[derive(Clone)]
enum Kind {
    /// A registered component.
    Builtin(Registration),
    /// `argument "x"` inside a module: exports `{value = ...}`.
    Argument,
    /// `export "x"` (or its deprecated alias `output`) inside a module.
    Export,
    /// `declare "x"`: a custom component definition.
    Declare,
    /// `import.*` without `arguments`: a namespace of declares fetched by `source`.
    Import {
        source: Registration,
        slot: Arc<ImportSlot>,
    },
    /// `module.*`, or `import.*` with an `arguments` block: the fetched content runs as
    /// one nested module (COMPONENTS.md §1.8, §1.9).
    Classic { source: Registration },
    /// An instance of a declare.
    Instance,
}

impl Kind {
    fn same_as(&self, other: &Kind) -> bool {
        match (self, other) {
            (Kind::Builtin(a), Kind::Builtin(b)) => a.name == b.name,
            (Kind::Import { source: a, .. }, Kind::Import { source: b, .. })
            | (Kind::Classic { source: a }, Kind::Classic { source: b }) => a.name == b.name,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

/// A node of the running graph. Nodes survive reloads that keep their ID and kind, so
/// the component inside is updated, not restarted.
pub struct Node {
    /// Local ID, unique within its module.
    pub id: String,
    /// `<module id>/<local id>`; equal to `id` at the root.
    pub global_id: String,
    /// The block name (`prometheus.scrape`, `pipelines.cloudwatch`, `argument`).
    name: String,
    label: Option<String>,
    kind: Kind,
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
    /// The module a custom component or classic module runs.
    nested: Option<Arc<Inner>>,
    /// The newest content an import's source published.
    content: Option<Content>,
    /// The content and arguments the module currently runs with.
    applied: Option<(Content, Value)>,
    /// The body as last evaluated successfully, for the UI's arguments view.
    evaluated: Option<BodyValue>,
    /// Keeps the applied content in the config hash the cluster gossips.
    module_hash: Option<crate::cluster::ModuleHashGuard>,
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
    /// The node's current exports (null before it first publishes).
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

    /// The block name: a component's registered name, a declare's name for its
    /// instances, or the config block's name.
    pub fn component_name(&self) -> &str {
        &self.name
    }

    /// Whether the node is a component (built-in, custom or classic module) rather
    /// than a config block; only components count for `/-/healthy` and the UI list.
    pub fn is_component(&self) -> bool {
        matches!(
            self.kind,
            Kind::Builtin(_) | Kind::Instance | Kind::Classic { .. }
        )
    }

    /// The nodes of the module this node runs, in dependency order (empty for
    /// anything but custom components and classic modules).
    pub fn module_nodes(&self) -> Vec<Arc<Node>> {
        let nested = self.lock_state().nested.clone();
        nested.map_or_else(Vec::new, |m| m.nodes())
    }

    /// The component's debug info (see [`crate::component::Component::debug_info`]).
    pub fn debug_info(&self) -> Option<Value> {
        let component = self.lock_state().component.clone();
        component.and_then(|c| c.debug_info())
    }

    /// The block label (`default` in `prometheus.scrape "default"`).
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Whether the node runs a module (a custom component or a classic module) whose
    /// nodes [`Node::module_nodes`] lists.
    pub fn has_module(&self) -> bool {
        self.lock_state().nested.is_some()
    }

    /// The block body as last evaluated successfully (`None` before that). Secret
    /// arguments written as plain strings are still plain here: whoever shows them
    /// must mask them by [`Node::schema`].
    pub fn arguments(&self) -> Option<BodyValue> {
        self.lock_state().evaluated.clone()
    }

    /// The schema of the block body, for built-in components and module loaders;
    /// `None` for custom components and config blocks, whose bodies are free-form.
    pub fn schema(&self) -> Option<&'static crate::schema::Schema> {
        match &self.kind {
            Kind::Builtin(reg)
            | Kind::Import { source: reg, .. }
            | Kind::Classic { source: reg } => Some(reg.schema),
            _ => None,
        }
    }

    /// The file the block is in and the block itself.
    pub fn block(&self) -> (Arc<SourceFile>, Block) {
        self.source()
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn source(&self) -> (Arc<SourceFile>, Block) {
        let guard = self.source.lock().unwrap_or_else(|e| e.into_inner());
        (guard.0.clone(), guard.1.clone())
    }

    /// Bumps the export version without changing exports, so dependants re-evaluate
    /// (a declare or import whose definitions changed).
    fn touch(&self, updates: &mpsc::UnboundedSender<String>) {
        self.lock_state().version += 1;
        let _ = updates.send(self.id.clone());
    }
}

/// A loaded configuration.
struct Loaded {
    graph: Graph<Arc<Node>>,
    /// Indices in dependency order (dependencies first).
    order: Vec<NodeIndex>,
    /// What the configuration can instantiate.
    defs: Arc<Defs>,
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
    /// The root's config and service blocks (`logging`, `http`, ...), decoded; the
    /// defaults for absent ones, and always the defaults in a module.
    pub config: ConfigBlocks,
}

/// A node's neighbours in its module's graph.
pub struct Links {
    /// What the node's expressions reference (its dependencies).
    pub references: Vec<Arc<Node>>,
    /// The nodes whose expressions reference it (its dependants).
    pub referenced_by: Vec<Arc<Node>>,
}

/// The component controller. Cheap to clone.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

/// One statement list to load: a whole file, or the body of a declare.
struct Unit {
    file: Arc<SourceFile>,
    declare: Option<Arc<DeclareDef>>,
}

impl Unit {
    fn body(&self) -> &Body {
        match &self.declare {
            Some(def) => &def.block.body,
            None => &self.file.file.body,
        }
    }
}

/// Where a controller sits: the root configuration or a module inside it.
struct ModuleCtx {
    /// The global ID of the module's node; empty at the root.
    prefix: String,
    depth: usize,
    /// Definitions visible from enclosing scopes.
    parent_defs: Mutex<Option<Arc<Defs>>>,
    /// The caller's argument values; `None` at the root.
    args: Mutex<Option<BTreeMap<String, Value>>>,
    /// Where the module's exports go.
    exports: Option<ExportsSink>,
    published: Mutex<Option<Value>>,
    module_path: Mutex<Value>,
    /// For the module of an import with its own imports: tells the importing node
    /// that a nested import changed the definitions.
    on_defs_change: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl ModuleCtx {
    fn is_root(&self) -> bool {
        self.exports.is_none()
    }

    fn module_path(&self) -> Value {
        self.module_path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

struct Inner {
    registry: Registry,
    base: BaseScope,
    opts: ControllerOptions,
    module: ModuleCtx,
    current: RwLock<Option<Arc<Loaded>>>,
    /// Loads take it for writing, incremental evaluations for reading: a reload and
    /// an evaluation never interleave (upstream's loader-wide lock). A std lock, never
    /// held across an await, because module loads happen inside (synchronous)
    /// evaluations of the enclosing controller.
    load_lock: RwLock<()>,
    updates: mpsc::UnboundedSender<String>,
    cancel: CancellationToken,
    evaluations: Arc<AtomicU64>,
}

impl Controller {
    /// Creates a controller and starts its update loop on the current tokio runtime.
    pub fn new(registry: Registry, base: BaseScope, opts: ControllerOptions) -> Controller {
        let module_path = Value::string(opts.module_path.as_str());
        let module = ModuleCtx {
            prefix: String::new(),
            depth: 0,
            parent_defs: Mutex::new(None),
            args: Mutex::new(None),
            exports: None,
            published: Mutex::new(None),
            module_path: Mutex::new(module_path),
            on_defs_change: None,
        };
        let metrics = opts.services.metrics.clone();
        let inner = Inner::new(
            registry,
            base,
            opts,
            module,
            CancellationToken::new(),
            Arc::default(),
        );
        // Only the root reports: it walks into every module itself.
        let source: Arc<dyn MetricSource> = inner.clone();
        metrics.add_source(Vec::new(), Arc::downgrade(&source));
        Controller { inner }
    }

    /// Loads `files` as the whole configuration. Graph-level errors (unknown
    /// components, duplicates, bad references, cycles) leave the running graph
    /// untouched and come back as `Err`. Otherwise the new graph is installed and
    /// evaluated; evaluation errors are in the report.
    pub async fn load(&self, files: Vec<SourceFile>) -> Result<LoadReport, Vec<Diagnostic>> {
        let units = files
            .into_iter()
            .map(|f| Unit {
                file: Arc::new(f),
                declare: None,
            })
            .collect();
        self.inner.load_exclusive(units)
    }

    /// The node with this global ID: `local.file.a` at the root, or
    /// `custom.x/local.file.a` inside the module of `custom.x`.
    pub fn node(&self, id: &str) -> Option<Arc<Node>> {
        self.inner.node(id)
    }

    /// The root configuration's nodes, in dependency order.
    pub fn nodes(&self) -> Vec<Arc<Node>> {
        self.inner.nodes()
    }

    /// The nodes of a module: the root's for `""`, else those of the module the node
    /// with global ID `module_id` runs; `None` when there is no such module.
    pub fn module(&self, module_id: &str) -> Option<Vec<Arc<Node>>> {
        if module_id.is_empty() {
            return Some(self.nodes());
        }
        let node = self.node(module_id)?;
        let nested = node.lock_state().nested.clone()?;
        Some(nested.nodes())
    }

    /// The nodes the node with this global ID references and the nodes that
    /// reference it, both within its own module.
    pub fn links(&self, id: &str) -> Option<Links> {
        self.inner.links(id)
    }

    /// How many evaluations have run, modules included (for tests and metrics).
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
    name: String,
    label: Option<String>,
    kind: Kind,
    file: &'f Arc<SourceFile>,
    block: &'f Block,
}

/// A sound plan (graph, definitions, warnings), or every error found.
type PlanResult<'f> =
    Result<(Graph<Planned<'f>>, Arc<Defs>, Vec<Diagnostic>, ConfigBlocks), Vec<Diagnostic>>;

impl GraphNode for Planned<'_> {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Inner {
    fn new(
        registry: Registry,
        base: BaseScope,
        opts: ControllerOptions,
        module: ModuleCtx,
        cancel: CancellationToken,
        evaluations: Arc<AtomicU64>,
    ) -> Arc<Inner> {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            registry,
            base,
            opts,
            module,
            current: RwLock::new(None),
            load_lock: RwLock::new(()),
            updates: tx,
            cancel,
            evaluations,
        });
        tokio::spawn(update_loop(
            Arc::downgrade(&inner),
            rx,
            inner.cancel.clone(),
        ));
        inner
    }

    /// A controller for the module run by `node`.
    fn nested(
        &self,
        node: &Arc<Node>,
        exports: ExportsSink,
        on_defs_change: Option<Arc<dyn Fn() + Send + Sync>>,
    ) -> Arc<Inner> {
        let module = ModuleCtx {
            prefix: node.global_id.clone(),
            depth: self.module.depth + 1,
            parent_defs: Mutex::new(None),
            args: Mutex::new(Some(BTreeMap::new())),
            exports: Some(exports),
            published: Mutex::new(None),
            module_path: Mutex::new(Value::Null),
            on_defs_change,
        };
        Inner::new(
            self.registry.clone(),
            self.base.clone(),
            self.opts.clone(),
            module,
            self.cancel.child_token(),
            self.evaluations.clone(),
        )
    }

    fn current(&self) -> Option<Arc<Loaded>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn nodes(&self) -> Vec<Arc<Node>> {
        self.current().map_or_else(Vec::new, |c| {
            c.order.iter().map(|&i| c.graph.node(i).clone()).collect()
        })
    }

    fn node(&self, id: &str) -> Option<Arc<Node>> {
        let (first, rest) = match id.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (id, None),
        };
        let current = self.current()?;
        let node = current.graph.node(current.graph.get(first)?).clone();
        match rest {
            None => Some(node),
            Some(rest) => {
                let nested = node.lock_state().nested.clone()?;
                nested.node(rest)
            }
        }
    }

    fn links(&self, id: &str) -> Option<Links> {
        let current = self.current()?;
        if let Some((first, rest)) = id.split_once('/') {
            let node = current.graph.node(current.graph.get(first)?).clone();
            let nested = node.lock_state().nested.clone()?;
            return nested.links(rest);
        }
        let index = current.graph.get(id)?;
        let graph = &current.graph;
        Some(Links {
            references: graph
                .dependencies(index)
                .map(|i| graph.node(i).clone())
                .collect(),
            referenced_by: graph
                .dependants(index)
                .map(|i| graph.node(i).clone())
                .collect(),
        })
    }

    fn global_id(&self, local: &str) -> String {
        if self.module.prefix.is_empty() {
            local.to_string()
        } else {
            format!("{}/{local}", self.module.prefix)
        }
    }

    fn scope(&self) -> ModuleScope<&(dyn Scope + Send + Sync)> {
        ModuleScope {
            module_path: self.module.module_path(),
            base: &*self.base,
        }
    }

    fn load_exclusive(self: &Arc<Self>, units: Vec<Unit>) -> Result<LoadReport, Vec<Diagnostic>> {
        let _guard = self.load_lock.write().unwrap_or_else(|e| e.into_inner());
        self.load(units)
    }

    fn load(self: &Arc<Self>, units: Vec<Unit>) -> Result<LoadReport, Vec<Diagnostic>> {
        let old = self.current();
        let (plan, defs, warnings, config) = self.plan(&units, old.as_deref())?;

        // The plan is sound: install it, reusing nodes whose ID and kind are unchanged.
        let mut report = LoadReport {
            warnings,
            config,
            ..LoadReport::default()
        };
        let mut graph: Graph<Arc<Node>> = Graph::new();
        for planned in plan.indices().map(|i| plan.node(i)) {
            let reused = old
                .as_ref()
                .and_then(|o| o.graph.get(&planned.id).map(|i| o.graph.node(i).clone()))
                .filter(|n| n.name == planned.name && n.kind.same_as(&planned.kind));
            let node = match reused {
                Some(node) => {
                    *node.source.lock().unwrap_or_else(|e| e.into_inner()) =
                        (planned.file.clone(), planned.block.clone());
                    report.updated.push(node.id.clone());
                    node
                }
                None => Arc::new(Node {
                    id: planned.id.clone(),
                    global_id: self.global_id(&planned.id),
                    name: planned.name.clone(),
                    label: planned.label.clone(),
                    kind: planned.kind.clone(),
                    source: Mutex::new((planned.file.clone(), planned.block.clone())),
                    state: Mutex::new(NodeState {
                        component: None,
                        exports: Value::Null,
                        eval_health: Health::new(HealthState::Unknown, "component created"),
                        run_health: Health::new(HealthState::Unknown, "component created"),
                        run: None,
                        version: 0,
                        seen: HashMap::new(),
                        nested: None,
                        content: None,
                        applied: None,
                        evaluated: None,
                        module_hash: None,
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
        let loaded = Arc::new(Loaded { graph, order, defs });

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
                    let mut state = node.lock_state();
                    if let Some(token) = state.run.take() {
                        token.cancel();
                    }
                    if let Some(nested) = state.nested.take() {
                        nested.cancel.cancel();
                    }
                    report.stopped.push(node.id.clone());
                }
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(loaded.clone());

        for &i in &loaded.order {
            if let Err(diags) = self.evaluate(&loaded, i, true) {
                report.errors.extend(diags);
            }
        }
        self.publish_module_exports(&loaded);
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

    /// Checks and decodes a root config or service block into `config`. Errors join
    /// the plan's, so a bad value fails the load before anything changes.
    fn config_block(
        &self,
        file: &Arc<SourceFile>,
        block: &Block,
        name: &str,
        config: &mut ConfigBlocks,
        errors: &mut Vec<Diagnostic>,
    ) {
        let Some(schema) = crate::validate::config_schema(name) else {
            return;
        };
        let before = errors.len();
        let src = file.text.as_str();
        check_body(&file.name, src, Some(block), &block.body, schema, errors);
        if errors.len() > before {
            return;
        }
        let decoded = eval_body_value(&block.body, src, &self.scope())
            .map_err(|e| e.to_diagnostic(&file.name))
            .and_then(|mut body| {
                body.span = block.span();
                crate::config_blocks::decode_into(config, name, &Decoder::new(&file.name, &body))
            });
        if let Err(diag) = decoded {
            errors.push(diag);
        }
    }

    /// Classifies blocks, checks IDs, references and cycles. Nothing is built.
    fn plan<'f>(&self, units: &'f [Unit], old: Option<&Loaded>) -> PlanResult<'f> {
        let root = self.module.is_root();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();

        // Every block with its ID, duplicates refused.
        let mut blocks: Vec<(&'f Arc<SourceFile>, &'f Block, String, String)> = Vec::new();
        let mut first_seen: HashMap<String, (&'f Arc<SourceFile>, Span)> = HashMap::new();
        for unit in units {
            let file = &unit.file;
            let src = file.text.as_str();
            for stmt in unit.body() {
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
                    Stmt::Block(block) => &**block,
                };
                let name = block.name_text(src);
                let name_span = block.name_span();
                let id = match block.label(src) {
                    Some(label) => format!("{name}.{label}"),
                    None => name.clone(),
                };
                if let Some((first_file, first_span)) = first_seen.get(&id) {
                    errors.push(Diagnostic::error(
                        CODE_GRAPH,
                        &file.name,
                        Span::new(name_span.start, name_span.start + id.len() as u32),
                        format!(
                            "block {id} already declared at {}",
                            first_file.position(first_span.start)
                        ),
                    ));
                    continue;
                }
                first_seen.insert(id.clone(), (file, name_span));
                blocks.push((file, block, name, id));
            }
        }

        // Definitions first: a custom component may be used above its declare.
        let mut defs = Defs {
            parent: self
                .module
                .parent_defs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            ..Defs::default()
        };
        let mut slots: HashMap<String, Arc<ImportSlot>> = HashMap::new();
        for (file, block, name, id) in &blocks {
            let src = file.text.as_str();
            let Some(label) = block.label(src) else {
                continue;
            };
            if name == "declare" {
                defs.declares.insert(
                    label.to_string(),
                    Arc::new(DeclareDef {
                        file: (*file).clone(),
                        block: (*block).clone(),
                        module_path: self.module.module_path(),
                    }),
                );
            } else if name.starts_with("import.") && !has_arguments_block(block, src) {
                // A reloaded import keeps its slot, so instances keep resolving while
                // the new import evaluates.
                let slot = old
                    .and_then(|o| o.graph.get(id).map(|i| o.graph.node(i).clone()))
                    .and_then(|n| match &n.kind {
                        Kind::Import { slot, .. } => Some(slot.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                defs.imports.insert(label.to_string(), slot.clone());
                slots.insert(id.clone(), slot);
            }
        }
        let defs = Arc::new(defs);

        let mut graph: Graph<Planned> = Graph::new();
        let mut config = ConfigBlocks::default();
        for (file, block, name, id) in blocks {
            let src = file.text.as_str();
            let name_span = block.name_span();
            let label = block.label(src).map(str::to_string);
            let here =
                |message: String| Diagnostic::error(CODE_GRAPH, &file.name, name_span, message);
            let kind = match name.as_str() {
                "declare" => {
                    match label.as_deref() {
                        None => errors.push(here("declare block must have a label".into())),
                        Some("declare") => {
                            errors.push(here("declare block cannot be named declare".into()))
                        }
                        Some(_) => {}
                    }
                    Kind::Declare
                }
                "argument" | "export" | "output" => {
                    if root {
                        errors.push(Diagnostic::error(
                            CODE_GRAPH,
                            &file.name,
                            block.span(),
                            format!("{name} blocks only allowed inside a module"),
                        ));
                        continue;
                    }
                    if label.is_none() {
                        errors.push(here(format!("{name} block must have a label")));
                        continue;
                    }
                    if name == "output" {
                        warnings.push(Diagnostic::warning(
                            CODE_GRAPH,
                            &file.name,
                            name_span,
                            "output blocks are deprecated and treated as export blocks; rename them to export",
                        ));
                    }
                    let schema = if name == "argument" {
                        &crate::validate::ARGUMENT
                    } else {
                        &crate::validate::EXPORT
                    };
                    check_body(
                        &file.name,
                        src,
                        Some(block),
                        &block.body,
                        schema,
                        &mut errors,
                    );
                    if name == "argument" {
                        Kind::Argument
                    } else {
                        Kind::Export
                    }
                }
                "logging" | "tracing" | "foreach" | "import.git" => {
                    if !root && name != "foreach" && name != "import.git" {
                        errors.push(here(format!("{id} not allowed in module")));
                    } else if name == "logging" || name == "tracing" {
                        self.config_block(file, block, &name, &mut config, &mut errors);
                    } else {
                        // These arrive with later work; refusing is better than
                        // silently ignoring configuration.
                        errors.push(here(format!(
                            "{name} blocks are not supported by ferroalloy yet"
                        )));
                    }
                    continue;
                }
                _ if crate::validate::SERVICES.contains(&id.as_str()) => {
                    if root && (name == "http" || name == "livedebugging") {
                        self.config_block(file, block, &name, &mut config, &mut errors);
                    } else if root {
                        errors.push(here(format!(
                            "{name} blocks are not supported by ferroalloy yet"
                        )));
                    } else {
                        errors.push(here(format!("{id} not allowed in module")));
                    }
                    continue;
                }
                _ if name.starts_with("import.") || name.starts_with("module.") => {
                    let Some(source) = self.registry.source(&name) else {
                        errors.push(here(format!(
                            "cannot find the definition of component name {name:?}"
                        )));
                        continue;
                    };
                    if label.is_none() {
                        errors.push(here(format!("{name} block must have a label")));
                        continue;
                    }
                    let classic = name.starts_with("module.") || has_arguments_block(block, src);
                    if classic && name.starts_with("import.") {
                        warnings.push(Diagnostic::warning(
                            CODE_GRAPH,
                            &file.name,
                            name_span,
                            format!("{name} with an arguments block runs the fetched content as a classic module; this form is deprecated, use declare blocks and custom components instead"),
                        ));
                    }
                    let body = block.body.iter().filter(|s| !is_arguments_block(s, src));
                    check_body(
                        &file.name,
                        src,
                        Some(block),
                        body,
                        source.schema,
                        &mut errors,
                    );
                    if classic {
                        Kind::Classic {
                            source: source.clone(),
                        }
                    } else {
                        Kind::Import {
                            source: source.clone(),
                            slot: slots.get(&id).cloned().unwrap_or_default(),
                        }
                    }
                }
                _ => {
                    if let Some(reg) = self.registry.get(&name) {
                        if label.is_none() {
                            errors.push(here(format!("component {name:?} must have a label")));
                            continue;
                        }
                        if let Err(message) = reg
                            .stability
                            .check_allowed(self.opts.min_stability, &format!("component {name:?}"))
                        {
                            errors.push(here(message));
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
                        Kind::Builtin(reg.clone())
                    } else if defs.knows(&name) {
                        if label.is_none() {
                            errors.push(here(format!("component {name:?} must have a label")));
                            continue;
                        }
                        Kind::Instance
                    } else {
                        errors.push(here(format!(
                            "cannot find the definition of component name {name:?}"
                        )));
                        continue;
                    }
                }
            };
            let _ = graph.add(Planned {
                id,
                name,
                label,
                kind,
                file,
                block,
            });
        }

        // References: the longest node prefix, else a name in the module's scope.
        let scope = self.scope();
        let indices: Vec<NodeIndex> = graph.indices().collect();
        for &i in &indices {
            let planned = graph.node(i);
            let (file, src) = (planned.file, planned.file.text.as_str());
            let mut deps = Vec::new();
            if matches!(planned.kind, Kind::Declare) {
                // A declare depends on the local declares and imports its body uses,
                // so a recursive declare is a cycle and its instances follow changes.
                for stmt in &planned.block.body {
                    if let Stmt::Block(inner) = stmt {
                        if let Some(d) = local_definition(&graph, &inner.name_text(src)) {
                            deps.push(d);
                        }
                    }
                }
            } else {
                let mut traversals: Vec<Traversal> = Vec::new();
                body_traversals(&planned.block.body, &mut traversals);
                for t in &traversals {
                    if let Some(resolved) = graph.resolve(t, src) {
                        deps.push(resolved.node);
                        continue;
                    }
                    let first = t.parts[0].text(src);
                    // The stdlib rules `validate` applies hold at run time too:
                    // experimental functions need --stability.level, deprecated
                    // aliases warn.
                    let full = t.prefix(src, t.parts.len());
                    if alloy_stdlib::is_experimental(&full) {
                        if let Err(message) =
                            Stability::Experimental.check_allowed(self.opts.min_stability, &full)
                        {
                            errors.push(Diagnostic::error(
                                CODE_GRAPH,
                                &file.name,
                                t.span(),
                                message,
                            ));
                        }
                    } else if alloy_stdlib::deprecated_alias(first).is_some() {
                        warnings.push(Diagnostic::warning(
                            CODE_GRAPH,
                            &file.name,
                            t.parts[0].span,
                            "this stdlib function is deprecated; please refer to the documentation for updated usage and alternatives",
                        ));
                    }
                    if scope.lookup(first).is_none() {
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
                if matches!(planned.kind, Kind::Instance) {
                    if let Some(d) = local_definition(&graph, &planned.name) {
                        deps.push(d);
                    }
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
            Ok((graph, defs, warnings, config))
        } else {
            errors.extend(warnings);
            Err(errors)
        }
    }

    /// Evaluates one node against the current exports of what it references.
    /// `loading` is set during a full load, which publishes module exports once at
    /// the end instead of after every export block.
    fn evaluate(
        self: &Arc<Self>,
        loaded: &Loaded,
        index: NodeIndex,
        loading: bool,
    ) -> Result<(), Vec<Diagnostic>> {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let result = self.evaluate_timed(loaded, index, loading);
        self.opts
            .services
            .metrics
            .evaluation_seconds
            .observe(started.elapsed().as_secs_f64());
        result
    }

    fn evaluate_timed(
        self: &Arc<Self>,
        loaded: &Loaded,
        index: NodeIndex,
        loading: bool,
    ) -> Result<(), Vec<Diagnostic>> {
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
        let scope = Layered(exports, self.scope());
        // A declare's body is a template, evaluated only inside its instances.
        let body = match node.kind {
            Kind::Declare => Ok(BodyValue::default()),
            _ => eval_body_value(&block.body, &file.text, &scope),
        };
        let body = body
            .map_err(|e| vec![e.to_diagnostic(&file.name)])
            .map(|mut body| {
                body.span = block.span();
                body
            });
        let evaluated = body.as_ref().ok().cloned();
        let result = body.and_then(|body| {
            let at = |message: String| {
                vec![Diagnostic::error(
                    CODE_EVAL,
                    &file.name,
                    block.name_span(),
                    message,
                )]
            };
            match &node.kind {
                Kind::Builtin(reg) => {
                    let sink = exports_sink(&node, self.updates.clone());
                    self.build_or_update(&node, reg, &file, &block, &body, sink)
                        .map_err(|d| vec![d])
                }
                Kind::Argument => {
                    let value = self
                        .argument_value(&node, &file, &body)
                        .map_err(|d| vec![d])?;
                    let value = Value::object(BTreeMap::from([("value".to_string(), value)]));
                    exports_sink(&node, self.updates.clone())(value);
                    Ok(())
                }
                Kind::Export => {
                    let value: AnyValue = Decoder::new(&file.name, &body)
                        .required("value")
                        .map_err(|d| vec![d])?;
                    node.lock_state().exports = value.0;
                    if !loading {
                        self.publish_module_exports(loaded);
                    }
                    Ok(())
                }
                Kind::Declare => {
                    node.touch(&self.updates);
                    Ok(())
                }
                Kind::Import { source, slot } => {
                    let sink = self.content_sink(&node);
                    self.build_or_update(&node, source, &file, &block, &body, sink)
                        .map_err(|d| vec![d])?;
                    self.apply_import(&node, source, slot, &body).map_err(at)
                }
                Kind::Classic { source } => {
                    let (body, arguments) = split_arguments(body);
                    let sink = self.content_sink(&node);
                    self.build_or_update(&node, source, &file, &block, &body, sink)
                        .map_err(|d| vec![d])?;
                    self.apply_classic(&node, source, &file, &block, &body, arguments)
                }
                Kind::Instance => self.apply_instance(&node, loaded, &file, &block, body),
            }
        });
        let mut state = node.lock_state();
        state.seen = seen;
        if evaluated.is_some() {
            state.evaluated = evaluated;
        }
        state.eval_health = match &result {
            Ok(()) => Health::new(HealthState::Healthy, "component evaluated"),
            Err(d) => Health::new(
                HealthState::Unhealthy,
                format!(
                    "component evaluation failed: {}",
                    d.first().map_or("", |d| d.message.as_str())
                ),
            ),
        };
        result
    }

    /// Builds the node's component the first time, updates it afterwards (only
    /// calling it when the arguments changed).
    fn build_or_update(
        &self,
        node: &Arc<Node>,
        reg: &Registration,
        file: &Arc<SourceFile>,
        block: &Block,
        body: &BodyValue,
        sink: ExportsSink,
    ) -> Result<(), Diagnostic> {
        let decoder = Decoder::new(&file.name, body);
        let existing = node.lock_state().component.clone();
        if let Some(component) = existing {
            return component.update(&decoder).map(|_| ());
        }
        let opts = Options {
            id: node.global_id.clone(),
            data_path: self.opts.storage_path.join(&node.global_id),
            exports: sink,
            cluster: self.opts.cluster.clone(),
            services: self.opts.services.clone(),
        };
        let built = (reg.build)(opts, &decoder).map_err(|e| match e {
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

    /// An `argument`'s value: what the caller passed, else the default of an optional
    /// argument (RUNTIME.md §5).
    fn argument_value(
        &self,
        node: &Node,
        file: &Arc<SourceFile>,
        body: &BodyValue,
    ) -> Result<Value, Diagnostic> {
        let d = Decoder::new(&file.name, body);
        let optional: bool = d.attr_or("optional", false)?;
        let default: Option<AnyValue> = d.attr("default")?;
        let label = node.label.as_deref().unwrap_or_default();
        let passed = self
            .module
            .args
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|args| args.get(label).cloned());
        match passed {
            Some(value) => Ok(value),
            None if optional => Ok(default.map_or(Value::Null, |v| v.0)),
            None => Err(d.error(
                body.span,
                format!("missing required argument {label:?} to module"),
            )),
        }
    }

    /// Receives an import source's exports: keeps the newest content and queues the
    /// import for evaluation when it changed.
    fn content_sink(self: &Arc<Self>, node: &Arc<Node>) -> ExportsSink {
        let inner = Arc::downgrade(self);
        let weak = Arc::downgrade(node);
        Arc::new(move |value: Value| {
            let (Some(node), Some(content)) = (weak.upgrade(), content_of(&value)) else {
                return;
            };
            let changed = {
                let mut state = node.lock_state();
                let changed = state.content.as_ref() != Some(&content);
                state.content = Some(content);
                changed
            };
            if let (true, Some(inner)) = (changed, inner.upgrade()) {
                inner.submit(node);
            }
        })
    }

    /// Where an import's content came from, for diagnostics and `module_path`.
    fn location(&self, node: &Node, body: &BodyValue) -> (String, Value) {
        for name in ["url", "filename"] {
            if let Some(v) = body
                .attrs
                .iter()
                .find(|a| a.name == name)
                .and_then(|a| a.value.as_str())
            {
                return (v.to_string(), Value::string(module_path_of(v)));
            }
        }
        (node.global_id.clone(), self.module.module_path())
    }

    /// Takes an import's newest content: valid content replaces the namespace's
    /// declares (and is kept on disk); invalid content leaves the last good module in
    /// place and fails the evaluation, so the import reports why.
    fn apply_import(
        self: &Arc<Self>,
        node: &Arc<Node>,
        source: &Registration,
        slot: &ImportSlot,
        body: &BodyValue,
    ) -> Result<(), String> {
        let (content, applied) = {
            let state = node.lock_state();
            (state.content.clone(), state.applied.clone())
        };
        let Some(content) = content else {
            return Err(format!("{} has not produced any content", node.id));
        };
        if applied.as_ref().is_some_and(|(c, _)| *c == content) && slot.get().is_some() {
            return Ok(());
        }
        let (location, module_path) = self.location(node, body);
        // A directory is one module: declares in one file may use those of another,
        // and a name declared twice keeps the first (files in name order).
        let files = parse_content(&location, &content)?;
        let mut defs = Defs::default();
        let mut imports = Vec::new();
        for file in &files {
            let (part, nested) = imported_defs(file, &module_path)
                .map_err(|e| format!("imported content from {} is invalid: {e}", file.name))?;
            for (name, def) in part.declares {
                defs.declares.entry(name).or_insert(def);
            }
            imports.extend(nested);
        }
        if imports.is_empty() {
            if let Some(nested) = node.lock_state().nested.take() {
                nested.cancel.cancel();
            }
            slot.set(Arc::new(defs));
        } else {
            // A module with imports of its own runs them in a nested controller, whose
            // definitions (its declares, its namespaces) become this namespace's.
            if source.name == "import.http" && imports.iter().any(|n| n == "import.file") {
                return Err(format!(
                    "imported content from {location} is invalid: import.file is not supported inside a module fetched by import.http"
                ));
            }
            let nested = self.module_of(node, |value| value, true);
            self.run_files(&nested, module_path, files, &BodyValue::default())
                .map_err(|d| invalid(&location, &d))?;
            let Some(loaded) = nested.current() else {
                return Err(format!("imported content from {location} did not load"));
            };
            slot.set(loaded.defs.clone());
        }
        self.keep_last_good(node, source, &content);
        let hash = self.opts.cluster.module_content(&node.global_id, &content);
        let mut state = node.lock_state();
        state.applied = Some((content, Value::Null));
        state.module_hash = Some(hash);
        drop(state);
        node.touch(&self.updates);
        if let Some(changed) = &self.module.on_defs_change {
            changed();
        }
        Ok(())
    }

    /// Runs a classic module: the fetched content is a whole configuration, loaded
    /// into the node's nested controller with the `arguments` block's values.
    fn apply_classic(
        self: &Arc<Self>,
        node: &Arc<Node>,
        source: &Registration,
        file: &Arc<SourceFile>,
        block: &Block,
        body: &BodyValue,
        arguments: Option<BodyValue>,
    ) -> Result<(), Vec<Diagnostic>> {
        let at = |message: String| {
            vec![Diagnostic::error(
                CODE_EVAL,
                &file.name,
                block.name_span(),
                message,
            )]
        };
        let (content, applied) = {
            let state = node.lock_state();
            (state.content.clone(), state.applied.clone())
        };
        let Some(content) = content else {
            return Err(at(format!("{} has not produced any content", node.id)));
        };
        let args = arguments.unwrap_or_default();
        let args_value = args.to_object();
        if applied
            .as_ref()
            .is_some_and(|(c, a)| *c == content && values_identical(a, &args_value))
        {
            return Ok(());
        }
        let (location, module_path) = self.location(node, body);
        let files = parse_content(&location, &content).map_err(at)?;
        let mut declared = BTreeSet::new();
        for module in &files {
            declared.extend(argument_names(&module.file.body, &module.text));
        }
        check_arguments(file, &args, &declared)?;
        let nested = self.module_of(
            node,
            |value| Value::object(BTreeMap::from([("exports".to_string(), value)])),
            false,
        );
        self.run_files(&nested, module_path, files, &args)?;
        self.keep_last_good(node, source, &content);
        let hash = self.opts.cluster.module_content(&node.global_id, &content);
        let mut state = node.lock_state();
        state.applied = Some((content, args_value));
        state.module_hash = Some(hash);
        Ok(())
    }

    /// (Re)applies a custom component: its declare's body, loaded into the node's
    /// nested controller with the instance's attributes as arguments.
    fn apply_instance(
        self: &Arc<Self>,
        node: &Arc<Node>,
        loaded: &Loaded,
        file: &Arc<SourceFile>,
        block: &Block,
        body: BodyValue,
    ) -> Result<(), Vec<Diagnostic>> {
        let at = |message: String| {
            vec![Diagnostic::error(
                CODE_EVAL,
                &file.name,
                block.name_span(),
                message,
            )]
        };
        if let Some(inner) = body.blocks.first() {
            return Err(vec![Diagnostic::error(
                CODE_EVAL,
                &file.name,
                inner.body.span,
                format!("unrecognized block name {:?}", inner.name),
            )]);
        }
        let (def, defs) = match loaded.defs.lookup(&node.name) {
            Lookup::Found(def, defs) => (def, defs),
            Lookup::NotLoaded(ns) => return Err(at(format!("module {ns:?} has not been loaded"))),
            Lookup::Missing { namespace, name } => {
                return Err(at(format!(
                    "cannot find the definition of component name {:?}: module {namespace:?} has no declare {name:?}",
                    node.name
                )))
            }
            Lookup::NotFound => {
                return Err(at(format!(
                    "cannot find the definition of component name {:?}",
                    node.name
                )))
            }
        };
        let declared = argument_names(&def.block.body, &def.file.text);
        check_arguments(file, &body, &declared)?;
        let nested = self.module_of(node, |value| value, false);
        *nested
            .module
            .parent_defs
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(defs);
        *nested
            .module
            .module_path
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = def.module_path.clone();
        let unit = Unit {
            file: def.file.clone(),
            declare: Some(def),
        };
        self.run_module(&nested, vec![unit], &body)
    }

    /// The node's nested controller, created on first use; `wrap` turns the module's
    /// export map into the node's exports.
    fn module_of(
        self: &Arc<Self>,
        node: &Arc<Node>,
        wrap: fn(Value) -> Value,
        definitions: bool,
    ) -> Arc<Inner> {
        if let Some(nested) = node.lock_state().nested.clone() {
            return nested;
        }
        let sink = exports_sink(node, self.updates.clone());
        // The module of an import: its nested imports changing is this import's
        // definitions changing.
        let on_defs_change: Option<Arc<dyn Fn() + Send + Sync>> = definitions.then(|| {
            let weak = Arc::downgrade(node);
            let updates = self.updates.clone();
            Arc::new(move || {
                if let Some(node) = weak.upgrade() {
                    node.touch(&updates);
                }
            }) as Arc<dyn Fn() + Send + Sync>
        });
        let nested = self.nested(
            node,
            Arc::new(move |value| sink(wrap(value))),
            on_defs_change,
        );
        node.lock_state().nested = Some(nested.clone());
        nested
    }

    /// Loads whole files (fetched module content) into a module controller whose
    /// `module_path` is where they came from.
    fn run_files(
        &self,
        nested: &Arc<Inner>,
        module_path: Value,
        files: Vec<Arc<SourceFile>>,
        args: &BodyValue,
    ) -> Result<(), Vec<Diagnostic>> {
        *nested
            .module
            .module_path
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = module_path;
        let units = files
            .into_iter()
            .map(|file| Unit {
                file,
                declare: None,
            })
            .collect();
        self.run_module(nested, units, args)
    }

    /// Loads `unit` into a module controller with `args` as its argument values.
    fn run_module(
        &self,
        nested: &Arc<Inner>,
        units: Vec<Unit>,
        args: &BodyValue,
    ) -> Result<(), Vec<Diagnostic>> {
        if nested.module.depth > MAX_MODULE_DEPTH {
            return Err(vec![Diagnostic::error(
                CODE_EVAL,
                &units.first().map_or_else(|| Arc::from(""), |u| u.file.name.clone()),
                Span::default(),
                format!("modules nest deeper than {MAX_MODULE_DEPTH} levels; is a declare instantiating itself?"),
            )]);
        }
        let values: BTreeMap<String, Value> = args
            .attrs
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect();
        let _guard = nested.load_lock.write().unwrap_or_else(|e| e.into_inner());
        *nested.module.args.lock().unwrap_or_else(|e| e.into_inner()) = Some(values);
        let report = nested.load(units)?;
        for warning in &report.warnings {
            tracing::warn!(module = %nested.module.prefix, "{}", warning.message);
        }
        if report.errors.is_empty() {
            Ok(())
        } else {
            Err(report.errors)
        }
    }

    /// Keeps accepted content of fetched modules on disk (RUNTIME.md §11 as amended
    /// by issue 4), so a restart while the server is down runs the last good module.
    fn keep_last_good(&self, node: &Node, source: &Registration, content: &Content) {
        let ([(None, text)], true) = (content.as_slice(), source.name.ends_with(".http")) else {
            return;
        };
        let dir = self.opts.storage_path.join(&node.global_id);
        if let Err(err) = persist_last_good(&dir, text) {
            tracing::warn!(node = %node.global_id, %err, "could not keep the last good module on disk");
        }
    }

    /// Publishes the module's export map if it changed since last published.
    fn publish_module_exports(&self, loaded: &Loaded) {
        let Some(sink) = &self.module.exports else {
            return;
        };
        let mut map = BTreeMap::new();
        for &i in &loaded.order {
            let node = loaded.graph.node(i);
            if let (Kind::Export, Some(label)) = (&node.kind, &node.label) {
                map.insert(label.clone(), node.exports());
            }
        }
        let value = Value::object(map);
        {
            let mut published = self
                .module
                .published
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if published
                .as_ref()
                .is_some_and(|p| values_identical(p, &value))
            {
                return;
            }
            *published = Some(value.clone());
        }
        sink(value);
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
                let inner2 = inner.clone();
                let node2 = node.clone();
                // Evaluations may fetch or load modules; run them where blocking is
                // allowed.
                let _ = tokio::task::spawn_blocking(move || {
                    let _guard = inner2.load_lock.read().unwrap_or_else(|e| e.into_inner());
                    let Some(loaded) = inner2.current() else {
                        return;
                    };
                    let Some(index) = loaded.graph.get(&node2.id) else {
                        return;
                    };
                    // The node may have been replaced by a reload; evaluate only the
                    // one that is installed.
                    if Arc::ptr_eq(loaded.graph.node(index), &node2) {
                        if let Err(d) = inner2.evaluate(&loaded, index, false) {
                            let message = d.first().map_or("", |d| d.message.as_str());
                            tracing::warn!(node = %node2.global_id, err = %message, "failed to evaluate component");
                        }
                        inner2.start(&node2);
                    }
                })
                .await;
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

/// The local declare or import node that defines custom component `name`.
fn local_definition(graph: &Graph<Planned>, name: &str) -> Option<NodeIndex> {
    if let Some((ns, _)) = name.split_once('.') {
        for i in graph.indices() {
            let p = graph.node(i);
            if matches!(p.kind, Kind::Import { .. }) && p.label.as_deref() == Some(ns) {
                return Some(i);
            }
        }
    }
    graph.get(&format!("declare.{name}"))
}

fn is_arguments_block(stmt: &Stmt, src: &str) -> bool {
    matches!(stmt, Stmt::Block(b) if b.name_text(src) == "arguments")
}

fn has_arguments_block(block: &Block, src: &str) -> bool {
    block.body.iter().any(|s| is_arguments_block(s, src))
}

/// Separates a classic module's `arguments` block from the source's own arguments.
fn split_arguments(mut body: BodyValue) -> (BodyValue, Option<BodyValue>) {
    let position = body.blocks.iter().position(|b| b.name == "arguments");
    let arguments = position.map(|i| body.blocks.remove(i).body);
    (body, arguments)
}

/// The labels of a module body's `argument` blocks.
fn argument_names(body: &Body, src: &str) -> BTreeSet<String> {
    body.iter()
        .filter_map(|s| match s {
            Stmt::Block(b) if b.name_text(src) == "argument" => b.label(src).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// Parses every file of a module source's content; a single text is named after
/// where it came from.
fn parse_content(location: &str, content: &Content) -> Result<Vec<Arc<SourceFile>>, String> {
    content
        .iter()
        .map(|(name, text)| {
            let name = name.as_deref().unwrap_or(location);
            parse_module(name, text).map_err(|diags| invalid(name, &diags))
        })
        .collect()
}

/// Refuses arguments the module does not declare, pointing at the caller's attribute.
fn check_arguments(
    file: &Arc<SourceFile>,
    args: &BodyValue,
    declared: &BTreeSet<String>,
) -> Result<(), Vec<Diagnostic>> {
    let unknown: Vec<Diagnostic> = args
        .attrs
        .iter()
        .filter(|a| !declared.contains(&a.name))
        .map(|a| {
            Diagnostic::error(
                CODE_EVAL,
                &file.name,
                a.span,
                format!(
                    "Provided argument {:?} is not defined in the module",
                    a.name
                ),
            )
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(unknown)
    }
}

/// The message for fetched content that does not parse.
fn invalid(location: &str, diags: &[Diagnostic]) -> String {
    let first = diags.first().map_or("", |d| d.message.as_str());
    format!("imported content from {location} is invalid: {first}")
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

/// `alloy_component_controller_running_components` by health, modules included.
impl MetricSource for Inner {
    fn collect(&self, out: &mut Vec<SourceSample>) {
        fn walk(nodes: Vec<Arc<Node>>, counts: &mut [u64; 4]) {
            for node in nodes {
                if node.is_component() {
                    counts[node.health().state as usize] += 1;
                }
                walk(node.module_nodes(), counts);
            }
        }
        let mut counts = [0; 4];
        walk(self.nodes(), &mut counts);
        let states = [
            HealthState::Healthy,
            HealthState::Unknown,
            HealthState::Unhealthy,
            HealthState::Exited,
        ];
        for state in states {
            out.push(SourceSample {
                name: "alloy_component_controller_running_components",
                help: "Total number of running components",
                kind: SampleKind::Gauge,
                labels: vec![("health_type", state.as_str().to_string())],
                value: counts[state as usize] as f64,
            });
        }
    }
}
