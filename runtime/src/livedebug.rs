//! Live debugging: components publish a text line for the data passing through them
//! (a sample a `prometheus.relabel` emits, a target a discovery finds), and
//! `GET /api/v0/web/debug/{componentID}` streams those lines to the UI while the
//! `livedebugging` block is enabled (CLI-AND-HTTP.md §5).
//!
//! Publishing costs one atomic load when nobody watches a component: entries are
//! only formatted once a subscriber exists. Each subscriber reads from a bounded
//! broadcast channel (a slow one skips entries rather than holding memory), and the
//! stream sends at most [`MAX_ENTRIES_PER_SECOND`] entries.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Entries buffered per component before a slow subscriber starts skipping.
const CHANNEL_CAPACITY: usize = 1024;
/// The most entries a stream sends per second; the rest are dropped.
pub const MAX_ENTRIES_PER_SECOND: usize = 1000;
/// What separates entries in the stream, as upstream's UI expects.
pub const SEPARATOR: &str = "|;|";
/// The answer while the `livedebugging` block is absent or disabled.
pub const DISABLED_TEXT: &str =
    "live debugging is disabled; enable it with a livedebugging block in the configuration\n";

/// The process's live debugging switch and per-component channels. Cheap to clone.
#[derive(Clone, Default)]
pub struct LiveDebugging {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    enabled: AtomicBool,
    taps: Mutex<HashMap<String, Tap>>,
}

impl std::fmt::Debug for LiveDebugging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveDebugging")
            .field("enabled", &self.enabled())
            .finish()
    }
}

impl LiveDebugging {
    /// Applies the `livedebugging` block's `enabled`.
    pub fn set_enabled(&self, enabled: bool) {
        self.inner.enabled.store(enabled, Ordering::Release);
    }

    pub fn enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Acquire)
    }

    /// The publishing end for the component with this global ID; components keep it.
    pub fn tap(&self, component_id: &str) -> Tap {
        self.inner
            .taps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(component_id.to_string())
            .or_insert_with(|| Tap {
                inner: Arc::new(TapInner {
                    watchers: AtomicUsize::new(0),
                    sender: broadcast::channel(CHANNEL_CAPACITY).0,
                }),
            })
            .clone()
    }

    /// A subscription to a component's entries, or `None` while disabled.
    pub fn subscribe(&self, component_id: &str) -> Option<Subscription> {
        if !self.enabled() {
            return None;
        }
        let tap = self.tap(component_id);
        tap.inner.watchers.fetch_add(1, Ordering::AcqRel);
        Some(Subscription {
            receiver: tap.inner.sender.subscribe(),
            tap,
        })
    }
}

/// A component's publishing end.
#[derive(Clone)]
pub struct Tap {
    inner: Arc<TapInner>,
}

struct TapInner {
    watchers: AtomicUsize,
    sender: broadcast::Sender<Arc<str>>,
}

impl Tap {
    /// Whether anyone watches; components check this before building entries.
    pub fn active(&self) -> bool {
        self.inner.watchers.load(Ordering::Relaxed) > 0
    }

    /// Publishes the entry `make` builds, if anyone watches.
    pub fn publish(&self, make: impl FnOnce() -> String) {
        if self.active() {
            let _ = self.inner.sender.send(Arc::from(make()));
        }
    }
}

/// A subscriber's end; dropping it stops publishing when it was the last one.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<str>>,
    tap: Tap,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.tap.inner.watchers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Subscription {
    /// The next entry; `None` once the channel is gone. Skipped entries of a slow
    /// reader are not reported.
    pub async fn next(&mut self) -> Option<Arc<str>> {
        loop {
            match self.receiver.recv().await {
                Ok(entry) => return Some(entry),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// `sampleProb` of the query string: the fraction of entries to keep (default 1).
fn sample_prob(query: Option<&str>) -> f64 {
    query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("sampleProb="))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|p| p.is_finite())
        .unwrap_or(1.0)
        .clamp(0.0, 1.0)
}

/// `GET /api/v0/web/debug/{componentID}`: the component's entries as they happen,
/// each followed by `|;|`, until the client goes away.
pub async fn handler(
    State(live): State<LiveDebugging>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(sub) = live.subscribe(&id) else {
        return (StatusCode::OK, DISABLED_TEXT).into_response();
    };
    let prob = sample_prob(query.as_deref());
    let stream = futures_util::stream::unfold(
        (sub, 0.0f64, 0usize, tokio::time::Instant::now(), live),
        move |(mut sub, mut credit, mut sent, mut window, live)| async move {
            loop {
                if !live.enabled() {
                    return None;
                }
                // Re-check the switch now and then, so disabling ends quiet streams.
                let entry = match tokio::time::timeout(Duration::from_secs(1), sub.next()).await {
                    Ok(Some(entry)) => entry,
                    Ok(None) => return None,
                    Err(_) => continue,
                };
                // Keep `prob` of the entries, evenly spread.
                credit += prob;
                if credit < 1.0 {
                    continue;
                }
                credit -= 1.0;
                if window.elapsed() >= Duration::from_secs(1) {
                    window = tokio::time::Instant::now();
                    sent = 0;
                }
                if sent >= MAX_ENTRIES_PER_SECOND {
                    continue;
                }
                sent += 1;
                let chunk = format!("{entry}{SEPARATOR}");
                return Some((
                    Ok::<_, std::io::Error>(chunk),
                    (sub, credit, sent, window, live),
                ));
            }
        },
    );
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_built_only_while_someone_watches() {
        let live = LiveDebugging::default();
        let tap = live.tap("prometheus.relabel.a");
        assert!(live.subscribe("prometheus.relabel.a").is_none(), "disabled");
        tap.publish(|| unreachable!("nobody watches"));

        live.set_enabled(true);
        let sub = live.subscribe("prometheus.relabel.a").unwrap();
        assert!(tap.active());
        // Another component's watcher does not wake this tap.
        let other = live.tap("prometheus.relabel.b");
        assert!(!other.active());
        drop(sub);
        assert!(!tap.active());
    }

    #[tokio::test]
    async fn a_subscriber_receives_what_is_published() {
        let live = LiveDebugging::default();
        live.set_enabled(true);
        let mut sub = live.subscribe("c").unwrap();
        live.tap("c").publish(|| "one".to_string());
        assert_eq!(sub.next().await.as_deref(), Some("one"));
    }

    #[test]
    fn sample_probability_comes_from_the_query() {
        assert_eq!(sample_prob(None), 1.0);
        assert_eq!(sample_prob(Some("sampleProb=0.25")), 0.25);
        assert_eq!(sample_prob(Some("x=1&sampleProb=7")), 1.0);
        assert_eq!(sample_prob(Some("sampleProb=nope")), 1.0);
    }
}
