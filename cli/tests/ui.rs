//! The web UI and its data API against the real binary: every `/api/v0/web` route
//! (components, module components, component detail, graph stream, peers) with a
//! pipeline that holds secrets, checking none leaks into any response; then a
//! two-node cluster whose pages a headless Debian chromium renders, checking the DOM
//! for components, health, edges and both peers, and saving screenshots under
//! `target/ui-screenshots/`.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{call, free_port, http, spawn_logged, BIN};

/// Written into the configuration as a literal basic-auth password.
const PASSWORD: &str = "hunter2-literal-password";
/// The content of a `local.file` with `is_secret = true`, used as a bearer token.
const TOKEN: &str = "token-from-a-secret-file";
/// A literal bearer token of a second remote_write.
const BEARER: &str = "literal-bearer-token-value";

/// Scrapes (each followed by a relabel) in the pipeline: with the three files, the two
/// remote writes and the custom component that makes 30 components.
const PAIRS: usize = 12;
/// Targets of each clustered (odd) scrape: distinct label sets, so the ring spreads
/// them over the peers (all on one node would have a chance of 2^-24).
const SHARDS: usize = 4;
/// Every target in the pipeline: one per plain scrape, [`SHARDS`] per clustered one.
const TARGETS: usize = PAIRS / 2 + PAIRS / 2 * SHARDS;

/// A pipeline of 30 root components on the node listening at `addr`: it scrapes its
/// own `/metrics` once a second through relabels into remote writes (whose endpoint
/// refuses, which does not matter here), with secrets in three forms and a custom
/// component whose module holds one more relabel.
fn pipeline(addr: &str) -> String {
    let mut text = format!(
        r#"local.file "token" {{
  filename  = "token.txt"
  is_secret = true
}}

local.file "plain" {{
  filename = "plain.txt"
}}

local.file "extra" {{
  filename = "plain.txt"
}}

declare "wrap" {{
  argument "forward" {{ }}

  prometheus.relabel "inner" {{
    forward_to = argument.forward.value
    rule {{
      action       = "replace"
      target_label = "wrapped"
      replacement  = "yes"
    }}
  }}

  export "receiver" {{
    value = prometheus.relabel.inner.receiver
  }}
}}

wrap "mod" {{
  forward = [prometheus.remote_write.out.receiver]
}}

prometheus.remote_write "out" {{
  endpoint {{
    url = "http://127.0.0.1:9/api/v1/write"
    basic_auth {{
      username = "user"
      password = "{PASSWORD}"
    }}
  }}
  endpoint {{
    url          = "http://127.0.0.1:9/api/v1/write"
    bearer_token = local.file.token.content
  }}
}}

prometheus.remote_write "other" {{
  endpoint {{
    url          = "http://127.0.0.1:9/api/v1/write"
    bearer_token = "{BEARER}"
  }}
}}
"#
    );
    for i in 0..PAIRS {
        // The first scrape goes through the custom component, the rest through relabels.
        let forward = if i == 0 {
            "wrap.mod.receiver".to_string()
        } else {
            format!("prometheus.relabel.r{i}.receiver")
        };
        let sink = if i % 2 == 0 { "out" } else { "other" };
        // Odd scrapes share their targets across the cluster.
        let (clustering, shards) = if i % 2 == 1 {
            ("\n  clustering {\n    enabled = true\n  }", SHARDS)
        } else {
            ("", 1)
        };
        let targets: Vec<String> = (0..shards)
            .map(|k| format!(r#"{{"__address__" = "{addr}", "shard" = "{i}-{k}"}}"#))
            .collect();
        let targets = targets.join(", ");
        text.push_str(&format!(
            r#"
prometheus.scrape "s{i}" {{
  targets         = [{targets}]
  forward_to      = [{forward}]
  scrape_interval = "1s"
  scrape_timeout  = "900ms"{clustering}
}}

prometheus.relabel "r{i}" {{
  forward_to = [prometheus.remote_write.{sink}.receiver]
  rule {{
    action       = "replace"
    target_label = "pair"
    replacement  = "{i}"
  }}
}}
"#
        ));
    }
    text
}

/// A `ferroalloy run` killed when dropped, so a failing test leaves nothing behind.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    base: String,
}

impl Node {
    fn start(dir: &Path, name: &str, listen: &str, extra: &[&str]) -> Node {
        let data = dir.join(name);
        std::fs::create_dir_all(&data).expect("node folder");
        let (child, lines) = spawn_logged(
            Command::new(BIN)
                .args([
                    "run",
                    "config.alloy",
                    "--storage.path",
                    &data.display().to_string(),
                    "--server.http.listen-addr",
                    listen,
                    "--cluster.enabled=true",
                    "--cluster.node-name",
                    name,
                    "--cluster.advertise-address",
                    "127.0.0.1",
                ])
                .args(extra)
                .current_dir(dir)
                .env("NO_COLOR", "1"),
        );
        let mut node = Node {
            child,
            lines,
            seen: Vec::new(),
            base: String::new(),
        };
        let line = node.wait_for("now listening for http traffic");
        let addr = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        node.base = format!("http://{addr}");
        node.wait_for("ferroalloy is running");
        node
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
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

    fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Starts the pipeline node, clustered, on a port chosen first (the configuration
/// scrapes the node's own address).
fn pipeline_node(dir: &Path) -> Node {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    std::fs::write(dir.join("token.txt"), TOKEN).expect("token");
    std::fs::write(dir.join("plain.txt"), "plain-file-content").expect("plain file");
    std::fs::write(dir.join("config.alloy"), pipeline(&addr)).expect("config");
    Node::start(dir, "node-a", &addr, &[])
}

fn get_json(base: &str, path: &str) -> serde_json::Value {
    let (status, body) = call(&http(), reqwest::Method::GET, &format!("{base}{path}"));
    assert_eq!(status, 200, "{path}: {body}");
    assert_no_secret(path, &body);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn assert_no_secret(what: &str, body: &str) {
    for secret in [PASSWORD, TOKEN, BEARER] {
        assert!(!body.contains(secret), "{what} shows {secret:?}:\n{body}");
    }
}

/// Polls `check` (at most 20 s) until it returns `Some`.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn api_routes_answer_and_never_show_secrets() {
    let dir = scratch("api");
    let node = pipeline_node(&dir);
    let base = node.base.clone();

    // The root list: every component, upstream's fields, no arguments.
    let list = get_json(&base, "/api/v0/web/components");
    let listed = ids(&list);
    assert_eq!(listed.len(), 30, "{listed:?}");
    for id in ["local.file.token", "wrap.mod", "prometheus.scrape.s3"] {
        assert!(listed.iter().any(|l| l == id), "{id} missing: {listed:?}");
    }
    let scrape = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "prometheus.scrape.s1")
        .expect("scrape listed");
    assert_eq!(scrape["name"], "prometheus.scrape");
    assert_eq!(scrape["label"], "s1");
    assert_eq!(scrape["localID"], "prometheus.scrape.s1");
    assert_eq!(scrape["moduleID"], "");
    assert_eq!(
        scrape["referencesTo"],
        serde_json::json!(["prometheus.relabel.r1"])
    );
    assert_eq!(
        scrape["dataFlowEdgesTo"],
        serde_json::json!(["prometheus.relabel.r1"])
    );
    assert!(scrape.get("arguments").is_none(), "{scrape}");
    let updated = scrape["health"]["updatedTime"].as_str().expect("time");
    assert!(updated.ends_with('Z') && updated.len() == 24, "{updated}");
    let wrap = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "wrap.mod")
        .expect("custom component listed");
    assert_eq!(wrap["createdModuleIDs"], serde_json::json!(["wrap.mod"]));

    // Health turns healthy once scrapes ran, and forwarding shows up as a rate.
    let rate = eventually("a scrape to forward samples", || {
        let list = get_json(&base, "/api/v0/web/components");
        let s = list
            .as_array()?
            .iter()
            .find(|c| c["id"] == "prometheus.scrape.s1")?
            .clone();
        let total = s["samplesTotal"].as_u64()?;
        (s["health"]["state"] == "healthy" && total > 0).then(|| s["samplesPerSecond"].clone())
    });
    assert!(rate.is_number(), "{rate}");

    // Detail: evaluated arguments with secrets masked, exports, source redacted.
    let out = get_json(&base, "/api/v0/web/components/prometheus.remote_write.out");
    let text = out.to_string();
    assert!(text.contains("(secret)"), "{text}");
    assert!(text.contains("\"name\":\"basic_auth\""), "{text}");
    assert!(text.contains("\"username\""), "{text}");
    assert_eq!(out["exports"][0]["name"], "receiver");
    let source = out["source"].as_str().expect("source");
    assert!(
        source.starts_with("prometheus.remote_write \"out\""),
        "{source}"
    );
    assert!(source.contains("password = \"(secret)\""), "{source}");
    assert_eq!(out["referencesTo"], serde_json::json!(["local.file.token"]));
    let other = get_json(
        &base,
        "/api/v0/web/components/prometheus.remote_write.other",
    );
    assert!(other["source"]
        .as_str()
        .unwrap()
        .contains("bearer_token = \"(secret)\""));
    let file = get_json(&base, "/api/v0/web/components/local.file.token");
    assert_eq!(
        file["exports"][0],
        serde_json::json!({"name": "content", "type": "attr", "value": {"type": "capsule", "value": "(secret)"}})
    );
    let plain = get_json(&base, "/api/v0/web/components/local.file.plain");
    // A file that is not secret shows its content: the check above is about masking,
    // not about hiding everything.
    assert!(plain.to_string().contains("plain-file-content"), "{plain}");
    let scrape = get_json(&base, "/api/v0/web/components/prometheus.scrape.s2");
    assert!(
        scrape["arguments"].to_string().contains("scrape_interval"),
        "{scrape}"
    );
    // Debug info lists the targets and who scrapes them; a one-node cluster owns all.
    let debug = scrape["debugInfo"].to_string();
    assert!(debug.contains("\"owner\""), "{debug}");
    assert!(debug.contains("node-a"), "{debug}");
    let owned = get_json(&base, "/api/v0/web/cluster/targets");
    assert_eq!(owned, serde_json::json!({"node-a": TARGETS}));

    // Module-scoped routes.
    let inner = get_json(&base, "/api/v0/web/modules/wrap.mod/components");
    assert_eq!(ids(&inner), vec!["wrap.mod/prometheus.relabel.inner"]);
    assert_eq!(inner[0]["moduleID"], "wrap.mod");
    assert_eq!(inner[0]["localID"], "prometheus.relabel.inner");
    let nested = get_json(
        &base,
        "/api/v0/web/components/wrap.mod/prometheus.relabel.inner",
    );
    assert_eq!(nested["moduleID"], "wrap.mod");
    assert!(nested["arguments"].to_string().contains("wrapped"));

    // Unknown things are 404.
    let client = http();
    for path in [
        "/api/v0/web/components/prometheus.scrape.nope",
        "/api/v0/web/modules/prometheus.scrape.s1/components",
        "/api/v0/web/modules/nope/components",
        "/api/v0/web/graph/nope",
    ] {
        let (status, body) = call(&client, reqwest::Method::GET, &format!("{base}{path}"));
        assert_eq!(status, 404, "{path}: {body}");
    }
    for window in ["0", "61", "x", "1.5"] {
        let url = format!("{base}/api/v0/web/graph?window={window}");
        let (status, _) = call(&client, reqwest::Method::GET, &url);
        assert_eq!(status, 400, "window={window}");
    }

    // The graph stream: chunks of throughput samples separated by `|;|`.
    let mut resp = client
        .get(format!("{base}/api/v0/web/graph?window=1"))
        .send()
        .expect("graph stream");
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.matches("|;|").count() < 2 && Instant::now() < deadline {
        let n = resp.read(&mut buf).expect("stream reads");
        assert!(n > 0, "stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    drop(resp);
    assert_no_secret("graph stream", &seen);
    let first = seen.split("|;|").next().unwrap();
    let chunk: serde_json::Value = serde_json::from_str(first).expect("chunk is JSON");
    let entry = chunk
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["componentID"] == "prometheus.relabel.r1")
        .unwrap_or_else(|| panic!("no relabel in {chunk}"));
    assert_eq!(
        entry["targetComponentIDs"],
        serde_json::json!(["prometheus.remote_write.other"])
    );
    assert!(entry["rate"].is_number());
    let module_stream = client
        .get(format!("{base}/api/v0/web/graph/wrap.mod?window=1"))
        .send()
        .expect("module graph stream");
    assert_eq!(module_stream.status(), 200);
    drop(module_stream);

    // Peers, the pages and everything else the server says: no secrets anywhere.
    let peers = get_json(&base, "/api/v0/web/peers");
    assert_eq!(peers[0]["name"], "node-a");
    for path in [
        "/",
        "/graph",
        "/graph/wrap.mod",
        "/clustering",
        "/component/prometheus.scrape.s1",
        "/component/wrap.mod/prometheus.relabel.inner",
    ] {
        let (status, body) = call(&client, reqwest::Method::GET, &format!("{base}{path}"));
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("<base href=\"/\">"), "{path}: {body}");
        assert!(body.contains("assets/app.js"), "{path}");
    }
    for asset in ["/assets/app.js", "/assets/app.css"] {
        let resp = client.get(format!("{base}{asset}")).send().expect(asset);
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(if asset.ends_with("js") {
                "text/javascript"
            } else {
                "text/css"
            }));
    }
    let (_, metrics) = call(&client, reqwest::Method::GET, &format!("{base}/metrics"));
    assert_no_secret("/metrics", &metrics);
    // Component health, evaluation timings, forwarding and remote-write counters and
    // the WAL's size, per component where upstream labels them so.
    for expected in [
        "alloy_component_controller_running_components{health_type=\"healthy\"} ",
        "alloy_component_evaluation_seconds_count ",
        "alloy_component_samples_forwarded_total{component_path=\"/\",component_id=\"prometheus.scrape.s0\"} ",
        "prometheus_remote_storage_samples_total{component_path=\"/\",component_id=\"prometheus.remote_write.out\"} ",
        "prometheus_remote_storage_samples_failed_total{component_path=\"/\",component_id=\"prometheus.remote_write.other\"} ",
        "prometheus_remote_write_wal_size_bytes{component_path=\"/\",component_id=\"prometheus.remote_write.out\"} ",
    ] {
        assert!(metrics.contains(expected), "{expected} missing in {metrics}");
    }
    let healthy: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "alloy_component_controller_running_components{health_type=\"healthy\"} ",
            )
        })
        .and_then(|v| v.trim().parse().ok())
        .expect("running components");
    assert!(healthy >= 10.0, "{healthy} healthy components");
    drop(node);
}

/// Debian's chromium, or `None` (with a note) when it is missing outside CI.
fn chromium() -> Option<PathBuf> {
    for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(path).exists() {
            return Some(PathBuf::from(path));
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium is missing; .ci/run installs it");
    }
    eprintln!("skipping the browser test: chromium is not installed (apt-get install chromium)");
    None
}

/// Headless chromium on `url` with a 1280×800 window: the DOM after scripts ran, or
/// (with `screenshot`) a PNG there.
fn browse(browser: &Path, profile: &Path, url: &str, screenshot: Option<&Path>) -> String {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=1280,800",
        "--virtual-time-budget=4000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some(png) => cmd.arg(format!("--screenshot={}", png.display())),
        None => cmd.arg("--dump-dom"),
    };
    cmd.arg(url);
    let out = run_bounded(cmd, Duration::from_secs(60));
    if let Some(png) = screenshot {
        assert!(png.exists(), "no screenshot at {}", png.display());
    }
    out
}

/// Runs `cmd` and returns its stdout, killing it after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> String {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().expect("reader")
}

/// The value of `attr` in the first tag that starts with `tag_start`.
fn attr_of(dom: &str, tag_start: &str, attr: &str) -> Option<String> {
    let at = dom.find(tag_start)?;
    let tag = &dom[at..at + dom[at..].find('>')?];
    let key = format!(" {attr}=\"");
    let from = tag.find(&key)? + key.len();
    Some(tag[from..from + tag[from..].find('"')?].to_string())
}

#[test]
fn pages_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = scratch("browser");
    let a = pipeline_node(&dir);
    let other = dir.join("b");
    std::fs::create_dir_all(&other).expect("node b folder");
    std::fs::write(other.join("config.alloy"), "").expect("config b");
    let join = format!("--cluster.join-addresses={}", a.addr());
    let b = Node::start(&other, "node-b", "127.0.0.1:0", &[&join]);
    eventually("both peers on node-a", || {
        let peers = get_json(&a.base, "/api/v0/web/peers");
        (peers.as_array()?.len() == 2).then_some(())
    });
    // Wait for rates, so edge labels have numbers in them (r2's scrape is not
    // clustered, so node-a scrapes it whatever the ring says).
    eventually("forwarded samples", || {
        let c = get_json(&a.base, "/api/v0/web/components/prometheus.relabel.r2");
        (c["samplesTotal"].as_u64()? > 0).then_some(())
    });

    let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/ui-screenshots")
        .canonicalize()
        .unwrap_or_else(|_| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
            std::fs::create_dir_all(&p).expect("screenshot folder");
            p
        });
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let profile = dir.join("chromium-profile");
    let page = |path: &str, shot: &str| -> String {
        let url = format!("{}{path}", a.base);
        let dom = browse(&browser, &profile, &url, None);
        browse(&browser, &profile, &url, Some(&shots.join(shot)));
        assert!(dom.contains("ferroalloy"), "{path}: {dom}");
        assert!(!dom.contains("Could not refresh"), "{path}: {dom}");
        assert_no_secret(path, &dom);
        dom
    };

    // The list: every component with its health badge.
    let dom = page("/", "components.png");
    for i in 0..PAIRS {
        assert!(
            dom.contains(&format!(">prometheus.scrape.s{i}<")),
            "s{i}: {dom}"
        );
    }
    assert!(dom.contains("class=\"badge healthy\""), "{dom}");
    assert!(dom.contains(">wrap.mod<"), "{dom}");
    assert_eq!(dom.matches("<tr data-id=").count(), 30, "{dom}");

    // The detail: masked arguments and the redacted source.
    let dom = page(
        "/component/prometheus.remote_write.out",
        "component-remote-write.png",
    );
    assert!(dom.contains("basic_auth"), "{dom}");
    assert!(dom.contains("(secret)"), "{dom}");
    assert!(dom.contains("id=\"source\""), "{dom}");
    let dom = page("/component/wrap.mod", "component-module.png");
    assert!(dom.contains("Module components"), "{dom}");
    assert!(dom.contains("prometheus.relabel.inner"), "{dom}");

    // The graph: 30 nodes, data-flow edges with rates, scaled to fit the window.
    let dom = page("/graph", "graph.png");
    assert_eq!(dom.matches("<g class=\"node ").count(), 30, "{dom}");
    assert!(dom.contains("<g class=\"node healthy\""), "{dom}");
    assert!(
        dom.contains("data-from=\"prometheus.scrape.s1\" data-to=\"prometheus.relabel.r1\""),
        "{dom}"
    );
    assert!(
        dom.contains("data-from=\"prometheus.relabel.r2\" data-to=\"prometheus.remote_write.out\""),
        "{dom}"
    );
    assert!(dom.contains(" samples/s</text>"), "no edge rate: {dom}");
    let width: f64 = attr_of(&dom, "<svg class=\"graph\"", "width")
        .expect("svg width")
        .parse()
        .expect("number");
    let height: f64 = attr_of(&dom, "<svg class=\"graph\"", "height")
        .expect("svg height")
        .parse()
        .expect("number");
    let view_box = attr_of(&dom, "<svg class=\"graph\"", "viewBox").expect("viewBox");
    assert!(width <= 1280.0 && height <= 800.0, "{width}x{height}");
    // Legible: not shrunk below half size even with 30 components.
    let natural: Vec<f64> = view_box
        .split(' ')
        .map(|v| v.parse().expect("number"))
        .collect();
    assert!(width / natural[2] >= 0.5, "scaled to {width} of {view_box}");
    let dom = page("/graph/wrap.mod", "graph-module.png");
    assert_eq!(dom.matches("<g class=\"node ").count(), 1, "{dom}");

    // Clustering: both peers, the local one marked, targets counted per owner (the
    // clustered half of the scrapes is shared, the rest stays on node-a).
    let owned = eventually("the ring to give node-b targets", || {
        let owned = get_json(&a.base, "/api/v0/web/cluster/targets");
        let total: u64 = owned.as_object()?.values().filter_map(|v| v.as_u64()).sum();
        (total == TARGETS as u64 && owned["node-b"].as_u64().unwrap_or(0) > 0).then_some(owned)
    });
    let dom = page("/clustering", "clustering.png");
    for (peer, count) in owned.as_object().unwrap() {
        let row = &dom[dom
            .find(&format!("data-peer=\"{peer}\""))
            .expect("peer row")..];
        let cell = format!("<td class=\"owned\">{count}</td>");
        assert!(row.contains(&cell), "{peer} should own {count}: {dom}");
    }
    assert!(dom.contains("data-peer=\"node-a\""), "{dom}");
    assert!(dom.contains("data-peer=\"node-b\""), "{dom}");
    assert!(dom.contains("(this node)"), "{dom}");
    assert!(dom.contains(b.addr()), "{dom}");
    assert!(dom.contains(">participant<"), "{dom}");
    eprintln!("screenshots in {}", shots.display());
    drop(b);
    drop(a);
}
