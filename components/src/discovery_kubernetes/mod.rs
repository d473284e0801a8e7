//! `discovery.kubernetes`: Kubernetes service discovery (Prometheus' `kubernetes_sd`).
//! Watches the API server (list + watch, no polling) for the objects of one role and
//! exports them as `targets` with upstream's `__meta_kubernetes_*` labels. Changes are
//! published at most every 5 s like every discovery component, except the first full
//! sync, which is published at once.
//!
//! The API is spoken with the workspace's reqwest client and serde_json rather than
//! the `kube` crate: the component's client block (auth, TLS, proxy) is then the same
//! code as every other HTTP component's, and the build gains no k8s-openapi.

mod config;
pub mod targets;
mod watch;

use crate::http_client::HttpClientArgs;
use alloy_runtime::component::{
    Arguments, BoxFuture, Component, ExportsSink, Health, HealthState, Options,
};
use alloy_runtime::decode::Decoder;
use alloy_runtime::schema::{
    attr, concat, Attr, BlockSpec, LabelRule, Repeat, Schema, Ty, HTTP_CLIENT_ATTRS,
    HTTP_CLIENT_BLOCK_SPECS,
};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use targets::{Role, Stores};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use watch::{Event, Selector};

const OWN_ATTRS: [Attr; 3] = [
    attr!("api_server", Ty::String),
    attr!("role", Ty::String, required),
    attr!("kubeconfig_file", Ty::String),
];

static NAMESPACES: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("own_namespace", Ty::Bool),
        attr!("names", Ty::Array(&Ty::String)),
    ],
    blocks: &[],
    free_form: false,
};

static SELECTORS: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("role", Ty::String, required),
        attr!("label", Ty::String),
        attr!("field", Ty::String),
    ],
    blocks: &[],
    free_form: false,
};

static ATTACH_METADATA: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[attr!("node", Ty::Bool)],
    blocks: &[],
    free_form: false,
};

const OWN_BLOCKS: [BlockSpec; 3] = [
    BlockSpec {
        name: "namespaces",
        schema: &NAMESPACES,
        required: false,
        repeat: Repeat::Once,
    },
    BlockSpec {
        name: "selectors",
        schema: &SELECTORS,
        required: false,
        repeat: Repeat::Many,
    },
    BlockSpec {
        name: "attach_metadata",
        schema: &ATTACH_METADATA,
        required: false,
        repeat: Repeat::Once,
    },
];

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &concat::<Attr, { OWN_ATTRS.len() + HTTP_CLIENT_ATTRS.len() }>(
        &OWN_ATTRS,
        &HTTP_CLIENT_ATTRS,
    ),
    blocks: &concat::<BlockSpec, { OWN_BLOCKS.len() + HTTP_CLIENT_BLOCK_SPECS.len() }>(
        &OWN_BLOCKS,
        &HTTP_CLIENT_BLOCK_SPECS,
    ),
    free_form: false,
};

/// Upstream's `MaxUpdateFrequency`: changes are published at most this often.
const MAX_UPDATE_FREQUENCY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryKubernetesArgs {
    /// The API server URL; empty means in-cluster or `kubeconfig_file`.
    pub api_server: Option<String>,
    /// What to discover: node, pod, service, endpoints, endpointslice or ingress.
    pub role: Role,
    /// A kubeconfig file whose current context is used.
    pub kubeconfig_file: Option<String>,
    /// Namespaces to watch (empty: all).
    pub namespaces: Vec<String>,
    /// Also watch the namespace the process runs in (in-cluster only).
    pub own_namespace: bool,
    /// Label and field selectors per watched kind.
    pub selectors: BTreeMap<Role, Selector>,
    /// Attach the labels of the node a target runs on.
    pub attach_node: bool,
    /// The HTTP client settings used with `api_server`.
    pub client: HttpClientArgs,
}

impl Arguments for DiscoveryKubernetesArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        let role_name: String = d.required("role")?;
        let role = Role::parse(&role_name).ok_or_else(|| {
            d.error(
                d.span_of("role"),
                format!("unknown role {role_name:?}, must be one of pod, service, endpoints, endpointslice, node or ingress"),
            )
        })?;
        let api_server: Option<String> = d.attr("api_server")?;
        if let Some(url) = &api_server {
            if reqwest::Url::parse(url).is_err() {
                return Err(d.error(d.span_of("api_server"), format!("invalid URL {url:?}")));
            }
        }
        let kubeconfig_file: Option<String> = d.attr("kubeconfig_file")?;
        if api_server.is_some() && kubeconfig_file.is_some() {
            return Err(d.error(
                d.span_of("kubeconfig_file"),
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            ));
        }
        let client = HttpClientArgs::decode(Some(*d))?;
        let custom_client = client != HttpClientArgs::decode(None)?;
        if kubeconfig_file.is_some() && custom_client {
            return Err(d.error(
                d.span_of("kubeconfig_file"),
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            ));
        }
        if api_server.is_none() && custom_client {
            return Err(d.error(
                d.span(),
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            ));
        }
        let (mut namespaces, mut own_namespace) = (Vec::new(), false);
        if let Some(ns) = d.block("namespaces") {
            namespaces = ns.attr_or("names", Vec::new())?;
            own_namespace = ns.attr_or("own_namespace", false)?;
            if own_namespace && api_server.is_some() {
                return Err(ns.error(
                    ns.span_of("own_namespace"),
                    "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
                ));
            }
            if own_namespace && kubeconfig_file.is_some() {
                return Err(ns.error(
                    ns.span_of("own_namespace"),
                    "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
                ));
            }
        }
        let mut selectors = BTreeMap::new();
        for sel in d.blocks("selectors") {
            let name: String = sel.required("role")?;
            let allowed = role.allowed_selectors();
            let sel_role = Role::parse(&name)
                .filter(|r| allowed.contains(r))
                .ok_or_else(|| {
                    let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                    sel.error(
                        sel.span_of("role"),
                        format!(
                            "{} role supports only {} selectors",
                            role.as_str(),
                            names.join(", ")
                        ),
                    )
                })?;
            let selector = Selector {
                label: sel.attr_or("label", String::new())?,
                field: sel.attr_or("field", String::new())?,
            };
            if selectors.insert(sel_role, selector).is_some() {
                return Err(sel.error(
                    sel.span_of("role"),
                    format!("duplicated selector role: {name}"),
                ));
            }
        }
        let attach_node = match d.block("attach_metadata") {
            Some(b) => b.attr_or("node", false)?,
            None => false,
        };
        Ok(DiscoveryKubernetesArgs {
            api_server,
            role,
            kubeconfig_file,
            namespaces,
            own_namespace,
            selectors,
            attach_node,
            client,
        })
    }
}

/// The namespaces to watch ("" is all), as upstream's `getNamespaces`.
pub fn namespaces_to_watch(
    names: &[String],
    own: bool,
    own_namespace: Option<&str>,
) -> Vec<String> {
    if names.is_empty() && !own {
        return vec![String::new()];
    }
    let mut out = names.to_vec();
    if let (true, Some(ns)) = (own, own_namespace) {
        out.push(ns.to_string());
    }
    out
}

/// The running component.
pub struct DiscoveryKubernetes {
    exports: ExportsSink,
    state: Mutex<State>,
    reconfigured: Notify,
}

struct State {
    args: DiscoveryKubernetesArgs,
    health: Health,
}

fn exports_of(targets: Value) -> Value {
    Value::object(BTreeMap::from([("targets".to_string(), targets)]))
}

fn targets_value(mut targets: Vec<targets::Labels>) -> Value {
    targets.sort();
    Value::array(
        targets
            .into_iter()
            .map(|t| {
                Value::object(
                    t.into_iter()
                        .map(|(k, v)| (k, Value::string(v)))
                        .collect::<BTreeMap<_, _>>(),
                )
            })
            .collect(),
    )
}

/// Watcher events tagged with the index of the watcher that sent them.
type EventReceiver = tokio::sync::mpsc::UnboundedReceiver<(usize, Event)>;

/// One running watcher: its kind and namespace, for applying its events.
struct Watcher {
    kind: Role,
    namespace: String,
    synced: bool,
}

fn key_of(obj: &Json) -> (String, String) {
    let field = |name: &str| {
        obj.pointer(&format!("/metadata/{name}"))
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    };
    (field("namespace"), field("name"))
}

impl DiscoveryKubernetes {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_health(&self, health: HealthState, message: impl Into<String>) {
        self.lock().health = Health::new(health, message);
    }

    /// Connects and starts the watchers for `args`; events arrive on the returned
    /// channel tagged with the watcher's index.
    fn start(
        args: &DiscoveryKubernetesArgs,
        cancel: &CancellationToken,
    ) -> Result<(Vec<Watcher>, EventReceiver), String> {
        let (api, own) = match (&args.api_server, &args.kubeconfig_file) {
            (Some(url), _) => (config::api_server(url, &args.client)?, None),
            (None, Some(file)) => (config::kubeconfig(file)?, None),
            (None, None) => config::in_cluster()?,
        };
        if args.own_namespace && own.is_none() {
            return Err("could not determine the pod's namespace".into());
        }
        let api = Arc::new(api);
        let namespaces = namespaces_to_watch(&args.namespaces, args.own_namespace, own.as_deref());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut watchers = Vec::new();
        for kind in args.role.watched(args.attach_node) {
            // Nodes are cluster-scoped: one watcher whatever the namespaces.
            let spaces = if kind == Role::Node {
                vec![String::new()]
            } else {
                namespaces.clone()
            };
            for namespace in spaces {
                let index = watchers.len();
                let (wtx, mut wrx) = tokio::sync::mpsc::unbounded_channel();
                let tx = tx.clone();
                // Tag events with the watcher they come from.
                tokio::spawn(async move {
                    while let Some(e) = wrx.recv().await {
                        if tx.send((index, e)).is_err() {
                            return;
                        }
                    }
                });
                tokio::spawn(watch::run(
                    api.clone(),
                    kind,
                    namespace.clone(),
                    args.selectors.get(&kind).cloned().unwrap_or_default(),
                    wtx,
                    cancel.child_token(),
                ));
                watchers.push(Watcher {
                    kind,
                    namespace,
                    synced: false,
                });
            }
        }
        Ok((watchers, rx))
    }
}

/// Applies one watcher event to the stores.
fn apply(stores: &mut Stores, watcher: &mut Watcher, event: Event) {
    let store = stores.kinds.entry(watcher.kind).or_default();
    match event {
        Event::Synced(items) => {
            let ns = watcher.namespace.clone();
            store.retain(|(obj_ns, _), _| !(ns.is_empty() || *obj_ns == ns));
            for item in items {
                store.insert(key_of(&item), item);
            }
            watcher.synced = true;
        }
        Event::Upsert(obj) => {
            store.insert(key_of(&obj), obj);
        }
        Event::Delete(obj) => {
            store.remove(&key_of(&obj));
        }
    }
}

impl Component for DiscoveryKubernetes {
    type Arguments = DiscoveryKubernetesArgs;

    fn build(opts: Options, args: DiscoveryKubernetesArgs) -> Result<Self, String> {
        // Dependants see an empty target list until the first full sync.
        (opts.exports)(exports_of(Value::array(Vec::new())));
        Ok(DiscoveryKubernetes {
            exports: opts.exports,
            state: Mutex::new(State {
                args,
                health: Health::new(HealthState::Healthy, "started discovery"),
            }),
            reconfigured: Notify::new(),
        })
    }

    fn update(&self, args: DiscoveryKubernetesArgs) -> Result<(), String> {
        self.lock().args = args;
        // Changing arguments restarts the watchers.
        self.reconfigured.notify_one();
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            let mut published: Option<Value> = None;
            let mut last_publish: Option<tokio::time::Instant> = None;
            loop {
                let args = self.lock().args.clone();
                let watch_cancel = cancel.child_token();
                let _stop = watch_cancel.clone().drop_guard();
                let (mut watchers, mut rx) = match DiscoveryKubernetes::start(&args, &watch_cancel)
                {
                    Ok(started) => started,
                    Err(err) => {
                        tracing::error!(%err, "discovery.kubernetes cannot start");
                        self.set_health(HealthState::Unhealthy, err);
                        tokio::select! {
                            _ = cancel.cancelled() => return Ok(()),
                            _ = self.reconfigured.notified() => continue,
                        }
                    }
                };
                self.set_health(HealthState::Healthy, "watching the Kubernetes API");
                let mut stores = Stores::default();
                let mut dirty = false;
                loop {
                    let all_synced = watchers.iter().all(|w| w.synced);
                    // Publish a change once synced and the rate limit allows.
                    let publish_at = match (dirty && all_synced, last_publish) {
                        (true, Some(at)) => Some(at + MAX_UPDATE_FREQUENCY),
                        (true, None) => Some(tokio::time::Instant::now()),
                        (false, _) => None,
                    };
                    let publish = async {
                        match publish_at {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = self.reconfigured.notified() => break,
                        _ = publish => {
                            dirty = false;
                            let targets = targets_value(targets::build(args.role, &stores, args.attach_node));
                            let same = published
                                .as_ref()
                                .is_some_and(|p| alloy_syntax::value::values_identical(p, &targets));
                            if !same {
                                (self.exports)(exports_of(targets.clone()));
                                published = Some(targets);
                                last_publish = Some(tokio::time::Instant::now());
                            }
                        }
                        event = rx.recv() => {
                            let Some((index, event)) = event else {
                                return Ok(());
                            };
                            apply(&mut stores, &mut watchers[index], event);
                            // Drain what is already queued so a burst is one rebuild.
                            while let Ok((index, event)) = rx.try_recv() {
                                apply(&mut stores, &mut watchers[index], event);
                            }
                            dirty = true;
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
