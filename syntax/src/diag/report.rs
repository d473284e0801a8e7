//! The bridge to miette: a diagnostic bundled with its file's text, and a
//! [`miette::ReportHandler`] that draws any miette diagnostic in upstream's plain layout.
//!
//! The CLI picks the handler: [`PlainReportHandler`] by default (what upstream prints),
//! miette's `GraphicalReportHandler` for `--diagnostics.format=fancy`. Whether colour is
//! wanted is decided by the caller, because only it knows where the text goes.

use super::render::{render_one, RenderOptions, SourceFile};
use super::{Diagnostic, LineIndex, Severity, Span};
use std::fmt;
use std::sync::Arc;

/// A file's name and text with its line index, shared by every diagnostic pointing into
/// it. Reading a span for miette costs time in proportion to the lines shown, not to how
/// far into the file the span is, so a thousand diagnostics in a big file stay cheap.
#[derive(Debug)]
pub struct IndexedSource {
    name: String,
    text: Arc<str>,
    index: LineIndex,
}

impl IndexedSource {
    pub fn new(name: impl Into<String>, text: Arc<str>) -> Arc<IndexedSource> {
        let index = LineIndex::new(&text);
        Arc::new(IndexedSource {
            name: name.into(),
            text,
            index,
        })
    }

    /// Byte offset where 1-based `line` starts.
    fn line_start(&self, line: usize) -> usize {
        self.index
            .line_range(line)
            .map_or(self.text.len(), |range| range.start)
    }
}

impl miette::SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        // Let miette's own reader work on a suffix of the text that starts one line
        // more than `context_lines_before` above the span, then put the offsets and line
        // numbers back in terms of the whole text. The extra line matters: for an empty
        // span at a line start, miette's reader stops at the newline before it.
        let offset = span.offset().min(self.text.len());
        let line = self.index.line(u32::try_from(offset).unwrap_or(u32::MAX)) as usize;
        let first_line = line
            .saturating_sub(context_lines_before.saturating_add(1))
            .max(1);
        let window_start = self.line_start(first_line);
        let window = self.text.get(window_start..).unwrap_or_default();
        let shifted = miette::SourceSpan::new((span.offset() - window_start).into(), span.len());
        let inner = window.read_span(&shifted, context_lines_before, context_lines_after)?;
        let lines_above = first_line - 1;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            miette::SourceSpan::new(
                (inner.span().offset() + window_start).into(),
                inner.span().len(),
            ),
            inner.line() + lines_above,
            inner.column(),
            inner.line_count() + lines_above,
        )))
    }
}

/// One [`Diagnostic`] together with the text of the file it points into, so that miette
/// handlers can show the source around it.
#[derive(Debug, Clone)]
pub struct SourcedDiagnostic {
    pub diag: Diagnostic,
    source: Arc<IndexedSource>,
}

impl SourcedDiagnostic {
    /// Bundles `diag` with `text`, the contents of `diag.file`. When several
    /// diagnostics share a file, [`SourcedDiagnostic::with_source`] indexes it once.
    pub fn new(diag: Diagnostic, text: Arc<str>) -> SourcedDiagnostic {
        let source = IndexedSource::new(&*diag.file, text);
        SourcedDiagnostic { diag, source }
    }

    /// Bundles `diag` with the already indexed text of its file.
    pub fn with_source(diag: Diagnostic, source: Arc<IndexedSource>) -> SourcedDiagnostic {
        SourcedDiagnostic { diag, source }
    }
}

impl fmt::Display for SourcedDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.diag, f)
    }
}

impl std::error::Error for SourcedDiagnostic {}

impl miette::Diagnostic for SourcedDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::code(&self.diag)
    }

    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(&self.diag)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        miette::Diagnostic::labels(&self.diag)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&*self.source)
    }
}

/// Draws miette diagnostics in upstream's plain layout (LANGUAGE.md §8): the header,
/// and the source lines under it when the diagnostic carries its source and a label.
/// There is no trailing blank line; callers separate consecutive reports with one.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainReportHandler {
    options: RenderOptions,
}

impl PlainReportHandler {
    /// A handler with upstream's defaults: one line of context, no colour.
    pub fn new() -> PlainReportHandler {
        PlainReportHandler::default()
    }

    /// Turns ANSI colour in headers on or off.
    pub fn with_color(mut self, color: bool) -> PlainReportHandler {
        self.options.color = color;
        self
    }

    /// Renders `diagnostic` into `out`.
    pub fn render_report(
        &self,
        out: &mut impl fmt::Write,
        diagnostic: &dyn miette::Diagnostic,
    ) -> fmt::Result {
        let severity = match diagnostic.severity() {
            Some(miette::Severity::Warning) | Some(miette::Severity::Advice) => Severity::Warning,
            Some(miette::Severity::Error) | None => Severity::Error,
        };
        let message = diagnostic.to_string();
        let label = diagnostic.labels().and_then(|mut labels| labels.next());
        let located = label
            .zip(diagnostic.source_code())
            .and_then(|(label, code)| {
                // A zero-width read with unbounded trailing context yields the whole text
                // together with the source's name.
                let whole = code
                    .read_span(&miette::SourceSpan::from((0, 0)), 0, usize::MAX)
                    .ok()?;
                let text = std::str::from_utf8(whole.data()).ok()?.to_string();
                let name = whole.name().unwrap_or_default().to_string();
                Some((label, name, text))
            });
        let mut buf = String::new();
        match located {
            Some((label, name, text)) => {
                let start = u32::try_from(label.offset()).unwrap_or(u32::MAX);
                let end = u32::try_from(label.offset() + label.len()).unwrap_or(u32::MAX);
                let diag = Diagnostic {
                    severity,
                    code: "",
                    message,
                    file: Arc::from(name),
                    span: Span::new(start, end),
                    value: None,
                };
                let index = LineIndex::new(&text);
                let file = SourceFile {
                    text: &text,
                    index: &index,
                };
                render_one(&mut buf, &diag, Some(file), self.options);
            }
            // Nothing to point at: only the header, without a position.
            None => {
                let word = match severity {
                    Severity::Error => "Error",
                    Severity::Warning => "Warning",
                };
                buf = format!("{word}: {message}\n");
            }
        }
        out.write_str(&buf)
    }
}

impl miette::ReportHandler for PlainReportHandler {
    fn debug(
        &self,
        diagnostic: &dyn miette::Diagnostic,
        f: &mut fmt::Formatter<'_>,
    ) -> fmt::Result {
        if f.alternate() {
            return fmt::Debug::fmt(diagnostic, f);
        }
        self.render_report(f, diagnostic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::render_plain;
    use std::collections::HashMap;

    #[test]
    fn handler_matches_render_plain() {
        let src = "a = 1\nb = \"x\" +\n  2\n";
        let file: Arc<str> = Arc::from("main.alloy");
        let diag = Diagnostic::error("test", &file, Span::new(10, 20), "multi-line problem");
        let sources: HashMap<String, String> = [("main.alloy".to_string(), src.to_string())].into();
        let want = render_plain(std::slice::from_ref(&diag), &sources);
        let mut got = String::new();
        PlainReportHandler::new()
            .render_report(&mut got, &SourcedDiagnostic::new(diag, Arc::from(src)))
            .expect("writing to a String");
        assert_eq!(got, want);
    }

    #[test]
    fn handler_without_source_prints_the_header() {
        let file: Arc<str> = Arc::from("main.alloy");
        let diag = Diagnostic::warning("test", &file, Span::new(0, 1), "just so you know");
        let mut got = String::new();
        PlainReportHandler::new()
            .render_report(&mut got, &diag)
            .expect("writing to a String");
        assert_eq!(got, "Warning: just so you know\n");
    }

    #[test]
    fn works_as_a_miette_report_hook_handler() {
        let src = "x = ]\n";
        let file: Arc<str> = Arc::from("f.alloy");
        let diag = Diagnostic::error("test", &file, Span::new(4, 5), "unexpected ]");
        let report = miette::Report::new(SourcedDiagnostic::new(diag, Arc::from(src)));
        struct Show<'a>(&'a miette::Report);
        impl fmt::Display for Show<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                miette::ReportHandler::debug(&PlainReportHandler::new(), self.0.as_ref(), f)
            }
        }
        assert_eq!(
            Show(&report).to_string(),
            "Error: f.alloy:1:5: unexpected ]\n\n1 | x = ]\n  |     ^\n2 | \n"
        );
    }

    #[test]
    fn indexed_source_reads_like_the_whole_text() {
        // CRLF files count lines like LF ones; a lone `\r` is the one thing miette
        // counts as a line break and the index does not, so it is left out here.
        for text in ["one\ntwo\nthree é\nfour\n\nsix\n", "a\r\n\r\nb = 1\r\nc"] {
            check_against_whole_text(text);
        }
    }

    fn check_against_whole_text(text: &str) {
        use miette::SourceCode;
        let indexed = IndexedSource::new("f", Arc::from(text));
        for offset in 0..=text.len() {
            if !text.is_char_boundary(offset) {
                continue;
            }
            for len in [0, 1, 5] {
                let len = len.min(text.len() - offset);
                let span = miette::SourceSpan::new(offset.into(), len);
                for (before, after) in [(0, 0), (1, 1), (2, 3)] {
                    let want = text.read_span(&span, before, after).expect("in bounds");
                    let got = indexed.read_span(&span, before, after).expect("in bounds");
                    let what = format!("offset {offset} len {len} context {before}/{after}");
                    assert_eq!(got.data(), want.data(), "{what}");
                    assert_eq!(got.span(), want.span(), "{what}");
                    assert_eq!(got.line(), want.line(), "{what}");
                    assert_eq!(got.column(), want.column(), "{what}");
                    assert_eq!(got.line_count(), want.line_count(), "{what}");
                    assert_eq!(got.name(), Some("f"));
                }
            }
        }
    }
}
