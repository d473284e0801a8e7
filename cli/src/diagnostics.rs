//! Printing diagnostics for people: upstream's plain layout, miette's graphical report,
//! or upstream's one-line form, with colour only when stderr is a terminal.

use alloy_syntax::diag::{Diagnostic, LineIndex, PlainReportHandler, SourcedDiagnostic};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;

/// The values of `--diagnostics.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiagnosticsFormat {
    /// Upstream's layout: header, source lines and carets (what `alloy validate` prints).
    Plain,
    /// miette's graphical report.
    Fancy,
    /// One `FILE:LINE:COL: message` line per diagnostic (what `alloy fmt` prints).
    Short,
}

/// The texts of the files diagnostics point into, by file name.
pub type Sources = HashMap<String, Arc<str>>;

/// Renders diagnostics in one format, deciding colour once.
pub struct Printer {
    format: DiagnosticsFormat,
    color: bool,
}

impl Printer {
    /// A printer for `format`, coloured when stderr is a terminal and `NO_COLOR` is not
    /// set (<https://no-color.org>).
    pub fn for_stderr(format: DiagnosticsFormat) -> Printer {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Printer {
            format,
            color: std::io::stderr().is_terminal() && !no_color,
        }
    }

    /// All of `diags` as one text, ending with a newline unless there are none.
    pub fn render(&self, diags: &[Diagnostic], sources: &Sources) -> String {
        match self.format {
            DiagnosticsFormat::Short => diags
                .iter()
                .map(|d| short(d, sources.get(&*d.file)) + "\n")
                .collect(),
            DiagnosticsFormat::Plain => {
                let handler = PlainReportHandler::new().with_color(self.color);
                let reports: Vec<String> = diags
                    .iter()
                    .map(|d| {
                        let mut out = String::new();
                        let _ = match sources.get(&*d.file) {
                            Some(text) => handler.render_report(
                                &mut out,
                                &SourcedDiagnostic::new(d.clone(), text.clone()),
                            ),
                            None => handler.render_report(&mut out, d),
                        };
                        out
                    })
                    .collect();
                // Upstream separates consecutive diagnostics with a blank line.
                reports.join("\n")
            }
            DiagnosticsFormat::Fancy => {
                let theme = if self.color {
                    miette::GraphicalTheme::unicode()
                } else {
                    miette::GraphicalTheme::unicode_nocolor()
                };
                let handler = miette::GraphicalReportHandler::new_themed(theme);
                diags
                    .iter()
                    .map(|d| {
                        let mut out = String::new();
                        let _ = match sources.get(&*d.file) {
                            Some(text) => handler.render_report(
                                &mut out,
                                &SourcedDiagnostic::new(d.clone(), text.clone()),
                            ),
                            None => handler.render_report(&mut out, d),
                        };
                        out
                    })
                    .collect()
            }
        }
    }
}

/// `FILE:LINE:COL: message`, the form of upstream's `Diagnostic.Error()`. Without the
/// file's text there is no line and column, so only the file name is shown.
fn short(diag: &Diagnostic, text: Option<&Arc<str>>) -> String {
    match text {
        Some(text) => diag.one_line(&LineIndex::new(text)),
        None if diag.file.is_empty() => format!("-: {}", diag.message),
        None => format!("{}: {}", diag.file, diag.message),
    }
}
