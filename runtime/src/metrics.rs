//! The process's own Prometheus metrics: one registry that `/metrics` exposes and that
//! any part of the program can add to, and the config-load metrics of RUNTIME.md §10.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};
use std::sync::atomic::AtomicU64;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The metrics registry of the process. Registering takes `&self`, so it can be
/// shared behind an `Arc` by the HTTP server and whoever adds metrics later (the
/// controller, components).
#[derive(Debug, Default)]
pub struct Metrics {
    registry: RwLock<Registry>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Adds `metric` under `name`. Counters get their `_total` suffix and help texts
    /// their final full stop from the encoder, so both are written without them.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .register(name, help, metric);
    }

    /// Every registered metric in the OpenMetrics text format, ending with `# EOF`.
    pub fn encode(&self) -> String {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        // Writing into a `String` cannot fail; an encoder error would be a bug in a
        // metric, and a partial exposition is still more useful than none.
        if let Err(err) = encode(&mut out, &registry) {
            tracing::error!(error = %err, "Failed to encode metrics.");
        }
        out
    }
}

/// The content type of [`Metrics::encode`]'s output.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Metrics about loading the configuration, as upstream names them.
#[derive(Debug, Clone, Default)]
pub struct ConfigMetrics {
    hash: Family<Vec<(String, String)>, Gauge>,
    last_load_successful: Gauge,
    last_load_success_timestamp: Gauge<f64, AtomicU64>,
    load_failures: Counter,
}

impl ConfigMetrics {
    /// Creates the metrics and registers them in `metrics`.
    pub fn register(metrics: &Metrics) -> ConfigMetrics {
        let m = ConfigMetrics::default();
        metrics.register(
            "alloy_config_hash",
            "Hash of the currently active config file",
            m.hash.clone(),
        );
        metrics.register(
            "alloy_config_last_load_successful",
            "Config loaded successfully",
            m.last_load_successful.clone(),
        );
        metrics.register(
            "alloy_config_last_load_success_timestamp_seconds",
            "Timestamp of the last successful configuration load",
            m.last_load_success_timestamp.clone(),
        );
        metrics.register(
            "alloy_config_load_failures",
            "Configuration load failures",
            m.load_failures.clone(),
        );
        m
    }

    /// Records the SHA-256 (lower-case hex) of the configuration just read. Only one
    /// hash is exported at a time: the series of the previous one goes away.
    pub fn set_hash(&self, sha256: &str) {
        self.hash.clear();
        self.hash
            .get_or_create(&vec![("sha256".to_string(), sha256.to_string())])
            .set(1);
    }

    /// Records the outcome of a load attempt.
    pub fn record_load(&self, success: bool) {
        if success {
            self.last_load_successful.set(1);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            self.last_load_success_timestamp.set(now);
        } else {
            self.last_load_successful.set(0);
            self.load_failures.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_metrics_expose_one_hash_and_count_failures() {
        let metrics = Metrics::new();
        let config = ConfigMetrics::register(&metrics);
        config.set_hash("aa");
        config.set_hash("bb");
        config.record_load(true);
        config.record_load(false);
        let text = metrics.encode();
        assert!(
            text.contains("alloy_config_hash{sha256=\"bb\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("sha256=\"aa\""), "{text}");
        assert!(
            text.contains("alloy_config_last_load_successful 0\n"),
            "{text}"
        );
        assert!(
            text.contains("alloy_config_load_failures_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("alloy_config_last_load_success_timestamp_seconds "),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
