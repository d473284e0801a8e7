//! `discovery.relabel`: rewrites a list of targets with relabel rules (COMPONENTS.md §3).
//! A pure function of its arguments: every Build and Update recomputes the exports, and
//! the controller passes them on only when they differ.

use crate::prometheus::relabel::{decode_rules, process, LabelBuilder, Rule, Rules, RULE_BLOCK};
use crate::prometheus::Labels;
use alloy_runtime::component::{Arguments, BoxFuture, Component, ExportsSink, Options};
use alloy_runtime::decode::Decoder;
use alloy_runtime::schema::{attr, LabelRule, Schema, Ty};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[attr!("targets", Ty::Array(&Ty::Map(&Ty::String)), required)],
    blocks: &[RULE_BLOCK],
    free_form: false,
};

/// Arguments of `discovery.relabel`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryRelabelArgs {
    /// Targets to relabel: each a map of label names to values.
    pub targets: Vec<BTreeMap<String, String>>,
    /// The `rule` blocks, applied to each target in order.
    pub rules: Vec<Rule>,
}

impl Arguments for DiscoveryRelabelArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        Ok(DiscoveryRelabelArgs {
            targets: d.required("targets")?,
            rules: decode_rules(d, "rule")?,
        })
    }
}

/// The running component: it only publishes.
pub struct DiscoveryRelabel {
    exports: ExportsSink,
}

/// Relabels every target; dropped targets are left out. Labels starting with `__`
/// stay, as upstream keeps them for later stages (scrape drops them itself).
pub fn relabel_targets(targets: &[BTreeMap<String, String>], rules: &[Rule]) -> Vec<Labels> {
    let mut lb = LabelBuilder::default();
    targets
        .iter()
        .filter_map(|t| {
            let labels = Labels::from_pairs(t.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            lb.reset(labels);
            process(&mut lb, rules).then(|| lb.labels())
        })
        .collect()
}

fn exports_of(args: &DiscoveryRelabelArgs) -> Value {
    let output = relabel_targets(&args.targets, &args.rules)
        .into_iter()
        .map(|labels| {
            Value::object(
                labels
                    .iter()
                    .map(|l| (l.name.to_string(), Value::string(l.value.clone())))
                    .collect(),
            )
        })
        .collect();
    let rules = Rules(Arc::from(args.rules.clone()));
    Value::object(BTreeMap::from([
        ("output".to_string(), Value::array(output)),
        ("rules".to_string(), rules.to_value()),
    ]))
}

impl Component for DiscoveryRelabel {
    type Arguments = DiscoveryRelabelArgs;

    fn build(opts: Options, args: DiscoveryRelabelArgs) -> Result<Self, String> {
        (opts.exports)(exports_of(&args));
        Ok(DiscoveryRelabel {
            exports: opts.exports,
        })
    }

    fn update(&self, args: DiscoveryRelabelArgs) -> Result<(), String> {
        (self.exports)(exports_of(&args));
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            cancel.cancelled().await;
            Ok(())
        })
    }
}
