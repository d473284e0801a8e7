//! `prometheus.exporter.self`: ferroalloy's own metrics as a scrape target. Exports
//! `targets` with one target, the process's `/metrics` on its HTTP server, labelled
//! `job = "integrations/alloy"` and `instance` = the host name, as upstream's
//! exporter does; a `prometheus.scrape` pointed at it collects the agent's metrics.

use alloy_runtime::component::{Arguments, BoxFuture, Component, Options};
use alloy_runtime::decode::Decoder;
use alloy_runtime::schema::{LabelRule, Schema};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[],
    blocks: &[],
    free_form: false,
};

/// The component takes no arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterSelfArgs;

impl Arguments for ExporterSelfArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(_: &Decoder) -> Result<Self, Diagnostic> {
        Ok(ExporterSelfArgs)
    }
}

/// The running component; it only publishes its target once.
pub struct ExporterSelf;

/// The one target: the HTTP server's `/metrics`.
pub fn target(http_addr: &str, instance: &str) -> Value {
    let labels: BTreeMap<String, Value> = [
        ("__address__", http_addr),
        ("__metrics_path__", "/metrics"),
        ("instance", instance),
        ("job", "integrations/alloy"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::string(v)))
    .collect();
    Value::object(labels)
}

/// The host name as Go's `os.Hostname` gives it on Linux, else `fallback`.
fn hostname(fallback: &str) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|n| n.trim_end().to_string())
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| fallback.to_string())
}

impl Component for ExporterSelf {
    type Arguments = ExporterSelfArgs;

    fn build(opts: Options, _: ExporterSelfArgs) -> Result<Self, String> {
        let addr = &opts.services.http_addr;
        if addr.is_empty() {
            return Err("no HTTP server is running to expose ferroalloy's metrics".into());
        }
        let targets = Value::array(vec![target(addr, &hostname(addr))]);
        (opts.exports)(Value::object(BTreeMap::from([(
            "targets".to_string(),
            targets,
        )])));
        Ok(ExporterSelf)
    }

    fn update(&self, _: ExporterSelfArgs) -> Result<(), String> {
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            cancel.cancelled().await;
            Ok(())
        })
    }
}
