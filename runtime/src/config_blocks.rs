//! The root blocks that configure the process instead of running as components:
//! `logging`, `tracing`, and the `http` and `livedebugging` services. The controller
//! checks and decodes them while planning a load, so a bad value fails the whole load
//! with an error at the value and the running configuration stays; the CLI applies
//! the decoded [`ConfigBlocks`] after every successful load (RUNTIME.md §3).
//!
//! Bodies are evaluated against the module scope (the standard library and
//! `module_path`); they cannot reference components.

use crate::decode::{AnyValue, Decoder};
use alloy_syntax::Diagnostic;
use rustls::ServerConfig;
use std::fmt;
use std::sync::Arc;

/// Every config block of the root, with upstream's defaults for absent ones.
#[derive(Debug, Clone, Default)]
pub struct ConfigBlocks {
    /// `None` when the configuration has no `logging` block.
    pub logging: Option<LoggingConfig>,
    pub tracing: TracingConfig,
    pub http: HttpConfig,
    pub livedebugging: LiveDebuggingConfig,
}

/// The `logging` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoggingConfig {
    /// `level`: `debug`, `info` (default), `warn` or `error`.
    pub level: LogLevel,
    /// `format`: `logfmt` (default) or `json`.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The level as a tracing filter directive.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Logfmt,
    Json,
}

/// The `tracing` block. Only ferroalloy's own spans exist to be traced; the values
/// are checked as upstream checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingConfig {
    /// `sampling_fraction`, between 0 and 1 (default 0.1).
    pub sampling_fraction: f64,
    /// How many receivers `write_to` lists.
    pub write_to: usize,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            sampling_fraction: 0.1,
            write_to: 0,
        }
    }
}

/// The `http` service block.
#[derive(Clone, Default)]
pub struct HttpConfig {
    /// The server configuration of the `tls` block; `None` serves plain HTTP.
    pub tls: Option<Arc<ServerConfig>>,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The TLS configuration holds the private key: show only whether it is set.
        f.debug_struct("HttpConfig")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The `livedebugging` service block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveDebuggingConfig {
    /// `enabled`: whether the UI/API may stream the data passing through components.
    pub enabled: bool,
}

/// Decodes the body of config block `name` into `blocks`. Names this module does not
/// know are left to the caller.
pub(crate) fn decode_into(
    blocks: &mut ConfigBlocks,
    name: &str,
    d: &Decoder,
) -> Result<(), Diagnostic> {
    match name {
        "logging" => blocks.logging = Some(logging(d)?),
        "tracing" => blocks.tracing = tracing(d)?,
        "http" => {
            blocks.http = HttpConfig {
                tls: d
                    .block("tls")
                    .map(|tls| crate::tls::server_config(&tls))
                    .transpose()?,
            }
        }
        "livedebugging" => {
            blocks.livedebugging = LiveDebuggingConfig {
                enabled: d.attr_or("enabled", false)?,
            }
        }
        _ => {}
    }
    Ok(())
}

fn logging(d: &Decoder) -> Result<LoggingConfig, Diagnostic> {
    let level = match d.attr::<String>("level")?.as_deref() {
        None | Some("info") => LogLevel::Info,
        Some("debug") => LogLevel::Debug,
        Some("warn") => LogLevel::Warn,
        Some("error") => LogLevel::Error,
        Some(other) => {
            return Err(d.error(
                d.span_of("level"),
                format!("unrecognized log level {other:?}; expected debug, info, warn or error"),
            ))
        }
    };
    let format = match d.attr::<String>("format")?.as_deref() {
        None | Some("logfmt") => LogFormat::Logfmt,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(d.error(
                d.span_of("format"),
                format!("unrecognized log format {other:?}; expected logfmt or json"),
            ))
        }
    };
    let write_to: Vec<AnyValue> = d.attr_or("write_to", Vec::new())?;
    if !write_to.is_empty() {
        // No component of ours receives logs yet; dropping them silently would lose
        // what the user asked to keep.
        return Err(d.error(
            d.span_of("write_to"),
            "logging write_to needs a logs receiver, and ferroalloy has no log components yet; logs go to stderr",
        ));
    }
    Ok(LoggingConfig { level, format })
}

fn tracing(d: &Decoder) -> Result<TracingConfig, Diagnostic> {
    let sampling_fraction: f64 = d.attr_or("sampling_fraction", 0.1)?;
    if !(0.0..=1.0).contains(&sampling_fraction) {
        return Err(d.error(
            d.span_of("sampling_fraction"),
            format!("sampling_fraction must be between 0 and 1, got {sampling_fraction}"),
        ));
    }
    let write_to: Vec<AnyValue> = d.attr_or("write_to", Vec::new())?;
    Ok(TracingConfig {
        sampling_fraction,
        write_to: write_to.len(),
    })
}
