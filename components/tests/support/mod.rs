//! Shared by the component tests: a controller with the real registry and stdlib,
//! loading a config from text, reading a `content` export, bounded waiting, and a
//! minimal HTTP server on 127.0.0.1.
#![allow(dead_code)] // each test binary uses its own subset

use alloy_runtime::controller::{Controller, ControllerOptions};
use alloy_runtime::source::parse_sources;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn controller() -> Controller {
    Controller::new(
        alloy_components::registry(),
        Arc::new(alloy_stdlib::Stdlib::new()),
        ControllerOptions::default(),
    )
}

/// A controller keeping its data under `storage`.
pub fn controller_in(storage: &Path) -> Controller {
    Controller::new(
        alloy_components::registry(),
        Arc::new(alloy_stdlib::Stdlib::new()),
        ControllerOptions {
            storage_path: storage.to_path_buf(),
            ..ControllerOptions::default()
        },
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

/// What the test server answers, and what it saw.
#[derive(Default)]
pub struct Served {
    pub status: u16,
    pub body: String,
    pub requests: Vec<String>,
    /// Sent as `Content-Type` when set.
    pub content_type: Option<String>,
}

/// A minimal HTTP/1.1 server: one response per connection, from `served`.
pub async fn server(served: Arc<Mutex<Served>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let served = served.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                // Read until the end of the headers (no request bodies in these tests).
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let (status, body, content_type) = {
                    let mut s = served.lock().unwrap();
                    s.requests.push(String::from_utf8_lossy(&got).into_owned());
                    (s.status, s.body.clone(), s.content_type.clone())
                };
                let content_type = content_type
                    .map(|t| format!("content-type: {t}\r\n"))
                    .unwrap_or_default();
                let resp = format!(
                    "HTTP/1.1 {status} X\r\n{content_type}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}
