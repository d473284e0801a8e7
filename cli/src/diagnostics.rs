//! Printing diagnostics for people: upstream's plain layout, miette's graphical report,
//! or upstream's one-line form, with colour only when stderr is a terminal.

use alloy_syntax::diag::{
    render, Diagnostic, IndexedSource, LineIndex, PlainReportHandler, RenderOptions,
    SourcedDiagnostic,
};
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

/// Whether stderr should get ANSI colour: it is a terminal and neither `NO_COLOR`
/// (<https://no-color.org>) nor `TERM=dumb` says otherwise.
pub fn stderr_wants_color() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    std::io::stderr().is_terminal() && !no_color
}

/// Makes `miette::Report`s print in `format`, so errors that reach miette look like the
/// diagnostics printed directly. The one-line form has no miette handler; plain stands
/// in for it.
pub fn install_miette_hook(format: DiagnosticsFormat, color: bool) {
    let _ = miette::set_hook(Box::new(move |_| match format {
        DiagnosticsFormat::Fancy => Box::new(miette::GraphicalReportHandler::new_themed(
            graphical_theme(color),
        )),
        DiagnosticsFormat::Plain | DiagnosticsFormat::Short => {
            Box::new(PlainReportHandler::new().with_color(color))
        }
    }));
}

fn graphical_theme(color: bool) -> miette::GraphicalTheme {
    if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    }
}

/// Renders diagnostics in one format, with colour decided once.
pub struct Printer {
    format: DiagnosticsFormat,
    color: bool,
}

impl Printer {
    pub fn new(format: DiagnosticsFormat, color: bool) -> Printer {
        Printer { format, color }
    }

    /// Writes `diags` to stderr in one piece (so lines of concurrent logs do not
    /// interleave with a diagnostic).
    pub fn eprint(&self, diags: &[Diagnostic], sources: &Sources) {
        use std::io::Write;
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(self.render(diags, sources).as_bytes());
        let _ = stderr.flush();
    }

    /// All of `diags` as one text, ending with a newline unless there are none.
    pub fn render(&self, diags: &[Diagnostic], sources: &Sources) -> String {
        match self.format {
            DiagnosticsFormat::Short => short(diags, sources),
            // The plain layout is drawn by our printer directly rather than through
            // `PlainReportHandler`: it is the same text, and it indexes each file once
            // instead of once per diagnostic.
            DiagnosticsFormat::Plain => render(
                diags,
                sources,
                RenderOptions {
                    color: self.color,
                    ..RenderOptions::default()
                },
            ),
            DiagnosticsFormat::Fancy => {
                let handler =
                    miette::GraphicalReportHandler::new_themed(graphical_theme(self.color));
                // Each file is indexed once and shared, so many diagnostics in a big
                // file do not each rescan it.
                let mut indexed: HashMap<&str, Arc<IndexedSource>> = HashMap::new();
                let mut out = String::new();
                for (i, d) in diags.iter().enumerate() {
                    if i > 0 {
                        // A blank line between reports, as in the plain layout.
                        out.push('\n');
                    }
                    let source = sources.get(&*d.file).map(|text| {
                        indexed
                            .entry(&d.file)
                            .or_insert_with(|| IndexedSource::new(&*d.file, text.clone()))
                            .clone()
                    });
                    let _ = match source {
                        Some(source) => handler.render_report(
                            &mut out,
                            &SourcedDiagnostic::with_source(d.clone(), source),
                        ),
                        None => handler.render_report(&mut out, d),
                    };
                }
                out
            }
        }
    }
}

/// One `FILE:LINE:COL: message` line per diagnostic, the form of upstream's
/// `Diagnostic.Error()`. Without the file's text there is no line and column, so
/// only the file name is shown.
fn short(diags: &[Diagnostic], sources: &Sources) -> String {
    let mut indexes: HashMap<&str, LineIndex> = HashMap::new();
    let mut out = String::new();
    for diag in diags {
        let line = match sources.get(&*diag.file) {
            Some(text) => diag.one_line(
                indexes
                    .entry(&diag.file)
                    .or_insert_with(|| LineIndex::new(text)),
            ),
            None if diag.file.is_empty() => format!("-: {}", diag.message),
            None => format!("{}: {}", diag.file, diag.message),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
