//! `prometheus.remote_write` against a real remote-write receiver on 127.0.0.1: what
//! is sent (labels, values, headers, external labels), retries and drops, and the WAL
//! carrying samples across a crash, a corrupt tail and a restart, exactly once.

mod support;

use alloy_components::prometheus::remote::decode_request;
use alloy_components::prometheus::{Batch, Labels, Receiver, Sample};
use alloy_runtime::controller::Controller;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::{controller_in, eventually, load};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One sample as the receiver saw it: sorted labels, timestamp, value.
type Got = (Vec<(String, String)>, i64, f64);

/// What the test receiver answers and what it accepted.
#[derive(Default)]
struct Remote {
    /// Statuses for the next requests, then 200.
    script: VecDeque<u16>,
    /// Every request's headers (lower-case names), in arrival order.
    headers: Vec<HashMap<String, String>>,
    /// The samples of requests answered with 2xx.
    accepted: Vec<Got>,
    /// Requests answered with a non-2xx status.
    refused: Vec<Vec<Got>>,
}

/// A remote-write receiver: reads one request per connection, decodes snappy +
/// protobuf, answers from the script.
async fn remote_server(remote: Arc<Mutex<Remote>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let remote = remote.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = vec![0u8; 65536];
                let header_end = loop {
                    if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&got[..header_end]).into_owned();
                let headers: HashMap<String, String> = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while got.len() < header_end + len {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let req = decode_request(&got[header_end..header_end + len]).unwrap();
                let samples: Vec<Got> = req
                    .timeseries
                    .iter()
                    .flat_map(|ts| {
                        let labels: Vec<(String, String)> = ts
                            .labels
                            .iter()
                            .map(|l| (l.name.clone(), l.value.clone()))
                            .collect();
                        ts.samples
                            .iter()
                            .map(move |s| (labels.clone(), s.timestamp, s.value))
                    })
                    .collect();
                let status = {
                    let mut r = remote.lock().unwrap();
                    r.headers.push(headers);
                    let status = r.script.pop_front().unwrap_or(200);
                    if (200..300).contains(&status) {
                        r.accepted.extend(samples);
                    } else {
                        r.refused.push(samples);
                    }
                    status
                };
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/api/v1/write")
}

/// A URL nobody listens on: the endpoint is down.
async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/api/v1/write")
}

fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ferroalloy-rw-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn receiver(c: &Controller, id: &str) -> Receiver {
    let exports = c.node(id).unwrap().exports();
    Receiver::from_value(&exports.as_object().unwrap()["receiver"]).unwrap()
}

/// A sample to append: label pairs, timestamp, value.
type In<'a> = (&'a [(&'a str, &'a str)], i64, f64);

fn batch(samples: &[In]) -> Batch {
    samples
        .iter()
        .map(|(labels, t, v)| Sample {
            labels: Labels::from_pairs(labels.iter().map(|(a, b)| (*a, *b))),
            timestamp_ms: *t,
            value: *v,
        })
        .collect::<Vec<_>>()
        .into()
}

fn got(labels: &[(&str, &str)], t: i64, v: f64) -> Got {
    (
        labels
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        t,
        v,
    )
}

/// Fast queue settings for tests.
const FAST_QUEUE: &str = "queue_config {\n      batch_send_deadline = \"20ms\"\n      min_backoff = \"10ms\"\n      max_backoff = \"40ms\"\n      min_shards = 1\n      max_shards = 1\n    }";

fn config(url: &str, extra: &str) -> String {
    format!(
        "prometheus.remote_write \"x\" {{\n  endpoint {{\n    name = \"ep\"\n    url = \"{url}\"\n    {FAST_QUEUE}\n  }}\n  {extra}\n}}\n"
    )
}

const ID: &str = "prometheus.remote_write.x";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_labels_values_external_labels_and_protocol_headers() {
    let storage = temp_dir("send");
    let remote = Arc::new(Mutex::new(Remote::default()));
    let url = remote_server(remote.clone()).await;
    let c = controller_in(&storage);
    let src = format!(
        "prometheus.remote_write \"x\" {{\n  external_labels = {{ cluster = \"c1\", job = \"ext\" }}\n  endpoint {{\n    url = \"{url}\"\n    headers = {{ \"X-Scope-OrgID\" = \"tenant\" }}\n    basic_auth {{\n      username = \"u\"\n      password = \"p\"\n    }}\n    {FAST_QUEUE}\n  }}\n}}\n"
    );
    load(&c, &src).await.unwrap();
    let r = receiver(&c, ID);
    r.0.receive(&batch(&[
        (&[("__name__", "up"), ("job", "a")], 1000, 1.0),
        (&[("__name__", "other")], 1000, 2.5),
    ]));
    eventually("both samples to arrive", || {
        remote.lock().unwrap().accepted.len() == 2
    })
    .await;
    let mut accepted = remote.lock().unwrap().accepted.clone();
    accepted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        accepted,
        [
            got(
                &[("__name__", "other"), ("cluster", "c1"), ("job", "ext")],
                1000,
                2.5
            ),
            got(
                &[("__name__", "up"), ("cluster", "c1"), ("job", "a")],
                1000,
                1.0
            ),
        ]
    );
    let headers = remote.lock().unwrap().headers[0].clone();
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["content-encoding"], "snappy");
    assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
    assert!(
        headers["user-agent"].starts_with("Alloy/v"),
        "{}",
        headers["user-agent"]
    );
    assert_eq!(headers["x-scope-orgid"], "tenant");
    assert_eq!(headers["authorization"], "Basic dTpw");
    let seed = std::fs::read_to_string(storage.join("alloy_seed.json")).unwrap();
    let id = &headers["x-alloy-id"];
    assert_eq!(id.len(), 36);
    assert_eq!(&headers["x-agent-id"], id);
    assert!(seed.contains(id.as_str()), "{seed}");
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_and_every_sample_arrives_once_in_order() {
    let storage = temp_dir("retry");
    let remote = Arc::new(Mutex::new(Remote {
        script: VecDeque::from([500, 503, 502, 500]),
        ..Remote::default()
    }));
    let url = remote_server(remote.clone()).await;
    let c = controller_in(&storage);
    let src = format!(
        "prometheus.remote_write \"x\" {{\n  endpoint {{\n    url = \"{url}\"\n    queue_config {{\n      batch_send_deadline = \"20ms\"\n      min_backoff = \"10ms\"\n      max_backoff = \"40ms\"\n      max_samples_per_send = 7\n      min_shards = 3\n      max_shards = 3\n    }}\n  }}\n}}\n"
    );
    load(&c, &src).await.unwrap();
    let r = receiver(&c, ID);
    let names = ["a", "b", "c", "d"];
    for round in 0..10i64 {
        let samples: Vec<Sample> = names
            .iter()
            .flat_map(|name| {
                (0..3).map(move |k| Sample {
                    labels: Labels::from_pairs([("__name__", *name)]),
                    timestamp_ms: round * 3 + k,
                    value: (round * 3 + k) as f64,
                })
            })
            .collect();
        r.0.receive(&samples.into());
    }
    let total = names.len() * 30;
    eventually("every sample to be accepted", || {
        remote.lock().unwrap().accepted.len() >= total
    })
    .await;
    let remote = remote.lock().unwrap();
    assert!(
        remote.refused.len() == 4,
        "the scripted errors were answered"
    );
    let mut per_series: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (labels, t, v) in &remote.accepted {
        assert_eq!(*t as f64, *v);
        per_series.entry(labels[0].1.clone()).or_default().push(*t);
    }
    for name in names {
        assert_eq!(
            per_series[name],
            (0..30).collect::<Vec<i64>>(),
            "series {name} arrived once, in order"
        );
    }
    drop(remote);
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_error_drops_the_batch_and_later_batches_are_delivered() {
    let storage = temp_dir("drop");
    let remote = Arc::new(Mutex::new(Remote {
        script: VecDeque::from([400]),
        ..Remote::default()
    }));
    let url = remote_server(remote.clone()).await;
    let c = controller_in(&storage);
    load(&c, &config(&url, "")).await.unwrap();
    let r = receiver(&c, ID);
    r.0.receive(&batch(&[(&[("__name__", "m")], 1, 1.0)]));
    eventually("the first batch to be refused", || {
        remote.lock().unwrap().refused.len() == 1
    })
    .await;
    r.0.receive(&batch(&[(&[("__name__", "m")], 2, 2.0)]));
    eventually("the second batch to arrive", || {
        !remote.lock().unwrap().accepted.is_empty()
    })
    .await;
    let remote = remote.lock().unwrap();
    assert_eq!(remote.refused, [vec![got(&[("__name__", "m")], 1, 1.0)]]);
    assert_eq!(remote.accepted, [got(&[("__name__", "m")], 2, 2.0)]);
    drop(remote);
    c.shutdown();
}

/// Shuts the controller down and waits until the component has stopped, so the next
/// run on the same storage does not overlap with it.
async fn stop(c: Controller) {
    c.shutdown();
    eventually("the component to stop", || {
        c.node(ID).unwrap().health().state.as_str() == "exited"
    })
    .await;
}

/// The last WAL segment of component `x` under `storage`.
fn last_segment(storage: &Path) -> PathBuf {
    let dir = storage.join(ID).join("wal");
    let mut segments: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().unwrap().len() == 8)
        .collect();
    segments.sort();
    segments.pop().unwrap()
}

/// One series, one shard: after `marker` arrives, everything before it has too, so
/// the accepted list can be compared exactly (duplicates would show).
async fn append_and_wait_for_marker(
    c: &Controller,
    remote: &Arc<Mutex<Remote>>,
    marker: i64,
) -> Vec<i64> {
    receiver(c, ID)
        .0
        .receive(&batch(&[(&[("__name__", "s")], marker, 0.0)]));
    eventually("the marker sample to arrive", || {
        remote
            .lock()
            .unwrap()
            .accepted
            .iter()
            .any(|(_, t, _)| *t == marker)
    })
    .await;
    remote
        .lock()
        .unwrap()
        .accepted
        .iter()
        .map(|(_, t, _)| *t)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_accepted_while_the_endpoint_is_down_survive_a_crash_and_arrive_once() {
    let storage = temp_dir("crash");
    // First run: the endpoint is down; samples only reach the WAL.
    let c = controller_in(&storage);
    load(&c, &config(&dead_url().await, "")).await.unwrap();
    let r = receiver(&c, ID);
    for t in 1..=5 {
        r.0.receive(&batch(&[(&[("__name__", "s")], t, t as f64)]));
    }
    // A crash: no graceful flush runs (the component never flushes on stop anyway).
    drop(r);
    stop(c).await;

    // Second run on the same storage, the endpoint (same name, new address) is up.
    let remote = Arc::new(Mutex::new(Remote::default()));
    let url = remote_server(remote.clone()).await;
    let c = controller_in(&storage);
    load(&c, &config(&url, "")).await.unwrap();
    assert_eq!(
        append_and_wait_for_marker(&c, &remote, 100).await,
        [1, 2, 3, 4, 5, 100]
    );
    stop(c).await;

    // Third run: the delivered position survived, nothing is sent twice.
    let c = controller_in(&storage);
    load(&c, &config(&url, "")).await.unwrap();
    assert_eq!(
        append_and_wait_for_marker(&c, &remote, 200).await,
        [1, 2, 3, 4, 5, 100, 200]
    );
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_wal_tail_is_truncated_and_earlier_samples_still_arrive() {
    let storage = temp_dir("corrupt");
    let c = controller_in(&storage);
    load(&c, &config(&dead_url().await, "")).await.unwrap();
    let r = receiver(&c, ID);
    for t in 1..=3 {
        r.0.receive(&batch(&[(&[("__name__", "s")], t, t as f64)]));
    }
    drop(r);
    stop(c).await;
    // A torn write: a frame header promising more bytes than follow, plus garbage.
    let segment = last_segment(&storage);
    let good_len = std::fs::metadata(&segment).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    std::io::Write::write_all(&mut f, &[40, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
    drop(f);

    let remote = Arc::new(Mutex::new(Remote::default()));
    let url = remote_server(remote.clone()).await;
    let c = controller_in(&storage);
    load(&c, &config(&url, "")).await.unwrap();
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), good_len);
    assert_eq!(
        append_and_wait_for_marker(&c, &remote, 100).await,
        [1, 2, 3, 100]
    );
    assert_eq!(c.node(ID).unwrap().health().state.as_str(), "healthy");
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_is_stable_across_updates_and_bad_arguments_are_refused() {
    let storage = temp_dir("args");
    let c = controller_in(&storage);
    load(&c, "prometheus.remote_write \"x\" {}\n")
        .await
        .unwrap();
    let first = receiver(&c, ID);
    // No endpoints: appends still succeed (kept in the WAL).
    first.0.receive(&batch(&[(&[("__name__", "s")], 1, 1.0)]));
    load(
        &c,
        &config(
            &dead_url().await,
            "wal {\n    truncate_frequency = \"1m\"\n  }",
        ),
    )
    .await
    .unwrap();
    assert_eq!(receiver(&c, ID), first);

    let refused = |body: &str| format!("prometheus.remote_write \"y\" {{\n{body}\n}}\n");
    let cases = [
        (
            "endpoint {\n  url = \"http://a/\"\n  protobuf_message = \"io.prometheus.write.v2.Request\"\n}",
            "protobuf_message \"io.prometheus.write.v2.Request\" (remote write 2.0) is not supported by ferroalloy yet; use \"prometheus.WriteRequest\"",
        ),
        (
            "endpoint {\n  url = \"http://a/\"\n  write_relabel_config {\n    action = \"hashmod\"\n    target_label = \"shard\"\n  }\n}",
            "relabel configuration for hashmod requires non-zero modulus",
        ),
        (
            "endpoint {\n  url = \"http://a/\"\n  headers = { \"User-Agent\" = \"me\" }\n}",
            "User-Agent is a reserved header. It must not be changed",
        ),
        (
            "endpoint {\n  url = \"http://a/\"\n  queue_config {\n    min_shards = 5\n    max_shards = 2\n  }\n}",
            "max_shards must not be less than min_shards",
        ),
        (
            "endpoint {\n  url = \"http://a/\"\n}\nendpoint {\n  url = \"http://a/\"\n}",
            "duplicate endpoint name",
        ),
    ];
    for (body, want) in cases {
        let c = controller_in(&storage);
        let errs = load(&c, &refused(body)).await.unwrap_err();
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "{body}: got {errs:?}, want {want:?}"
        );
        c.shutdown();
    }
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_older_than_the_age_limit_are_dropped() {
    let storage = temp_dir("age");
    let remote = Arc::new(Mutex::new(Remote::default()));
    let url = remote_server(remote.clone()).await;
    let c = controller_in(&storage);
    let src = format!(
        "prometheus.remote_write \"x\" {{\n  endpoint {{\n    url = \"{url}\"\n    queue_config {{\n      batch_send_deadline = \"20ms\"\n      sample_age_limit = \"1h\"\n    }}\n  }}\n}}\n"
    );
    load(&c, &src).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    receiver(&c, ID).0.receive(&batch(&[
        (&[("__name__", "old")], 1000, 1.0),
        (&[("__name__", "new")], now, 2.0),
    ]));
    eventually("the recent sample to arrive", || {
        !remote.lock().unwrap().accepted.is_empty()
    })
    .await;
    assert_eq!(
        remote.lock().unwrap().accepted,
        [got(&[("__name__", "new")], now, 2.0)]
    );
    c.shutdown();
}

/// Set in the child process of the `kill -9` test: the storage path to use.
const CRASH_CHILD_ENV: &str = "FERROALLOY_RW_CRASH_CHILD";

/// The child of `samples_survive_kill_9`: appends while the endpoint is down, says so
/// on stdout, then waits to be killed. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(storage) = std::env::var(CRASH_CHILD_ENV) else {
        return;
    };
    let c = controller_in(Path::new(&storage));
    load(&c, &config(&std::env::var("DEAD_URL").unwrap(), ""))
        .await
        .unwrap();
    let r = receiver(&c, ID);
    for t in 1..=20 {
        r.0.receive(&batch(&[(&[("__name__", "s")], t, t as f64)]));
    }
    println!("APPENDED");
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_survive_kill_9() {
    use tokio::io::AsyncBufReadExt;
    let storage = temp_dir("kill9");
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD_ENV, &storage)
        .env("DEAD_URL", dead_url().await)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let appended = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("APPENDED") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(appended, Ok(true), "the child did not append");
    // SIGKILL: nothing in the child gets to run any more.
    child.kill().await.unwrap();

    let remote = Arc::new(Mutex::new(Remote::default()));
    let url = remote_server(remote.clone()).await;
    let c = controller_in(&storage);
    load(&c, &config(&url, "")).await.unwrap();
    let mut want: Vec<i64> = (1..=20).collect();
    want.push(100);
    assert_eq!(append_and_wait_for_marker(&c, &remote, 100).await, want);
    c.shutdown();
}
