//! The deployment files under `deploy/` and the `Dockerfile` agree with the binary:
//! the manifests parse as YAML, every flag they pass to `ferroalloy run` is one that
//! `ferroalloy run --help` lists, the clustered StatefulSet and the DaemonSet are
//! wired as the README describes, and the shipped configurations validate. Also the
//! generated shell completions and man pages.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::work_dir;
use yaml_rust2::{Yaml, YamlLoader};

const BIN: &str = env!("CARGO_BIN_EXE_ferroalloy");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Every `--flag` that `ferroalloy run --help` lists.
fn run_flags() -> BTreeSet<String> {
    let out = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    help.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--"))
        .map(|w| w.split(['=', '[', '<']).next().unwrap().to_string())
        .collect()
}

/// The flag names in a list of arguments (`--a.b=c` and `--a.b c` forms).
fn flags_in<'a>(args: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    args.into_iter()
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split('=').next().unwrap().to_string())
        .collect()
}

/// All documents of every manifest under `deploy/kubernetes`.
fn manifests() -> Vec<(PathBuf, Yaml)> {
    let dir = repo().join("deploy").join("kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed = YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
        for doc in parsed {
            assert!(
                doc["apiVersion"].as_str().is_some() && doc["kind"].as_str().is_some(),
                "{}: every document needs apiVersion and kind",
                file.display()
            );
            docs.push((file.clone(), doc));
        }
    }
    docs
}

fn by_kind<'a>(docs: &'a [(PathBuf, Yaml)], kind: &str) -> Vec<&'a Yaml> {
    docs.iter()
        .filter(|(_, d)| d["kind"].as_str() == Some(kind))
        .map(|(_, d)| d)
        .collect()
}

fn strings(node: &Yaml) -> Vec<&str> {
    node.as_vec()
        .map(|v| v.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default()
}

/// The value of `--name=value` in `args`.
fn flag_value<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter()
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
}

#[test]
fn manifests_use_only_flags_the_binary_accepts() {
    let known = run_flags();
    assert!(known.contains("--storage.path"), "{known:?}");
    let docs = manifests();
    let mut checked = 0;
    for (file, doc) in &docs {
        for container in doc["spec"]["template"]["spec"]["containers"]
            .as_vec()
            .into_iter()
            .flatten()
        {
            let args = strings(&container["args"]);
            assert_eq!(args.first(), Some(&"run"), "{}", file.display());
            for flag in flags_in(args) {
                assert!(
                    known.contains(&flag),
                    "{}: {flag} is not a flag of `ferroalloy run`",
                    file.display()
                );
                checked += 1;
            }
        }
    }
    // The Dockerfile's default command too.
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let cmd = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("CMD "))
        .expect("the Dockerfile has a CMD");
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("CMD is a JSON array");
    assert_eq!(cmd[0], "run");
    for flag in flags_in(cmd.iter().map(String::as_str)) {
        assert!(
            known.contains(&flag),
            "Dockerfile: {flag} is not a run flag"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} flags found");
}

#[test]
fn statefulset_is_clustered_with_a_wal_volume_per_replica() {
    let docs = manifests();
    let sets = by_kind(&docs, "StatefulSet");
    assert_eq!(sets.len(), 1);
    let set = sets[0];
    assert_eq!(set["spec"]["replicas"].as_i64(), Some(3));
    let pod = &set["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = strings(&container["args"]);
    assert_eq!(flag_value(&args, "--cluster.enabled"), Some("true"));

    // Joining goes through the headless Service the StatefulSet names.
    let service_name = set["spec"]["serviceName"].as_str().unwrap();
    let service = by_kind(&docs, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"].as_str() == Some(service_name))
        .expect("the StatefulSet's Service is defined");
    assert_eq!(service["spec"]["clusterIP"].as_str(), Some("None"));
    let join = flag_value(&args, "--cluster.join-addresses").expect("join addresses");
    assert!(join.starts_with(&format!("{service_name}.")), "{join}");

    // The WAL claim is mounted where --storage.path points.
    let storage = flag_value(&args, "--storage.path").expect("--storage.path");
    let claim = set["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
        .as_str()
        .expect("a volumeClaimTemplate");
    let mounts = container["volumeMounts"].as_vec().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["name"].as_str() == Some(claim) && m["mountPath"].as_str() == Some(storage)),
        "{claim} is not mounted at {storage}"
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/-/ready")
    );
    check_config_mount(&docs, pod, &args);
}

#[test]
fn daemonset_runs_without_clustering() {
    let docs = manifests();
    let sets = by_kind(&docs, "DaemonSet");
    assert_eq!(sets.len(), 1);
    let pod = &sets[0]["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = strings(&container["args"]);
    assert!(
        !args.iter().any(|a| a.starts_with("--cluster.")),
        "{args:?}"
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/-/ready")
    );
    check_config_mount(&docs, pod, &args);
}

/// The configuration file `run` is given lives in a mounted ConfigMap that exists,
/// has that key, and validates.
fn check_config_mount(docs: &[(PathBuf, Yaml)], pod: &Yaml, args: &[&str]) {
    let config_path = Path::new(args[1]);
    let container = &pod["containers"][0];
    let mount = container["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"].as_str().map(Path::new) == config_path.parent())
        .expect("the configuration's folder is mounted");
    let volume = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume is defined");
    let map_name = volume["configMap"]["name"]
        .as_str()
        .expect("a ConfigMap volume");
    let map = by_kind(docs, "ConfigMap")
        .into_iter()
        .find(|m| m["metadata"]["name"].as_str() == Some(map_name))
        .expect("the ConfigMap is defined");
    let key = config_path.file_name().unwrap().to_str().unwrap();
    let text = map["data"][key]
        .as_str()
        .expect("the ConfigMap has the file");
    let dir = work_dir(&format!("deploy-{map_name}"));
    std::fs::write(dir.join(key), text).unwrap();
    validate(&dir.join(key));
}

fn validate(path: &Path) {
    let out = Command::new(BIN)
        .args(["validate", "--diagnostics.format=short"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not validate:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_image_default_configuration_validates() {
    validate(&repo().join("deploy").join("config.alloy"));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ferroalloy"),
        ("fish", "complete -c ferroalloy"),
    ] {
        let out = Command::new(BIN)
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        // Subcommands and dotted flags are offered.
        assert!(script.contains("convert"), "{shell}");
        assert!(script.contains("storage.path"), "{shell}");
    }
    let out = Command::new(BIN)
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn man_pages_are_generated_per_subcommand() {
    let dir = work_dir("mangen");
    let out = Command::new(BIN)
        .args(["mangen", "--out-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in ["ferroalloy.1", "ferroalloy-run.1", "ferroalloy-convert.1"] {
        let text = std::fs::read_to_string(dir.join(page))
            .unwrap_or_else(|_| panic!("{page} was not written"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
    let run = std::fs::read_to_string(dir.join("ferroalloy-run.1")).unwrap();
    assert!(run.contains("storage.path"));
    // The generator itself is hidden from the pages.
    assert!(!dir.join("ferroalloy-mangen.1").exists());
}

/// The Helm chart, without `helm`: Chart.yaml and values.yaml parse, every flag its
/// templates pass is a `run` flag, and the default configuration validates.
#[test]
fn helm_chart_uses_only_flags_the_binary_accepts() {
    let chart = repo().join("deploy").join("helm").join("ferroalloy");
    for file in ["Chart.yaml", "values.yaml"] {
        let text = std::fs::read_to_string(chart.join(file)).unwrap();
        YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let known = run_flags();
    let mut flags = BTreeSet::new();
    for entry in std::fs::read_dir(chart.join("templates")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(arg) = line.trim().strip_prefix("- --") {
                flags.insert(format!("--{}", arg.split('=').next().unwrap()));
            }
        }
    }
    for needed in [
        "--cluster.enabled",
        "--cluster.join-addresses",
        "--storage.path",
    ] {
        assert!(flags.contains(needed), "the chart passes no {needed}");
    }
    for flag in &flags {
        assert!(known.contains(flag), "chart: {flag} is not a run flag");
    }
    let values =
        YamlLoader::load_from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap())
            .unwrap();
    let dir = work_dir("deploy-helm");
    std::fs::write(
        dir.join("config.alloy"),
        values[0]["config"].as_str().expect("values.config"),
    )
    .unwrap();
    validate(&dir.join("config.alloy"));
}
