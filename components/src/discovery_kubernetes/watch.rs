//! The Kubernetes list/watch protocol over the shared reqwest client: one watcher per
//! (kind, namespace) lists the collection, then follows a watch from the list's
//! `resourceVersion`. A watch that ends (server timeout, dropped connection) resumes
//! from the last version seen (bookmarks included), so nothing is lost; `410 Gone`
//! (the version was compacted away) relists. Failures back off up to 30 s.

use super::targets::Role;
use crate::http_client::HttpClientArgs;
use serde_json::Value as Json;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// How to reach the API server: base URL, transport and per-request authentication.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub auth: HttpClientArgs,
}

/// Label and field selectors for one kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    pub label: String,
    pub field: String,
}

/// What a watcher reports to the component.
pub enum Event {
    /// A full list: the watcher's objects are exactly these.
    Synced(Vec<Json>),
    Upsert(Json),
    Delete(Json),
}

/// How a watch request ended.
enum WatchEnd {
    /// The stream ended; resume from this version.
    Closed(String),
    /// The version is too old (410): relist.
    Gone,
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Api {
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<reqwest::Response, String> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base.trim_end_matches('/')))
            .map_err(|e| e.to_string())?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let req = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        self.auth
            .apply(req)?
            .send()
            .await
            .map_err(|e| e.without_url().to_string())
    }

    /// Lists a collection (following `continue` pages): its items and version.
    async fn list(&self, path: &str, sel: &Selector) -> Result<(Vec<Json>, String), String> {
        let mut items = Vec::new();
        let mut cont = String::new();
        loop {
            let mut query = selector_query(sel);
            query.push(("limit", "500".into()));
            if !cont.is_empty() {
                query.push(("continue", cont.clone()));
            }
            let resp = self.get(path, &query).await?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!(
                    "listing {path}: server returned HTTP status {status}"
                ));
            }
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            let list: Json =
                serde_json::from_slice(&body).map_err(|e| format!("listing {path}: {e}"))?;
            if let Some(page) = list.get("items").and_then(Json::as_array) {
                items.extend(page.iter().cloned());
            }
            let meta = list.get("metadata");
            let field = |name: &str| {
                meta.and_then(|m| m.get(name))
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            cont = field("continue");
            if cont.is_empty() {
                return Ok((items, field("resourceVersion")));
            }
        }
    }

    /// Follows one watch request from `version`, sending its events.
    async fn watch(
        &self,
        path: &str,
        sel: &Selector,
        version: &str,
        tx: &UnboundedSender<Event>,
    ) -> Result<WatchEnd, String> {
        // Like client-go, ask the server to end the watch after 5–10 minutes so stale
        // connections are replaced; the read timeout below catches dead peers.
        let timeout = 300 + jitter(300);
        let mut query = selector_query(sel);
        query.extend([
            ("watch", "1".to_string()),
            ("resourceVersion", version.to_string()),
            ("allowWatchBookmarks", "true".to_string()),
            ("timeoutSeconds", timeout.to_string()),
        ]);
        let mut resp = self.get(path, &query).await?;
        let status = resp.status();
        if status == reqwest::StatusCode::GONE {
            return Ok(WatchEnd::Gone);
        }
        if !status.is_success() {
            return Err(format!(
                "watching {path}: server returned HTTP status {status}"
            ));
        }
        let mut version = version.to_string();
        let mut buf: Vec<u8> = Vec::new();
        let idle = Duration::from_secs(timeout + 60);
        loop {
            let chunk = match tokio::time::timeout(idle, resp.chunk()).await {
                Err(_) => return Ok(WatchEnd::Closed(version)),
                Ok(Err(_)) | Ok(Ok(None)) => return Ok(WatchEnd::Closed(version)),
                Ok(Ok(Some(chunk))) => chunk,
            };
            buf.extend_from_slice(&chunk);
            while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                let event: Json = serde_json::from_slice(line)
                    .map_err(|e| format!("watching {path}: bad event: {e}"))?;
                let object = event.get("object").cloned().unwrap_or(Json::Null);
                if let Some(v) = object
                    .pointer("/metadata/resourceVersion")
                    .and_then(Json::as_str)
                {
                    if event.get("type").and_then(Json::as_str) != Some("ERROR") {
                        version = v.to_string();
                    }
                }
                match event.get("type").and_then(Json::as_str) {
                    Some("ADDED") | Some("MODIFIED") => {
                        let _ = tx.send(Event::Upsert(object));
                    }
                    Some("DELETED") => {
                        let _ = tx.send(Event::Delete(object));
                    }
                    Some("BOOKMARK") => {}
                    Some("ERROR") => {
                        if object.get("code").and_then(Json::as_i64) == Some(410) {
                            return Ok(WatchEnd::Gone);
                        }
                        let message = object
                            .get("message")
                            .and_then(Json::as_str)
                            .unwrap_or("unknown error");
                        return Err(format!("watching {path}: {message}"));
                    }
                    other => {
                        return Err(format!("watching {path}: unknown event type {other:?}"));
                    }
                }
            }
        }
    }
}

fn selector_query(sel: &Selector) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if !sel.label.is_empty() {
        q.push(("labelSelector", sel.label.clone()));
    }
    if !sel.field.is_empty() {
        q.push(("fieldSelector", sel.field.clone()));
    }
    q
}

/// A number in `0..n` that differs between watchers; only spreads reconnects.
fn jitter(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    nanos % n.max(1)
}

/// Runs one watcher until `cancel`: list, watch, resume or relist, forever.
pub async fn run(
    api: std::sync::Arc<Api>,
    kind: Role,
    namespace: String,
    sel: Selector,
    tx: UnboundedSender<Event>,
    cancel: CancellationToken,
) {
    let path = kind.path(&namespace);
    let mut backoff = Duration::from_millis(500);
    let pause = |d: Duration| {
        let cancel = cancel.clone();
        async move {
            tokio::select! {
                _ = cancel.cancelled() => false,
                _ = tokio::time::sleep(d) => true,
            }
        }
    };
    'relist: loop {
        let listed = tokio::select! {
            _ = cancel.cancelled() => return,
            r = api.list(&path, &sel) => r,
        };
        let mut version = match listed {
            Ok((items, version)) => {
                backoff = Duration::from_millis(500);
                if tx.send(Event::Synced(items)).is_err() {
                    return;
                }
                version
            }
            Err(err) => {
                tracing::warn!(kind = kind.as_str(), %err, "discovery.kubernetes list failed");
                if !pause(backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        loop {
            let started = tokio::time::Instant::now();
            let watched = tokio::select! {
                _ = cancel.cancelled() => return,
                r = api.watch(&path, &sel, &version, &tx) => r,
            };
            match watched {
                Ok(WatchEnd::Closed(v)) => {
                    version = v;
                    backoff = Duration::from_millis(500);
                    // A server that ends every watch at once is not hammered.
                    if started.elapsed() < Duration::from_secs(1)
                        && !pause(Duration::from_secs(1)).await
                    {
                        return;
                    }
                }
                Ok(WatchEnd::Gone) => continue 'relist,
                Err(err) => {
                    tracing::warn!(kind = kind.as_str(), %err, "discovery.kubernetes watch failed");
                    if !pause(backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
