//! `ferroalloy validate`: every static check of LANGUAGE.md §10 in one pass, without
//! building a component or touching the network. Blocks are grouped as upstream does
//! (declares, config blocks, components, services) and diagnostics come out in the
//! same order as `alloy validate` prints them: per node in insertion order (its own
//! problems, its schema check, its references), then cycles.

use crate::component::{Registry, Stability};
use crate::graph::{Graph, GraphNode};
use crate::refs::{body_traversals, Traversal};
use crate::schema::{
    attr, check_body, check_values, Attr, BlockSpec, LabelRule, Repeat, Schema, Ty,
};
use crate::source::SourceFile;
use alloy_syntax::ast::{Block, Stmt};
use alloy_syntax::{Diagnostic, Span};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Diagnostic code for validation findings.
pub const CODE_VALIDATE: &str = "alloy::validate";

/// What validation needs to know besides the files.
pub struct ValidateOptions<'a> {
    pub registry: &'a Registry,
    pub min_stability: Stability,
}

/// Config blocks: recognised at any level, never components.
pub(crate) const CONFIG_BLOCKS: &[&str] = &[
    "foreach",
    "argument",
    "export",
    // Not an upstream block: a deprecated alias of `export` that the Grafana blog's
    // seed configuration uses (issue 4).
    "output",
    "logging",
    "tracing",
    "import.file",
    "import.string",
    "import.http",
    "import.git",
];

/// Service blocks: configured once, at the root only.
pub(crate) const SERVICES: &[&str] = &[
    "http",
    "livedebugging",
    "remotecfg",
    "cluster",
    "labelstore",
    "otel",
    "ui",
];

/// Validates a configuration made of `files` (already parsed without errors).
pub fn validate(files: &[SourceFile], opts: &ValidateOptions) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut blocks = Vec::new();
    for file in files {
        for stmt in &file.file.body {
            match stmt {
                Stmt::Block(block) => blocks.push(Located { file, block }),
                Stmt::Attribute(attr) => diags.push(Diagnostic::error(
                    CODE_VALIDATE,
                    &file.name,
                    attr.span(),
                    format!("unrecognized attribute {}", attr.name.text(&file.text)),
                )),
            }
        }
    }
    let v = Validator { opts, files };
    let vars: BTreeSet<String> = ["module_path".to_string()].into();
    let root = v.state(true, false, vars, blocks, &Namespaces::default(), &[]);
    diags.extend(v.report(root, &[]));
    diags
}

#[derive(Clone, Copy)]
struct Located<'f> {
    file: &'f SourceFile,
    block: &'f Block,
}

impl Located<'_> {
    fn src(&self) -> &str {
        &self.file.text
    }

    fn name(&self) -> String {
        self.block.name_text(self.src())
    }

    fn label(&self) -> Option<&str> {
        self.block.label(self.src())
    }

    fn id(&self) -> String {
        match self.label() {
            Some(label) => format!("{}.{label}", self.name()),
            None => self.name(),
        }
    }

    fn error(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(CODE_VALIDATE, &self.file.name, span, message)
    }

    /// From the name's first byte, `len` bytes long: how upstream marks name-level
    /// problems (it highlights as many characters as the ID it talks about has).
    fn name_span(&self, len: usize) -> Span {
        let start = self.block.name_span().start;
        Span::new(start, start + len as u32)
    }
}

/// Custom components visible in a scope: declares (with their argument schema) and
/// import namespaces (anything under them is accepted: contents are not fetched).
#[derive(Clone, Default)]
struct Namespaces {
    declares: HashMap<String, &'static Schema>,
    imports: BTreeSet<String>,
}

/// What kind of checking a node gets in the report phase.
enum Check<'f> {
    /// A config block or service: its own schema, if it has one, over `body`.
    Schema(Option<&'static Schema>, Vec<&'f Stmt>),
    /// A component: looked up by name when reporting.
    Component,
    /// A `declare`: its body is a graph of its own.
    Module(Box<State<'f>>),
    /// A `foreach`: its schema over the non-template body, then its template's graph.
    Foreach(Vec<&'f Stmt>, Box<State<'f>>),
}

struct Node<'f> {
    id: String,
    at: Located<'f>,
    diags: Vec<Diagnostic>,
    check: Check<'f>,
}

impl GraphNode for Node<'_> {
    fn id(&self) -> &str {
        &self.id
    }
}

struct State<'f> {
    root: bool,
    vars: BTreeSet<String>,
    graph: Graph<Node<'f>>,
    namespaces: Namespaces,
}

struct Validator<'a, 'f> {
    opts: &'a ValidateOptions<'a>,
    files: &'f [SourceFile],
}

impl<'f> Validator<'_, 'f> {
    /// Groups `blocks` and builds the scope's nodes with their own diagnostics.
    fn state(
        &self,
        root: bool,
        foreach: bool,
        vars: BTreeSet<String>,
        blocks: Vec<Located<'f>>,
        inherited: &Namespaces,
        parent_ids: &[BTreeSet<String>],
    ) -> State<'f> {
        let (mut declares, mut configs, mut components, mut services) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for at in blocks {
            let name = at.name();
            if name == "declare" {
                declares.push(at);
            } else if CONFIG_BLOCKS.contains(&name.as_str()) {
                configs.push(at);
            } else if SERVICES.contains(&at.id().as_str()) {
                services.push(at);
            } else {
                components.push(at);
            }
        }
        let mut state = State {
            root,
            vars,
            graph: Graph::new(),
            namespaces: inherited.clone(),
        };
        // Custom component names are known before any use, wherever the declare is.
        for at in &declares {
            if let Some(label) = at.label() {
                state
                    .namespaces
                    .declares
                    .insert(label.to_string(), declare_schema(at));
            }
        }
        for at in &configs {
            if at.name().starts_with("import.") {
                if let Some(label) = at.label() {
                    state.namespaces.imports.insert(label.to_string());
                }
            }
        }
        let mut seen: HashMap<String, Located> = HashMap::new();

        for (i, at) in declares.into_iter().enumerate() {
            let mut diags = Vec::new();
            if at.label().is_none() {
                diags.push(at.error(at.name_span(7), "declare block must have a label"));
            }
            let mut id = at.id();
            if let Some(d) = already_declared(&mut seen, at, self.files) {
                diags.push(d);
                id = format!("{id}-{i}");
            }
            let body: Vec<Located> = self.body_blocks(at, &at.block.body, &mut diags);
            let mut module_vars = state.vars.clone();
            module_vars.insert("argument".into());
            let sub = self.state(false, false, module_vars, body, &state.namespaces, &[]);
            let _ = state.graph.add(Node {
                id,
                at,
                diags,
                check: Check::Module(Box::new(sub)),
            });
        }

        for (i, at) in configs.into_iter().enumerate() {
            let mut diags = Vec::new();
            let mut id = at.id();
            if let Some(d) = already_declared(&mut seen, at, self.files) {
                diags.push(d);
                id = format!("{id}-{i}");
            }
            let name = at.name();
            let body: Vec<&Stmt> = at.block.body.iter().collect();
            let check = match name.as_str() {
                "logging" | "tracing" => {
                    if let Some(d) = disallowed(root, foreach, at) {
                        diags.push(d);
                    }
                    Check::Schema(
                        Some(if name == "logging" {
                            &LOGGING
                        } else {
                            &TRACING
                        }),
                        body,
                    )
                }
                "argument" | "export" | "output" => {
                    if name == "output" {
                        diags.push(Diagnostic::warning(
                            CODE_VALIDATE,
                            &at.file.name,
                            at.name_span(name.len()),
                            "output blocks are deprecated and treated as export blocks; rename them to export",
                        ));
                    }
                    if root {
                        diags.push(at.error(
                            at.block.span(),
                            format!("{name} blocks only allowed inside a module"),
                        ));
                    }
                    if at.label().is_none() {
                        diags.push(missing_label(at));
                    }
                    Check::Schema(
                        Some(if name == "argument" {
                            &ARGUMENT
                        } else {
                            &EXPORT
                        }),
                        body,
                    )
                }
                "foreach" => self.foreach(at, &state, parent_ids, &mut diags),
                _ => {
                    if at.label().is_none() {
                        diags.push(missing_label(at));
                    }
                    let schema: &'static Schema = match name.as_str() {
                        "import.file" => &crate::schema::IMPORT_FILE,
                        "import.string" => &crate::schema::IMPORT_STRING,
                        "import.http" => &crate::schema::IMPORT_HTTP,
                        _ => &IMPORT_GIT,
                    };
                    Check::Schema(Some(schema), body)
                }
            };
            let _ = state.graph.add(Node {
                id,
                at,
                diags,
                check,
            });
        }

        for (i, at) in components.into_iter().enumerate() {
            let mut diags = Vec::new();
            let name = at.name();
            if at.label().is_none() {
                diags.push(at.error(
                    at.name_span(name.len()),
                    format!("component {name:?} must have a label"),
                ));
            }
            let mut id = at.id();
            if let Some(d) = already_declared(&mut seen, at, self.files) {
                diags.push(d);
                id = format!("{id}-{i}");
            }
            let _ = state.graph.add(Node {
                id,
                at,
                diags,
                check: Check::Component,
            });
        }

        for (i, at) in services.into_iter().enumerate() {
            let mut diags = Vec::new();
            let mut id = at.id();
            if let Some(d) = already_declared(&mut seen, at, self.files) {
                diags.push(d);
                id = format!("{id}-{i}");
            }
            if let Some(d) = disallowed(root, foreach, at) {
                diags.push(d);
            }
            let schema = service_schema(&at.id());
            if schema.is_none() {
                diags.push(at.error(
                    at.block.span(),
                    format!("service {:?} does not support being configured", at.id()),
                ));
            }
            let body = at.block.body.iter().collect();
            let _ = state.graph.add(Node {
                id,
                at,
                diags,
                check: Check::Schema(schema, body),
            });
        }
        state
    }

    /// A foreach's own checks, and its template validated as a graph whose references
    /// may also reach the enclosing graph.
    fn foreach(
        &self,
        at: Located<'f>,
        state: &State<'f>,
        parent_ids: &[BTreeSet<String>],
        diags: &mut Vec<Diagnostic>,
    ) -> Check<'f> {
        let name = at.name();
        if let Err(message) = Stability::Experimental
            .check_allowed(self.opts.min_stability, &format!("foreach block {name:?}"))
        {
            diags.push(at.error(at.name_span(name.len()), message));
        }
        if at.label().is_none() {
            diags.push(missing_label(at));
        }
        let mut body = Vec::new();
        let mut template = None;
        for stmt in &at.block.body {
            match stmt {
                Stmt::Block(b) if b.name_text(at.src()) == "template" => template = Some(b),
                other => body.push(other),
            }
        }
        let Some(template) = template else {
            diags.push(at.error(at.block.span(), "missing required block \"template\""));
            let empty = State {
                root: state.root,
                vars: state.vars.clone(),
                graph: Graph::new(),
                namespaces: state.namespaces.clone(),
            };
            return Check::Foreach(body, Box::new(empty));
        };
        let inner: Vec<Located> = self.body_blocks(at, &template.body, diags);
        let mut vars = state.vars.clone();
        // The loop variable is in scope inside the template.
        for stmt in &body {
            if let Stmt::Attribute(attr) = stmt {
                if attr.name.text(at.src()) == "var" {
                    if let alloy_syntax::ast::Expr::Literal(lit) = &attr.value {
                        vars.insert(
                            alloy_syntax::eval::literal::unquote(&lit.text(at.src())).into_owned(),
                        );
                    }
                }
            }
        }
        let mut ids: Vec<BTreeSet<String>> = parent_ids.to_vec();
        ids.push(
            state
                .graph
                .indices()
                .map(|i| state.graph.node(i).id.clone())
                .collect(),
        );
        let sub = self.state(state.root, true, vars, inner, &state.namespaces, &ids);
        Check::Foreach(body, Box::new(sub))
    }

    /// The blocks of a module or template body; attributes there are errors.
    fn body_blocks(
        &self,
        at: Located<'f>,
        body: &'f [Stmt],
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<Located<'f>> {
        let mut out = Vec::new();
        for stmt in body {
            match stmt {
                Stmt::Block(block) => out.push(Located {
                    file: at.file,
                    block,
                }),
                Stmt::Attribute(attr) => diags
                    .push(at.error(attr.span(), "unsupported statement type *ast.AttributeStmt")),
            }
        }
        out
    }

    /// The diagnostics of a scope in upstream's order. `parents` are the enclosing
    /// graphs a foreach template may reference.
    fn report(&self, mut state: State<'f>, parents: &[&Graph<Node<'f>>]) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let indices: Vec<_> = state.graph.indices().collect();
        for &i in &indices {
            let node = state.graph.node_mut(i);
            out.append(&mut node.diags);
            let at = node.at;
            let mut refs_body: Vec<&Stmt> = Vec::new();
            match std::mem::replace(&mut node.check, Check::Component) {
                Check::Schema(schema, body) => {
                    if let Some(schema) = schema {
                        self.check_schema(at, schema, &body, &mut out);
                    }
                    refs_body = body;
                }
                Check::Component => {
                    refs_body = at.block.body.iter().collect();
                    let name = at.name();
                    match self.component_schema(&state.namespaces, &name) {
                        Ok(Some(schema)) => self.check_schema(at, schema, &refs_body, &mut out),
                        Ok(None) => {}
                        Err(message) => {
                            out.push(at.error(at.name_span(name.len()), message));
                        }
                    }
                }
                // A module sees nothing of its parent's graph.
                Check::Module(sub) => out.extend(self.report(*sub, &[])),
                Check::Foreach(body, sub) => {
                    self.check_schema(at, &FOREACH, &body, &mut out);
                    // The template sees the enclosing graph (and its parents).
                    let graph = std::mem::take(&mut state.graph);
                    let mut chain = parents.to_vec();
                    chain.push(&graph);
                    out.extend(self.report(*sub, &chain));
                    state.graph = graph;
                    refs_body = body;
                }
            }
            self.references(&mut state, i, &refs_body, parents, &mut out);
        }

        let cycles = state.graph.cycles();
        for set in &cycles.sets {
            let ids: Vec<&str> = set
                .iter()
                .map(|&n| state.graph.node(n).id.as_str())
                .collect();
            for &n in set {
                let at = state.graph.node(n).at;
                out.push(at.error(
                    Span::new(at.block.name_span().start, at.block.lcurly + 1),
                    format!("cycle detected: {}", ids.join(", ")),
                ));
            }
        }
        for &n in &cycles.self_refs {
            let at = state.graph.node(n).at;
            out.push(at.error(
                Span::new(at.block.name_span().start, at.block.lcurly + 1),
                "cannot reference self",
            ));
        }
        out
    }

    fn check_schema(
        &self,
        at: Located<'f>,
        schema: &Schema,
        body: &[&Stmt],
        out: &mut Vec<Diagnostic>,
    ) {
        let body = body.iter().copied();
        check_body(
            &at.file.name,
            at.src(),
            Some(at.block),
            body.clone(),
            schema,
            out,
        );
        check_values(&at.file.name, at.src(), body, schema, out);
    }

    /// A component's schema: built-in (subject to the stability level), a declare in
    /// scope, or anything under an imported namespace (no schema: not fetched).
    fn component_schema(
        &self,
        ns: &Namespaces,
        name: &str,
    ) -> Result<Option<&'static Schema>, String> {
        if let Some(schema) = ns.declares.get(name) {
            return Ok(Some(schema));
        }
        if let Some((first, _)) = name.split_once('.') {
            if ns.imports.contains(first) {
                return Ok(None);
            }
        }
        match self.opts.registry.get(name) {
            Some(reg) => {
                reg.stability
                    .check_allowed(self.opts.min_stability, &format!("component {name:?}"))?;
                Ok(Some(reg.schema))
            }
            // Classic modules (`module.file`, ...) are components whose schema is
            // their source's.
            None => match self.opts.registry.source(name) {
                Some(source) if name.starts_with("module.") => Ok(Some(source.schema)),
                _ => Err(format!(
                    "cannot find the definition of component name {name:?}"
                )),
            },
        }
    }

    /// Resolves the node's traversals: references become edges; unknown names,
    /// shadowed or deprecated stdlib names and experimental functions are reported.
    fn references(
        &self,
        state: &mut State<'f>,
        index: petgraph::graph::NodeIndex,
        body: &[&Stmt],
        parents: &[&Graph<Node<'f>>],
        out: &mut Vec<Diagnostic>,
    ) {
        let at = state.graph.node(index).at;
        let src = at.src();
        let mut traversals: Vec<Traversal> = Vec::new();
        body_traversals(body.iter().copied(), &mut traversals);
        let stdlib = alloy_stdlib::stdlib();
        for t in &traversals {
            let first = t.parts[0].text(src);
            let first_span = t.parts[0].span;
            let local = state.graph.resolve(t, src).map(|r| r.node);
            let in_parent = local.is_none() && parents.iter().any(|g| g.resolve(t, src).is_some());
            let in_scope = state.vars.contains(first) || stdlib.contains(first);
            if local.is_none() && !in_parent && !in_scope {
                out.push(at.error(
                    t.span(),
                    format!(
                        "component {:?} does not exist or is out of scope",
                        t.prefix(src, t.parts.len())
                    ),
                ));
                continue;
            }
            if local.is_some() || in_parent {
                if stdlib.contains(first) {
                    out.push(Diagnostic::warning(
                        CODE_VALIDATE,
                        &at.file.name,
                        first_span,
                        "a component is shadowing an existing stdlib name",
                    ));
                }
                if let Some(dep) = local {
                    state.graph.add_edge(index, dep);
                }
            } else if alloy_stdlib::deprecated_alias(first).is_some() {
                out.push(Diagnostic::warning(
                    CODE_VALIDATE,
                    &at.file.name,
                    first_span,
                    "this stdlib function is deprecated; please refer to the documentation for updated usage and alternatives",
                ));
            } else {
                let full = t.prefix(src, t.parts.len());
                if alloy_stdlib::is_experimental(&full) {
                    if let Err(message) =
                        Stability::Experimental.check_allowed(self.opts.min_stability, &full)
                    {
                        out.push(at.error(t.span(), message));
                    }
                }
            }
        }
    }
}

fn already_declared<'f>(
    seen: &mut HashMap<String, Located<'f>>,
    at: Located<'f>,
    files: &[SourceFile],
) -> Option<Diagnostic> {
    let id = at.id();
    if let Some(orig) = seen.get(&id) {
        let file = files
            .iter()
            .find(|f| Arc::ptr_eq(&f.name, &orig.file.name))
            .unwrap_or(orig.file);
        return Some(at.error(
            at.name_span(id.len()),
            format!(
                "block {id} already declared at {}",
                file.position(orig.block.name_span().start)
            ),
        ));
    }
    seen.insert(id, at);
    None
}

fn disallowed(root: bool, foreach: bool, at: Located) -> Option<Diagnostic> {
    let id = at.id();
    if !root {
        return Some(at.error(
            at.name_span(id.len()),
            format!("{id} not allowed in module"),
        ));
    }
    if foreach {
        return Some(at.error(
            at.name_span(id.len()),
            format!("{id} not allowed in foreach"),
        ));
    }
    None
}

fn missing_label(at: Located) -> Diagnostic {
    let name = at.name();
    at.error(
        at.name_span(name.len()),
        format!("{name} block must have a label"),
    )
}

/// The arguments a declare accepts: one attribute per labelled `argument` block,
/// required unless `optional = true`. Validation runs once per process, so the
/// generated schema is simply leaked to get the `'static` lifetime schemas have.
fn declare_schema(at: &Located) -> &'static Schema {
    let src = at.src();
    let mut attrs = Vec::new();
    for stmt in &at.block.body {
        let Stmt::Block(b) = stmt else { continue };
        if b.name_text(src) != "argument" {
            continue;
        }
        let Some(label) = b.label(src) else { continue };
        let optional = b.body.iter().any(|s| match s {
            Stmt::Attribute(a) => {
                a.name.text(src) == "optional" && &src[a.value.span().range()] == "true"
            }
            _ => false,
        });
        attrs.push(Attr {
            name: Box::leak(label.to_string().into_boxed_str()),
            ty: Ty::Any,
            required: !optional,
        });
    }
    Box::leak(Box::new(Schema {
        label: LabelRule::Ignored,
        attrs: Box::leak(attrs.into_boxed_slice()),
        blocks: &[],
        free_form: false,
    }))
}

static LOGGING: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("level", Ty::String),
        attr!("format", Ty::String),
        attr!("write_to", Ty::Array(&Ty::Capsule("loki.LogsReceiver"))),
    ],
    blocks: &[],
    free_form: false,
};

static TRACING: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("sampling_fraction", Ty::Float),
        attr!("write_to", Ty::Array(&Ty::Capsule("otelcol.Consumer"))),
    ],
    blocks: &[BlockSpec {
        name: "sampler",
        schema: &crate::schema::FREE_FORM,
        required: false,
        repeat: Repeat::Once,
    }],
    free_form: false,
};

pub(crate) static ARGUMENT: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        attr!("optional", Ty::Bool),
        attr!("default", Ty::Any),
        attr!("comment", Ty::String),
    ],
    blocks: &[],
    free_form: false,
};

pub(crate) static EXPORT: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[attr!("value", Ty::Any, required)],
    blocks: &[],
    free_form: false,
};

static IMPORT_GIT: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        attr!("repository", Ty::String, required),
        attr!("revision", Ty::String),
        attr!("path", Ty::String),
        attr!("pull_frequency", Ty::Duration),
    ],
    blocks: &[],
    free_form: false,
};

static FOREACH: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        attr!("collection", Ty::Array(&Ty::Any), required),
        attr!("var", Ty::String, required),
        attr!("id", Ty::String),
        attr!("enable_metrics", Ty::Bool),
        attr!("hash_string_id", Ty::Bool),
    ],
    blocks: &[],
    free_form: false,
};

static LIVEDEBUGGING: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[attr!("enabled", Ty::Bool)],
    blocks: &[],
    free_form: false,
};

static HTTP_SERVICE: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[],
    blocks: &[BlockSpec {
        name: "tls",
        schema: &Schema {
            label: LabelRule::Forbidden,
            attrs: &[
                attr!("cert_pem", Ty::String),
                attr!("cert_file", Ty::String),
                attr!("key_pem", Ty::Secret),
                attr!("key_file", Ty::String),
                attr!("client_ca_pem", Ty::String),
                attr!("client_ca_file", Ty::String),
                attr!("client_auth_type", Ty::String),
                attr!("cipher_suites", Ty::Array(&Ty::String)),
                attr!("curve_preferences", Ty::Array(&Ty::String)),
                attr!("min_version", Ty::String),
                attr!("max_version", Ty::String),
            ],
            blocks: &[],
            free_form: false,
        },
        required: false,
        repeat: Repeat::Once,
    }],
    free_form: false,
};

static REMOTECFG: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("url", Ty::String),
        attr!("id", Ty::String),
        attr!("name", Ty::String),
        attr!("attributes", Ty::Map(&Ty::String)),
        attr!("poll_frequency", Ty::Duration),
    ],
    blocks: crate::schema::HTTP_CLIENT_BLOCKS,
    free_form: false,
};

/// The schema of a config or service block the controller decodes itself.
pub(crate) fn config_schema(name: &str) -> Option<&'static Schema> {
    match name {
        "logging" => Some(&LOGGING),
        "tracing" => Some(&TRACING),
        _ => service_schema(name),
    }
}

fn service_schema(id: &str) -> Option<&'static Schema> {
    match id {
        "http" => Some(&HTTP_SERVICE),
        "livedebugging" => Some(&LIVEDEBUGGING),
        "remotecfg" => Some(&REMOTECFG),
        _ => None,
    }
}
