//! Target building for `discovery.kubernetes`: the Kubernetes objects held by the
//! watchers turned into targets and `__meta_kubernetes_*` labels, following the rules
//! of Prometheus' Kubernetes service discovery for each role. Pure functions over the
//! JSON objects, so fixtures can check them without a server.

use serde_json::Value as Json;
use std::collections::{BTreeMap, HashSet};

/// One target's labels.
pub type Labels = BTreeMap<String, String>;

/// Objects of one kind, keyed by (namespace, name); cluster-scoped kinds use "".
pub type Store = BTreeMap<(String, String), Json>;

const PREFIX: &str = "__meta_kubernetes_";

/// The six roles (`role` argument), which are also the watched kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Node,
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Ingress,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Node,
        Role::Pod,
        Role::Service,
        Role::Endpoints,
        Role::EndpointSlice,
        Role::Ingress,
    ];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Pod => "pod",
            Role::Service => "service",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
            Role::Ingress => "ingress",
        }
    }

    /// The API collection path of this kind, for one namespace or all ("").
    pub fn path(self, namespace: &str) -> String {
        let (group, plural) = match self {
            Role::Node => return "/api/v1/nodes".to_string(),
            Role::Pod => ("/api/v1", "pods"),
            Role::Service => ("/api/v1", "services"),
            Role::Endpoints => ("/api/v1", "endpoints"),
            Role::EndpointSlice => ("/apis/discovery.k8s.io/v1", "endpointslices"),
            Role::Ingress => ("/apis/networking.k8s.io/v1", "ingresses"),
        };
        if namespace.is_empty() {
            format!("{group}/{plural}")
        } else {
            format!("{group}/namespaces/{namespace}/{plural}")
        }
    }

    /// The kinds a role watches: endpoints roles also need pods and services, and
    /// `attach_metadata { node = true }` adds nodes where upstream supports it.
    pub fn watched(self, attach_node: bool) -> Vec<Role> {
        let mut kinds = match self {
            Role::Endpoints => vec![Role::Endpoints, Role::Service, Role::Pod],
            Role::EndpointSlice => vec![Role::EndpointSlice, Role::Service, Role::Pod],
            other => vec![other],
        };
        if attach_node && matches!(self, Role::Pod | Role::Endpoints | Role::EndpointSlice) {
            kinds.push(Role::Node);
        }
        kinds
    }

    /// The selector roles allowed with this role (as upstream validates them).
    pub fn allowed_selectors(self) -> &'static [Role] {
        match self {
            Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints],
            Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice],
            Role::Node => &[Role::Node],
            Role::Pod => &[Role::Pod],
            Role::Service => &[Role::Service],
            Role::Ingress => &[Role::Ingress],
        }
    }
}

/// Every watched object, by kind.
#[derive(Default)]
pub struct Stores {
    pub kinds: BTreeMap<Role, Store>,
}

impl Stores {
    pub fn store(&self, kind: Role) -> Option<&Store> {
        self.kinds.get(&kind)
    }

    fn get(&self, kind: Role, namespace: &str, name: &str) -> Option<&Json> {
        self.kinds
            .get(&kind)?
            .get(&(namespace.to_string(), name.to_string()))
    }
}

/// The string at `path` inside `v`, or "" (Go's zero value) when absent.
fn s<'a>(v: &'a Json, path: &[&str]) -> &'a str {
    opt(v, path).unwrap_or("")
}

/// The string at `path` inside `v`, when present (a Go pointer field).
fn opt<'a>(v: &'a Json, path: &[&str]) -> Option<&'a str> {
    get(v, path)?.as_str()
}

fn get<'a>(v: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(v, |v, key| v.get(key))
}

fn arr<'a>(v: &'a Json, path: &[&str]) -> &'a [Json] {
    get(v, path)
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn int(v: &Json, path: &[&str]) -> Option<i64> {
    get(v, path)?.as_i64()
}

fn string_map<'a>(v: &'a Json, path: &[&str]) -> Vec<(&'a str, &'a str)> {
    get(v, path)
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default()
}

/// Prometheus' `SanitizeLabelName`: every byte outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Go's `net.JoinHostPort`: IPv6 hosts get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn set(ls: &mut Labels, name: &str, value: impl Into<String>) {
    ls.insert(format!("{PREFIX}{name}"), value.into());
}

/// `<role>_name`, `<role>_label_*`, `<role>_labelpresent_*`, `<role>_annotation_*` and
/// `<role>_annotationpresent_*` for an object's metadata.
fn object_meta_labels(ls: &mut Labels, obj: &Json, role: &str) {
    set(ls, &format!("{role}_name"), s(obj, &["metadata", "name"]));
    for (kind, field) in [("label", "labels"), ("annotation", "annotations")] {
        for (k, v) in string_map(obj, &["metadata", field]) {
            let ln = sanitize(k);
            set(ls, &format!("{role}_{kind}_{ln}"), v);
            set(ls, &format!("{role}_{kind}present_{ln}"), "true");
        }
    }
}

fn node_labels_of(stores: &Stores, node_name: &str) -> Labels {
    let mut ls = Labels::new();
    if let Some(node) = stores.get(Role::Node, "", node_name) {
        object_meta_labels(&mut ls, node, "node");
    }
    ls
}

/// One target group: labels shared by its targets and the targets' own labels.
struct Group {
    labels: Labels,
    targets: Vec<Labels>,
}

impl Group {
    /// Flattened targets: group labels under each target's own (the target wins).
    fn flatten(self, out: &mut Vec<Labels>) {
        for t in self.targets {
            let mut merged = self.labels.clone();
            merged.extend(t);
            out.push(merged);
        }
    }
}

/// The targets of `role` for the objects in `stores`.
pub fn build(role: Role, stores: &Stores, attach_node: bool) -> Vec<Labels> {
    let mut out = Vec::new();
    let Some(store) = stores.store(role) else {
        return out;
    };
    for obj in store.values() {
        let group = match role {
            Role::Node => node_group(obj),
            Role::Pod => pod_group(obj, stores, attach_node),
            Role::Service => Some(service_group(obj)),
            Role::Endpoints => Some(endpoints_group(obj, stores, attach_node)),
            Role::EndpointSlice => Some(endpointslice_group(obj, stores, attach_node)),
            Role::Ingress => Some(ingress_group(obj)),
        };
        if let Some(group) = group {
            group.flatten(&mut out);
        }
    }
    out
}

fn node_group(node: &Json) -> Option<Group> {
    let mut labels = Labels::new();
    set(
        &mut labels,
        "node_provider_id",
        s(node, &["spec", "providerID"]),
    );
    object_meta_labels(&mut labels, node, "node");

    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in arr(node, &["status", "addresses"]) {
        by_type
            .entry(s(a, &["type"]))
            .or_default()
            .push(s(a, &["address"]));
    }
    // Upstream's priority order; a node without any of these has no target.
    let addr = [
        "InternalIP",
        "InternalDNS",
        "ExternalIP",
        "ExternalDNS",
        "LegacyHostIP",
        "Hostname",
    ]
    .iter()
    .find_map(|t| by_type.get(t).map(|a| a[0]))?;
    let port = int(
        node,
        &["status", "daemonEndpoints", "kubeletEndpoint", "Port"],
    )
    .unwrap_or(0);
    let mut t = Labels::new();
    t.insert("__address__".into(), join_host_port(addr, port));
    t.insert(
        "instance".into(),
        s(node, &["metadata", "name"]).to_string(),
    );
    for (ty, addrs) in by_type {
        t.insert(
            sanitize(&format!("{PREFIX}node_address_{ty}")),
            addrs[0].into(),
        );
    }
    Some(Group {
        labels,
        targets: vec![t],
    })
}

fn pod_ready(pod: &Json) -> String {
    arr(pod, &["status", "conditions"])
        .iter()
        .find(|c| s(c, &["type"]) == "Ready")
        .map(|c| s(c, &["status"]).to_lowercase())
        .unwrap_or_else(|| "unknown".into())
}

/// Upstream's `podLabels`: everything about the pod except its namespace.
fn pod_labels(pod: &Json) -> Labels {
    let mut ls = Labels::new();
    set(&mut ls, "pod_ip", s(pod, &["status", "podIP"]));
    set(&mut ls, "pod_ready", pod_ready(pod));
    set(&mut ls, "pod_phase", s(pod, &["status", "phase"]));
    set(&mut ls, "pod_node_name", s(pod, &["spec", "nodeName"]));
    set(&mut ls, "pod_host_ip", s(pod, &["status", "hostIP"]));
    set(&mut ls, "pod_uid", s(pod, &["metadata", "uid"]));
    object_meta_labels(&mut ls, pod, "pod");
    let controller = arr(pod, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| get(r, &["controller"]).and_then(Json::as_bool) == Some(true));
    if let Some(c) = controller {
        if !s(c, &["kind"]).is_empty() {
            set(&mut ls, "pod_controller_kind", s(c, &["kind"]));
        }
        if !s(c, &["name"]).is_empty() {
            set(&mut ls, "pod_controller_name", s(c, &["name"]));
        }
    }
    ls
}

fn pod_group(pod: &Json, stores: &Stores, attach_node: bool) -> Option<Group> {
    let ip = s(pod, &["status", "podIP"]);
    // PodIP is empty while a pod starts or after eviction: no targets then.
    if ip.is_empty() {
        return None;
    }
    let mut labels = pod_labels(pod);
    set(&mut labels, "namespace", s(pod, &["metadata", "namespace"]));
    if attach_node {
        labels.extend(node_labels_of(stores, s(pod, &["spec", "nodeName"])));
    }
    let mut targets = Vec::new();
    let containers = arr(pod, &["spec", "containers"])
        .iter()
        .map(|c| (c, false))
        .chain(
            arr(pod, &["spec", "initContainers"])
                .iter()
                .map(|c| (c, true)),
        );
    for (c, is_init) in containers {
        let statuses = if is_init {
            "initContainerStatuses"
        } else {
            "containerStatuses"
        };
        let name = s(c, &["name"]);
        let id = arr(pod, &["status", statuses])
            .iter()
            .find(|st| s(st, &["name"]) == name)
            .map(|st| s(st, &["containerID"]))
            .unwrap_or("");
        let mut base = Labels::new();
        set(&mut base, "pod_container_name", name);
        set(&mut base, "pod_container_id", id);
        set(&mut base, "pod_container_image", s(c, &["image"]));
        set(&mut base, "pod_container_init", is_init.to_string());
        let ports = arr(c, &["ports"]);
        if ports.is_empty() {
            // No port: the pod IP alone; the user adds a port by relabeling.
            base.insert("__address__".into(), ip.to_string());
            targets.push(base);
            continue;
        }
        for port in ports {
            let number = int(port, &["containerPort"]).unwrap_or(0);
            let mut t = base.clone();
            t.insert("__address__".into(), join_host_port(ip, number));
            set(&mut t, "pod_container_port_number", number.to_string());
            set(&mut t, "pod_container_port_name", s(port, &["name"]));
            set(
                &mut t,
                "pod_container_port_protocol",
                s(port, &["protocol"]),
            );
            targets.push(t);
        }
    }
    Some(Group { labels, targets })
}

/// Upstream's `serviceLabels`: namespace and the service's metadata.
fn service_labels(svc: &Json) -> Labels {
    let mut ls = Labels::new();
    set(&mut ls, "namespace", s(svc, &["metadata", "namespace"]));
    object_meta_labels(&mut ls, svc, "service");
    ls
}

fn service_group(svc: &Json) -> Group {
    let labels = service_labels(svc);
    let name = s(svc, &["metadata", "name"]);
    let ns = s(svc, &["metadata", "namespace"]);
    let ty = s(svc, &["spec", "type"]);
    let targets = arr(svc, &["spec", "ports"])
        .iter()
        .map(|port| {
            let number = int(port, &["port"]).unwrap_or(0);
            let mut t = Labels::new();
            t.insert(
                "__address__".into(),
                join_host_port(&format!("{name}.{ns}.svc"), number),
            );
            set(&mut t, "service_port_name", s(port, &["name"]));
            set(&mut t, "service_port_number", number.to_string());
            set(&mut t, "service_port_protocol", s(port, &["protocol"]));
            set(&mut t, "service_type", ty);
            if ty == "ExternalName" {
                set(
                    &mut t,
                    "service_external_name",
                    s(svc, &["spec", "externalName"]),
                );
            } else {
                set(&mut t, "service_cluster_ip", s(svc, &["spec", "clusterIP"]));
            }
            if ty == "LoadBalancer" {
                set(
                    &mut t,
                    "service_loadbalancer_ip",
                    s(svc, &["spec", "loadBalancerIP"]),
                );
            }
            t
        })
        .collect();
    Group { labels, targets }
}

fn resolve_pod<'a>(stores: &'a Stores, target_ref: Option<&Json>) -> Option<&'a Json> {
    let r = target_ref?;
    if s(r, &["kind"]) != "Pod" {
        return None;
    }
    stores.get(Role::Pod, s(r, &["namespace"]), s(r, &["name"]))
}

/// Targets for the container ports of `pods` that no endpoint port covered.
fn unseen_container_ports(pods: BTreeMap<(String, String), (&Json, HashSet<i64>)>) -> Vec<Labels> {
    let mut targets = Vec::new();
    for (pod, seen) in pods.into_values() {
        let ip = s(pod, &["status", "podIP"]);
        if ip.is_empty() {
            continue;
        }
        for c in arr(pod, &["spec", "containers"]) {
            for cport in arr(c, &["ports"]) {
                let number = int(cport, &["containerPort"]).unwrap_or(0);
                if seen.contains(&number) {
                    continue;
                }
                let mut t = Labels::new();
                t.insert("__address__".into(), join_host_port(ip, number));
                set(&mut t, "pod_container_name", s(c, &["name"]));
                set(&mut t, "pod_container_image", s(c, &["image"]));
                set(&mut t, "pod_container_port_name", s(cport, &["name"]));
                set(&mut t, "pod_container_port_number", number.to_string());
                set(
                    &mut t,
                    "pod_container_port_protocol",
                    s(cport, &["protocol"]),
                );
                t.extend(pod_labels(pod));
                targets.push(t);
            }
        }
    }
    targets
}

/// Sets the `pod_container_*` labels of the container port equal to `port` (the last
/// container with one wins, as upstream). Endpoints take the protocol from the
/// endpoint port (`protocol`), endpoint slices from the container port (`None`).
fn matching_container(t: &mut Labels, pod: &Json, port: i64, protocol: Option<&str>) {
    for c in arr(pod, &["spec", "containers"]) {
        if let Some(cport) = arr(c, &["ports"])
            .iter()
            .find(|p| int(p, &["containerPort"]) == Some(port))
        {
            set(t, "pod_container_name", s(c, &["name"]));
            set(t, "pod_container_image", s(c, &["image"]));
            set(t, "pod_container_port_name", s(cport, &["name"]));
            set(t, "pod_container_port_number", port.to_string());
            set(
                t,
                "pod_container_port_protocol",
                protocol.unwrap_or_else(|| s(cport, &["protocol"])),
            );
        }
    }
}

fn endpoints_group(eps: &Json, stores: &Stores, attach_node: bool) -> Group {
    let ns = s(eps, &["metadata", "namespace"]);
    let mut labels = Labels::new();
    set(&mut labels, "namespace", ns);
    if let Some(svc) = stores.get(Role::Service, ns, s(eps, &["metadata", "name"])) {
        labels.extend(service_labels(svc));
    }
    object_meta_labels(&mut labels, eps, "endpoints");

    let mut targets = Vec::new();
    let mut seen_pods: BTreeMap<(String, String), (&Json, HashSet<i64>)> = BTreeMap::new();
    for subset in arr(eps, &["subsets"]) {
        for port in arr(subset, &["ports"]) {
            let number = int(port, &["port"]).unwrap_or(0);
            let ready = arr(subset, &["addresses"]).iter().map(|a| (a, "true"));
            let not_ready = arr(subset, &["notReadyAddresses"])
                .iter()
                .map(|a| (a, "false"));
            for (addr, ready) in ready.chain(not_ready) {
                let mut t = Labels::new();
                t.insert(
                    "__address__".into(),
                    join_host_port(s(addr, &["ip"]), number),
                );
                set(&mut t, "endpoint_port_name", s(port, &["name"]));
                set(&mut t, "endpoint_port_protocol", s(port, &["protocol"]));
                set(&mut t, "endpoint_ready", ready);
                let target_ref = get(addr, &["targetRef"]);
                if let Some(r) = target_ref {
                    set(&mut t, "endpoint_address_target_kind", s(r, &["kind"]));
                    set(&mut t, "endpoint_address_target_name", s(r, &["name"]));
                }
                let node_name = opt(addr, &["nodeName"]);
                if let Some(n) = node_name {
                    set(&mut t, "endpoint_node_name", n);
                }
                if !s(addr, &["hostname"]).is_empty() {
                    set(&mut t, "endpoint_hostname", s(addr, &["hostname"]));
                }
                if attach_node {
                    match (node_name, target_ref) {
                        (Some(n), _) => t.extend(node_labels_of(stores, n)),
                        (None, Some(r)) if s(r, &["kind"]) == "Node" => {
                            t.extend(node_labels_of(stores, s(r, &["name"])))
                        }
                        _ => {}
                    }
                }
                if let Some(pod) = resolve_pod(stores, target_ref) {
                    let key = (
                        s(pod, &["metadata", "namespace"]).to_string(),
                        s(pod, &["metadata", "name"]).to_string(),
                    );
                    seen_pods
                        .entry(key)
                        .or_insert_with(|| (pod, HashSet::new()))
                        .1
                        .insert(number);
                    t.extend(pod_labels(pod));
                    matching_container(&mut t, pod, number, Some(s(port, &["protocol"])));
                }
                targets.push(t);
            }
        }
    }
    targets.extend(unseen_container_ports(seen_pods));
    Group { labels, targets }
}

fn endpointslice_group(eps: &Json, stores: &Stores, attach_node: bool) -> Group {
    let ns = s(eps, &["metadata", "namespace"]);
    let mut labels = Labels::new();
    set(&mut labels, "namespace", ns);
    set(
        &mut labels,
        "endpointslice_address_type",
        s(eps, &["addressType"]),
    );
    object_meta_labels(&mut labels, eps, "endpointslice");
    // Every EndpointSlice names its Service in the kubernetes.io/service-name label.
    if let Some(svc_name) = opt(eps, &["metadata", "labels", "kubernetes.io/service-name"]) {
        if let Some(svc) = stores.get(Role::Service, ns, svc_name) {
            labels.extend(service_labels(svc));
        }
    }

    let mut targets = Vec::new();
    let mut seen_pods: BTreeMap<(String, String), (&Json, HashSet<i64>)> = BTreeMap::new();
    for ep in arr(eps, &["endpoints"]) {
        for port in arr(eps, &["ports"]) {
            let number = int(port, &["port"]);
            for addr in arr(ep, &["addresses"]) {
                let addr = addr.as_str().unwrap_or("");
                let mut t = Labels::new();
                t.insert(
                    "__address__".into(),
                    match number {
                        Some(n) => join_host_port(addr, n),
                        None => addr.to_string(),
                    },
                );
                if let Some(v) = opt(port, &["name"]) {
                    set(&mut t, "endpointslice_port_name", v);
                }
                if let Some(v) = opt(port, &["protocol"]) {
                    set(&mut t, "endpointslice_port_protocol", v);
                }
                if let Some(n) = number {
                    set(&mut t, "endpointslice_port", n.to_string());
                }
                if let Some(v) = opt(port, &["appProtocol"]) {
                    set(&mut t, "endpointslice_port_app_protocol", v);
                }
                for cond in ["ready", "serving", "terminating"] {
                    if let Some(b) = get(ep, &["conditions", cond]).and_then(Json::as_bool) {
                        set(
                            &mut t,
                            &format!("endpointslice_endpoint_conditions_{cond}"),
                            b.to_string(),
                        );
                    }
                }
                if let Some(v) = opt(ep, &["hostname"]) {
                    set(&mut t, "endpointslice_endpoint_hostname", v);
                }
                let target_ref = get(ep, &["targetRef"]);
                if let Some(r) = target_ref {
                    set(&mut t, "endpointslice_address_target_kind", s(r, &["kind"]));
                    set(&mut t, "endpointslice_address_target_name", s(r, &["name"]));
                }
                let node_name = opt(ep, &["nodeName"]);
                if let Some(v) = node_name {
                    set(&mut t, "endpointslice_endpoint_node_name", v);
                }
                if let Some(v) = opt(ep, &["zone"]) {
                    set(&mut t, "endpointslice_endpoint_zone", v);
                }
                for (k, v) in string_map(ep, &["deprecatedTopology"]) {
                    let ln = sanitize(k);
                    set(&mut t, &format!("endpointslice_endpoint_topology_{ln}"), v);
                    set(
                        &mut t,
                        &format!("endpointslice_endpoint_topology_present_{ln}"),
                        "true",
                    );
                }
                if attach_node {
                    match target_ref {
                        Some(r) if s(r, &["kind"]) == "Node" => {
                            t.extend(node_labels_of(stores, s(r, &["name"])))
                        }
                        _ => {
                            if let Some(n) = node_name {
                                t.extend(node_labels_of(stores, n));
                            }
                        }
                    }
                }
                if let Some(pod) = resolve_pod(stores, target_ref) {
                    let key = (
                        s(pod, &["metadata", "namespace"]).to_string(),
                        s(pod, &["metadata", "name"]).to_string(),
                    );
                    let entry = seen_pods
                        .entry(key)
                        .or_insert_with(|| (pod, HashSet::new()));
                    if let Some(n) = number {
                        entry.1.insert(n);
                        t.extend(pod_labels(pod));
                        matching_container(&mut t, pod, n, None);
                    } else {
                        t.extend(pod_labels(pod));
                    }
                }
                targets.push(t);
            }
        }
    }
    targets.extend(unseen_container_ports(seen_pods));
    Group { labels, targets }
}

fn ingress_group(ing: &Json) -> Group {
    let mut labels = Labels::new();
    set(&mut labels, "namespace", s(ing, &["metadata", "namespace"]));
    object_meta_labels(&mut labels, ing, "ingress");
    if let Some(class) = opt(ing, &["spec", "ingressClassName"]) {
        set(&mut labels, "ingress_class_name", class);
    }
    let tls_hosts: HashSet<&str> = arr(ing, &["spec", "tls"])
        .iter()
        .flat_map(|t| arr(t, &["hosts"]).iter().filter_map(Json::as_str))
        .collect();
    let mut targets = Vec::new();
    for rule in arr(ing, &["spec", "rules"]) {
        let host = s(rule, &["host"]);
        let scheme = if tls_hosts.contains(host) {
            "https"
        } else {
            "http"
        };
        let paths: Vec<&str> = match get(rule, &["http"]) {
            None => vec!["/"],
            Some(http) => arr(http, &["paths"])
                .iter()
                .map(|p| match s(p, &["path"]) {
                    "" => "/",
                    path => path,
                })
                .collect(),
        };
        for path in paths {
            let mut t = Labels::new();
            t.insert("__address__".into(), host.to_string());
            set(&mut t, "ingress_scheme", scheme);
            set(&mut t, "ingress_host", host);
            set(&mut t, "ingress_path", path);
            targets.push(t);
        }
    }
    Group { labels, targets }
}
