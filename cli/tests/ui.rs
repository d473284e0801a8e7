//! The web UI and its data API against the real binary: every `/api/v0/web` route
//! (components, module components, component detail, graph stream, peers) with a
//! pipeline that holds secrets, checking none leaks into any response; then a
//! two-node cluster whose pages a headless Debian chromium renders, checking the DOM
//! for components, health, edges and both peers, and saving screenshots under
//! `target/ui-screenshots/`; and a 30-component chain whose graph folds to stay
//! legible, with the live debugging view streaming its samples (and saying so when
//! live debugging is off).

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use support::{call, free_port, http, spawn_logged, LogLines, BIN};

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
    log: LogLines,
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
            log: LogLines::new(lines),
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
        self.log.wait_for(needle, Duration::from_secs(20))
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
        "/debug/prometheus.relabel.r1",
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
    // A gauge, written as a float ("28.0").
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

/// The folder screenshots go to, `target/ui-screenshots/`.
fn screenshots() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&p).expect("screenshot folder");
    p.canonicalize().unwrap_or(p)
}

/// The scale the graph in `dom` is drawn at: its width over its viewBox's, after
/// checking it fits the 1280×800 window.
fn graph_scale(dom: &str) -> f64 {
    let number = |attr: &str| -> f64 {
        attr_of(dom, "<svg class=\"graph\"", attr)
            .unwrap_or_else(|| panic!("svg {attr}: {dom}"))
            .parse()
            .expect("number")
    };
    let (width, height) = (number("width"), number("height"));
    assert!(width <= 1280.0 && height <= 800.0, "{width}x{height}");
    let view_box = attr_of(dom, "<svg class=\"graph\"", "viewBox").expect("viewBox");
    let natural: Vec<f64> = view_box
        .split(' ')
        .map(|v| v.parse().expect("number"))
        .collect();
    width / natural[2]
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

    let shots = screenshots();
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
    // Legible: not shrunk below half size even with 30 components.
    let scale = graph_scale(&dom);
    assert!(scale >= 0.5, "scaled to {scale}");
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

/// A child process killed when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless chromium driven over the DevTools protocol, for pages whose content
/// arrives over a stream: `--dump-dom` runs virtual time ahead of the real stream
/// and dumps before the first entry arrives, so this polls the live DOM instead.
struct Devtools {
    _browser: KillOnDrop,
    socket: std::net::TcpStream,
    next_id: u64,
}

impl Devtools {
    /// Opens `url` in a 1280×800 window and connects to its page's DevTools socket.
    fn open(browser: &Path, profile: &Path, url: &str) -> Devtools {
        let port_file = profile.join("DevToolsActivePort");
        let _ = std::fs::remove_file(&port_file);
        let child = KillOnDrop(
            Command::new(browser)
                .args([
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
                    "--remote-debugging-port=0",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("chromium starts"),
        );
        // Chromium writes the port it chose into the profile.
        let port = eventually("chromium's DevTools port", || {
            let text = std::fs::read_to_string(&port_file).ok()?;
            text.lines().next()?.trim().parse::<u16>().ok()
        });
        let socket_path = eventually("the page target", || {
            let (status, body) = call(
                &http(),
                reqwest::Method::GET,
                &format!("http://127.0.0.1:{port}/json/list"),
            );
            let targets: serde_json::Value = serde_json::from_str(&body).ok()?;
            let page = targets.as_array()?.iter().find(|t| t["type"] == "page")?;
            let ws = page["webSocketDebuggerUrl"].as_str()?;
            let path = &ws[ws.find("/devtools/")?..];
            (status == 200).then(|| path.to_string())
        });
        let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let request = format!(
            "GET {socket_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).expect("handshake");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte).expect("handshake answer");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Devtools {
            _browser: child,
            socket,
            next_id: 0,
        }
    }

    /// Sends one DevTools command and returns its result.
    fn command(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let text = serde_json::json!({"id": id, "method": method, "params": params}).to_string();
        // A masked, final text frame, as a WebSocket client must send.
        let mut frame = vec![0x81u8];
        let len = text.len();
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else if len <= u16::MAX as usize {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mask = [0x37u8, 0xfa, 0x21, 0x3d];
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.socket.write_all(&frame).expect("send");
        loop {
            let message: serde_json::Value =
                serde_json::from_slice(&self.read_message()).expect("DevTools answers JSON");
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    /// One whole message from the socket (frames joined until the final one).
    fn read_message(&mut self) -> Vec<u8> {
        let mut payload = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.socket.read_exact(&mut head).expect("frame");
            let mut len = (head[1] & 0x7f) as u64;
            if len == 126 {
                let mut ext = [0u8; 2];
                self.socket.read_exact(&mut ext).expect("length");
                len = u16::from_be_bytes(ext) as u64;
            } else if len == 127 {
                let mut ext = [0u8; 8];
                self.socket.read_exact(&mut ext).expect("length");
                len = u64::from_be_bytes(ext);
            }
            let start = payload.len();
            payload.resize(start + len as usize, 0);
            self.socket
                .read_exact(&mut payload[start..])
                .expect("payload");
            if head[0] & 0x80 != 0 {
                return payload;
            }
        }
    }

    /// The page's DOM as HTML.
    fn dom(&mut self) -> String {
        let result = self.command(
            "Runtime.evaluate",
            serde_json::json!({"expression": "document.documentElement.outerHTML", "returnByValue": true}),
        );
        result["result"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Polls the DOM (at most 20 s) until `done` says it is complete, then saves a
    /// screenshot to `png` and returns that DOM.
    fn wait_for_dom(&mut self, what: &str, png: &Path, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let dom = loop {
            let dom = self.dom();
            if done(&dom) {
                break dom;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {dom}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let shot = self.command(
            "Page.captureScreenshot",
            serde_json::json!({"format": "png"}),
        );
        let data = shot["data"].as_str().expect("screenshot data");
        std::fs::write(png, base64_decode(data)).expect("screenshot written");
        dom
    }
}

/// Standard base64 (the DevTools screenshot encoding) to bytes.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Components in the chain of [`chain`].
const CHAIN: usize = 30;

/// A linear chain of [`CHAIN`] components: the self exporter, its scrape and
/// relabels each forwarding to the next, relabel `c{i}` tagging samples `hop-{i}`;
/// `live` adds the `livedebugging` block.
fn chain(live: bool) -> String {
    let relabels = CHAIN - 2;
    let mut text = String::new();
    if live {
        text.push_str("livedebugging {\n  enabled = true\n}\n\n");
    }
    text.push_str(
        r#"prometheus.exporter.self "me" { }

prometheus.scrape "me" {
  targets         = prometheus.exporter.self.me.targets
  forward_to      = [prometheus.relabel.c0.receiver]
  scrape_interval = "1s"
  scrape_timeout  = "900ms"
}
"#,
    );
    for i in 0..relabels {
        let forward = if i + 1 < relabels {
            format!("prometheus.relabel.c{}.receiver", i + 1)
        } else {
            String::new()
        };
        text.push_str(&format!(
            r#"
prometheus.relabel "c{i}" {{
  forward_to = [{forward}]
  rule {{
    action       = "replace"
    target_label = "hop"
    replacement  = "hop-{i}"
  }}
}}
"#
        ));
    }
    text
}

#[test]
fn a_long_chain_folds_legibly_and_live_debugging_streams() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = scratch("chain");
    std::fs::write(dir.join("config.alloy"), chain(true)).expect("config");
    let node = Node::start(&dir, "node-c", "127.0.0.1:0", &[]);
    let last = format!("prometheus.relabel.c{}", CHAIN - 3);
    eventually("samples at the end of the chain", || {
        let c = get_json(&node.base, &format!("/api/v0/web/components/{last}"));
        (c["samplesTotal"].as_u64()? > 0).then_some(())
    });
    let shots = screenshots();
    let profile = dir.join("chromium-profile");
    let page = |path: &str, shot: &str| -> String {
        let url = format!("{}{path}", node.base);
        let dom = browse(&browser, &profile, &url, None);
        browse(&browser, &profile, &url, Some(&shots.join(shot)));
        assert!(!dom.contains("Could not"), "{path}: {dom}");
        dom
    };

    // Thirty components in a row fold into bands instead of shrinking out of sight.
    let dom = page("/graph", "graph-chain.png");
    assert_eq!(dom.matches("<g class=\"node ").count(), CHAIN, "{dom}");
    let scale = graph_scale(&dom);
    assert!(scale >= 0.5, "a {CHAIN}-component chain drawn at {scale}");
    let bands: usize = attr_of(&dom, "<svg class=\"graph\"", "data-bands")
        .expect("bands")
        .parse()
        .expect("number");
    assert!(bands > 1, "{bands} bands");
    assert_eq!(dom.matches("<g class=\"edge\"").count(), CHAIN - 1, "{dom}");

    // The component page links to the live view, which shows streamed samples.
    let dom = page(&format!("/component/{last}"), "component-chain.png");
    assert!(
        dom.contains(&format!("href=\"debug/{last}\"")),
        "no live debugging link: {dom}"
    );
    let mut tools = Devtools::open(&browser, &profile, &format!("{}/debug/{last}", node.base));
    let dom = tools.wait_for_dom(
        "streamed entries",
        &shots.join("live-debugging.png"),
        |dom| dom.matches("<div class=\"entry\">").count() >= 10,
    );
    drop(tools);
    let entries = dom.matches("<div class=\"entry\">").count();
    assert!(entries > 0, "no streamed entries: {dom}");
    assert!(entries <= 1000, "{entries} entries kept");
    assert!(dom.contains(&format!("hop-{}", CHAIN - 3)), "{dom}");
    assert!(dom.contains("alloy_build_info"), "{dom}");
    assert!(!dom.contains("live debugging is disabled"), "{dom}");

    // Without the block the view says live debugging is off.
    std::fs::write(dir.join("config.alloy"), chain(false)).expect("config");
    let (status, body) = call(
        &http(),
        reqwest::Method::POST,
        &format!("{}/-/reload", node.base),
    );
    assert_eq!(status, 200, "{body}");
    let dom = page(&format!("/debug/{last}"), "live-debugging-disabled.png");
    assert!(
        dom.contains(
            "<p id=\"live-status\" class=\"notice\" role=\"status\">live debugging is disabled"
        ),
        "{dom}"
    );
    assert!(!dom.contains("<div class=\"entry\">"), "{dom}");
    drop(node);
}
