//! The HTTP server of `run`: readiness, health, reload and the process's `/metrics`
//! (CLI-AND-HTTP.md §5). Texts and status codes are upstream's, since probes and
//! scripts match on them.
//!
//! The server does not know how to reload: reading files belongs to the CLI, which
//! hands in a [`ReloadFn`]. It does not decide readiness either; the CLI calls
//! [`HttpService::set_ready`] once the initial load has succeeded.
//!
//! Cluster gossip shares this server and its port (CLUSTERING.md §4): peers POST
//! packets to the transport route, and `/api/v0/web/peers` lists the cluster.
//!
//! The UI's data API lives in [`api`], the pages in [`ui`] (CLI-AND-HTTP.md §5, §6).

mod api;
mod ui;

use crate::cluster::gossip::{
    CLUSTER_NAME_HEADER, CONTENT_TYPE as GOSSIP_CONTENT_TYPE, MESSAGE_PATH,
};
use crate::cluster::Cluster;
use crate::component::{BoxFuture, HealthState};
use crate::controller::Controller;
use crate::metrics::{Metrics, OPENMETRICS_CONTENT_TYPE};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Re-reads and loads the configuration; `Err` carries the text the client sees
/// (one line per diagnostic). The owner of the callback logs the outcome and makes
/// sure reloads from every trigger run one at a time.
pub type ReloadFn = Arc<dyn Fn() -> BoxFuture<Result<(), String>> + Send + Sync>;

/// What the server serves.
pub struct HttpOptions {
    pub controller: Controller,
    pub metrics: Arc<Metrics>,
    pub reload: ReloadFn,
    /// Serves the peers list and receives gossip; a one-node [`Cluster::standalone`]
    /// when clustering is off.
    pub cluster: Cluster,
    /// The TLS configuration of the `http` block, set after each load; empty serves
    /// plain HTTP.
    pub tls: crate::tls::TlsSlot,
    /// Live debugging, switched by the `livedebugging` block.
    pub live: crate::livedebug::LiveDebugging,
}

/// State shared by the handlers.
struct Shared {
    controller: Controller,
    metrics: Arc<Metrics>,
    reload: ReloadFn,
    cluster: Cluster,
    live: crate::livedebug::LiveDebugging,
    ready: AtomicBool,
}

/// A running HTTP server. It stops when the token given to [`HttpService::start`] is
/// cancelled; [`HttpService::stopped`] waits for that.
pub struct HttpService {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<io::Result<()>>,
}

impl HttpService {
    /// Serves on `listener` until `shutdown` is cancelled. The caller binds, so it can
    /// report a taken port itself and pick port 0 in tests.
    pub fn start(
        listener: TcpListener,
        opts: HttpOptions,
        shutdown: CancellationToken,
    ) -> io::Result<HttpService> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            controller: opts.controller,
            metrics: opts.metrics,
            reload: opts.reload,
            cluster: opts.cluster,
            live: opts.live,
            ready: AtomicBool::new(false),
        });
        let app = router(shared.clone());
        // TLS or plain per connection, as the last loaded `http` block says.
        let listener = crate::tls::MaybeTlsListener::new(listener, opts.tls)?;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
        });
        tracing::info!(addr = %addr, "now listening for http traffic");
        Ok(HttpService { addr, shared, task })
    }

    /// The address actually bound (the port is known here when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes `/-/ready` answer 200 from now on.
    pub fn set_ready(&self) {
        self.shared.ready.store(true, Ordering::Release);
    }

    /// Waits for the server to finish after its shutdown token was cancelled.
    /// Open requests are allowed to complete, so callers should bound the wait.
    pub async fn stopped(self) -> io::Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(err) => Err(io::Error::other(err)),
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/-/ready", any(ready))
        .route("/-/healthy", any(healthy))
        .route("/-/reload", get(reload).post(reload))
        .route("/metrics", get(metrics))
        .route("/api/v0/web/peers", get(peers))
        .route(
            "/api/v0/web/debug/{*id}",
            get(crate::livedebug::handler).with_state(shared.live.clone()),
        )
        .merge(api::routes())
        .merge(ui::routes())
        .route(crate::cluster::api::EXPLAIN_PATH, get(cluster_explain))
        .route(MESSAGE_PATH, post(gossip_message))
        .route("/api/v1/ckit/transport/stream", any(gossip_stream))
        .fallback(not_found)
        .with_state(shared)
}

async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    if shared.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "Alloy is ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Alloy is not ready.\n").into_response()
    }
}

/// Fails only on `unhealthy` nodes; `exited` and `unknown` do not count. Only the
/// root module's components count: not config blocks such as `import.*`, not
/// components inside module instances (RUNTIME.md §8).
async fn healthy(State(shared): State<Arc<Shared>>) -> Response {
    let nodes = shared.controller.nodes();
    let unhealthy: Vec<&str> = nodes
        .iter()
        .filter(|node| node.is_component() && node.health().state == HealthState::Unhealthy)
        .map(|node| node.component_name())
        .collect();
    if unhealthy.is_empty() {
        (StatusCode::OK, "All Alloy components are healthy.\n").into_response()
    } else {
        let text = format!("unhealthy components: {}\n", unhealthy.join(", "));
        (StatusCode::INTERNAL_SERVER_ERROR, text).into_response()
    }
}

async fn reload(State(shared): State<Arc<Shared>>) -> Response {
    tracing::info!("reload requested via /-/reload endpoint");
    // A client that hangs up drops this handler; the reload runs in its own task so
    // it is never abandoned halfway (between loading and recording metrics, say).
    let outcome = tokio::spawn((shared.reload)()).await;
    match outcome {
        Ok(Ok(())) => (StatusCode::OK, "config reloaded\n").into_response(),
        Ok(Err(text)) => {
            let mut body = text.trim_end().to_string();
            body.push('\n');
            (StatusCode::BAD_REQUEST, body).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "Reload task failed.");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reload failed: {err}\n"),
            )
                .into_response()
        }
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        shared.metrics.encode(),
    )
        .into_response()
}

/// The non-viewer peers sorted by name, as upstream's UI API lists them.
async fn peers(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::cluster::api::peers_json(&shared.cluster).to_string(),
    )
        .into_response()
}

/// `cluster explain`: who owns a target and why.
async fn cluster_explain(State(shared): State<Arc<Shared>>, uri: axum::http::Uri) -> Response {
    crate::cluster::api::explain(&shared.cluster, uri.query())
}

/// One gossip packet from a peer. Packets of another format or another
/// `--cluster.name` are refused here, before the gossip code sees them.
async fn gossip_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !shared.cluster.enabled() {
        return clustering_disabled();
    }
    let header_is = |name: &str, want: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            == want
    };
    if !header_is(header::CONTENT_TYPE.as_str(), GOSSIP_CONTENT_TYPE) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected Content-Type {GOSSIP_CONTENT_TYPE}\n"),
        )
            .into_response();
    }
    if !header_is(CLUSTER_NAME_HEADER, shared.cluster.cluster_name()) {
        return (StatusCode::FORBIDDEN, "cluster name mismatch\n").into_response();
    }
    shared.cluster.receive(body.to_vec());
    StatusCode::NO_CONTENT.into_response()
}

/// Upstream's stream route. Our gossip sends packets only.
async fn gossip_stream(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.cluster.enabled() {
        return clustering_disabled();
    }
    (
        StatusCode::NOT_IMPLEMENTED,
        "ferroalloy gossip uses no streams; is a Go Alloy node talking to this one?\n",
    )
        .into_response()
}

/// Upstream's answer on the gossip routes when `--cluster.enabled` is false.
fn clustering_disabled() -> Response {
    (StatusCode::NOT_FOUND, "clustering is disabled\n").into_response()
}

/// Go's `http.NotFound` text, which is what upstream's router answers.
async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}
