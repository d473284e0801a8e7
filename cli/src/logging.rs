//! Process logging: a tracing subscriber whose level and format the `logging` block
//! changes at every successful load, through reload handles (no restart).
//!
//! Until a `logging` block sets a format, lines use tracing's human format (what
//! `run` printed before the block was supported, which scripts and tests match on).
//! `format = "logfmt"` prints upstream's `ts=... level=info msg="..." key=value`
//! lines and `format = "json"` one JSON object per line with the same keys. `RUST_LOG`, when set, wins
//! over the block's `level`, so a developer can always turn on more output.

use alloy_runtime::config_blocks::{LogFormat, LoggingConfig};
use alloy_runtime::timestamp::rfc3339_millis;
use std::fmt::{self, Write as _};
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

type Filtered = tracing_subscriber::layer::Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type BoxedFormat = Box<dyn Layer<Filtered> + Send + Sync>;

/// Swaps the filter and the formatting layer of the installed subscriber.
pub struct LogControl {
    filter: reload::Handle<EnvFilter, Registry>,
    format: reload::Handle<BoxedFormat, Filtered>,
    ansi: bool,
    /// The block applied last; `None` before any or when the configuration has none.
    current: std::sync::Mutex<Option<LoggingConfig>>,
}

/// Installs the process subscriber (stderr, `info` or `RUST_LOG`) and returns the
/// handle that applies `logging` blocks.
pub fn init(ansi: bool) -> LogControl {
    let (filter, filter_handle) = reload::Layer::new(filter_for("info"));
    let (format, format_handle) = reload::Layer::new(human(ansi));
    tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .init();
    LogControl {
        filter: filter_handle,
        format: format_handle,
        ansi,
        current: std::sync::Mutex::new(None),
    }
}

impl LogControl {
    /// Applies a loaded `logging` block (`None`: the configuration has none); does
    /// nothing when it did not change.
    pub fn apply(&self, config: Option<&LoggingConfig>) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_ref() == config {
            return;
        }
        let level = config.map_or("info", |c| c.level.as_str());
        if let Err(err) = self.filter.reload(filter_for(level)) {
            tracing::error!(error = %err, "could not change the log level");
        }
        let layer = match config.map(|c| c.format) {
            None => human(self.ansi),
            Some(LogFormat::Logfmt) => logfmt(),
            Some(LogFormat::Json) => json(),
        };
        if current.map(|c| c.format) != config.map(|c| c.format) {
            if let Err(err) = self.format.reload(layer) {
                tracing::error!(error = %err, "could not change the log format");
            }
        }
        *current = config.copied();
    }
}

fn filter_for(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level))
}

fn human(ansi: bool) -> BoxedFormat {
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .boxed()
}

fn json() -> BoxedFormat {
    tracing_subscriber::fmt::layer()
        .event_format(Json)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .boxed()
}

fn logfmt() -> BoxedFormat {
    tracing_subscriber::fmt::layer()
        .event_format(Logfmt)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .boxed()
}

/// go-kit's logfmt layout, which upstream uses: `ts`, `level`, `msg`, then the
/// event's fields in order.
struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        write!(
            writer,
            "ts={} level={level}",
            rfc3339_millis(SystemTime::now())
        )?;
        let mut fields = LogfmtFields::default();
        event.record(&mut fields);
        if let Some(msg) = &fields.message {
            write!(writer, " msg={}", quote(msg))?;
        }
        writer.write_str(&fields.rest)?;
        writeln!(writer)
    }
}

/// upstream's JSON lines: `{"ts":"...","level":"info","msg":"...", fields...}`.
struct Json;

impl<S, N> FormatEvent<S, N> for Json
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = JsonFields::default();
        fields
            .0
            .insert("ts".into(), rfc3339_millis(SystemTime::now()).into());
        fields.0.insert(
            "level".into(),
            event
                .metadata()
                .level()
                .as_str()
                .to_ascii_lowercase()
                .into(),
        );
        event.record(&mut fields);
        let line = serde_json::Value::Object(fields.0).to_string();
        writeln!(writer, "{line}")
    }
}

#[derive(Default)]
struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = match field.name() {
            "message" => "msg",
            other => other,
        };
        self.0.insert(name.to_string(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

#[derive(Default)]
struct LogfmtFields {
    message: Option<String>,
    rest: String,
}

impl Visit for LogfmtFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_string());
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), quote(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// A logfmt value: bare when it has no space, quote, `=` or control character.
fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if bare {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_values_are_quoted_only_when_needed() {
        assert_eq!(quote("127.0.0.1:80"), "127.0.0.1:80");
        assert_eq!(quote("config reloaded"), "\"config reloaded\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a=b"), "\"a=b\"");
    }
}
