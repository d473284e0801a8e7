//! Clustering with real `ferroalloy run` processes on 127.0.0.1: joining through
//! `--cluster.join-addresses`, failure detection after `kill -9`, a graceful leave,
//! `--cluster.name` isolation, `--cluster.wait-for-size` readiness and gossip over
//! mutual TLS (`--cluster.enable-tls`). Every wait is bounded; measured times are
//! printed (`cargo test -- --nocapture` shows them).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use support::{serve_http, spawn_logged, LogLines, BIN};

/// Generous bounds: the machine may be busy building other things.
const JOIN_BOUND: Duration = Duration::from_secs(20);
/// SWIM needs a probe round, the suspicion timeout (4 s) and a notification round.
const FAILURE_BOUND: Duration = Duration::from_secs(30);

fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cluster")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    std::fs::write(dir.join("config.alloy"), "").expect("config");
    dir
}

/// A running clustered node; killed when dropped so a failing test leaves nothing.
struct Node {
    child: Child,
    log: LogLines,
    base: String,
    client: reqwest::blocking::Client,
}

impl Node {
    /// Starts a node named `name` on a free port with clustering on, plus `extra` flags.
    fn start(dir: &Path, name: &str, extra: &[&str]) -> Node {
        Node::start_on(dir, name, "127.0.0.1:0", extra)
    }

    /// [`Node::start`] listening on `listen`.
    fn start_on(dir: &Path, name: &str, listen: &str, extra: &[&str]) -> Node {
        Node::start_with(dir, name, listen, extra, None)
    }

    /// [`Node::start_on`]; with `https`, the node serves HTTPS (its config has an
    /// `http { tls { ... } }` block) and the test talks to it through that client.
    fn start_with(
        dir: &Path,
        name: &str,
        listen: &str,
        extra: &[&str],
        https: Option<reqwest::blocking::Client>,
    ) -> Node {
        let data = dir.join(name);
        std::fs::create_dir_all(&data).expect("node folder");
        let (child, lines) = spawn_logged(
            Command::new(BIN)
                .args([
                    "run",
                    "../config.alloy",
                    "--storage.path",
                    "data",
                    "--server.http.listen-addr",
                    listen,
                    "--cluster.enabled=true",
                    "--cluster.node-name",
                    name,
                    "--cluster.advertise-address",
                    "127.0.0.1",
                ])
                .args(extra)
                .current_dir(&data)
                // Scrape configs may tell targets who scrapes them (`sys.env`).
                .env("FA_NODE", name)
                .env("NO_COLOR", "1")
                .env("RUST_LOG", "info"),
        );
        let scheme = if https.is_some() { "https" } else { "http" };
        let mut node = Node {
            child,
            log: LogLines::new(lines),
            base: String::new(),
            client: https.unwrap_or_else(|| {
                reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .expect("client")
            }),
        };
        let line = node.wait_for("now listening for http traffic");
        let addr = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        node.base = format!("{scheme}://{addr}");
        node.wait_for("ferroalloy is running");
        node
    }

    /// `host:port` of the HTTP server, which is also the gossip address.
    fn addr(&self) -> &str {
        self.base
            .split_once("://")
            .map_or(&self.base, |(_, addr)| addr)
    }

    /// Waits (at most 20 s) for a stderr line containing `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        self.log.wait_for(needle, JOIN_BOUND)
    }

    /// Like [`Node::wait_for`], but a line seen already counts too.
    fn saw(&mut self, needle: &str) {
        if !self.log.seen().iter().any(|l| l.contains(needle)) {
            self.wait_for(needle);
        }
    }

    /// `(name, state)` of every peer in `/api/v0/web/peers`; empty if it cannot answer.
    fn peers(&self) -> Vec<(String, String)> {
        let Ok(resp) = self
            .client
            .get(format!("{}/api/v0/web/peers", self.base))
            .send()
        else {
            return Vec::new();
        };
        let list: serde_json::Value =
            serde_json::from_str(&resp.text().unwrap_or_default()).unwrap_or_default();
        list.as_array()
            .map(|peers| {
                peers
                    .iter()
                    .map(|p| {
                        (
                            p["name"].as_str().unwrap_or_default().to_string(),
                            p["state"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn participants(&self) -> Vec<String> {
        self.peers()
            .into_iter()
            .filter(|(_, state)| state == "participant")
            .map(|(name, _)| name)
            .collect()
    }

    /// The value of the metric line starting with `prefix`, if present.
    fn metric(&self, prefix: &str) -> Option<f64> {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .ok()?
            .text()
            .ok()?;
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 50 ms until it holds; returns how long that took, or `None`
/// once `bound` has passed.
fn wait_until(bound: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < bound {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn three_nodes_converge_and_drop_a_killed_node_then_a_leaving_one() {
    let dir = work_dir("three");
    let a = Node::start(&dir, "node-a", &[]);
    let join = format!("--cluster.join-addresses={}", a.addr());
    let b = Node::start(&dir, "node-b", &[&join]);
    let mut c = Node::start(&dir, "node-c", &[&join]);

    let all = names(&["node-a", "node-b", "node-c"]);
    let took = wait_until(JOIN_BOUND, || {
        [&a, &b, &c].iter().all(|n| n.participants() == all)
    })
    .unwrap_or_else(|| {
        panic!(
            "no convergence: {:?} {:?} {:?}",
            a.peers(),
            b.peers(),
            c.peers()
        )
    });
    println!("3 nodes listed 3 participants everywhere {took:?} after the last one was running");
    assert_eq!(
        a.metric("cluster_node_peers{cluster_name=\"\",state=\"participant\"}"),
        Some(3.0)
    );

    // kill -9: nobody says goodbye, failure detection has to notice.
    c.signal("KILL");
    let _ = c.child.wait();
    let two = names(&["node-a", "node-b"]);
    let took = wait_until(FAILURE_BOUND, || {
        a.participants() == two && b.participants() == two
    })
    .unwrap_or_else(|| panic!("killed node still listed: {:?} {:?}", a.peers(), b.peers()));
    println!("a kill -9'd node was dropped by both others after {took:?}");

    // SIGTERM: the node says it is terminating, then leaves; both travel by gossip,
    // much faster than failure detection.
    b.signal("TERM");
    let took = wait_until(FAILURE_BOUND, || a.participants() == names(&["node-a"]))
        .unwrap_or_else(|| panic!("leaving node still participates: {:?}", a.peers()));
    println!("a node stopped with SIGTERM stopped participating after {took:?}");
    let took = wait_until(FAILURE_BOUND, || a.peers().len() == 1)
        .unwrap_or_else(|| panic!("leaving node still listed: {:?}", a.peers()));
    println!("a node stopped with SIGTERM left the others' list after {took:?}");
    // The node stays until the handoff instant it announced (2 s) and a little
    // longer; failure detection would need a probe round and a 4 s suspicion first.
    assert!(
        took < Duration::from_secs(5),
        "a leave must not need failure detection: {took:?}"
    );
    let mut b = b;
    let status = b.child.wait().expect("exits");
    assert!(status.success(), "{status:?}");
    b.wait_for("state=terminating");
}

#[test]
fn a_node_of_another_cluster_name_stays_alone() {
    let dir = work_dir("names");
    let a = Node::start(&dir, "node-a", &["--cluster.name=blue"]);
    let join = format!("--cluster.join-addresses={}", a.addr());
    let mut b = Node::start(&dir, "node-b", &["--cluster.name=green", &join]);
    b.saw("Failed to join any peer; starting a new cluster.");
    // Give gossip time to prove a negative: several probe and gossip rounds.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(a.participants(), names(&["node-a"]));
    assert_eq!(b.participants(), names(&["node-b"]));
    assert_eq!(
        b.metric("cluster_node_peers{cluster_name=\"green\",state=\"participant\"}"),
        Some(1.0)
    );
}

#[test]
fn wait_for_size_holds_work_until_enough_participants_or_the_timeout() {
    let dir = work_dir("wait_for_size");
    let ready = "cluster_ready_for_traffic{cluster_name=\"\"}";
    let a = Node::start(&dir, "node-a", &["--cluster.wait-for-size=2"]);
    assert_eq!(a.metric(ready), Some(0.0));
    assert_eq!(
        a.metric("cluster_minimum_size{cluster_name=\"\"}"),
        Some(2.0)
    );

    let join = format!("--cluster.join-addresses={}", a.addr());
    let _b = Node::start(&dir, "node-b", &[&join]);
    let took = wait_until(JOIN_BOUND, || a.metric(ready) == Some(1.0))
        .unwrap_or_else(|| panic!("never ready: {:?}", a.peers()));
    println!("wait-for-size 2 became ready {took:?} after the second node was running");

    // Too few peers, but a timeout: ready once it passes.
    let start = Instant::now();
    let c = Node::start(
        &dir,
        "node-c",
        &["--cluster.wait-for-size=5", "--cluster.wait-timeout=2s"],
    );
    assert_eq!(c.metric(ready), Some(0.0));
    wait_until(JOIN_BOUND, || c.metric(ready) == Some(1.0)).expect("deadline passes");
    let took = start.elapsed();
    println!("wait-timeout 2s let the node take work {took:?} after it was started");
    assert!(took >= Duration::from_secs(2), "{took:?}");
}

#[test]
fn unsupported_or_bad_cluster_flags_are_refused_with_a_reason() {
    let dir = work_dir("refused");
    for (flags, says) in [
        (
            &["--cluster.enable-tls"][..],
            "--cluster.enable-tls needs --cluster.tls-ca-path",
        ),
        (
            &[
                "--cluster.enable-tls",
                "--cluster.tls-ca-path=missing.pem",
                "--cluster.tls-cert-path=config.alloy",
                "--cluster.tls-key-path=config.alloy",
            ][..],
            "failed to read --cluster.tls-ca-path \"missing.pem\"",
        ),
        (
            &[
                "--cluster.enable-tls",
                "--cluster.tls-ca-path=config.alloy",
                "--cluster.tls-cert-path=config.alloy",
                "--cluster.tls-key-path=config.alloy",
            ][..],
            "no certificate found in --cluster.tls-ca-path",
        ),
        (
            &["--cluster.discover-peers=provider=k8s"][..],
            "--cluster.discover-peers is not supported yet",
        ),
        (
            &[
                "--cluster.discover-peers=provider=k8s",
                "--cluster.join-addresses=a:1",
            ][..],
            "at most one of join peers and discover peers may be set",
        ),
    ] {
        let out = Command::new(BIN)
            .args([
                "run",
                "config.alloy",
                "--server.http.listen-addr",
                "127.0.0.1:0",
            ])
            .args(flags)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .output()
            .expect("binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} was accepted");
        assert!(stderr.contains(says), "{flags:?}: {stderr}");
    }
}

/// A test CA and one node certificate it signed for 127.0.0.1 and `gossip.test`
/// (used both to serve and as the client certificate, as a node's one identity), as
/// PEM files in `dir`; returns a test client for the nodes' HTTPS servers.
fn make_cluster_certs(dir: &Path) -> reqwest::blocking::Client {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "gossip.test".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("node.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("node.key"), key.serialize_pem()).unwrap();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .tls_certs_only([reqwest::Certificate::from_pem(ca_cert.pem().as_bytes()).unwrap()])
        .identity(
            reqwest::Identity::from_pem(
                format!("{}{}", cert.pem(), key.serialize_pem()).as_bytes(),
            )
            .unwrap(),
        )
        .build()
        .unwrap()
}

#[test]
fn gossip_over_tls_joins_tls_nodes_and_keeps_plain_or_misnamed_ones_out() {
    let dir = work_dir("tls");
    let client = make_cluster_certs(&dir);
    let file = |name: &str| dir.join(name).display().to_string();
    // Every node serves HTTPS and only talks to clients the CA vouches for.
    std::fs::write(
        dir.join("config.alloy"),
        format!(
            "http {{\n\ttls {{\n\t\tcert_file = {:?}\n\t\tkey_file = {:?}\n\t\tclient_ca_file = {:?}\n\t\tclient_auth_type = \"RequireAndVerifyClientCert\"\n\t}}\n}}\n",
            file("node.pem"),
            file("node.key"),
            file("ca.pem"),
        ),
    )
    .unwrap();
    let ca = format!("--cluster.tls-ca-path={}", file("ca.pem"));
    let cert = format!("--cluster.tls-cert-path={}", file("node.pem"));
    let key = format!("--cluster.tls-key-path={}", file("node.key"));
    let tls = ["--cluster.enable-tls", &ca, &cert, &key];
    let listen = "127.0.0.1:0";

    // node-a verifies peers against their IP address, node-b against a configured name.
    let a = Node::start_with(&dir, "node-a", listen, &tls, Some(client.clone()));
    let join = format!("--cluster.join-addresses={}", a.addr());
    let b_flags = [&tls[..], &["--cluster.tls-server-name=gossip.test", &join]].concat();
    let b = Node::start_with(&dir, "node-b", listen, &b_flags, Some(client.clone()));
    let two = names(&["node-a", "node-b"]);
    let took = wait_until(JOIN_BOUND, || {
        a.participants() == two && b.participants() == two
    })
    .unwrap_or_else(|| panic!("no convergence over TLS: {:?} {:?}", a.peers(), b.peers()));
    println!("2 nodes gossiping over mutual TLS converged {took:?} after the second was running");

    // node-c has the files but not --cluster.enable-tls: it gossips in plain HTTP,
    // which the TLS servers refuse. node-d speaks TLS but expects a name the
    // certificates do not carry.
    let c_flags = [ca.as_str(), &cert, &key, &join];
    let mut c = Node::start_with(&dir, "node-c", listen, &c_flags, Some(client.clone()));
    let d_flags = [&tls[..], &["--cluster.tls-server-name=other.test", &join]].concat();
    let mut d = Node::start_with(&dir, "node-d", listen, &d_flags, Some(client.clone()));
    c.saw("TLS flags are ignored without --cluster.enable-tls");
    c.saw("Failed to join any peer; starting a new cluster.");
    d.saw("Failed to join any peer; starting a new cluster.");
    // For the right reasons: plain HTTP to a TLS port, and the name check.
    let reason = |node: &Node| {
        node.log
            .seen()
            .iter()
            .find(|l| l.contains("Failed to reach a peer to join."))
            .cloned()
            .unwrap_or_default()
    };
    assert!(reason(&c).contains("(http://"), "{}", reason(&c));
    assert!(
        reason(&d).contains("certificate not valid for name \"other.test\""),
        "{}",
        reason(&d)
    );
    // Give gossip time to prove a negative: several probe and gossip rounds.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(a.participants(), two);
    assert_eq!(b.participants(), two);
    assert_eq!(c.participants(), names(&["node-c"]));
    assert_eq!(d.participants(), names(&["node-d"]));
}

#[test]
fn rejoin_interval_heals_a_node_that_started_before_its_peer() {
    let dir = work_dir("rejoin");
    // A port nobody listens on yet; the peer takes it later. Another process could
    // grab it in between, which would only make this test fail, not pass wrongly.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let join = format!("--cluster.join-addresses=127.0.0.1:{port}");
    let mut a = Node::start(&dir, "node-a", &[&join, "--cluster.rejoin-interval=1s"]);
    a.saw("Failed to join any peer; starting a new cluster.");
    assert_eq!(a.participants(), names(&["node-a"]));

    let listen = format!("127.0.0.1:{port}");
    let b = Node::start_on(&dir, "node-b", &listen, &[]);
    let both = names(&["node-a", "node-b"]);
    let took = wait_until(JOIN_BOUND, || {
        a.participants() == both && b.participants() == both
    })
    .unwrap_or_else(|| panic!("no rejoin: {:?} {:?}", a.peers(), b.peers()));
    println!("a 1s rejoin interval merged the two nodes {took:?} after the second was running");
}

/// The Prometheus text format's content type, which the target servers answer with.
const PROM_TEXT: &str = "text/plain; version=0.0.4";

/// Request times per path, recorded by a tiny target server.
type Hits = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<Instant>>>>;

/// A scrape target on 127.0.0.1 answering every path with one sample and recording
/// when each path was scraped.
fn target_server() -> (String, Hits) {
    let hits: Hits = Default::default();
    let record = hits.clone();
    let addr = serve_http(move |path| {
        record
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default()
            .push(Instant::now());
        Some((PROM_TEXT, "x 1\n".to_string()))
    });
    (addr, hits)
}

/// Scrapes per path during the `window` that ends now.
fn scrapes_in(hits: &Hits, paths: &[String], window: Duration) -> Vec<usize> {
    let since = Instant::now() - window;
    let hits = hits.lock().unwrap();
    paths
        .iter()
        .map(|p| {
            hits.get(p)
                .map_or(0, |t| t.iter().filter(|t| **t >= since).count())
        })
        .collect()
}

/// Two clustered nodes running the same config share 20 targets: each target is
/// scraped once per interval in all, not once per node; when one node is killed, the
/// other takes every target over; when it comes back, they split again (the seed-004
/// scenario's shape, with a local target server instead of node_exporters).
#[test]
fn clustered_scrapes_split_targets_and_take_over_from_a_dead_node() {
    let dir = work_dir("scrape-split");
    let (addr, hits) = target_server();
    let paths: Vec<String> = (0..20).map(|i| format!("/t/{i}")).collect();
    let targets: Vec<String> = paths
        .iter()
        .map(|p| format!("{{\"__address__\" = \"{addr}\", \"__metrics_path__\" = \"{p}\"}}"))
        .collect();
    std::fs::write(
        dir.join("config.alloy"),
        format!(
            "prometheus.scrape \"t\" {{\n  targets         = [{}]\n  forward_to      = [prometheus.remote_write.buffer.receiver]\n  scrape_interval = \"1s\"\n  scrape_timeout  = \"500ms\"\n\n  clustering {{\n    enabled = true\n  }}\n}}\n\nprometheus.remote_write \"buffer\" {{ }}\n",
            targets.join(", ")
        ),
    )
    .unwrap();
    let a = Node::start(&dir, "node-a", &[]);
    let join = format!("--cluster.join-addresses={}", a.addr());
    let b = Node::start(&dir, "node-b", &[&join]);
    let both = names(&["node-a", "node-b"]);
    wait_until(JOIN_BOUND, || {
        a.participants() == both && b.participants() == both
    })
    .expect("both nodes participate");
    // Ownership follows membership within about a second; then measure.
    std::thread::sleep(Duration::from_secs(3));
    std::thread::sleep(Duration::from_secs(5));
    let counts = scrapes_in(&hits, &paths, Duration::from_secs(5));
    assert!(
        counts.iter().all(|c| (3..=7).contains(c)),
        "each target once a second in all, not once per node: {counts:?}"
    );

    drop(b); // kill -9
    wait_until(FAILURE_BOUND, || a.participants() == names(&["node-a"]))
        .expect("node-b is dropped");
    std::thread::sleep(Duration::from_secs(3));
    std::thread::sleep(Duration::from_secs(5));
    let counts = scrapes_in(&hits, &paths, Duration::from_secs(5));
    assert!(
        counts.iter().all(|c| (3..=7).contains(c)),
        "node-a scrapes every target after node-b died: {counts:?}"
    );

    // node-b comes back: they split again, still once per interval per target.
    let b = Node::start(&dir, "node-b", &[&join]);
    wait_until(JOIN_BOUND, || {
        a.participants() == both && b.participants() == both
    })
    .expect("node-b participates again");
    std::thread::sleep(Duration::from_secs(3));
    let before: Vec<usize> = {
        let hits = hits.lock().unwrap();
        paths
            .iter()
            .map(|p| hits.get(p).map_or(0, Vec::len))
            .collect()
    };
    std::thread::sleep(Duration::from_secs(5));
    let counts = scrapes_in(&hits, &paths, Duration::from_secs(5));
    assert!(
        counts.iter().all(|c| (3..=7).contains(c)),
        "after the restart each target is scraped once a second in all: {counts:?} (totals before the window {before:?})"
    );
}

/// One scrape as the target saw it: which target (path), which node (the `node`
/// query parameter each node's `sys.env("FA_NODE")` puts in), and when (Unix ms).
#[derive(Debug, Clone)]
struct Scrape {
    path: String,
    node: String,
    at_ms: u64,
}

type ScrapeLog = std::sync::Arc<std::sync::Mutex<Vec<Scrape>>>;

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

/// A target server on 127.0.0.1 answering every path with one sample and logging
/// every scrape with the scraping node's name.
fn logging_target_server() -> (String, ScrapeLog) {
    let log: ScrapeLog = Default::default();
    let record = log.clone();
    let addr = serve_http(move |target| {
        let at_ms = unix_ms();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let node = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("node="))
            .unwrap_or("")
            .to_string();
        record.lock().unwrap().push(Scrape {
            path: path.to_string(),
            node,
            at_ms,
        });
        Some((PROM_TEXT, "x 1\n".to_string()))
    });
    (addr, log)
}

/// The scrape interval of the handoff tests. Two seconds rather than one: on a busy
/// machine a debug build's scrape may reach the target most of a second after its
/// slot, and slots are told apart by arrival time.
const INTERVAL_MS: u64 = 2000;
/// How late a scrape may arrive and still be counted: windows end this long before
/// they are read.
const LATE_MS: u64 = 1500;

/// The clustered scrape config of the handoff tests: `n` targets on `addr` (paths
/// `/t/0` …), scraped every [`INTERVAL_MS`]; each node tells the target its name.
fn scrape_config(addr: &str, n: usize) -> String {
    let targets: Vec<String> = (0..n)
        .map(|i| format!("{{\"__address__\" = \"{addr}\", \"__metrics_path__\" = \"/t/{i}\"}}"))
        .collect();
    format!(
        "prometheus.scrape \"t\" {{\n  targets         = [{}]\n  forward_to      = []\n  scrape_interval = \"2s\"\n  scrape_timeout  = \"1s\"\n  params          = {{ node = [sys.env(\"FA_NODE\")] }}\n\n  clustering {{\n    enabled = true\n  }}\n}}\n",
        targets.join(",\n    ")
    )
}

/// The ring key and the scrape slot offset (ms) of target `i`, as every node
/// computes them.
fn key_of(addr: &str, i: usize) -> u64 {
    let path = format!("/t/{i}");
    alloy_runtime::cluster::target_key([("__address__", addr), ("__metrics_path__", path.as_str())])
}

/// The owner the ring predicts for every target among `nodes`.
fn predicted(addr: &str, n: usize, nodes: &[&str]) -> Vec<String> {
    let ring = alloy_runtime::cluster::Ring::new(nodes.iter().copied());
    (0..n)
        .map(|i| ring.lookup(key_of(addr, i), 1).expect("ring")[0].to_string())
        .collect()
}

/// For each target, the nodes that scraped each slot whose instant lies in
/// `[from_ms, to_ms)`: `slots[target][k]`. A scrape is attributed to the slot at or
/// before its arrival (scrapes arrive a few ms after their slot).
fn slots(log: &ScrapeLog, addr: &str, n: usize, from_ms: u64, to_ms: u64) -> Vec<Vec<Vec<String>>> {
    let log = log.lock().unwrap();
    (0..n)
        .map(|i| {
            let offset = key_of(addr, i) % (INTERVAL_MS * 1_000_000) / 1_000_000;
            let first = (from_ms.saturating_sub(offset)).div_ceil(INTERVAL_MS);
            let last = (to_ms.saturating_sub(offset)).div_ceil(INTERVAL_MS);
            let path = format!("/t/{i}");
            let mut out: Vec<Vec<String>> = vec![Vec::new(); (last - first) as usize];
            for s in log.iter().filter(|s| s.path == path) {
                let k = (s.at_ms.saturating_sub(offset)) / INTERVAL_MS;
                if (first..last).contains(&k) {
                    out[(k - first) as usize].push(s.node.clone());
                }
            }
            out
        })
        .collect()
}

/// Panics unless every slot of every target was scraped exactly once; returns the
/// number of slots checked.
fn assert_exactly_once(slots: &[Vec<Vec<String>>], what: &str) -> usize {
    let mut bad = Vec::new();
    let mut checked = 0;
    for (i, target) in slots.iter().enumerate() {
        for (k, nodes) in target.iter().enumerate() {
            checked += 1;
            if nodes.len() != 1 {
                bad.push(format!("/t/{i} slot +{k}: {nodes:?}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {checked} slots not scraped exactly once: {:?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
    checked
}

/// The one node that scraped each target in the window (panics on several).
fn owners_in(slots: &[Vec<Vec<String>>]) -> Vec<String> {
    slots
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let mut nodes: Vec<&String> = target.iter().flatten().collect();
            nodes.sort();
            nodes.dedup();
            assert_eq!(nodes.len(), 1, "/t/{i} scraped by {nodes:?}");
            nodes[0].clone()
        })
        .collect()
}

fn spread(owners: &[String]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for o in owners {
        *counts.entry(o.clone()).or_insert(0) += 1;
    }
    counts
}

/// Issue 6's acceptance scenario on 300 targets: the steady split is the ring's, a
/// graceful leave and a join hand targets over with every slot scraped exactly once,
/// only targets that move to a joining node change owner, and after a `kill -9` the
/// dead node's targets are scraped again within two intervals of its detection
/// while no survivor's target moves.
#[test]
fn three_hundred_targets_hand_over_without_gaps_or_duplicates() {
    const N: usize = 300;
    let dir = work_dir("handoff");
    let (addr, log) = logging_target_server();
    std::fs::write(dir.join("config.alloy"), scrape_config(&addr, N)).unwrap();
    let start = |name: &str, extra: &[&str]| Node::start(&dir, name, extra);
    let a = start("node-a", &[]);
    let join = format!("--cluster.join-addresses={}", a.addr());
    let b = start("node-b", &[&join]);
    let c = start("node-c", &[&join]);
    let three = names(&["node-a", "node-b", "node-c"]);
    wait_until(JOIN_BOUND, || {
        [&a, &b, &c].iter().all(|n| n.participants() == three)
    })
    .expect("3 nodes converge");
    // Handoffs take effect 2 s after the change; then a steady window.
    std::thread::sleep(Duration::from_secs(3));
    let from = unix_ms();
    std::thread::sleep(Duration::from_secs(8));
    let window = slots(&log, &addr, N, from, unix_ms() - LATE_MS);
    let checked = assert_exactly_once(&window, "steady state, 3 nodes");
    let owners = owners_in(&window);
    let want = predicted(&addr, N, &["node-a", "node-b", "node-c"]);
    assert_eq!(owners, want, "owners are not the ring's");
    println!(
        "steady: {checked} slots scraped exactly once; spread {:?}",
        spread(&owners)
    );
    let gauges: Vec<Option<f64>> = [&a, &b, &c]
        .iter()
        .map(|n| n.metric("prometheus_scrape_targets_gauge{component_path=\"/\",component_id=\"prometheus.scrape.t\"}"))
        .collect();
    let counts = spread(&want);
    assert_eq!(
        gauges,
        three
            .iter()
            .map(|n| Some(counts[n] as f64))
            .collect::<Vec<_>>(),
        "prometheus_scrape_targets_gauge"
    );
    assert_eq!(
        a.metric("cluster_node_config_hash_mismatch_peers"),
        Some(0.0),
        "the same config everywhere"
    );

    // SIGTERM node-c: every slot around its leave is scraped exactly once.
    let before = unix_ms();
    c.signal("TERM");
    let mut c = c;
    let status = c.child.wait().expect("node-c exits");
    assert!(status.success(), "{status:?}");
    let left_after = unix_ms() - before;
    std::thread::sleep(Duration::from_secs(4));
    let window = slots(
        &log,
        &addr,
        N,
        before.saturating_sub(4000),
        unix_ms() - LATE_MS,
    );
    let checked = assert_exactly_once(&window, "graceful leave of node-c");
    println!("graceful leave: node-c exited {left_after} ms after SIGTERM; {checked} slots around it scraped exactly once");
    let from = unix_ms();
    std::thread::sleep(Duration::from_secs(4));
    let two = owners_in(&slots(&log, &addr, N, from, unix_ms() - LATE_MS));
    assert_eq!(two, predicted(&addr, N, &["node-a", "node-b"]));

    // node-d joins: only targets the ring gives to node-d move, and none twice.
    let before = unix_ms();
    let d = start("node-d", &[&join]);
    let abd = names(&["node-a", "node-b", "node-d"]);
    wait_until(JOIN_BOUND, || {
        [&a, &b, &d].iter().all(|n| n.participants() == abd)
    })
    .expect("node-d participates");
    std::thread::sleep(Duration::from_secs(6));
    let window = slots(&log, &addr, N, before, unix_ms() - LATE_MS);
    let checked = assert_exactly_once(&window, "node-d joining");
    let from = unix_ms();
    std::thread::sleep(Duration::from_secs(4));
    let three_again = owners_in(&slots(&log, &addr, N, from, unix_ms() - LATE_MS));
    assert_eq!(
        three_again,
        predicted(&addr, N, &["node-a", "node-b", "node-d"])
    );
    let mut moved = 0;
    for (old, new) in two.iter().zip(&three_again) {
        if old != new {
            assert_eq!(
                new, "node-d",
                "only targets moving to the new node change owner"
            );
            moved += 1;
        }
    }
    println!(
        "join: {checked} slots scraped exactly once; {moved} targets moved to node-d; spread {:?}",
        spread(&three_again)
    );

    // kill -9 node-b: its targets come back within two intervals of detection, and
    // nobody else's target moves.
    drop(b);
    let killed = Instant::now();
    let ad = names(&["node-a", "node-d"]);
    wait_until(FAILURE_BOUND, || {
        a.participants() == ad && d.participants() == ad
    })
    .expect("node-b is dropped");
    let detected = unix_ms();
    println!("kill -9: detected after {:?}", killed.elapsed());
    std::thread::sleep(Duration::from_secs(10));
    let window = slots(
        &log,
        &addr,
        N,
        detected + 2 * INTERVAL_MS,
        unix_ms() - LATE_MS,
    );
    let checked = assert_exactly_once(&window, "two intervals after node-b's failure was detected");
    let after = owners_in(&window);
    for (old, new) in three_again.iter().zip(&after) {
        if old != "node-b" {
            assert_eq!(old, new, "a survivor's target moved");
        }
    }
    assert_eq!(after, predicted(&addr, N, &["node-a", "node-d"]));
    println!(
        "kill -9: {checked} slots from two intervals after detection on scraped exactly once; spread {:?}",
        spread(&after)
    );
    drop(d);
    drop(a);
}

/// `/api/v0/web/peers` as JSON (`Null` if the node cannot answer).
fn peers_json(node: &Node) -> serde_json::Value {
    node.client
        .get(format!("{}/api/v0/web/peers", node.base))
        .send()
        .ok()
        .and_then(|r| r.text().ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// `(name, configHash, configDiffers)` of every listed peer.
fn config_view(node: &Node) -> Vec<(String, String, bool)> {
    peers_json(node)
        .as_array()
        .map(|peers| {
            peers
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or_default().to_string(),
                        p["configHash"].as_str().unwrap_or_default().to_string(),
                        p["configDiffers"].as_bool().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Each node gossips the hash of its loaded configuration with its modules' content:
/// peers agree while both are the same, flag the node whose module changed, and agree
/// again once it is changed back.
#[test]
fn config_hashes_with_modules_are_compared_across_the_cluster() {
    let dir = work_dir("config-hash");
    std::fs::write(
        dir.join("config.alloy"),
        "import.file \"m\" {\n  filename       = \"mod.alloy\"\n  detector       = \"poll\"\n  poll_frequency = \"200ms\"\n}\n",
    )
    .unwrap();
    for name in ["node-a", "node-b"] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("mod.alloy"), "declare \"x\" { }\n").unwrap();
    }
    let a = Node::start(&dir, "node-a", &[]);
    let join = format!("--cluster.join-addresses={}", a.addr());
    let b = Node::start(&dir, "node-b", &[&join]);
    let mismatch = "cluster_node_config_hash_mismatch_peers{cluster_name=\"\"}";
    let agreed = |n: &Node| {
        let view = config_view(n);
        view.len() == 2
            && view.iter().all(|(_, h, differs)| !h.is_empty() && !differs)
            && view[0].1 == view[1].1
    };
    wait_until(JOIN_BOUND, || agreed(&a) && agreed(&b))
        .unwrap_or_else(|| panic!("no agreement: {:?} {:?}", config_view(&a), config_view(&b)));
    assert_eq!(a.metric(mismatch), Some(0.0));
    let same = config_view(&a)[0].1.clone();

    // node-b's module changes: both sides flag the other.
    std::fs::write(dir.join("node-b").join("mod.alloy"), "declare \"y\" { }\n").unwrap();
    let took = wait_until(JOIN_BOUND, || {
        a.metric(mismatch) == Some(1.0) && b.metric(mismatch) == Some(1.0)
    })
    .unwrap_or_else(|| panic!("no mismatch seen: {:?}", config_view(&a)));
    println!("a changed module was flagged by both nodes after {took:?}");
    let view = config_view(&a);
    assert!(
        view.iter()
            .any(|(n, h, differs)| n == "node-b" && *differs && *h != same),
        "{view:?}"
    );
    assert!(
        view.iter().any(|(n, _, differs)| n == "node-a" && !differs),
        "{view:?}"
    );

    // And back: the hashes agree again.
    std::fs::write(dir.join("node-b").join("mod.alloy"), "declare \"x\" { }\n").unwrap();
    wait_until(JOIN_BOUND, || {
        a.metric(mismatch) == Some(0.0) && agreed(&a) && config_view(&a)[0].1 == same
    })
    .unwrap_or_else(|| panic!("no agreement again: {:?}", config_view(&a)));
}

/// `ferroalloy cluster explain` asks a running node: the key is the ring key of the
/// non-`__meta_` labels, the owner and the token are the ring's, and both label
/// notations mean the same target.
#[test]
fn cluster_explain_names_the_owner_the_ring_predicts() {
    let dir = work_dir("explain");
    let a = Node::start(&dir, "node-a", &[]);
    let join = format!("--cluster.join-addresses={}", a.addr());
    let b = Node::start(&dir, "node-b", &[&join]);
    let both = names(&["node-a", "node-b"]);
    wait_until(JOIN_BOUND, || {
        a.participants() == both && b.participants() == both
    })
    .expect("both participate");
    // Past the join's handoff instant.
    std::thread::sleep(Duration::from_secs(3));
    let ring = alloy_runtime::cluster::Ring::new(["node-a", "node-b"]);
    let explain = |labels: &str, extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["cluster", "explain", labels, "--server.http.addr", a.addr()])
            .args(extra)
            .output()
            .expect("binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for i in 0..6 {
        let address = format!("10.0.0.{i}:9100");
        let key = alloy_runtime::cluster::target_key([
            ("__address__", address.as_str()),
            ("job", "node"),
        ]);
        let owner = ring.lookup(key, 1).unwrap()[0].to_string();
        let (ok, text, err) = explain(
            &format!("{{__address__=\"{address}\", job=\"node\", __meta_x=\"ignored\"}}"),
            &[],
        );
        assert!(ok, "{err}");
        assert!(
            text.contains(&format!("target key:   {key:016x}")),
            "{text}"
        );
        assert!(text.contains(&format!("owner:        {owner}\n")), "{text}");
        assert!(text.contains("considered:   node-a, node-b"), "{text}");
        let local = if owner == "node-a" {
            "asked node:   node-a (scrapes this target)"
        } else {
            "asked node:   node-a (does not scrape this target)"
        };
        assert!(text.contains(local), "{text}");
        if i == 0 {
            print!("{text}");
        }
        let (ok, json, err) = explain(&format!("job=node,__address__={address}"), &["--json"]);
        assert!(ok, "{err}");
        let answer: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(answer["key"], format!("{key:016x}"));
        assert_eq!(answer["owner"], owner.as_str());
        assert_eq!(answer["local"], owner == "node-a");
    }
    let (ok, _, err) = explain("{job=node}", &[]);
    assert!(!ok);
    assert!(err.contains("must be quoted"), "{err}");
}

/// node_exporter's count of the scrapes it answered (its own
/// `promhttp_metric_handler_requests_total{code="200"}`); reading it is one more.
fn exporter_scrapes(client: &reqwest::blocking::Client, port: u16) -> Option<f64> {
    let text = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .ok()?
        .text()
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("promhttp_metric_handler_requests_total{code=\"200\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The seed-004 scenario with real node_exporters: two nodes share 8 exporters as the
/// ring says; when one stops, the other scrapes all 8; when it is back, they split
/// again. Exporters count the scrapes they answer, so "scraped once per interval in
/// all" is checked at the targets.
#[test]
fn two_nodes_share_eight_node_exporters_and_take_over_from_each_other() {
    let Some(exporter_bin) = support::peer_binary("prometheus-node-exporter") else {
        return;
    };
    let dir = work_dir("seed-004");
    let ports: Vec<u16> = (0..8).map(|_| support::free_port()).collect();
    let _exporters: Vec<support::Peer> = ports
        .iter()
        .map(|port| {
            support::Peer(
                Command::new(&exporter_bin)
                    .args([
                        format!("--web.listen-address=127.0.0.1:{port}"),
                        // Only what the scenario needs: fast scrapes on a busy machine.
                        "--collector.disable-defaults".to_string(),
                        "--collector.loadavg".to_string(),
                    ])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("node_exporter starts"),
            )
        })
        .collect();
    let client = support::http();
    wait_until(JOIN_BOUND, || {
        ports
            .iter()
            .all(|p| exporter_scrapes(&client, *p).is_some())
    })
    .expect("the exporters answer");
    let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let targets: Vec<String> = addresses
        .iter()
        .map(|a| format!("{{\"__address__\" = \"{a}\", \"job\" = \"node\"}}"))
        .collect();
    std::fs::write(
        dir.join("config.alloy"),
        format!(
            "prometheus.scrape \"nodes\" {{\n  targets         = [{}]\n  forward_to      = []\n  scrape_interval = \"1s\"\n  scrape_timeout  = \"900ms\"\n\n  clustering {{\n    enabled = true\n  }}\n}}\n",
            targets.join(", ")
        ),
    )
    .unwrap();
    let ring = alloy_runtime::cluster::Ring::new(["node-a", "node-b"]);
    let expected_a = addresses
        .iter()
        .filter(|a| {
            let key =
                alloy_runtime::cluster::target_key([("__address__", a.as_str()), ("job", "node")]);
            ring.lookup(key, 1).unwrap()[0] == "node-a"
        })
        .count();
    let gauge = "prometheus_scrape_targets_gauge{component_path=\"/\",component_id=\"prometheus.scrape.nodes\"}";
    // Scrapes each exporter answered during 4 s, our own reads excluded.
    let rate = || -> Vec<f64> {
        let before: Vec<f64> = ports
            .iter()
            .map(|p| exporter_scrapes(&client, *p).unwrap_or(0.0))
            .collect();
        std::thread::sleep(Duration::from_secs(4));
        ports
            .iter()
            .zip(before)
            .map(|(p, b)| exporter_scrapes(&client, *p).unwrap_or(0.0) - b - 1.0)
            .collect()
    };
    // Once a second in all: 4 in 4 s, give or take a slot at either edge.
    let once_per_interval = |counts: &[f64]| counts.iter().all(|c| (3.0..=5.0).contains(c));

    let a = Node::start(&dir, "node-a", &[]);
    let join = format!("--cluster.join-addresses={}", a.addr());
    let b = Node::start(&dir, "node-b", &[&join]);
    let split = |a: &Node, b: &Node| {
        a.metric(gauge) == Some(expected_a as f64)
            && b.metric(gauge) == Some((8 - expected_a) as f64)
    };
    wait_until(JOIN_BOUND, || split(&a, &b)).unwrap_or_else(|| {
        panic!(
            "no split {expected_a}/{}: {:?} {:?}",
            8 - expected_a,
            a.metric(gauge),
            b.metric(gauge)
        )
    });
    std::thread::sleep(Duration::from_secs(1));
    let counts = rate();
    assert!(once_per_interval(&counts), "split: {counts:?}");
    println!(
        "2 nodes split 8 exporters {expected_a}/{}; scrapes per exporter in 4 s: {counts:?}",
        8 - expected_a
    );

    // node-b stops: node-a scrapes all 8.
    b.signal("TERM");
    let mut b = b;
    assert!(b.child.wait().expect("exits").success());
    wait_until(JOIN_BOUND, || a.metric(gauge) == Some(8.0)).expect("node-a takes all 8");
    let counts = rate();
    assert!(once_per_interval(&counts), "node-a alone: {counts:?}");
    println!("node-a alone: {counts:?}");

    // node-b is back: they split again.
    let b = Node::start(&dir, "node-b", &[&join]);
    wait_until(JOIN_BOUND, || split(&a, &b)).expect("split again");
    std::thread::sleep(Duration::from_secs(1));
    let counts = rate();
    assert!(once_per_interval(&counts), "split again: {counts:?}");
    println!("node-b back: {counts:?}");
}
