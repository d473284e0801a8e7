//! Config and service blocks in a running process: `logging` switches format and level
//! on reload, `http { tls { ... } }` serves HTTPS with a certificate from a CA the test
//! makes (and refuses plain HTTP), bad TLS settings fail with their position, and
//! `livedebugging` streams what `prometheus.relabel` emits from a
//! `prometheus.exporter.self` scrape.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{call, http, work_dir, Running, BIN};

fn write_config(dir: &Path, text: &str) {
    std::fs::write(dir.join("config.alloy"), text).unwrap();
}

/// Waits for a line containing both needles.
fn wait_for_both(run: &mut Running, first: &str, second: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let line = run.wait_for(first);
        if line.contains(second) {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no line with {first:?} and {second:?}"
        );
    }
}

#[test]
fn logging_block_switches_format_and_level_on_reload() {
    let dir = work_dir("logging_block");
    write_config(
        &dir,
        "logging {\n\tlevel  = \"info\"\n\tformat = \"logfmt\"\n}\n",
    );
    let mut run = Running::start(&dir);
    let base = run.http_base();
    let line = run.wait_for("ferroalloy is running");
    assert!(line.starts_with("ts="), "not logfmt: {line}");
    assert!(
        line.contains(" level=info msg=\"now listening for changes; ferroalloy is running\""),
        "{line}"
    );

    // JSON after a SIGHUP (or the file-change reload that may come first).
    write_config(
        &dir,
        "logging {\n\tlevel  = \"debug\"\n\tformat = \"json\"\n}\n",
    );
    run.signal("HUP");
    let line = run.wait_for("config reloaded");
    let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(json["level"], "info", "{line}");
    assert_eq!(json["msg"], "config reloaded", "{line}");
    assert!(
        json["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')),
        "{line}"
    );

    // At level warn, info lines stop: the next HTTP reload's "reload requested" line
    // must not appear, while its failure (an error) does.
    write_config(
        &dir,
        "logging {\n\tlevel  = \"warn\"\n\tformat = \"json\"\n}\n",
    );
    let client = http();
    let (status, body) = call(&client, reqwest::Method::POST, &format!("{base}/-/reload"));
    assert_eq!(status, 200, "{body}");
    write_config(&dir, "logging {\n\tlevel = \"nope\"\n}\n");
    let (status, body) = call(&client, reqwest::Method::POST, &format!("{base}/-/reload"));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("config.alloy:2:10: unrecognized log level \"nope\""),
        "{body}"
    );
    let line = wait_for_both(&mut run, "reload failed", "HTTP");
    let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(json["level"], "error", "{line}");
    // Only the reload made while the level was still debug announced itself.
    let requested = run
        .seen()
        .iter()
        .filter(|l| l.contains("reload requested via /-/reload endpoint"))
        .count();
    assert_eq!(requested, 1, "{:#?}", run.seen());
    run.stop();
}

/// A test CA and a server certificate for 127.0.0.1 it signed, as PEM files in `dir`;
/// returns the CA and a client certificate+key PEM signed by the same CA.
fn make_certs(dir: &Path) -> (String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let client_params = CertificateParams::new(vec!["client".to_string()]).unwrap();
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    (
        ca_cert.pem(),
        format!("{}{}", client_cert.pem(), client_key.serialize_pem()),
    )
}

fn tls_client(ca_pem: &str, identity: Option<&str>) -> reqwest::blocking::Client {
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()]);
    if let Some(pem) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

#[test]
fn http_block_serves_tls_and_applies_client_auth_on_reload() {
    let dir = work_dir("http_tls");
    let (ca_pem, client_identity) = make_certs(&dir);
    write_config(
        &dir,
        "http {\n\ttls {\n\t\tcert_file = \"server.pem\"\n\t\tkey_file  = \"server.key\"\n\t\tmin_version = \"TLS12\"\n\t}\n}\n",
    );
    let mut run = Running::start(&dir);
    let base = run.http_base();
    run.wait_for("ferroalloy is running");
    let https = base.replace("http://", "https://");

    let trusting = tls_client(&ca_pem, None);
    let resp = trusting.get(format!("{https}/-/ready")).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "Alloy is ready.\n");
    // Plain HTTP on the TLS port gets no answer.
    assert!(http().get(format!("{base}/-/ready")).send().is_err());
    // A client that does not trust the test CA refuses the server.
    let untrusting = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    assert!(untrusting.get(format!("{https}/-/ready")).send().is_err());

    // Client certificates become required on reload.
    write_config(
        &dir,
        "http {\n\ttls {\n\t\tcert_file = \"server.pem\"\n\t\tkey_file  = \"server.key\"\n\t\tclient_ca_file = \"ca.pem\"\n\t\tclient_auth_type = \"RequireAndVerifyClientCert\"\n\t}\n}\n",
    );
    let with_cert = tls_client(&ca_pem, Some(&client_identity));
    let resp = with_cert.post(format!("{https}/-/reload")).send().unwrap();
    assert_eq!(resp.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    // A file-change reload may apply it first; either way a new connection without a
    // client certificate is refused from now on (a fresh client each time, since
    // settings apply to new connections and a pooled one would be reused).
    while tls_client(&ca_pem, None)
        .get(format!("{https}/-/ready"))
        .send()
        .is_ok()
    {
        assert!(Instant::now() < deadline, "client auth never applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    let resp = with_cert.get(format!("{https}/-/ready")).send().unwrap();
    assert_eq!(resp.status(), 200);
    run.stop();
}

/// `run` with this config must fail its initial load with `expected` in stderr.
fn run_fails_with(name: &str, config: &str, expected: &str) {
    let dir = work_dir(name);
    make_certs(&dir);
    write_config(&dir, config);
    let out = Command::new(BIN)
        .args([
            "run",
            "config.alloy",
            "--storage.path",
            "data",
            "--server.http.listen-addr",
            "127.0.0.1:0",
        ])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
}

#[test]
fn bad_tls_settings_fail_at_their_position() {
    run_fails_with(
        "tls_missing_file",
        "http {\n\ttls {\n\t\tcert_file = \"missing.pem\"\n\t\tkey_file  = \"server.key\"\n\t}\n}\n",
        "config.alloy:3:15: cannot read cert_file \"missing.pem\"",
    );
    run_fails_with(
        "tls_old_version",
        "http {\n\ttls {\n\t\tcert_file = \"server.pem\"\n\t\tkey_file  = \"server.key\"\n\t\tmax_version = \"TLS11\"\n\t}\n}\n",
        "config.alloy:5:17: TLS 1.0 and 1.1 are not supported",
    );
    run_fails_with(
        "tls_cipher",
        "http {\n\ttls {\n\t\tcert_file = \"server.pem\"\n\t\tkey_file  = \"server.key\"\n\t\tcipher_suites = [\"TLS_RSA_WITH_RC4_128_SHA\"]\n\t}\n}\n",
        "config.alloy:5:19: unsupported cipher suite \"TLS_RSA_WITH_RC4_128_SHA\"",
    );
    run_fails_with(
        "logging_in_module_position",
        "tracing {\n\tsampling_fraction = 2\n}\n",
        "config.alloy:2:22: sampling_fraction must be between 0 and 1",
    );
}

/// Reads the streaming body until `needle` appears (at most 15 s).
fn read_until(resp: &mut reqwest::blocking::Response, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} in {text:?}");
        let n = resp.read(&mut buf).expect("stream read");
        assert!(n > 0, "stream ended without {needle:?}: {text:?}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

#[test]
fn livedebugging_streams_relabeled_samples_of_the_self_exporter() {
    let dir = work_dir("livedebugging");
    let pipeline = "prometheus.exporter.self \"me\" { }\n\
        prometheus.scrape \"me\" {\n\ttargets = prometheus.exporter.self.me.targets\n\tforward_to = [prometheus.relabel.r.receiver]\n\tscrape_interval = \"1s\"\n\tscrape_timeout = \"500ms\"\n}\n\
        prometheus.relabel \"r\" {\n\tforward_to = []\n\trule {\n\t\ttarget_label = \"seen_by\"\n\t\treplacement = \"relabel\"\n\t}\n}\n";
    write_config(&dir, pipeline);
    let mut run = Running::start(&dir);
    let base = run.http_base();
    run.wait_for("ferroalloy is running");
    let client = http();
    let url = format!("{base}/api/v0/web/debug/prometheus.relabel.r");
    let (status, body) = call(&client, reqwest::Method::GET, &url);
    assert_eq!(status, 200);
    assert!(body.contains("live debugging is disabled"), "{body}");

    write_config(
        &dir,
        &format!("livedebugging {{\n\tenabled = true\n}}\n{pipeline}"),
    );
    let (status, body) = call(&client, reqwest::Method::POST, &format!("{base}/-/reload"));
    assert_eq!(status, 200, "{body}");
    let mut resp = client.get(&url).send().unwrap();
    assert_eq!(resp.status(), 200);
    // The exporter's target is ferroalloy's own /metrics, relabelled on the way.
    let text = read_until(&mut resp, "alloy_build_info");
    let entry = text
        .split("|;|")
        .find(|e| e.contains("alloy_build_info"))
        .unwrap();
    assert!(entry.contains("job=\"integrations/alloy\""), "{entry}");
    assert!(entry.contains("seen_by=\"relabel\""), "{entry}");
    drop(resp);
    run.stop();
}
