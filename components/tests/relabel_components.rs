//! `discovery.relabel` and `prometheus.relabel` as components: through the real
//! controller for exports and argument errors, and `prometheus.relabel`'s data path at
//! the Rust level with a capturing receiver (configs can only reference exports).

mod support;

use alloy_components::prometheus::relabel::Rules;
use alloy_components::prometheus::{
    Batch, Labels, MetricsReceiver, Receiver, Sample, STALE_NAN_BITS,
};
use alloy_components::prometheus_relabel::{PrometheusRelabel, PrometheusRelabelArgs};
use alloy_runtime::component::{Arguments, Component, Options};
use alloy_runtime::controller::Controller;
use alloy_runtime::decode::{AttrValue, BlockValue, BodyValue, Decoder};
use alloy_syntax::value::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::{controller, load};

/// The `output` export of a `discovery.relabel` node, as label maps.
fn output(c: &Controller, id: &str) -> Vec<BTreeMap<String, String>> {
    let exports = c.node(id).expect("node exists").exports();
    let list = exports.as_object().expect("object")["output"].clone();
    list.as_array()
        .expect("array")
        .iter()
        .map(|t| {
            t.as_object()
                .expect("target object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
                .collect()
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn discovery_relabel_exports_relabelled_targets_and_rules() {
    let c = controller();
    let src = r#"
discovery.relabel "first" {
	targets = [
		{"__address__" = "a:80", "__meta_env" = "prod", "job" = "api"},
		{"__address__" = "b:80", "__meta_env" = "dev", "job" = "db"},
	]
	rule {
		source_labels = ["__meta_env"]
		regex         = "prod"
		action        = "keep"
	}
	rule {
		source_labels = ["__address__"]
		regex         = "(.*):.*"
		target_label  = "host"
	}
}

discovery.relabel "second" {
	targets = discovery.relabel.first.output
	rule {
		target_label = "stage"
		replacement  = "two"
	}
}
"#;
    load(&c, src).await.unwrap();
    let want = map(&[
        ("__address__", "a:80"),
        ("__meta_env", "prod"),
        ("host", "a"),
        ("job", "api"),
    ]);
    assert_eq!(
        output(&c, "discovery.relabel.first"),
        std::slice::from_ref(&want)
    );
    let mut second = want;
    second.insert("stage".into(), "two".into());
    assert_eq!(output(&c, "discovery.relabel.second"), [second]);

    let exports = c.node("discovery.relabel.first").unwrap().exports();
    let rules = Rules::from_value(&exports.as_object().unwrap()["rules"]).unwrap();
    assert_eq!(rules.0.len(), 2);
    assert_eq!(rules.0[1].target_label.as_ref(), "host");
    c.shutdown();
}

#[tokio::test]
async fn discovery_relabel_without_rules_passes_targets_through() {
    let c = controller();
    let src = "discovery.relabel \"x\" {\n\ttargets = [{\"a\" = \"1\"}, {\"b\" = \"2\"}]\n}\n";
    load(&c, src).await.unwrap();
    assert_eq!(
        output(&c, "discovery.relabel.x"),
        [map(&[("a", "1")]), map(&[("b", "2")])]
    );
    c.shutdown();
}

#[tokio::test]
async fn invalid_rules_fail_the_load_with_upstream_messages() {
    let cases = [
        (
            "discovery.relabel \"x\" {\n\ttargets = []\n\trule {\n\t\taction = \"hashmod\"\n\t\ttarget_label = \"a\"\n\t}\n}\n",
            "relabel configuration for hashmod requires non-zero modulus",
        ),
        (
            "prometheus.relabel \"x\" {\n\tforward_to = []\n\trule {\n\t\tregex = \"(\"\n\t\taction = \"keep\"\n\t}\n}\n",
            "error parsing regexp: missing closing ): `^(?s:()$`",
        ),
        (
            "prometheus.relabel \"x\" {\n\tforward_to = []\n\tmax_cache_size = 0\n}\n",
            "max_cache_size must be greater than 0 and is 0",
        ),
        (
            "prometheus.relabel \"x\" {\n\tforward_to = []\n\tcache_ttl = \"5m\"\n\tmax_cache_size = 10\n}\n",
            "max_cache_size and cache_ttl are mutually exclusive: set max_cache_size = 0 to use cache_ttl",
        ),
    ];
    for (src, want) in cases {
        let c = controller();
        let errors = load(&c, src).await.unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{src}: {errors:?} lacks {want:?}"
        );
        c.shutdown();
    }
}

#[tokio::test]
async fn prometheus_relabel_exports_a_receiver_usable_in_forward_to() {
    let c = controller();
    let src = r#"
prometheus.relabel "last" {
	forward_to = []
}
prometheus.relabel "first" {
	forward_to = [prometheus.relabel.last.receiver]
	rule {
		source_labels = ["__name__"]
		regex         = "go_.*"
		action        = "drop"
	}
	cache_ttl      = "10m"
	max_cache_size = 0
}
"#;
    load(&c, src).await.unwrap();
    let exports = c.node("prometheus.relabel.first").unwrap().exports();
    assert!(Receiver::from_value(&exports.as_object().unwrap()["receiver"]).is_ok());
    c.shutdown();
}

/// Records every batch it receives.
#[derive(Default)]
struct Capture(Mutex<Vec<Batch>>);

impl MetricsReceiver for Capture {
    fn receive(&self, batch: &Batch) {
        self.0.lock().unwrap().push(batch.clone());
    }
}

impl Capture {
    fn take(&self) -> Vec<Batch> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn rule_block(attrs: &[(&str, Value)]) -> BlockValue {
    BlockValue {
        name: "rule".into(),
        label: None,
        body: BodyValue {
            attrs: attrs
                .iter()
                .map(|(name, value)| AttrValue {
                    name: name.to_string(),
                    value: value.clone(),
                    span: Default::default(),
                })
                .collect(),
            ..Default::default()
        },
    }
}

fn args(receiver: &Receiver, rules: Vec<BlockValue>, cache: Option<i64>) -> PrometheusRelabelArgs {
    let mut attrs = vec![AttrValue {
        name: "forward_to".into(),
        value: Value::array(vec![receiver.to_value()]),
        span: Default::default(),
    }];
    if let Some(size) = cache {
        attrs.push(AttrValue {
            name: "max_cache_size".into(),
            value: Value::int(size),
            span: Default::default(),
        });
    }
    let body = BodyValue {
        attrs,
        blocks: rules,
        ..Default::default()
    };
    let file: Arc<str> = Arc::from("test");
    PrometheusRelabelArgs::decode(&Decoder::new(&file, &body)).unwrap()
}

fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        labels: Labels::from_pairs(pairs.iter().copied()),
        timestamp_ms: 1000,
        value,
    }
}

fn build(args: PrometheusRelabelArgs) -> (PrometheusRelabel, Arc<Mutex<Vec<Value>>>) {
    let published = Arc::new(Mutex::new(Vec::new()));
    let sink = published.clone();
    let opts = Options {
        id: "prometheus.relabel.test".into(),
        data_path: std::env::temp_dir(),
        exports: Arc::new(move |v| sink.lock().unwrap().push(v)),
        cluster: alloy_runtime::cluster::Cluster::standalone("test"),
        services: Default::default(),
    };
    (PrometheusRelabel::build(opts, args).unwrap(), published)
}

#[test]
fn prometheus_relabel_rewrites_drops_and_forwards() {
    let capture = Arc::new(Capture::default());
    let downstream = Receiver(capture.clone());
    let rules = vec![
        rule_block(&[
            (
                "source_labels",
                Value::array(vec![Value::string("__name__")]),
            ),
            ("regex", Value::string("go_.*")),
            ("action", Value::string("drop")),
        ]),
        rule_block(&[
            ("target_label", Value::string("env")),
            ("replacement", Value::string("prod")),
        ]),
    ];
    let (component, published) = build(args(&downstream, rules, None));
    // The receiver is exported at build.
    let exports = published.lock().unwrap()[0].clone();
    let exported = Receiver::from_value(&exports.as_object().unwrap()["receiver"]).unwrap();
    assert_eq!(exported, component.receiver());

    let batch: Batch = vec![
        sample(&[("__name__", "up"), ("job", "a")], 1.0),
        sample(&[("__name__", "go_goroutines"), ("job", "a")], 5.0),
    ]
    .into();
    exported.0.receive(&batch);
    let got = capture.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].len(), 1);
    assert_eq!(
        format!("{:?}", got[0][0].labels),
        r#"{__name__="up", env="prod", job="a"}"#
    );
    assert_eq!(got[0][0].value, 1.0);
    assert_eq!(component.cache_len(), 2);

    // A batch whose samples are all dropped forwards nothing.
    exported
        .0
        .receive(&vec![sample(&[("__name__", "go_x")], 1.0)].into());
    assert!(capture.take().is_empty());
}

#[test]
fn unchanged_batches_are_forwarded_without_copying() {
    let capture = Arc::new(Capture::default());
    let downstream = Receiver(capture.clone());
    let rules = vec![rule_block(&[
        ("source_labels", Value::array(vec![Value::string("job")])),
        ("regex", Value::string("a")),
        ("action", Value::string("keep")),
    ])];
    let (component, _) = build(args(&downstream, rules, None));
    let batch: Batch = vec![sample(&[("__name__", "up"), ("job", "a")], 1.0)].into();
    component.receiver().0.receive(&batch);
    component.receiver().0.receive(&batch);
    let got = capture.take();
    assert_eq!(got.len(), 2);
    assert!(Arc::ptr_eq(&got[0], &batch) && Arc::ptr_eq(&got[1], &batch));
}

#[test]
fn stale_markers_are_relabelled_and_forget_their_series() {
    let capture = Arc::new(Capture::default());
    let downstream = Receiver(capture.clone());
    let rules = vec![rule_block(&[
        ("target_label", Value::string("env")),
        ("replacement", Value::string("prod")),
    ])];
    let (component, _) = build(args(&downstream, rules, None));
    let stale = f64::from_bits(STALE_NAN_BITS);
    let receiver = component.receiver();
    receiver
        .0
        .receive(&vec![sample(&[("__name__", "up")], 1.0)].into());
    assert_eq!(component.cache_len(), 1);
    receiver
        .0
        .receive(&vec![sample(&[("__name__", "up")], stale)].into());
    let got = capture.take();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1][0].labels.get("env"), Some("prod"));
    assert_eq!(got[1][0].value.to_bits(), STALE_NAN_BITS);
    assert_eq!(component.cache_len(), 0);
}

#[test]
fn series_relabelled_to_an_empty_set_are_dropped() {
    let capture = Arc::new(Capture::default());
    let downstream = Receiver(capture.clone());
    let rules = vec![rule_block(&[
        ("regex", Value::string(".*")),
        ("action", Value::string("labeldrop")),
    ])];
    let (component, _) = build(args(&downstream, rules, None));
    component
        .receiver()
        .0
        .receive(&vec![sample(&[("__name__", "up")], 1.0)].into());
    assert!(capture.take().is_empty());
}

#[test]
fn cache_stays_bounded_and_updates_clear_it() {
    let capture = Arc::new(Capture::default());
    let downstream = Receiver(capture.clone());
    let (component, published) = build(args(&downstream, vec![], Some(4)));
    let receiver = component.receiver();
    for i in 0..50 {
        let name = format!("m{i}");
        receiver
            .0
            .receive(&vec![sample(&[("__name__", name.as_str())], 1.0)].into());
        assert!(
            component.cache_len() <= 4,
            "cache grew to {}",
            component.cache_len()
        );
    }
    assert_eq!(capture.take().len(), 50);

    let rules = vec![rule_block(&[
        ("target_label", Value::string("x")),
        ("replacement", Value::string("y")),
    ])];
    component.update(args(&downstream, rules, Some(4))).unwrap();
    assert_eq!(component.cache_len(), 0);
    // The receiver is published again, unchanged, with the new rules.
    let last = published.lock().unwrap().last().unwrap().clone();
    let fields = last.as_object().unwrap();
    assert_eq!(Receiver::from_value(&fields["receiver"]).unwrap(), receiver);
    assert_eq!(Rules::from_value(&fields["rules"]).unwrap().0.len(), 1);
    receiver
        .0
        .receive(&vec![sample(&[("__name__", "m0")], 1.0)].into());
    assert_eq!(capture.take()[0][0].labels.get("x"), Some("y"));
}
