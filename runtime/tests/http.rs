//! The HTTP server against a real socket on 127.0.0.1: readiness before and after the
//! first load, health from the controller's nodes, reload through a callback that
//! loads into a real controller, `/metrics`, unknown routes and shutdown.

use alloy_runtime::cluster::Cluster;
use alloy_runtime::component::{
    Arguments, BoxFuture, Component, Health, HealthState, Options, Registration, Registry,
    Stability,
};
use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_runtime::decode::Decoder;
use alloy_runtime::http::{HttpOptions, HttpService, ReloadFn};
use alloy_runtime::metrics::{ConfigMetrics, Metrics};
use alloy_runtime::schema::{Attr, LabelRule, Schema, Ty};
use alloy_runtime::source::parse_sources;
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[Attr {
        name: "healthy",
        ty: Ty::Bool,
        required: true,
    }],
    blocks: &[],
    free_form: false,
};

#[derive(Clone, PartialEq)]
struct Args {
    healthy: bool,
}

impl Arguments for Args {
    fn schema() -> &'static Schema {
        &SCHEMA
    }
    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        Ok(Args {
            healthy: d.required("healthy")?,
        })
    }
}

/// `test.probe "x" { healthy = false }` reports itself unhealthy.
struct Probe {
    healthy: Mutex<bool>,
}

impl Component for Probe {
    type Arguments = Args;
    fn build(_: Options, args: Args) -> Result<Self, String> {
        Ok(Probe {
            healthy: Mutex::new(args.healthy),
        })
    }
    fn update(&self, args: Args) -> Result<(), String> {
        *self.healthy.lock().unwrap() = args.healthy;
        Ok(())
    }
    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            cancel.cancelled().await;
            Ok(())
        })
    }
    fn health(&self) -> Option<Health> {
        Some(if *self.healthy.lock().unwrap() {
            Health::new(HealthState::Healthy, "probe is fine")
        } else {
            Health::new(HealthState::Unhealthy, "probe was told to fail")
        })
    }
}

fn controller() -> Controller {
    let registry = Registry::new([Registration::of::<Probe>(
        "test.probe",
        Stability::GenerallyAvailable,
    )]);
    let base: BTreeMap<String, Value> = BTreeMap::new();
    Controller::new(registry, Arc::new(base), ControllerOptions::default())
}

/// Loads `text` as `main.alloy`; errors come back as `FILE:LINE:COL: message` lines.
async fn load(controller: &Controller, text: &str) -> Result<(), String> {
    let (files, diags) =
        parse_sources(vec![("main.alloy".into(), text.as_bytes().to_vec())]).expect("utf-8");
    let index = alloy_syntax::diag::LineIndex::new(text);
    let lines = |diags: &[Diagnostic]| {
        diags
            .iter()
            .map(|d| d.one_line(&index))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if !diags.is_empty() {
        return Err(lines(&diags));
    }
    match controller.load(files).await {
        Ok(report) if report.errors.is_empty() => Ok(()),
        Ok(report) => Err(lines(&report.errors)),
        Err(diags) => Err(lines(&diags)),
    }
}

/// A reload callback that loads whatever `config` holds, as the CLI's loads the file.
fn reload_fn(controller: Controller, config: Arc<Mutex<String>>) -> ReloadFn {
    Arc::new(move || {
        let controller = controller.clone();
        let text = config.lock().unwrap().clone();
        Box::pin(async move { load(&controller, &text).await })
    })
}

struct Server {
    service: HttpService,
    cluster: Cluster,
    shutdown: CancellationToken,
    base: String,
    client: reqwest::Client,
}

impl Server {
    async fn start(controller: &Controller, config: Arc<Mutex<String>>) -> Server {
        let metrics = Arc::new(Metrics::new());
        ConfigMetrics::register(&metrics).set_hash("abc123");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = CancellationToken::new();
        let cluster = Cluster::standalone("self-node");
        let service = HttpService::start(
            listener,
            HttpOptions {
                controller: controller.clone(),
                metrics,
                reload: reload_fn(controller.clone(), config),
                cluster: cluster.clone(),
                tls: Default::default(),
                live: Default::default(),
            },
            shutdown.clone(),
        )
        .unwrap();
        let base = format!("http://{}", service.local_addr());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Server {
            service,
            cluster,
            shutdown,
            base,
            client,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str) -> (u16, String) {
        let resp = self
            .client
            .request(method, format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        self.call(reqwest::Method::GET, path).await
    }
}

#[tokio::test]
async fn ready_health_and_reload_answer_with_upstream_texts() {
    let controller = controller();
    let config = Arc::new(Mutex::new(String::new()));
    let server = Server::start(&controller, config.clone()).await;

    // Before the first load the node is alive but not ready.
    assert_eq!(
        server.get("/-/ready").await,
        (503, "Alloy is not ready.\n".into())
    );

    let v1 = "test.probe \"a\" {\n\thealthy = true\n}\n";
    *config.lock().unwrap() = v1.into();
    load(&controller, v1).await.unwrap();
    server.service.set_ready();
    assert_eq!(
        server.get("/-/ready").await,
        (200, "Alloy is ready.\n".into())
    );
    assert_eq!(
        server.get("/-/healthy").await,
        (200, "All Alloy components are healthy.\n".into())
    );

    // A reload through the endpoint installs the new config; health follows it.
    *config.lock().unwrap() =
        "test.probe \"a\" {\n\thealthy = true\n}\n\ntest.probe \"b\" {\n\thealthy = false\n}\n"
            .into();
    assert_eq!(
        server.call(reqwest::Method::POST, "/-/reload").await,
        (200, "config reloaded\n".into())
    );
    assert!(controller.node("test.probe.b").is_some());
    assert_eq!(
        server.get("/-/healthy").await,
        (500, "unhealthy components: test.probe\n".into())
    );

    // A broken config is a 400 with the diagnostic, and the running graph stays.
    *config.lock().unwrap() = "test.probe \"a\" {\n\thealthy = nope.x\n}\n".into();
    let (status, body) = server.get("/-/reload").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        "main.alloy:2:12: component \"nope.x\" does not exist or is out of scope\n"
    );
    assert!(controller.node("test.probe.b").is_some());
    assert_eq!(server.get("/-/ready").await.0, 200);

    // Only GET and POST reload.
    assert_eq!(server.call(reqwest::Method::PUT, "/-/reload").await.0, 405);

    server.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server.service.stopped())
        .await
        .expect("server stops within 10 s")
        .unwrap();
    controller.shutdown();
}

#[tokio::test]
async fn metrics_are_exposed_and_unknown_routes_are_not_found() {
    let controller = controller();
    let server = Server::start(&controller, Arc::default()).await;

    let resp = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("alloy_config_hash{sha256=\"abc123\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE alloy_config_load_failures counter\n"),
        "{text}"
    );

    assert_eq!(
        server.get("/nope").await,
        (404, "404 page not found\n".into())
    );

    server.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server.service.stopped())
        .await
        .expect("server stops within 10 s")
        .unwrap();
    controller.shutdown();
}

#[tokio::test]
async fn without_clustering_the_peers_list_is_this_node_once_it_participates() {
    let controller = controller();
    let server = Server::start(&controller, Arc::new(Mutex::new(String::new()))).await;
    // A viewer is never listed.
    assert_eq!(server.get("/api/v0/web/peers").await, (200, "[]".into()));
    server.cluster.participate().await;
    let (status, body) = server.get("/api/v0/web/peers").await;
    assert_eq!(status, 200);
    let peers: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(peers[0]["name"], "self-node");
    assert_eq!(peers[0]["isSelf"], true);
    assert_eq!(peers[0]["state"], "participant");
    assert_eq!(peers.as_array().unwrap().len(), 1);
    // Gossip routes refuse as upstream does.
    let resp = server
        .client
        .post(format!("{}/api/v1/ckit/transport/message", server.base))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.text().await.unwrap(), "clustering is disabled\n");
}
