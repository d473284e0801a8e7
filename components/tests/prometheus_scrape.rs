//! `prometheus.scrape` against a real HTTP target on 127.0.0.1, with a capturing
//! receiver in `forward_to`: target labels and `exported_` renames, the report series,
//! staleness markers for vanished series, failed scrapes and removed targets, honored
//! or replaced timestamps, the sample limit, and OpenMetrics negotiation.

mod support;

use alloy_components::prometheus::{is_stale_nan, Batch, MetricsReceiver, Receiver, Sample};
use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_syntax::eval::Layered;
use alloy_syntax::value::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::{eventually, load, server, Served};

/// Keeps every sample it receives.
#[derive(Default)]
struct Capture(Mutex<Vec<Sample>>);

impl MetricsReceiver for Capture {
    fn receive(&self, batch: &Batch) {
        self.0.lock().unwrap().extend(batch.iter().cloned());
    }
}

impl Capture {
    fn samples(&self) -> Vec<Sample> {
        self.0.lock().unwrap().clone()
    }

    /// The samples of series `name` whose labels include `with`.
    fn series(&self, name: &str) -> Vec<Sample> {
        self.samples()
            .into_iter()
            .filter(|s| s.labels.get("__name__") == Some(name))
            .collect()
    }
}

/// A controller whose scope has `capture`, a receiver capsule.
fn controller_with(capture: &Arc<Capture>) -> Controller {
    let receiver = Receiver(capture.clone());
    let vars: BTreeMap<String, Value> = [("capture".to_string(), receiver.to_value())].into();
    Controller::new(
        alloy_components::registry(),
        Arc::new(Layered(vars, alloy_stdlib::Stdlib::new())),
        ControllerOptions::default(),
    )
}

fn config(address: &str, extra: &str) -> String {
    format!(
        "prometheus.scrape \"t\" {{\n  targets         = [{{\"__address__\" = \"{address}\", \"team\" = \"a\", \"__meta_x\" = \"hidden\"}}]\n  forward_to      = [capture]\n  scrape_interval = \"200ms\"\n  scrape_timeout  = \"150ms\"\n{extra}}}\n"
    )
}

fn address(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_label_and_report_and_mark_stale_series() {
    let served = Arc::new(Mutex::new(Served {
        status: 200,
        content_type: Some("text/plain; version=0.0.4".into()),
        body: "# TYPE a counter\na_total{team=\"scraped\"} 1\nb 2\n".into(),
        ..Default::default()
    }));
    let url = server(served.clone()).await;
    let capture = Arc::new(Capture::default());
    let c = controller_with(&capture);
    load(&c, &config(&address(&url), "")).await.unwrap();
    eventually("a first scrape", || !capture.series("up").is_empty()).await;

    let up = &capture.series("up")[0];
    assert_eq!(up.value, 1.0);
    assert_eq!(up.labels.get("job"), Some("prometheus.scrape.t"));
    assert_eq!(up.labels.get("instance"), Some(address(&url).as_str()));
    assert_eq!(up.labels.get("team"), Some("a"));
    assert_eq!(up.labels.get("__meta_x"), None);
    for report in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert!(!capture.series(report).is_empty(), "{report} missing");
    }
    assert_eq!(capture.series("scrape_samples_scraped")[0].value, 2.0);
    // The target's `team` wins; the scraped one is kept as `exported_team`.
    let a = &capture.series("a_total")[0];
    assert_eq!(a.labels.get("team"), Some("a"));
    assert_eq!(a.labels.get("exported_team"), Some("scraped"));
    let b = &capture.series("b")[0];
    assert_eq!(b.value, 2.0);
    {
        let s = served.lock().unwrap();
        let req = s.requests[0].to_ascii_lowercase();
        assert!(req.starts_with("get /metrics "), "{req}");
        assert!(
            req.contains("accept: application/openmetrics-text;version=1.0.0"),
            "{req}"
        );
        assert!(
            req.contains("x-prometheus-scrape-timeout-seconds: 0.15"),
            "{req}"
        );
        assert!(req.contains("accept-encoding: gzip"), "{req}");
    }

    // `b` disappears: it gets a staleness marker.
    served.lock().unwrap().body = "a_total{team=\"scraped\"} 2\n".into();
    eventually("a marker for b", || {
        capture.series("b").iter().any(|s| is_stale_nan(s.value))
    })
    .await;

    // A failed scrape: up = 0 and markers for what the last scrape had.
    served.lock().unwrap().status = 500;
    eventually("up = 0", || {
        capture.series("up").iter().any(|s| s.value == 0.0)
    })
    .await;
    eventually("a marker for a_total", || {
        capture
            .series("a_total")
            .iter()
            .any(|s| is_stale_nan(s.value))
    })
    .await;

    // The target goes away: its report series end.
    served.lock().unwrap().status = 200;
    eventually("up = 1 again", || {
        capture.series("up").last().is_some_and(|s| s.value == 1.0)
    })
    .await;
    let src = "prometheus.scrape \"t\" {\n  targets    = []\n  forward_to = [capture]\n}\n";
    load(&c, src).await.unwrap();
    eventually("a marker for up", || {
        capture.series("up").iter().any(|s| is_stale_nan(s.value))
    })
    .await;
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_limits_and_openmetrics() {
    let served = Arc::new(Mutex::new(Served {
        status: 200,
        content_type: Some("application/openmetrics-text; version=1.0.0; charset=utf-8".into()),
        body: "# TYPE x gauge\nx 5 1000.5\n# EOF\n".into(),
        ..Default::default()
    }));
    let url = server(served.clone()).await;

    // OpenMetrics timestamps are seconds; honored by default.
    let capture = Arc::new(Capture::default());
    let c = controller_with(&capture);
    load(&c, &config(&address(&url), "")).await.unwrap();
    eventually("x", || !capture.series("x").is_empty()).await;
    assert_eq!(capture.series("x")[0].timestamp_ms, 1_000_500);
    c.shutdown();

    // honor_timestamps = false: the scrape's own time.
    let capture = Arc::new(Capture::default());
    let c = controller_with(&capture);
    load(&c, &config(&address(&url), "  honor_timestamps = false\n"))
        .await
        .unwrap();
    eventually("x", || !capture.series("x").is_empty()).await;
    let x = &capture.series("x")[0];
    let up = &capture.series("up")[0];
    assert_eq!(x.timestamp_ms, up.timestamp_ms);
    assert!(x.timestamp_ms > 1_700_000_000_000);
    c.shutdown();

    // More samples than sample_limit: the scrape fails and nothing of it is kept.
    served.lock().unwrap().body = "# TYPE x gauge\nx 5\ny 6\n# EOF\n".into();
    let capture = Arc::new(Capture::default());
    let c = controller_with(&capture);
    load(&c, &config(&address(&url), "  sample_limit = 1\n"))
        .await
        .unwrap();
    eventually("up", || !capture.series("up").is_empty()).await;
    assert_eq!(capture.series("up")[0].value, 0.0);
    assert!(capture.series("x").is_empty());
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused() {
    let capture = Arc::new(Capture::default());
    let c = controller_with(&capture);
    let errors = load(
        &c,
        "prometheus.scrape \"t\" {\n  targets = []\n  forward_to = [capture]\n  scrape_interval = \"1s\"\n  scrape_timeout = \"2s\"\n}\n",
    )
    .await
    .unwrap_err();
    assert_eq!(
        errors,
        ["scrape_timeout (2s) greater than scrape_interval (1s)"]
    );
    let errors = load(
        &c,
        "prometheus.scrape \"t\" {\n  targets = []\n  forward_to = [1]\n}\n",
    )
    .await
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    c.shutdown();
}

/// An argument change reaches a running scrape loop (its series cache starts over).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honor_labels_change_applies_to_running_loops() {
    let served = Arc::new(Mutex::new(Served {
        status: 200,
        content_type: Some("text/plain; version=0.0.4".into()),
        body: "a_total{team=\"scraped\"} 1\n".into(),
        ..Default::default()
    }));
    let url = server(served.clone()).await;
    let capture = Arc::new(Capture::default());
    let c = controller_with(&capture);
    load(&c, &config(&address(&url), "")).await.unwrap();
    eventually("a first scrape", || !capture.series("a_total").is_empty()).await;
    assert_eq!(capture.series("a_total")[0].labels.get("team"), Some("a"));
    load(&c, &config(&address(&url), "  honor_labels = true\n"))
        .await
        .unwrap();
    eventually("scraped labels to win", || {
        capture
            .series("a_total")
            .last()
            .is_some_and(|s| s.labels.get("team") == Some("scraped"))
    })
    .await;
    assert_eq!(
        capture
            .series("a_total")
            .last()
            .unwrap()
            .labels
            .get("exported_team"),
        None
    );
    // The series under the old labels ended with the change: it gets a marker (the
    // scrape cache was rebuilt for the new arguments, so this is settled by label
    // set), and the series under the new labels does not.
    eventually("a marker for the series with the old labels", || {
        capture
            .series("a_total")
            .iter()
            .any(|s| s.labels.get("team") == Some("a") && is_stale_nan(s.value))
    })
    .await;
    assert!(!capture
        .series("a_total")
        .iter()
        .any(|s| s.labels.get("team") == Some("scraped") && is_stale_nan(s.value)));
    c.shutdown();
}
