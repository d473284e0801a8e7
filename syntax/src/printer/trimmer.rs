//! The last output stage: drops trailing blanks and tabs from lines, turns formfeeds
//! into newlines and strips the escape bytes that protect comments, as upstream's
//! `trimmer` does after the tabwriter.

use super::tabwriter::ESCAPE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting blanks that are only written if text follows on the same line.
    Space,
    /// Inside an escaped segment, which is copied verbatim.
    Escape,
    /// Inside ordinary text.
    Text,
}

/// A streaming filter into a growing byte buffer. Text is only ever copied out of the
/// chunk handed to [`Trimmer::write`]; pending blanks are the only thing buffered.
pub(crate) struct Trimmer {
    out: Vec<u8>,
    state: State,
    /// Blanks seen since the last text, held back until we know the line goes on.
    space: Vec<u8>,
}

impl Trimmer {
    pub(crate) fn with_capacity(capacity: usize) -> Trimmer {
        Trimmer {
            out: Vec::with_capacity(capacity),
            state: State::Space,
            space: Vec::with_capacity(64),
        }
    }

    fn reset_space(&mut self) {
        self.state = State::Space;
        self.space.clear();
    }

    /// Filters one chunk. Upstream resets its text start at every call and flushes
    /// open text at the end of it, so chunk boundaries are kept meaningful here too.
    pub(crate) fn write(&mut self, data: &[u8]) {
        let mut text_start = 0;
        for (off, &raw) in data.iter().enumerate() {
            let b = if raw == b'\x0B' { b'\t' } else { raw };
            match self.state {
                State::Space => match b {
                    b'\t' | b' ' => self.space.push(b),
                    b'\n' | b'\x0C' => {
                        self.reset_space();
                        self.out.push(b'\n');
                    }
                    ESCAPE => {
                        self.out.extend_from_slice(&self.space);
                        self.state = State::Escape;
                        text_start = off + 1;
                    }
                    _ => {
                        self.out.extend_from_slice(&self.space);
                        self.state = State::Text;
                        text_start = off;
                    }
                },
                State::Text => match b {
                    b'\t' | b' ' => {
                        self.out.extend_from_slice(&data[text_start..off]);
                        self.reset_space();
                        self.space.push(b);
                    }
                    b'\n' | b'\x0C' => {
                        self.out.extend_from_slice(&data[text_start..off]);
                        self.reset_space();
                        self.out.push(b'\n');
                    }
                    ESCAPE => {
                        self.out.extend_from_slice(&data[text_start..off]);
                        self.state = State::Escape;
                        text_start = off + 1;
                    }
                    _ => {}
                },
                State::Escape => {
                    if b == ESCAPE {
                        self.out.extend_from_slice(&data[text_start..off]);
                        self.reset_space();
                    }
                }
            }
        }
        if self.state != State::Space {
            self.out.extend_from_slice(&data[text_start..]);
            self.reset_space();
        }
    }

    /// The filtered bytes. Pending blanks at the very end are dropped.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.out
    }
}
