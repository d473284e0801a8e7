//! The process's own Prometheus metrics: one registry that `/metrics` exposes and that
//! any part of the program can add to, and the config-load metrics of RUNTIME.md §10.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Metric, Registry};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

/// The metrics registry of the process. Registering takes `&self`, so it can be
/// shared behind an `Arc` by the HTTP server and whoever adds metrics later (the
/// controller, components).
#[derive(Debug)]
pub struct Metrics {
    registry: RwLock<Registry>,
    sources: Arc<Sources>,
    /// `alloy_component_evaluation_seconds`: how long evaluating one node took.
    pub evaluation_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let sources = Arc::new(Sources {
            list: Mutex::default(),
            always: vec![Arc::new(crate::throughput::Forwarded)],
        });
        // 1 µs .. ~4 s: a node's evaluation is usually microseconds, a module's
        // load can take seconds.
        let evaluation_seconds = Histogram::new(exponential_buckets(1e-6, 4.0, 12));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(SourcesCollector(sources.clone())));
        registry.register(
            "alloy_component_evaluation_seconds",
            "Time spent performing component evaluation",
            evaluation_seconds.clone(),
        );
        Metrics {
            registry: RwLock::new(registry),
            sources,
            evaluation_seconds,
        }
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Reads `source` on every scrape, with `labels` (e.g. `component_id`) added to
    /// each of its samples, for as long as the source is alive. Components keep the
    /// `Arc` and the registry only a `Weak`, so a removed component's series go away
    /// with it and nothing needs unregistering.
    pub fn add_source(&self, labels: Vec<(String, String)>, source: Weak<dyn MetricSource>) {
        let mut list = self.sources.list.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|(_, s)| s.strong_count() > 0);
        list.push((labels, source));
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

/// One value a [`MetricSource`] reports.
#[derive(Debug, Clone)]
pub struct SourceSample {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: SampleKind,
    /// Labels of this sample besides the source's own.
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// Whether a [`SourceSample`] is a counter (gets `_total`) or a gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    Counter,
    Gauge,
}

/// Something that reports metric values when `/metrics` is scraped, from state it
/// keeps anyway (atomics, sizes), so hot paths pay nothing for being observable.
pub trait MetricSource: Send + Sync {
    fn collect(&self, out: &mut Vec<SourceSample>);
}

/// The live sources, encoded as one family per metric name.
struct Sources {
    list: Mutex<Vec<WeakSource>>,
    /// Process-wide sources that live as long as the registry.
    always: Vec<Arc<dyn MetricSource>>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sources")
    }
}

/// A component's source and the labels its samples get.
type WeakSource = (Vec<(String, String)>, Weak<dyn MetricSource>);

type Series = Vec<(Vec<(String, String)>, f64)>;

/// Registers the sources with the registry (which wants an owned collector).
#[derive(Debug)]
struct SourcesCollector(Arc<Sources>);

impl Collector for SourcesCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sources: Vec<_> = {
            let list = self.0.list.lock().unwrap_or_else(|e| e.into_inner());
            list.iter()
                .filter_map(|(labels, s)| Some((labels.clone(), s.upgrade()?)))
                .chain(self.0.always.iter().map(|s| (Vec::new(), s.clone())))
                .collect()
        };
        // Families must be contiguous in the exposition: group by name first.
        let mut families: BTreeMap<&'static str, (&'static str, SampleKind, Series)> =
            BTreeMap::new();
        let mut out = Vec::new();
        for (labels, source) in sources {
            out.clear();
            source.collect(&mut out);
            for sample in out.drain(..) {
                let mut all = labels.clone();
                all.extend(sample.labels.into_iter().map(|(k, v)| (k.to_string(), v)));
                families
                    .entry(sample.name)
                    .or_insert((sample.help, sample.kind, Vec::new()))
                    .2
                    .push((all, sample.value));
            }
        }
        for (name, (help, kind, series)) in families {
            let metric_type = match kind {
                SampleKind::Counter => MetricType::Counter,
                SampleKind::Gauge => MetricType::Gauge,
            };
            let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
            for (labels, value) in &series {
                let mut metric = family.encode_family(labels)?;
                match kind {
                    SampleKind::Counter => {
                        metric.encode_counter::<NoLabelSet, _, f64>(value, None)?
                    }
                    SampleKind::Gauge => metric.encode_gauge(value)?,
                }
            }
        }
        Ok(())
    }
}

/// The `component_path`/`component_id` labels upstream puts on component metrics,
/// from a global ID such as `module.x/prometheus.scrape.y`.
pub fn component_labels(global_id: &str) -> Vec<(String, String)> {
    let (path, id) = match global_id.rsplit_once('/') {
        Some((module, id)) => (format!("/{module}"), id),
        None => ("/".to_string(), global_id),
    };
    vec![
        ("component_path".to_string(), path),
        ("component_id".to_string(), id.to_string()),
    ]
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

    struct Fixed(f64);

    impl MetricSource for Fixed {
        fn collect(&self, out: &mut Vec<SourceSample>) {
            out.push(SourceSample {
                name: "test_sent",
                help: "Sent",
                kind: SampleKind::Counter,
                labels: vec![("url", "x".to_string())],
                value: self.0,
            });
        }
    }

    #[test]
    fn sources_are_grouped_by_name_and_vanish_with_their_component() {
        let metrics = Metrics::new();
        let a: Arc<dyn MetricSource> = Arc::new(Fixed(3.0));
        let b: Arc<dyn MetricSource> = Arc::new(Fixed(5.0));
        metrics.add_source(
            component_labels("prometheus.remote_write.a"),
            Arc::downgrade(&a),
        );
        metrics.add_source(
            component_labels("m.x/prometheus.remote_write.b"),
            Arc::downgrade(&b),
        );
        let text = metrics.encode();
        assert_eq!(
            text.matches("# TYPE test_sent counter").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("test_sent_total{component_path=\"/\",component_id=\"prometheus.remote_write.a\",url=\"x\"} 3.0\n"),
            "{text}"
        );
        assert!(
            text.contains("test_sent_total{component_path=\"/m.x\",component_id=\"prometheus.remote_write.b\",url=\"x\"} 5.0\n"),
            "{text}"
        );
        assert!(
            text.contains("alloy_component_evaluation_seconds_count 0"),
            "{text}"
        );
        drop(b);
        let text = metrics.encode();
        assert!(text.contains("remote_write.a"), "{text}");
        assert!(!text.contains("remote_write.b"), "{text}");
    }

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
