//! `--source-format=prometheus`: a Prometheus server configuration. `global` supplies
//! scrape defaults and external labels, every `scrape_configs` entry becomes a
//! pipeline (see [`super::pipeline`]) and all of `remote_write` goes into one
//! `prometheus.remote_write "default"`. Rules, alerting, remote read, storage and
//! tracing have no Alloy counterpart here and are reported.

use super::pipeline::{convert_job, convert_remote_write, Globals, Pipeline};
use super::yaml::Node;
use super::{Ctx, Fields};

/// Converts the first document of a Prometheus configuration.
pub fn convert(ctx: &mut Ctx, docs: &[Node], out: &mut Pipeline) {
    let Some(doc) = docs.first() else {
        // An empty file is an empty configuration, as Prometheus reads it.
        convert_remote_write(ctx, out, None, "default", &[], None);
        return;
    };
    for extra in &docs[1..] {
        ctx.error(
            extra.offset,
            "a Prometheus configuration is one YAML document; later documents are not converted",
        );
    }
    let Some(mut f) = Fields::new(ctx, doc, "") else {
        return;
    };
    let (globals, external_labels) = match f.get("global") {
        Some(node) => global(ctx, node),
        None => (Globals::default(), Vec::new()),
    };
    let remote_write = f.get("remote_write");
    // Remote write is built first so scrapes know its receiver; it prints last.
    let receiver = convert_remote_write(ctx, out, remote_write, "default", &external_labels, None);
    if let Some(list) = f.get("scrape_configs") {
        for job in ctx.seq(list, "scrape_configs") {
            convert_job(ctx, out, job, &globals, "", &receiver);
        }
    }
    // Everything else (rule_files, alerting, remote_read, storage, tracing...) has no
    // counterpart here and is reported by finish.
    f.finish(ctx);
}

/// The `global` section: scrape defaults and external labels.
fn global(ctx: &mut Ctx, node: &Node) -> (Globals, Vec<(String, String)>) {
    let mut globals = Globals::default();
    let Some(mut g) = Fields::new(ctx, node, "global") else {
        return (globals, Vec::new());
    };
    if let Some(d) = g
        .get("scrape_interval")
        .and_then(|n| ctx.duration(n, "scrape_interval"))
    {
        globals.scrape_interval = d;
        // Prometheus lowers the default timeout to a shorter global interval.
        if globals.scrape_timeout > d {
            globals.scrape_timeout = d;
        }
    }
    if let Some(d) = g
        .get("scrape_timeout")
        .and_then(|n| ctx.duration(n, "scrape_timeout"))
    {
        globals.scrape_timeout = d;
    }
    // The evaluation interval only matters for rules, which are reported anyway;
    // Prometheus' default is accepted silently as upstream does.
    if let Some(n) = g.get("evaluation_interval") {
        if ctx.duration(n, "evaluation_interval") != Some(60_000_000_000) {
            ctx.unsupported(
                g.key_offset("evaluation_interval"),
                "global evaluation_interval",
            );
        }
    }
    let external_labels = g
        .get("external_labels")
        .and_then(|n| ctx.string_map(n, "external_labels"))
        .unwrap_or_default();
    g.finish(ctx);
    (globals, external_labels)
}
