//! `remote.http`: polls a URL and exports the response body (COMPONENTS.md §8). Every
//! Update polls once synchronously, so a bad URL fails the evaluation; afterwards only
//! status 200 counts, and failures keep the last content and mark the component
//! unhealthy.

use crate::http_client::HttpClientArgs;
use alloy_runtime::component::{
    Arguments, BoxFuture, Component, ExportsSink, Health, HealthState, Options,
};
use alloy_runtime::decode::Decoder;
use alloy_runtime::duration::GoDuration;
use alloy_runtime::module::read_last_good;
use alloy_runtime::schema::{attr, LabelRule, Schema, Ty, HTTP_CLIENT_BLOCKS};
use alloy_syntax::value::Value;
use alloy_syntax::Diagnostic;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

static SCHEMA: Schema = Schema {
    label: LabelRule::Ignored,
    attrs: &[
        attr!("url", Ty::String, required),
        attr!("method", Ty::String),
        attr!("headers", Ty::Map(&Ty::String)),
        attr!("body", Ty::String),
        attr!("poll_frequency", Ty::Duration),
        attr!("poll_timeout", Ty::Duration),
        attr!("is_secret", Ty::Bool),
    ],
    blocks: HTTP_CLIENT_BLOCKS,
    free_form: false,
};

#[derive(Debug, Clone, PartialEq)]
pub struct RemoteHttpArgs {
    pub url: String,
    pub method: reqwest::Method,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub poll_frequency: GoDuration,
    pub poll_timeout: GoDuration,
    pub is_secret: bool,
    pub client: HttpClientArgs,
}

impl Arguments for RemoteHttpArgs {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn decode(d: &Decoder) -> Result<Self, Diagnostic> {
        let method_text: String = d.attr_or("method", "GET".to_string())?;
        let method =
            reqwest::Method::from_bytes(method_text.to_uppercase().as_bytes()).map_err(|_| {
                d.error(
                    d.span_of("method"),
                    format!("invalid HTTP method {method_text:?}"),
                )
            })?;
        let poll_frequency = d.positive_duration("poll_frequency", GoDuration::from_secs(60))?;
        let poll_timeout = d.positive_duration("poll_timeout", GoDuration::from_secs(10))?;
        if poll_timeout >= poll_frequency {
            return Err(d.error(
                d.span_of("poll_timeout"),
                "poll_timeout must be less than poll_frequency",
            ));
        }
        let url: String = d.required("url")?;
        if reqwest::Url::parse(&url).is_err() {
            return Err(d.error(d.span_of("url"), format!("invalid URL {url:?}")));
        }
        Ok(RemoteHttpArgs {
            url,
            method,
            headers: d.attr_or("headers", BTreeMap::new())?,
            body: d.attr_or("body", String::new())?,
            poll_frequency,
            poll_timeout,
            is_secret: d.attr_or("is_secret", false)?,
            client: HttpClientArgs::decode(d.block("client"))?,
        })
    }
}

/// The running component.
pub struct RemoteHttp {
    exports: ExportsSink,
    state: Mutex<State>,
    reconfigured: Notify,
}

struct State {
    args: RemoteHttpArgs,
    client: reqwest::Client,
    health: Health,
}

/// One poll: the trimmed body of a 200 response.
async fn poll(args: &RemoteHttpArgs, client: &reqwest::Client) -> Result<String, String> {
    let mut req = client
        .request(args.method.clone(), &args.url)
        .timeout(args.poll_timeout.to_std());
    for (name, value) in &args.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    if !args.body.is_empty() {
        req = req.body(args.body.clone());
    }
    let req = args.client.apply(req)?;
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("unexpected status code {status}"));
    }
    let body = resp.text().await.map_err(|e| e.to_string())?;
    Ok(body.trim().to_string())
}

fn exports_of(content: String, is_secret: bool) -> Value {
    let content = if is_secret {
        Value::secret(content)
    } else {
        Value::string(content)
    };
    Value::object(BTreeMap::from([("content".to_string(), content)]))
}

/// Build and Update poll synchronously, from inside an evaluation that may itself run
/// on the async runtime: the request runs on a helper thread with its own small
/// runtime, so no runtime thread is blocked on its own I/O.
fn poll_now(args: &RemoteHttpArgs, client: &reqwest::Client) -> Result<String, String> {
    let (args, client) = (args.clone(), client.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(poll(&args, &client))
    })
    .join()
    .map_err(|_| "polling thread failed".to_string())?
}

impl RemoteHttp {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Component for RemoteHttp {
    type Arguments = RemoteHttpArgs;

    fn build(opts: Options, args: RemoteHttpArgs) -> Result<Self, String> {
        let client = args.client.build()?;
        let (content, health) = match poll_now(&args, &client) {
            Ok(content) => (
                content,
                Health::new(HealthState::Healthy, "polled endpoint"),
            ),
            // Behind `import.http` and `module.http` the runtime keeps the last module
            // it accepted in this directory; serving it lets a restart during the
            // server's outage run the pipeline. A plain remote.http has no such file.
            Err(e) => match read_last_good(&opts.data_path) {
                Some((path, text)) => (
                    text,
                    Health::new(
                        HealthState::Unhealthy,
                        format!(
                            "polling failed: {e}; running the last good module kept at {}",
                            path.display()
                        ),
                    ),
                ),
                None => return Err(format!("polling failed: {e}")),
            },
        };
        (opts.exports)(exports_of(content, args.is_secret));
        Ok(RemoteHttp {
            exports: opts.exports,
            state: Mutex::new(State {
                args,
                client,
                health,
            }),
            reconfigured: Notify::new(),
        })
    }

    fn update(&self, args: RemoteHttpArgs) -> Result<(), String> {
        let client = args.client.build()?;
        let content = poll_now(&args, &client).map_err(|e| format!("polling failed: {e}"))?;
        (self.exports)(exports_of(content, args.is_secret));
        {
            let mut state = self.lock();
            state.args = args;
            state.client = client;
            state.health = Health::new(HealthState::Healthy, "polled endpoint");
        }
        self.reconfigured.notify_one();
        Ok(())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            loop {
                let (args, client) = {
                    let state = self.lock();
                    (state.args.clone(), state.client.clone())
                };
                let mut ticker = tokio::time::interval(args.poll_frequency.to_std());
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker.tick().await;
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = self.reconfigured.notified() => break,
                        _ = ticker.tick() => {
                            let health = match poll(&args, &client).await {
                                Ok(content) => {
                                    (self.exports)(exports_of(content, args.is_secret));
                                    Health::new(HealthState::Healthy, "polled endpoint")
                                }
                                Err(e) => Health::new(HealthState::Unhealthy, format!("polling failed: {e}")),
                            };
                            self.lock().health = health;
                        }
                    }
                }
            }
        })
    }

    fn health(&self) -> Option<Health> {
        Some(self.lock().health.clone())
    }
}
