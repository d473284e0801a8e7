//! Startup to ready: parse a generated configuration of 1,000 components, plan the
//! graph (references, cycles, schema checks), evaluate every node in dependency order
//! and start every component task. Issue target: at most 50 ms.

use alloy_runtime::component::{
    Arguments, BoxFuture, Component, Options, Registration, Registry, Stability,
};
use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_runtime::decode::{AnyValue, Decoder};
use alloy_runtime::schema::{attr, LabelRule, Schema, Ty};
use alloy_runtime::source::parse_sources;
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        attr!("inputs", Ty::Array(&Ty::Any), required),
        attr!("labels", Ty::Map(&Ty::String)),
    ],
    blocks: &[],
    free_form: false,
};

#[derive(Clone, PartialEq)]
struct Args {
    inputs: Vec<AnyValue>,
    labels: BTreeMap<String, String>,
}

impl Arguments for Args {
    fn schema() -> &'static Schema {
        &SCHEMA
    }
    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        Ok(Args {
            inputs: d.required::<Vec<AnyValue>>("inputs")?,
            labels: d.attr_or("labels", BTreeMap::new())?,
        })
    }
}

/// Exports `{ output = len(inputs) }`; runs until cancelled.
struct Node;

impl Component for Node {
    type Arguments = Args;
    fn build(opts: Options, args: Args) -> Result<Self, String> {
        (opts.exports)(Value::object(BTreeMap::from([(
            "output".to_string(),
            Value::int(args.inputs.len() as i64),
        )])));
        Ok(Node)
    }
    fn update(&self, _: Args) -> Result<(), String> {
        Ok(())
    }
    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            cancel.cancelled().await;
            Ok(())
        })
    }
}

/// 1,000 components: ten roots, each later one referencing two earlier ones, with a
/// label map and a string.format call, like a pipeline wiring discovery to scrapes.
fn config(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let inputs = if i < 10 {
            "[1, 2, 3]".to_string()
        } else {
            format!(
                "[bench.node.n{}.output, bench.node.n{}.output]",
                i / 2,
                i - 1
            )
        };
        out.push_str(&format!(
            "bench.node \"n{i}\" {{\n\tinputs = {inputs}\n\tlabels = {{\n\t\tjob = string.format(\"job-%d\", {i}),\n\t\tenv = \"prod\",\n\t}}\n}}\n\n"
        ));
    }
    out
}

fn startup(c: &mut Criterion) {
    let registry = Registry::new([Registration::of::<Node>(
        "bench.node",
        Stability::GenerallyAvailable,
    )]);
    let text = config(1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    c.bench_function("startup_1000_components", |b| {
        b.iter(|| {
            rt.block_on(async {
                let controller = Controller::new(
                    registry.clone(),
                    Arc::new(alloy_stdlib::Stdlib::new()),
                    ControllerOptions::default(),
                );
                let (files, diags) =
                    parse_sources(vec![("bench.alloy".into(), text.clone().into_bytes())])
                        .expect("utf-8");
                assert!(diags.is_empty());
                let report = controller.load(files).await.expect("loads");
                assert!(report.errors.is_empty(), "{:?}", report.errors);
                assert_eq!(report.started.len(), 1000);
                controller.shutdown();
            })
        })
    });
}

criterion_group!(benches, startup);
criterion_main!(benches);
