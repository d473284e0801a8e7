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
const PADDING: usize = 1;

/// One segment of text ended by a tab or a line break.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    /// Bytes of cell text in `buf`.
    size: usize,
    /// Width in code points (Go counts runes; invalid bytes count one each).
    width: usize,
    /// Ended by a hard tab, which keeps an otherwise empty column from being dropped.
    htab: bool,
}

pub(crate) struct TabWriter {
    out: Trimmer,
    /// Text of all cells since the last flush, without the separators.
    buf: Vec<u8>,
    /// How far into `buf` the current cell's width has been counted.
    pos: usize,
    cell: Cell,
    in_escape: bool,
    /// Completed cells of all buffered lines, line after line.
    cells: Vec<Cell>,
    /// Index in `cells` where each buffered line starts.
    line_starts: Vec<usize>,
    /// Column widths while formatting; a stack, one entry per enclosing column.
    widths: Vec<usize>,
}

/// Go's `utf8.RuneCount` on UTF-8 text that may contain escape bytes: every byte
/// that does not continue a multi-byte sequence starts one rune.
fn rune_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

impl TabWriter {
    pub(crate) fn new(out: Trimmer) -> TabWriter {
        let mut tw = TabWriter {
            out,
            buf: Vec::with_capacity(4096),
            pos: 0,
            cell: Cell::default(),
            in_escape: false,
            cells: Vec::with_capacity(256),
            line_starts: Vec::with_capacity(64),
            widths: Vec::with_capacity(16),
        };
        tw.reset();
        tw
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.cell = Cell::default();
        self.in_escape = false;
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
        self.cell.size += text.len();
    }

    fn update_width(&mut self) {
        self.cell.width += rune_count(&self.buf[self.pos..]);
        self.pos = self.buf.len();
    }

    fn end_escape(&mut self) {
        self.update_width();
        // The two escape bytes stay in the text but take no room on screen.
        self.cell.width = self.cell.width.saturating_sub(2);
        self.pos = self.buf.len();
        self.in_escape = false;
    }

    /// Ends the current cell; returns how many cells the current line now has.
    fn terminate_cell(&mut self, htab: bool) -> usize {
        self.cell.htab = htab;
        self.cells.push(self.cell);
        self.cell = Cell::default();
        self.cells.len() - self.line_starts[self.line_starts.len() - 1]
    }

    /// Feeds bytes; output appears as sections complete.
    pub(crate) fn write(&mut self, data: &[u8]) {
        let mut n = 0;
        for (i, &ch) in data.iter().enumerate() {
            if !self.in_escape {
                match ch {
                    b'\t' | b'\x0B' | b'\n' | b'\x0C' => {
                        self.append(&data[n..i]);
                        self.update_width();
                        n = i + 1;
                        let ncells = self.terminate_cell(ch == b'\t');
                        if ch == b'\n' || ch == b'\x0C' {
                            self.line_starts.push(self.cells.len());
                            // A formfeed ends every column; a line of one cell cannot
                            // influence later lines, so either way we may flush.
                            if ch == b'\x0C' || ncells == 1 {
                                self.flush();
                            }
                        }
                    }
                    ESCAPE => {
                        self.append(&data[n..i]);
                        self.update_width();
                        n = i;
                        self.in_escape = true;
                    }
                    _ => {}
                }
            } else if ch == ESCAPE {
                self.append(&data[n..i + 1]);
                n = i + 1;
                self.end_escape();
            }
        }
        self.append(&data[n..]);
    }

    /// Formats and writes everything buffered.
    pub(crate) fn flush(&mut self) {
        if self.cell.size > 0 {
            if self.in_escape {
                self.end_escape();
            }
            self.terminate_cell(false);
        }
        let lines = self.line_count();
        self.format(0, 0, lines);
        self.reset();
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
            const TABS: &[u8] = b"\t\t\t\t\t\t\t\t";
            let mut count = n.div_ceil(TAB_WIDTH);
            while count > 0 {
                let k = count.min(TABS.len());
                self.out.write(&TABS[..k]);
                count -= k;
            }
            return;
        }
        const SPACES: &[u8] = b"                                ";
        let mut count = cell_width.saturating_sub(text_width);
        while count > 0 {
            let k = count.min(SPACES.len());
            self.out.write(&SPACES[..k]);
            count -= k;
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
                        self.write_padding(c.width, self.widths[j], use_tabs);
                    }
                } else {
                    use_tabs = false;
                    self.out.write(&self.buf[pos..pos + c.size]);
                    pos += c.size;
                    if j < self.widths.len() {
                        self.write_padding(c.width, self.widths[j], false);
                    }
                }
            }
            if i + 1 == self.line_count() {
                // The last buffered line has no line break yet: write what is open.
                let end = (pos + self.cell.size).min(self.buf.len());
                self.out.write(&self.buf[pos..end]);
                pos = end;
            } else {
                self.out.write(b"\n");
            }
        }
        pos
    }

    /// Formats lines `line0..line1`, whose text starts at `pos0` in `buf`; returns
    /// where `line1`'s text starts.
    fn format(&mut self, pos0: usize, mut line0: usize, line1: usize) -> usize {
        let mut pos = pos0;
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            // The last cell of a line is not part of any column.
            if column + 1 < self.line(this).len() {
                pos = self.write_lines(pos, line0, this);
                line0 = this;

                let mut width = 0;
                let mut discardable = true;
                while this < line1 {
                    let range = self.line(this);
                    if column + 1 < range.len() {
                        let c = self.cells[range.start + column];
                        width = width.max(c.width + PADDING);
                        if c.width > 0 || c.htab {
                            discardable = false;
                        }
                    } else {
                        break;
                    }
                    this += 1;
                }
                if discardable {
                    width = 0;
                }
                self.widths.push(width);
                pos = self.format(pos, line0, this);
                self.widths.pop();
                line0 = this;
            } else {
                this += 1;
            }
        }
        self.write_lines(pos, line0, line1)
    }
}
