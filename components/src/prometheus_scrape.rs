//! `prometheus.scrape` (COMPONENTS.md §5): turns targets into scrape loops, one per
//! target, each scraping on a stable offset within its interval, attaching target
//! labels to what it scrapes, writing the report series and staleness markers, and
//! handing every scrape to `forward_to` as one batch.

use crate::http_client::HttpClientArgs;
use crate::prometheus::exposition::{
    accept_header, select_format, Entry, Format, Options as ParserOptions, Parser, ScrapeProtocol,
};
use crate::prometheus::{fan_out, intern, Batch, Label, Labels, Receiver, Sample, STALE_NAN_BITS};
use alloy_runtime::component::{Arguments, BoxFuture, Component, Health, HealthState, Options};
use alloy_runtime::decode::Decoder;
use alloy_runtime::duration::GoDuration;
use alloy_runtime::metrics::{component_labels, MetricSource, SampleKind, SourceSample};
use alloy_runtime::schema::{
    attr, concat, Attr, BlockSpec, LabelRule, Repeat, Schema, Ty, HTTP_CLIENT_ATTRS,
    HTTP_CLIENT_BLOCK_SPECS,
};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

const OWN_ATTRS: [Attr; 28] = [
    attr!("targets", Ty::Array(&Ty::Map(&Ty::String)), required),
    attr!(
        "forward_to",
        Ty::Array(&Ty::Capsule("storage.Appendable")),
        required
    ),
    attr!("job_name", Ty::String),
    attr!("scrape_interval", Ty::Duration),
    attr!("scrape_timeout", Ty::Duration),
    attr!("metrics_path", Ty::String),
    attr!("scheme", Ty::String),
    attr!("params", Ty::Map(&Ty::Array(&Ty::String))),
    attr!("honor_labels", Ty::Bool),
    attr!("honor_timestamps", Ty::Bool),
    attr!("track_timestamps_staleness", Ty::Bool),
    attr!("body_size_limit", Ty::String),
    attr!("sample_limit", Ty::Uint),
    attr!("target_limit", Ty::Uint),
    attr!("label_limit", Ty::Uint),
    attr!("label_name_length_limit", Ty::Uint),
    attr!("label_value_length_limit", Ty::Uint),
    attr!("scrape_protocols", Ty::Array(&Ty::String)),
    attr!("scrape_fallback_protocol", Ty::String),
    attr!("scrape_native_histograms", Ty::Bool),
    attr!("scrape_classic_histograms", Ty::Bool),
    attr!("convert_classic_histograms_to_nhcb", Ty::Bool),
    attr!("enable_compression", Ty::Bool),
    attr!("enable_protobuf_negotiation", Ty::Bool),
    attr!("extra_metrics", Ty::Bool),
    attr!("metric_name_validation_scheme", Ty::String),
    attr!("metric_name_escaping_scheme", Ty::String),
    attr!("scrape_failure_log_file", Ty::String),
];

const OWN_BLOCKS: [BlockSpec; 1] = [BlockSpec {
    name: "clustering",
    schema: &Schema {
        label: LabelRule::Forbidden,
        attrs: &[attr!("enabled", Ty::Bool, required)],
        blocks: &[],
        free_form: false,
    },
    required: false,
    repeat: Repeat::Once,
}];

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

/// Upstream's default protocol preference.
const DEFAULT_PROTOCOLS: [&str; 4] = [
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeArgs {
    pub targets: Vec<BTreeMap<String, String>>,
    pub forward_to: Vec<Receiver>,
    pub job_name: Option<String>,
    pub scrape_interval: GoDuration,
    pub scrape_timeout: GoDuration,
    pub metrics_path: String,
    pub scheme: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    pub body_size_limit: u64,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub accept: String,
    pub fallback: Option<Format>,
    pub enable_compression: bool,
    pub extra_metrics: bool,
    /// Accepted; a no-op until the process is clustered (COMPONENTS.md §5.6).
    pub clustering: bool,
    pub client: HttpClientArgs,
}

/// Parses `body_size_limit`: a byte count with an optional unit (`10MB`, `1GiB`, as
/// Alloy's units.Base2Bytes: KB/MB/GB are powers of 1024 too).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid byte size {text:?}"))?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KB" | "KiB" | "K" => 1 << 10,
        "MB" | "MiB" | "M" => 1 << 20,
        "GB" | "GiB" | "G" => 1 << 30,
        "TB" | "TiB" | "T" => 1 << 40,
        _ => return Err(format!("invalid byte size {text:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("byte size {text:?} is too large"))
}

impl Arguments for ScrapeArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        let scrape_interval = d.positive_duration("scrape_interval", GoDuration::from_secs(60))?;
        let scrape_timeout = d.attr_or("scrape_timeout", GoDuration::from_secs(10))?;
        if scrape_timeout > scrape_interval {
            return Err(d.error(
                d.span_of("scrape_timeout"),
                format!(
                    "scrape_timeout ({scrape_timeout}) greater than scrape_interval ({scrape_interval})"
                ),
            ));
        }
        let scheme: String = d.attr_or("scheme", "http".to_string())?;
        if scheme != "http" && scheme != "https" {
            return Err(d.error(
                d.span_of("scheme"),
                format!("invalid scheme {scheme:?}, expected http or https"),
            ));
        }
        let names: Vec<String> = d.attr_or(
            "scrape_protocols",
            DEFAULT_PROTOCOLS.iter().map(|s| s.to_string()).collect(),
        )?;
        let mut protocols = Vec::with_capacity(names.len());
        for name in &names {
            match ScrapeProtocol::from_name(name) {
                Some(p) => protocols.push(p),
                None => {
                    return Err(d.error(
                        d.span_of("scrape_protocols"),
                        format!("unknown scrape protocol {name:?}"),
                    ))
                }
            }
        }
        let fallback: String =
            d.attr_or("scrape_fallback_protocol", "PrometheusText0.0.4".into())?;
        let fallback = match fallback.as_str() {
            "" => None,
            name => match ScrapeProtocol::from_name(name) {
                Some(p) => Some(p.format()),
                None => {
                    return Err(d.error(
                        d.span_of("scrape_fallback_protocol"),
                        format!("unknown scrape fallback protocol {name:?}"),
                    ))
                }
            },
        };
        let body_size_limit = match d.attr::<String>("body_size_limit")? {
            Some(text) => {
                parse_bytes(&text).map_err(|e| d.error(d.span_of("body_size_limit"), e))?
            }
            None => 0,
        };
        for unsupported in [
            "scrape_native_histograms",
            "convert_classic_histograms_to_nhcb",
        ] {
            if d.attr_or(unsupported, false)? {
                return Err(d.error(
                    d.span_of(unsupported),
                    format!("{unsupported} is not supported by ferroalloy yet"),
                ));
            }
        }
        if !protocols.is_empty()
            && protocols
                .iter()
                .all(|p| *p == ScrapeProtocol::PrometheusProto)
        {
            return Err(d.error(
                d.span_of("scrape_protocols"),
                "the protobuf scrape protocol is not supported by ferroalloy yet; add a text protocol",
            ));
        }
        let clustering = match d.block("clustering") {
            Some(b) => b.required("enabled")?,
            None => false,
        };
        Ok(ScrapeArgs {
            targets: d.required("targets")?,
            forward_to: d.required("forward_to")?,
            job_name: d.attr("job_name")?,
            scrape_interval,
            scrape_timeout,
            metrics_path: d.attr_or("metrics_path", "/metrics".to_string())?,
            scheme,
            params: d.attr_or("params", BTreeMap::new())?,
            honor_labels: d.attr_or("honor_labels", false)?,
            honor_timestamps: d.attr_or("honor_timestamps", true)?,
            track_timestamps_staleness: d.attr_or("track_timestamps_staleness", false)?,
            body_size_limit,
            sample_limit: d.attr_or("sample_limit", 0u64)?,
            label_limit: d.attr_or("label_limit", 0u64)?,
            label_name_length_limit: d.attr_or("label_name_length_limit", 0u64)?,
            label_value_length_limit: d.attr_or("label_value_length_limit", 0u64)?,
            accept: accept_header(&protocols, "underscores"),
            fallback,
            enable_compression: d.attr_or("enable_compression", true)?,
            extra_metrics: d.attr_or("extra_metrics", false)?,
            clustering,
            client: HttpClientArgs::decode(Some(*d))?,
        })
    }
}

/// One target, ready to scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Target {
    /// Public labels attached to every sample (`job`, `instance`, the rest).
    labels: Labels,
    url: String,
    interval: Duration,
    timeout: Duration,
    /// The full label set (with `__` labels), which identifies the target.
    key: Labels,
    /// The cluster ring key of the discovered target (its non-`__meta_` labels, before
    /// defaults), as upstream computes it; also the target's slot in its interval, so
    /// every node scrapes a target at the same phase.
    ring_key: u64,
}

/// Turns discovered targets into scrape targets (§5.2); bad ones are logged and dropped.
fn build_targets(args: &ScrapeArgs, job: &str) -> Vec<Target> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for raw in &args.targets {
        let mut labels = raw.clone();
        let mut default = |name: &str, value: String| {
            labels.entry(name.to_string()).or_insert(value);
        };
        default("job", job.to_string());
        default("__scrape_interval__", args.scrape_interval.to_string());
        default("__scrape_timeout__", args.scrape_timeout.to_string());
        default("__metrics_path__", args.metrics_path.clone());
        default("__scheme__", args.scheme.clone());
        for (k, v) in &args.params {
            if let Some(first) = v.first() {
                default(&format!("__param_{k}"), first.clone());
            }
        }
        let ring_key =
            alloy_runtime::cluster::target_key(raw.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match target_of(&labels, args, ring_key) {
            Ok(target) => {
                if seen.insert(target.key.clone()) {
                    out.push(target);
                }
            }
            Err(err) => tracing::warn!(%err, "dropping target"),
        }
    }
    out
}

fn target_of(
    labels: &BTreeMap<String, String>,
    args: &ScrapeArgs,
    ring_key: u64,
) -> Result<Target, String> {
    let get = |name: &str| labels.get(name).map(String::as_str).unwrap_or("");
    let address = get("__address__");
    if address.is_empty() {
        return Err("no address".into());
    }
    let interval = GoDuration::parse(get("__scrape_interval__"))
        .map_err(|e| format!("error parsing scrape interval: {e}"))?;
    let timeout = GoDuration::parse(get("__scrape_timeout__"))
        .map_err(|e| format!("error parsing scrape timeout: {e}"))?;
    if interval.nanos() <= 0 {
        return Err("scrape interval cannot be 0".into());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({timeout} > {interval})"
        ));
    }
    // The query: params, each overridden by its `__param_` label.
    let mut query: BTreeMap<String, Vec<String>> = args.params.clone();
    for (k, v) in labels {
        if let Some(name) = k.strip_prefix("__param_") {
            query.insert(name.to_string(), vec![v.clone()]);
        }
    }
    let mut url = reqwest::Url::parse(&format!(
        "{}://{}{}",
        get("__scheme__"),
        address,
        get("__metrics_path__")
    ))
    .map_err(|e| format!("invalid target URL: {e}"))?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, values) in &query {
            for v in values {
                pairs.append_pair(k, v);
            }
        }
    }
    let mut public: Vec<(&str, &str)> = labels
        .iter()
        .filter(|(k, v)| !k.starts_with("__") && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if !labels.contains_key("instance") {
        public.push(("instance", address));
    }
    Ok(Target {
        labels: Labels::from_pairs(public.iter().map(|(k, v)| (*k, *v))),
        url: url.to_string(),
        interval: interval.to_std(),
        timeout: timeout.to_std(),
        key: Labels::from_pairs(labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        ring_key,
    })
}

/// What every scrape loop reads at each scrape: the current arguments and client.
struct Shared {
    args: ScrapeArgs,
    client: reqwest::Client,
    /// Samples forwarded, for the UI's edge throughput: one add per scrape.
    samples_out: Arc<AtomicU64>,
}

/// The newest [`Shared`], replaced on every update; loops pick it up at their next
/// scrape, so a new `forward_to` or `honor_labels` needs no restart.
type Current = Arc<Mutex<Arc<Shared>>>;

/// What `/metrics` shows of a scrape component: how many targets this node scrapes
/// and how many it handed to other nodes of the cluster.
#[derive(Default)]
struct ScrapeMetrics {
    targets: AtomicU64,
    moved: AtomicU64,
}

impl MetricSource for ScrapeMetrics {
    fn collect(&self, out: &mut Vec<SourceSample>) {
        out.push(SourceSample {
            name: "prometheus_scrape_targets_gauge",
            help: "Number of targets this component is configured to scrape",
            kind: SampleKind::Gauge,
            labels: Vec::new(),
            value: self.targets.load(Ordering::Relaxed) as f64,
        });
        out.push(SourceSample {
            name: "prometheus_scrape_targets_moved",
            help: "Number of targets that have moved from this node to another in the cluster",
            kind: SampleKind::Counter,
            labels: Vec::new(),
            value: self.moved.load(Ordering::Relaxed) as f64,
        });
    }
}

/// The running component.
pub struct PrometheusScrape {
    job: String,
    current: Current,
    cluster: alloy_runtime::cluster::Cluster,
    /// `prometheus_scrape_targets_gauge` and `_moved_total`; `/metrics` holds only a
    /// weak link, so the series go when the component does.
    metrics: Arc<ScrapeMetrics>,
    state: Mutex<State>,
}

/// A running scrape loop.
struct LoopHandle {
    stop: CancellationToken,
    /// Set when the target moved to another cluster node: the new owner continues its
    /// series, so this loop writes no staleness markers as it stops.
    moved: Arc<AtomicBool>,
}

struct State {
    /// Running loops by target.
    loops: HashMap<Target, LoopHandle>,
    /// Set while the component runs; loops start only then.
    parent: Option<CancellationToken>,
}

fn client_for(args: &ScrapeArgs) -> Result<reqwest::Client, String> {
    let mut client = args.client.clone();
    // Scrapes are one request per target per interval: HTTP/1.1 as Prometheus does.
    client.enable_http2 = false;
    client.gzip = args.enable_compression;
    client.build()
}

impl PrometheusScrape {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shared(&self) -> Arc<Shared> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts loops for new targets and stops those that are gone (which write their
    /// staleness markers as they stop, unless the target only moved to another node).
    /// With clustering, only the targets this node owns are wanted (CLUSTERING.md §6)
    /// — now, or after a handoff already announced: each loop then asks slot by slot
    /// (see [`scrape_loop`]), so a losing node keeps its loop through the handoff
    /// and a gaining one has its loop waiting for the first slot it owns.
    fn sync(&self) {
        let shared = self.shared();
        let all: HashSet<Target> = build_targets(&shared.args, &self.job).into_iter().collect();
        let owned =
            |t: &Target| !shared.args.clustering || self.cluster.is_local_key_from_now(t.ring_key);
        let mut state = self.lock();
        let Some(parent) = state.parent.clone() else {
            return;
        };
        state.loops.retain(|target, handle| {
            if all.contains(target) && owned(target) {
                return true;
            }
            if all.contains(target) {
                handle.moved.store(true, Ordering::Relaxed);
                self.metrics.moved.fetch_add(1, Ordering::Relaxed);
            }
            handle.stop.cancel();
            false
        });
        for target in all.into_iter().filter(|t| owned(t)) {
            if state.loops.contains_key(&target) {
                continue;
            }
            let handle = LoopHandle {
                stop: parent.child_token(),
                moved: Arc::default(),
            };
            tokio::spawn(scrape_loop(
                target.clone(),
                self.current.clone(),
                self.cluster.clone(),
                handle.stop.clone(),
                handle.moved.clone(),
            ));
            state.loops.insert(target, handle);
        }
        self.metrics
            .targets
            .store(state.loops.len() as u64, Ordering::Relaxed);
    }
}

impl Component for PrometheusScrape {
    type Arguments = ScrapeArgs;

    fn build(opts: Options, args: ScrapeArgs) -> Result<Self, String> {
        let client = client_for(&args)?;
        let job = args.job_name.clone().unwrap_or_else(|| opts.id.clone());
        let metrics = Arc::new(ScrapeMetrics::default());
        let source: Arc<dyn MetricSource> = metrics.clone();
        opts.services
            .metrics
            .add_source(component_labels(&opts.id), Arc::downgrade(&source));
        Ok(PrometheusScrape {
            job,
            metrics,
            cluster: opts.cluster.clone(),
            current: Arc::new(Mutex::new(Arc::new(Shared {
                args,
                client,
                samples_out: opts.samples_out(),
            }))),
            state: Mutex::new(State {
                loops: HashMap::new(),
                parent: None,
            }),
        })
    }

    /// Every discovered target with the peer that scrapes it, which the clustering
    /// page counts per peer.
    fn debug_info(&self) -> Option<Value> {
        let shared = self.shared();
        let local = self.cluster.node_name().to_string();
        let targets: Vec<Value> = build_targets(&shared.args, &self.job)
            .into_iter()
            .map(|t| {
                let owner = if shared.args.clustering {
                    self.cluster.lookup(t.ring_key).unwrap_or_default()
                } else {
                    local.clone()
                };
                Value::object(BTreeMap::from([
                    ("url".to_string(), Value::string(t.url.as_str())),
                    ("owner".to_string(), Value::string(owner)),
                ]))
            })
            .collect();
        Some(Value::object(BTreeMap::from([(
            "targets".to_string(),
            Value::array(targets),
        )])))
    }

    fn update(&self, args: ScrapeArgs) -> Result<(), String> {
        let client = client_for(&args)?;
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let samples_out = current.samples_out.clone();
        *current = Arc::new(Shared {
            args,
            client,
            samples_out,
        });
        drop(current);
        self.sync();
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            self.lock().parent = Some(cancel.clone());
            self.sync();
            // Ownership is recomputed on every cluster change (at most once a second).
            let mut changes = self.cluster.subscribe();
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    changed = changes.changed() => {
                        if changed.is_err() {
                            cancel.cancelled().await;
                            return Ok(());
                        }
                        if self.shared().args.clustering {
                            self.sync();
                        }
                    }
                }
            }
        })
    }

    fn health(&self) -> Option<Health> {
        Some(Health::new(HealthState::Healthy, "scraping"))
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The first scrape slot of `target` after `after_ns` (Unix nanoseconds). Slots are
/// `offset + k × interval` from the epoch, the offset taken from the target's ring
/// key: every node computes the same slots for a target, and a fleet's scrapes
/// spread over the interval.
fn next_slot(target: &Target, after_ns: u128) -> u128 {
    let interval = target.interval.as_nanos().max(1);
    let offset = (target.ring_key as u128) % interval;
    let k = if after_ns < offset {
        0
    } else {
        (after_ns - offset) / interval + 1
    };
    offset + k * interval
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// What a scrape loop remembers between scrapes, for staleness.
#[derive(Default)]
struct LoopMemory {
    /// The report series written so far (they get markers when the loop stops).
    report: Vec<Labels>,
    /// The series of the last scrapes, which also track staleness.
    cache: SeriesCache,
    /// The last body's size: the next body's buffer starts that large.
    body_len: usize,
}

/// The final labels of each raw series text (metric name and the text between the
/// braces), so a series seen in the last scrape costs one hash lookup instead of a
/// rebuild — the idea of Prometheus's scrape cache. The text is keyed by its 128-bit
/// xxh3 hash rather than stored: that saves a copy of every series' text (about a
/// hundred bytes each), and two of a target's series would collide with a chance
/// near n²/2¹²⁹ (about 10⁻³³ for a thousand series). Entries are only valid for the
/// arguments they were made with, and those not seen in a successful scrape are
/// dropped.
///
/// The entries also carry staleness: which series the last successful scrape had
/// (and so get a marker when they disappear). Keeping that in the entry, instead of
/// in sets of label sets, saves two hash operations and two table slots per series.
#[derive(Default)]
struct SeriesCache {
    /// The arguments the entries were computed with (held, so the address cannot be
    /// reused by newer arguments while we compare).
    made_with: Option<Arc<Shared>>,
    entries: foldhash::HashMap<u128, CacheEntry>,
    /// Series the last successful scrape tracked whose entries were dropped because
    /// the arguments changed; settled (by label set) at the end of the next scrape.
    carried: Vec<Labels>,
    key: Vec<u8>,
}

/// One cached series.
struct CacheEntry {
    labels: Labels,
    /// Seen in the scrape under way.
    seen: bool,
    /// Tracked for staleness by the last successful scrape.
    was_tracked: bool,
    /// Tracked for staleness by the scrape under way (a sample with an explicit
    /// timestamp is not, unless `track_timestamps_staleness`).
    tracked: bool,
}

impl SeriesCache {
    /// Starts a scrape with `shared`'s arguments.
    fn begin(&mut self, shared: &Arc<Shared>) {
        if !self
            .made_with
            .as_ref()
            .is_some_and(|m| Arc::ptr_eq(m, shared))
        {
            // New arguments may give other labels: rebuild the entries, but remember
            // what was tracked so disappearing series still get their markers.
            self.carried.extend(
                self.entries
                    .drain()
                    .filter(|(_, e)| e.was_tracked)
                    .map(|(_, e)| e.labels),
            );
            self.made_with = Some(shared.clone());
        }
    }

    /// Ends a successful scrape: pushes markers (at `ts`) for the series the last
    /// successful scrape tracked and this one does not, drops the entries it did not
    /// see, and returns how many series it tracked that the last one did not,
    /// given `added` counted against the entries.
    fn end(&mut self, out: &mut Vec<Sample>, ts: i64, added: usize) -> usize {
        let mut added = added;
        if !self.carried.is_empty() {
            // Only after an arguments change: compare by label set.
            let current: foldhash::HashSet<&Labels> = self
                .entries
                .values()
                .filter(|e| e.tracked)
                .map(|e| &e.labels)
                .collect();
            let carried: foldhash::HashSet<&Labels> = self.carried.iter().collect();
            added = current.iter().filter(|l| !carried.contains(*l)).count();
            for gone in carried.iter().filter(|l| !current.contains(*l)) {
                out.push(stale((*gone).clone(), ts));
            }
            self.carried.clear();
        }
        self.entries.retain(|_, e| {
            if e.was_tracked && !e.tracked {
                out.push(stale(e.labels.clone(), ts));
            }
            let keep = e.seen;
            e.was_tracked = e.tracked;
            e.tracked = false;
            e.seen = false;
            keep
        });
        added
    }

    /// Ends a failed scrape: pushes markers for everything the last successful
    /// scrape tracked, and forgets that (the entries' labels stay valid).
    fn fail(&mut self, out: &mut Vec<Sample>, ts: i64) {
        out.extend(self.carried.drain(..).map(|l| stale(l, ts)));
        for e in self.entries.values_mut() {
            if e.was_tracked {
                out.push(stale(e.labels.clone(), ts));
            }
            e.was_tracked = false;
            e.tracked = false;
            e.seen = false;
        }
    }

    /// Markers for everything the last successful scrape tracked (the loop stops).
    fn stop(&self, ts: i64) -> impl Iterator<Item = Sample> + '_ {
        self.carried
            .iter()
            .chain(
                self.entries
                    .values()
                    .filter(|e| e.was_tracked)
                    .map(|e| &e.labels),
            )
            .map(move |l| stale(l.clone(), ts))
    }
}

/// Scrapes `target` on its slots until cancelled. With clustering, a slot is scraped
/// only if this node owns the target at the slot's instant. That is the handoff rule:
/// a membership change takes effect at an instant announced with it (the changing
/// node's clock plus a margin, gossiped), so for every slot the node losing the target
/// and the node gaining it give the same answer: the loser scrapes each slot before
/// the instant, the gainer each slot from it on — no slot twice, none missed.
async fn scrape_loop(
    target: Target,
    current: Current,
    cluster: alloy_runtime::cluster::Cluster,
    cancel: CancellationToken,
    moved: Arc<AtomicBool>,
) {
    let mut memory = LoopMemory::default();
    // The slot last waited for; a scrape that overruns skips the slots it covered.
    let mut last: Option<u128> = None;
    loop {
        let now = now_ns();
        let after = last.map_or(now.saturating_sub(1), |l| l.max(now.saturating_sub(1)));
        let slot = next_slot(&target, after);
        last = Some(slot);
        let wait = Duration::from_nanos((slot.saturating_sub(now)) as u64);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
        let shared = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if shared.args.clustering
            && !cluster.is_local_key_at(target.ring_key, (slot / 1_000_000) as u64)
        {
            continue;
        }
        let start_ms = now_ms();
        let started = std::time::Instant::now();
        let result = tokio::select! {
            _ = cancel.cancelled() => break,
            r = fetch(&target, &shared, memory.body_len) => r,
        };
        let duration = started.elapsed();
        let batch = match result.and_then(|(body, content_type)| {
            memory.body_len = body.len();
            memory.cache.begin(&shared);
            samples_of(
                &target,
                &shared.args,
                &mut memory.cache,
                &body,
                content_type.as_deref(),
                start_ms,
            )
        }) {
            Ok(scraped) => scrape_batch(
                &target,
                &shared.args,
                &mut memory,
                scraped,
                start_ms,
                duration,
            ),
            Err(err) => {
                tracing::debug!(url = %target.url, %err, "scrape failed");
                failed_batch(&target, &shared.args, &mut memory, start_ms, duration)
            }
        };
        fan_out(&shared.args.forward_to, &batch);
        shared
            .samples_out
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
    }
    // The target went away: its series end now — unless another node took it over.
    if moved.load(Ordering::Relaxed) {
        return;
    }
    let shared = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let ts = now_ms();
    let markers: Vec<Sample> = memory
        .cache
        .stop(ts)
        .chain(memory.report.iter().map(|labels| stale(labels.clone(), ts)))
        .collect();
    if !markers.is_empty() {
        fan_out(&shared.args.forward_to, &Batch::from(markers));
    }
}

fn stale(labels: Labels, timestamp_ms: i64) -> Sample {
    Sample {
        labels,
        timestamp_ms,
        value: f64::from_bits(STALE_NAN_BITS),
    }
}

/// One HTTP scrape: the body (decompressed, within `body_size_limit`) and its type.
async fn fetch(
    target: &Target,
    shared: &Shared,
    size_hint: usize,
) -> Result<(Vec<u8>, Option<String>), String> {
    let args = &shared.args;
    let req = shared
        .client
        .get(&target.url)
        .timeout(target.timeout)
        .header(reqwest::header::ACCEPT, &args.accept)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", target.timeout.as_secs_f64()),
        )
        .header(
            reqwest::header::USER_AGENT,
            concat!("Alloy/v", env!("CARGO_PKG_VERSION"), " (ferroalloy)"),
        );
    let req = if args.enable_compression {
        req
    } else {
        req.header(reqwest::header::ACCEPT_ENCODING, "identity")
    };
    let (mut resp, content_type) = args.client.send_ok(req).await?;
    let mut body = Vec::with_capacity(size_hint);
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if args.body_size_limit > 0 && body.len() as u64 > args.body_size_limit {
            return Err(format!(
                "body size limit exceeded ({} bytes)",
                args.body_size_limit
            ));
        }
    }
    Ok((body, content_type))
}

/// The samples of one scrape with the target's labels applied.
struct Scraped {
    samples: Vec<Sample>,
    /// Tracked series the last successful scrape did not track, as far as the cache
    /// entries tell (see [`SeriesCache::end`]).
    added: usize,
}

/// Parses a body and applies the target labels, honor_* and the limits.
fn samples_of(
    target: &Target,
    args: &ScrapeArgs,
    cache: &mut SeriesCache,
    body: &[u8],
    content_type: Option<&str>,
    start_ms: i64,
) -> Result<Scraped, String> {
    let selected = select_format(content_type.unwrap_or(""), args.fallback)?;
    if let Some(warning) = &selected.warning {
        tracing::debug!(url = %target.url, "{warning}");
    }
    let mut out = Vec::new();
    let mut added = 0usize;
    let mut pairs: Vec<(Arc<str>, Arc<str>)> = Vec::new();
    // Prometheus's scrape parser accepts a late `# TYPE` line; only its other text
    // parser refuses it, so scrapes do not check.
    let opts = ParserOptions {
        strict_type_lines: false,
        ..ParserOptions::default()
    };
    for entry in Parser::with_options(body, selected.format, opts) {
        let Entry::Sample(sample) = entry.map_err(|e| e.to_string())? else {
            continue;
        };
        cache.key.clear();
        cache.key.extend_from_slice(sample.name.as_bytes());
        cache.key.push(0xFF);
        cache.key.extend_from_slice(sample.labels.raw().as_bytes());
        let (timestamp_ms, explicit) = match sample.timestamp_ms {
            Some(ts) if args.honor_timestamps => (ts, true),
            _ => (start_ms, false),
        };
        let track = !explicit || args.track_timestamps_staleness;
        let key = xxhash_rust::xxh3::xxh3_128(&cache.key);
        let labels = match cache.entries.get_mut(&key) {
            Some(entry) => {
                entry.seen = true;
                if track {
                    added += usize::from(!entry.was_tracked && !entry.tracked);
                    entry.tracked = true;
                }
                entry.labels.clone()
            }
            None => {
                pairs.clear();
                pairs.push((intern("__name__"), intern(&sample.name)));
                for (name, value) in sample.labels.iter() {
                    pairs.push((intern(&name), intern(&value)));
                }
                let labels = merge_labels(&pairs, &target.labels, args.honor_labels);
                check_label_limits(&labels, args)?;
                added += usize::from(track);
                cache.entries.insert(
                    key,
                    CacheEntry {
                        labels: labels.clone(),
                        seen: true,
                        was_tracked: false,
                        tracked: track,
                    },
                );
                labels
            }
        };
        out.push(Sample {
            labels,
            value: sample.value,
            timestamp_ms,
        });
        if args.sample_limit > 0 && out.len() as u64 > args.sample_limit {
            return Err(format!(
                "sample limit exceeded: more than {} samples",
                args.sample_limit
            ));
        }
    }
    Ok(Scraped {
        samples: out,
        added,
    })
}

/// Attaches target labels to scraped ones (Prometheus `mutateSampleLabels`): with
/// `honor_labels` scraped values win; otherwise target labels win and a clashing
/// scraped label is kept as `exported_<name>` (prefixed again while that is taken).
fn merge_labels(scraped: &[(Arc<str>, Arc<str>)], target: &Labels, honor: bool) -> Labels {
    // The strings are shared (interned or the target's own), so this copies none.
    let mut map: BTreeMap<Arc<str>, Arc<str>> = scraped.iter().cloned().collect();
    let mut exported: Vec<(Arc<str>, Arc<str>)> = Vec::new();
    for l in target.iter() {
        match map.get(&*l.name) {
            Some(_) if honor => {}
            Some(existing) => {
                if !existing.is_empty() {
                    exported.push((l.name.clone(), existing.clone()));
                }
                map.insert(l.name.clone(), l.value.clone());
            }
            None => {
                map.insert(l.name.clone(), l.value.clone());
            }
        }
    }
    for (name, value) in exported {
        let mut name = format!("exported_{name}");
        while map.contains_key(name.as_str()) {
            name = format!("exported_{name}");
        }
        map.insert(intern(&name), value);
    }
    Labels::from_sorted(
        map.into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| Label { name, value })
            .collect(),
    )
}

fn check_label_limits(labels: &Labels, args: &ScrapeArgs) -> Result<(), String> {
    if args.label_limit > 0 && labels.len() as u64 > args.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {labels:?}, number of labels: {}, limit: {})",
            labels.len(),
            args.label_limit
        ));
    }
    for l in labels.iter() {
        if args.label_name_length_limit > 0 && l.name.len() as u64 > args.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {labels:?}, label name: {}, length: {}, limit: {})",
                l.name,
                l.name.len(),
                args.label_name_length_limit
            ));
        }
        if args.label_value_length_limit > 0 && l.value.len() as u64 > args.label_value_length_limit
        {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {labels:?}, label name: {}, value: {:?}, length: {}, limit: {})",
                l.name,
                l.value,
                l.value.len(),
                args.label_value_length_limit
            ));
        }
    }
    Ok(())
}

/// The report series (§5.4) for one scrape.
fn report(
    target: &Target,
    args: &ScrapeArgs,
    memory: &mut LoopMemory,
    ts: i64,
    values: &[(&str, f64)],
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(values.len());
    for (name, value) in values {
        // A loop's target never changes, so each report series is built once.
        let labels = match memory
            .report
            .iter()
            .find(|l| l.get("__name__") == Some(*name))
        {
            Some(labels) => labels.clone(),
            None => {
                let labels = Labels::from_pairs(
                    target
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .chain(std::iter::once((intern("__name__"), intern(name)))),
                );
                memory.report.push(labels.clone());
                labels
            }
        };
        out.push(Sample {
            labels,
            timestamp_ms: ts,
            value: *value,
        });
    }
    let _ = args;
    out
}

fn scrape_batch(
    target: &Target,
    args: &ScrapeArgs,
    memory: &mut LoopMemory,
    scraped: Scraped,
    start_ms: i64,
    duration: Duration,
) -> Batch {
    let mut out = scraped.samples;
    let scraped_count = out.len();
    out.reserve(8);
    // Series that were there last time and are gone now end at this scrape.
    let added = memory.cache.end(&mut out, start_ms, scraped.added);
    let mut values = vec![
        ("up", 1.0),
        ("scrape_duration_seconds", duration.as_secs_f64()),
        ("scrape_samples_scraped", scraped_count as f64),
        (
            "scrape_samples_post_metric_relabeling",
            scraped_count as f64,
        ),
        ("scrape_series_added", added as f64),
    ];
    if args.extra_metrics {
        values.push(("scrape_timeout_seconds", target.timeout.as_secs_f64()));
        values.push(("scrape_sample_limit", args.sample_limit as f64));
        values.push(("scrape_body_size_bytes", 0.0));
    }
    out.extend(report(target, args, memory, start_ms, &values));
    out.into()
}

/// A failed scrape: markers for everything the last scrape had, and `up = 0`.
fn failed_batch(
    target: &Target,
    args: &ScrapeArgs,
    memory: &mut LoopMemory,
    start_ms: i64,
    duration: Duration,
) -> Batch {
    let mut out: Vec<Sample> = Vec::new();
    memory.cache.fail(&mut out, start_ms);
    let values = [
        ("up", 0.0),
        ("scrape_duration_seconds", duration.as_secs_f64()),
        ("scrape_samples_scraped", 0.0),
        ("scrape_samples_post_metric_relabeling", 0.0),
        ("scrape_series_added", 0.0),
    ];
    out.extend(report(target, args, memory, start_ms, &values));
    out.into()
}
