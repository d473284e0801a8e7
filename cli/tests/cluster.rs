//! Clustering with real `ferroalloy run` processes on 127.0.0.1: joining through
//! `--cluster.join-addresses`, failure detection after `kill -9`, a graceful leave,
//! `--cluster.name` isolation and `--cluster.wait-for-size` readiness. Every wait is
//! bounded; measured times are printed (`cargo test -- --nocapture` shows them).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{spawn_logged, BIN};

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
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
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
                .env("NO_COLOR", "1")
                .env("RUST_LOG", "info"),
        );
        let mut node = Node {
            child,
            lines,
            seen: Vec::new(),
            base: String::new(),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
        };
        let line = node.wait_for("now listening for http traffic");
        let addr = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        node.base = format!("http://{addr}");
        node.wait_for("ferroalloy is running");
        node
    }

    /// `host:port` of the HTTP server, which is also the gossip address.
    fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Waits (at most 20 s) for a stderr line containing `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + JOIN_BOUND;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line.clone());
                    if found {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line with {needle:?}; stderr so far:\n{}",
            self.seen.join("\n")
        );
    }

    /// Like [`Node::wait_for`], but a line seen already counts too.
    fn saw(&mut self, needle: &str) {
        if !self.seen.iter().any(|l| l.contains(needle)) {
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
    assert!(
        took < Duration::from_secs(4),
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
fn unsupported_cluster_flags_are_refused_with_a_reason() {
    let dir = work_dir("refused");
    for (flags, says) in [
        (&["--cluster.enable-tls"][..], "not supported yet"),
        (&["--cluster.tls-ca-path=ca.pem"][..], "not supported yet"),
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

/// Request times per path, recorded by a tiny target server.
type Hits = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<Instant>>>>;

/// A scrape target on 127.0.0.1 answering every path with one sample and recording
/// when each path was scraped.
fn target_server() -> (String, Hits) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let hits: Hits = Default::default();
    let record = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let record = record.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&buf);
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                record
                    .lock()
                    .unwrap()
                    .entry(path)
                    .or_default()
                    .push(Instant::now());
                let body = "x 1\n";
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            });
        }
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
