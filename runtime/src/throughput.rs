//! Samples forwarded per component, for the throughput the UI writes on graph edges.
//!
//! A component that forwards data (`prometheus.scrape`, `prometheus.relabel`) gets a
//! counter through [`crate::component::Options::samples_out`] and adds each batch's
//! size to it: one relaxed atomic add per batch, nothing per sample. A fan-out sends
//! every batch to every receiver of `forward_to`, so the sender's rate is also the
//! rate on each of its outgoing edges.
//!
//! The counters live in one process-wide table keyed by global component ID rather
//! than in the controller, so components built outside a controller (in tests) need
//! nothing new, and `Options` keeps its fields (other code builds it literally).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A counter and the last reading a rate was computed from.
struct Entry {
    count: Arc<AtomicU64>,
    last: Mutex<Reading>,
}

#[derive(Clone, Copy)]
struct Reading {
    at: Instant,
    count: u64,
    rate: f64,
}

fn table() -> &'static Mutex<HashMap<String, Arc<Entry>>> {
    static TABLE: OnceLock<Mutex<HashMap<String, Arc<Entry>>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

fn entry(id: &str) -> Arc<Entry> {
    let mut table = table().lock().unwrap_or_else(|e| e.into_inner());
    table
        .entry(id.to_string())
        .or_insert_with(|| {
            Arc::new(Entry {
                count: Arc::default(),
                last: Mutex::new(Reading {
                    at: Instant::now(),
                    count: 0,
                    rate: 0.0,
                }),
            })
        })
        .clone()
}

/// The forwarded-samples counter of the component with this global ID. The same
/// counter comes back for the same ID, so a rebuilt component keeps counting on.
pub fn counter(id: &str) -> Arc<AtomicU64> {
    entry(id).count.clone()
}

/// Samples the component has forwarded so far; `None` if it never asked for a
/// counter (it forwards nothing we count).
pub fn total(id: &str) -> Option<u64> {
    let table = table().lock().unwrap_or_else(|e| e.into_inner());
    table.get(id).map(|e| e.count.load(Ordering::Relaxed))
}

/// Samples per second the component forwarded since the previous reading that was
/// at least `min_window` ago. Readers closer together than that get the last rate
/// again, so several open UIs do not shrink each other's window to nothing.
pub fn rate(id: &str, min_window: Duration) -> Option<f64> {
    let entry = {
        let table = table().lock().unwrap_or_else(|e| e.into_inner());
        table.get(id)?.clone()
    };
    let now = Instant::now();
    let count = entry.count.load(Ordering::Relaxed);
    let mut last = entry.last.lock().unwrap_or_else(|e| e.into_inner());
    let elapsed = now.duration_since(last.at);
    if elapsed >= min_window && !elapsed.is_zero() {
        let rate = count.saturating_sub(last.count) as f64 / elapsed.as_secs_f64();
        *last = Reading {
            at: now,
            count,
            rate,
        };
    }
    Some(last.rate)
}

/// `alloy_component_samples_forwarded_total`: the same counters on `/metrics`, one
/// series per component that ever forwarded, so a dashboard can plot what the graph
/// view's edges show.
pub(crate) struct Forwarded;

impl crate::metrics::MetricSource for Forwarded {
    fn collect(&self, out: &mut Vec<crate::metrics::SourceSample>) {
        let table = table().lock().unwrap_or_else(|e| e.into_inner());
        for (id, entry) in table.iter() {
            let labels = crate::metrics::component_labels(id);
            let [(_, path), (_, id)] = <[(String, String); 2]>::try_from(labels)
                .unwrap_or_else(|_| unreachable!("component_labels gives two labels"));
            out.push(crate::metrics::SourceSample {
                name: "alloy_component_samples_forwarded",
                help: "Samples a component forwarded to the receivers of its forward_to",
                kind: crate::metrics::SampleKind::Counter,
                labels: vec![("component_path", path), ("component_id", id)],
                value: entry.count.load(Ordering::Relaxed) as f64,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_shared_by_id_and_rates_follow_the_count() {
        let id = "test.throughput.counters";
        let a = counter(id);
        let b = counter(id);
        a.fetch_add(5, Ordering::Relaxed);
        assert_eq!(b.load(Ordering::Relaxed), 5);
        assert_eq!(total(id), Some(5));
        assert_eq!(total("test.throughput.never"), None);
        std::thread::sleep(Duration::from_millis(20));
        let r = rate(id, Duration::from_millis(10)).expect("counted");
        assert!(r > 0.0, "{r}");
        // Within the window the previous rate comes back unchanged.
        a.fetch_add(1000, Ordering::Relaxed);
        assert_eq!(rate(id, Duration::from_secs(60)), Some(r));
    }
}
