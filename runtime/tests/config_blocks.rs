//! Config and service blocks in the controller: decoded into the load report with
//! upstream's defaults, refused inside modules and where unsupported, and bad values
//! failing the load at their position without touching the running graph.

use alloy_runtime::component::Registry;
use alloy_runtime::config_blocks::{ConfigBlocks, LogFormat, LogLevel};
use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_runtime::source::parse_sources;
use std::sync::Arc;

fn controller() -> Controller {
    Controller::new(
        Registry::new([]),
        Arc::new(alloy_stdlib::Stdlib::new()),
        ControllerOptions::default(),
    )
}

/// The decoded blocks, or every error as `line:col: message`.
async fn load(c: &Controller, src: &str) -> Result<ConfigBlocks, Vec<String>> {
    let (files, diags) =
        parse_sources(vec![("main.alloy".into(), src.as_bytes().to_vec())]).expect("utf-8");
    assert!(diags.is_empty(), "{diags:?}");
    let text = files[0].text.clone();
    let at = |d: &alloy_syntax::Diagnostic| {
        let before = &text[..d.span.start as usize];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{line}:{col}: {}", d.message)
    };
    match c.load(files).await {
        Ok(report) if report.errors.is_empty() => Ok(report.config),
        Ok(report) => Err(report.errors.iter().map(at).collect()),
        Err(diags) => Err(diags.iter().map(at).collect()),
    }
}

#[tokio::test]
async fn blocks_decode_with_defaults() {
    let c = controller();
    let config = load(&c, "").await.unwrap();
    assert!(config.logging.is_none());
    assert_eq!(config.tracing.sampling_fraction, 0.1);
    assert!(config.http.tls.is_none());
    assert!(!config.livedebugging.enabled);

    let config = load(
        &c,
        "logging {\n\tlevel = \"warn\"\n\tformat = \"json\"\n}\ntracing {\n\tsampling_fraction = 0.5\n}\nlivedebugging {\n\tenabled = true\n}\n",
    )
    .await
    .unwrap();
    let logging = config.logging.unwrap();
    assert_eq!(
        (logging.level, logging.format),
        (LogLevel::Warn, LogFormat::Json)
    );
    assert_eq!(config.tracing.sampling_fraction, 0.5);
    assert!(config.livedebugging.enabled);
    // Bodies see the standard library.
    let config = load(&c, "logging {\n\tlevel = string.to_lower(\"DEBUG\")\n}\n")
        .await
        .unwrap();
    assert_eq!(config.logging.unwrap().level, LogLevel::Debug);
    c.shutdown();
}

#[tokio::test]
async fn bad_values_and_misplaced_blocks_are_errors() {
    let c = controller();
    assert_eq!(
        load(&c, "logging {\n\tformat = \"xml\"\n}\n")
            .await
            .unwrap_err(),
        ["2:11: unrecognized log format \"xml\"; expected logfmt or json"]
    );
    assert_eq!(
        load(&c, "logging {\n\tbogus = 1\n}\n")
            .await
            .unwrap_err()
            .len(),
        1
    );
    assert_eq!(
        load(&c, "http {\n\ttls {\n\t\tkey_file = \"k\"\n\t}\n}\n")
            .await
            .unwrap_err(),
        ["2:2: one of cert_pem or cert_file must be set"]
    );
    assert_eq!(
        load(&c, "remotecfg { }\n").await.unwrap_err(),
        ["1:1: remotecfg blocks are not supported by ferroalloy yet"]
    );
    let err = load(&c, "declare \"d\" {\n\tlogging { }\n}\nd \"x\" { }\n")
        .await
        .unwrap_err();
    assert!(
        err.iter()
            .any(|e| e.contains("logging not allowed in module")),
        "{err:?}"
    );
    c.shutdown();
}
