//! `discovery.kubernetes` against an in-test Kubernetes API server on 127.0.0.1 that
//! speaks list and watch (newline-delimited JSON events, bookmarks, 410 for compacted
//! versions, dropped connections). The recorded objects of each role under
//! `testdata/kubernetes/<case>/objects.json` must give exactly the targets in
//! `expected.json`, written from Prometheus' Kubernetes SD rules (`UPDATE_EXPECT=1`
//! rewrites them, to be reviewed); watch events, reconnects and relists are followed.

mod support;

use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{controller, load};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Target = BTreeMap<String, String>;

/// The fake API server's data: objects by (plural, namespace, name) and the event log.
#[derive(Default)]
struct ApiState {
    version: u64,
    objects: BTreeMap<(String, String, String), Json>,
    /// (version, plural, namespace, type, object)
    events: Vec<(u64, String, String, &'static str, Json)>,
    /// Watches from a version below this get `410 Gone` (compacted history).
    compacted_before: u64,
    /// Request lines and headers, in order.
    requests: Vec<String>,
}

struct FakeApi {
    state: Mutex<ApiState>,
    /// Bumped on every change; a watch wakes up and sends new events.
    changed: tokio::sync::watch::Sender<u64>,
    /// Bumped to drop every open watch connection.
    dropped: tokio::sync::watch::Sender<u64>,
}

fn plural_of(kind: &str) -> &str {
    match kind {
        "nodes" | "pods" | "services" | "endpoints" | "endpointslices" | "ingresses" => kind,
        other => panic!("unknown fixture kind {other}"),
    }
}

fn meta(obj: &Json, field: &str) -> String {
    obj["metadata"][field].as_str().unwrap_or("").to_string()
}

impl FakeApi {
    fn new() -> Arc<FakeApi> {
        Arc::new(FakeApi {
            state: Mutex::new(ApiState {
                version: 1000,
                ..ApiState::default()
            }),
            changed: tokio::sync::watch::channel(0).0,
            dropped: tokio::sync::watch::channel(0).0,
        })
    }

    /// Adds or replaces an object, logging ADDED or MODIFIED.
    fn put(&self, plural: &str, mut obj: Json) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        obj["metadata"]["resourceVersion"] = json!(v.to_string());
        let key = (
            plural.to_string(),
            meta(&obj, "namespace"),
            meta(&obj, "name"),
        );
        let ty = if s.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        s.objects.insert(key.clone(), obj.clone());
        s.events.push((v, key.0, key.1, ty, obj));
        drop(s);
        self.changed.send_modify(|n| *n += 1);
    }

    fn delete(&self, plural: &str, namespace: &str, name: &str) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        let key = (plural.to_string(), namespace.to_string(), name.to_string());
        let mut obj = s.objects.remove(&key).expect("deleting a missing object");
        obj["metadata"]["resourceVersion"] = json!(v.to_string());
        s.events.push((v, key.0, key.1, "DELETED", obj));
        drop(s);
        self.changed.send_modify(|n| *n += 1);
    }

    /// A bookmark for every open watch of `plural`.
    fn bookmark(&self, plural: &str) {
        let mut s = self.state.lock().unwrap();
        let v = s.version;
        let obj = json!({"metadata": {"resourceVersion": v.to_string()}});
        s.events
            .push((v, plural.to_string(), String::new(), "BOOKMARK", obj));
        drop(s);
        self.changed.send_modify(|n| *n += 1);
    }

    fn load_fixture(&self, objects: &Json) {
        for (kind, items) in objects.as_object().unwrap() {
            for item in items.as_array().unwrap() {
                self.put(plural_of(kind), item.clone());
            }
        }
    }

    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    async fn serve(self: Arc<Self>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(self.clone().handle(sock));
            }
        });
        format!("http://{addr}")
    }

    async fn handle(self: Arc<Self>, mut sock: TcpStream) {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&got).into_owned();
        self.state.lock().unwrap().requests.push(head.clone());
        let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let url = reqwest::Url::parse(&format!("http://x{target}")).unwrap();
        let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let segments: Vec<&str> = url.path().trim_matches('/').split('/').collect();
        let plural = segments.last().copied().unwrap_or("").to_string();
        let namespace = segments
            .iter()
            .position(|s| *s == "namespaces")
            .and_then(|i| segments.get(i + 1))
            .map(|s| s.to_string())
            .unwrap_or_default();
        let selector = query.get("labelSelector").cloned().unwrap_or_default();
        let matches = |ns: &str, obj: &Json| {
            (namespace.is_empty() || ns == namespace)
                && selector.split(',').filter(|s| !s.is_empty()).all(|req| {
                    let (k, v) = req.split_once('=').unwrap();
                    obj["metadata"]["labels"][k].as_str() == Some(v)
                })
        };
        if query.get("watch").map(String::as_str) != Some("1") {
            let (items, version) = {
                let s = self.state.lock().unwrap();
                let items: Vec<Json> = s
                    .objects
                    .iter()
                    .filter(|((p, ns, _), obj)| *p == plural && matches(ns, obj))
                    .map(|(_, obj)| obj.clone())
                    .collect();
                (items, s.version)
            };
            let body = json!({"kind": "List", "apiVersion": "v1",
                "metadata": {"resourceVersion": version.to_string()}, "items": items})
            .to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            return;
        }
        let mut from: u64 = query["resourceVersion"].parse().unwrap();
        let _ = sock
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
            )
            .await;
        if from < self.state.lock().unwrap().compacted_before {
            let gone = json!({"type": "ERROR", "object": {"kind": "Status", "code": 410,
                "reason": "Expired", "message": "too old resource version"}});
            let _ = sock.write_all(format!("{gone}\n").as_bytes()).await;
            return;
        }
        let mut changed = self.changed.subscribe();
        let mut dropped = self.dropped.subscribe();
        dropped.borrow_and_update();
        loop {
            changed.borrow_and_update();
            let lines: Vec<String> = {
                let s = self.state.lock().unwrap();
                let out = s
                    .events
                    .iter()
                    .filter(|(v, p, ns, ty, obj)| {
                        *v > from && *p == plural && (*ty == "BOOKMARK" || matches(ns, obj))
                    })
                    .map(|(_, _, _, ty, obj)| json!({"type": ty, "object": obj}).to_string() + "\n")
                    .collect();
                from = s.events.last().map(|e| e.0).unwrap_or(from).max(from);
                out
            };
            for line in lines {
                if sock.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                r = changed.changed() => if r.is_err() { return },
                _ = dropped.changed() => return,
                // The real server ends watches after timeoutSeconds; tests end sooner.
                _ = tokio::time::sleep(Duration::from_secs(60)) => return,
            }
        }
    }
}

/// The exported targets, sorted.
fn targets(c: &alloy_runtime::controller::Controller, id: &str) -> Vec<Target> {
    let exports = c.node(id).unwrap().exports();
    let mut out: Vec<Target> = exports.as_object().unwrap()["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .collect();
    out.sort();
    out
}

/// Waits (at most `secs`) until `check` holds on the exported targets.
async fn wait_targets(
    c: &alloy_runtime::controller::Controller,
    id: &str,
    secs: u64,
    what: &str,
    check: impl Fn(&[Target]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let now = targets(c, id);
        if check(&now) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}; targets now: {now:#?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn component(api: &str, body: &str) -> String {
    format!("discovery.kubernetes \"k\" {{\n  api_server = \"{api}\"\n{body}}}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_give_upstream_targets_and_labels() {
    let root = alloy_testdata::fixtures().join("kubernetes");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("objects.json").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 6,
        "fixture cases missing under {}",
        root.display()
    );
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let objects: Json =
            serde_json::from_str(&std::fs::read_to_string(case.join("objects.json")).unwrap())
                .unwrap();
        let args = std::fs::read_to_string(case.join("args.alloy")).unwrap();
        let api = FakeApi::new();
        api.load_fixture(&objects);
        let base = api.clone().serve().await;
        let c = controller();
        load(&c, &component(&base, &args)).await.unwrap();
        let expected_path = case.join("expected.json");
        if alloy_testdata::update_mode() {
            wait_targets(&c, "discovery.kubernetes.k", 10, "a first sync", |t| {
                !t.is_empty()
            })
            .await;
            let text =
                serde_json::to_string_pretty(&targets(&c, "discovery.kubernetes.k")).unwrap();
            std::fs::write(&expected_path, text + "\n").unwrap();
        }
        let expected: Vec<Target> =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        wait_targets(&c, "discovery.kubernetes.k", 10, &name, |t| t == expected).await;
        c.shutdown();
    }
}

fn pod(name: &str, ip: &str, app: &str) -> Json {
    json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"), "labels": {"app": app}},
        "spec": {"nodeName": "n1", "containers": [{"name": "main", "image": "img",
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "10.0.0.1",
            "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

fn addresses(t: &[Target]) -> Vec<String> {
    t.iter().map(|t| t["__address__"].clone()).collect()
}

fn count(requests: &[String], needle: &str) -> usize {
    requests.iter().filter(|r| r.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_reconnects_and_relists_lose_nothing() {
    let api = FakeApi::new();
    api.put("pods", pod("a", "10.0.0.10", "web"));
    api.put("pods", pod("other", "10.0.0.99", "db"));
    let base = api.clone().serve().await;
    let c = controller();
    let body = "  role = \"pod\"\n  bearer_token = \"sekrit\"\n  namespaces {\n    names = [\"shop\"]\n  }\n  selectors {\n    role  = \"pod\"\n    label = \"app=web\"\n    field = \"spec.nodeName=n1\"\n  }\n";
    load(&c, &component(&base, body)).await.unwrap();
    let id = "discovery.kubernetes.k";
    wait_targets(&c, id, 10, "the first list", |t| {
        addresses(t) == ["10.0.0.10:8080"]
    })
    .await;
    let reqs = api.requests();
    let list = &reqs[0];
    assert!(
        list.starts_with("GET /api/v1/namespaces/shop/pods?"),
        "{list}"
    );
    assert!(list.contains("labelSelector=app%3Dweb"), "{list}");
    assert!(list.contains("fieldSelector=spec.nodeName%3Dn1"), "{list}");
    assert!(
        list.to_ascii_lowercase()
            .contains("authorization: bearer sekrit"),
        "{list}"
    );

    // Watch events: add, modify, delete, all delivered without relisting.
    let watching = || count(&api.requests(), "watch=1") >= 1;
    for _ in 0..500 {
        if watching() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(watching(), "no watch request");
    let started = tokio::time::Instant::now();
    api.put("pods", pod("b", "10.0.0.11", "web"));
    api.put("pods", pod("a", "10.0.0.12", "web"));
    api.put("pods", pod("gone", "10.0.0.13", "web"));
    api.delete("pods", "shop", "gone");
    api.bookmark("pods");
    wait_targets(&c, id, 15, "the watch events", |t| {
        addresses(t) == ["10.0.0.11:8080", "10.0.0.12:8080"]
    })
    .await;
    // Published within the 5 s rate limit, not after a polling interval.
    assert!(started.elapsed() < Duration::from_secs(7));

    // A dropped watch resumes from the last version: changes made meanwhile arrive
    // and nothing is listed again.
    api.dropped.send_modify(|n| *n += 1);
    api.put("pods", pod("c", "10.0.0.14", "web"));
    api.delete("pods", "shop", "b");
    wait_targets(&c, id, 15, "the changes across a reconnect", |t| {
        addresses(t) == ["10.0.0.12:8080", "10.0.0.14:8080"]
    })
    .await;
    let reqs = api.requests();
    assert!(count(&reqs, "watch=1") >= 2, "{reqs:#?}");
    assert_eq!(
        reqs.iter().filter(|r| !r.contains("watch=1")).count(),
        1,
        "{reqs:#?}"
    );
    let last_watch = reqs.iter().rev().find(|r| r.contains("watch=1")).unwrap();
    assert!(
        last_watch.contains("allowWatchBookmarks=true"),
        "{last_watch}"
    );

    // History compacted while disconnected: the watch gets 410 and relists, which
    // also sees a change that was never sent as an event.
    {
        let mut s = api.state.lock().unwrap();
        s.compacted_before = s.version + 100;
        s.version += 100;
        s.objects
            .remove(&("pods".into(), "shop".into(), "a".into()));
    }
    api.dropped.send_modify(|n| *n += 1);
    wait_targets(&c, id, 15, "the relist after 410", |t| {
        addresses(t) == ["10.0.0.14:8080"]
    })
    .await;
    assert_eq!(
        api.requests()
            .iter()
            .filter(|r| !r.contains("watch=1"))
            .count(),
        2
    );
    assert_eq!(c.node(id).unwrap().health().state.as_str(), "healthy");
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_file_authenticates() {
    let api = FakeApi::new();
    api.put(
        "nodes",
        json!({"metadata": {"name": "n1"}, "status": {
        "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}),
    );
    let base = api.clone().serve().await;
    let dir = std::env::temp_dir().join(format!("kube-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "file-token\n").unwrap();
    let cfg = dir.join("config");
    std::fs::write(
        &cfg,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: c\n  cluster:\n    server: {base}\ncontexts:\n- name: other\n  context:\n    cluster: missing\n- name: test\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    tokenFile: token\n"
        ),
    )
    .unwrap();
    let c = controller();
    let src = format!(
        "discovery.kubernetes \"k\" {{\n  role            = \"node\"\n  kubeconfig_file = \"{}\"\n}}\n",
        cfg.display()
    );
    load(&c, &src).await.unwrap();
    wait_targets(&c, "discovery.kubernetes.k", 10, "the node", |t| {
        addresses(t) == ["10.0.0.1:10250"]
    })
    .await;
    let reqs = api.requests();
    assert!(reqs[0].starts_with("GET /api/v1/nodes?"), "{}", reqs[0]);
    assert!(
        reqs[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer file-token"),
        "{}",
        reqs[0]
    );
    c.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused() {
    let c = controller();
    let cases = [
        ("role = \"deployment\"", "unknown role \"deployment\", must be one of pod, service, endpoints, endpointslice, node or ingress"),
        ("role = \"pod\"\n  selectors {\n    role = \"service\"\n  }", "pod role supports only pod selectors"),
        ("role = \"endpoints\"\n  selectors {\n    role = \"pod\"\n  }\n  selectors {\n    role = \"pod\"\n  }", "duplicated selector role: pod"),
        ("role = \"pod\"\n  kubeconfig_file = \"/x\"", "cannot use 'kubeconfig_file' and 'api_server' simultaneously"),
        ("role = \"pod\"\n  namespaces {\n    own_namespace = true\n  }", "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously"),
    ];
    for (body, message) in cases {
        let src = format!(
            "discovery.kubernetes \"k\" {{\n  api_server = \"http://127.0.0.1:1\"\n  {body}\n}}\n"
        );
        assert_eq!(load(&c, &src).await.unwrap_err(), [message], "{src}");
    }
    assert_eq!(
        load(&c, "discovery.kubernetes \"k\" {\n  role = \"pod\"\n  bearer_token = \"x\"\n}\n")
            .await
            .unwrap_err(),
        ["to use custom HTTP client configuration please provide the 'api_server' URL explicitly"]
    );
    assert_eq!(
        load(&c, "discovery.kubernetes \"k\" {\n  role = \"pod\"\n  kubeconfig_file = \"/x\"\n  bearer_token = \"x\"\n}\n")
            .await
            .unwrap_err(),
        ["cannot use a custom HTTP client configuration together with 'kubeconfig_file'"]
    );
    c.shutdown();
}

#[test]
fn namespaces_follow_upstream() {
    use alloy_components::discovery_kubernetes::namespaces_to_watch;
    let names = vec!["a".to_string()];
    assert_eq!(namespaces_to_watch(&[], false, None), [""]);
    assert_eq!(namespaces_to_watch(&names, false, Some("own")), ["a"]);
    assert_eq!(namespaces_to_watch(&names, true, Some("own")), ["a", "own"]);
    assert_eq!(namespaces_to_watch(&[], true, Some("own")), ["own"]);
}

/// The clustering example (`testdata/examples/kubernetes_clustering.alloy`) runs
/// against the fake API server: discovered pods are scraped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustering_example_scrapes_discovered_pods() {
    let metrics = Arc::new(Mutex::new(support::Served {
        status: 200,
        content_type: Some("text/plain; version=0.0.4".into()),
        body: "up_test 1\n".into(),
        ..Default::default()
    }));
    let metrics_url = support::server(metrics.clone()).await;
    let port: i64 = metrics_url.rsplit(':').next().unwrap().parse().unwrap();
    let sink = Arc::new(Mutex::new(support::Served {
        status: 200,
        ..Default::default()
    }));
    let sink_url = support::server(sink.clone()).await;
    let api = FakeApi::new();
    api.put(
        "pods",
        json!({
            "metadata": {"name": "app", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "app", "image": "app",
                "ports": [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1"}
        }),
    );
    let base = api.clone().serve().await;
    let example = std::fs::read_to_string(
        alloy_testdata::fixtures().join("examples/kubernetes_clustering.alloy"),
    )
    .unwrap();
    let src = example
        .replace("http://localhost:8001", &base)
        .replace("http://localhost:9009", &sink_url)
        .replace(
            "scrape_interval = \"15s\"",
            "scrape_interval = \"1s\"\n\tscrape_timeout = \"500ms\"",
        );
    assert_ne!(src, example);
    // prometheus.remote_write keeps its WAL under the storage path.
    let storage = std::env::temp_dir().join(format!("kube-example-{}", std::process::id()));
    let c = support::controller_in(&storage);
    load(&c, &src).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while metrics.lock().unwrap().requests.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the discovered pod was not scraped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let req = metrics.lock().unwrap().requests[0].clone();
    assert!(req.starts_with("GET /metrics "), "{req}");
    c.shutdown();
    let _ = std::fs::remove_dir_all(&storage);
}
