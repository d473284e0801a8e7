//! The Prometheus data model shared by the pipeline components: label sets, samples,
//! and the `receiver` capsule (`storage.Appendable`) that `forward_to` lists carry.
//!
//! A scrape produces one [`Batch`] per target and scrape; receivers get it by
//! reference-counted pointer, so fan-out to several receivers copies no label set.

pub mod remote;
pub mod wal;

use alloy_syntax::value::{Capsule, HostValue, Value, ValueError};
use std::fmt;
use std::sync::Arc;

pub mod exposition;
pub mod relabel;

/// One label.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub name: Arc<str>,
    pub value: Arc<str>,
}

/// A label set, sorted by name, names unique, no empty values. Its hash is computed
/// once: label sets key the scrape cache, the staleness sets, the WAL series table and
/// the remote-write caches, so each is hashed many times per sample otherwise.
#[derive(Clone)]
pub struct Labels {
    items: Arc<[Label]>,
    hash: u64,
}

impl Default for Labels {
    fn default() -> Labels {
        Labels::new(Arc::from([]))
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.items, &other.items)
            || (self.hash == other.hash && self.items == other.items)
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Labels) -> std::cmp::Ordering {
        self.items.cmp(&other.items)
    }
}

impl Labels {
    fn new(items: Arc<[Label]>) -> Labels {
        let mut digest = xxhash_rust::xxh64::Xxh64::new(0);
        for l in items.iter() {
            digest.update(l.name.as_bytes());
            digest.update(&[0xFF]);
            digest.update(l.value.as_bytes());
            digest.update(&[0xFF]);
        }
        Labels {
            hash: digest.digest(),
            items,
        }
    }

    /// Builds a label set from pairs in any order: empty values are dropped (they mean
    /// "no label" in Prometheus) and a repeated name keeps its last value.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Labels
    where
        N: Into<Arc<str>>,
        V: Into<Arc<str>>,
    {
        let mut v: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .collect();
        // Stable sort, then keep the last of equal names.
        v.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(v.len());
        for l in v {
            match out.last_mut() {
                Some(last) if last.name == l.name => *last = l,
                _ => out.push(l),
            }
        }
        out.retain(|l| !l.value.is_empty());
        Labels::new(out.into())
    }

    /// A label set from labels already sorted by name, with unique names and no empty
    /// values: what a label builder produces, so nothing is sorted twice.
    pub fn from_sorted(labels: Vec<Label>) -> Labels {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Labels::new(labels.into())
    }

    /// The label set's hash (xxh64 of names and values), computed once.
    pub fn hash_value(&self) -> u64 {
        self.hash
    }

    /// Whether both are the same allocation: a cheap "certainly unchanged" test.
    pub fn ptr_eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.items, &other.items)
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.items
    }

    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.items
            .binary_search_by(|l| (*l.name).cmp(name))
            .ok()
            .map(|i| &*self.items[i].value)
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// Label names and values shared process-wide: scraped series repeat the same names,
/// metric names and many values across series and targets, and a label set holds
/// its strings by `Arc`, so each distinct string is stored once instead of once per
/// series. Strings nobody else holds are swept out whenever the table has doubled
/// since the last sweep, which keeps its upkeep amortised O(1) per call.
struct Interner {
    strings: foldhash::HashSet<Arc<str>>,
    sweep_at: usize,
}

static INTERNER: std::sync::LazyLock<std::sync::Mutex<Interner>> = std::sync::LazyLock::new(|| {
    std::sync::Mutex::new(Interner {
        strings: Default::default(),
        sweep_at: 1024,
    })
});

/// The shared copy of `s` (see [`Interner`]). Called only when a series is new.
pub fn intern(s: &str) -> Arc<str> {
    let mut interner = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = interner.strings.get(s) {
        return shared.clone();
    }
    if interner.strings.len() >= interner.sweep_at {
        interner.strings.retain(|a| Arc::strong_count(a) > 1);
        interner.sweep_at = (interner.strings.len() * 2).max(1024);
    }
    let shared: Arc<str> = Arc::from(s);
    interner.strings.insert(shared.clone());
    shared
}

/// The value Prometheus writes to mark a series stale (a specific NaN).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is the staleness marker.
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One sample: a series, a timestamp in milliseconds since the epoch, and a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// What one append (a scrape of one target, say) hands its receivers.
pub type Batch = Arc<[Sample]>;

/// Something that accepts samples: `prometheus.remote_write`'s and
/// `prometheus.relabel`'s `receiver`.
pub trait MetricsReceiver: Send + Sync + 'static {
    /// Takes a batch. Must not block for long: queues, not network calls.
    fn receive(&self, batch: &Batch);
}

/// The `receiver` capsule value.
#[derive(Clone)]
pub struct Receiver(pub Arc<dyn MetricsReceiver>);

impl Receiver {
    pub fn to_value(&self) -> Value {
        Value::Capsule(Capsule::Host(Arc::new(self.clone())))
    }

    /// A receiver carried by `value`, for `forward_to` lists.
    pub fn from_value(value: &Value) -> Result<Receiver, ValueError> {
        match value {
            Value::Capsule(Capsule::Host(h)) => h
                .as_any()
                .downcast_ref::<Receiver>()
                .cloned()
                .ok_or_else(|| ValueError::type_mismatch(value, "capsule(\"storage.Appendable\")")),
            _ => Err(ValueError::type_mismatch(
                value,
                "capsule(\"storage.Appendable\")",
            )),
        }
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver")
    }
}

impl PartialEq for Receiver {
    fn eq(&self, other: &Receiver) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl HostValue for Receiver {
    fn type_name(&self) -> &str {
        "storage.Appendable"
    }

    fn equals(&self, other: &dyn HostValue) -> bool {
        other
            .as_any()
            .downcast_ref::<Receiver>()
            .is_some_and(|o| o == self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl alloy_runtime::decode::FromValue for Receiver {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        Receiver::from_value(value)
    }
}

/// Sends a batch to every receiver of a `forward_to` list.
pub fn fan_out(receivers: &[Receiver], batch: &Batch) {
    for r in receivers {
        r.0.receive(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_sort_dedupe_and_drop_empty_values() {
        let l = Labels::from_pairs([("b", "1"), ("a", "x"), ("b", "2"), ("c", "")]);
        assert_eq!(format!("{l:?}"), "{a=\"x\", b=\"2\"}");
        assert_eq!(l.get("b"), Some("2"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn receivers_round_trip_through_values() {
        struct Null;
        impl MetricsReceiver for Null {
            fn receive(&self, _: &Batch) {}
        }
        let r = Receiver(Arc::new(Null));
        let v = r.to_value();
        assert_eq!(Receiver::from_value(&v).unwrap(), r);
        assert!(Receiver::from_value(&Value::int(1)).is_err());
    }
}
