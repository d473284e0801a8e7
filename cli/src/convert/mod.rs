//! `ferroalloy convert`: turns a Prometheus or Grafana Agent (scraping-service instance)
//! YAML configuration into an equivalent Alloy configuration, as upstream's
//! `alloy convert` does.
//!
//! The source is read into a YAML tree with positions ([`yaml`]); each format's module
//! walks it with [`Fields`], which hands out the keys it knows and reports every key
//! left over as a diagnostic at the key's line and column, so nothing is dropped
//! silently. Components are collected as [`Block`]s, rendered to Alloy text and run
//! through our parser and formatter, so the output is always canonically formatted.

mod agent;
mod pipeline;
mod prometheus;
pub mod yaml;

use crate::diagnostics::{stderr_wants_color, DiagnosticsFormat, Printer, Sources};
use alloy_syntax::diag::LineIndex;
use alloy_syntax::{Diagnostic, Severity, Span};
use anyhow::{anyhow, bail, Result};
use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use yaml::{Kind, Node};

/// The formats `convert` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceFormat {
    /// A Prometheus server configuration (`prometheus.yml`).
    Prometheus,
    /// Grafana Agent scraping-service instance configurations (or a static-mode
    /// file's `metrics.configs`).
    Agent,
}

/// Long help of `convert`.
pub const LONG_ABOUT: &str = "\
The convert subcommand translates a supported config file to an Alloy configuration file.

If the file argument is not supplied or if the file argument is \"-\", then convert will \
read from stdin.

The -o flag can be used to write the formatted Alloy config to disk. When -o is not \
provided, convert will write the result to stdout.

The -r flag can be used to generate a diagnostic report.

The -b flag can be used to bypass errors. Errors are defined as non-critical issues \
identified during the conversion where an output can still be generated.";

/// Flags and arguments of `convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// The file to convert; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,

    /// The format of the source file.
    #[arg(short = 'f', long = "source-format", value_enum)]
    source_format: SourceFormat,

    /// The filepath and filename where the output is written.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,

    /// The filepath and filename where the report is written.
    #[arg(short = 'r', long = "report", value_name = "FILE")]
    report: Option<PathBuf>,

    /// Enable bypassing errors when converting.
    #[arg(short = 'b', long = "bypass-errors")]
    bypass_errors: bool,
}

/// Runs `convert`: prints the diagnostics, writes the report if asked, and writes the
/// Alloy text unless an error was found and `--bypass-errors` is not set.
pub fn run(args: &ConvertArgs, format: Option<DiagnosticsFormat>) -> Result<()> {
    let (name, text) = match args.file.as_deref() {
        None => read_stdin()?,
        Some(p) if p.as_os_str() == "-" => read_stdin()?,
        Some(p) => {
            let shown = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| anyhow!("read {shown}: {e}"))?;
            (shown, text)
        }
    };
    let converted = convert(args.source_format, &name, &text);
    let sources: Sources = [(name.clone(), Arc::<str>::from(text.as_str()))]
        .into_iter()
        .collect();
    let printer = Printer::new(
        format.unwrap_or(DiagnosticsFormat::Plain),
        stderr_wants_color(),
    );
    printer.eprint(&converted.diags, &sources);
    if let Some(report) = &args.report {
        std::fs::write(report, report_text(&converted.diags, &text))
            .map_err(|e| anyhow!("write {}: {e}", report.display()))?;
    }
    let errors = converted.diags.iter().filter(|d| d.is_error()).count();
    let Some(alloy) = converted.alloy else {
        bail!("conversion failed: {name} could not be read");
    };
    if errors > 0 && !args.bypass_errors {
        bail!("conversion found {errors} error(s); fix them or pass --bypass-errors to write the output anyway");
    }
    match &args.output {
        Some(path) => std::fs::write(path, alloy.as_bytes())
            .map_err(|e| anyhow!("write {}: {e}", path.display()))?,
        None => print!("{alloy}"),
    }
    Ok(())
}

fn read_stdin() -> Result<(String, String)> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| anyhow!("read /dev/stdin: {e}"))?;
    Ok(("<stdin>".to_string(), text))
}

/// The report file: one `(Severity) LINE:COL: message` line per diagnostic, upstream's
/// `(Error) message` form with the position added.
pub fn report_text(diags: &[Diagnostic], text: &str) -> String {
    let index = LineIndex::new(text);
    let mut out = String::new();
    for d in diags {
        let (line, col) = index.line_col(d.span.start);
        let _ = writeln!(out, "({}) {line}:{col}: {}", d.severity, d.message);
    }
    out
}

/// What a conversion produced: the formatted Alloy text (`None` when the source could
/// not be read at all) and every diagnostic, in source order.
#[derive(Debug)]
pub struct Converted {
    pub alloy: Option<String>,
    pub diags: Vec<Diagnostic>,
}

/// Converts `text` (named `name` in diagnostics) from `format` to Alloy.
pub fn convert(format: SourceFormat, name: &str, text: &str) -> Converted {
    let mut ctx = Ctx::new(name);
    let docs = match yaml::parse(text) {
        Ok(docs) => docs,
        Err(err) => {
            ctx.error(err.offset, format!("cannot parse YAML: {}", err.message));
            return Converted {
                alloy: None,
                diags: ctx.diags,
            };
        }
    };
    let mut out = pipeline::Pipeline::default();
    match format {
        SourceFormat::Prometheus => prometheus::convert(&mut ctx, &docs, &mut out),
        SourceFormat::Agent => agent::convert(&mut ctx, &docs, &mut out),
    }
    let alloy = match render_formatted(&out.into_blocks()) {
        Ok(alloy) => Some(alloy),
        Err(message) => {
            ctx.error(0, message);
            None
        }
    };
    ctx.diags.sort_by_key(|d| d.span.start);
    Converted {
        alloy,
        diags: ctx.diags,
    }
}

/// Collects diagnostics for one source file.
pub struct Ctx {
    file: Arc<str>,
    pub diags: Vec<Diagnostic>,
}

impl Ctx {
    pub fn new(name: &str) -> Ctx {
        Ctx {
            file: name.into(),
            diags: Vec::new(),
        }
    }

    pub fn error(&mut self, offset: u32, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(
            "alloy::convert::error",
            &self.file,
            Span::point(offset),
            message,
        ));
    }

    pub fn warn(&mut self, offset: u32, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(
            "alloy::convert::warning",
            &self.file,
            Span::point(offset),
            message,
        ));
    }

    /// Upstream's wording for anything the converter cannot express.
    pub fn unsupported(&mut self, offset: u32, what: &str) {
        self.error(
            offset,
            format!("The converter does not support converting the provided {what} config."),
        );
    }

    /// A string scalar (YAML numbers and booleans read as their text, as Go's YAML
    /// does for string fields).
    pub fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar(s, _) => Some(s.clone()),
            _ => {
                self.error(
                    node.offset,
                    format!("{key}: expected a string, got {}", node.shape()),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, key: &str) -> Option<bool> {
        match node.scalar() {
            Some("true" | "True" | "TRUE") => Some(true),
            Some("false" | "False" | "FALSE") => Some(false),
            _ => {
                self.error(node.offset, format!("{key}: expected a boolean"));
                None
            }
        }
    }

    pub fn uint(&mut self, node: &Node, key: &str) -> Option<u64> {
        match node.scalar().and_then(|s| s.parse().ok()) {
            Some(n) => Some(n),
            None => {
                self.error(node.offset, format!("{key}: expected an unsigned integer"));
                None
            }
        }
    }

    /// A Prometheus duration (`1h30m`, `5d`, `250ms`), in nanoseconds.
    pub fn duration(&mut self, node: &Node, key: &str) -> Option<i64> {
        let text = node.scalar().unwrap_or("");
        match parse_prometheus_duration(text) {
            Some(n) => Some(n),
            None => {
                self.error(
                    node.offset,
                    format!("{key}: not a valid duration string: {text:?}"),
                );
                None
            }
        }
    }

    pub fn string_list(&mut self, node: &Node, key: &str) -> Option<Vec<String>> {
        match &node.kind {
            Kind::Seq(items) => items.iter().map(|i| self.string(i, key)).collect(),
            _ => {
                self.error(
                    node.offset,
                    format!("{key}: expected a sequence, got {}", node.shape()),
                );
                None
            }
        }
    }

    /// A mapping of strings, in source order.
    pub fn string_map(&mut self, node: &Node, key: &str) -> Option<Vec<(String, String)>> {
        match &node.kind {
            Kind::Map(entries) => entries
                .iter()
                .map(|(k, v)| Some((self.string(k, key)?, self.string(v, key)?)))
                .collect(),
            _ => {
                self.error(
                    node.offset,
                    format!("{key}: expected a mapping, got {}", node.shape()),
                );
                None
            }
        }
    }

    /// A mapping of string lists (`params`, `proxy_connect_header`).
    pub fn list_map(&mut self, node: &Node, key: &str) -> Option<Vec<(String, Vec<String>)>> {
        match &node.kind {
            Kind::Map(entries) => entries
                .iter()
                .map(|(k, v)| Some((self.string(k, key)?, self.string_list(v, key)?)))
                .collect(),
            _ => {
                self.error(
                    node.offset,
                    format!("{key}: expected a mapping, got {}", node.shape()),
                );
                None
            }
        }
    }

    /// The items of a sequence (null reads as empty).
    pub fn seq<'n>(&mut self, node: &'n Node, key: &str) -> &'n [Node] {
        match &node.kind {
            Kind::Seq(items) => items,
            _ if node.is_null() => &[],
            _ => {
                self.error(
                    node.offset,
                    format!("{key}: expected a sequence, got {}", node.shape()),
                );
                &[]
            }
        }
    }
}

/// The keys of one YAML mapping, handed out by name. Whatever is not asked for is
/// reported by [`Fields::finish`] as unsupported, naming `section` and the key.
pub struct Fields<'n> {
    section: String,
    entries: &'n [(Node, Node)],
    used: Vec<bool>,
    pub offset: u32,
}

impl<'n> Fields<'n> {
    /// The fields of `node`, or `None` (after an error) when it is not a mapping.
    /// Null reads as an empty mapping.
    pub fn new(ctx: &mut Ctx, node: &'n Node, section: &str) -> Option<Fields<'n>> {
        let entries: &'n [(Node, Node)] = match &node.kind {
            Kind::Map(entries) => entries,
            _ if node.is_null() => &[],
            _ => {
                let what = if section.is_empty() {
                    "the configuration"
                } else {
                    section
                };
                ctx.error(
                    node.offset,
                    format!("{what}: expected a mapping, got {}", node.shape()),
                );
                return None;
            }
        };
        Some(Fields {
            section: section.to_string(),
            entries,
            used: vec![false; entries.len()],
            offset: node.offset,
        })
    }

    /// The value of `key`, marked as handled; a null value counts as absent.
    pub fn get(&mut self, key: &str) -> Option<&'n Node> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| k.scalar() == Some(key))?;
        self.used[i] = true;
        let value = &self.entries[i].1;
        (!value.is_null()).then_some(value)
    }

    /// The offset of `key` itself (diagnostics about a setting point at its key).
    pub fn key_offset(&self, key: &str) -> u32 {
        self.entries
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map_or(self.offset, |(k, _)| k.offset)
    }

    /// Reports every key not asked for as unsupported.
    pub fn finish(self, ctx: &mut Ctx) {
        for ((key, _), used) in self.entries.iter().zip(self.used) {
            if !used {
                let what = format!("{} {}", self.section, key.scalar().unwrap_or("?"));
                ctx.unsupported(key.offset, what.trim());
            }
        }
    }
}

/// Parses a Prometheus `model.Duration`: one or more `<number><unit>` with units
/// `y`, `w`, `d`, `h`, `m`, `s`, `ms` in that order, or `0`.
pub fn parse_prometheus_duration(text: &str) -> Option<i64> {
    if text == "0" {
        return Some(0);
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000_000_000),
        ("w", 7 * 24 * 3_600_000_000_000),
        ("d", 24 * 3_600_000_000_000),
        ("h", 3_600_000_000_000),
        ("ms", 1_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
    ];
    let mut rest = text;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total = total.checked_add(n.checked_mul(*scale)?)?;
    }
    Some(total)
}

/// One Alloy block being built: `name "label" { body }`.
#[derive(Debug, Clone)]
pub struct Block {
    pub name: String,
    pub label: Option<String>,
    pub body: Vec<Item>,
}

/// A statement in a block body; attribute values are Alloy expression text.
#[derive(Debug, Clone)]
pub enum Item {
    Attr(String, String),
    Block(Block),
}

impl Block {
    pub fn new(name: &str, label: Option<&str>) -> Block {
        Block {
            name: name.to_string(),
            label: label.map(str::to_string),
            body: Vec::new(),
        }
    }

    pub fn attr(&mut self, name: &str, expr: impl Into<String>) {
        self.body.push(Item::Attr(name.to_string(), expr.into()));
    }

    pub fn block(&mut self, block: Block) {
        self.body.push(Item::Block(block));
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = "\t".repeat(depth);
        out.push_str(&indent);
        out.push_str(&self.name);
        if let Some(label) = &self.label {
            let _ = write!(out, " {}", quote(label));
        }
        out.push_str(" {\n");
        for (i, item) in self.body.iter().enumerate() {
            match item {
                Item::Attr(name, expr) => {
                    let _ = writeln!(out, "{indent}\t{name} = {expr}");
                }
                Item::Block(block) => {
                    // Upstream's converter puts a blank line before every nested block
                    // that follows something; the formatter keeps it.
                    if i > 0 {
                        out.push('\n');
                    }
                    block.write(out, depth + 1);
                }
            }
        }
        out.push_str(&indent);
        out.push_str("}\n");
    }
}

/// Renders top-level blocks, separated by blank lines, and formats the text with our
/// formatter. A parse failure here is a converter bug, reported as such.
pub fn render_formatted(blocks: &[Block]) -> Result<String, String> {
    let mut text = String::new();
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        block.write(&mut text, 0);
    }
    let parsed = alloy_syntax::parse_file("converted.alloy", &text);
    if let Some(d) = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
    {
        return Err(format!(
            "internal error: the converted configuration does not parse ({}):\n{text}",
            d.message
        ));
    }
    let mut formatted = alloy_syntax::printer::format_file(&parsed.file, &text);
    if !formatted.is_empty() {
        formatted.push('\n');
    }
    Ok(formatted)
}

/// An Alloy string literal: a raw (backquoted) string when that reads better, as
/// upstream's converter prints regular expressions with backslashes.
pub fn quote(s: &str) -> String {
    alloy_syntax::parser::go_quote(s)
}

/// A string literal for a regular expression: backquoted when it holds backslashes or
/// quotes (and no backquote), so it reads as written in the YAML.
pub fn quote_regex(s: &str) -> String {
    if (s.contains('\\') || s.contains('"')) && !s.contains('`') && !s.contains('\n') {
        format!("`{s}`")
    } else {
        quote(s)
    }
}

/// `["a", "b"]`.
pub fn string_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// An object literal with one `key = value` line per entry, keys quoted where they
/// are not identifiers.
pub fn object(entries: &[(String, String)]) -> String {
    let mut out = String::from("{\n");
    for (k, v) in entries {
        let _ = writeln!(out, "{} = {v},", object_key(k));
    }
    out.push('}');
    out
}

fn object_key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A component label from a job or instance name: characters that cannot appear in
/// an identifier become `_`, and a leading digit gets a `_` in front (upstream's
/// SanitizeIdentifier).
pub fn sanitize_label(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        assert_eq!(parse_prometheus_duration("15s"), Some(15_000_000_000));
        assert_eq!(parse_prometheus_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_prometheus_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_prometheus_duration("1d"), Some(86_400_000_000_000));
        assert_eq!(parse_prometheus_duration("0"), Some(0));
        assert_eq!(parse_prometheus_duration("1.5s"), None);
        assert_eq!(parse_prometheus_duration("s"), None);
        assert_eq!(parse_prometheus_duration(""), None);
    }

    #[test]
    fn labels_are_identifiers() {
        assert_eq!(sanitize_label("prometheus-1"), "prometheus_1");
        assert_eq!(sanitize_label("1st.job"), "_1st_job");
        assert_eq!(sanitize_label("node"), "node");
    }

    #[test]
    fn a_document_that_is_not_a_mapping_is_an_error() {
        let out = convert(SourceFormat::Prometheus, "x.yaml", "- a\n- b\n");
        assert_eq!(out.diags.len(), 1, "{:?}", out.diags);
        assert_eq!(
            out.diags[0].message,
            "the configuration: expected a mapping, got a sequence"
        );
        // Output is still produced (for --bypass-errors), and it is formatted.
        assert!(out.alloy.is_some());
    }

    #[test]
    fn regexes_read_as_written() {
        assert_eq!(quote_regex("(.*)"), "\"(.*)\"");
        assert_eq!(quote_regex(r"(\d+)"), r"`(\d+)`");
    }
}
