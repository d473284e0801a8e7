//! `discovery.file` in a real controller: JSON and YAML target groups from a glob,
//! `__meta_filepath`, an edited file picked up without a restart (file events, with
//! an hour-long refresh interval so polling cannot be what saw it), a broken file
//! keeping its last targets, and argument errors at their position.

mod support;

use alloy_runtime::controller::Controller;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::{controller, eventually, load};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferroalloy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn quote(path: &Path) -> String {
    alloy_syntax::parser::go_quote(&path.display().to_string())
}

/// Every exported target as `address|label=value,...` (sorted labels), as a set.
fn targets(c: &Controller, id: &str) -> BTreeSet<String> {
    let exports = c.node(id).expect("node").exports();
    let Some(list) = exports
        .as_object()
        .and_then(|o| o.get("targets"))
        .and_then(|t| t.as_array())
    else {
        return BTreeSet::new();
    };
    list.iter()
        .map(|t| {
            let obj = t.as_object().expect("target object");
            let addr = obj["__address__"].as_str().unwrap().to_string();
            let rest: Vec<String> = obj
                .iter()
                .filter(|(k, _)| *k != "__address__")
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect();
            format!("{addr}|{}", rest.join(","))
        })
        .collect()
}

fn set(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

#[tokio::test]
async fn reads_json_and_yaml_groups_and_follows_edits() {
    let dir = temp_dir("df-follow");
    let json = dir.join("a.json");
    let yaml = dir.join("b.yml");
    std::fs::write(
        &json,
        r#"[{"targets": ["10.0.0.1:9100", "10.0.0.2:9100"], "labels": {"env": "prod"}}]"#,
    )
    .unwrap();
    std::fs::write(
        &yaml,
        "- targets: ['10.0.0.3:80']\n  labels:\n    team: web\n",
    )
    .unwrap();
    // Not matched by the patterns.
    std::fs::write(dir.join("c.txt"), "ignored").unwrap();
    let c = controller();
    let src = format!(
        "discovery.file \"x\" {{\n\tfiles = [{}, {}]\n\trefresh_interval = \"1h\"\n}}\n",
        quote(&dir.join("*.json")),
        quote(&dir.join("*.yml"))
    );
    load(&c, &src).await.unwrap();
    let (jp, yp) = (json.display().to_string(), yaml.display().to_string());
    assert_eq!(
        targets(&c, "discovery.file.x"),
        set(&[
            format!("10.0.0.1:9100|__meta_filepath={jp},env=prod"),
            format!("10.0.0.2:9100|__meta_filepath={jp},env=prod"),
            format!("10.0.0.3:80|__meta_filepath={yp},team=web"),
        ])
    );

    // An edit is seen through file events.
    std::fs::write(&json, r#"[{"targets": ["10.0.0.9:9100"]}]"#).unwrap();
    let want = set(&[
        format!("10.0.0.9:9100|__meta_filepath={jp}"),
        format!("10.0.0.3:80|__meta_filepath={yp},team=web"),
    ]);
    eventually("the edited file's targets", || {
        targets(&c, "discovery.file.x") == want
    })
    .await;

    // A new file matching the glob joins; a broken one keeps its last targets.
    let extra = dir.join("extra.json");
    std::fs::write(&extra, r#"[{"targets": ["10.1.1.1:1"]}]"#).unwrap();
    let ep = extra.display().to_string();
    eventually("the new file's targets", || {
        targets(&c, "discovery.file.x").contains(&format!("10.1.1.1:1|__meta_filepath={ep}"))
    })
    .await;
    std::fs::write(&json, "[{not json").unwrap();
    // Give the watcher time to see the broken write, then check nothing was lost.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        targets(&c, "discovery.file.x").contains(&format!("10.0.0.9:9100|__meta_filepath={jp}"))
    );

    // A removed file's targets go.
    std::fs::remove_file(&extra).unwrap();
    eventually("the removed file's targets to go", || {
        !targets(&c, "discovery.file.x")
            .iter()
            .any(|t| t.starts_with("10.1.1.1:1|"))
    })
    .await;
    c.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_arguments_are_errors_at_their_position() {
    let c = controller();
    let err = load(
        &c,
        "discovery.file \"x\" {\n\tfiles = [\"/tmp/*.txt\"]\n}\n",
    )
    .await
    .unwrap_err();
    assert!(
        err.iter()
            .any(|e| e.contains("reads only .json, .yml and .yaml files")),
        "{err:?}"
    );
    let err = load(
        &c,
        "discovery.file \"x\" {\n\tfiles = [\"/tmp/a.json\"]\n\trefresh_interval = \"0s\"\n}\n",
    )
    .await
    .unwrap_err();
    assert!(
        err.iter()
            .any(|e| e.contains("refresh_interval must be greater than 0")),
        "{err:?}"
    );
    c.shutdown();
}
