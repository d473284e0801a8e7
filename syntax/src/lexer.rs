//! The scanner: logos recognises tokens; this wrapper adds upstream's terminator
//! insertion, comment handling, escape checks and error messages (LANGUAGE.md §1–2).
//!
//! Scanning never stops at an error: each problem is recorded with its byte offset and
//! a best-effort token is returned, as upstream's scanner does.

use crate::diag::Span;
use crate::token::Token;
use logos::Logos;

/// ASCII identifier bytes: 1 for letters and `_` (may start one), 2 for digits.
static IDENT_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            table[c] = 1;
        } else if b.is_ascii_digit() {
            table[c] = 2;
        }
        c += 1;
    }
    table
};

/// The tokens that are always one byte, with whether a newline after them ends the
/// statement: looked up rather than matched, as this runs for every other token.
static SINGLE_BYTE: [Option<(Token, bool)>; 256] = {
    let mut table = [None; 256];
    table[b'\n' as usize] = Some((Token::Terminator, false));
    table[b'{' as usize] = Some((Token::LCurly, false));
    table[b'}' as usize] = Some((Token::RCurly, true));
    table[b'[' as usize] = Some((Token::LBrack, false));
    table[b']' as usize] = Some((Token::RBrack, true));
    table[b'(' as usize] = Some((Token::LParen, false));
    table[b')' as usize] = Some((Token::RParen, true));
    table[b',' as usize] = Some((Token::Comma, false));
    table
};

/// What logos recognises. Multi-character constructs whose rules are stateful
/// (strings, block comments) are only recognised by their opening characters and then
/// scanned by hand, so that errors land exactly where upstream reports them.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"[ \t\r]+")]
enum Raw {
    #[token("\n")]
    Newline,
    #[regex(r"[\p{L}_][\p{L}\p{Nd}_]*")]
    Ident,
    #[token("true")]
    #[token("false")]
    Bool,
    #[token("null")]
    Null,
    // Upstream's scanNumber is greedy in exactly this shape; a missing exponent digit is
    // checked afterwards so `10E` is still one FLOAT token.
    #[regex(r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]*)?")]
    #[regex(r"\.[0-9]+([eE][+-]?[0-9]*)?")]
    Number,
    #[token("\"")]
    DoubleQuote,
    #[token("`")]
    Backtick,
    #[token("'")]
    SingleQuote,
    #[regex(r"//[^\n]*", allow_greedy = true)]
    LineComment,
    #[token("/*")]
    BlockCommentStart,
    #[token("||")]
    Or,
    #[token("|")]
    LonePipe,
    #[token("&&")]
    And,
    #[token("&")]
    LoneAmp,
    #[token("!")]
    Not,
    #[token("!=")]
    Neq,
    #[token("=")]
    Assign,
    #[token("==")]
    Eq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Lte,
    #[token(">")]
    Gt,
    #[token(">=")]
    Gte,
    #[token("+")]
    Add,
    #[token("-")]
    Sub,
    #[token("*")]
    Mul,
    #[token("/")]
    Div,
    #[token("%")]
    Mod,
    #[token("^")]
    Pow,
    #[token("{")]
    LCurly,
    #[token("}")]
    RCurly,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBrack,
    #[token("]")]
    RBrack,
    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
}

/// One scanned token: its kind and the bytes it covers. A TERMINATOR covers its
/// newline, or nothing when it stands for EOF or for the end of a line that a comment
/// runs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tok {
    pub kind: Token,
    pub span: Span,
}

/// A scanner error: the byte offset upstream reports it at, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub offset: u32,
    pub message: String,
}

const BOM: char = '\u{FEFF}';

/// A byte that stands in for each invalid UTF-8 byte of a source given as bytes, so
/// offsets are kept; the lexer knows which occurrences are substitutes.
pub const INVALID_UTF8_SUBSTITUTE: u8 = 0x1A;

/// The scanner over one source text.
pub struct Lexer<'s> {
    src: &'s str,
    /// Where scanning stands: the end of the last token. The fast paths move only
    /// this; `inner` catches up when logos is next asked for a token, which spares
    /// its bookkeeping on most tokens.
    pos: usize,
    inner: logos::Lexer<'s, Raw>,
    /// Whether a newline (or EOF, or a comment running to the line's end) should
    /// produce a TERMINATOR.
    insert_term: bool,
    /// A comment token held back while the TERMINATOR before it is returned.
    pending: Option<Tok>,
    /// Set once EOF has been returned; further calls keep returning EOF.
    at_eof: bool,
    /// Offsets of substituted invalid UTF-8 bytes, sorted.
    invalid_utf8: Vec<u32>,
    /// Whether comments are returned as tokens or skipped.
    include_comments: bool,
    /// Whether newlines insert terminators (the conformance data scans without).
    insert_terminators: bool,
    errors: Vec<ScanError>,
}

impl<'s> Lexer<'s> {
    /// A lexer returning comments as tokens and inserting terminators, as the parser
    /// uses it. Errors about the raw bytes (NUL, BOM, bad UTF-8) are reported up front.
    pub fn new(src: &'s str) -> Lexer<'s> {
        Lexer::with_invalid_utf8(src, Vec::new())
    }

    /// Like [`Lexer::new`], for a source in which the bytes at `invalid_utf8` were
    /// invalid UTF-8 and replaced by [`INVALID_UTF8_SUBSTITUTE`].
    pub fn with_invalid_utf8(src: &'s str, invalid_utf8: Vec<u32>) -> Lexer<'s> {
        let mut inner = Raw::lexer(src);
        if src.starts_with(BOM) {
            // A byte order mark is allowed only as the very first character.
            inner.bump(BOM.len_utf8());
        }
        let mut lexer = Lexer {
            src,
            pos: inner.span().end,
            inner,
            insert_term: false,
            pending: None,
            at_eof: false,
            invalid_utf8,
            include_comments: true,
            insert_terminators: true,
            errors: Vec::new(),
        };
        lexer.report_byte_errors();
        lexer
    }

    /// Turns terminator insertion off, as the conformance scanner cases require.
    pub fn without_terminators(mut self) -> Lexer<'s> {
        self.insert_terminators = false;
        self
    }

    /// Skips comments instead of returning them.
    pub fn without_comments(mut self) -> Lexer<'s> {
        self.include_comments = false;
        self
    }

    pub fn source(&self) -> &'s str {
        self.src
    }

    /// Errors found so far, in the order found; draining them keeps the order of
    /// scanner and parser diagnostics the same as upstream's.
    pub fn take_errors(&mut self) -> Vec<ScanError> {
        std::mem::take(&mut self.errors)
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.errors.push(ScanError {
            offset: offset as u32,
            message: message.into(),
        });
    }

    /// NUL bytes, misplaced byte order marks and invalid UTF-8 are errors wherever
    /// they occur, even inside strings and comments (upstream checks every character
    /// it reads).
    fn report_byte_errors(&mut self) {
        let bytes = self.src.as_bytes();
        let mut found = Vec::new();
        // The BOM's first byte (0xEF) also starts other characters; check the rest.
        for i in memchr::memchr3_iter(0, 0xEF, INVALID_UTF8_SUBSTITUTE, bytes) {
            match bytes[i] {
                0 => found.push((i, "illegal character NUL")),
                0xEF if i > 0 && bytes[i..].starts_with("\u{FEFF}".as_bytes()) => {
                    found.push((i, "illegal byte order mark"))
                }
                INVALID_UTF8_SUBSTITUTE if self.is_invalid_utf8_at(i) => {
                    found.push((i, "illegal UTF-8 encoding"))
                }
                _ => {}
            }
        }
        for (offset, message) in found {
            self.error(offset, message);
        }
    }

    fn is_invalid_utf8_at(&self, offset: usize) -> bool {
        self.invalid_utf8.binary_search(&(offset as u32)).is_ok()
    }

    /// Scans the next token. Blanks, single-byte tokens and the common tokens of
    /// [`Lexer::fast_token`] are handled here, inlined into the caller; the rest
    /// (logos, comments, EOF) goes out of line, so the usual token costs no more than
    /// a small function's worth of registers.
    #[inline(always)]
    pub fn next_token(&mut self) -> Tok {
        if self.pending.is_some() || self.at_eof {
            return self.next_token_slow();
        }
        let pos = self.pos;
        let i = self.skip_blanks(pos);
        if let Some(tok) = self.single_byte_token(i) {
            return tok;
        }
        if let Some(tok) = self.fast_token(i) {
            return tok;
        }
        self.next_token_slow()
    }

    /// The first byte at or after `pos` that is not a blank (nor a newline that
    /// inserts no terminator).
    #[inline(always)]
    fn skip_blanks(&self, pos: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut i = pos;
        while let Some(&b) = bytes.get(i) {
            match b {
                b' ' | b'\t' | b'\r' => i += 1,
                b'\n' if !self.insert_term => i += 1,
                _ => break,
            }
        }
        i
    }

    /// Newlines and single-byte brackets need no matching at all.
    #[inline(always)]
    fn single_byte_token(&mut self, i: usize) -> Option<Tok> {
        let &b = self.src.as_bytes().get(i)?;
        let (kind, insert_term) = SINGLE_BYTE[b as usize]?;
        self.pos = i + 1;
        if self.insert_terminators {
            self.insert_term = insert_term;
        }
        Some(Tok {
            kind,
            span: Span::new(i as u32, i as u32 + 1),
        })
    }

    /// Everything [`Lexer::next_token`] does not do inline.
    #[inline(never)]
    fn next_token_slow(&mut self) -> Tok {
        if let Some(tok) = self.pending.take() {
            return tok;
        }
        loop {
            if self.at_eof {
                return Tok {
                    kind: Token::Eof,
                    span: Span::point(self.src.len() as u32),
                };
            }
            // Fast path, before the automaton: runs of blanks are long in aligned configs,
            // and newlines and single-byte brackets need no matching at all. Everything
            // else goes through logos.
            let i = self.skip_blanks(self.pos);
            if let Some(tok) = self.single_byte_token(i) {
                return tok;
            }
            if let Some(tok) = self.fast_token(i) {
                return tok;
            }
            // Bring logos up to where we stand.
            let at = self.inner.span().end;
            if i > at {
                self.inner.bump(i - at);
            }
            let raw = self.inner.next();
            self.pos = self.inner.span().end;
            let Some(raw) = raw else {
                self.pos = self.src.len();
                let end = self.src.len() as u32;
                if self.insert_term {
                    self.insert_term = false;
                    return Tok {
                        kind: Token::Terminator,
                        span: Span::point(end),
                    };
                }
                self.at_eof = true;
                return Tok {
                    kind: Token::Eof,
                    span: Span::point(end),
                };
            };
            let span = self.inner.span();
            let start = span.start;
            let (kind, insert_term) = match raw {
                Ok(Raw::Newline) => {
                    if self.insert_term {
                        self.insert_term = false;
                        return Tok {
                            kind: Token::Terminator,
                            span: to_span(span),
                        };
                    }
                    continue;
                }
                Ok(Raw::Ident) => (Token::Ident, true),
                Ok(Raw::Bool) => (Token::Bool, true),
                Ok(Raw::Null) => (Token::Null, true),
                Ok(Raw::Number) => (self.number(span.clone()), true),
                Ok(Raw::DoubleQuote) => {
                    self.scan_string(start, '"', true, false);
                    (Token::String, true)
                }
                Ok(Raw::Backtick) => {
                    self.scan_string(start, '`', false, true);
                    (Token::String, true)
                }
                Ok(Raw::SingleQuote) => {
                    self.error(start, "illegal single-quoted string; use double quotes");
                    self.scan_string(start, '\'', true, false);
                    (Token::Illegal, true)
                }
                Ok(Raw::LineComment) | Ok(Raw::BlockCommentStart) => {
                    if raw == Ok(Raw::BlockCommentStart) {
                        self.scan_block_comment(start);
                    }
                    let comment = Tok {
                        kind: Token::Comment,
                        span: Span::new(start as u32, self.pos as u32),
                    };
                    let ends_line = self.insert_term && self.find_line_end(start);
                    self.insert_term = false;
                    if !self.include_comments {
                        continue;
                    }
                    if ends_line {
                        // The statement ends where the comment starts; the comment
                        // itself comes next.
                        self.pending = Some(comment);
                        return Tok {
                            kind: Token::Terminator,
                            span: Span::point(start as u32),
                        };
                    }
                    return comment;
                }
                Ok(Raw::Or) => (Token::Or, false),
                Ok(Raw::LonePipe) => {
                    self.error(span.end, "missing second | in ||");
                    (Token::Or, false)
                }
                Ok(Raw::And) => (Token::And, false),
                Ok(Raw::LoneAmp) => {
                    self.error(span.end, "missing second & in &&");
                    (Token::And, false)
                }
                Ok(Raw::Not) => (Token::Not, false),
                Ok(Raw::Neq) => (Token::Neq, false),
                Ok(Raw::Assign) => (Token::Assign, false),
                Ok(Raw::Eq) => (Token::Eq, false),
                Ok(Raw::Lt) => (Token::Lt, false),
                Ok(Raw::Lte) => (Token::Lte, false),
                Ok(Raw::Gt) => (Token::Gt, false),
                Ok(Raw::Gte) => (Token::Gte, false),
                Ok(Raw::Add) => (Token::Add, false),
                Ok(Raw::Sub) => (Token::Sub, false),
                Ok(Raw::Mul) => (Token::Mul, false),
                Ok(Raw::Div) => (Token::Div, false),
                Ok(Raw::Mod) => (Token::Mod, false),
                Ok(Raw::Pow) => (Token::Pow, false),
                Ok(Raw::LCurly) => (Token::LCurly, false),
                Ok(Raw::RCurly) => (Token::RCurly, true),
                Ok(Raw::LParen) => (Token::LParen, false),
                Ok(Raw::RParen) => (Token::RParen, true),
                Ok(Raw::LBrack) => (Token::LBrack, false),
                Ok(Raw::RBrack) => (Token::RBrack, true),
                Ok(Raw::Comma) => (Token::Comma, false),
                Ok(Raw::Dot) => (Token::Dot, false),
                Err(()) => {
                    self.illegal_char(start);
                    // An illegal character keeps the terminator state it found.
                    (Token::Illegal, self.insert_term)
                }
            };
            if self.insert_terminators {
                self.insert_term = insert_term;
            }
            return Tok {
                kind,
                span: Span::new(start as u32, self.pos as u32),
            };
        }
    }

    /// The common tokens of real configs (ASCII identifiers and keywords, `"` strings,
    /// `=` and `.`) without the automaton, which costs several times more per token.
    /// `i` is the first byte after blanks. Returns `None` to let logos decide,
    /// having consumed nothing.
    #[inline(always)]
    fn fast_token(&mut self, i: usize) -> Option<Tok> {
        let bytes = self.src.as_bytes();
        let b = *bytes.get(i)?;
        let (kind, end, insert_term) = if IDENT_BYTE[b as usize] == 1 {
            let end = i
                + 1
                + bytes[i + 1..]
                    .iter()
                    .position(|&c| IDENT_BYTE[c as usize] == 0)
                    .unwrap_or(bytes.len() - i - 1);
            // A non-ASCII letter may continue the identifier: Unicode classes are
            // logos's job.
            if bytes.get(end).is_some_and(|b| !b.is_ascii()) {
                return None;
            }
            let kind = match &bytes[i..end] {
                b"true" | b"false" => Token::Bool,
                b"null" => Token::Null,
                _ => Token::Ident,
            };
            (kind, end, true)
        } else if b == b'"' {
            self.scan_string(i, '"', true, false);
            (Token::String, self.pos, true)
        } else if b == b'=' && bytes.get(i + 1) != Some(&b'=') {
            (Token::Assign, i + 1, false)
        } else if b == b'.' && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            (Token::Dot, i + 1, false)
        } else {
            return None;
        };
        self.pos = end;
        if self.insert_terminators {
            self.insert_term = insert_term;
        }
        Some(Tok {
            kind,
            span: Span::new(i as u32, end as u32),
        })
    }

    /// Checks a number literal's exponent and tells NUMBER from FLOAT.
    fn number(&mut self, span: std::ops::Range<usize>) -> Token {
        let text = &self.src[span.clone()];
        if let Some(e) = text.find(['e', 'E']) {
            let digits = text[e + 1..].trim_start_matches(['+', '-']);
            if digits.is_empty() {
                self.error(span.start, "exponent has no digits");
            }
            return Token::Float;
        }
        if text.contains('.') {
            Token::Float
        } else {
            Token::Number
        }
    }

    /// Reports the character at `start` (logos could not match it) and steps over it.
    fn illegal_char(&mut self, start: usize) {
        let ch = self.src[start..].chars().next().unwrap_or('\0');
        // logos reports the error over at least the first byte; cover the whole char.
        self.pos = self.pos.max(start + ch.len_utf8());
        if ch == BOM {
            // The misplaced BOM was already reported with the byte errors.
            return;
        }
        let message =
            if ch as u32 == INVALID_UTF8_SUBSTITUTE as u32 && self.is_invalid_utf8_at(start) {
                format!("illegal character {}", go_quote_rune('\u{FFFD}'))
            } else {
                format!("illegal character {}", go_quote_rune(ch))
            };
        self.error(start, message);
    }

    /// Scans a string body after its opening quote at `start`, up to and including the
    /// closing `until`, reporting escape errors as upstream does.
    fn scan_string(&mut self, start: usize, until: char, escapes: bool, multiline: bool) {
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        loop {
            // Jump to the next byte that can matter: the quote, an escape or a newline.
            // Everything between is plain text (multi-byte characters included).
            i = find_string_stop(bytes, i, until as u8);
            let Some(&b) = bytes.get(i) else {
                self.error(start, "string literal not terminated");
                break;
            };
            if b == b'\n' && !multiline {
                self.error(start, "string literal not terminated");
                break;
            }
            let ch_len = utf8_len(b);
            i += ch_len;
            if b as u32 == until as u32 {
                break;
            }
            if escapes && b == b'\\' {
                i = self.scan_escape(i);
            }
        }
        self.pos = i;
    }

    /// Checks the escape sequence whose first character (after `\`) is at `i`; returns
    /// the offset after it, or of the offending character (which is not consumed).
    fn scan_escape(&mut self, i: usize) -> usize {
        let bytes = self.src.as_bytes();
        let (mut n, base, max, mut j) = match bytes.get(i) {
            Some(b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'\\' | b'"') => return i + 1,
            Some(b'0'..=b'7') => (3, 8, 255, i),
            Some(b'x') => (2, 16, 255, i + 1),
            Some(b'u') => (4, 16, 0x10FFFF, i + 1),
            Some(b'U') => (8, 16, 0x10FFFF, i + 1),
            Some(_) => {
                self.error(i, "unknown escape sequence");
                return i;
            }
            None => {
                self.error(i, "escape sequence not terminated");
                return i;
            }
        };
        let mut x: u32 = 0;
        while n > 0 {
            let Some(ch) = self.src[j.min(self.src.len())..].chars().next() else {
                self.error(i, "escape sequence not terminated");
                return j;
            };
            let d = ch.to_digit(16).filter(|_| ch.is_ascii()).unwrap_or(16);
            if d >= base {
                self.error(
                    i,
                    format!("illegal character {} in escape sequence", go_quote_rune(ch)),
                );
                return j;
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            j += 1;
            n -= 1;
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            self.error(i, "escape sequence is invalid Unicode code point");
        }
        j
    }

    /// Scans a block comment whose `/*` starts at `start`.
    fn scan_block_comment(&mut self, start: usize) {
        match self.src[start + 2..].find("*/") {
            Some(pos) => {
                self.pos = start + 2 + pos + 2;
            }
            None => {
                self.error(start, "block comment not terminated");
                self.pos = self.src.len();
            }
        }
    }

    /// Whether the comment at `start` (and any comments after it on the same line)
    /// runs to the end of the line, so the pending terminator goes before it.
    fn find_line_end(&self, start: usize) -> bool {
        let bytes = self.src.as_bytes();
        let mut i = start;
        while i < bytes.len() && bytes[i] == b'/' {
            match bytes.get(i + 1) {
                Some(b'/') => return true,
                Some(b'*') => {
                    let body = &self.src[i + 2..];
                    match body.find("*/") {
                        Some(end) => {
                            if body[..end].contains('\n') {
                                return true;
                            }
                            i += 2 + end + 2;
                        }
                        // An unterminated comment runs to EOF, which ends the line.
                        None => return true,
                    }
                    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r') {
                        i += 1;
                    }
                    if i >= bytes.len() || bytes[i] == b'\n' {
                        return true;
                    }
                }
                _ => return false,
            }
        }
        false
    }
}

impl Iterator for Lexer<'_> {
    type Item = Tok;

    /// Yields tokens up to and including the first EOF.
    fn next(&mut self) -> Option<Tok> {
        if self.at_eof && self.pending.is_none() {
            return None;
        }
        Some(self.next_token())
    }
}

fn to_span(range: std::ops::Range<usize>) -> Span {
    Span::new(range.start as u32, range.end as u32)
}

/// The first byte at or after `i` that can end a run of plain string text: `delim`,
/// a backslash or a newline; `bytes.len()` if none. Most strings end within a few
/// words, which are checked eight bytes at a time before memchr is set up.
#[inline]
fn find_string_stop(bytes: &[u8], i: usize, delim: u8) -> usize {
    /// Words to check by hand; longer strings are left to memchr's vector loop.
    const SHORT_WORDS: usize = 4;
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Sets the high bit of the lowest zero byte of `x` (bits above it may be
    // wrong, which does not matter when only the lowest is looked at).
    let zero_byte = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut i = i;
    for _ in 0..SHORT_WORDS {
        let Some(word) = bytes.get(i..i + 8) else {
            break;
        };
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let hits = zero_byte(w ^ (LO * delim as u64))
            | zero_byte(w ^ (LO * b'\\' as u64))
            | zero_byte(w ^ (LO * b'\n' as u64));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    match memchr::memchr3(delim, b'\\', b'\n', bytes.get(i..).unwrap_or(&[])) {
        Some(skip) => i + skip,
        None => bytes.len(),
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        // A continuation byte never starts a char in valid UTF-8.
        _ => 1,
    }
}

/// Go's `%#U` rendering of a rune: `U+0007`, or `U+2026 '…'` when printable.
pub fn go_quote_rune(ch: char) -> String {
    if is_go_printable(ch) {
        format!("U+{:04X} '{}'", ch as u32, ch)
    } else {
        format!("U+{:04X}", ch as u32)
    }
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the ASCII space.
pub fn is_go_printable(ch: char) -> bool {
    if ch == ' ' {
        return true;
    }
    if ch.is_control() || ch.is_whitespace() {
        return false;
    }
    // Format characters (category Cf), private use and unassigned code points are
    // not printable in Go; these are the ones that occur in practice.
    !matches!(ch as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF
        | 0xF0000..=0x10FFFF)
}

/// Removes `\r` from comment text as upstream's scanner does: a final `\r` of a line
/// comment goes, and in block comments every `\r` goes unless it sits between `*` and
/// `/` (removing it there would close the comment early).
pub fn strip_comment_cr(raw: &str) -> String {
    let mut text = raw;
    let block = raw.starts_with("/*");
    if !block {
        text = text.strip_suffix('\r').unwrap_or(text);
    }
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    for (j, &ch) in bytes.iter().enumerate() {
        let keep_between_star_slash =
            block && out.len() > 2 && out.last() == Some(&b'*') && bytes.get(j + 1) == Some(&b'/');
        if ch != b'\r' || keep_between_star_slash {
            out.push(ch);
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether `s` scans as exactly one identifier covering all of it.
pub fn is_valid_identifier(s: &str) -> bool {
    // ASCII names, the usual case, are decided without a lexer.
    let bytes = s.as_bytes();
    if bytes.is_ascii() {
        return bytes.first().is_some_and(|&b| IDENT_BYTE[b as usize] == 1)
            && bytes.iter().all(|&b| IDENT_BYTE[b as usize] != 0)
            && !matches!(s, "true" | "false" | "null");
    }
    let mut lexer = Lexer::new(s).without_terminators();
    let first = lexer.next_token();
    first.kind == Token::Ident
        && first.span == Span::new(0, s.len() as u32)
        && lexer.next_token().kind == Token::Eof
        && !lexer.has_errors()
}

/// Makes a valid identifier out of `s`, as upstream's converters do (LANGUAGE.md §2.2).
pub fn sanitize_identifier(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("cannot generate a new identifier for an empty string".to_string());
    }
    if is_valid_identifier(s) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len() + 1);
    if s.chars().next().is_some_and(|c| c.is_numeric()) {
        out.push('_');
    }
    for c in s.chars() {
        out.push(if c.is_alphanumeric() { c } else { '_' });
    }
    Ok(out)
}

/// Converts bytes to text for scanning: valid UTF-8 is borrowed; otherwise each invalid
/// byte is replaced by [`INVALID_UTF8_SUBSTITUTE`] and its offset returned, so the
/// lexer can report it where upstream does.
pub fn decode_source(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, Vec<u32>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), Vec::new()),
        Err(_) => {
            let mut out = Vec::with_capacity(bytes.len());
            let mut invalid = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        out.extend_from_slice(s.as_bytes());
                        break;
                    }
                    Err(e) => {
                        let good = e.valid_up_to();
                        out.extend_from_slice(&rest[..good]);
                        let bad = e.error_len().unwrap_or(rest.len() - good);
                        for _ in 0..bad {
                            invalid.push(out.len() as u32);
                            out.push(INVALID_UTF8_SUBSTITUTE);
                        }
                        rest = &rest[good + bad..];
                    }
                }
            }
            let text = String::from_utf8(out).expect("invalid bytes were all replaced by ASCII");
            (std::borrow::Cow::Owned(text), invalid)
        }
    }
}
