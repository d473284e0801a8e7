//! `prometheus.remote_write` (COMPONENTS.md §6): accepts samples into a write-ahead
//! log and sends them to every `endpoint` with the remote-write 1.0 protocol.
//!
//! Data path: `receiver` → [`Wal::append`] (one `write(2)`, then the call returns; the
//! network never blocks it) → one queue task per endpoint tails the WAL from that
//! endpoint's delivered position → shards (a series always goes to the same shard, so
//! its samples stay in order) → HTTP with retries.
//!
//! Delivered positions: every WAL record read by an endpoint is registered with the
//! number of its samples handed to shards. Shards report what they sent (or dropped
//! for good); the position moves past a record only when all its samples are done,
//! records in WAL order. After each send that moves it, the position is stored under
//! `<wal>/positions/<endpoint>.json` (temporary file + rename). A restart, clean or
//! not, resumes each endpoint there: samples accepted before a crash are sent once the
//! endpoint is reachable, and in the normal case none twice (a crash can repeat the
//! part of a record that some shards had sent). A new endpoint starts at the WAL head,
//! as upstream's queues start at "now"; one whose position file is unreadable starts
//! at the oldest segment (duplicates rather than loss).
//!
//! Shards: the count starts at `min_shards` and is recomputed every
//! [`RESHARD_INTERVAL`] from EWMAs (weight [`EWMA_WEIGHT`]) of the incoming sample
//! rate and the send time per sample: enough shards to send what comes in plus a
//! fifth of the backlog per interval, clamped to `[min_shards, max_shards]`, changed
//! only when off by more than 30 % and while sends succeed. Changing the count drains
//! the shards first so no series is ever in two shards at once.

use crate::alloy_seed;
use crate::http_client::HttpClientArgs;
use crate::prometheus::relabel;
use crate::prometheus::remote::{self, Outcome, Target};
use crate::prometheus::wal::{self, Entry, Position, Wal, WalOptions};
use crate::prometheus::{Batch, Labels, MetricsReceiver, Receiver};
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
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------
// Arguments

static QUEUE_CONFIG: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("capacity", Ty::Int),
        attr!("min_shards", Ty::Int),
        attr!("max_shards", Ty::Int),
        attr!("max_samples_per_send", Ty::Int),
        attr!("batch_send_deadline", Ty::Duration),
        attr!("min_backoff", Ty::Duration),
        attr!("max_backoff", Ty::Duration),
        attr!("retry_on_http_429", Ty::Bool),
        attr!("sample_age_limit", Ty::Duration),
    ],
    blocks: &[],
    free_form: false,
};

static METADATA_CONFIG: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("send", Ty::Bool),
        attr!("send_interval", Ty::Duration),
        attr!("max_samples_per_send", Ty::Int),
    ],
    blocks: &[],
    free_form: false,
};

static WAL_BLOCK: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &[
        attr!("truncate_frequency", Ty::Duration),
        attr!("min_keepalive_time", Ty::Duration),
        attr!("max_keepalive_time", Ty::Duration),
    ],
    blocks: &[],
    free_form: false,
};

const ENDPOINT_OWN_ATTRS: [Attr; 8] = [
    attr!("url", Ty::String, required),
    attr!("name", Ty::String),
    attr!("remote_timeout", Ty::Duration),
    attr!("headers", Ty::Map(&Ty::String)),
    attr!("send_exemplars", Ty::Bool),
    attr!("send_native_histograms", Ty::Bool),
    attr!("protobuf_message", Ty::String),
    attr!("round_robin_dns", Ty::Bool),
];

const ENDPOINT_OWN_BLOCKS: [BlockSpec; 3] = [
    BlockSpec {
        name: "queue_config",
        schema: &QUEUE_CONFIG,
        required: false,
        repeat: Repeat::Once,
    },
    BlockSpec {
        name: "metadata_config",
        schema: &METADATA_CONFIG,
        required: false,
        repeat: Repeat::Once,
    },
    BlockSpec {
        name: "write_relabel_config",
        schema: &relabel::RULE_SCHEMA,
        required: false,
        repeat: Repeat::Many,
    },
];

static ENDPOINT: Schema = Schema {
    label: LabelRule::Forbidden,
    attrs: &concat::<Attr, { ENDPOINT_OWN_ATTRS.len() + HTTP_CLIENT_ATTRS.len() }>(
        &ENDPOINT_OWN_ATTRS,
        &HTTP_CLIENT_ATTRS,
    ),
    blocks: &concat::<BlockSpec, { ENDPOINT_OWN_BLOCKS.len() + HTTP_CLIENT_BLOCK_SPECS.len() }>(
        &ENDPOINT_OWN_BLOCKS,
        &HTTP_CLIENT_BLOCK_SPECS,
    ),
    free_form: false,
};

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[attr!("external_labels", Ty::Map(&Ty::String))],
    blocks: &[
        BlockSpec {
            name: "endpoint",
            schema: &ENDPOINT,
            required: false,
            repeat: Repeat::Many,
        },
        BlockSpec {
            name: "wal",
            schema: &WAL_BLOCK,
            required: false,
            repeat: Repeat::Once,
        },
    ],
    free_form: false,
};

/// Arguments of `prometheus.remote_write`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteWriteArgs {
    /// Labels added to every series sent, unless the series has that label already.
    pub external_labels: BTreeMap<String, String>,
    /// Where to send; none means samples are only kept in the WAL.
    pub endpoints: Vec<EndpointArgs>,
    pub wal: WalArgs,
}

/// One `endpoint` block.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointArgs {
    /// The remote-write URL.
    pub url: String,
    /// Names the endpoint's queue and its delivered position; defaults to a hash of
    /// the endpoint's settings, so changing them starts a new queue at the WAL head.
    pub name: String,
    /// Timeout of one request.
    pub remote_timeout: GoDuration,
    /// Extra request headers (reserved protocol headers are refused).
    pub headers: BTreeMap<String, String>,
    /// Accepted; ferroalloy's samples carry no exemplars yet.
    pub send_exemplars: bool,
    /// Accepted; ferroalloy's samples carry no native histograms yet.
    pub send_native_histograms: bool,
    /// Accepted and ignored: requests use the system resolver's first address.
    pub round_robin_dns: bool,
    /// The shared HTTP client settings (`enable_http2` defaults to false here).
    pub client: HttpClientArgs,
    pub queue: QueueConfig,
    pub metadata: MetadataConfig,
    /// `write_relabel_config` rules, applied after external labels.
    pub write_relabel: Vec<relabel::Rule>,
}

/// `queue_config`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Samples buffered per shard.
    pub capacity: usize,
    pub min_shards: usize,
    pub max_shards: usize,
    /// A shard sends when it has this many samples...
    pub max_samples_per_send: usize,
    /// ...or this long after its last send.
    pub batch_send_deadline: GoDuration,
    /// First retry delay, doubled up to `max_backoff`.
    pub min_backoff: GoDuration,
    pub max_backoff: GoDuration,
    /// Whether 429 responses are retried (otherwise dropped like other 4xx).
    pub retry_on_http_429: bool,
    /// Samples older than this are dropped instead of sent or retried; 0 disables.
    pub sample_age_limit: GoDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            min_shards: 1,
            max_shards: 50,
            max_samples_per_send: 2000,
            batch_send_deadline: GoDuration::from_secs(5),
            min_backoff: GoDuration::from_millis(30),
            max_backoff: GoDuration::from_secs(5),
            retry_on_http_429: true,
            sample_age_limit: GoDuration::from_secs(0),
        }
    }
}

/// `metadata_config`: accepted; v1 metadata is not sent (COMPONENTS.md §6.4 allows it).
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataConfig {
    pub send: bool,
    pub send_interval: GoDuration,
    pub max_samples_per_send: usize,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: GoDuration::from_secs(60),
            max_samples_per_send: 2000,
        }
    }
}

/// The `wal` block.
#[derive(Debug, Clone, PartialEq)]
pub struct WalArgs {
    /// How often delivered segments are deleted.
    pub truncate_frequency: GoDuration,
    /// A delivered segment is kept at least this long after its last write.
    pub min_keepalive_time: GoDuration,
    /// A segment older than this is deleted even if not delivered.
    pub max_keepalive_time: GoDuration,
}

impl Default for WalArgs {
    fn default() -> Self {
        WalArgs {
            truncate_frequency: GoDuration::from_secs(2 * 3600),
            min_keepalive_time: GoDuration::from_secs(5 * 60),
            max_keepalive_time: GoDuration::from_secs(8 * 3600),
        }
    }
}

fn count(d: &Decoder, name: &str, default: usize, min: i64) -> Result<usize, Diagnostic> {
    let v: i64 = d.attr_or(name, default as i64)?;
    if v < min {
        return Err(d.error(d.span_of(name), format!("{name} must be at least {min}")));
    }
    Ok(v as usize)
}

impl QueueConfig {
    fn decode(d: Option<Decoder>) -> Result<QueueConfig, Diagnostic> {
        let def = QueueConfig::default();
        let Some(d) = d else {
            return Ok(def);
        };
        let q = QueueConfig {
            capacity: count(&d, "capacity", def.capacity, 1)?,
            min_shards: count(&d, "min_shards", def.min_shards, 1)?,
            max_shards: count(&d, "max_shards", def.max_shards, 1)?,
            max_samples_per_send: count(&d, "max_samples_per_send", def.max_samples_per_send, 1)?,
            batch_send_deadline: d
                .positive_duration("batch_send_deadline", def.batch_send_deadline)?,
            min_backoff: d.positive_duration("min_backoff", def.min_backoff)?,
            max_backoff: d.positive_duration("max_backoff", def.max_backoff)?,
            retry_on_http_429: d.attr_or("retry_on_http_429", def.retry_on_http_429)?,
            sample_age_limit: d.attr_or("sample_age_limit", def.sample_age_limit)?,
        };
        if q.max_shards < q.min_shards {
            return Err(d.error(
                d.span_of("max_shards"),
                "max_shards must not be less than min_shards",
            ));
        }
        if q.max_backoff < q.min_backoff {
            return Err(d.error(
                d.span_of("max_backoff"),
                "max_backoff must not be less than min_backoff",
            ));
        }
        Ok(q)
    }
}

impl EndpointArgs {
    fn decode(d: &Decoder) -> Result<EndpointArgs, Diagnostic> {
        let url: String = d.required("url")?;
        if reqwest::Url::parse(&url).is_err() {
            return Err(d.error(d.span_of("url"), format!("invalid URL {url:?}")));
        }
        let protobuf: String = d.attr_or("protobuf_message", remote::PROTOBUF_V1.to_string())?;
        match protobuf.as_str() {
            remote::PROTOBUF_V1 => {}
            remote::PROTOBUF_V2 => {
                return Err(d.error(
                    d.span_of("protobuf_message"),
                    format!("protobuf_message {protobuf:?} (remote write 2.0) is not supported by ferroalloy yet; use {:?}", remote::PROTOBUF_V1),
                ))
            }
            other => {
                return Err(d.error(
                    d.span_of("protobuf_message"),
                    format!(
                        "unknown protobuf_message {other:?}, must be {:?} or {:?}",
                        remote::PROTOBUF_V1,
                        remote::PROTOBUF_V2
                    ),
                ))
            }
        }
        let headers: BTreeMap<String, String> = d.attr_or("headers", BTreeMap::new())?;
        for name in headers.keys() {
            if remote::RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(d.error(
                    d.span_of("headers"),
                    format!("{name} is a reserved header. It must not be changed"),
                ));
            }
        }
        let mut client = HttpClientArgs::decode(Some(*d))?;
        // Remote write differs from the shared default (COMPONENTS.md §6.1).
        client.enable_http2 = d.attr_or("enable_http2", false)?;
        let mut ep = EndpointArgs {
            url,
            name: String::new(),
            remote_timeout: d.positive_duration("remote_timeout", GoDuration::from_secs(30))?,
            headers,
            send_exemplars: d.attr_or("send_exemplars", true)?,
            send_native_histograms: d.attr_or("send_native_histograms", false)?,
            round_robin_dns: d.attr_or("round_robin_dns", false)?,
            client,
            queue: QueueConfig::decode(d.block("queue_config"))?,
            metadata: match d.block("metadata_config") {
                None => MetadataConfig::default(),
                Some(m) => {
                    let def = MetadataConfig::default();
                    MetadataConfig {
                        send: m.attr_or("send", def.send)?,
                        send_interval: m.attr_or("send_interval", def.send_interval)?,
                        max_samples_per_send: count(
                            &m,
                            "max_samples_per_send",
                            def.max_samples_per_send,
                            1,
                        )?,
                    }
                }
            },
            write_relabel: relabel::decode_rules(d, "write_relabel_config")?,
        };
        ep.name = match d.attr::<String>("name")? {
            Some(name) if !name.is_empty() => name,
            // Secrets print as `(secret)`, so they never reach the hash input.
            _ => format!("{:08x}", crc32fast::hash(format!("{ep:?}").as_bytes())),
        };
        Ok(ep)
    }
}

impl Arguments for RemoteWriteArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        let endpoints: Vec<EndpointArgs> = d
            .blocks("endpoint")
            .map(|e| EndpointArgs::decode(&e))
            .collect::<Result<_, _>>()?;
        let mut names = HashSet::new();
        for ep in &endpoints {
            if !names.insert(ep.name.as_str()) {
                return Err(d.error(
                    d.span_of("endpoint"),
                    format!("duplicate endpoint name {:?}", ep.name),
                ));
            }
        }
        let wal = match d.block("wal") {
            None => WalArgs::default(),
            Some(w) => {
                let def = WalArgs::default();
                let wal = WalArgs {
                    truncate_frequency: w
                        .positive_duration("truncate_frequency", def.truncate_frequency)?,
                    min_keepalive_time: w.attr_or("min_keepalive_time", def.min_keepalive_time)?,
                    max_keepalive_time: w.attr_or("max_keepalive_time", def.max_keepalive_time)?,
                };
                if wal.max_keepalive_time < wal.min_keepalive_time {
                    return Err(w.error(
                        w.span_of("max_keepalive_time"),
                        "max_keepalive_time must not be less than min_keepalive_time",
                    ));
                }
                wal
            }
        };
        Ok(RemoteWriteArgs {
            external_labels: d.attr_or("external_labels", BTreeMap::new())?,
            endpoints,
            wal,
        })
    }
}

/// The `write_relabel_config` rules applied to a series (after external labels):
/// its labels, or `None` when a rule drops it.
pub fn apply_write_relabel(rules: &[relabel::Rule], labels: Labels) -> Option<Labels> {
    if rules.is_empty() {
        return Some(labels);
    }
    relabel::process_labels(&labels, rules)
}

/// `labels` plus the external labels it does not have.
fn with_external(labels: &Labels, external: &BTreeMap<String, String>) -> Labels {
    if external.is_empty() {
        return labels.clone();
    }
    // `from_pairs` keeps the last of repeated names: the series' own labels win.
    Labels::from_pairs(
        external
            .iter()
            .map(|(k, v)| (Arc::<str>::from(k.as_str()), Arc::<str>::from(v.as_str())))
            .chain(labels.iter().map(|l| (l.name.clone(), l.value.clone()))),
    )
}

// ---------------------------------------------------------------------------------
// Statistics

/// Counters over all endpoints, for tests and (later) `prometheus_remote_storage_*`.
#[derive(Debug, Default)]
pub struct SendStats {
    /// Samples accepted by an endpoint (2xx).
    pub samples_sent: AtomicU64,
    /// Samples refused for good (4xx other than a retried 429) and dropped.
    pub samples_failed: AtomicU64,
    /// Samples in requests that were retried (counted once per retry).
    pub samples_retried: AtomicU64,
    /// Samples dropped because they were older than `sample_age_limit`.
    pub samples_dropped_too_old: AtomicU64,
    /// Samples appended after the component stopped, and so not accepted.
    pub samples_rejected: AtomicU64,
}

/// What `/metrics` shows of a `prometheus.remote_write`: the send counters under
/// Prometheus' `prometheus_remote_storage_*` names, and the WAL's size on disk.
struct RemoteWriteMetrics {
    stats: Arc<SendStats>,
    wal: Arc<Wal>,
}

impl MetricSource for RemoteWriteMetrics {
    fn collect(&self, out: &mut Vec<SourceSample>) {
        let counter = |name, help, value: &AtomicU64| SourceSample {
            name,
            help,
            kind: SampleKind::Counter,
            labels: Vec::new(),
            value: value.load(Ordering::Relaxed) as f64,
        };
        let s = &self.stats;
        out.push(counter(
            "prometheus_remote_storage_samples",
            "Total number of samples sent to remote storage",
            &s.samples_sent,
        ));
        out.push(counter(
            "prometheus_remote_storage_samples_failed",
            "Total number of samples which failed on send to remote storage, non-recoverable errors",
            &s.samples_failed,
        ));
        out.push(counter(
            "prometheus_remote_storage_samples_retried",
            "Total number of samples which failed on send to remote storage but were retried",
            &s.samples_retried,
        ));
        out.push(counter(
            "prometheus_remote_storage_samples_dropped_too_old",
            "Samples dropped because they were older than sample_age_limit",
            &s.samples_dropped_too_old,
        ));
        // Summed at scrape time: a directory listing per scrape is cheaper than
        // keeping a running total in the append path.
        let bytes: u64 = std::fs::read_dir(self.wal.dir())
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        out.push(SourceSample {
            name: "prometheus_remote_write_wal_size_bytes",
            help: "Bytes the write-ahead log takes on disk",
            kind: SampleKind::Gauge,
            labels: Vec::new(),
            value: bytes as f64,
        });
    }
}

// ---------------------------------------------------------------------------------
// The component

/// How often shard counts are recomputed (upstream's `shardUpdateDuration`).
pub const RESHARD_INTERVAL: Duration = Duration::from_secs(10);
/// EWMA weight per interval (Prometheus' `ewmaWeight`).
pub const EWMA_WEIGHT: f64 = 0.2;
/// The share of the backlog to catch up on per interval (Prometheus' `integralGain`).
const BACKLOG_GAIN: f64 = 0.2;
/// A new shard count must differ this much (relatively) to be applied, so the count
/// does not flap around a boundary.
const RESHARD_TOLERANCE: f64 = 0.3;
/// How long a request in flight may still finish after cancellation.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// WAL entries read per blocking read, to bound the memory one read holds.
const READ_CHUNK: usize = 1000;
/// How often a position moved only by records with nothing to send is stored.
const POSITION_STORE_INTERVAL: Duration = Duration::from_secs(1);

/// The running component.
pub struct PrometheusRemoteWrite {
    wal: Arc<Wal>,
    receiver: Arc<WalReceiver>,
    seed: String,
    state: Mutex<State>,
    reconfigured: Notify,
    pub stats: Arc<SendStats>,
    /// Kept alive for as long as the component: `/metrics` holds only a weak link.
    _metrics: Arc<dyn MetricSource>,
}

struct State {
    args: RemoteWriteArgs,
    clients: Vec<reqwest::Client>,
}

/// The `receiver` export: appends to the WAL and wakes the queues (through the WAL's
/// head watch).
struct WalReceiver {
    wal: Arc<Wal>,
    closed: AtomicBool,
    stats: Arc<SendStats>,
}

impl MetricsReceiver for WalReceiver {
    fn receive(&self, batch: &Batch) {
        if self.closed.load(Ordering::Acquire) {
            self.stats
                .samples_rejected
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            return;
        }
        if let Err(err) = self.wal.append(batch) {
            tracing::error!(error = %err, samples = batch.len(), "Failed to append samples to the WAL; they are lost.");
        }
    }
}

fn positions_dir(wal: &Wal) -> PathBuf {
    wal.dir().join("positions")
}

/// The position file of an endpoint; the name is made safe for a file name.
fn position_path(wal: &Wal, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    positions_dir(wal).join(format!("{safe}.json"))
}

/// Creates position files (at the WAL head) for new endpoints and removes those of
/// endpoints no longer configured, so they pin no segments.
fn init_positions(wal: &Wal, endpoints: &[EndpointArgs]) -> Result<(), String> {
    let dir = positions_dir(wal);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let wanted: HashSet<PathBuf> = endpoints
        .iter()
        .map(|ep| position_path(wal, &ep.name))
        .collect();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if !wanted.contains(&entry.path()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    for path in &wanted {
        if !path.exists() {
            wal::store_position(path, wal.head())
                .map_err(|e| format!("storing {}: {e}", path.display()))?;
        }
    }
    wal.retain_endpoints(&endpoints.iter().map(|e| e.name.clone()).collect());
    Ok(())
}

/// Checks what decoding cannot: every endpoint's client builds.
fn prepare(args: &RemoteWriteArgs) -> Result<Vec<reqwest::Client>, String> {
    args.endpoints.iter().map(|ep| ep.client.build()).collect()
}

impl PrometheusRemoteWrite {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Builds the component with WAL settings other than the defaults (tests).
    pub fn build_with(
        opts: Options,
        args: RemoteWriteArgs,
        wal_opts: WalOptions,
    ) -> Result<Self, String> {
        let clients = prepare(&args)?;
        let wal = Wal::open(&opts.data_path.join("wal"), wal_opts)
            .map_err(|e| format!("opening the WAL: {e}"))?;
        let wal = Arc::new(wal);
        init_positions(&wal, &args.endpoints)?;
        let storage = alloy_seed::storage_path_of(&opts.data_path, &opts.id);
        let (seed, err) = alloy_seed::get_or_create(&storage);
        if let Some(err) = err {
            tracing::warn!(error = %err, "Failed to store the instance seed; using a fresh one for this run.");
        }
        let stats = Arc::new(SendStats::default());
        let receiver = Arc::new(WalReceiver {
            wal: wal.clone(),
            closed: AtomicBool::new(false),
            stats: stats.clone(),
        });
        // Published once and never changed: dependants are not re-evaluated when the
        // endpoints change.
        let capsule = Receiver(receiver.clone()).to_value();
        (opts.exports)(Value::object(BTreeMap::from([(
            "receiver".to_string(),
            capsule,
        )])));
        let metrics: Arc<dyn MetricSource> = Arc::new(RemoteWriteMetrics {
            stats: stats.clone(),
            wal: wal.clone(),
        });
        opts.services
            .metrics
            .add_source(component_labels(&opts.id), Arc::downgrade(&metrics));
        Ok(PrometheusRemoteWrite {
            wal,
            receiver,
            seed,
            state: Mutex::new(State { args, clients }),
            reconfigured: Notify::new(),
            stats,
            _metrics: metrics,
        })
    }

    /// The WAL, for tests and diagnostics.
    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }
}

impl Component for PrometheusRemoteWrite {
    type Arguments = RemoteWriteArgs;

    fn build(opts: Options, args: RemoteWriteArgs) -> Result<Self, String> {
        PrometheusRemoteWrite::build_with(opts, args, WalOptions::default())
    }

    fn update(&self, args: RemoteWriteArgs) -> Result<(), String> {
        let clients = prepare(&args)?;
        init_positions(&self.wal, &args.endpoints)?;
        {
            let mut state = self.lock();
            state.args = args;
            state.clients = clients;
        }
        // The queues restart from their stored positions with the new settings.
        self.reconfigured.notify_one();
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            let result = self.run_loop(&cancel).await;
            // Appends after the component has exited fail (COMPONENTS.md §6.1).
            self.receiver.closed.store(true, Ordering::Release);
            result
        })
    }

    fn health(&self) -> Option<Health> {
        // Once the queues have stopped, say so: a successor on the same data path
        // may start without racing this one.
        if self.receiver.closed.load(Ordering::Acquire) {
            return Some(Health::new(HealthState::Exited, "stopped"));
        }
        Some(Health::new(HealthState::Healthy, "started"))
    }
}

impl PrometheusRemoteWrite {
    async fn run_loop(self: &Arc<Self>, cancel: &CancellationToken) -> Result<(), String> {
        loop {
            let (args, clients) = {
                let state = self.lock();
                (state.args.clone(), state.clients.clone())
            };
            let queues = cancel.child_token();
            let mut tasks = JoinSet::new();
            let external = Arc::new(args.external_labels.clone());
            for (ep, client) in args.endpoints.iter().zip(clients) {
                let queue = Queue {
                    target: Arc::new(Target {
                        client,
                        url: ep.url.clone(),
                        timeout: ep.remote_timeout.to_std(),
                        headers: ep
                            .headers
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .chain([
                                ("X-Alloy-Id".to_string(), self.seed.clone()),
                                ("X-Agent-Id".to_string(), self.seed.clone()),
                            ])
                            .collect(),
                        auth: ep.client.clone(),
                        retry_on_429: ep.queue.retry_on_http_429,
                    }),
                    ep: ep.clone(),
                    external: external.clone(),
                    wal: self.wal.clone(),
                    stats: self.stats.clone(),
                };
                tasks.spawn(queue.run(queues.clone()));
            }
            let mut fsync = tokio::time::interval(wal::FSYNC_INTERVAL);
            let mut truncate = tokio::time::interval(args.wal.truncate_frequency.to_std());
            fsync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            truncate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first ticks fire at once; nothing is due yet.
            fsync.tick().await;
            truncate.tick().await;
            let restart = loop {
                tokio::select! {
                    _ = cancel.cancelled() => break false,
                    _ = self.reconfigured.notified() => break true,
                    _ = fsync.tick() => {
                        let wal = self.wal.clone();
                        if let Ok(Err(err)) = tokio::task::spawn_blocking(move || wal.sync()).await {
                            tracing::error!(error = %err, "Failed to fsync the WAL.");
                        }
                    }
                    _ = truncate.tick() => {
                        let wal = self.wal.clone();
                        let (min, max) = (args.wal.min_keepalive_time.to_std(), args.wal.max_keepalive_time.to_std());
                        let _ = tokio::task::spawn_blocking(move || wal.truncate(min, max)).await;
                    }
                    Some(done) = tasks.join_next() => {
                        if let Err(err) = done {
                            tracing::error!(error = %err, "A remote_write queue stopped unexpectedly.");
                        }
                    }
                }
            };
            // No flush: what was not delivered is still in the WAL, and positions
            // were stored after every send.
            queues.cancel();
            while tasks.join_next().await.is_some() {}
            if !restart {
                return Ok(());
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Queues and shards

/// One endpoint's queue: tails the WAL and feeds the shards.
struct Queue {
    ep: EndpointArgs,
    target: Arc<Target>,
    external: Arc<BTreeMap<String, String>>,
    wal: Arc<Wal>,
    stats: Arc<SendStats>,
}

/// One sample on its way to a shard.
struct Item {
    /// Which registered WAL record it belongs to.
    seq: u64,
    labels: Labels,
    timestamp_ms: i64,
    value: f64,
}

/// Tracks which WAL records are fully sent and stores the delivered position.
struct Tracker {
    inner: Mutex<TrackerInner>,
    path: PathBuf,
    name: String,
    wal: Arc<Wal>,
    idle: Notify,
}

struct TrackerInner {
    /// The sequence number of `pending[0]`.
    front_seq: u64,
    /// Registered records in WAL order: the position after each, and how many of
    /// its samples are not done yet.
    pending: VecDeque<(Position, usize)>,
    delivered: Position,
    /// Whether `delivered` moved since it was last stored.
    dirty: bool,
    /// Samples handed to shards and not done.
    in_flight: usize,
}

impl Tracker {
    fn new(start: Position, path: PathBuf, name: String, wal: Arc<Wal>) -> Tracker {
        Tracker {
            inner: Mutex::new(TrackerInner {
                front_seq: 0,
                pending: VecDeque::new(),
                delivered: start,
                dirty: false,
                in_flight: 0,
            }),
            path,
            name,
            wal,
            idle: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the next record, with `count` samples handed to shards; returns its
    /// sequence number.
    fn register(&self, end: Position, count: usize) -> u64 {
        let mut t = self.lock();
        let seq = t.front_seq + t.pending.len() as u64;
        t.pending.push_back((end, count));
        t.in_flight += count;
        t.advance();
        seq
    }

    /// Marks samples done (sent or dropped for good). The position is stored by the
    /// pump at most once per [`POSITION_STORE_INTERVAL`] (and as it stops), not after
    /// every send: a crash then resends at most that much, as upstream's does.
    fn complete(&self, done: &[(u64, usize)]) {
        let mut t = self.lock();
        for &(seq, n) in done {
            let Some(i) = seq.checked_sub(t.front_seq) else {
                continue;
            };
            if let Some(entry) = t.pending.get_mut(i as usize) {
                entry.1 = entry.1.saturating_sub(n);
            }
            t.in_flight = t.in_flight.saturating_sub(n);
        }
        t.advance();
        if t.in_flight == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Stores the position if it moved (under the lock, so stores never go back).
    fn store(&self, t: &mut TrackerInner) {
        if !t.dirty {
            return;
        }
        match wal::store_position(&self.path, t.delivered) {
            Ok(()) => {
                t.dirty = false;
                self.wal.set_delivered(&self.name, t.delivered);
            }
            Err(err) => {
                tracing::warn!(endpoint = %self.name, error = %err, "Failed to store the delivered position; will retry.");
            }
        }
    }

    fn store_if_dirty(&self) {
        let mut t = self.lock();
        self.store(&mut t);
    }

    fn in_flight(&self) -> usize {
        self.lock().in_flight
    }
}

impl TrackerInner {
    fn advance(&mut self) {
        while let Some(&(end, 0)) = self.pending.front() {
            self.pending.pop_front();
            self.front_seq += 1;
            self.delivered = end;
            self.dirty = true;
        }
    }
}

/// Per-endpoint rates for resharding.
#[derive(Default)]
struct Rates {
    samples_in: AtomicU64,
    samples_out: AtomicU64,
    send_nanos: AtomicU64,
    /// Set while some shard's last attempt failed: no resharding then.
    failing: AtomicU64,
}

/// What shards share.
struct ShardContext {
    target: Arc<Target>,
    queue: QueueConfig,
    tracker: Arc<Tracker>,
    stats: Arc<SendStats>,
    rates: Arc<Rates>,
    name: String,
}

/// The shard count the load calls for: enough single-request-at-a-time shards to
/// send the incoming rate plus [`BACKLOG_GAIN`] of the backlog per interval, kept at
/// `current` within [`RESHARD_TOLERANCE`], clamped to `[min, max]`.
pub fn desired_shards(
    in_rate: f64,
    secs_per_sample: f64,
    backlog: f64,
    current: usize,
    min: usize,
    max: usize,
) -> usize {
    let backlog_rate = backlog * BACKLOG_GAIN / RESHARD_INTERVAL.as_secs_f64();
    let wanted = (in_rate + backlog_rate) * secs_per_sample;
    if !wanted.is_finite() {
        return current.clamp(min, max);
    }
    let cur = current as f64;
    if (wanted - cur).abs() <= cur * RESHARD_TOLERANCE {
        return current.clamp(min, max);
    }
    (wanted.ceil() as usize).clamp(min, max)
}

/// An exponentially weighted moving average, updated once per interval.
#[derive(Default)]
struct Ewma {
    value: Option<f64>,
}

impl Ewma {
    fn update(&mut self, sample: f64) -> f64 {
        let v = match self.value {
            None => sample,
            Some(v) => v + EWMA_WEIGHT * (sample - v),
        };
        self.value = Some(v);
        v
    }
}

fn shard_of(series: &Labels, n: usize) -> usize {
    // The label set's own hash is computed once per series and well mixed.
    (series.hash_value() % n as u64) as usize
}

/// The shards of one queue. Samples travel to a shard in chunks (one per WAL record
/// and shard), so the channel costs per record, not per sample.
struct Shards {
    senders: Vec<mpsc::Sender<Vec<Item>>>,
    tasks: JoinSet<()>,
}

impl Shards {
    fn start(n: usize, ctx: &Arc<ShardContext>, cancel: &CancellationToken) -> Shards {
        let mut tasks = JoinSet::new();
        let senders = (0..n)
            .map(|_| {
                // `capacity` counts samples; a chunk holds up to a record's worth.
                let chunks = (ctx.queue.capacity / ctx.queue.max_samples_per_send).max(2);
                let (tx, rx) = mpsc::channel(chunks);
                tasks.spawn(run_shard(rx, ctx.clone(), cancel.clone()));
                tx
            })
            .collect();
        Shards { senders, tasks }
    }

    /// Closes the shards' inputs and waits until they stop: once they have sent what
    /// they hold or, when cancelled, once a request in flight is answered.
    async fn drain(&mut self) {
        self.senders.clear();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Queue {
    async fn run(self, cancel: CancellationToken) {
        let name = self.ep.name.clone();
        let path = position_path(&self.wal, &name);
        let head = self.wal.head();
        let start = match wal::load_position(&path) {
            // A position past the head belongs to a WAL that is gone.
            Ok(Some(p)) => p.min(head),
            Ok(None) => head,
            Err(err) => {
                let oldest = wal::list_segments(self.wal.dir())
                    .ok()
                    .and_then(|s| s.first().copied())
                    .unwrap_or(head.segment);
                tracing::warn!(endpoint = %name, error = %err, "Unreadable delivered position; resending from the oldest WAL segment.");
                Position {
                    segment: oldest,
                    offset: 0,
                }
            }
        };
        self.wal.set_delivered(&name, start);
        let tracker = Arc::new(Tracker::new(start, path, name.clone(), self.wal.clone()));
        let rates = Arc::new(Rates::default());
        let ctx = Arc::new(ShardContext {
            target: self.target.clone(),
            queue: self.ep.queue.clone(),
            tracker: tracker.clone(),
            stats: self.stats.clone(),
            rates: rates.clone(),
            name: name.clone(),
        });
        let mut shard_count = self.ep.queue.min_shards;
        let mut shards = Shards::start(shard_count, &ctx, &cancel);
        let mut reader = Some(self.wal.reader(start));
        let mut head_rx = self.wal.watch_head();
        // Final labels per WAL ref of the current segment (`None`: relabeled away).
        let mut labels_cache: foldhash::HashMap<Labels, Option<Labels>> = Default::default();
        // Without external labels and rules every series is sent as it is.
        let unchanged = self.ep.write_relabel.is_empty() && self.external.is_empty();
        let mut last_store = Instant::now();
        let mut last_reshard = Instant::now();
        let (mut in_ewma, mut cost_ewma) = (Ewma::default(), Ewma::default());
        let age_limit = self.ep.queue.sample_age_limit.to_std();

        'pump: loop {
            if cancel.is_cancelled() {
                break;
            }
            if last_store.elapsed() >= POSITION_STORE_INTERVAL {
                tracker.store_if_dirty();
                last_store = Instant::now();
            }
            if last_reshard.elapsed() >= RESHARD_INTERVAL {
                let secs = last_reshard.elapsed().as_secs_f64();
                last_reshard = Instant::now();
                let samples_in = rates.samples_in.swap(0, Ordering::Relaxed) as f64;
                let samples_out = rates.samples_out.swap(0, Ordering::Relaxed) as f64;
                let nanos = rates.send_nanos.swap(0, Ordering::Relaxed) as f64;
                let in_rate = in_ewma.update(samples_in / secs);
                let cost = if samples_out > 0.0 {
                    cost_ewma.update(nanos / 1e9 / samples_out)
                } else {
                    cost_ewma.value.unwrap_or(0.0)
                };
                let want = desired_shards(
                    in_rate,
                    cost,
                    tracker.in_flight() as f64,
                    shard_count,
                    self.ep.queue.min_shards,
                    self.ep.queue.max_shards,
                );
                if want != shard_count && rates.failing.load(Ordering::Relaxed) == 0 {
                    tracing::info!(endpoint = %name, from = shard_count, to = want, "Resharding.");
                    shards.drain().await;
                    if cancel.is_cancelled() {
                        break;
                    }
                    shard_count = want;
                    shards = Shards::start(shard_count, &ctx, &cancel);
                }
            }

            let head = *head_rx.borrow_and_update();
            let entries = match reader.take() {
                Some(mut r) if r.position() < head => {
                    let read = tokio::task::spawn_blocking(move || {
                        let entries = r.read(head, READ_CHUNK);
                        (r, entries)
                    })
                    .await;
                    match read {
                        Ok((r, entries)) => {
                            reader = Some(r);
                            entries
                        }
                        Err(err) => {
                            tracing::error!(endpoint = %name, error = %err, "The WAL reader failed; the queue stops.");
                            break;
                        }
                    }
                }
                r => {
                    reader = r;
                    Vec::new()
                }
            };
            if entries.is_empty() {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = head_rx.changed() => {}
                    _ = tokio::time::sleep(POSITION_STORE_INTERVAL) => {}
                }
                continue;
            }

            let mut last_segment = None;
            for entry in entries {
                match entry {
                    Entry::Nothing { end } => {
                        tracker.register(end, 0);
                    }
                    Entry::Samples { samples, end } => {
                        if last_segment != Some(end.segment) {
                            last_segment = Some(end.segment);
                            labels_cache.clear();
                        }
                        let cutoff = (age_limit > Duration::ZERO)
                            .then(|| now_ms() - age_limit.as_millis() as i64);
                        let mut items = Vec::with_capacity(samples.len());
                        let mut too_old = 0u64;
                        for (labels, s) in samples {
                            if cutoff.is_some_and(|c| s.timestamp_ms < c) {
                                too_old += 1;
                                continue;
                            }
                            if unchanged {
                                items.push(Item {
                                    seq: 0,
                                    labels,
                                    timestamp_ms: s.timestamp_ms,
                                    value: s.value,
                                });
                                continue;
                            }
                            let final_labels = labels_cache
                                .entry(labels)
                                .or_insert_with_key(|l| {
                                    apply_write_relabel(
                                        &self.ep.write_relabel,
                                        with_external(l, &self.external),
                                    )
                                })
                                .clone();
                            let Some(final_labels) = final_labels else {
                                continue;
                            };
                            items.push(Item {
                                seq: 0,
                                labels: final_labels,
                                timestamp_ms: s.timestamp_ms,
                                value: s.value,
                            });
                        }
                        if too_old > 0 {
                            self.stats
                                .samples_dropped_too_old
                                .fetch_add(too_old, Ordering::Relaxed);
                        }
                        let seq = tracker.register(end, items.len());
                        rates
                            .samples_in
                            .fetch_add(items.len() as u64, Ordering::Relaxed);
                        let mut chunks: Vec<Vec<Item>> =
                            (0..shard_count).map(|_| Vec::new()).collect();
                        for mut item in items {
                            item.seq = seq;
                            chunks[shard_of(&item.labels, shard_count)].push(item);
                        }
                        for (tx, chunk) in shards.senders.iter().zip(chunks) {
                            if chunk.is_empty() {
                                continue;
                            }
                            tokio::select! {
                                _ = cancel.cancelled() => break 'pump,
                                sent = tx.send(chunk) => if sent.is_err() {
                                    // A shard only exits when cancelled.
                                    break 'pump;
                                },
                            }
                        }
                    }
                }
            }
        }
        // Requests in flight finish (within SHUTDOWN_GRACE) and record what they
        // sent, so a clean restart sends nothing twice; buffered samples stay in the
        // WAL for the next run.
        shards.drain().await;
        tracker.store_if_dirty();
    }
}
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One shard: batches its samples and sends them, one request at a time.
async fn run_shard(
    mut rx: mpsc::Receiver<Vec<Item>>,
    ctx: Arc<ShardContext>,
    cancel: CancellationToken,
) {
    let deadline = ctx.queue.batch_send_deadline.to_std();
    let max = ctx.queue.max_samples_per_send;
    let mut batch: Vec<Item> = Vec::with_capacity(max);
    let mut encoder = Encoder::default();
    let mut last_flush = tokio::time::Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            chunk = rx.recv() => match chunk {
                Some(chunk) => {
                    let mut chunk = chunk.into_iter();
                    loop {
                        batch.extend(chunk.by_ref().take(max - batch.len()));
                        if batch.len() < max {
                            break;
                        }
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(max));
                        if !send_batch(&ctx, &mut encoder, full, &cancel).await {
                            return;
                        }
                        last_flush = tokio::time::Instant::now();
                    }
                }
                None => {
                    // Closed for resharding: send what is left, then stop.
                    if !batch.is_empty() {
                        send_batch(&ctx, &mut encoder, batch, &cancel).await;
                    }
                    return;
                }
            },
            _ = tokio::time::sleep_until(last_flush + deadline) => {
                if !batch.is_empty() && !send_batch(&ctx, &mut encoder, std::mem::take(&mut batch), &cancel).await {
                    return;
                }
                last_flush = tokio::time::Instant::now();
            }
        }
    }
}

/// A shard's request encoder and the buffers it reuses from batch to batch.
#[derive(Default)]
struct Encoder {
    request: remote::RequestEncoder,
    /// Series of the batch → its index in `series`.
    index: foldhash::HashMap<Labels, usize>,
    /// Per series in first-seen order: its first and last sample's index in the batch.
    series: Vec<(usize, usize)>,
    /// Per sample: the index of the series' next sample (`usize::MAX` after the last),
    /// so grouping allocates nothing per series.
    next: Vec<usize>,
}

/// The samples of one series of a batch, following [`Encoder::next`].
#[derive(Clone)]
struct SeriesSamples<'a> {
    batch: &'a [Item],
    next: &'a [usize],
    at: usize,
}

impl Iterator for SeriesSamples<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        let item = self.batch.get(self.at)?;
        self.at = self.next[self.at];
        Some((item.timestamp_ms, item.value))
    }
}

impl Encoder {
    /// Groups a batch by series, keeping each series' sample order, and encodes it.
    fn encode(&mut self, batch: &[Item]) -> bytes::Bytes {
        self.index.clear();
        self.series.clear();
        self.next.clear();
        self.next.resize(batch.len(), usize::MAX);
        for (i, item) in batch.iter().enumerate() {
            let n = self.series.len();
            let at = *self.index.entry(item.labels.clone()).or_insert(n);
            if at == n {
                self.series.push((i, i));
            } else {
                let last = self.series[at].1;
                self.next[last] = i;
                self.series[at].1 = i;
            }
        }
        self.index.clear();
        let mut out = Vec::new();
        let next = &self.next;
        self.request.encode(
            self.series.iter().map(|&(first, _)| {
                (
                    &batch[first].labels,
                    SeriesSamples {
                        batch,
                        next,
                        at: first,
                    },
                )
            }),
            &mut out,
        );
        bytes::Bytes::from(out)
    }
}

/// Run-length counts of a batch's samples per WAL record.
fn done_counts(batch: &[Item]) -> Vec<(u64, usize)> {
    let mut out: Vec<(u64, usize)> = Vec::new();
    for item in batch {
        match out.last_mut() {
            Some((seq, n)) if *seq == item.seq => *n += 1,
            _ => out.push((item.seq, 1)),
        }
    }
    out
}

/// Sends a batch until it is accepted or refused for good, then marks it done.
/// Returns `false` when cancelled (the batch stays undelivered in the WAL).
async fn send_batch(
    ctx: &ShardContext,
    encoder: &mut Encoder,
    mut batch: Vec<Item>,
    cancel: &CancellationToken,
) -> bool {
    let done = done_counts(&batch);
    let mut backoff = ctx.queue.min_backoff.to_std();
    let max_backoff = ctx.queue.max_backoff.to_std();
    let age_limit = ctx.queue.sample_age_limit.to_std();
    let mut body = encoder.encode(&batch);
    loop {
        let started = Instant::now();
        // On cancellation a request in flight may still finish for a moment: if
        // the server took it, recording that avoids sending it again after restart.
        let grace = async {
            cancel.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let outcome = tokio::select! {
            _ = grace => return false,
            outcome = remote::post(&ctx.target, body.clone()) => outcome,
        };
        let n = batch.len() as u64;
        match outcome {
            Outcome::Sent => {
                ctx.rates.failing.store(0, Ordering::Relaxed);
                ctx.rates.samples_out.fetch_add(n, Ordering::Relaxed);
                ctx.rates
                    .send_nanos
                    .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                ctx.stats.samples_sent.fetch_add(n, Ordering::Relaxed);
                break;
            }
            Outcome::Drop(reason) => {
                ctx.rates.failing.store(0, Ordering::Relaxed);
                ctx.stats.samples_failed.fetch_add(n, Ordering::Relaxed);
                tracing::error!(endpoint = %ctx.name, samples = n, %reason, "Remote write refused a batch; dropped it.");
                break;
            }
            Outcome::Retry { after, reason } => {
                ctx.rates.failing.store(1, Ordering::Relaxed);
                ctx.stats.samples_retried.fetch_add(n, Ordering::Relaxed);
                let wait = after.unwrap_or(backoff);
                tracing::warn!(endpoint = %ctx.name, samples = n, %reason, retry_in = ?wait, "Failed to send a batch; retrying.");
                tokio::select! {
                    _ = cancel.cancelled() => return false,
                    _ = tokio::time::sleep(wait) => {}
                }
                backoff = (backoff * 2).min(max_backoff);
                if age_limit > Duration::ZERO {
                    let cutoff = now_ms() - age_limit.as_millis() as i64;
                    let before = batch.len();
                    batch.retain(|i| i.timestamp_ms >= cutoff);
                    let dropped = before - batch.len();
                    if dropped > 0 {
                        ctx.stats
                            .samples_dropped_too_old
                            .fetch_add(dropped as u64, Ordering::Relaxed);
                        if batch.is_empty() {
                            break;
                        }
                        body = encoder.encode(&batch);
                    }
                }
            }
        }
    }
    ctx.tracker.complete(&done);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tracker(dir: &Path) -> Tracker {
        let wal = Arc::new(Wal::open(&dir.join("wal"), WalOptions::default()).unwrap());
        Tracker::new(Position::default(), dir.join("pos.json"), "ep".into(), wal)
    }

    fn pos(offset: u64) -> Position {
        Position { segment: 0, offset }
    }

    #[test]
    fn the_position_moves_past_a_record_only_when_all_its_samples_are_done() {
        let dir = std::env::temp_dir().join(format!("ferroalloy-tracker-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let t = tracker(&dir);
        let a = t.register(pos(10), 2);
        let b = t.register(pos(20), 0);
        let c = t.register(pos(30), 1);
        // `c` is done first (another shard): nothing moves yet.
        t.complete(&[(c, 1)]);
        assert_eq!(t.lock().delivered, pos(0));
        t.complete(&[(a, 1)]);
        assert_eq!(t.lock().delivered, pos(0));
        // The last sample of `a` frees `a`, the empty `b` and the finished `c`.
        t.complete(&[(a, 1)]);
        assert_eq!(t.lock().delivered, pos(30));
        // Completing stores nothing; the pump's periodic store writes the position.
        assert_eq!(wal::load_position(&dir.join("pos.json")).unwrap(), None);
        t.store_if_dirty();
        assert_eq!(
            wal::load_position(&dir.join("pos.json")).unwrap(),
            Some(pos(30))
        );
        assert_eq!(t.in_flight(), 0);
        let _ = b;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn shard_counts_follow_load_within_bounds_and_tolerance() {
        // (in rate/s, seconds per sample, backlog, current, min, max) → shards
        let cases = [
            ((0.0, 0.0, 0.0, 1, 1, 50), 1),
            ((1000.0, 0.01, 0.0, 1, 1, 50), 10),
            ((1000.0, 0.01, 0.0, 9, 1, 50), 9),
            ((1000.0, 0.1, 0.0, 1, 1, 50), 50),
            ((10.0, 0.001, 0.0, 8, 2, 50), 2),
            ((0.0, 0.01, 50_000.0, 1, 1, 50), 10),
            ((f64::NAN, 0.01, 0.0, 3, 1, 50), 3),
        ];
        for ((in_rate, cost, backlog, cur, min, max), want) in cases {
            assert_eq!(
                desired_shards(in_rate, cost, backlog, cur, min, max),
                want,
                "in={in_rate} cost={cost} backlog={backlog} current={cur}"
            );
        }
    }

    #[test]
    fn external_labels_never_override_series_labels() {
        let series = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let external = BTreeMap::from([
            ("job".to_string(), "ext".to_string()),
            ("cluster".to_string(), "c1".to_string()),
        ]);
        assert_eq!(
            format!("{:?}", with_external(&series, &external)),
            "{__name__=\"up\", cluster=\"c1\", job=\"a\"}"
        );
    }

    #[test]
    fn write_relabel_rules_rewrite_and_drop_series() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        assert_eq!(apply_write_relabel(&[], l.clone()), Some(l.clone()));
        let drop = relabel::Rule::new(relabel::RuleConfig {
            source_labels: Some(vec!["job".into()]),
            regex: "a".into(),
            action: "drop".into(),
            ..relabel::RuleConfig::default()
        })
        .unwrap();
        assert_eq!(apply_write_relabel(&[drop], l.clone()), None);
        let rename = relabel::Rule::new(relabel::RuleConfig {
            source_labels: Some(vec!["job".into()]),
            target_label: "team".into(),
            ..relabel::RuleConfig::default()
        })
        .unwrap();
        assert_eq!(
            apply_write_relabel(&[rename], l).map(|l| l.get("team").map(str::to_string)),
            Some(Some("a".to_string()))
        );
    }
}
