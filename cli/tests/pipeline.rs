//! The Prometheus pipeline end to end with real peers on 127.0.0.1: Debian's
//! node_exporter as the target, Debian's Prometheus as the remote-write receiver, and
//! `ferroalloy run` in between. Samples queried back from Prometheus must carry the
//! right `job`, `instance` and external labels. The seed scenario (a classic module
//! fetched by `import.http` with an `arguments` block, discovering its targets over HTTP
//! SD and writing through its own `prometheus.remote_write`) runs the same way.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, http, peer_binary, serve_http, work_dir, Peer, Running};

/// A tiny HTTP server on 127.0.0.1 answering each path from `routes` (path → (content
/// type, body)); runs until the test process ends.
fn serve(routes: Vec<(String, &'static str, String)>) -> String {
    let addr = serve_http(move |path| {
        routes
            .iter()
            .find(|(p, _, _)| p == path)
            .map(|(_, content_type, body)| (*content_type, body.clone()))
    });
    format!("http://{addr}")
}

/// Starts node_exporter and a Prometheus remote-write receiver; `None` when the
/// Debian packages are absent outside CI.
fn peers(dir: &std::path::Path) -> Option<(Peer, Peer, u16, String)> {
    let prometheus = peer_binary("prometheus")?;
    let node_exporter = peer_binary("prometheus-node-exporter")?;
    let exporter_port = free_port();
    let exporter = spawn(
        &node_exporter,
        &[format!("--web.listen-address=127.0.0.1:{exporter_port}")],
    );
    let prom_port = free_port();
    std::fs::write(dir.join("prometheus.yml"), "global: {}\n").unwrap();
    let prom = spawn(
        &prometheus,
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
            "--web.enable-remote-write-receiver".into(),
        ],
    );
    Some((
        exporter,
        prom,
        exporter_port,
        format!("http://127.0.0.1:{prom_port}"),
    ))
}

/// Starts a peer with its output thrown away.
fn spawn(bin: &std::path::Path, args: &[String]) -> Peer {
    Peer(
        Command::new(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("peer starts"),
    )
}

/// Runs a PromQL instant query until `check` accepts the result vector (at most 60 s).
fn query_until(
    base: &str,
    promql: &str,
    check: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let client = http();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        let url =
            reqwest::Url::parse_with_params(&format!("{base}/api/v1/query"), [("query", promql)])
                .expect("query URL");
        if let Ok(resp) = client.get(url).send() {
            last = resp.text().unwrap_or_default();
            if let Ok(body) = serde_json::from_str::<serde_json::Value>(&last) {
                if let Some(result) = body["data"]["result"].as_array() {
                    if check(result) {
                        return result.clone();
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{promql}: no acceptable answer within 60 s; last: {last}");
}

#[test]
fn scrapes_node_exporter_into_prometheus() {
    let dir = work_dir("pipeline");
    let Some((_exporter, _prometheus, exporter_port, prom)) = peers(&dir) else {
        return;
    };

    let config = format!(
        r#"prometheus.scrape "node" {{
	targets         = [{{"__address__" = "127.0.0.1:{exporter_port}", "team" = "infra"}}]
	forward_to      = [prometheus.remote_write.prom.receiver]
	scrape_interval = "1s"
	scrape_timeout  = "900ms"
}}

prometheus.remote_write "prom" {{
	external_labels = {{"cluster" = "e2e"}}

	endpoint {{
		url = "{prom}/api/v1/write"

		queue_config {{
			batch_send_deadline = "500ms"
		}}
	}}
}}
"#
    );
    std::fs::write(dir.join("config.alloy"), config).unwrap();
    let mut run = Running::start(&dir);
    run.wait_for("ferroalloy is running");

    let instance = format!("127.0.0.1:{exporter_port}");
    let up = query_until(&prom, r#"up{job="prometheus.scrape.node"}"#, |r| {
        r.iter().any(|s| s["value"][1] == "1")
    });
    let labels = &up[0]["metric"];
    assert_eq!(labels["instance"], instance.as_str(), "{labels}");
    assert_eq!(labels["cluster"], "e2e", "{labels}");
    assert_eq!(labels["team"], "infra", "{labels}");
    // The exporter's own series arrive with the same target labels.
    let cpu = query_until(
        &prom,
        r#"count by (job, instance, cluster) (node_cpu_seconds_total{job="prometheus.scrape.node"})"#,
        |r| !r.is_empty(),
    );
    assert_eq!(cpu[0]["metric"]["instance"], instance.as_str());
    assert!(
        cpu[0]["value"][1].as_str().unwrap().parse::<u32>().unwrap() >= 1,
        "{cpu:?}"
    );
    run.signal("TERM");
    let _ = run.child.wait();
}

#[test]
fn the_seed_scenario_runs() {
    let dir = work_dir("seed");
    let Some((_exporter, _prometheus, exporter_port, prom)) = peers(&dir) else {
        return;
    };
    // The served module: a whole configuration with a top-level argument and an
    // `output` block, as in the Grafana blog's seed configuration.
    let module = r#"argument "api_url_base" { }

argument "remote_write_url" { }

discovery.http "cloudwatch" {
  url = format("%s/targets/cloudwatch", argument.api_url_base.value)
}

prometheus.scrape "cloudwatch" {
  targets          = discovery.http.cloudwatch.targets
  forward_to       = [prometheus.remote_write.cloudwatch.receiver]
  honor_timestamps = false
  scrape_interval  = "1s"
  scrape_timeout   = "900ms"

  clustering {
    enabled = true
  }
}

prometheus.remote_write "cloudwatch" {
  endpoint {
    url = argument.remote_write_url.value

    queue_config {
      batch_send_deadline = "500ms"
    }
  }
}

output "targets" {
  value = discovery.http.cloudwatch.targets
}
"#;
    let targets = format!(
        r#"[{{"targets": ["127.0.0.1:{exporter_port}"], "labels": {{"service": "cloudwatch"}}}}]"#
    );
    let base = serve(vec![
        (
            "/modules/cloudwatch.alloy".into(),
            "text/plain",
            module.into(),
        ),
        ("/targets/cloudwatch".into(), "application/json", targets),
    ]);
    let config = format!(
        r#"import.http "cloudwatch" {{
	url            = "{base}/modules/cloudwatch.alloy"
	poll_frequency = "10s"
	poll_timeout   = "2s"

	arguments {{
		api_url_base     = "{base}"
		remote_write_url = "{prom}/api/v1/write"
	}}
}}
"#
    );
    std::fs::write(dir.join("config.alloy"), config).unwrap();
    let mut run = Running::start(&dir);
    run.wait_for("ferroalloy is running");
    let job = "import.http.cloudwatch/prometheus.scrape.cloudwatch";
    let up = query_until(&prom, &format!(r#"up{{job="{job}"}}"#), |r| {
        r.iter().any(|s| s["value"][1] == "1")
    });
    assert_eq!(up[0]["metric"]["service"], "cloudwatch", "{up:?}");
    assert_eq!(
        up[0]["metric"]["instance"],
        format!("127.0.0.1:{exporter_port}").as_str()
    );
    query_until(
        &prom,
        &format!(r#"node_cpu_seconds_total{{job="{job}"}}"#),
        |r| !r.is_empty(),
    );
    run.signal("TERM");
    let _ = run.child.wait();
}

/// Every `up` sample Prometheus holds for `job` in the last `window` seconds, as
/// (timestamp seconds, value).
fn raw_samples(prom: &str, job: &str, window: u64) -> Vec<(f64, String)> {
    let result = query_until(prom, &format!(r#"up{{job="{job}"}}[{window}s]"#), |r| {
        !r.is_empty()
    });
    result[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v[0].as_f64().unwrap(), v[1].as_str().unwrap().to_string()))
        .collect()
}

/// The receiver goes away for 60 s; ferroalloy is killed with SIGKILL half way and
/// restarted; when the receiver is back, every scrape of the outage is there.
#[test]
fn an_outage_and_a_kill_9_lose_no_samples() {
    let dir = work_dir("outage");
    let Some((_exporter, prometheus, exporter_port, prom)) = peers(&dir) else {
        return;
    };
    let config = format!(
        r#"prometheus.scrape "node" {{
	targets         = [{{"__address__" = "127.0.0.1:{exporter_port}"}}]
	forward_to      = [prometheus.remote_write.prom.receiver]
	scrape_interval = "1s"
	scrape_timeout  = "900ms"
}}

prometheus.remote_write "prom" {{
	endpoint {{
		name = "prom"
		url  = "{prom}/api/v1/write"

		queue_config {{
			batch_send_deadline = "500ms"
			min_backoff         = "50ms"
			max_backoff         = "1s"
		}}
	}}
}}
"#
    );
    std::fs::write(dir.join("config.alloy"), config).unwrap();
    let job = "prometheus.scrape.node";
    let mut run = Running::start(&dir);
    run.wait_for("ferroalloy is running");
    query_until(&prom, &format!(r#"up{{job="{job}"}}"#), |r| !r.is_empty());

    // The receiver goes down; keep its command line to bring the same one back.
    let prom_port: u16 = prom.rsplit(':').next().unwrap().parse().unwrap();
    drop(prometheus);
    let outage_start = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    // SIGKILL: no flush, no goodbye. Then the same configuration and storage again.
    run.child.kill().expect("kill -9");
    let _ = run.child.wait();
    let mut run = Running::start(&dir);
    run.wait_for("ferroalloy is running");
    std::thread::sleep(Duration::from_secs(60).saturating_sub(outage_start.elapsed()));

    let _prometheus = spawn(
        &peer_binary("prometheus").unwrap(),
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
            "--web.enable-remote-write-receiver".into(),
        ],
    );
    // Wait until the backlog is delivered: samples newer than the restart arrive
    // after the older ones (each series is sent in order).
    let back = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(60);
    let samples = loop {
        let samples = raw_samples(&prom, job, 120);
        if samples.last().is_some_and(|(t, _)| *t >= back) {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "the backlog did not arrive: {samples:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let outage_from = back - outage_start.elapsed().as_secs_f64();
    let during: Vec<f64> = samples
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| *t >= outage_from && *t < back)
        .collect();
    // One scrape a second, except while ferroalloy itself was dead (the restart).
    let gaps: Vec<f64> = during.windows(2).map(|w| w[1] - w[0]).collect();
    let long: Vec<&f64> = gaps.iter().filter(|g| **g > 1.5).collect();
    assert!(
        long.len() <= 1 && long.iter().all(|g| **g < 10.0),
        "gaps beyond the restart: {long:?} in {during:?}"
    );
    assert!(
        during.len() >= 45,
        "only {} of about 60 outage scrapes arrived: {during:?}",
        during.len()
    );
    run.signal("TERM");
    let _ = run.child.wait();
}
