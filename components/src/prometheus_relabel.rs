//! `prometheus.relabel`: applies relabel rules to every sample's series and forwards the
//! result (COMPONENTS.md §4). Its `receiver` is published at build and stays the same
//! for the component's lifetime, so reloads never disturb the components feeding it.
//!
//! Results are cached per input series; an update of the rules clears the cache.

use crate::prometheus::relabel::{decode_rules, process, LabelBuilder, Rule, Rules, RULE_BLOCK};
use crate::prometheus::{fan_out, is_stale_nan, Batch, Labels, MetricsReceiver, Receiver, Sample};
use alloy_runtime::component::{Arguments, BoxFuture, Component, ExportsSink, Options};
use alloy_runtime::decode::Decoder;
use alloy_runtime::duration::GoDuration;
use alloy_runtime::schema::{attr, LabelRule, Schema, Ty};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        attr!(
            "forward_to",
            Ty::Array(&Ty::Capsule("storage.Appendable")),
            required
        ),
        attr!("max_cache_size", Ty::Int),
        attr!("cache_ttl", Ty::Duration),
    ],
    blocks: &[RULE_BLOCK],
    free_form: false,
};

/// Upstream's default `max_cache_size`: enough for a few large targets' series.
const DEFAULT_MAX_CACHE_SIZE: i64 = 100_000;

/// How often expired entries of a TTL cache are swept, as upstream does.
const TTL_SCAN_INTERVAL: Duration = Duration::from_secs(60);

/// How the relabel results are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// At most this many series.
    Size(usize),
    /// Entries expire this long after they were last stored.
    Ttl(Duration),
}

/// Arguments of `prometheus.relabel`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusRelabelArgs {
    /// Receivers the relabeled samples are sent to.
    pub forward_to: Vec<Receiver>,
    /// The `rule` blocks, applied to every series in order.
    pub rules: Vec<Rule>,
    /// `max_cache_size` (default 100000) or, with `max_cache_size = 0`, `cache_ttl`.
    pub cache: CacheMode,
}

impl Arguments for PrometheusRelabelArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        let size_set = d.has("max_cache_size");
        let size: i64 = d.attr_or("max_cache_size", DEFAULT_MAX_CACHE_SIZE)?;
        let ttl: GoDuration = d.attr_or("cache_ttl", GoDuration::from_secs(0))?;
        if ttl.nanos() < 0 {
            return Err(d.error(d.span_of("cache_ttl"), "cache_ttl must not be negative"));
        }
        // The two are exclusive; a TTL alone overrides the default size.
        let cache = if ttl.nanos() > 0 {
            if size_set && size != 0 {
                return Err(d.error(
                    d.span(),
                    "max_cache_size and cache_ttl are mutually exclusive: set max_cache_size = 0 to use cache_ttl",
                ));
            }
            CacheMode::Ttl(ttl.to_std())
        } else {
            if size <= 0 {
                return Err(d.error(
                    d.span_of("max_cache_size"),
                    format!("max_cache_size must be greater than 0 and is {size}"),
                ));
            }
            CacheMode::Size(usize::try_from(size).unwrap_or(usize::MAX))
        };
        Ok(PrometheusRelabelArgs {
            forward_to: d.required("forward_to")?,
            rules: decode_rules(d, "rule")?,
            cache,
        })
    }
}

/// Relabel results per input series: `None` means the series is dropped.
///
/// The size-bounded mode is a two-generation cache, an LRU approximation without
/// per-hit bookkeeping: hits in the old generation move to the new one, and when the
/// new one is full the old one is discarded. At most `max` entries are held.
struct Cache {
    mode: CacheMode,
    current: HashMap<Labels, Entry>,
    previous: HashMap<Labels, Entry>,
}

struct Entry {
    result: Option<Labels>,
    /// For TTL mode: when the entry stops counting.
    expires: Option<Instant>,
}

impl Cache {
    fn new(mode: CacheMode) -> Cache {
        Cache {
            mode,
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    fn get(&mut self, key: &Labels) -> Option<Option<Labels>> {
        if let Some(e) = self.current.get(key) {
            return match e.expires {
                Some(t) if Instant::now() > t => None,
                _ => Some(e.result.clone()),
            };
        }
        let (key, entry) = self.previous.remove_entry(key)?;
        let result = entry.result.clone();
        self.insert_entry(key, entry);
        Some(result)
    }

    fn insert(&mut self, key: Labels, result: Option<Labels>) {
        let expires = match self.mode {
            CacheMode::Ttl(ttl) => Some(Instant::now() + ttl),
            CacheMode::Size(_) => None,
        };
        self.insert_entry(key, Entry { result, expires });
    }

    fn insert_entry(&mut self, key: Labels, entry: Entry) {
        if let CacheMode::Size(max) = self.mode {
            let generation = max.div_ceil(2).max(1);
            if self.current.len() >= generation && !self.current.contains_key(&key) {
                self.previous = std::mem::take(&mut self.current);
                // With an odd `max` two full generations would exceed it by one.
                if self.previous.len() + 1 > max {
                    self.previous.clear();
                }
            }
        }
        self.current.insert(key, entry);
    }

    fn remove(&mut self, key: &Labels) {
        self.current.remove(key);
        self.previous.remove(key);
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Drops expired TTL entries.
    fn sweep(&mut self) {
        let now = Instant::now();
        self.current
            .retain(|_, e| e.expires.is_none_or(|t| t >= now));
    }
}

/// The rules and destinations in force.
struct Config {
    rules: Arc<[Rule]>,
    forward_to: Vec<Receiver>,
}

/// The shared state behind the exported receiver.
struct Inner {
    config: RwLock<Config>,
    work: Mutex<Work>,
    /// Set when the run loop has ended: samples are no longer accepted.
    exited: AtomicBool,
    /// Live debugging: the samples this component emits, while someone watches.
    live: alloy_runtime::livedebug::Tap,
    /// Samples forwarded, for the UI's edge throughput: one add per batch.
    samples_out: Arc<AtomicU64>,
}

/// What one batch is processed with: the cache and a reusable label builder.
struct Work {
    cache: Cache,
    builder: LabelBuilder,
}

impl Inner {
    fn relabel_batch(&self, batch: &Batch) -> Option<(Batch, Vec<Receiver>)> {
        let config = self.config.read().unwrap_or_else(|e| e.into_inner());
        let mut work = self.work.lock().unwrap_or_else(|e| e.into_inner());
        let Work { cache, builder } = &mut *work;
        // Most batches pass unchanged when the rules only filter: forward the same
        // batch then, without copying a sample.
        let mut out: Option<Vec<Sample>> = None;
        for (i, sample) in batch.iter().enumerate() {
            let result = match cache.get(&sample.labels) {
                Some(hit) => hit,
                None => {
                    builder.reset(sample.labels.clone());
                    let result = process(builder, &config.rules)
                        .then(|| builder.labels())
                        .filter(|l| !l.is_empty());
                    cache.insert(sample.labels.clone(), result.clone());
                    result
                }
            };
            // A stale series is gone: forget it, after passing the marker on.
            if is_stale_nan(sample.value) {
                cache.remove(&sample.labels);
            }
            let unchanged = result.as_ref().is_some_and(|l| l.ptr_eq(&sample.labels));
            match (&mut out, unchanged) {
                (None, true) => {}
                (None, false) => {
                    let mut v = Vec::with_capacity(batch.len());
                    v.extend(batch[..i].iter().cloned());
                    push_relabeled(&mut v, sample, result);
                    out = Some(v);
                }
                (Some(v), _) => push_relabeled(v, sample, result),
            }
        }
        let batch = match out {
            None => batch.clone(),
            Some(v) if v.is_empty() => return None,
            Some(v) => Batch::from(v),
        };
        Some((batch, config.forward_to.clone()))
    }
}

fn push_relabeled(out: &mut Vec<Sample>, sample: &Sample, result: Option<Labels>) {
    if let Some(labels) = result {
        out.push(Sample {
            labels,
            timestamp_ms: sample.timestamp_ms,
            value: sample.value,
        });
    }
}

impl MetricsReceiver for Inner {
    fn receive(&self, batch: &Batch) {
        if self.exited.load(Ordering::Acquire) || batch.is_empty() {
            return;
        }
        // Forwarding happens outside the locks so a slow receiver delays no one else.
        if let Some((batch, receivers)) = self.relabel_batch(batch) {
            if self.live.active() {
                for sample in batch.iter() {
                    self.live.publish(|| {
                        format!(
                            "{:?} {} {}",
                            sample.labels, sample.value, sample.timestamp_ms
                        )
                    });
                }
            }
            fan_out(&receivers, &batch);
            self.samples_out
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    }
}

/// The running component.
pub struct PrometheusRelabel {
    inner: Arc<Inner>,
    receiver: Receiver,
    exports: ExportsSink,
}

impl PrometheusRelabel {
    /// The receiver this component exports, for embedding and tests.
    pub fn receiver(&self) -> Receiver {
        self.receiver.clone()
    }

    /// How many series the cache holds.
    pub fn cache_len(&self) -> usize {
        self.inner
            .work
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cache
            .len()
    }

    fn publish(&self, rules: Arc<[Rule]>) {
        (self.exports)(Value::object(BTreeMap::from([
            ("receiver".to_string(), self.receiver.to_value()),
            ("rules".to_string(), Rules(rules).to_value()),
        ])));
    }
}

impl Component for PrometheusRelabel {
    type Arguments = PrometheusRelabelArgs;

    fn build(opts: Options, args: PrometheusRelabelArgs) -> Result<Self, String> {
        let rules: Arc<[Rule]> = args.rules.into();
        let inner = Arc::new(Inner {
            config: RwLock::new(Config {
                rules: rules.clone(),
                forward_to: args.forward_to,
            }),
            work: Mutex::new(Work {
                cache: Cache::new(args.cache),
                builder: LabelBuilder::default(),
            }),
            exited: AtomicBool::new(false),
            live: opts.services.live_debugging.tap(&opts.id),
            samples_out: opts.samples_out(),
        });
        let component = PrometheusRelabel {
            receiver: Receiver(inner.clone()),
            inner,
            exports: opts.exports,
        };
        // Published now so dependants see the receiver on their first evaluation.
        component.publish(rules);
        Ok(component)
    }

    fn update(&self, args: PrometheusRelabelArgs) -> Result<(), String> {
        let rules: Arc<[Rule]> = args.rules.into();
        {
            // Lock order as in `relabel_batch`: config, then work.
            let mut config = self.inner.config.write().unwrap_or_else(|e| e.into_inner());
            let mut work = self.inner.work.lock().unwrap_or_else(|e| e.into_inner());
            config.rules = rules.clone();
            config.forward_to = args.forward_to;
            // Cached results were made by the old rules.
            work.cache = Cache::new(args.cache);
        }
        self.publish(rules);
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            let mut sweep = tokio::time::interval(TTL_SCAN_INTERVAL);
            sweep.tick().await;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = sweep.tick() => {
                        self.inner.work.lock().unwrap_or_else(|e| e.into_inner()).cache.sweep();
                    }
                }
            }
            self.inner.exited.store(true, Ordering::Release);
            Ok(())
        })
    }
}
