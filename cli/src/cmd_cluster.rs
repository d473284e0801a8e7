//! `ferroalloy cluster explain LABELS`: asks a running node which cluster node owns
//! the target with these labels and why (the node answers from its own view of the
//! ring at `/api/v0/web/cluster/explain`).

use anyhow::{bail, Context, Result};
use std::time::Duration;

/// The `cluster` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Say which node owns a target and why: its ring key, the ring token that picked
    /// the owner, the nodes considered and skipped, and whether the asked node scrapes
    /// it.
    Explain(ExplainArgs),
}

/// Flags and arguments of `cluster explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The target's labels after discovery and relabelling, as `{job="x",
    /// instance="y", __address__="h:9100"}` or `job=x,instance=y`. Labels starting with
    /// `__meta_` are ignored, as the ring ignores them.
    #[arg(value_name = "TARGET_LABELS")]
    labels: String,

    /// The HTTP address of the running node to ask.
    #[arg(long = "server.http.addr", default_value = "127.0.0.1:12345")]
    addr: String,

    /// Print the node's JSON answer instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn run(command: &ClusterCommand) -> Result<()> {
    match command {
        ClusterCommand::Explain(args) => explain(args),
    }
}

fn explain(args: &ExplainArgs) -> Result<()> {
    // Catch typing mistakes here, with the same parser the node uses.
    alloy_runtime::cluster::api::parse_labels(&args.labels).map_err(anyhow::Error::msg)?;
    let base = if args.addr.contains("://") {
        args.addr.clone()
    } else {
        format!("http://{}", args.addr)
    };
    let mut url = reqwest::Url::parse(&base)
        .with_context(|| format!("invalid node address {:?}", args.addr))?;
    url.set_path(alloy_runtime::cluster::api::EXPLAIN_PATH);
    url.query_pairs_mut().append_pair("labels", &args.labels);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, body) = runtime
        .block_on(async {
            let response = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?
                .get(url.clone())
                .send()
                .await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.text().await?))
        })
        .with_context(|| format!("asking the node at {}", args.addr))?;
    if !status.is_success() {
        bail!("the node answered {status}: {}", body.trim());
    }
    if args.json {
        println!("{body}");
        return Ok(());
    }
    let answer: serde_json::Value =
        serde_json::from_str(&body).context("the node's answer is not JSON")?;
    print!("{}", summary(&answer));
    Ok(())
}

/// The human-readable form of an explain answer.
fn summary(a: &serde_json::Value) -> String {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    let list = |v: &serde_json::Value| {
        v.as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| i.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let labels = a["keyLabels"]
        .as_array()
        .map(|pairs| {
            pairs
                .iter()
                .map(|p| format!("{}={:?}", s(&p[0]), s(&p[1])))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let mut out = String::new();
    out.push_str(&format!(
        "target key:   {} (xxHash64 of {{{labels}}})\n",
        s(&a["key"])
    ));
    out.push_str(&format!("owner:        {}\n", s(&a["owner"])));
    out.push_str(&format!("ring token:   {}\n", s(&a["token"])));
    out.push_str(&format!("why:          {}\n", s(&a["reason"])));
    out.push_str(&format!("considered:   {}\n", list(&a["considered"])));
    if let Some(skipped) = a["skipped"].as_array().filter(|l| !l.is_empty()) {
        for p in skipped {
            out.push_str(&format!(
                "skipped:      {} ({})\n",
                s(&p["name"]),
                s(&p["reason"])
            ));
        }
    }
    if let Some(next) = a["pendingOwner"].as_str() {
        out.push_str(&format!(
            "moving to:    {next} from {} (Unix ms), an announced handoff\n",
            a["pendingFromMs"]
        ));
    }
    out.push_str(&format!(
        "asked node:   {} ({})\n",
        s(&a["node"]),
        if a["local"].as_bool() == Some(true) {
            "scrapes this target"
        } else {
            "does not scrape this target"
        }
    ));
    out
}
