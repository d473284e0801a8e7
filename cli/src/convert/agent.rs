//! `--source-format=agent`: Grafana Agent metrics instances. The input is either the
//! scraping-service form (one instance configuration per YAML document: `name`,
//! `scrape_configs`, `remote_write` and the WAL settings) or a static-mode file whose
//! `metrics.configs` lists the instances. Each instance becomes its own pipeline,
//! labelled `metrics_<instance>_<job>`, writing to `prometheus.remote_write
//! "metrics_<instance>"`, as upstream's converter names them.

use super::pipeline::{convert_job, convert_remote_write, Globals, Pipeline};
use super::yaml::Node;
use super::{quote, Block, Ctx, Fields};
use alloy_syntax::value::format_go_duration;

/// The Agent's defaults for an instance's WAL and Alloy's for the `wal` block.
const MINUTE: i64 = 60_000_000_000;
const AGENT_TRUNCATE_FREQUENCY: i64 = 60 * MINUTE;
const AGENT_MIN_WAL_TIME: i64 = 5 * MINUTE;
const AGENT_MAX_WAL_TIME: i64 = 4 * 60 * MINUTE;
const ALLOY_TRUNCATE_FREQUENCY: i64 = 2 * 60 * MINUTE;
const ALLOY_MIN_KEEPALIVE: i64 = 5 * MINUTE;
const ALLOY_MAX_KEEPALIVE: i64 = 8 * 60 * MINUTE;

/// Settings a static-mode `metrics.global` gives every instance.
#[derive(Default)]
struct AgentGlobal<'n> {
    scrape: Globals,
    external_labels: Vec<(String, String)>,
    remote_write: Option<&'n Node>,
}

pub fn convert(ctx: &mut Ctx, docs: &[Node], out: &mut Pipeline) {
    for doc in docs {
        let is_static = matches!(&doc.kind, super::yaml::Kind::Map(entries)
            if entries.iter().any(|(k, _)| k.scalar() == Some("metrics")));
        if is_static {
            static_mode(ctx, doc, out);
        } else {
            instance(ctx, doc, &AgentGlobal::default(), out);
        }
    }
}

/// A static-mode file: only its `metrics` section is converted here.
fn static_mode(ctx: &mut Ctx, doc: &Node, out: &mut Pipeline) {
    let Some(mut top) = Fields::new(ctx, doc, "") else {
        return;
    };
    if let Some(metrics) = top.get("metrics") {
        if let Some(mut m) = Fields::new(ctx, metrics, "metrics") {
            let mut global = AgentGlobal::default();
            if let Some(g) = m.get("global") {
                if let Some(mut g) = Fields::new(ctx, g, "metrics global") {
                    if let Some(d) = g
                        .get("scrape_interval")
                        .and_then(|n| ctx.duration(n, "scrape_interval"))
                    {
                        global.scrape.scrape_interval = d;
                        global.scrape.scrape_timeout = global.scrape.scrape_timeout.min(d);
                    }
                    if let Some(d) = g
                        .get("scrape_timeout")
                        .and_then(|n| ctx.duration(n, "scrape_timeout"))
                    {
                        global.scrape.scrape_timeout = d;
                    }
                    global.external_labels = g
                        .get("external_labels")
                        .and_then(|n| ctx.string_map(n, "external_labels"))
                        .unwrap_or_default();
                    global.remote_write = g.get("remote_write");
                    g.finish(ctx);
                }
            }
            // Where the WAL lives is a command-line matter in Alloy (--storage.path).
            if m.get("wal_directory").is_some() {
                ctx.warn(
                    m.key_offset("wal_directory"),
                    "metrics wal_directory is not converted: Alloy keeps its WAL under --storage.path",
                );
            }
            if let Some(configs) = m.get("configs") {
                for node in ctx.seq(configs, "configs") {
                    instance(ctx, node, &global, out);
                }
            }
            m.finish(ctx);
        }
    }
    top.finish(ctx);
}

/// One instance configuration.
fn instance(ctx: &mut Ctx, node: &Node, global: &AgentGlobal, out: &mut Pipeline) {
    let Some(mut f) = Fields::new(ctx, node, "instance") else {
        return;
    };
    let name = match f.get("name").and_then(|n| ctx.string(n, "name")) {
        Some(name) => name,
        None => {
            ctx.error(f.offset, "instance: name is required");
            "default".to_string()
        }
    };
    if let Some(n) = f.get("host_filter") {
        if ctx.bool(n, "host_filter") == Some(true) {
            ctx.unsupported(f.key_offset("host_filter"), "instance host_filter");
        }
    }
    if let Some(n) = f.get("write_stale_on_shutdown") {
        if ctx.bool(n, "write_stale_on_shutdown") == Some(true) {
            ctx.unsupported(
                f.key_offset("write_stale_on_shutdown"),
                "instance write_stale_on_shutdown",
            );
        }
    }
    if f.get("remote_flush_deadline").is_some() {
        ctx.warn(
            f.key_offset("remote_flush_deadline"),
            "instance remote_flush_deadline is not converted: Alloy flushes on shutdown on its own terms",
        );
    }

    // The instance's WAL settings, kept where they differ from Alloy's defaults.
    let mut wal = Block::new("wal", None);
    for (key, agent_default, alloy_name, alloy_default) in [
        (
            "wal_truncate_frequency",
            AGENT_TRUNCATE_FREQUENCY,
            "truncate_frequency",
            ALLOY_TRUNCATE_FREQUENCY,
        ),
        (
            "min_wal_time",
            AGENT_MIN_WAL_TIME,
            "min_keepalive_time",
            ALLOY_MIN_KEEPALIVE,
        ),
        (
            "max_wal_time",
            AGENT_MAX_WAL_TIME,
            "max_keepalive_time",
            ALLOY_MAX_KEEPALIVE,
        ),
    ] {
        let value = f
            .get(key)
            .and_then(|n| ctx.duration(n, key))
            .unwrap_or(agent_default);
        if value != alloy_default {
            wal.attr(alloy_name, quote(&format_go_duration(value)));
        }
    }
    let wal = (!wal.body.is_empty()).then_some(wal);

    let remote_write = f.get("remote_write").or(global.remote_write);
    let receiver = convert_remote_write(
        ctx,
        out,
        remote_write,
        &format!("metrics_{name}"),
        &global.external_labels,
        wal,
    );
    if let Some(list) = f.get("scrape_configs") {
        for job in ctx.seq(list, "scrape_configs") {
            convert_job(
                ctx,
                out,
                job,
                &global.scrape,
                &format!("metrics_{name}_"),
                &receiver,
            );
        }
    }
    f.finish(ctx);
}
