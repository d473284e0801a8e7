//! Round trip of `ferroalloy convert`: one Prometheus configuration (static target
//! with labels, relabel_configs, metric_relabel_configs, external labels and
//! write_relabel_configs) runs in Debian's Prometheus in agent mode, and its
//! conversion runs in `ferroalloy run`; both scrape the same node_exporter and write
//! to a Prometheus receiver each. The series sets that arrive must be the same.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, http, peer_binary, work_dir, Peer, Running, BIN};

fn spawn(bin: &Path, args: &[String]) -> Peer {
    Peer(
        Command::new(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("peer starts"),
    )
}

/// A Prometheus server accepting remote write, with its base URL.
fn receiver(prometheus: &Path, dir: &Path) -> (Peer, String) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("prometheus.yml"), "global: {}\n").unwrap();
    let port = free_port();
    let peer = spawn(
        prometheus,
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-remote-write-receiver".into(),
        ],
    );
    (peer, format!("http://127.0.0.1:{port}"))
}

/// The configuration under test; only the remote-write URL differs between the two
/// runs. The keep rule lists the scrape's report series too: Alloy passes them
/// through `metric_relabel_configs` (prometheus.relabel) where Prometheus does not.
fn prometheus_yaml(exporter_port: u16, receiver: &str) -> String {
    format!(
        r#"global:
  scrape_interval: 1s
  external_labels:
    origin: roundtrip
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:{exporter_port}']
        labels:
          team: infra
          drop_me: x
    relabel_configs:
      - source_labels: [__address__]
        regex: '127\.0\.0\.1:(\d+)'
        target_label: exporter_port
        replacement: 'port-$1'
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'node_load1|node_time_seconds|node_scrape_collector_success|up|scrape_.*'
        action: keep
remote_write:
  - url: {receiver}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
    write_relabel_configs:
      - regex: drop_me
        action: labeldrop
"#
    )
}

/// The label sets of every series of job `node` in a receiver, as sorted strings.
fn series(base: &str) -> BTreeSet<String> {
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/api/v1/series"),
        [("match[]", r#"{job="node"}"#)],
    )
    .unwrap();
    let Ok(resp) = http().get(url).send() else {
        return BTreeSet::new();
    };
    let body: serde_json::Value =
        serde_json::from_str(&resp.text().unwrap_or_default()).unwrap_or_default();
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let mut labels: Vec<String> = s
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            labels.sort();
            labels.join(",")
        })
        .collect()
}

#[test]
fn converted_config_sends_the_same_series_as_prometheus_agent() {
    let dir = work_dir("convert-roundtrip");
    let (Some(prometheus), Some(node_exporter)) = (
        peer_binary("prometheus"),
        peer_binary("prometheus-node-exporter"),
    ) else {
        return;
    };
    let exporter_port = free_port();
    // A few collectors keep the scrape small and its series stable.
    let _exporter = spawn(
        &node_exporter,
        &[
            format!("--web.listen-address=127.0.0.1:{exporter_port}"),
            "--collector.disable-defaults".into(),
            "--collector.loadavg".into(),
            "--collector.time".into(),
        ],
    );
    let (_recv_prom, prom_base) = receiver(&prometheus, &dir.join("recv-prom"));
    let (_recv_alloy, alloy_base) = receiver(&prometheus, &dir.join("recv-alloy"));

    // Prometheus in agent mode with the original configuration.
    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    std::fs::write(
        agent_dir.join("prometheus.yml"),
        prometheus_yaml(exporter_port, &prom_base),
    )
    .unwrap();
    let _agent = spawn(
        &prometheus,
        &[
            "--enable-feature=agent".into(),
            format!(
                "--config.file={}",
                agent_dir.join("prometheus.yml").display()
            ),
            format!("--storage.agent.path={}", agent_dir.join("wal").display()),
            format!("--web.listen-address=127.0.0.1:{}", free_port()),
        ],
    );

    // ferroalloy with the converted configuration.
    let yaml = dir.join("prometheus.yml");
    std::fs::write(&yaml, prometheus_yaml(exporter_port, &alloy_base)).unwrap();
    let out = Command::new(BIN)
        .args(["convert", "--source-format=prometheus", "-o"])
        .arg(dir.join("config.alloy"))
        .arg(&yaml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "convert failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut run = Running::start(&dir);
    run.wait_for("ferroalloy is running");

    // Both sides settle within a few scrapes; compare until equal or 30 s pass.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut from_prom, mut from_alloy);
    loop {
        from_prom = series(&prom_base);
        from_alloy = series(&alloy_base);
        let settled = from_prom.len() >= 5 && from_prom == from_alloy;
        if settled || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    run.signal("TERM");
    let _ = run.child.wait();
    assert!(
        from_prom.iter().any(|s| s.contains("__name__=node_load1")),
        "Prometheus sent no node_load1: {from_prom:#?}"
    );
    assert!(
        from_prom.iter().all(|s| s.contains("exporter_port=port-")
            && s.contains("origin=roundtrip")
            && !s.contains("drop_me")),
        "{from_prom:#?}"
    );
    eprintln!(
        "roundtrip: {} series from Prometheus, {} from ferroalloy",
        from_prom.len(),
        from_alloy.len()
    );
    let only_prom: Vec<_> = from_prom.difference(&from_alloy).collect();
    let only_alloy: Vec<_> = from_alloy.difference(&from_prom).collect();
    assert!(
        only_prom.is_empty() && only_alloy.is_empty(),
        "series differ\nonly from Prometheus: {only_prom:#?}\nonly from ferroalloy: {only_alloy:#?}"
    );
}
