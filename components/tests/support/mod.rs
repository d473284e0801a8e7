//! Shared by the component tests: a controller with the real registry and stdlib,
//! loading a config from text, reading a `content` export, and bounded waiting.

use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_runtime::source::parse_sources;
use std::sync::Arc;
use std::time::Duration;

pub fn controller() -> Controller {
    Controller::new(
        alloy_components::registry(),
        Arc::new(alloy_stdlib::Stdlib::new()),
        ControllerOptions::default(),
    )
}

/// Loads `src` as `main.alloy`; errors come back as their messages.
pub async fn load(c: &Controller, src: &str) -> Result<(), Vec<String>> {
    let (files, diags) =
        parse_sources(vec![("main.alloy".into(), src.as_bytes().to_vec())]).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    match c.load(files).await {
        Ok(report) if report.errors.is_empty() => Ok(()),
        Ok(report) => Err(report.errors.iter().map(|d| d.message.clone()).collect()),
        Err(diags) => Err(diags.iter().map(|d| d.message.clone()).collect()),
    }
}

/// The `content` export of component `id`, when it is a plain string.
pub fn content(c: &Controller, id: &str) -> Option<String> {
    let exports = c.node(id)?.exports();
    exports
        .as_object()?
        .get("content")?
        .as_str()
        .map(str::to_string)
}

/// Waits (at most 5 s) until `check` holds.
pub async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
