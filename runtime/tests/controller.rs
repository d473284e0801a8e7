//! Controller behaviour with small test components: evaluation order, propagation,
//! coalescing, the no-change cut-off, graph errors and reloads.

use alloy_runtime::component::{
    Arguments, BoxFuture, Component, ExportsSink, Options, Registration, Registry, Stability,
};
use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_runtime::decode::Decoder;
use alloy_runtime::schema::{Attr, LabelRule, Schema, Ty};
use alloy_runtime::source::parse_sources;
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[Attr {
        name: "input",
        ty: Ty::Any,
        required: true,
    }],
    blocks: &[],
    free_form: false,
};

#[derive(Clone, PartialEq)]
struct Args {
    input: i64,
}

impl Arguments for Args {
    fn schema() -> &'static Schema {
        &SCHEMA
    }
    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        Ok(Args {
            input: d.required("input")?,
        })
    }
}

/// What the test components did, by ID: a log of events and the exports sinks.
#[derive(Default)]
struct Journal {
    events: Vec<String>,
    sinks: HashMap<String, ExportsSink>,
}

/// Each test uses its own ID prefix, so one journal serves all tests in parallel.
fn journal() -> &'static Mutex<Journal> {
    static J: OnceLock<Mutex<Journal>> = OnceLock::new();
    J.get_or_init(Default::default)
}

fn log(event: String) {
    journal().lock().unwrap().events.push(event);
}

fn events(prefix: &str) -> Vec<String> {
    journal()
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|e| e.contains(prefix))
        .cloned()
        .collect()
}

/// `test.pass "x" { input = N }` exports `{ output = N }`.
struct Pass {
    id: String,
    exports: ExportsSink,
}

fn publish(exports: &ExportsSink, n: i64) {
    exports(Value::object(BTreeMap::from([(
        "output".to_string(),
        Value::int(n),
    )])));
}

impl Component for Pass {
    type Arguments = Args;
    fn build(opts: Options, args: Args) -> Result<Self, String> {
        if args.input < 0 {
            return Err("input must not be negative".into());
        }
        log(format!("build {} {}", opts.id, args.input));
        journal()
            .lock()
            .unwrap()
            .sinks
            .insert(opts.id.clone(), opts.exports.clone());
        publish(&opts.exports, args.input);
        Ok(Pass {
            id: opts.id,
            exports: opts.exports,
        })
    }
    fn update(&self, args: Args) -> Result<(), String> {
        log(format!("update {} {}", self.id, args.input));
        publish(&self.exports, args.input);
        Ok(())
    }
    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            cancel.cancelled().await;
            log(format!("stop {}", self.id));
            Ok(())
        })
    }
}

fn registry() -> Registry {
    Registry::new([
        Registration::of::<Pass>("test.pass", Stability::GenerallyAvailable),
        Registration::of::<Pass>("test.experimental", Stability::Experimental),
    ])
}

fn controller() -> Controller {
    let base: BTreeMap<String, Value> = BTreeMap::new();
    Controller::new(registry(), Arc::new(base), ControllerOptions::default())
}

async fn load(c: &Controller, src: &str) -> Result<Vec<String>, Vec<String>> {
    let (files, diags) =
        parse_sources(vec![("main.alloy".into(), src.as_bytes().to_vec())]).expect("utf-8");
    assert!(diags.is_empty(), "{diags:?}");
    let index = alloy_syntax::diag::LineIndex::new(src);
    match c.load(files).await {
        Ok(report) => {
            let errors: Vec<String> = report.errors.iter().map(|d| d.one_line(&index)).collect();
            if errors.is_empty() {
                Ok(report.started)
            } else {
                Err(errors)
            }
        }
        Err(diags) => Err(diags.iter().map(|d| d.one_line(&index)).collect()),
    }
}

fn output(c: &Controller, id: &str) -> Option<i64> {
    let exports = c.node(id)?.exports();
    Some(exports.as_object()?.get("output")?.as_number()?.as_i64())
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn sink(id: &str) -> ExportsSink {
    journal().lock().unwrap().sinks[id].clone()
}

#[tokio::test]
async fn evaluates_dependencies_first_and_propagates_changes() {
    let c = controller();
    let src = r#"
test.pass "o1_c" { input = test.pass.o1_b.output + 1 }
test.pass "o1_b" { input = test.pass.o1_a.output * 10 }
test.pass "o1_a" { input = 1 }
"#;
    load(&c, src).await.unwrap();
    assert_eq!(
        events("build test.pass.o1_"),
        [
            "build test.pass.o1_a 1",
            "build test.pass.o1_b 10",
            "build test.pass.o1_c 11"
        ]
    );
    // A new export from the source flows down the chain.
    publish(&sink("test.pass.o1_a"), 2);
    eventually("c to see a's change", || {
        output(&c, "test.pass.o1_c") == Some(21)
    })
    .await;
    assert_eq!(output(&c, "test.pass.o1_b"), Some(20));
    c.shutdown();
}

#[tokio::test]
async fn unchanged_arguments_stop_propagation() {
    let c = controller();
    let src = r#"
test.pass "cut_a" { input = 1 }
test.pass "cut_b" { input = test.pass.cut_a.output * 0 }
test.pass "cut_c" { input = test.pass.cut_b.output + 5 }
"#;
    load(&c, src).await.unwrap();
    let before = c.evaluations();
    publish(&sink("test.pass.cut_a"), 7);
    // b is re-evaluated (its input is still 0, so no update) and c is never touched.
    eventually("b to be re-evaluated", || c.evaluations() > before).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(c.evaluations(), before + 1);
    assert!(events("update test.pass.cut_").is_empty());
    c.shutdown();
}

#[tokio::test]
async fn bursts_of_updates_coalesce() {
    let c = controller();
    let src = r#"
test.pass "burst_a" { input = 0 }
test.pass "burst_b" { input = test.pass.burst_a.output }
"#;
    load(&c, src).await.unwrap();
    let before = c.evaluations();
    let a = sink("test.pass.burst_a");
    for n in 1..=500 {
        publish(&a, n);
    }
    eventually("b to see the last value", || {
        output(&c, "test.pass.burst_b") == Some(500)
    })
    .await;
    let evaluations = c.evaluations() - before;
    assert!(
        evaluations < 500,
        "500 publishes should collapse, got {evaluations} evaluations"
    );
    c.shutdown();
}

#[tokio::test]
async fn graph_errors_are_all_reported_with_positions() {
    let c = controller();
    let src = "test.pass \"g_a\" { input = test.pass.g_b.output }\ntest.pass \"g_b\" { input = test.pass.g_a.output }\ntest.pass \"g_self\" { input = test.pass.g_self.output }\ntest.pass \"g_a\" { input = 1 }\nnope.missing \"x\" { input = 1 }\ntest.pass \"g_ref\" { input = no.such.thing }\ntest.experimental \"g_exp\" { input = 1 }\ntest.pass \"g_schema\" { inputs = 1 }\n";
    let errors = load(&c, src).await.unwrap_err();
    assert_eq!(
        errors,
        [
            "main.alloy:4:1: block test.pass.g_a already declared at main.alloy:1:1",
            "main.alloy:5:1: cannot find the definition of component name \"nope.missing\"",
            "main.alloy:7:1: component \"test.experimental\" is at stability level \"experimental\", which is below the minimum allowed stability level \"generally-available\". Use --stability.level command-line flag to enable \"experimental\" features",
            "main.alloy:8:24: unrecognized attribute name \"inputs\"",
            "main.alloy:8:1: missing required attribute \"input\"",
            "main.alloy:6:29: component \"no.such.thing\" does not exist or is out of scope",
            "main.alloy:1:1: cycle detected: test.pass.g_a, test.pass.g_b",
            "main.alloy:2:1: cycle detected: test.pass.g_a, test.pass.g_b",
            "main.alloy:3:1: cannot reference self",
        ]
    );
    assert!(c.nodes().is_empty(), "nothing may be installed");
    c.shutdown();
}

#[tokio::test]
async fn reload_updates_in_place_stops_removed_and_keeps_old_graph_on_error() {
    let c = controller();
    let v1 = "test.pass \"r_keep\" { input = 1 }\ntest.pass \"r_gone\" { input = 2 }\n";
    let started = load(&c, v1).await.unwrap();
    assert_eq!(started, ["test.pass.r_keep", "test.pass.r_gone"]);

    // A broken config changes nothing.
    let broken = "test.pass \"r_keep\" { input = missing.ref }\n";
    assert!(load(&c, broken).await.is_err());
    assert_eq!(output(&c, "test.pass.r_keep"), Some(1));
    assert!(c.node("test.pass.r_gone").is_some());

    // Same ID: updated in place, not rebuilt. Removed: stopped. New: built.
    let v2 = "test.pass \"r_keep\" { input = 3 }\ntest.pass \"r_new\" { input = 4 }\n";
    let started = load(&c, v2).await.unwrap();
    assert_eq!(started, ["test.pass.r_new"]);
    assert_eq!(output(&c, "test.pass.r_keep"), Some(3));
    assert_eq!(
        events("test.pass.r_keep"),
        ["build test.pass.r_keep 1", "update test.pass.r_keep 3"]
    );
    eventually("removed component to stop", || {
        events("stop test.pass.r_gone").len() == 1
    })
    .await;
    assert!(c.node("test.pass.r_gone").is_none());
    c.shutdown();
}

#[tokio::test]
async fn failed_evaluation_keeps_last_good_state_and_reports_unhealthy() {
    let c = controller();
    load(&c, "test.pass \"h_a\" { input = 1 }\n").await.unwrap();
    let errors = load(&c, "test.pass \"h_a\" { input = \"x\" }\n")
        .await
        .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let node = c.node("test.pass.h_a").unwrap();
    assert_eq!(output(&c, "test.pass.h_a"), Some(1));
    let health = node.health();
    assert_eq!(health.state.as_str(), "unhealthy");
    assert!(
        health.message.starts_with("component evaluation failed"),
        "{}",
        health.message
    );
    c.shutdown();
}
