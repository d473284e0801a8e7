//! The scrape body parser: Prometheus text format 0.0.4 and OpenMetrics 1.0 text,
//! zero-copy, streaming, and faithful to Prometheus's `model/textparse` semantics.
//!
//! [`Parser`] is an iterator of [`Entry`] values that borrow from the body. A sample's
//! labels are a [`LabelsRef`]: the validated bytes between the braces, decoded again
//! when iterated, so the common case allocates nothing per line. Label values are
//! `Cow::Borrowed` unless they hold escapes.
//!
//! The lexer mirrors the golex grammars of Prometheus (`promlex.l`, `openmetricslex.l`)
//! state by state, because scrape targets in the wild depend on their quirks: the text
//! format allows spaces and tabs between any two tokens and a missing trailing newline,
//! OpenMetrics allows exactly one space between fields and requires `# EOF`. Error
//! messages follow textparse's wording (`expected label value, got "'" ("INVALID")
//! while parsing: "a{b='"`) and carry the line the entry starts on.
//!
//! Choosing the parser from a response's `Content-Type` is [`select_format`]; the
//! `Accept` header a scrape sends is [`DEFAULT_ACCEPT_HEADER`] or [`accept_header`].

use std::borrow::Cow;
use std::fmt;

// ---------------------------------------------------------------------------------
// Content negotiation
// ---------------------------------------------------------------------------------

/// A body format a scrape can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/plain`: the Prometheus text format (0.0.4 and 1.0.0 parse alike).
    PrometheusText,
    /// `application/openmetrics-text`: OpenMetrics 1.0 (and 0.0.1) text.
    OpenMetricsText,
    /// `application/vnd.google.protobuf`: delimited `MetricFamily` messages. This
    /// module does not parse it; [`Parser`] reports an error for it.
    PrometheusProto,
}

impl Format {
    /// The media type Prometheus maps this format to.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::PrometheusText => "text/plain",
            Format::OpenMetricsText => "application/openmetrics-text",
            Format::PrometheusProto => "application/vnd.google.protobuf",
        }
    }
}

/// A `scrape_protocols` entry, spelled as in Alloy and Prometheus configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    PrometheusProto,
    PrometheusText0_0_4,
    PrometheusText1_0_0,
    OpenMetricsText0_0_1,
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// Every protocol; its length sets the q-values of [`accept_header`] (Prometheus
    /// starts at `0.<len+1>` and counts down).
    pub const ALL: [ScrapeProtocol; 5] = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::PrometheusText0_0_4,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::OpenMetricsText1_0_0,
    ];

    /// Alloy's and Prometheus's default preference order.
    pub const DEFAULT: [ScrapeProtocol; 4] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The config spelling, e.g. `PrometheusText0.0.4`.
    pub fn name(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
        }
    }

    /// Parses the config spelling.
    pub fn from_name(name: &str) -> Option<ScrapeProtocol> {
        ScrapeProtocol::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The `Accept` entry without escaping or q-value.
    pub fn header(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }

    /// The parser a response in this protocol needs (`scrape_fallback_protocol`).
    pub fn format(self) -> Format {
        match self {
            ScrapeProtocol::PrometheusProto => Format::PrometheusProto,
            ScrapeProtocol::PrometheusText0_0_4 | ScrapeProtocol::PrometheusText1_0_0 => {
                Format::PrometheusText
            }
            ScrapeProtocol::OpenMetricsText0_0_1 | ScrapeProtocol::OpenMetricsText1_0_0 => {
                Format::OpenMetricsText
            }
        }
    }
}

/// The `Accept` header Prometheus v3 (and so Alloy) sends with the default
/// `scrape_protocols` and the default `legacy` name validation (escaping
/// `underscores`). A test checks it equals `accept_header(&ScrapeProtocol::DEFAULT,
/// "underscores")`.
pub const DEFAULT_ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Builds the `Accept` header for `protocols` in preference order, as Prometheus's
/// `acceptHeader`: descending q-values, `escaping=<scheme>` only on the 1.0.0 text
/// formats (older versions do not define it), and a final `*/*`.
pub fn accept_header(protocols: &[ScrapeProtocol], escaping: &str) -> String {
    let mut weight = ScrapeProtocol::ALL.len() + 1;
    let mut out = String::new();
    for p in protocols {
        out.push_str(p.header());
        if matches!(
            p,
            ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0
        ) {
            out.push_str(";escaping=");
            out.push_str(escaping);
        }
        out.push_str(&format!(";q=0.{weight},"));
        weight = weight.saturating_sub(1);
    }
    out.push_str(&format!("*/*;q=0.{weight}"));
    out
}

/// The outcome of [`select_format`]: the parser to use and, when the fallback
/// protocol was used, the warning Prometheus logs for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub format: Format,
    pub warning: Option<String>,
}

/// Picks the parser for a response's `Content-Type` the way Prometheus's
/// `textparse.New` does: the media type (parameters ignored, case-insensitive) selects
/// OpenMetrics, protobuf or the text format; a blank, unparsable or unknown type uses
/// `fallback` with a warning, and fails the scrape when there is no fallback.
pub fn select_format(content_type: &str, fallback: Option<Format>) -> Result<Selected, String> {
    let with_fallback = |problem: String| match fallback {
        Some(format) => Ok(Selected {
            format,
            warning: Some(format!(
                "{problem}, using fallback_scrape_protocol {:?}",
                format.media_type()
            )),
        }),
        None => Err(format!(
            "{problem} and no fallback_scrape_protocol specified for target"
        )),
    };
    if content_type.is_empty() {
        return with_fallback("non-compliant scrape target sending blank Content-Type".into());
    }
    let media = match parse_media_type(content_type) {
        Ok(m) => m,
        Err(e) => {
            return with_fallback(format!(
                "could not parse received Content-Type {}: {e}",
                go_quote_bytes(content_type.as_bytes())
            ))
        }
    };
    match media.as_str() {
        "application/openmetrics-text" => Ok(Selected {
            format: Format::OpenMetricsText,
            warning: None,
        }),
        "application/vnd.google.protobuf" => Ok(Selected {
            format: Format::PrometheusProto,
            warning: None,
        }),
        "text/plain" => Ok(Selected {
            format: Format::PrometheusText,
            warning: None,
        }),
        _ => with_fallback(format!(
            "received unsupported Content-Type {}",
            go_quote_bytes(content_type.as_bytes())
        )),
    }
}

/// Go's `mime.ParseMediaType`, reduced to what the choice needs: the lower-cased media
/// type, or the error Go reports for a malformed type or parameter list.
fn parse_media_type(v: &str) -> Result<String, &'static str> {
    let (head, mut rest) = v.split_at(v.find(';').unwrap_or(v.len()));
    let media = head.trim().to_ascii_lowercase();
    let (typ, after) = consume_token(&media);
    if typ.is_empty() {
        return Err("mime: no media type");
    }
    if !after.is_empty() {
        let Some(sub) = after.strip_prefix('/') else {
            return Err("mime: expected slash after first token");
        };
        let (subtype, after) = consume_token(sub);
        if subtype.is_empty() {
            return Err("mime: expected token after slash");
        }
        if !after.is_empty() {
            return Err("mime: unexpected content after media subtype");
        }
    }
    // Parameters must be well formed and unique, though their values are unused.
    let mut seen: Vec<String> = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        match consume_media_param(rest) {
            Some((key, after)) => {
                if seen.contains(&key) {
                    return Err("mime: duplicate parameter name");
                }
                seen.push(key);
                rest = after;
            }
            None if rest.trim() == ";" => break,
            None => return Err("mime: invalid media parameter"),
        }
    }
    Ok(media)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_control() && c != ' ' && !"()<>@,;:\\\"/[]?=".contains(c)
}

fn consume_token(s: &str) -> (&str, &str) {
    let end = s.find(|c| !is_token_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// One `; key=value` parameter: its lower-cased key and the rest of the input.
fn consume_media_param(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix(';')?.trim_start();
    let (key, s) = consume_token(s);
    if key.is_empty() {
        return None;
    }
    let s = s.trim_start().strip_prefix('=')?.trim_start();
    let rest = if let Some(quoted) = s.strip_prefix('"') {
        // A quoted-string: backslash escapes the next character.
        let mut chars = quoted.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                _ => {}
            }
        }
        &quoted[end?..]
    } else {
        let (value, rest) = consume_token(s);
        if value.is_empty() {
            return None;
        }
        rest
    };
    Some((key.to_ascii_lowercase(), rest))
}

// ---------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------

/// A metric family's type from a `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `untyped` in the text format, `unknown` in OpenMetrics, or no `# TYPE` line.
    Unknown,
}

impl MetricKind {
    /// The OpenMetrics spelling (`unknown` for the text format's `untyped`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::GaugeHistogram => "gaugehistogram",
            MetricKind::Summary => "summary",
            MetricKind::Info => "info",
            MetricKind::StateSet => "stateset",
            MetricKind::Unknown => "unknown",
        }
    }
}

/// One line of the body.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    Sample(SampleRef<'a>),
    Type {
        metric: Cow<'a, str>,
        kind: MetricKind,
    },
    Help {
        metric: Cow<'a, str>,
        text: Cow<'a, str>,
    },
    /// OpenMetrics only.
    Unit {
        metric: Cow<'a, str>,
        unit: &'a str,
    },
    /// A text-format comment line, `#` included (invalid UTF-8 replaced, since
    /// Prometheus does not check comments).
    Comment(Cow<'a, str>),
    /// OpenMetrics's `# EOF` line; the iterator ends after it. The text format has
    /// no end marker and simply ends.
    Eof,
}

/// A sample borrowed from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRef<'a> {
    /// The metric name (`__name__`), bare or from a quoted name inside the braces.
    pub name: Cow<'a, str>,
    pub labels: LabelsRef<'a>,
    /// Any NaN in the body becomes Prometheus's normal NaN, so a scraped value is
    /// never mistaken for a staleness marker.
    pub value: f64,
    /// Milliseconds: an integer in the text format, float seconds × 1000 (truncated)
    /// in OpenMetrics.
    pub timestamp_ms: Option<i64>,
    /// The type of the last `# TYPE` family when this sample belongs to it (by
    /// Prometheus's suffix rules: `_total`, `_bucket`, `_sum`, `_count`, `_created`,
    /// `_gsum`, `_gcount`, `_info`), else `Unknown`.
    pub kind: MetricKind,
    pub exemplar: Option<ExemplarRef<'a>>,
}

/// An OpenMetrics exemplar (`# {trace_id="…"} 1.5 1700000000.1`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarRef<'a> {
    pub labels: LabelsRef<'a>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// Which label (if any) gets its value rewritten in OpenMetrics float form, as
/// Prometheus v3 does for classic histograms and summaries in the text format so
/// `le="1"` and `le="1.0"` name the same series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Normalize {
    None,
    Le,
    Quantile,
}

/// The labels of a sample or exemplar: the already validated text between the
/// braces, decoded again on iteration (cheap, and it needs no buffer per line).
#[derive(Clone, Copy, PartialEq)]
pub struct LabelsRef<'a> {
    raw: &'a str,
    normalize: Normalize,
}

impl<'a> LabelsRef<'a> {
    /// No labels.
    pub const EMPTY: LabelsRef<'static> = LabelsRef {
        raw: "",
        normalize: Normalize::None,
    };

    /// `(name, value)` pairs in body order, unescaped; the metric name is not one.
    pub fn iter(&self) -> LabelsIter<'a> {
        LabelsIter {
            rest: self.raw,
            normalize: self.normalize,
        }
    }

    /// The raw text between the braces, escapes and all.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl fmt::Debug for LabelsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for LabelsRef<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);
    type IntoIter = LabelsIter<'a>;
    fn into_iter(self) -> LabelsIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`LabelsRef`].
#[derive(Clone)]
pub struct LabelsIter<'a> {
    rest: &'a str,
    normalize: Normalize,
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        // The parser validated this text, so any surprise just ends the iteration.
        loop {
            let s = self.rest.trim_start_matches([' ', '\t', ',']);
            let (name, quoted, after) = if let Some(q) = s.strip_prefix('"') {
                let end = quoted_end(q.as_bytes())?;
                (&q[..end], true, &q[end + 1..])
            } else {
                let end = s
                    .bytes()
                    .position(|c| !LABEL_CHAR[c as usize])
                    .unwrap_or(s.len());
                if end == 0 {
                    self.rest = "";
                    return None;
                }
                (&s[..end], false, &s[end..])
            };
            let after = after.trim_start_matches([' ', '\t']);
            let Some(after) = after.strip_prefix('=') else {
                // A quoted string without `=` is the metric name.
                self.rest = after;
                continue;
            };
            let after = after.trim_start_matches([' ', '\t']);
            let q = after.strip_prefix('"')?;
            let end = quoted_end(q.as_bytes())?;
            self.rest = &q[end + 1..];
            let name = if quoted {
                unescape(name, false)
            } else {
                Cow::Borrowed(name)
            };
            let mut value = unescape(&q[..end], false);
            let rewrite = match self.normalize {
                Normalize::None => false,
                Normalize::Le => name == "le",
                Normalize::Quantile => name == "quantile",
            };
            if rewrite {
                if let Ok(f) = go_parse_float(&value, true) {
                    value = Cow::Owned(format_openmetrics_float(f));
                }
            }
            return Some((name, value));
        }
    }
}

/// Where the closing quote of a quoted string whose opening quote was just consumed
/// sits, skipping escapes.
fn quoted_end(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Undoes Prometheus's escapes: `\\`, `\n` and (except in text-format HELP) `\"`.
/// Any other backslash stays as written, as Go's `strings.Replacer` leaves it.
fn unescape(s: &str, help: bool) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            Some('"') if !help => {
                out.push('"');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// Why a body failed to parse. The scrape fails as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The 1-based line the failing entry starts on.
    pub line: usize,
    /// Prometheus textparse's wording.
    pub message: String,
}

// ---------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Eof,
    Linebreak,
    Help,
    Type,
    Unit,
    EofWord,
    Text,
    Comment,
    MName,
    QString,
    BraceOpen,
    BraceClose,
    LName,
    LValue,
    Comma,
    Equal,
    Timestamp,
    Value,
    Invalid,
}

impl Tok {
    /// textparse's token names, quoted into error messages.
    fn name(self) -> &'static str {
        match self {
            Tok::Eof => "EOF",
            Tok::Linebreak => "LINEBREAK",
            Tok::Help => "HELP",
            Tok::Type => "TYPE",
            Tok::Unit => "UNIT",
            Tok::EofWord => "EOFWORD",
            Tok::Text => "TEXT",
            Tok::Comment => "COMMENT",
            Tok::MName => "MNAME",
            Tok::QString => "QSTRING",
            Tok::BraceOpen => "BOPEN",
            Tok::BraceClose => "BCLOSE",
            Tok::LName => "LNAME",
            Tok::LValue => "LVALUE",
            Tok::Comma => "COMMA",
            Tok::Equal => "EQUAL",
            Tok::Timestamp => "TIMESTAMP",
            Tok::Value => "VALUE",
            Tok::Invalid => "INVALID",
        }
    }
}

/// Lexer start conditions, named as in the golex grammars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Init,
    Meta1,
    Meta2,
    Labels,
    LValue,
    Value,
    Timestamp,
    Exemplar,
    EValue,
    ETimestamp,
}

/// A byte-class lookup table, built at compile time from a predicate on `c`.
macro_rules! table {
    (|$c:ident| $e:expr) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let $c = i as u8;
            t[i] = $e;
            i += 1;
        }
        t
    }};
}

/// `{M}` and `{M}|{D}`: metric names may hold colons, label names may not.
const METRIC_START: [bool; 256] = table!(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':');
const METRIC_CHAR: [bool; 256] = table!(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':');
const LABEL_START: [bool; 256] = table!(|c| c.is_ascii_alphabetic() || c == b'_');
const LABEL_CHAR: [bool; 256] = table!(|c| c.is_ascii_alphanumeric() || c == b'_');
/// `[^{ \t\n]`, minus NUL, which the generated lexer never accepts in a value.
const PROM_VALUE: [bool; 256] = table!(|c| !matches!(c, 0 | b'{' | b' ' | b'\t' | b'\n'));
/// `[^ \n]`, minus NUL.
const OM_VALUE: [bool; 256] = table!(|c| !matches!(c, 0 | b' ' | b'\n'));

/// Whether `name` matches the legacy metric name rule `[a-zA-Z_:][a-zA-Z0-9_:]*`,
/// which the scrape checks under `metric_name_validation_scheme = "legacy"`.
pub fn is_legacy_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && METRIC_START[b[0] as usize] && b.iter().all(|&c| METRIC_CHAR[c as usize])
}

/// Whether `name` matches the legacy label name rule `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_legacy_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && LABEL_START[b[0] as usize] && b.iter().all(|&c| LABEL_CHAR[c as usize])
}

fn run(b: &[u8], from: usize, t: &[bool; 256]) -> usize {
    let mut i = from;
    while i < b.len() && t[b[i] as usize] {
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------

/// Switches that change what Prometheus does with some inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Drop OpenMetrics `_created` series of counters, histograms and summaries, as
    /// Prometheus does when created-timestamp ingestion is on.
    pub skip_created_series: bool,
    /// Reject a `# TYPE` line for a family that already had one, or that comes right
    /// after that family's samples (`second TYPE line for metric name "m", or TYPE
    /// reported after samples`, as Prometheus's `expfmt` parser says). Only the
    /// current run of a family is checked, so this costs no memory.
    pub strict_type_lines: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            skip_created_series: false,
            strict_type_lines: true,
        }
    }
}

/// Prometheus's "normal" NaN, which parsed NaNs become so that no body can smuggle
/// in the staleness marker's bit pattern.
pub const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// The streaming parser. Iterate it for entries; after an error or the end it
/// yields nothing more.
pub struct Parser<'a> {
    b: &'a [u8],
    /// Length including the newline the text format appends, as Prometheus does.
    vlen: usize,
    om: bool,
    opts: Options,
    i: usize,
    state: State,
    /// The current token's start and end (for an invalid token, where it failed).
    tok_start: usize,
    tok_end: usize,
    /// Where the current entry starts.
    start: usize,
    done: bool,
    /// A format this module does not parse.
    unsupported: Option<Format>,
    /// The last `# TYPE` line's family and kind (`p.mtype` in textparse, which also
    /// drives label normalisation regardless of family).
    family: Option<Cow<'a, str>>,
    mtype: MetricKind,
    /// Whether a sample followed the last TYPE line, and the last sample's name.
    last_sample: Option<&'a [u8]>,
    /// Spans of label names of the current sample, for the duplicate check; kept
    /// across lines so parsing does not allocate per line.
    names: Vec<(usize, usize)>,
}

impl<'a> Parser<'a> {
    pub fn new(body: &'a [u8], format: Format) -> Parser<'a> {
        Parser::with_options(body, format, Options::default())
    }

    pub fn with_options(body: &'a [u8], format: Format, opts: Options) -> Parser<'a> {
        let om = format == Format::OpenMetricsText;
        Parser {
            b: body,
            vlen: body.len() + usize::from(!om),
            om,
            opts,
            i: 0,
            state: State::Init,
            tok_start: 0,
            tok_end: 0,
            start: 0,
            done: false,
            unsupported: (format == Format::PrometheusProto).then_some(format),
            family: None,
            mtype: MetricKind::Unknown,
            last_sample: None,
            names: Vec::new(),
        }
    }

    /// The byte at `i`, with the text format's appended newline.
    #[inline]
    fn at(&self, i: usize) -> Option<u8> {
        match self.b.get(i) {
            Some(&c) => Some(c),
            None if i < self.vlen => Some(b'\n'),
            None => None,
        }
    }

    /// Bytes `[from, to)` of the body with the appended newline.
    fn vslice(&self, from: usize, to: usize) -> Cow<'a, [u8]> {
        let to = to.min(self.vlen);
        let from = from.min(to);
        if to <= self.b.len() {
            Cow::Borrowed(&self.b[from..to])
        } else {
            let mut v = self.b[from.min(self.b.len())..].to_vec();
            v.push(b'\n');
            Cow::Owned(v)
        }
    }

    #[inline]
    fn emit(&mut self, start: usize, end: usize, next: State, t: Tok) -> Tok {
        self.tok_start = start;
        self.tok_end = end;
        self.i = end;
        self.state = next;
        t
    }

    /// An invalid token starting at `start` that failed at `fail`.
    fn invalid(&mut self, start: usize, fail: usize) -> Tok {
        self.tok_start = start;
        self.tok_end = fail;
        self.i = fail;
        Tok::Invalid
    }

    /// A quoted string at `i` (the opening quote): its end past the closing quote,
    /// or `Err(fail position)`. `newline` says whether raw newlines may appear;
    /// `nul` whether NUL bytes may (only label values, where Prometheus's lexer
    /// swallows them).
    fn scan_quoted(&self, i: usize, newline: bool, nul: bool) -> Result<usize, usize> {
        let mut j = i + 1;
        loop {
            match self.at(j) {
                None => return Err(j),
                Some(b'"') => return Ok(j + 1),
                Some(b'\\') => match self.at(j + 1) {
                    // Lex's `.` matches anything but a newline.
                    Some(b'\n') | None => return Err(j + 1),
                    Some(0) if !nul => return Err(j + 1),
                    Some(_) => j += 2,
                },
                Some(b'\n') if !newline => return Err(j),
                Some(0) if !nul => return Err(j),
                Some(_) => j += 1,
            }
        }
    }

    /// The next token, skipping the text format's whitespace tokens.
    #[inline]
    fn next_token(&mut self) -> Tok {
        if self.om {
            self.lex_om()
        } else {
            self.lex_text()
        }
    }
}

// The lexers: one token per call, following the golex rules of each start condition.
impl<'a> Parser<'a> {
    /// Where the line holding `from` ends (its newline, or the end of the body,
    /// where the text format's appended newline sits).
    fn line_end(&self, from: usize) -> usize {
        let from = from.min(self.b.len());
        self.b[from..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.b.len(), |p| from + p)
    }

    fn lex_text(&mut self) -> Tok {
        loop {
            let i = self.i;
            let Some(c) = self.at(i) else {
                self.tok_end = self.vlen;
                return Tok::Eof;
            };
            if self.state == State::Meta2 {
                // `{C}*` up to the newline is the longer match, so it beats `[ \t]+`
                // unless the rest of the line is blanks, which then end in empty text.
                let end = self.line_end(i);
                let blanks = run(self.b, i, &WS).min(end);
                if blanks == end && blanks > i {
                    self.i = blanks;
                    continue;
                }
                if c == 0 {
                    return self.invalid(i, i);
                }
                return self.emit(i, end, State::Init, Tok::Text);
            }
            if c == b' ' || c == b'\t' {
                self.i = run(self.b, i, &WS);
                continue;
            }
            return match self.state {
                State::Init => match c {
                    // A NUL where a line starts ends the input (promlex's `\0` rule).
                    0 => {
                        self.tok_end = self.vlen;
                        Tok::Eof
                    }
                    b'\n' => self.emit(i, i + 1, State::Init, Tok::Linebreak),
                    b'#' => self.lex_text_comment(i),
                    b'{' => self.emit(i, i + 1, State::Labels, Tok::BraceOpen),
                    c if METRIC_START[c as usize] => {
                        let end = run(self.b, i + 1, &METRIC_CHAR);
                        self.emit(i, end, State::Value, Tok::MName)
                    }
                    _ => self.invalid(i, i),
                },
                State::Meta1 => self.lex_meta1(i, c),
                State::Labels => self.lex_labels(i, c, true),
                State::LValue if c == b'"' => match self.scan_quoted(i, true, true) {
                    Ok(end) => self.emit(i, end, State::Labels, Tok::LValue),
                    Err(fail) => self.invalid(i, fail),
                },
                State::Value => match c {
                    b'{' => self.emit(i, i + 1, State::Labels, Tok::BraceOpen),
                    c if PROM_VALUE[c as usize] => {
                        let end = run(self.b, i + 1, &PROM_VALUE);
                        self.emit(i, end, State::Timestamp, Tok::Value)
                    }
                    _ => self.invalid(i, i),
                },
                State::Timestamp => match c {
                    b'0'..=b'9' => {
                        let end = run(self.b, i + 1, &DIGIT);
                        self.emit(i, end, State::Timestamp, Tok::Timestamp)
                    }
                    b'\n' => self.emit(i, i + 1, State::Init, Tok::Linebreak),
                    _ => self.invalid(i, i),
                },
                _ => self.invalid(i, i),
            };
        }
    }

    /// `#[ \t]+` then `HELP`/`TYPE`, or a comment running to the end of the line.
    fn lex_text_comment(&mut self, i: usize) -> Tok {
        if matches!(self.at(i + 1), Some(b' ' | b'\t')) {
            let k = run(self.b, i + 1, &WS);
            for (kw, tok) in [(&b"HELP"[..], Tok::Help), (b"TYPE", Tok::Type)] {
                if self.b[k..].starts_with(kw) && matches!(self.at(k + 4), Some(b' ' | b'\t')) {
                    let end = run(self.b, k + 4, &WS);
                    return self.emit(i, end, State::Meta1, tok);
                }
            }
            let end = self.line_end(k);
            return self.emit(i, end, State::Init, Tok::Comment);
        }
        // A bare `#` comment is read outside the comment state, where promlex does
        // not skip NUL bytes: one ends the input.
        let end = self.line_end(i + 1);
        if self.b[(i + 1).min(end)..end].contains(&0) {
            self.tok_end = self.vlen;
            return Tok::Eof;
        }
        self.emit(i, end, State::Init, Tok::Comment)
    }

    /// A metric name after HELP, TYPE or UNIT: bare or quoted (UTF-8 names).
    fn lex_meta1(&mut self, i: usize, c: u8) -> Tok {
        match c {
            b'"' => match self.scan_quoted(i, true, false) {
                Ok(end) => self.emit(i, end, State::Meta2, Tok::MName),
                Err(fail) => self.invalid(i, fail),
            },
            c if METRIC_START[c as usize] => {
                let end = run(self.b, i + 1, &METRIC_CHAR);
                self.emit(i, end, State::Meta2, Tok::MName)
            }
            _ => self.invalid(i, i),
        }
    }

    /// Inside a sample's braces. Quoted names may span lines in both grammars.
    fn lex_labels(&mut self, i: usize, c: u8, quoted_newline: bool) -> Tok {
        match c {
            c if LABEL_START[c as usize] => {
                let end = run(self.b, i + 1, &LABEL_CHAR);
                self.emit(i, end, State::Labels, Tok::LName)
            }
            b'"' => match self.scan_quoted(i, quoted_newline, false) {
                Ok(end) => self.emit(i, end, State::Labels, Tok::QString),
                Err(fail) => self.invalid(i, fail),
            },
            b'}' => self.emit(i, i + 1, State::Value, Tok::BraceClose),
            b'=' => self.emit(i, i + 1, State::LValue, Tok::Equal),
            b',' => self.emit(i, i + 1, State::Labels, Tok::Comma),
            _ => self.invalid(i, i),
        }
    }

    /// `{S}[^ \n]+`: OpenMetrics's single space and a non-empty field.
    fn lex_spaced(&mut self, i: usize, next: State, tok: Tok) -> Tok {
        let end = run(self.b, i + 1, &OM_VALUE);
        if end == i + 1 {
            return self.invalid(i, i + 1);
        }
        self.emit(i, end, next, tok)
    }

    fn lex_om(&mut self) -> Tok {
        let i = self.i;
        let Some(c) = self.at(i) else {
            self.tok_end = self.vlen;
            return Tok::Eof;
        };
        match self.state {
            State::Init => match c {
                b'#' if self.at(i + 1) == Some(b' ') => {
                    let k = i + 2;
                    let rest = &self.b[k..];
                    for (kw, tok) in [
                        (&b"HELP "[..], Tok::Help),
                        (b"TYPE ", Tok::Type),
                        (b"UNIT ", Tok::Unit),
                    ] {
                        if rest.starts_with(kw) {
                            return self.emit(i, k + 5, State::Meta1, tok);
                        }
                    }
                    if rest.starts_with(b"EOF") {
                        let end = k + 3 + usize::from(self.at(k + 3) == Some(b'\n'));
                        return self.emit(i, end, State::Init, Tok::EofWord);
                    }
                    // The DFA gets as far as the longest keyword prefix.
                    let got = [&b"HELP "[..], b"TYPE ", b"UNIT ", b"EOF"]
                        .iter()
                        .map(|kw| kw.iter().zip(rest).take_while(|(a, b)| a == b).count())
                        .max()
                        .unwrap_or(0);
                    self.invalid(i, k + got)
                }
                b'#' => self.invalid(i, i + 1),
                b'{' => self.emit(i, i + 1, State::Labels, Tok::BraceOpen),
                c if METRIC_START[c as usize] => {
                    let end = run(self.b, i + 1, &METRIC_CHAR);
                    self.emit(i, end, State::Value, Tok::MName)
                }
                _ => self.invalid(i, i),
            },
            State::Meta1 => self.lex_meta1(i, c),
            State::Meta2 => {
                // `{S}{C}*\n`: the text keeps its newline.
                if c != b' ' {
                    return self.invalid(i, i);
                }
                match self.b[i + 1..].iter().position(|&c| c == b'\n') {
                    Some(p) => self.emit(i, i + 1 + p + 1, State::Init, Tok::Text),
                    None => self.invalid(i, self.b.len()),
                }
            }
            State::Labels => self.lex_labels(i, c, true),
            State::LValue if c == b'"' => match self.scan_quoted(i, false, true) {
                Ok(end) => self.emit(i, end, State::Labels, Tok::LValue),
                Err(fail) => self.invalid(i, fail),
            },
            State::Value => match c {
                b'{' => self.emit(i, i + 1, State::Labels, Tok::BraceOpen),
                b' ' => self.lex_spaced(i, State::Timestamp, Tok::Value),
                _ => self.invalid(i, i),
            },
            State::Timestamp => match c {
                b'\n' => self.emit(i, i + 1, State::Init, Tok::Linebreak),
                // `{S}#{S}\{` is longer than the timestamp rule's ` #`, so it wins.
                b' ' if self.b[i + 1..].starts_with(b"# {") => {
                    self.emit(i, i + 4, State::Exemplar, Tok::Comment)
                }
                b' ' => self.lex_spaced(i, State::Timestamp, Tok::Timestamp),
                _ => self.invalid(i, i),
            },
            State::Exemplar => match c {
                c if LABEL_START[c as usize] => {
                    let end = run(self.b, i + 1, &LABEL_CHAR);
                    self.emit(i, end, State::Exemplar, Tok::LName)
                }
                b'"' => match self.scan_quoted(i, false, false) {
                    Ok(end) => self.emit(i, end, State::Exemplar, Tok::QString),
                    Err(fail) => self.invalid(i, fail),
                },
                b'}' => self.emit(i, i + 1, State::EValue, Tok::BraceClose),
                b'=' => self.emit(i, i + 1, State::EValue, Tok::Equal),
                b',' => self.emit(i, i + 1, State::Exemplar, Tok::Comma),
                _ => self.invalid(i, i),
            },
            State::EValue => match c {
                b'"' => match self.scan_quoted(i, false, false) {
                    Ok(end) => self.emit(i, end, State::Exemplar, Tok::LValue),
                    Err(fail) => self.invalid(i, fail),
                },
                b' ' => self.lex_spaced(i, State::ETimestamp, Tok::Value),
                _ => self.invalid(i, i),
            },
            State::ETimestamp => match c {
                b'\n' => self.emit(i, i + 1, State::Init, Tok::Linebreak),
                b' ' => self.lex_spaced(i, State::ETimestamp, Tok::Timestamp),
                _ => self.invalid(i, i),
            },
            State::LValue => self.invalid(i, i),
        }
    }
}

const WS: [bool; 256] = table!(|c| c == b' ' || c == b'\t');
const DIGIT: [bool; 256] = table!(|c| c.is_ascii_digit());

/// The labels of one sample or exemplar: where the text between the braces sits,
/// and a quoted metric name found inside them.
struct LabelSpan {
    open: usize,
    close: usize,
}

// The grammar: textparse's `Next`, `parseLVals` and `parseMetricSuffix` /
// `parseSeriesEndOfLine`, with the same checks in the same order.
impl<'a> Parser<'a> {
    /// textparse's `parseError`: the token (plus one byte of look-ahead) and the
    /// entry so far.
    fn parse_error(&self, exp: &str, got: Tok) -> String {
        let e = (self.tok_end + 1).min(self.vlen);
        format!(
            "{exp}, got {} ({}) while parsing: {}",
            go_quote_bytes(&self.vslice(self.tok_start, e)),
            go_quote_bytes(got.name().as_bytes()),
            go_quote_bytes(&self.vslice(self.start, e))
        )
    }

    /// The entry so far, for `… while parsing: "…"` messages.
    fn so_far(&self) -> String {
        go_quote_bytes(&self.vslice(self.start, self.i))
    }

    fn str_at(&self, from: usize, to: usize) -> Result<&'a str, String> {
        std::str::from_utf8(&self.b[from..to])
            .map_err(|_| format!("invalid UTF-8 name: {}", go_quote_bytes(&self.b[from..to])))
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, String> {
        loop {
            self.start = self.i;
            let t = self.next_token();
            match t {
                Tok::Eof if self.om => return Err("data does not end with # EOF".into()),
                Tok::Eof => return Ok(None),
                // Blank lines are allowed in the text format (OpenMetrics never
                // produces this token at the start of a line).
                Tok::Linebreak => continue,
                Tok::EofWord => {
                    if self.next_token() != Tok::Eof {
                        return Err("unexpected data after # EOF".into());
                    }
                    return Ok(Some(Entry::Eof));
                }
                Tok::Help | Tok::Type | Tok::Unit => return self.meta(t).map(Some),
                Tok::Comment => {
                    let text = &self.b[self.tok_start..self.tok_end];
                    let t2 = self.next_token();
                    if t2 != Tok::Linebreak {
                        return Err(self.parse_error("linebreak expected after comment", t2));
                    }
                    return Ok(Some(Entry::Comment(String::from_utf8_lossy(text))));
                }
                Tok::MName | Tok::BraceOpen => {
                    let sample = self.sample(t)?;
                    if self.opts.skip_created_series
                        && self.om
                        && matches!(
                            self.mtype,
                            MetricKind::Counter | MetricKind::Summary | MetricKind::Histogram
                        )
                        && sample.name.ends_with("_created")
                    {
                        continue;
                    }
                    return Ok(Some(Entry::Sample(sample)));
                }
                _ => return Err(self.parse_error("expected a valid start token", t)),
            }
        }
    }

    fn meta(&mut self, t: Tok) -> Result<Entry<'a>, String> {
        let t2 = self.next_token();
        if t2 != Tok::MName {
            return Err(self.parse_error(&format!("expected metric name after {}", t.name()), t2));
        }
        let (mut ms, mut me) = (self.tok_start, self.tok_end);
        if self.b[ms] == b'"' && me - ms >= 2 && self.b[me - 1] == b'"' {
            ms += 1;
            me -= 1;
        }
        let metric_raw = &self.b[ms..me];
        let metric = unescape(self.str_at(ms, me)?, false);
        let t3 = self.next_token();
        if t3 != Tok::Text {
            return Err(if self.om {
                format!("expected text in {}", t.name())
            } else {
                format!("expected text in {}, got {}", t.name(), t3.name())
            });
        }
        let buf = &self.b[self.tok_start..self.tok_end];
        let text: &'a [u8] = match (buf.len() > 1, self.om) {
            (false, _) => b"",
            (true, true) => &buf[1..buf.len() - 1],
            (true, false) => &buf[1..],
        };
        let entry = match t {
            Tok::Type => {
                let kind = match (text, self.om) {
                    (b"counter", _) => MetricKind::Counter,
                    (b"gauge", _) => MetricKind::Gauge,
                    (b"histogram", _) => MetricKind::Histogram,
                    (b"summary", _) => MetricKind::Summary,
                    (b"untyped", false) | (b"unknown", true) => MetricKind::Unknown,
                    (b"gaugehistogram", true) => MetricKind::GaugeHistogram,
                    (b"info", true) => MetricKind::Info,
                    (b"stateset", true) => MetricKind::StateSet,
                    _ => return Err(format!("invalid metric type {}", go_quote_bytes(text))),
                };
                if self.opts.strict_type_lines
                    && (self.family.as_deref() == Some(&*metric)
                        || self.last_sample == Some(metric_raw))
                {
                    return Err(format!(
                        "second TYPE line for metric name {}, or TYPE reported after samples",
                        go_quote_bytes(metric.as_bytes())
                    ));
                }
                self.family = Some(metric.clone());
                self.mtype = kind;
                Entry::Type { metric, kind }
            }
            Tok::Help => {
                let Ok(text) = std::str::from_utf8(text) else {
                    return Err(format!(
                        "help text {} is not a valid utf8 string",
                        go_quote_bytes(text)
                    ));
                };
                Entry::Help {
                    metric,
                    // OpenMetrics escapes HELP like label values; the text format
                    // has no `\"` there.
                    text: unescape(text, !self.om),
                }
            }
            _ => {
                let unit = std::str::from_utf8(text).unwrap_or("\u{fffd}");
                let m = &*metric;
                let unit_ok = unit.is_empty()
                    || (m.len() > unit.len()
                        && m.ends_with(unit)
                        && m.as_bytes()[m.len() - unit.len() - 1] == b'_');
                if !unit_ok {
                    return Err(format!(
                        "unit {} not a suffix of metric {}",
                        go_quote_bytes(text),
                        go_quote_bytes(m.as_bytes())
                    ));
                }
                Entry::Unit { metric, unit }
            }
        };
        if !self.om {
            let t4 = self.next_token();
            if t4 != Tok::Linebreak {
                return Err(self.parse_error("linebreak expected after metadata", t4));
            }
        }
        Ok(entry)
    }

    fn sample(&mut self, t: Tok) -> Result<SampleRef<'a>, String> {
        let mut name: Option<(usize, usize)> = None;
        let mut span = None;
        let mut t2 = t;
        if t == Tok::MName {
            name = Some((self.tok_start, self.tok_end));
            t2 = self.next_token();
        }
        if t2 == Tok::BraceOpen {
            span = Some(self.label_set(&mut name, false)?);
            t2 = self.next_token();
        }
        let Some((ns, ne)) = name else {
            return Err(format!(
                "metric name not set while parsing: {}",
                self.so_far()
            ));
        };
        let value = self.float_value(t2, "metric")?;
        let mut timestamp_ms = None;
        let mut exemplar = None;
        if self.om {
            match self.next_token() {
                Tok::Eof => return Err("data does not end with # EOF".into()),
                Tok::Linebreak => {}
                Tok::Comment => exemplar = Some(self.exemplar()?),
                Tok::Timestamp => {
                    timestamp_ms = Some(self.om_timestamp("invalid timestamp")?);
                    match self.next_token() {
                        Tok::Linebreak => {}
                        Tok::Comment => exemplar = Some(self.exemplar()?),
                        t3 => {
                            return Err(self.parse_error("expected next entry after timestamp", t3))
                        }
                    }
                }
                t3 => return Err(self.parse_error("expected timestamp or comment", t3)),
            }
        } else {
            match self.next_token() {
                Tok::Linebreak => {}
                Tok::Timestamp => {
                    let digits = &self.b[self.tok_start..self.tok_end];
                    let ts = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok());
                    let Some(ts) = ts else {
                        return Err(format!(
                            "strconv.ParseInt: parsing {}: value out of range while parsing: {}",
                            go_quote_bytes(digits),
                            self.so_far()
                        ));
                    };
                    timestamp_ms = Some(ts);
                    let t3 = self.next_token();
                    if t3 != Tok::Linebreak {
                        return Err(self.parse_error("expected next entry after timestamp", t3));
                    }
                }
                t3 => return Err(self.parse_error("expected timestamp or new record", t3)),
            }
        }

        let name_raw = &self.b[ns..ne];
        let name_str = self.str_at(ns, ne)?;
        let name = if t == Tok::MName {
            Cow::Borrowed(name_str)
        } else {
            unescape(name_str, false)
        };
        let labels = match span {
            Some(s) => LabelsRef {
                raw: self.str_at(s.open, s.close)?,
                normalize: match (self.om, self.mtype) {
                    (false, MetricKind::Histogram) => Normalize::Le,
                    (false, MetricKind::Summary) => Normalize::Quantile,
                    _ => Normalize::None,
                },
            },
            None => LabelsRef::EMPTY,
        };
        let kind = match &self.family {
            Some(f) if is_series_part_of_family(&name, f, self.mtype) => self.mtype,
            _ => MetricKind::Unknown,
        };
        self.last_sample = Some(name_raw);
        Ok(SampleRef {
            name,
            labels,
            value,
            timestamp_ms,
            kind,
            exemplar,
        })
    }

    /// A sample value (or exemplar value): Go's `ParseFloat` without the Go 1.13
    /// forms, NaN made canonical.
    fn float_value(&self, t: Tok, after: &str) -> Result<f64, String> {
        if t != Tok::Value {
            return Err(self.parse_error(&format!("expected value after {after}"), t));
        }
        let raw = &self.b[self.tok_start + usize::from(self.om)..self.tok_end];
        let v = self.prom_float(raw)?;
        Ok(if v.is_nan() {
            f64::from_bits(NORMAL_NAN_BITS)
        } else {
            v
        })
    }

    /// textparse's `parseFloat`: `p`, `P` and `_` (Go 1.13 forms) are refused first.
    fn prom_float(&self, raw: &[u8]) -> Result<f64, String> {
        if raw.iter().any(|c| matches!(c, b'p' | b'P' | b'_')) {
            return Err(format!(
                "unsupported character in float while parsing: {}",
                self.so_far()
            ));
        }
        let s = std::str::from_utf8(raw).unwrap_or("\u{fffd}");
        go_parse_float(s, false).map_err(|e| {
            format!(
                "strconv.ParseFloat: parsing {}: {e} while parsing: {}",
                go_quote_bytes(raw),
                self.so_far()
            )
        })
    }

    /// An OpenMetrics timestamp: float seconds, finite, to integer milliseconds.
    fn om_timestamp(&self, what: &str) -> Result<i64, String> {
        let ts = self.prom_float(&self.b[self.tok_start + 1..self.tok_end])?;
        if !ts.is_finite() {
            return Err(format!("{what} {}", go_float_f(ts)));
        }
        // Go's int64(ts*1000) truncates toward zero; `as` does too, and saturates
        // where Go's result is undefined.
        Ok((ts * 1000.0) as i64)
    }

    /// `# {labels} value [timestamp]` after a sample.
    fn exemplar(&mut self) -> Result<ExemplarRef<'a>, String> {
        let mut no_name = None;
        let span = self.label_set(&mut no_name, true)?;
        let t = self.next_token();
        let value = self.float_value(t, "exemplar labels")?;
        let mut timestamp_ms = None;
        match self.next_token() {
            Tok::Eof => return Err("data does not end with # EOF".into()),
            Tok::Linebreak => {}
            Tok::Timestamp => {
                timestamp_ms = Some(self.om_timestamp("invalid exemplar timestamp")?);
                let t3 = self.next_token();
                if t3 != Tok::Linebreak {
                    return Err(
                        self.parse_error("expected next entry after exemplar timestamp", t3)
                    );
                }
            }
            t2 => return Err(self.parse_error("expected timestamp or comment", t2)),
        }
        Ok(ExemplarRef {
            labels: LabelsRef {
                raw: self.str_at(span.open, span.close)?,
                normalize: Normalize::None,
            },
            value,
            timestamp_ms,
        })
    }

    /// The inside of `{…}`, the opening brace just read. A quoted string followed by
    /// `,` or `}` is the metric name (not allowed in exemplars). Label names must be
    /// unique, and `__name__` may not be given as a label (Prometheus rejects both,
    /// after parsing; here it is one step).
    fn label_set(
        &mut self,
        name: &mut Option<(usize, usize)>,
        exemplar: bool,
    ) -> Result<LabelSpan, String> {
        let open = self.i;
        self.names.clear();
        let mut t = self.next_token();
        loop {
            let (cs, ce) = (self.tok_start, self.tok_end);
            let quoted = match t {
                Tok::BraceClose => {
                    if self.names.len() > PAIRWISE_LIMIT && !exemplar {
                        self.check_unique_sorted()?;
                    }
                    return Ok(LabelSpan { open, close: cs });
                }
                Tok::LName => false,
                Tok::QString => true,
                _ => return Err(self.parse_error("expected label name", t)),
            };
            t = self.next_token();
            // textparse treats a bare name here as a metric name in OpenMetrics and
            // strips its first and last byte; we report the missing `=` instead.
            if exemplar && (t == Tok::Comma || t == Tok::BraceClose) {
                return Err(self.parse_error("expected label name", t));
            }
            if quoted && (t == Tok::Comma || t == Tok::BraceClose) {
                if name.is_some() {
                    return Err(format!(
                        "metric name already set while parsing: {}",
                        self.so_far()
                    ));
                }
                *name = Some((cs + 1, ce - 1));
                if t == Tok::BraceClose {
                    continue;
                }
                t = self.next_token();
                continue;
            }
            let (ns, ne) = if quoted { (cs + 1, ce - 1) } else { (cs, ce) };
            if t != Tok::Equal {
                return Err(self.parse_error("expected equal", t));
            }
            let t2 = self.next_token();
            if t2 != Tok::LValue {
                return Err(self.parse_error("expected label value", t2));
            }
            let value = &self.b[self.tok_start..self.tok_end];
            if std::str::from_utf8(value).is_err() {
                return Err(format!(
                    "invalid UTF-8 label value: {}",
                    go_quote_bytes(value)
                ));
            }
            let label = &self.b[ns..ne];
            if std::str::from_utf8(label).is_err() {
                return Err(format!(
                    "invalid UTF-8 label name: {}",
                    go_quote_bytes(label)
                ));
            }
            if !exemplar {
                if same_name(label, b"__name__") {
                    return Err(format!(
                        "duplicate label name \"__name__\" while parsing: {}",
                        self.so_far()
                    ));
                }
                if self.names.len() < PAIRWISE_LIMIT
                    && self
                        .names
                        .iter()
                        .any(|&(a, b)| same_name(&self.b[a..b], label))
                {
                    return Err(format!(
                        "duplicate label name {} while parsing: {}",
                        go_quote_bytes(unescape_bytes(label).as_bytes()),
                        self.so_far()
                    ));
                }
                self.names.push((ns, ne));
            }
            t = self.next_token();
            if t == Tok::Comma {
                t = self.next_token();
            } else if self.om && t != Tok::BraceClose {
                return Err(self.parse_error("expected comma or brace close", t));
            }
        }
    }

    /// The duplicate check for label sets too large to compare pairwise.
    fn check_unique_sorted(&self) -> Result<(), String> {
        let mut all: Vec<String> = self
            .names
            .iter()
            .map(|&(a, b)| unescape_bytes(&self.b[a..b]))
            .collect();
        all.sort_unstable();
        match all.windows(2).find(|w| w[0] == w[1]) {
            Some(w) => Err(format!(
                "duplicate label name {} while parsing: {}",
                go_quote_bytes(w[0].as_bytes()),
                self.so_far()
            )),
            None => Ok(()),
        }
    }

    /// The 1-based line holding byte `at`; counted only when an error is reported.
    fn line_of(&self, at: usize) -> usize {
        1 + self.b[..at.min(self.b.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
    }
}

/// Label sets up to this size are checked for duplicates pair by pair as they are
/// read; larger ones (rare, and quadratic otherwise) are sorted once at the end.
const PAIRWISE_LIMIT: usize = 32;

/// A label name's text with escapes undone (names are already valid UTF-8).
fn unescape_bytes(b: &[u8]) -> String {
    unescape(&String::from_utf8_lossy(b), false).into_owned()
}

/// Whether two raw label names are the same once unescaped.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a.contains(&b'\\') || b.contains(&b'\\') {
        unescape_bytes(a) == unescape_bytes(b)
    } else {
        a == b
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(format) = self.unsupported {
            self.done = true;
            return Some(Err(ParseError {
                line: 1,
                message: format!("{} bodies are not supported", format.media_type()),
            }));
        }
        match self.next_entry() {
            Ok(Some(entry)) => {
                self.done = entry == Entry::Eof;
                Some(Ok(entry))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(message) => {
                self.done = true;
                Some(Err(ParseError {
                    line: self.line_of(self.start),
                    message,
                }))
            }
        }
    }
}

impl std::iter::FusedIterator for Parser<'_> {}

/// Whether series `name` belongs to the family of a `# TYPE family kind` line, by
/// the suffixes each type's series carry (Prometheus's `isSeriesPartOfFamily`, plus
/// OpenMetrics's `_created`).
pub fn is_series_part_of_family(name: &str, family: &str, kind: MetricKind) -> bool {
    if !name.starts_with(family) {
        return false;
    }
    let cut = |suffixes: &[&str]| -> &str {
        suffixes
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name)
    };
    let (family, got) = match kind {
        MetricKind::Counter => (
            family.strip_suffix("_total").unwrap_or(family),
            cut(&["_total", "_created"]),
        ),
        MetricKind::Histogram => (family, cut(&["_bucket", "_sum", "_count", "_created"])),
        MetricKind::GaugeHistogram => (family, cut(&["_bucket", "_gsum", "_gcount"])),
        MetricKind::Summary => (family, cut(&["_sum", "_count", "_created"])),
        MetricKind::Info => (
            family.strip_suffix("_info").unwrap_or(family),
            cut(&["_info"]),
        ),
        _ => (family, name),
    };
    family == got
}

// ---------------------------------------------------------------------------------
// Go number and string formatting
// ---------------------------------------------------------------------------------

/// Why Go's `strconv.ParseFloat` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FloatError {
    Syntax,
    Range,
}

impl fmt::Display for FloatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FloatError::Syntax => "invalid syntax",
            FloatError::Range => "value out of range",
        })
    }
}

/// Go's `strconv.ParseFloat(s, 64)`: `inf`/`infinity` (signed) and `nan` in any
/// case, decimal with optional fraction and exponent, and with `hex` the `0x…p…`
/// form (without underscores). Overflow is an error, underflow is zero, as in Go.
fn go_parse_float(s: &str, hex: bool) -> Result<f64, FloatError> {
    let b = s.as_bytes();
    let (neg, body) = match b.first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" && body.len() == s.len() {
        return Ok(f64::NAN);
    }
    if hex && (lower.starts_with("0x")) {
        return go_parse_hex(&lower[2..]).map(|v| if neg { -v } else { v });
    }
    // The decimal grammar: digits with at most one dot (at least one digit), then
    // an optional exponent with at least one digit. Rust's parser accepts the same
    // strings and rounds the same way (correctly).
    let bb = body.as_bytes();
    let mut i = 0;
    let mut digits = false;
    let mut dot = false;
    while i < bb.len() {
        match bb[i] {
            b'0'..=b'9' => digits = true,
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if !digits {
        return Err(FloatError::Syntax);
    }
    if i < bb.len() && (bb[i] == b'e' || bb[i] == b'E') {
        i += 1;
        if i < bb.len() && (bb[i] == b'+' || bb[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < bb.len() && bb[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return Err(FloatError::Syntax);
        }
    }
    if i != bb.len() {
        return Err(FloatError::Syntax);
    }
    let v: f64 = s.parse().map_err(|_| FloatError::Syntax)?;
    if v.is_infinite() {
        return Err(FloatError::Range);
    }
    Ok(v)
}

/// The part after `0x` of a Go hex float; the `p` exponent is required.
fn go_parse_hex(s: &str) -> Result<f64, FloatError> {
    let (mant, exp) = s.split_once('p').ok_or(FloatError::Syntax)?;
    let exp: i32 = exp.parse().map_err(|_| FloatError::Syntax)?;
    let mut v = 0f64;
    let mut frac_digits = 0i32;
    let mut dot = false;
    let mut any = false;
    for c in mant.chars() {
        match c {
            '.' if !dot => dot = true,
            c => {
                let d = c.to_digit(16).ok_or(FloatError::Syntax)?;
                v = v * 16.0 + f64::from(d);
                any = true;
                if dot {
                    frac_digits += 1;
                }
            }
        }
    }
    if !any {
        return Err(FloatError::Syntax);
    }
    let v = v * 2f64.powi(exp.saturating_sub(frac_digits.saturating_mul(4)));
    if v.is_infinite() {
        return Err(FloatError::Range);
    }
    Ok(v)
}

/// Go's `%f` for the non-finite values in timestamp errors.
fn go_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:.6}")
    }
}

/// Prometheus's `formatOpenMetricsFloat`: Go's shortest `%g`, with `.0` added to
/// integers, and `NaN`, `+Inf`, `-Inf`.
pub fn format_openmetrics_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = go_format_g(v);
    if s.contains(['e', '.']) {
        s
    } else {
        s + ".0"
    }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` for finite `v`: the shortest digits
/// that round-trip, in `%e` form when the exponent is below -4 or at least 6 (Go
/// uses precision 6 for that decision when printing the shortest form).
fn go_format_g(v: f64) -> String {
    // Rust's `{:e}` yields the same shortest digits: `d[.ddd]e<exp>`.
    let e = format!("{:e}", v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let nd = digits.len() as i32;
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else {
        let dp = exp + 1;
        if dp <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-dp) as usize));
            out.push_str(&digits);
        } else if dp >= nd {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (dp - nd) as usize));
        } else {
            out.push_str(&digits[..dp as usize]);
            out.push('.');
            out.push_str(&digits[dp as usize..]);
        }
    }
    out
}

/// Go's `%q` of a byte string: valid UTF-8 quoted as `strconv.Quote` does, other
/// bytes as `\xNN`.
pub fn go_quote_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    for chunk in b.utf8_chunks() {
        let q = alloy_syntax::parser::go_quote(chunk.valid());
        out.push_str(&q[1..q.len() - 1]);
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
