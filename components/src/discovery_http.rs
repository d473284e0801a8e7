//! `discovery.http`: Prometheus HTTP service discovery (COMPONENTS.md §2). Polls a URL
//! for JSON target groups and exports them as `targets`; a failed refresh keeps the
//! last targets. Changed targets are published at most every 5 s, as upstream's
//! discovery manager does — except the first successful refresh, which is published
//! at once so scraping starts without upstream's 5 s gap.

use crate::http_client::HttpClientArgs;
use alloy_runtime::component::{
    Arguments, BoxFuture, Component, ExportsSink, Health, HealthState, Options,
};
use alloy_runtime::decode::Decoder;
use alloy_runtime::duration::GoDuration;
use alloy_runtime::schema::{
    attr, concat, Attr, LabelRule, Schema, Ty, HTTP_CLIENT_ATTRS, HTTP_CLIENT_BLOCK_SPECS,
};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const OWN_ATTRS: [Attr; 2] = [
    attr!("url", Ty::String, required),
    attr!("refresh_interval", Ty::Duration),
];

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &concat::<Attr, { OWN_ATTRS.len() + HTTP_CLIENT_ATTRS.len() }>(
        &OWN_ATTRS,
        &HTTP_CLIENT_ATTRS,
    ),
    blocks: &HTTP_CLIENT_BLOCK_SPECS,
    free_form: false,
};

/// Upstream's `MaxUpdateFrequency`: changes are published at most this often.
const MAX_UPDATE_FREQUENCY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryHttpArgs {
    pub url: String,
    pub refresh_interval: GoDuration,
    pub client: HttpClientArgs,
}

impl Arguments for DiscoveryHttpArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        let url: String = d.required("url")?;
        if reqwest::Url::parse(&url).is_err() {
            return Err(d.error(d.span_of("url"), format!("invalid URL {url:?}")));
        }
        let refresh_interval =
            d.positive_duration("refresh_interval", GoDuration::from_secs(60))?;
        Ok(DiscoveryHttpArgs {
            url,
            refresh_interval,
            client: HttpClientArgs::decode(Some(*d))?,
        })
    }
}

/// The running component.
pub struct DiscoveryHttp {
    exports: ExportsSink,
    state: Mutex<State>,
    reconfigured: Notify,
}

struct State {
    args: DiscoveryHttpArgs,
    client: reqwest::Client,
    health: Health,
}

/// One target group of the HTTP SD response.
#[derive(serde::Deserialize)]
struct Group {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// One refresh: the targets of a 200 JSON response.
async fn refresh(args: &DiscoveryHttpArgs, client: &reqwest::Client) -> Result<Value, String> {
    let req = client
        .get(&args.url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            "X-Prometheus-Refresh-Interval-Seconds",
            (args.refresh_interval.nanos() / 1_000_000_000).to_string(),
        );
    let (resp, content_type) = args.client.send_ok(req).await?;
    let content_type = content_type.unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(format!("unsupported content type {content_type:?}"));
    }
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    let groups: Vec<Group> = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(targets_value(&args.url, groups))
}

/// `{__address__} ∪ labels ∪ {__meta_url}` for every target of every group.
fn targets_value(url: &str, groups: Vec<Group>) -> Value {
    let mut targets = Vec::new();
    for group in groups {
        for address in group.targets {
            let mut labels: BTreeMap<String, Value> = group
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::string(v.as_str())))
                .collect();
            labels.insert("__address__".into(), Value::string(address));
            labels.insert("__meta_url".into(), Value::string(url));
            targets.push(Value::object(labels));
        }
    }
    Value::array(targets)
}

fn exports_of(targets: Value) -> Value {
    Value::object(BTreeMap::from([("targets".to_string(), targets)]))
}

impl DiscoveryHttp {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Component for DiscoveryHttp {
    type Arguments = DiscoveryHttpArgs;

    fn build(opts: Options, args: DiscoveryHttpArgs) -> Result<Self, String> {
        let client = args.client.build()?;
        // Dependants see an empty target list until the first refresh.
        (opts.exports)(exports_of(Value::array(Vec::new())));
        Ok(DiscoveryHttp {
            exports: opts.exports,
            state: Mutex::new(State {
                args,
                client,
                health: Health::new(HealthState::Healthy, "started discovery"),
            }),
            reconfigured: Notify::new(),
        })
    }

    fn update(&self, args: DiscoveryHttpArgs) -> Result<(), String> {
        let client = args.client.build()?;
        {
            let mut state = self.lock();
            state.args = args;
            state.client = client;
        }
        // Changing arguments restarts the discoverer.
        self.reconfigured.notify_one();
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            let mut published: Option<Value> = None;
            let mut last_publish: Option<tokio::time::Instant> = None;
            let mut pending: Option<Value> = None;
            loop {
                let (args, client) = {
                    let state = self.lock();
                    (state.args.clone(), state.client.clone())
                };
                let mut ticker = tokio::time::interval(args.refresh_interval.to_std());
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    // Publish a pending change once the rate limit allows.
                    let publish_at = match (&pending, last_publish) {
                        (Some(_), Some(at)) => Some(at + MAX_UPDATE_FREQUENCY),
                        (Some(_), None) => Some(tokio::time::Instant::now()),
                        (None, _) => None,
                    };
                    let publish = async {
                        match publish_at {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = self.reconfigured.notified() => break,
                        _ = publish => {
                            if let Some(targets) = pending.take() {
                                (self.exports)(exports_of(targets.clone()));
                                published = Some(targets);
                                last_publish = Some(tokio::time::Instant::now());
                            }
                        }
                        _ = ticker.tick() => match refresh(&args, &client).await {
                            Ok(targets) => {
                                let same = published
                                    .as_ref()
                                    .is_some_and(|p| alloy_syntax::value::values_identical(p, &targets));
                                pending = (!same).then_some(targets);
                            }
                            Err(err) => {
                                // Keep the last targets; only bad configuration makes the
                                // component unhealthy, as upstream.
                                tracing::warn!(url = %args.url, %err, "discovery.http refresh failed");
                            }
                        },
                    }
                }
            }
        })
    }

    fn health(&self) -> Option<Health> {
        Some(self.lock().health.clone())
    }
}
