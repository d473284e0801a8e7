//! Diagnostics: spans, positions, severities, and the upstream-compatible plain printer.
//!
//! A [`Diagnostic`] is plain data: a severity, a message and a byte span in one named
//! file. Turning it into text is done at the edge, either by [`render_plain`] (the layout
//! `alloy validate` prints, byte for byte) or by miette's graphical handler, through the
//! [`miette::Diagnostic`] implementation below.

use std::fmt;
use std::sync::Arc;

/// A byte range `start..end` into one source text. `end` is exclusive; an empty span
/// marks a point (upstream's "no end position").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub const fn new(start: u32, end: u32) -> Span {
        Span { start, end }
    }

    /// A zero-width span at `offset`.
    pub const fn point(offset: u32) -> Span {
        Span {
            start: offset,
            end: offset,
        }
    }

    pub fn len(self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Line starts of one text, for turning byte offsets into 1-based line and column.
/// Columns are counted in bytes, as upstream does.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<u32>,
    len: u32,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i as u32 + 1));
        LineIndex {
            starts,
            len: text.len() as u32,
        }
    }

    /// 1-based line and byte column of `offset`. Offsets past the end clamp to the end.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let offset = offset.min(self.len);
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        (line as u32 + 1, offset - self.starts[line] + 1)
    }

    /// 1-based line of `offset`.
    pub fn line(&self, offset: u32) -> u32 {
        self.line_col(offset).0
    }

    /// Byte offset of 1-based `line` and `col`; used by tests that give positions as text.
    pub fn offset(&self, line: u32, col: u32) -> u32 {
        let start = self
            .starts
            .get(line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or(self.len);
        (start + col.saturating_sub(1)).min(self.len)
    }

    /// Number of lines, counting the empty line after a final newline, as splitting
    /// the text on `\n` does.
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// Byte range of 1-based `line`, without its `\n`; `None` past the last line.
    pub fn line_range(&self, line: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.starts.get(line.checked_sub(1)?)? as usize;
        let end = match self.starts.get(line) {
            Some(&next) => next as usize - 1,
            None => self.len as usize,
        };
        Some(start..end)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        })
    }
}

/// One problem found in a source file, with the span of what is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code such as `alloy::syntax::unexpected_token`.
    pub code: &'static str,
    /// The upstream message text, without position.
    pub message: String,
    /// The file the span points into; `""` for an unnamed source.
    pub file: Arc<str>,
    /// Byte span; an empty span means upstream had only a start position.
    pub span: Span,
    /// A rendered value, attached by evaluation errors.
    pub value: Option<String>,
}

impl Diagnostic {
    pub fn error(
        code: &'static str,
        file: &Arc<str>,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: file.clone(),
            span,
            value: None,
        }
    }

    pub fn warning(
        code: &'static str,
        file: &Arc<str>,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, span, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: message` (or `line:col: message` for an unnamed file), the
    /// one-line form upstream uses in error strings and `fmt` output.
    pub fn one_line(&self, index: &LineIndex) -> String {
        let (line, col) = index.line_col(self.span.start);
        if self.file.is_empty() {
            format!("{line}:{col}: {}", self.message)
        } else {
            format!("{}:{line}:{col}: {}", self.file, self.message)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span =
            miette::SourceSpan::new((self.span.start as usize).into(), self.span.len() as usize);
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(self.value.clone(), span),
        )))
    }
}

/// The contents of the files diagnostics point into, by name, for printing snippets.
pub trait SourceLookup {
    fn source(&self, file: &str) -> Option<&str>;
}

impl SourceLookup for std::collections::HashMap<String, String> {
    fn source(&self, file: &str) -> Option<&str> {
        self.get(file).map(String::as_str)
    }
}

impl SourceLookup for std::collections::HashMap<String, Arc<str>> {
    fn source(&self, file: &str) -> Option<&str> {
        self.get(file).map(|text| &**text)
    }
}

impl<F: Fn(&str) -> Option<&'static str>> SourceLookup for F {
    fn source(&self, file: &str) -> Option<&str> {
        self(file)
    }
}

pub use render::{render, render_plain, RenderOptions};
pub use report::{IndexedSource, PlainReportHandler, SourcedDiagnostic};

mod render;
mod report;
