//! The parts Prometheus and Grafana Agent configurations share: a scrape job becomes
//! discovery components, a `discovery.relabel`, a `prometheus.scrape` and a
//! `prometheus.relabel`; a `remote_write` list becomes one `prometheus.remote_write`
//! with an `endpoint` per entry. Values equal to Alloy's defaults are left out.

use super::yaml::Node;
use super::{object, quote, quote_regex, sanitize_label, string_list, Block, Ctx, Fields};
use alloy_syntax::value::format_go_duration;
use std::collections::HashSet;

/// Alloy's `prometheus.scrape` defaults (and Prometheus' global ones).
pub const DEFAULT_SCRAPE_INTERVAL: i64 = 60_000_000_000;
pub const DEFAULT_SCRAPE_TIMEOUT: i64 = 10_000_000_000;

/// The components produced so far, grouped by kind in the order upstream prints them.
#[derive(Default)]
pub struct Pipeline {
    discovery: Vec<Block>,
    discovery_relabel: Vec<Block>,
    scrape: Vec<Block>,
    relabel: Vec<Block>,
    remote_write: Vec<Block>,
    labels: HashSet<(String, String)>,
}

impl Pipeline {
    /// A label for a new `component` based on `wanted`, made unique with `_2`, `_3`...
    pub fn label(&mut self, component: &str, wanted: &str) -> String {
        let base = sanitize_label(wanted);
        let mut label = base.clone();
        let mut n = 2;
        while !self.labels.insert((component.to_string(), label.clone())) {
            label = format!("{base}_{n}");
            n += 1;
        }
        label
    }

    pub fn into_blocks(self) -> Vec<Block> {
        let mut out = self.discovery;
        out.extend(self.discovery_relabel);
        out.extend(self.scrape);
        out.extend(self.relabel);
        out.extend(self.remote_write);
        out
    }
}

/// Settings from the `global` section that jobs inherit.
#[derive(Debug, Clone)]
pub struct Globals {
    pub scrape_interval: i64,
    pub scrape_timeout: i64,
}

impl Default for Globals {
    fn default() -> Globals {
        Globals {
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
        }
    }
}

fn duration_expr(nanos: i64) -> String {
    quote(&format_go_duration(nanos))
}

/// Converts one `scrape_configs` entry. `prefix` goes in front of the job name in
/// component labels (the Agent's instance name); `forward_to` is the receiver the
/// scraped samples finally go to.
pub fn convert_job(
    ctx: &mut Ctx,
    out: &mut Pipeline,
    node: &Node,
    globals: &Globals,
    prefix: &str,
    forward_to: &str,
) {
    let Some(mut f) = Fields::new(ctx, node, "scrape_configs") else {
        return;
    };
    let Some(job_name) = f.get("job_name").and_then(|n| ctx.string(n, "job_name")) else {
        ctx.error(f.offset, "scrape_configs: job_name is required");
        f.finish(ctx);
        return;
    };
    let wanted = format!("{prefix}{job_name}");

    // Targets: one array per static target and one reference per discovery,
    // concatenated when there is more than one.
    let mut statics: Vec<String> = Vec::new();
    if let Some(list) = f.get("static_configs") {
        for sc in ctx.seq(list, "static_configs") {
            let Some(mut s) = Fields::new(ctx, sc, "static_configs") else {
                continue;
            };
            let targets = s
                .get("targets")
                .and_then(|n| ctx.string_list(n, "targets"))
                .unwrap_or_default();
            let labels = s
                .get("labels")
                .and_then(|n| ctx.string_map(n, "labels"))
                .unwrap_or_default();
            s.finish(ctx);
            for target in targets {
                let mut entries: Vec<(String, String)> = labels
                    .iter()
                    .filter(|(k, _)| k != "__address__")
                    .map(|(k, v)| (k.clone(), quote(v)))
                    .collect();
                entries.push(("__address__".to_string(), quote(&target)));
                entries.sort();
                statics.push(format!("[{}]", object(&entries)));
            }
        }
    }
    // Discovered targets come first, then the static ones, as upstream orders them.
    let mut sources: Vec<String> = Vec::new();
    if let Some(list) = f.get("http_sd_configs") {
        for sd in ctx.seq(list, "http_sd_configs") {
            let Some(mut s) = Fields::new(ctx, sd, "http_sd_configs") else {
                continue;
            };
            let label = out.label("discovery.http", &wanted);
            let mut block = Block::new("discovery.http", Some(&label));
            match s.get("url").and_then(|n| ctx.string(n, "url")) {
                Some(url) => block.attr("url", quote(&url)),
                None => ctx.error(s.offset, "http_sd_configs: url is required"),
            }
            if let Some(d) = s
                .get("refresh_interval")
                .and_then(|n| ctx.duration(n, "refresh_interval"))
            {
                if d != DEFAULT_SCRAPE_INTERVAL {
                    block.attr("refresh_interval", duration_expr(d));
                }
            }
            http_client(ctx, &mut s, &mut block);
            s.finish(ctx);
            out.discovery.push(block);
            sources.push(format!("discovery.http.{label}.targets"));
        }
    }
    sources.extend(statics);
    let targets = match sources.len() {
        0 => "[]".to_string(),
        1 => sources.pop().unwrap_or_default(),
        _ => format!("array.concat(\n{},\n)", sources.join(",\n")),
    };

    let targets = match f.get("relabel_configs") {
        Some(list) => {
            let label = out.label("discovery.relabel", &wanted);
            let mut block = Block::new("discovery.relabel", Some(&label));
            block.attr("targets", targets);
            relabel_rules(ctx, list, "relabel_configs", "rule", &mut block);
            out.discovery_relabel.push(block);
            format!("discovery.relabel.{label}.output")
        }
        None => targets,
    };

    let scrape_label = out.label("prometheus.scrape", &wanted);
    let mut scrape_forward = forward_to.to_string();
    if let Some(list) = f.get("metric_relabel_configs") {
        let label = out.label("prometheus.relabel", &wanted);
        let mut block = Block::new("prometheus.relabel", Some(&label));
        block.attr("forward_to", format!("[{forward_to}]"));
        relabel_rules(ctx, list, "metric_relabel_configs", "rule", &mut block);
        out.relabel.push(block);
        scrape_forward = format!("prometheus.relabel.{label}.receiver");
    }

    let mut scrape = Block::new("prometheus.scrape", Some(&scrape_label));
    scrape.attr("targets", targets);
    scrape.attr("forward_to", format!("[{scrape_forward}]"));
    scrape.attr("job_name", quote(&job_name));
    for key in [
        "honor_labels",
        "honor_timestamps",
        "track_timestamps_staleness",
    ] {
        let default = key == "honor_timestamps";
        if let Some(v) = f.get(key).and_then(|n| ctx.bool(n, key)) {
            if v != default {
                scrape.attr(key, v.to_string());
            }
        }
    }
    if let Some(params) = f.get("params").and_then(|n| ctx.list_map(n, "params")) {
        let entries: Vec<(String, String)> = params
            .into_iter()
            .map(|(k, v)| (k, string_list(&v)))
            .collect();
        scrape.attr("params", object(&entries));
    }
    if let Some(v) = f
        .get("scrape_classic_histograms")
        .and_then(|n| ctx.bool(n, "scrape_classic_histograms"))
    {
        if v {
            scrape.attr("scrape_classic_histograms", "true");
        }
    }
    // Prometheus' rule: a job's interval defaults to the global one, its timeout to
    // the global timeout but never more than the interval.
    let interval = f
        .get("scrape_interval")
        .and_then(|n| ctx.duration(n, "scrape_interval"))
        .unwrap_or(globals.scrape_interval);
    let timeout = f
        .get("scrape_timeout")
        .and_then(|n| ctx.duration(n, "scrape_timeout"))
        .unwrap_or(globals.scrape_timeout.min(interval));
    if interval != DEFAULT_SCRAPE_INTERVAL {
        scrape.attr("scrape_interval", duration_expr(interval));
    }
    if timeout != DEFAULT_SCRAPE_TIMEOUT {
        scrape.attr("scrape_timeout", duration_expr(timeout));
    }
    for (key, default) in [("metrics_path", "/metrics"), ("scheme", "http")] {
        if let Some(v) = f.get(key).and_then(|n| ctx.string(n, key)) {
            if v != default {
                scrape.attr(key, quote(&v));
            }
        }
    }
    if let Some(v) = f
        .get("body_size_limit")
        .and_then(|n| ctx.string(n, "body_size_limit"))
    {
        if v != "0" {
            scrape.attr("body_size_limit", quote(&v));
        }
    }
    for key in [
        "sample_limit",
        "target_limit",
        "label_limit",
        "label_name_length_limit",
        "label_value_length_limit",
    ] {
        if let Some(v) = f.get(key).and_then(|n| ctx.uint(n, key)) {
            if v != 0 {
                scrape.attr(key, v.to_string());
            }
        }
    }
    if let Some(v) = f
        .get("scrape_protocols")
        .and_then(|n| ctx.string_list(n, "scrape_protocols"))
    {
        scrape.attr("scrape_protocols", string_list(&v));
    }
    if let Some(v) = f
        .get("fallback_scrape_protocol")
        .and_then(|n| ctx.string(n, "fallback_scrape_protocol"))
    {
        scrape.attr("scrape_fallback_protocol", quote(&v));
    }
    if let Some(v) = f
        .get("enable_compression")
        .and_then(|n| ctx.bool(n, "enable_compression"))
    {
        if !v {
            scrape.attr("enable_compression", "false");
        }
    }
    http_client(ctx, &mut f, &mut scrape);
    f.finish(ctx);
    out.scrape.push(scrape);
}

/// Relabel rules from a `relabel_configs`-shaped list, as `block_name` blocks, with
/// Prometheus' defaults left out.
pub fn relabel_rules(
    ctx: &mut Ctx,
    list: &Node,
    section: &str,
    block_name: &str,
    into: &mut Block,
) {
    for rule in ctx.seq(list, section) {
        let Some(mut r) = Fields::new(ctx, rule, section) else {
            continue;
        };
        let mut block = Block::new(block_name, None);
        if let Some(v) = r
            .get("source_labels")
            .and_then(|n| ctx.string_list(n, "source_labels"))
        {
            block.attr("source_labels", string_list(&v));
        }
        if let Some(v) = r.get("separator").and_then(|n| ctx.string(n, "separator")) {
            if v != ";" {
                block.attr("separator", quote(&v));
            }
        }
        if let Some(v) = r.get("regex").and_then(|n| ctx.string(n, "regex")) {
            if v != "(.*)" {
                block.attr("regex", quote_regex(&v));
            }
        }
        if let Some(v) = r.get("modulus").and_then(|n| ctx.uint(n, "modulus")) {
            block.attr("modulus", v.to_string());
        }
        if let Some(v) = r
            .get("target_label")
            .and_then(|n| ctx.string(n, "target_label"))
        {
            block.attr("target_label", quote(&v));
        }
        if let Some(v) = r
            .get("replacement")
            .and_then(|n| ctx.string(n, "replacement"))
        {
            if v != "$1" {
                block.attr("replacement", quote(&v));
            }
        }
        if let Some(v) = r.get("action").and_then(|n| ctx.string(n, "action")) {
            let v = v.to_lowercase();
            if v != "replace" {
                block.attr("action", quote(&v));
            }
        }
        r.finish(ctx);
        into.block(block);
    }
}

/// Converts Prometheus' HTTP client settings found in `f` onto `block` (squashed, as
/// `prometheus.scrape`, `discovery.http` and remote-write endpoints take them).
pub fn http_client(ctx: &mut Ctx, f: &mut Fields, block: &mut Block) {
    if let Some(v) = f
        .get("bearer_token")
        .and_then(|n| ctx.string(n, "bearer_token"))
    {
        block.attr("bearer_token", quote(&v));
    }
    if let Some(v) = f
        .get("bearer_token_file")
        .and_then(|n| ctx.string(n, "bearer_token_file"))
    {
        block.attr("bearer_token_file", quote(&v));
    }
    for key in ["follow_redirects", "enable_http2"] {
        if let Some(v) = f.get(key).and_then(|n| ctx.bool(n, key)) {
            if !v {
                block.attr(key, "false");
            }
        }
    }
    proxy(ctx, f, block);
    if f.get("http_headers").is_some() {
        ctx.unsupported(f.key_offset("http_headers"), "HTTP Client http_headers");
    }
    if let Some(n) = f.get("basic_auth") {
        if let Some(mut b) = Fields::new(ctx, n, "basic_auth") {
            let mut out = Block::new("basic_auth", None);
            for key in ["username", "password", "password_file"] {
                if let Some(v) = b.get(key).and_then(|n| ctx.string(n, key)) {
                    out.attr(key, quote(&v));
                }
            }
            if b.get("username_file").is_some() {
                ctx.unsupported(b.key_offset("username_file"), "basic_auth username_file");
            }
            b.finish(ctx);
            block.block(out);
        }
    }
    if let Some(n) = f.get("authorization") {
        if let Some(mut a) = Fields::new(ctx, n, "authorization") {
            let mut out = Block::new("authorization", None);
            for key in ["type", "credentials", "credentials_file"] {
                if let Some(v) = a.get(key).and_then(|n| ctx.string(n, key)) {
                    out.attr(key, quote(&v));
                }
            }
            a.finish(ctx);
            block.block(out);
        }
    }
    if let Some(n) = f.get("oauth2") {
        if let Some(mut o) = Fields::new(ctx, n, "oauth2") {
            let mut out = Block::new("oauth2", None);
            for key in [
                "client_id",
                "client_secret",
                "client_secret_file",
                "token_url",
            ] {
                if let Some(v) = o.get(key).and_then(|n| ctx.string(n, key)) {
                    out.attr(key, quote(&v));
                }
            }
            if let Some(v) = o.get("scopes").and_then(|n| ctx.string_list(n, "scopes")) {
                out.attr("scopes", string_list(&v));
            }
            if let Some(v) = o
                .get("endpoint_params")
                .and_then(|n| ctx.string_map(n, "endpoint_params"))
            {
                let entries: Vec<(String, String)> =
                    v.into_iter().map(|(k, v)| (k, quote(&v))).collect();
                out.attr("endpoint_params", object(&entries));
            }
            proxy(ctx, &mut o, &mut out);
            tls(ctx, &mut o, &mut out);
            o.finish(ctx);
            block.block(out);
        }
    }
    tls(ctx, f, block);
}

fn proxy(ctx: &mut Ctx, f: &mut Fields, block: &mut Block) {
    for key in ["proxy_url", "no_proxy"] {
        if let Some(v) = f.get(key).and_then(|n| ctx.string(n, key)) {
            block.attr(key, quote(&v));
        }
    }
    if let Some(v) = f
        .get("proxy_from_environment")
        .and_then(|n| ctx.bool(n, "proxy_from_environment"))
    {
        if v {
            block.attr("proxy_from_environment", "true");
        }
    }
    if let Some(v) = f
        .get("proxy_connect_header")
        .and_then(|n| ctx.list_map(n, "proxy_connect_header"))
    {
        let entries: Vec<(String, String)> =
            v.into_iter().map(|(k, v)| (k, string_list(&v))).collect();
        block.attr("proxy_connect_header", object(&entries));
    }
}

fn tls(ctx: &mut Ctx, f: &mut Fields, block: &mut Block) {
    let Some(n) = f.get("tls_config") else {
        return;
    };
    let Some(mut t) = Fields::new(ctx, n, "tls_config") else {
        return;
    };
    let mut out = Block::new("tls_config", None);
    for (from, to) in [
        ("ca", "ca_pem"),
        ("ca_file", "ca_file"),
        ("cert", "cert_pem"),
        ("cert_file", "cert_file"),
        ("key", "key_pem"),
        ("key_file", "key_file"),
        ("server_name", "server_name"),
        ("min_version", "min_version"),
    ] {
        if let Some(v) = t.get(from).and_then(|n| ctx.string(n, from)) {
            out.attr(to, quote(&v));
        }
    }
    if let Some(v) = t
        .get("insecure_skip_verify")
        .and_then(|n| ctx.bool(n, "insecure_skip_verify"))
    {
        if v {
            out.attr("insecure_skip_verify", "true");
        }
    }
    t.finish(ctx);
    if !out.body.is_empty() {
        block.block(out);
    }
}

/// Converts a `remote_write` list into `prometheus.remote_write "label"` and returns
/// its receiver expression. `wal` is the Agent's per-instance WAL settings, if any.
pub fn convert_remote_write(
    ctx: &mut Ctx,
    out: &mut Pipeline,
    list: Option<&Node>,
    label: &str,
    external_labels: &[(String, String)],
    wal: Option<Block>,
) -> String {
    let label = out.label("prometheus.remote_write", label);
    let mut rw = Block::new("prometheus.remote_write", Some(&label));
    if !external_labels.is_empty() {
        let entries: Vec<(String, String)> = external_labels
            .iter()
            .map(|(k, v)| (k.clone(), quote(v)))
            .collect();
        rw.attr("external_labels", object(&entries));
    }
    if let Some(list) = list {
        for node in ctx.seq(list, "remote_write") {
            if let Some(endpoint) = endpoint(ctx, node) {
                rw.block(endpoint);
            }
        }
    }
    if let Some(wal) = wal {
        rw.block(wal);
    }
    out.remote_write.push(rw);
    format!("prometheus.remote_write.{label}.receiver")
}

fn endpoint(ctx: &mut Ctx, node: &Node) -> Option<Block> {
    let mut f = Fields::new(ctx, node, "remote_write")?;
    let mut out = Block::new("endpoint", None);
    if let Some(v) = f.get("name").and_then(|n| ctx.string(n, "name")) {
        out.attr("name", quote(&v));
    }
    match f.get("url").and_then(|n| ctx.string(n, "url")) {
        Some(v) => out.attr("url", quote(&v)),
        None => ctx.error(f.offset, "remote_write: url is required"),
    }
    if let Some(v) = f
        .get("remote_timeout")
        .and_then(|n| ctx.duration(n, "remote_timeout"))
    {
        if v != 30_000_000_000 {
            out.attr("remote_timeout", duration_expr(v));
        }
    }
    if let Some(v) = f.get("headers").and_then(|n| ctx.string_map(n, "headers")) {
        let entries: Vec<(String, String)> = v.into_iter().map(|(k, v)| (k, quote(&v))).collect();
        out.attr("headers", object(&entries));
    }
    for key in [
        "send_exemplars",
        "send_native_histograms",
        "round_robin_dns",
    ] {
        if let Some(v) = f.get(key).and_then(|n| ctx.bool(n, key)) {
            if v {
                out.attr(key, "true");
            }
        }
    }
    if let Some(v) = f
        .get("protobuf_message")
        .and_then(|n| ctx.string(n, "protobuf_message"))
    {
        out.attr("protobuf_message", quote(&v));
    }
    http_client(ctx, &mut f, &mut out);

    let mut queue = Block::new("queue_config", None);
    if let Some(n) = f.get("queue_config") {
        if let Some(mut q) = Fields::new(ctx, n, "queue_config") {
            for (key, default) in [
                ("capacity", 10_000),
                ("max_shards", 50),
                ("min_shards", 1),
                ("max_samples_per_send", 2_000),
            ] {
                if let Some(v) = q.get(key).and_then(|n| ctx.uint(n, key)) {
                    if v != default {
                        queue.attr(key, v.to_string());
                    }
                }
            }
            for (key, default) in [
                ("batch_send_deadline", 5_000_000_000),
                ("min_backoff", 30_000_000),
                ("max_backoff", 5_000_000_000),
                ("sample_age_limit", 0),
            ] {
                if let Some(v) = q.get(key).and_then(|n| ctx.duration(n, key)) {
                    if v != default {
                        queue.attr(key, duration_expr(v));
                    }
                }
            }
            if let Some(v) = q
                .get("retry_on_http_429")
                .and_then(|n| ctx.bool(n, "retry_on_http_429"))
            {
                if !v {
                    queue.attr("retry_on_http_429", "false");
                }
            }
            q.finish(ctx);
        }
    }
    out.block(queue);

    let mut metadata = Block::new("metadata_config", None);
    if let Some(n) = f.get("metadata_config") {
        if let Some(mut m) = Fields::new(ctx, n, "metadata_config") {
            if let Some(v) = m.get("send").and_then(|n| ctx.bool(n, "send")) {
                if !v {
                    metadata.attr("send", "false");
                }
            }
            if let Some(v) = m
                .get("send_interval")
                .and_then(|n| ctx.duration(n, "send_interval"))
            {
                if v != DEFAULT_SCRAPE_INTERVAL {
                    metadata.attr("send_interval", duration_expr(v));
                }
            }
            if let Some(v) = m
                .get("max_samples_per_send")
                .and_then(|n| ctx.uint(n, "max_samples_per_send"))
            {
                if v != 2_000 {
                    metadata.attr("max_samples_per_send", v.to_string());
                }
            }
            m.finish(ctx);
        }
    }
    out.block(metadata);

    if let Some(list) = f.get("write_relabel_configs") {
        relabel_rules(
            ctx,
            list,
            "write_relabel_configs",
            "write_relabel_config",
            &mut out,
        );
    }
    f.finish(ctx);
    Some(out)
}
