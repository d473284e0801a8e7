//! The token printer: turns a stream of tokens, positions and abstract whitespace
//! into tabwriter input, interleaving the file's comments by source position. This
//! mirrors upstream's `printer` type closely, because which blank lines survive and
//! where comments land depend on its bookkeeping (an approximate source position that
//! advances with what is written), quirks included.

use super::tabwriter::TabWriter;
use super::trimmer::Trimmer;
use crate::ast::{Comment, CommentGroup};
use crate::parser::CommentGroups;
use crate::token::Token;
use std::cell::Cell;

/// Abstract whitespace, held back until the next token so that none is printed at the
/// end of the file and comments can replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ws {
    /// A slot whose whitespace a comment made redundant.
    Ignore,
    Blank,
    /// A cell separator: aligns what follows across the lines of a section.
    VTab,
    /// A line break that keeps the alignment section going.
    Newline,
    /// A line break that ends the alignment section.
    Formfeed,
    Indent,
    Unindent,
}

impl Ws {
    fn byte(self) -> u8 {
        match self {
            Ws::Blank => b' ',
            Ws::VTab => b'\x0B',
            Ws::Newline => b'\n',
            Ws::Formfeed => b'\x0C',
            Ws::Ignore | Ws::Indent | Ws::Unindent => 0,
        }
    }
}

/// Upstream's whitespace buffer never grows past its initial capacity; when full it
/// is written out early. Same size here so the rare overflow behaves the same.
const WS_CAPACITY: usize = 16;

/// At most this many line breaks are kept in a row: one blank line.
const MAX_NEWLINES: i64 = 2;

/// Line starts of the source, for turning offsets into line numbers.
pub(crate) struct Lines {
    starts: Vec<u32>,
    len: u32,
    /// Index of the line of the last lookup: the printer asks about nearby offsets
    /// one after another, so most lookups are answered without a search.
    hint: Cell<usize>,
}

impl Lines {
    pub(crate) fn new(src: &str) -> Lines {
        // Config lines average about 25 bytes; reserving for 24 means typical files
        // never regrow the table.
        let mut starts = Vec::with_capacity(src.len() / 24 + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', src.as_bytes()).map(|i| i as u32 + 1));
        Lines {
            starts,
            len: src.len() as u32,
            hint: Cell::new(0),
        }
    }

    /// 1-based line of a byte offset (clamped to the source).
    pub(crate) fn line(&self, offset: i64) -> i64 {
        let offset = offset.clamp(0, self.len as i64) as u32;
        let s = &self.starts;
        let mut k = self.hint.get();
        if s[k] <= offset {
            // Usually the same line or a few lines further on.
            let stop = (k + 8).min(s.len() - 1);
            while k < stop && s[k + 1] <= offset {
                k += 1;
            }
            if k + 1 < s.len() && s[k + 1] <= offset {
                k = s.partition_point(|&x| x <= offset) - 1;
            }
        } else if k > 0 && s[k - 1] <= offset {
            k -= 1;
        } else {
            k = s.partition_point(|&x| x <= offset) - 1;
        }
        self.hint.set(k);
        k as i64 + 1
    }
}

/// A position in source space: a byte offset and a line. The line is kept as "the
/// line of `anchor`, plus `delta`" and only worked out when a comment needs it:
/// upstream advances offset and line separately as text is written, and most
/// positions are never asked for their line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) offset: i64,
    anchor: i64,
    delta: i64,
}

impl Pos {
    fn at(offset: i64) -> Pos {
        Pos {
            offset,
            anchor: offset,
            delta: 0,
        }
    }

    /// Past everything: where the comments left at the end are flushed to.
    fn end() -> Pos {
        Pos {
            offset: i64::MAX,
            anchor: i64::MAX,
            delta: 0,
        }
    }

    fn line(self, lines: &Lines) -> i64 {
        if self.anchor == i64::MAX {
            return i64::MAX;
        }
        lines.line(self.anchor) + self.delta
    }
}

/// Upstream's token kind for "the last thing written was whitespace".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Last {
    Whitespace,
    Tok(Token),
}

/// Where the printer gets the file's comment groups from, in source order.
pub(crate) enum Comments<'a> {
    /// A parsed file's list; `usize` is the index of the next group.
    File(&'a [CommentGroup], usize),
    /// Scanned from the source as they are needed, when statements arrive one at a
    /// time and the file's list never exists.
    Scan(CommentGroups<'a>),
}

impl Comments<'_> {
    /// Puts the next group with at least one comment in `into`; false at the end.
    fn next_group(&mut self, into: &mut Vec<Comment>) -> bool {
        loop {
            into.clear();
            match self {
                Comments::File(groups, next) => {
                    let Some(group) = groups.get(*next) else {
                        return false;
                    };
                    *next += 1;
                    into.extend_from_slice(group);
                }
                Comments::Scan(scan) => {
                    let Some(group) = scan.next() else {
                        return false;
                    };
                    into.extend_from_slice(&group);
                }
            }
            if !into.is_empty() {
                return true;
            }
        }
    }
}

pub(crate) struct Printer<'a> {
    src: &'a str,
    lines: Lines,
    tw: TabWriter,
    /// Whether anything was written: a comment first in the output gets no
    /// whitespace before it.
    wrote_any: bool,
    indent: usize,
    last_tok: Last,
    ws: [Ws; WS_CAPACITY],
    ws_len: usize,
    comments: Comments<'a>,
    /// Offset of the first comment of the pending group, if any.
    comment_pos: Option<i64>,
    /// The pending group (a copy, so that either source can supply it).
    comment_cur: Vec<Comment>,
    /// Approximate position in source space of what is being written.
    pos: Pos,
    /// Position just after the last text written, once there is some.
    last: Option<Pos>,
    /// Output column (1 when nothing is on the current line yet).
    out_col: i64,
}

impl<'a> Printer<'a> {
    pub(crate) fn new(src: &'a str, capacity: usize) -> Printer<'a> {
        Printer {
            src,
            lines: Lines::new(src),
            tw: TabWriter::new(Trimmer::with_capacity(capacity)),
            wrote_any: false,
            indent: 0,
            last_tok: Last::Whitespace,
            ws: [Ws::Ignore; WS_CAPACITY],
            ws_len: 0,
            comments: Comments::File(&[], 0),
            comment_pos: None,
            comment_cur: Vec::new(),
            pos: Pos::at(0),
            last: None,
            out_col: 1,
        }
    }

    pub(crate) fn set_comments(&mut self, comments: Comments<'a>) {
        self.comments = comments;
        self.next_comment();
    }

    fn next_comment(&mut self) {
        self.comment_pos = if self.comments.next_group(&mut self.comment_cur) {
            self.comment_cur.first().map(|c| c.span.start as i64)
        } else {
            None
        };
    }

    fn comment_before(&self, next: Pos) -> bool {
        self.comment_pos.is_some_and(|p| p <= next.offset)
    }

    /// The line of a source offset.
    pub(crate) fn line_of(&self, offset: i64) -> i64 {
        self.lines.line(offset)
    }

    /// Queues whitespace for before the next token.
    pub(crate) fn ws(&mut self, w: Ws) {
        if w == Ws::Ignore {
            return;
        }
        if self.ws_len == WS_CAPACITY {
            self.write_whitespace(WS_CAPACITY);
        }
        self.ws[self.ws_len] = w;
        self.ws_len += 1;
        self.last_tok = Last::Whitespace;
    }

    /// Writes an operator or bracket at `offset` in the source. Like upstream when
    /// handed a `token.Pos`, the printer then knows it sits exactly there.
    pub(crate) fn token_at(&mut self, offset: u32, tok: Token) {
        self.write_token(Pos::at(offset as i64), tok);
    }

    /// Writes an identifier or literal at `offset` in the source.
    pub(crate) fn text_at(&mut self, offset: u32, data: &str, kind: Token) {
        self.last_tok = Last::Tok(kind);
        let next = Pos::at(offset as i64);
        self.flush(next, false);
        self.write_string(next, data, needs_escape(data));
    }

    /// Writes an operator or bracket where the last one ended: upstream does this
    /// for `.`, `,` and parentheses, whose positions it does not record.
    pub(crate) fn token(&mut self, tok: Token) {
        self.write_token(self.pos, tok);
    }

    fn write_token(&mut self, next: Pos, tok: Token) {
        let s = tok.as_str();
        // Keep `1 .` and `/ *` apart so that re-scanning gives the same tokens.
        let first = s.as_bytes().first().copied().unwrap_or(0);
        let combine = match self.last_tok {
            Last::Tok(Token::Number) => first == b'.',
            Last::Tok(Token::Div) => first == b'*',
            _ => false,
        };
        if combine {
            self.ws[0] = Ws::Blank;
            self.ws_len = 1;
        }
        self.last_tok = Last::Tok(tok);
        self.flush(next, false);
        // Operators are short ASCII with no tabs or line breaks: no need to scan.
        if self.out_col == 1 {
            self.write_indent();
        }
        self.wrote_any = true;
        self.tw.plain(s.as_bytes(), true);
        let after = Pos {
            offset: next.offset + s.len() as i64,
            ..next
        };
        self.pos = after;
        self.last = Some(after);
        self.out_col += s.len() as i64;
    }

    /// Writes an identifier or literal where the last one ended.
    pub(crate) fn text(&mut self, data: &str, kind: Token) {
        self.last_tok = Last::Tok(kind);
        let next = self.pos;
        self.flush(next, false);
        self.write_string(next, data, needs_escape(data));
    }

    /// Hands the output that is final so far (the tabwriter may still hold aligned
    /// lines) to `write`, and forgets it.
    pub(crate) fn write_ready<E>(
        &mut self,
        write: impl FnOnce(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.tw.output().write_ready(write)
    }

    /// Writes the comments left after the last token. Nothing follows them.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.flush(Pos::end(), true);
        self.tw.finish().finish()
    }

    #[inline]
    fn flush(&mut self, next: Pos, eof: bool) {
        if self.comment_before(next) {
            self.inject_comments(next, eof);
        } else if !eof && self.ws_len > 0 {
            self.write_whitespace(self.ws_len);
        }
    }

    #[cold]
    #[inline(never)]
    fn inject_comments(&mut self, next: Pos, eof: bool) {
        let mut last_comment: Option<Comment> = None;
        while self.comment_before(next) {
            // Taken out while written, and put back so its allocation is reused.
            let group = std::mem::take(&mut self.comment_cur);
            for &c in &group {
                self.write_comment_prefix(next, c);
                let text = c.text(self.src);
                self.write_string(Pos::at(c.span.start as i64), &text, true);
                last_comment = Some(c);
            }
            self.comment_cur = group;
            self.next_comment();
        }
        if let Some(c) = last_comment {
            self.write_comment_suffix(next, eof, c);
        }
    }

    fn line(&self, pos: Pos) -> i64 {
        pos.line(&self.lines)
    }

    /// The line of the last text written; 0 (no line) before any.
    fn last_line(&self) -> i64 {
        self.last.map_or(0, |p| p.line(&self.lines))
    }

    fn write_comment_prefix(&mut self, next: Pos, c: Comment) {
        if !self.wrote_any {
            return;
        }
        let c_line = self.line(Pos::at(c.span.start as i64));
        let last_line = self.last_line();
        if c_line == last_line {
            // A trailing comment: a tab makes it a cell, so such comments line up.
            // One followed by code on the same line must be a block comment, and a
            // tab in mid-line would look odd there.
            let sep = if c_line == self.line(next) {
                b' '
            } else {
                b'\t'
            };
            self.write_byte(sep, 1);
        } else {
            // Keep indentation changes queued before the first line break, drop the
            // rest: the comment brings its own line breaks.
            let mut count = 0;
            for i in 0..self.ws_len {
                match self.ws[i] {
                    Ws::Indent | Ws::Unindent => continue,
                    Ws::Blank | Ws::VTab | Ws::Newline | Ws::Formfeed => self.ws[i] = Ws::Ignore,
                    Ws::Ignore => {}
                }
                count = i;
                break;
            }
            self.write_whitespace(count);
            let newlines = if self.last.is_some() {
                c_line - last_line
            } else {
                0
            };
            if newlines > 0 {
                self.write_byte(b'\x0C', newlines.min(MAX_NEWLINES) as usize);
            }
        }
    }

    fn write_comment_suffix(&mut self, next: Pos, eof: bool, last_comment: Comment) {
        if eof {
            // No blank lines at the end of the file.
            return;
        }
        let text = last_comment.text(self.src);
        let end = c_end(last_comment.span.start as i64, text.len());
        let next_line = self.line(next);
        if text.as_bytes().get(1) == Some(&b'*') && next_line == self.line_of(end) {
            self.write_byte(b' ', 1);
        }
        let mut newlines = next_line - self.last_line();
        // Upstream works out `next_line` from an approximate position; for a token it
        // writes without its position (`(`, `.`, `,`) right after a line comment, it
        // can think the token shares the comment's line and print it there, where
        // it is commented out. A line comment always ends its line, so we break it.
        // This differs from upstream only where upstream's output would not parse.
        if newlines < 1 && text.starts_with("//") {
            newlines = 1;
        }
        let mut dropped_ff = false;
        for i in 0..self.ws_len {
            match self.ws[i] {
                Ws::Blank | Ws::VTab => self.ws[i] = Ws::Ignore,
                Ws::Newline => self.ws[i] = Ws::Ignore,
                Ws::Formfeed => {
                    dropped_ff = true;
                    self.ws[i] = Ws::Ignore;
                }
                Ws::Indent | Ws::Unindent | Ws::Ignore => {}
            }
        }
        self.write_whitespace(self.ws_len);
        if newlines > 0 {
            // A dropped formfeed must come back, or alignment would run on past the
            // comment.
            let ch = if dropped_ff { b'\x0C' } else { b'\n' };
            self.write_byte(ch, newlines.min(MAX_NEWLINES) as usize);
        }
    }

    fn write_string(&mut self, pos: Pos, s: &str, escape: bool) {
        if self.out_col == 1 {
            self.write_indent();
        }
        self.pos = pos;
        let bytes = s.as_bytes();
        if escape {
            self.tw.escaped(bytes);
            self.wrote_any = true;
        } else if !bytes.is_empty() {
            self.wrote_any = true;
            // One pass tells whether the text has tabs or line breaks (only literals
            // can) and whether it is ASCII; most tokens take the fast path.
            let (mut low, mut high) = (false, 0u8);
            for &b in bytes {
                low |= b <= 0x0C;
                high |= b;
            }
            if !low {
                self.tw.plain(bytes, high < 0x80);
                // Built from `pos` rather than read back from `self.pos`, whose parts
                // were just stored one by one: reading them as a whole would stall.
                let after = Pos {
                    offset: pos.offset + bytes.len() as i64,
                    ..pos
                };
                self.pos = after;
                self.last = Some(after);
                self.out_col += bytes.len() as i64;
                return;
            }
            self.tw.text(bytes);
        }

        let mut newlines = 0i64;
        let mut last_nl = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            // Escaped text (comments, and literals holding form feeds) reaches the
            // output as is, so a form feed in it breaks no line. Upstream counts it
            // anyway, and a comment holding one then swallows the next line break on
            // every run (a fuzz finding); only real newlines count here.
            if b == b'\n' || (b == b'\x0C' && !escape) {
                newlines += 1;
                last_nl = i;
            }
        }
        self.pos.offset += bytes.len() as i64;
        if newlines > 0 {
            self.pos.delta += newlines;
            self.out_col = (bytes.len() - last_nl) as i64;
        } else {
            self.out_col += bytes.len() as i64;
        }
        self.last = Some(self.pos);
    }

    fn write_indent(&mut self) {
        let depth = self.indent;
        for _ in 0..depth {
            self.tw.separator(b'\t');
        }
        if depth > 0 {
            self.wrote_any = true;
        }
        self.pos.offset += depth as i64;
        self.out_col += depth as i64;
    }

    fn write_byte(&mut self, ch: u8, n: usize) {
        if self.out_col == 1 {
            self.write_indent();
        }
        for _ in 0..n {
            if ch == b' ' {
                self.tw.plain(b" ", true);
            } else {
                self.tw.separator(ch);
            }
        }
        if n > 0 {
            self.wrote_any = true;
        }
        self.pos.offset += n as i64;
        if ch == b'\n' || ch == b'\x0C' {
            self.pos.delta += n as i64;
            self.out_col = 1;
        } else {
            self.out_col += n as i64;
        }
    }

    fn write_whitespace(&mut self, n: usize) {
        let n = n.min(self.ws_len);
        if n == 0 {
            return;
        }
        for i in 0..n {
            match self.ws[i] {
                Ws::Ignore => {}
                Ws::Indent => self.indent += 1,
                // Upstream panics on negative indentation; only a tree from a file
                // with errors could get here, so stay at zero instead.
                Ws::Unindent => self.indent = self.indent.saturating_sub(1),
                w => self.write_byte(w.byte(), 1),
            }
        }
        self.ws.copy_within(n..self.ws_len, 0);
        self.ws_len -= n;
    }
}

/// Offset of the last byte of a comment of `len` bytes starting at `start`.
fn c_end(start: i64, len: usize) -> i64 {
    start + len as i64 - 1
}

/// Whether literal text must pass the tabwriter untouched. Upstream lets literals
/// through unescaped, so a raw form feed or vertical tab inside a string became a line
/// break or a column and the output no longer parsed (a fuzz finding); only such text
/// is escaped, so every other literal keeps upstream's bytes.
fn needs_escape(data: &str) -> bool {
    data.bytes().any(|b| b == b'\x0B' || b == b'\x0C')
}
