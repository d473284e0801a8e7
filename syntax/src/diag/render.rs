//! The plain diagnostic layout of upstream's `diag.Fprint` (LANGUAGE.md §8), byte for byte.
//!
//! The layout is a header (`Error: file:line:col: message`), then, when the file's text
//! is known, a blank line and the source lines around the span with a right-aligned
//! line-number gutter and a caret line under the span. Consecutive diagnostics are
//! separated by a blank line. Colour, when asked for, only touches the header, as
//! upstream's printer does.

use super::{Diagnostic, LineIndex, Severity, SourceLookup};
use std::fmt::Write as _;

/// How many columns a TAB (or vertical tab) takes in printed source lines. Upstream uses
/// 4 so snippets line up the same way in every terminal.
const TAB_WIDTH: usize = 4;

/// ANSI sequences matching upstream's `fatih/color` use: red or yellow bold for the
/// severity word, bold for the position and message, and a full reset after each.
const RED_BOLD: &str = "\x1b[31;1m";
const YELLOW_BOLD: &str = "\x1b[33;1m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// What the lexer puts in place of each byte of invalid UTF-8.
const SUBSTITUTE: char = crate::lexer::INVALID_UTF8_SUBSTITUTE as char;

/// Settings of the printer, mirroring upstream's `PrinterConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Emit ANSI colour codes in headers. Only turn this on when printing to a terminal.
    pub color: bool,
    /// Source lines shown before the first line of the span.
    pub context_before: usize,
    /// Source lines shown after the last line of the span.
    pub context_after: usize,
}

impl Default for RenderOptions {
    /// Upstream's `diag.Fprint` defaults: no colour, one line of context either side.
    fn default() -> RenderOptions {
        RenderOptions {
            color: false,
            context_before: 1,
            context_after: 1,
        }
    }
}

/// Renders `diags` as upstream's printer does with colour off and one line of context.
/// Consecutive diagnostics are separated by a blank line.
pub fn render_plain(diags: &[Diagnostic], sources: &dyn SourceLookup) -> String {
    render(diags, sources, RenderOptions::default())
}

/// Renders `diags` in the plain layout with the given options.
pub fn render(diags: &[Diagnostic], sources: &dyn SourceLookup, opts: RenderOptions) -> String {
    // Diagnostics usually come in runs from the same file: keep the last file's line
    // index so many diagnostics in a big file cost one scan, not one each.
    let mut cached: Option<(&str, LineIndex)> = None;
    let mut out = String::new();
    for (i, diag) in diags.iter().enumerate() {
        let text = sources.source(&diag.file);
        let file = match text {
            Some(text) => {
                if cached.as_ref().is_none_or(|(f, _)| *f != &*diag.file) {
                    cached = Some((&diag.file, LineIndex::new(text)));
                }
                cached.as_ref().map(|(_, index)| SourceFile { text, index })
            }
            None => None,
        };
        render_one(&mut out, diag, file, opts);
        if i + 1 < diags.len() {
            out.push('\n');
        }
    }
    out
}

/// The text of a file and its line index.
#[derive(Clone, Copy)]
pub(crate) struct SourceFile<'a> {
    pub text: &'a str,
    pub index: &'a LineIndex,
}

impl<'a> SourceFile<'a> {
    /// 1-based `line` without its `\n`, or `""` past the end.
    fn line(&self, line: usize) -> &'a str {
        self.index
            .line_range(line)
            .and_then(|range| self.text.get(range))
            .unwrap_or_default()
    }
}

/// A 1-based line and byte column, as upstream's `token.Position` holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    line: usize,
    col: usize,
}

/// Appends one diagnostic (header and, when its file is known, the snippet) to `out`.
pub(crate) fn render_one(
    out: &mut String,
    diag: &Diagnostic,
    file: Option<SourceFile<'_>>,
    opts: RenderOptions,
) {
    let Some(file) = file else {
        // Without the text there is no line or column to show. Upstream prints an
        // invalid position as the file name alone, or `-` when that is empty too.
        let pos = if diag.file.is_empty() {
            "-"
        } else {
            &diag.file
        };
        header(out, diag, pos, opts.color);
        return;
    };
    let at = |offset: u32| {
        let (line, col) = file.index.line_col(offset);
        Pos {
            line: line as usize,
            col: col as usize,
        }
    };
    let start = at(diag.span.start);
    // Spans are exclusive at the end; upstream's end position is the last byte inside.
    // An empty span stands for "no end", which upstream treats as end = start.
    let end = if diag.span.end > diag.span.start {
        at(diag.span.end - 1)
    } else {
        start
    };
    let pos = if diag.file.is_empty() {
        format!("{}:{}", start.line, start.col)
    } else {
        format!("{}:{}:{}", diag.file, start.line, start.col)
    };
    header(out, diag, &pos, opts.color);
    snippet(out, file, start, end, opts);
}

/// `Error: pos: message` or `Warning: pos: message`, with a final newline.
fn header(out: &mut String, diag: &Diagnostic, pos: &str, color: bool) {
    let word = match diag.severity {
        Severity::Error => "Error: ",
        Severity::Warning => "Warning: ",
    };
    if color {
        let paint = match diag.severity {
            Severity::Error => RED_BOLD,
            Severity::Warning => YELLOW_BOLD,
        };
        // The reset after the message follows the newline, as upstream writes it.
        let _ = write!(
            out,
            "{paint}{word}{RESET}{BOLD}{pos}: {}\n{RESET}",
            diag.message
        );
    } else {
        let _ = writeln!(out, "{word}{pos}: {}", diag.message);
    }
}

/// The blank line, the numbered source lines from `start` to `end` with context, and
/// the caret lines.
fn snippet(out: &mut String, file: SourceFile<'_>, start: Pos, end: Pos, opts: RenderOptions) {
    out.push('\n');
    // Upstream splits on `\n` only, so a final newline adds an empty last line and a
    // `\r` stays on its line (it is dropped when the line is printed).
    let line_count = file.index.line_count();
    let first = start.line.saturating_sub(opts.context_before).max(1);
    let last = (end.line + opts.context_after).min(line_count);
    let multiline = end.line > start.line;
    let width = last.to_string().len();

    for num in first..=last {
        let line = file.line(num);
        let _ = write!(out, "{num:>width$} | ");
        if multiline {
            // Column 0 is never inside the range on the start line, so the bar starts
            // on the line after it and runs to the end line.
            out.push_str(if in_range(num, 0, start, end) {
                "| "
            } else {
                "  "
            });
        }
        for ch in line.chars() {
            match ch {
                '\r' => {}
                '\t' | '\x0b' => push_n(out, ' ', TAB_WIDTH),
                // The parser stands this byte in for each invalid UTF-8 byte; upstream
                // shows such bytes as U+FFFD, one per byte, which keeps carets aligned.
                SUBSTITUTE => out.push(char::REPLACEMENT_CHARACTER),
                _ => out.push(ch),
            }
        }
        out.push('\n');

        if num == start.line || (multiline && num == end.line) {
            push_n(out, ' ', width);
            out.push_str(match (multiline, num == start.line) {
                // `|_` would look like a wrong right angle, so the start line's arrow
                // has no second bar.
                (true, true) => " |  _",
                (true, false) => " | |_",
                (false, _) => " | ",
            });
            focus(out, line, num, start, end);
            out.push('\n');
        }
    }
}

/// The caret line for source line `num`: `^` under the columns in the range, blanks
/// (or `_` for multi-line ranges) elsewhere, stopping after the end column.
fn focus(out: &mut String, line: &str, num: usize, start: Pos, end: Pos) {
    let blank = if end.line > start.line { '_' } else { ' ' };
    // One output character per character of the line, but columns count bytes, so a
    // multi-byte character advances the column by its length.
    for (i, ch) in line.char_indices() {
        let col = i + 1;
        if num == end.line && col > end.col {
            break;
        }
        if ch == '\t' || ch == '\x0b' {
            push_n(out, blank, TAB_WIDTH);
        } else if in_range(num, col, start, end) {
            out.push('^');
        } else {
            out.push(blank);
        }
    }
}

/// Whether line `line`, column `col` lies within `start..=end`.
fn in_range(line: usize, col: usize, start: Pos, end: Pos) -> bool {
    if line < start.line || line > end.line {
        return false;
    }
    if line == start.line {
        col >= start.col
    } else if line == end.line {
        col <= end.col
    } else {
        true
    }
}

fn push_n(out: &mut String, ch: char, n: usize) {
    out.extend(std::iter::repeat_n(ch, n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn one(src: &str, span: Span, opts: RenderOptions) -> String {
        let file: Arc<str> = Arc::from("main.alloy");
        let diag = Diagnostic::error("test", &file, span, "boom");
        let sources: HashMap<String, String> = [("main.alloy".to_string(), src.to_string())].into();
        render(&[diag], &sources, opts)
    }

    #[test]
    fn colour_touches_only_the_header() {
        let got = one(
            "a = 1\n",
            Span::new(0, 1),
            RenderOptions {
                color: true,
                ..RenderOptions::default()
            },
        );
        assert_eq!(
            got,
            "\x1b[31;1mError: \x1b[0m\x1b[1mmain.alloy:1:1: boom\n\x1b[0m\n1 | a = 1\n  | ^\n2 | \n"
        );
    }

    #[test]
    fn unknown_source_prints_only_the_header() {
        let file: Arc<str> = Arc::from("gone.alloy");
        let diag = Diagnostic::warning("test", &file, Span::new(3, 4), "careful");
        let sources: HashMap<String, String> = HashMap::new();
        assert_eq!(
            render_plain(&[diag], &sources),
            "Warning: gone.alloy: careful\n"
        );
    }

    #[test]
    fn multi_byte_characters_get_one_caret_each() {
        // "é" is two bytes: the caret line has one character for it, and the column
        // after it is 4, as upstream counts bytes.
        let got = one(
            "s = \"é\" + x\n",
            Span::new(11, 12),
            RenderOptions::default(),
        );
        assert_eq!(
            got,
            "Error: main.alloy:1:12: boom\n\n1 | s = \"é\" + x\n  |           ^\n2 | \n"
        );
    }

    #[test]
    fn span_past_the_end_does_not_panic() {
        let got = one("a", Span::new(40, 90), RenderOptions::default());
        assert_eq!(got, "Error: main.alloy:1:2: boom\n\n1 | a\n  |  \n");
    }

    #[test]
    fn invalid_utf8_shows_as_replacement_characters() {
        let (text, parsed) = crate::parser::parse_bytes("main.alloy", b"a = \"\xff\xfe\"\n");
        let sources: HashMap<String, String> = [("main.alloy".to_string(), text)].into();
        let got = render_plain(&parsed.diagnostics[..1], &sources);
        assert_eq!(
            got,
            "Error: main.alloy:1:6: illegal UTF-8 encoding\n\n1 | a = \"\u{FFFD}\u{FFFD}\"\n  |      ^\n2 | \n"
        );
    }

    #[test]
    fn many_diagnostics_in_one_file_render_in_linear_time() {
        // One line index per file, not per diagnostic: 20k diagnostics over a 200 kB
        // text would take minutes if each rescanned the text.
        let src = "x\n".repeat(100_000);
        let file: Arc<str> = Arc::from("big.alloy");
        let diags: Vec<Diagnostic> = (0..20_000)
            .map(|i| Diagnostic::error("test", &file, Span::point(i * 10), "here"))
            .collect();
        let sources: HashMap<String, String> = [("big.alloy".to_string(), src)].into();
        let got = render_plain(&diags, &sources);
        assert_eq!(got.matches("Error: ").count(), 20_000);
    }
}
