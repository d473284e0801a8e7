//! A port of Go's `text/tabwriter` with the settings upstream's printer uses:
//! minwidth 0, tabwidth 8, padding 1, pad character space, and the flags
//! `DiscardEmptyColumns | TabIndent`. Alignment of `=` signs and trailing comments
//! is this elastic-tabstop algorithm at work, so it is reproduced step for step.
//!
//! Cell text is kept in one buffer that is cleared at every flush (each formfeed and
//! each line with a single cell), so memory stays bounded by the longest aligned
//! section rather than the file.

use super::trimmer::Trimmer;

/// Brackets text the tabwriter must pass through uninterpreted (comments). The byte
/// never occurs in UTF-8, so it cannot clash with source text.
pub(crate) const ESCAPE: u8 = 0xFF;

const TAB_WIDTH: usize = 8;

/// Bytes that end a cell.
static SEPARATOR: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\t' as usize] = true;
    t[0x0B] = true;
    t[b'\n' as usize] = true;
    t[0x0C] = true;
    t
};

const PADDING: usize = 1;

/// One segment of text ended by a tab or a line break.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// Bytes of cell text in `buf`.
    size: u32,
    /// Width in code points (Go counts runes; invalid bytes count one each).
    width: u32,
    /// Ended by a hard tab, which keeps an otherwise empty column from being dropped.
    htab: bool,
    /// Holds escaped text, which the output stage must not trim.
    escaped: bool,
}

pub(crate) struct TabWriter {
    out: Trimmer,
    /// Text of all cells since the last flush, without the separators.
    buf: Vec<u8>,
    // The open cell, kept as separate scalars: they are bumped token by token and
    // then copied into `cells`, and copying a just-updated struct as a whole stalls
    // on store forwarding.
    cell_size: usize,
    cell_width: usize,
    cell_escaped: bool,
    /// Completed cells of all buffered lines, line after line.
    cells: Vec<Cell>,
    /// Index in `cells` where each buffered line starts.
    line_starts: Vec<usize>,
    /// Column widths while formatting; a stack, one entry per enclosing column.
    widths: Vec<usize>,
    /// Pending passes of [`TabWriter::format`], kept to reuse the allocation.
    frames: Vec<Frame>,
    /// Whether one-line sections skip the general column walk; tests turn it off to
    /// check that both ways agree.
    fast_single_line: bool,
}

/// Go's `utf8.RuneCount` on UTF-8 text that may contain escape bytes: every byte
/// that does not continue a multi-byte sequence starts one rune.
fn rune_count(bytes: &[u8]) -> usize {
    if bytes.is_ascii() {
        return bytes.len();
    }
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

impl TabWriter {
    pub(crate) fn new(out: Trimmer) -> TabWriter {
        let mut tw = TabWriter {
            out,
            buf: Vec::with_capacity(4096),
            cell_size: 0,
            cell_width: 0,
            cell_escaped: false,
            cells: Vec::with_capacity(256),
            line_starts: Vec::with_capacity(64),
            widths: Vec::with_capacity(16),
            frames: Vec::with_capacity(16),
            fast_single_line: true,
        };
        tw.reset();
        tw
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.cell_size = 0;
        self.cell_width = 0;
        self.cell_escaped = false;
        self.cells.clear();
        self.line_starts.clear();
        self.widths.clear();
        self.line_starts.push(0);
    }

    fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    fn line(&self, i: usize) -> std::ops::Range<usize> {
        let start = self.line_starts[i];
        let end = self
            .line_starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.cells.len());
        start..end
    }

    fn append(&mut self, text: &[u8]) {
        self.buf.extend_from_slice(text);
        self.cell_size += text.len();
        self.cell_width += rune_count(text);
    }

    /// Ends the current cell; returns how many cells the current line now has.
    fn terminate_cell(&mut self, htab: bool) -> usize {
        self.cells.push(Cell {
            size: self.cell_size as u32,
            width: self.cell_width as u32,
            htab,
            escaped: self.cell_escaped,
        });
        self.cell_size = 0;
        self.cell_width = 0;
        self.cell_escaped = false;
        self.cells.len() - self.line_starts[self.line_starts.len() - 1]
    }

    /// Adds text known to hold no separators; `ascii` spares counting code points.
    pub(crate) fn plain(&mut self, text: &[u8], ascii: bool) {
        self.buf.extend_from_slice(text);
        self.cell_size += text.len();
        self.cell_width += if ascii { text.len() } else { rune_count(text) };
    }

    /// Adds text to the current cell. Literal text may hold tabs and line breaks (a
    /// raw string); they separate cells as they do upstream.
    pub(crate) fn text(&mut self, mut text: &[u8]) {
        while let Some(k) = text.iter().position(|&b| SEPARATOR[b as usize]) {
            self.append(&text[..k]);
            self.separator(text[k]);
            text = &text[k + 1..];
        }
        self.append(text);
    }

    /// Adds text that must pass through uninterpreted (a comment). Its width is its
    /// length in code points; the escape bytes around it take no room.
    pub(crate) fn escaped(&mut self, text: &[u8]) {
        self.buf.push(ESCAPE);
        self.buf.extend_from_slice(text);
        self.buf.push(ESCAPE);
        self.cell_size += text.len() + 2;
        self.cell_width += rune_count(text);
        self.cell_escaped = true;
    }

    /// Ends a cell at a tab (`\t`), soft tab (`\x0B`), newline or formfeed.
    pub(crate) fn separator(&mut self, ch: u8) {
        let ncells = self.terminate_cell(ch == b'\t');
        if ch == b'\n' || ch == b'\x0C' {
            self.line_starts.push(self.cells.len());
            // A formfeed ends every column; a line of one cell cannot influence later
            // lines, so either way everything so far can be written out.
            if ch == b'\x0C' || ncells == 1 {
                self.flush();
            }
        }
    }

    /// Formats and writes everything buffered.
    pub(crate) fn flush(&mut self) {
        if self.cell_size > 0 {
            self.terminate_cell(false);
        }
        let lines = self.line_count();
        // Most sections are one line (a block header, a closing brace, a statement
        // between blank lines), often followed by the empty line its line break
        // opened. Each of its columns is then a block of its own, so the widths
        // follow from its cells alone; working them out directly spares the general
        // column walk, with the same result.
        if self.fast_single_line && (lines == 1 || (lines == 2 && self.line(1).is_empty())) {
            let first = self.line(0);
            let columns = first.len().saturating_sub(1);
            for c in &self.cells[first.start..first.start + columns] {
                let discardable = c.width == 0 && !c.htab;
                let width = if discardable {
                    0
                } else {
                    c.width as usize + PADDING
                };
                self.widths.push(width);
            }
            let pos = self.write_lines(0, 0, 1);
            self.widths.clear();
            self.write_lines(pos, 1, lines);
        } else {
            self.format(0, 0, lines);
        }
        self.reset();
    }

    /// The output stage, for taking what is final out of it.
    pub(crate) fn output(&mut self) -> &mut Trimmer {
        &mut self.out
    }

    /// Flushes and hands back the output stage.
    pub(crate) fn finish(mut self) -> Trimmer {
        self.flush();
        self.out
    }

    fn write_padding(&mut self, text_width: usize, cell_width: usize, use_tabs: bool) {
        if use_tabs {
            // Indentation: whole tabs up to the next multiple of the tab width.
            let cell_width = cell_width.div_ceil(TAB_WIDTH) * TAB_WIDTH;
            let n = cell_width.saturating_sub(text_width);
            self.out.pad(b'\t', n.div_ceil(TAB_WIDTH));
        } else {
            self.out.pad(b' ', cell_width.saturating_sub(text_width));
        }
    }

    fn write_lines(&mut self, mut pos: usize, line0: usize, line1: usize) -> usize {
        for i in line0..line1 {
            let range = self.line(i);
            let mut use_tabs = true;
            for (j, ci) in range.enumerate() {
                let c = self.cells[ci];
                if c.size == 0 {
                    if j < self.widths.len() {
                        self.write_padding(c.width as usize, self.widths[j], use_tabs);
                    }
                } else {
                    use_tabs = false;
                    let size = c.size as usize;
                    self.out.cell(&self.buf[pos..pos + size], c.escaped);
                    pos += size;
                    if j < self.widths.len() {
                        self.write_padding(c.width as usize, self.widths[j], false);
                    }
                }
            }
            if i + 1 == self.line_count() {
                // The last buffered line has no line break yet: write what is open.
                let end = (pos + self.cell_size).min(self.buf.len());
                self.out.cell(&self.buf[pos..end], self.cell_escaped);
                pos = end;
            } else {
                self.out.newline();
            }
        }
        pos
    }

    /// Formats lines `line0..line1`, whose text starts at `pos0` in `buf`; returns
    /// where `line1`'s text starts.
    ///
    /// Go's version recurses once per column. A line can have as many columns as a
    /// raw string has tabs, so the recursion is unrolled onto `frames` here: each
    /// frame is one column's pass over a block of lines, and `widths` holds the
    /// widths of the columns to its left.
    fn format(&mut self, pos0: usize, line0: usize, line1: usize) -> usize {
        let mut pos = pos0;
        let mut frames = std::mem::take(&mut self.frames);
        frames.clear();
        frames.push(Frame {
            line0,
            this: line0,
            line1,
        });
        while let Some(top) = frames.last_mut() {
            let column = self.widths.len();
            // Find the next line with a cell in this column (the last cell of a line
            // is not part of any column).
            let mut this = top.this;
            while this < top.line1 && column + 1 >= self.line(this).len() {
                this += 1;
            }
            if this == top.line1 {
                let (line0, line1) = (top.line0, top.line1);
                pos = self.write_lines(pos, line0, line1);
                frames.pop();
                if !frames.is_empty() {
                    self.widths.pop();
                }
                continue;
            }
            let start = this;
            let line0 = top.line0;
            let line1 = top.line1;
            let mut width = 0;
            let mut discardable = true;
            while this < line1 {
                let range = self.line(this);
                if column + 1 >= range.len() {
                    break;
                }
                let c = self.cells[range.start + column];
                width = width.max(c.width as usize + PADDING);
                if c.width > 0 || c.htab {
                    discardable = false;
                }
                this += 1;
            }
            if discardable {
                width = 0;
            }
            // Lines before the block are done; the block itself is formatted with
            // this column's width known, then we carry on after it.
            top.line0 = this;
            top.this = this;
            pos = self.write_lines(pos, line0, start);
            self.widths.push(width);
            frames.push(Frame {
                line0: start,
                this: start,
                line1: this,
            });
        }
        self.frames = frames;
        pos
    }
}

/// One column's pass in [`TabWriter::format`]: lines `line0..line1` remain to be
/// written, and `this` is how far the search for the next block has got.
#[derive(Debug, Clone, Copy)]
struct Frame {
    line0: usize,
    this: usize,
    line1: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(pieces: &[(u8, &str)], fast: bool) -> Vec<u8> {
        let mut tw = TabWriter::new(Trimmer::with_capacity(64));
        tw.fast_single_line = fast;
        for &(kind, text) in pieces {
            match kind {
                0 => tw.text(text.as_bytes()),
                1 => tw.escaped(text.as_bytes()),
                _ => tw.separator(b"\t\x0B\n\x0C"[(kind - 2) as usize % 4]),
            }
        }
        tw.finish().finish()
    }

    proptest! {
        #[test]
        fn one_line_shortcut_matches_the_column_walk(
            pieces in prop::collection::vec(
                (0u8..8, prop::sample::select(vec!["", "a", "bb", "ccc dd", "é", "x "])),
                0..60,
            )
        ) {
            prop_assert_eq!(run(&pieces, true), run(&pieces, false));
        }
    }
}
