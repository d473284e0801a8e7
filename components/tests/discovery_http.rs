//! `discovery.http` against a real HTTP server on 127.0.0.1: targets with their labels
//! and `__meta_url`, the request headers, changes followed, failures keeping the last
//! targets, and argument checks.

mod support;

use alloy_syntax::value::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::{controller, eventually, load, server, Served};

/// The exported targets as sorted maps of strings (export order is unspecified).
fn targets(c: &alloy_runtime::controller::Controller, id: &str) -> Vec<BTreeMap<String, String>> {
    let exports = c.node(id).unwrap().exports();
    let list = exports.as_object().unwrap()["targets"].clone();
    let mut out: Vec<BTreeMap<String, String>> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .collect();
    out.sort();
    out
}

fn target(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_targets_follows_changes_and_keeps_them_on_failure() {
    let served = Arc::new(Mutex::new(Served {
        status: 200,
        content_type: Some("application/json; charset=utf-8".into()),
        body:
            r#"[{"targets": ["a:9100", "b:9100"], "labels": {"team": "x"}}, {"targets": ["c:80"]}]"#
                .into(),
        ..Default::default()
    }));
    let base = server(served.clone()).await;
    let url = format!("{base}/sd");
    let c = controller();
    let src = format!(
        "discovery.http \"sd\" {{\n  url              = \"{url}\"\n  refresh_interval = \"100ms\"\n  bearer_token     = \"tok\"\n}}\n"
    );
    load(&c, &src).await.unwrap();
    let first = vec![
        target(&[
            ("__address__", "a:9100"),
            ("__meta_url", &url),
            ("team", "x"),
        ]),
        target(&[
            ("__address__", "b:9100"),
            ("__meta_url", &url),
            ("team", "x"),
        ]),
        target(&[("__address__", "c:80"), ("__meta_url", &url)]),
    ];
    eventually("the first refresh to be published", || {
        targets(&c, "discovery.http.sd") == first
    })
    .await;
    {
        let s = served.lock().unwrap();
        let req = s.requests[0].to_ascii_lowercase();
        assert!(req.starts_with("get /sd "), "{req}");
        assert!(req.contains("accept: application/json"), "{req}");
        assert!(
            req.contains("x-prometheus-refresh-interval-seconds: 0"),
            "{req}"
        );
        assert!(req.contains("authorization: bearer tok"), "{req}");
    }

    // Failures keep the last targets and the component healthy.
    served.lock().unwrap().status = 500;
    let seen = served.lock().unwrap().requests.len();
    eventually("a failed refresh", || {
        served.lock().unwrap().requests.len() > seen + 1
    })
    .await;
    served.lock().unwrap().status = 200;
    served.lock().unwrap().content_type = Some("text/plain".into());
    let seen = served.lock().unwrap().requests.len();
    eventually("a refresh with a wrong content type", || {
        served.lock().unwrap().requests.len() > seen + 1
    })
    .await;
    assert_eq!(targets(&c, "discovery.http.sd"), first);
    assert_eq!(
        c.node("discovery.http.sd").unwrap().health().state.as_str(),
        "healthy"
    );

    // A change is published (coalesced to at most one publish per 5 s).
    {
        let mut s = served.lock().unwrap();
        s.content_type = Some("application/json".into());
        s.body = r#"[{"targets": ["d:1"]}]"#.into();
    }
    let mut changed = false;
    for _ in 0..150 {
        if targets(&c, "discovery.http.sd")
            == vec![target(&[("__address__", "d:1"), ("__meta_url", &url)])]
        {
            changed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(changed, "the change was not published within 15 s");

    // An empty list clears the targets.
    served.lock().unwrap().body = "[]".into();
    let mut cleared = false;
    for _ in 0..150 {
        if targets(&c, "discovery.http.sd").is_empty() {
            cleared = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(cleared, "the empty list was not published within 15 s");
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused() {
    let c = controller();
    assert_eq!(
        load(&c, "discovery.http \"sd\" {\n  url = \"::not a url\"\n}\n")
            .await
            .unwrap_err(),
        ["invalid URL \"::not a url\""]
    );
    assert_eq!(
        load(&c, "discovery.http \"sd\" {\n  url = \"http://127.0.0.1:1/\"\n  refresh_interval = \"0s\"\n}\n")
            .await
            .unwrap_err(),
        ["refresh_interval must be greater than 0"]
    );
    // Before the first refresh, dependants see an empty list.
    load(
        &c,
        "discovery.http \"sd\" {\n  url = \"http://127.0.0.1:1/\"\n}\n",
    )
    .await
    .unwrap();
    let exports = c.node("discovery.http.sd").unwrap().exports();
    assert_eq!(
        exports.as_object().unwrap()["targets"]
            .as_array()
            .map(<[Value]>::len),
        Some(0)
    );
    c.shutdown();
}
