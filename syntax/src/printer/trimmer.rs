//! The last output stage: drops trailing blanks from lines and strips the escape
//! bytes that protect comments, as upstream's `trimmer` does after the tabwriter.
//!
//! Upstream's trimmer is a byte-wise state machine. Here the tabwriter hands over
//! whole cells, padding and line breaks, and the trimmer only remembers where the
//! last byte worth keeping ended: a line break cuts the output back to that mark. Cell
//! text outside escapes never holds tabs or line breaks (those end cells), so only
//! cells that contain a comment need a closer look.

use super::tabwriter::ESCAPE;

pub(crate) struct Trimmer {
    out: Vec<u8>,
    /// Length of the output up to the last byte that is not a trailing blank.
    keep: usize,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl Trimmer {
    pub(crate) fn with_capacity(capacity: usize) -> Trimmer {
        Trimmer {
            out: Vec::with_capacity(capacity),
            keep: 0,
        }
    }

    /// Text with no escapes in it.
    fn plain(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        if let Some(last) = bytes.iter().rposition(|&b| !is_blank(b)) {
            self.keep = self.out.len() - bytes.len() + last + 1;
        }
    }

    /// The text of a cell; `escaped` says whether it holds escaped segments, which
    /// are copied verbatim (trailing blanks and line breaks included).
    pub(crate) fn cell(&mut self, bytes: &[u8], escaped: bool) {
        if !escaped {
            self.plain(bytes);
            return;
        }
        let mut rest = bytes;
        while let Some(open) = memchr::memchr(ESCAPE, rest) {
            self.plain(&rest[..open]);
            let inner = &rest[open + 1..];
            // An escape left open at the end counts as closed there.
            let close = memchr::memchr(ESCAPE, inner).unwrap_or(inner.len());
            self.out.extend_from_slice(&inner[..close]);
            self.keep = self.out.len();
            rest = inner.get(close + 1..).unwrap_or(&[]);
        }
        self.plain(rest);
    }

    /// Padding: `n` copies of a blank.
    pub(crate) fn pad(&mut self, blank: u8, n: usize) {
        self.out.resize(self.out.len() + n, blank);
    }

    pub(crate) fn newline(&mut self) {
        self.out.truncate(self.keep);
        self.out.push(b'\n');
        self.keep = self.out.len();
    }

    /// Hands the output up to the last byte worth keeping to `write` and forgets it.
    /// Nothing before that mark changes any more: only trailing blanks after it can
    /// still be cut.
    pub(crate) fn write_ready<E>(
        &mut self,
        write: impl FnOnce(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.keep == 0 {
            return Ok(());
        }
        write(&self.out[..self.keep])?;
        self.out.drain(..self.keep);
        self.keep = 0;
        Ok(())
    }

    /// The filtered bytes. Blanks at the very end are dropped.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.truncate(self.keep);
        self.out
    }
}
