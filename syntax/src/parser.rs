//! The parser: a recursive-descent port of upstream's LL(1) grammar (LANGUAGE.md §3)
//! with the same error recovery, so one run reports the same errors at the same places.
//!
//! Recovery rules that shape the output (§3.5): at most one parser error per line
//! (scanner errors are exempt); a bad statement skips to the next identifier or
//! terminator; a bad expression becomes `null` and skips to the end of the element.
//!
//! The parser is hand-written rather than built with a combinator library because
//! upstream's recovery is imperative (an `expect` consumes the wrong token anyway, the
//! per-line error filter depends on the order errors are found in), and byte-exact
//! diagnostics are the contract `validate` users and the conformance data hold us to.

use crate::ast::{self, Expr};
use crate::diag::{Diagnostic, Span};
use crate::lexer::{Lexer, Tok};
use crate::token::Token;
use std::sync::Arc;

/// The result of parsing: always a tree, plus every diagnostic found. The tree is only
/// meaningful when no diagnostic is an error.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub file: ast::File,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses a whole file named `filename` (used in diagnostics; may be empty).
pub fn parse_file(filename: &str, src: &str) -> Parsed {
    let mut p = Parser::new(filename, Lexer::new(src));
    let body = p.parse_body(Token::Eof);
    Parsed {
        file: ast::File {
            body,
            comments: p.comments,
        },
        diagnostics: p.diags,
    }
}

/// Parses a file given as bytes. Invalid UTF-8 is reported where it occurs; the text
/// the spans point into (with invalid bytes substituted) is returned with the result.
pub fn parse_bytes(filename: &str, src: &[u8]) -> (String, Parsed) {
    let (text, invalid) = crate::lexer::decode_source(src);
    parse_text(filename, text.into_owned(), invalid)
}

/// [`parse_bytes`] for bytes the caller gives up: valid UTF-8 becomes the text without
/// a copy, which matters for multi-megabyte files.
pub fn parse_owned(filename: &str, src: Vec<u8>) -> (String, Parsed) {
    match String::from_utf8(src) {
        Ok(text) => parse_text(filename, text, Vec::new()),
        Err(err) => parse_bytes(filename, err.as_bytes()),
    }
}

fn parse_text(filename: &str, text: String, invalid: Vec<u32>) -> (String, Parsed) {
    let parsed = {
        let mut p = Parser::new(filename, Lexer::with_invalid_utf8(&text, invalid));
        let body = p.parse_body(Token::Eof);
        Parsed {
            file: ast::File {
                body,
                comments: p.comments,
            },
            diagnostics: p.diags,
        }
    };
    (text, parsed)
}

/// Parses one expression followed by end of input (a terminator).
pub fn parse_expression(filename: &str, src: &str) -> (Expr, Vec<Diagnostic>) {
    let mut p = Parser::new(filename, Lexer::new(src));
    let expr = p.parse_expr();
    p.expect(Token::Terminator);
    (expr, p.diags)
}

/// A file parsed one top-level statement at a time, for callers that handle each
/// statement and drop it (`ferroalloy fmt` on large files), so the whole tree never
/// exists at once. Statements and diagnostics are those of [`parse_file`]; comments
/// are not kept (see [`CommentGroups`]).
pub struct Statements<'s> {
    p: Parser<'s>,
}

impl<'s> Statements<'s> {
    /// Starts parsing `src`, named `filename` in diagnostics.
    pub fn new(filename: &str, src: &'s str) -> Statements<'s> {
        Statements {
            p: Parser::new(filename, Lexer::new(src)),
        }
    }

    /// The next statement that parsed, or `None` at the end of the file.
    pub fn next_stmt(&mut self) -> Option<ast::Stmt> {
        loop {
            let step = self.p.body_step(Token::Eof);
            // Nobody asked for comments here; the printer scans them itself.
            self.p.comments.clear();
            match step {
                None => return None,
                Some(Some(stmt)) => return Some(stmt),
                Some(None) => {}
            }
        }
    }

    /// Whether an error has been found so far.
    pub fn has_errors(&self) -> bool {
        self.p.diags.iter().any(Diagnostic::is_error)
    }

    /// Every diagnostic found so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.p.diags
    }

    /// Parses what is left and returns all diagnostics.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        while self.next_stmt().is_some() {}
        self.p.diags
    }
}

impl Iterator for Statements<'_> {
    type Item = ast::Stmt;

    fn next(&mut self) -> Option<ast::Stmt> {
        self.next_stmt()
    }
}

/// The comment groups of a source, found by scanning alone, for a source that
/// parses without errors. The lexer does not depend on the parser, and between two
/// comments with only blanks between them it returns no token (not even a
/// terminator), so these are the groups [`parse_file`] records in
/// [`ast::File::comments`]; the formatter reads them ahead of the statements it
/// prints when the file is parsed statement by statement ([`Statements`]).
///
/// Only strings and comments matter here, so this skips from quote to quote and
/// slash to slash instead of lexing every token (a test compares it with the parser
/// over every fixture that parses).
pub struct CommentGroups<'s> {
    src: &'s str,
    lines: LineCursor<'s>,
    /// The next comment not yet in a group.
    pending: Option<Span>,
}

impl<'s> CommentGroups<'s> {
    pub fn new(src: &'s str) -> CommentGroups<'s> {
        // A byte order mark may only come first, where the lexer skips it.
        let start = if src.starts_with('\u{FEFF}') { 3 } else { 0 };
        let mut groups = CommentGroups {
            src,
            lines: LineCursor {
                src,
                offset: 0,
                line: 1,
            },
            pending: None,
        };
        groups.pending = groups.next_comment(start, false).map(|(span, _)| span);
        groups
    }

    /// The first comment at or after `from`, and whether only blanks lie between
    /// `from` and it (`from` being where a comment ended when `after_comment`).
    fn next_comment(&self, from: usize, after_comment: bool) -> Option<(Span, bool)> {
        let bytes = self.src.as_bytes();
        let mut i = from;
        let mut adjacent = after_comment;
        if adjacent {
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
        }
        loop {
            let k = i + memchr::memchr3(b'"', b'`', b'/', bytes.get(i..)?)?;
            if k > i {
                adjacent = false;
            }
            match bytes[k] {
                b'"' => {
                    // Skip the string, escapes included: a `\"` does not end it.
                    let mut j = k + 1;
                    loop {
                        j += memchr::memchr2(b'"', b'\\', bytes.get(j..)?)?;
                        if bytes[j] == b'"' {
                            break;
                        }
                        j += 2;
                    }
                    i = j + 1;
                    adjacent = false;
                }
                b'`' => {
                    i = k + 1 + memchr::memchr(b'`', bytes.get(k + 1..)?)? + 1;
                    adjacent = false;
                }
                _ => match bytes.get(k + 1) {
                    Some(b'/') => {
                        let end = memchr::memchr(b'\n', &bytes[k..]).map_or(bytes.len(), |n| k + n);
                        return Some((Span::new(k as u32, end as u32), adjacent));
                    }
                    Some(b'*') => {
                        let end = memchr::memmem::find(&bytes[k + 2..], b"*/")
                            .map_or(bytes.len(), |n| k + 2 + n + 2);
                        return Some((Span::new(k as u32, end as u32), adjacent));
                    }
                    // A division.
                    _ => {
                        i = k + 1;
                        adjacent = false;
                    }
                },
            }
        }
    }

    /// The line a comment ends on.
    fn end_line(&mut self, span: Span) -> u32 {
        let newlines = memchr::memchr_iter(b'\n', &self.src.as_bytes()[span.range()]).count();
        self.lines.line(span.start) + newlines as u32
    }
}

impl Iterator for CommentGroups<'_> {
    type Item = ast::CommentGroup;

    /// Groups as [`Parser::consume_comment_group`] forms them: comments with no
    /// token between them, each starting at most one line below where the one
    /// before it ended.
    fn next(&mut self) -> Option<ast::CommentGroup> {
        let first = self.pending.take()?;
        let mut group = vec![ast::Comment { span: first }];
        let mut end_line = self.end_line(first);
        let mut from = first.end as usize;
        loop {
            match self.next_comment(from, true) {
                Some((span, true)) if self.lines.line(span.start) <= end_line + 1 => {
                    end_line = self.end_line(span);
                    group.push(ast::Comment { span });
                    from = span.end as usize;
                }
                next => {
                    self.pending = next.map(|(span, _)| span);
                    return Some(group);
                }
            }
        }
    }
}

const CODE_SCAN: &str = "alloy::syntax::scan";
const CODE_PARSE: &str = "alloy::syntax::unexpected_token";
const CODE_ATTR_NAME: &str = "alloy::syntax::attribute_name";
const CODE_BLOCK_EXPR: &str = "alloy::syntax::block_as_expression";

struct Parser<'s> {
    src: &'s str,
    file: Arc<str>,
    lexer: Lexer<'s>,
    lines: LineCursor<'s>,
    diags: Vec<Diagnostic>,
    comments: Vec<ast::CommentGroup>,
    /// The current token.
    tok: Tok,
    /// Line of the last parser error; a second one on the same line is dropped.
    last_error_line: u32,
    /// Depth of the syntax tree being built at this point (nesting plus chain length).
    depth: u32,
    /// Elements of the lists being parsed, innermost last. A list is collected on
    /// top of its stack and moved out in one exactly sized allocation when it ends,
    /// instead of growing (and then shrinking) a vector of its own.
    stmt_stack: Vec<ast::Stmt>,
    name_stack: Vec<ast::Ident>,
    expr_stack: Vec<Expr>,
    field_stack: Vec<ast::ObjectField>,
}

/// Deepest syntax tree the parser builds. Everything that walks a tree (printer,
/// evaluator, drop) recurses, so an unbounded depth would let a hostile file overflow
/// the stack; real configs stay below 20. Upstream has no limit (Go stacks grow).
pub const MAX_DEPTH: u32 = 500;

/// Line numbers for offsets that mostly move forward: counting newlines from the last
/// query is cheaper than indexing every line of a large file up front.
struct LineCursor<'s> {
    src: &'s str,
    offset: u32,
    line: u32,
}

impl LineCursor<'_> {
    fn line(&mut self, offset: u32) -> u32 {
        let bytes = self.src.as_bytes();
        if offset >= self.offset {
            let end = (offset as usize).min(bytes.len());
            let start = (self.offset as usize).min(end);
            self.line += memchr::memchr_iter(b'\n', &bytes[start..end]).count() as u32;
        } else {
            let start = (offset as usize).min(bytes.len());
            let end = (self.offset as usize).min(bytes.len());
            self.line -= memchr::memchr_iter(b'\n', &bytes[start..end]).count() as u32;
        }
        self.offset = offset;
        self.line
    }
}

/// Moves the elements of `stack` from `base` on into a vector of exactly their
/// number. (`Vec::split_off(0)` would hand over the stack itself, slack included.)
fn take_list<T>(stack: &mut Vec<T>, base: usize) -> Vec<T> {
    if base > 0 {
        return stack.split_off(base);
    }
    let mut list = Vec::with_capacity(stack.len());
    list.append(stack);
    list
}

/// Whether the binary-operator loop at `in_prec` would take `op` as its next operator.
fn prec_continues(op: Token, in_prec: u8) -> bool {
    op != Token::Pow && op.binary_precedence() >= in_prec && op.binary_precedence() > 0
}

/// A statement's leading name, before we know whether it is an attribute or a block.
struct BlockName {
    /// Where the fragments start on the parser's `name_stack`: most statements are
    /// attributes, whose one-fragment name then needs no vector of its own.
    base: usize,
    /// The first fragment.
    first: ast::Ident,
    /// Number of fragments.
    count: usize,
    /// Sum of the fragments' literal lengths plus the dots, for the attribute-name span.
    joined_len: u32,
    label: Option<Span>,
}

impl BlockName {
    fn label_text<'s>(&self, src: &'s str) -> &'s str {
        match self.label {
            Some(span) if span.len() > 2 => src
                .get(span.start as usize + 1..span.end as usize - 1)
                .unwrap_or(""),
            _ => "",
        }
    }
}

impl<'s> Parser<'s> {
    fn new(filename: &str, lexer: Lexer<'s>) -> Parser<'s> {
        let src = lexer.source();
        let mut p = Parser {
            src,
            file: Arc::from(filename),
            lexer,
            lines: LineCursor {
                src,
                offset: 0,
                line: 1,
            },
            diags: Vec::new(),
            comments: Vec::new(),
            tok: Tok {
                kind: Token::Eof,
                span: Span::default(),
            },
            last_error_line: 0,
            depth: 0,
            stmt_stack: Vec::new(),
            name_stack: Vec::new(),
            expr_stack: Vec::new(),
            field_stack: Vec::new(),
        };
        p.next();
        p
    }

    /// Scans one token, moving any scanner errors into the diagnostics in order.
    #[inline(always)]
    fn next0(&mut self) {
        self.tok = self.lexer.next_token();
        if self.lexer.has_errors() {
            self.take_scan_errors();
        }
    }

    #[cold]
    fn take_scan_errors(&mut self) {
        for err in self.lexer.take_errors() {
            self.diags.push(Diagnostic::error(
                CODE_SCAN,
                &self.file,
                Span::point(err.offset),
                err.message,
            ));
        }
    }

    /// Advances to the next non-comment token, collecting comment groups.
    #[inline]
    fn next(&mut self) {
        self.next0();
        while self.tok.kind == Token::Comment {
            self.consume_comment_group();
        }
    }

    /// Collects one comment group. [`CommentGroups`] forms groups the same way.
    fn consume_comment_group(&mut self) {
        let mut group = Vec::new();
        let mut end_line = self.lines.line(self.tok.span.start);
        while self.tok.kind == Token::Comment
            && self.lines.line(self.tok.span.start) <= end_line + 1
        {
            let span = self.tok.span;
            // A block comment ends on a later line when it contains newlines.
            end_line =
                self.lines.line(span.start) + self.src[span.range()].matches('\n').count() as u32;
            group.push(ast::Comment { span });
            self.next0();
        }
        self.comments.push(group);
    }

    fn pos(&self) -> u32 {
        self.tok.span.start
    }

    /// The token's literal text as upstream's scanner reports it (`""` for operators).
    fn lit(&self) -> &'s str {
        match self.tok.kind {
            Token::Ident
            | Token::Number
            | Token::Float
            | Token::String
            | Token::Bool
            | Token::Null
            | Token::Illegal
            | Token::Comment => &self.src[self.tok.span.range()],
            Token::Terminator => "\n",
            _ => "",
        }
    }

    fn add_error(&mut self, message: String) {
        let line = self.lines.line(self.pos());
        if line == self.last_error_line {
            return;
        }
        self.last_error_line = line;
        self.diags.push(Diagnostic::error(
            CODE_PARSE,
            &self.file,
            Span::point(self.pos()),
            message,
        ));
    }

    /// Consumes the current token, reporting an error if it is not `t`. Returns the
    /// position and kind of what was consumed.
    fn expect(&mut self, t: Token) -> (u32, Token) {
        let (pos, kind) = (self.pos(), self.tok.kind);
        if kind != t {
            self.add_error(format!("expected {t}, got {kind}"));
        }
        self.next();
        (pos, kind)
    }

    /// Skips tokens up to (not including) `to`, or EOF.
    fn advance(&mut self, to: Token) {
        while self.tok.kind != Token::Eof && self.tok.kind != to {
            self.next();
        }
    }

    /// Body = [ Statement { terminator Statement } ], up to `until` (not consumed).
    fn parse_body(&mut self, until: Token) -> ast::Body {
        let base = self.stmt_stack.len();
        while let Some(stmt) = self.body_step(until) {
            if let Some(stmt) = stmt {
                self.stmt_stack.push(stmt);
            }
        }
        // The tree lives as long as the file is in use: no growth slack.
        take_list(&mut self.stmt_stack, base)
    }

    /// One statement of a body and the terminator after it: `None` when the body
    /// has ended at `until` or EOF, `Some(None)` for a statement that did not parse.
    fn body_step(&mut self, until: Token) -> Option<Option<ast::Stmt>> {
        if self.tok.kind == until || self.tok.kind == Token::Eof {
            return None;
        }
        let stmt = self.parse_statement();
        if self.tok.kind != until {
            if self.tok.kind != Token::Terminator {
                self.add_error(format!(
                    "expected {}, got {}",
                    Token::Terminator,
                    self.tok.kind
                ));
                self.consume_statement();
            }
            self.next();
        }
        Some(stmt)
    }

    /// Skips the rest of a statement: up to a terminator outside any brackets the
    /// statement opened.
    fn consume_statement(&mut self) {
        let (mut curly, mut brack, mut paren) = (0i32, 0i32, 0i32);
        while self.tok.kind != Token::Eof {
            match self.tok.kind {
                Token::LCurly => curly += 1,
                Token::RCurly => curly -= 1,
                Token::LBrack => brack += 1,
                Token::RBrack => brack -= 1,
                Token::LParen => paren += 1,
                Token::RParen => paren -= 1,
                Token::Terminator if curly <= 0 && brack <= 0 && paren <= 0 => return,
                _ => {}
            }
            self.next();
        }
    }

    /// Statement = Attribute | Block.
    fn parse_statement(&mut self) -> Option<ast::Stmt> {
        let Some(name) = self.parse_block_name() else {
            self.advance(Token::Ident);
            return None;
        };
        match self.tok.kind {
            Token::Assign => {
                self.name_stack.truncate(name.base);
                self.next();
                let start = name.first.span.start;
                if name.count != 1 {
                    self.diags.push(Diagnostic::error(
                        CODE_ATTR_NAME,
                        &self.file,
                        Span::new(start, start + name.joined_len),
                        r#"attribute names may only consist of a single identifier with no ".""#,
                    ));
                } else if let Some(label) = name.label {
                    let label_len = name.label_text(self.src).len() as u32;
                    self.diags.push(Diagnostic::error(
                        CODE_ATTR_NAME,
                        &self.file,
                        Span::new(label.start, label.start + label_len + 2),
                        "attribute names may not have labels",
                    ));
                }
                let value = self.parse_expr();
                Some(ast::Stmt::Attribute(ast::Attribute {
                    name: name.first,
                    value,
                }))
            }
            Token::LCurly => {
                // Taken before the body's statements put their names on the stack.
                let fragments = if name.count == 1 {
                    vec![name.first]
                } else {
                    take_list(&mut self.name_stack, name.base)
                };
                let (lcurly, _) = self.expect(Token::LCurly);
                let body = if self.descend() {
                    self.parse_body(Token::RCurly)
                } else {
                    Vec::new()
                };
                self.depth -= 1;
                let (rcurly, _) = self.expect(Token::RCurly);
                Some(ast::Stmt::Block(Box::new(ast::Block {
                    name: fragments,
                    label: name.label,
                    lcurly,
                    body,
                    rcurly,
                })))
            }
            kind => {
                self.name_stack.truncate(name.base);
                if name.count == 1 && name.label_text(self.src).is_empty() {
                    self.add_error(format!(
                        "expected attribute assignment or block body, got {kind}"
                    ));
                } else {
                    self.add_error(format!("expected block body, got {kind}"));
                }
                self.advance(Token::Ident);
                None
            }
        }
    }

    /// BlockName = identifier { "." identifier } [ string ].
    fn parse_block_name(&mut self) -> Option<BlockName> {
        if self.tok.kind != Token::Ident {
            self.add_error(format!("expected identifier, got {}", self.tok.kind));
            return None;
        }
        let first = ast::Ident {
            span: self.tok.span,
        };
        let mut name = BlockName {
            base: self.name_stack.len(),
            first,
            count: 1,
            joined_len: self.lit().len() as u32,
            label: None,
        };
        self.next();
        while self.tok.kind == Token::Dot {
            self.next();
            if self.tok.kind != Token::Ident {
                // Keep going to parse as much as possible; the name is malformed.
                self.add_error(format!("expected identifier, got {}", self.tok.kind));
            }
            name.joined_len += 1 + self.lit().len() as u32;
            if name.count == 1 {
                self.name_stack.push(first);
            }
            name.count += 1;
            self.name_stack.push(ast::Ident {
                span: self.tok.span,
            });
            self.next();
        }
        if self.tok.kind != Token::Assign && self.tok.kind != Token::LCurly {
            if self.tok.kind == Token::String {
                let lit = self.lit();
                if !lit.starts_with('"') {
                    self.add_error(format!(
                        "expected block label to be a double quoted string, but got {}",
                        go_quote(lit)
                    ));
                }
                if lit.len() > 2 {
                    // Upstream drops the first and last byte; an unterminated label
                    // can end inside a character, which then shows as U+FFFD.
                    let label = match lit.get(1..lit.len() - 1) {
                        Some(inner) => std::borrow::Cow::Borrowed(inner),
                        None => String::from_utf8_lossy(&lit.as_bytes()[1..lit.len() - 1]),
                    };
                    let label = label.as_ref();
                    if !crate::lexer::is_valid_identifier(label) {
                        self.add_error(format!(
                            "expected block label to be a valid identifier, but got {}",
                            go_quote(label)
                        ));
                    }
                }
                name.label = Some(self.tok.span);
            } else {
                self.add_error(format!("expected block label, got {}", self.tok.kind));
            }
            self.next();
        }
        Some(name)
    }

    /// Goes one level deeper into the tree. Past [`MAX_DEPTH`] the rest of the file is
    /// skipped after one error, so every caller unwinds at EOF without recursing.
    fn descend(&mut self) -> bool {
        self.depth += 1;
        if self.depth <= MAX_DEPTH {
            return true;
        }
        if self.tok.kind != Token::Eof {
            self.diags.push(Diagnostic::error(
                CODE_PARSE,
                &self.file,
                Span::point(self.pos()),
                format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
            while self.tok.kind != Token::Eof {
                self.next0();
            }
        }
        false
    }

    fn null_at_pos(&self) -> Expr {
        Expr::Literal(ast::Literal {
            kind: Token::Null,
            span: Span::point(self.pos()),
        })
    }

    /// Expression = OrExpr (and the levels below it).
    fn parse_expr(&mut self) -> Expr {
        self.parse_binop(1)
    }

    /// Left-associative binary operators at precedence `in_prec` and above.
    fn parse_binop(&mut self, in_prec: u8) -> Expr {
        let saved = self.depth;
        let mut lhs = self.parse_pow();
        loop {
            if prec_continues(self.tok.kind, in_prec) && !self.descend() {
                self.depth = saved;
                return lhs;
            }
            let (op, op_pos) = (self.tok.kind, self.pos());
            let prec = op.binary_precedence();
            // `^` is handled by parse_pow; seeing it here means a right operand of a
            // lower level already consumed it, so it cannot continue this chain.
            if prec < in_prec || op == Token::Pow {
                self.depth = saved;
                return lhs;
            }
            self.next();
            let rhs = self.parse_binop(prec + 1);
            lhs = Expr::Binary(Box::new(ast::BinaryExpr {
                op,
                op_pos,
                left: lhs,
                right: rhs,
            }));
        }
    }

    /// PowExpr = UnaryExpr [ "^" PowExpr ] (right-associative).
    fn parse_pow(&mut self) -> Expr {
        let lhs = self.parse_unary();
        if self.tok.kind == Token::Pow {
            let op_pos = self.pos();
            self.next();
            if !self.descend() {
                self.depth -= 1;
                return lhs;
            }
            let rhs = self.parse_pow();
            self.depth -= 1;
            return Expr::Binary(Box::new(ast::BinaryExpr {
                op: Token::Pow,
                op_pos,
                left: lhs,
                right: rhs,
            }));
        }
        lhs
    }

    /// UnaryExpr = ("!" | "-") UnaryExpr | OperExpr.
    fn parse_unary(&mut self) -> Expr {
        if matches!(self.tok.kind, Token::Not | Token::Sub) {
            let (op, op_pos) = (self.tok.kind, self.pos());
            self.next();
            if !self.descend() {
                self.depth -= 1;
                return self.null_at_pos();
            }
            let value = self.parse_unary();
            self.depth -= 1;
            return Expr::Unary(Box::new(ast::UnaryExpr { op, op_pos, value }));
        }
        let saved = self.depth;
        let mut primary = self.parse_primary();
        loop {
            if matches!(self.tok.kind, Token::Dot | Token::LBrack | Token::LParen)
                && !self.descend()
            {
                self.depth = saved;
                return primary;
            }
            match self.tok.kind {
                Token::Dot => {
                    self.next();
                    let span = self.tok.span;
                    self.expect(Token::Ident);
                    primary = Expr::Access(Box::new(ast::AccessExpr {
                        value: primary,
                        name: ast::Ident { span },
                    }));
                }
                Token::LBrack => {
                    let (lbrack, _) = self.expect(Token::LBrack);
                    let index = self.parse_expr();
                    let (rbrack, _) = self.expect(Token::RBrack);
                    primary = Expr::Index(Box::new(ast::IndexExpr {
                        value: primary,
                        lbrack,
                        index,
                        rbrack,
                    }));
                }
                Token::LParen => {
                    let (lparen, _) = self.expect(Token::LParen);
                    let args = if self.tok.kind != Token::RParen {
                        self.parse_expr_list(Token::RParen)
                    } else {
                        Vec::new()
                    };
                    let (rparen, _) = self.expect(Token::RParen);
                    primary = Expr::Call(Box::new(ast::CallExpr {
                        value: primary,
                        lparen,
                        args,
                        rparen,
                    }));
                }
                Token::String | Token::LCurly => {
                    // Someone is assigning a block to an attribute: parse the rest as a
                    // block body to say so, or give up on the statement.
                    if self.tok.kind == Token::String {
                        self.next();
                    }
                    if self.expect(Token::LCurly).1 != Token::LCurly {
                        self.consume_statement();
                        self.depth = saved;
                        return primary;
                    }
                    self.parse_body(Token::RCurly);
                    let (end, kind) = self.expect(Token::RCurly);
                    if kind != Token::RCurly {
                        self.consume_statement();
                        self.depth = saved;
                        return primary;
                    }
                    self.diags.push(Diagnostic::error(
                        CODE_BLOCK_EXPR,
                        &self.file,
                        Span::new(primary.span().start, end + 1),
                        "cannot use a block as an expression",
                    ));
                }
                _ => {
                    self.depth = saved;
                    return primary;
                }
            }
        }
    }

    /// Primary = identifier | literal | "(" Expression ")" | array | object.
    fn parse_primary(&mut self) -> Expr {
        let opens = matches!(self.tok.kind, Token::LParen | Token::LBrack | Token::LCurly);
        if opens && !self.descend() {
            self.depth -= 1;
            return self.null_at_pos();
        }
        let expr = self.parse_primary_inner();
        if opens {
            self.depth -= 1;
        }
        expr
    }

    fn parse_primary_inner(&mut self) -> Expr {
        match self.tok.kind {
            Token::Ident => {
                let expr = Expr::Ident(ast::Ident {
                    span: self.tok.span,
                });
                self.next();
                expr
            }
            Token::String | Token::Number | Token::Float | Token::Bool | Token::Null => {
                let expr = Expr::Literal(ast::Literal {
                    kind: self.tok.kind,
                    span: self.tok.span,
                });
                self.next();
                expr
            }
            Token::LParen => {
                let (lparen, _) = self.expect(Token::LParen);
                let inner = self.parse_expr();
                let (rparen, _) = self.expect(Token::RParen);
                Expr::Paren(Box::new(ast::ParenExpr {
                    lparen,
                    inner,
                    rparen,
                }))
            }
            Token::LBrack => {
                let (lbrack, _) = self.expect(Token::LBrack);
                let elements = if self.tok.kind != Token::RBrack {
                    self.parse_expr_list(Token::RBrack)
                } else {
                    Vec::new()
                };
                let (rbrack, _) = self.expect(Token::RBrack);
                Expr::Array(Box::new(ast::ArrayExpr {
                    lbrack,
                    elements,
                    rbrack,
                }))
            }
            Token::LCurly => {
                let (lcurly, _) = self.expect(Token::LCurly);
                // Upstream compares with `]` here (a slip that is harmless for `{}`,
                // since the field list then ends at once); kept for identical recovery.
                let fields = if self.tok.kind != Token::RBrack {
                    self.parse_field_list(Token::RCurly)
                } else {
                    Vec::new()
                };
                let (rcurly, _) = self.expect(Token::RCurly);
                Expr::Object(Box::new(ast::ObjectExpr {
                    lcurly,
                    fields,
                    rcurly,
                }))
            }
            kind => {
                self.add_error(format!("expected expression, got {kind}"));
                let expr = Expr::Literal(ast::Literal {
                    kind: Token::Null,
                    span: Span::point(self.pos()),
                });
                // Eat up the rest of the element.
                while !matches!(
                    self.tok.kind,
                    Token::Eof
                        | Token::Terminator
                        | Token::RParen
                        | Token::RCurly
                        | Token::RBrack
                        | Token::Comma
                ) {
                    self.next();
                }
                expr
            }
        }
    }

    /// ExprList = Expression { "," Expression } [ "," ].
    fn parse_expr_list(&mut self, until: Token) -> Vec<Expr> {
        let base = self.expr_stack.len();
        while self.tok.kind != until && self.tok.kind != Token::Eof {
            let expr = self.parse_expr();
            self.expr_stack.push(expr);
            if self.tok.kind == until {
                break;
            }
            if self.tok.kind != Token::Comma {
                self.add_error("missing ',' in expression list".to_string());
            }
            self.next();
        }
        // The tree lives as long as the file is in use: no growth slack.
        take_list(&mut self.expr_stack, base)
    }

    /// FieldList = Field { "," Field } [ "," ].
    fn parse_field_list(&mut self, until: Token) -> Vec<ast::ObjectField> {
        let base = self.field_stack.len();
        while self.tok.kind != until && self.tok.kind != Token::Eof {
            let field = self.parse_field();
            self.field_stack.push(field);
            if self.tok.kind == until {
                break;
            }
            if self.tok.kind != Token::Comma {
                self.add_error("missing ',' in field list".to_string());
            }
            self.next();
        }
        // The tree lives as long as the file is in use: no growth slack.
        take_list(&mut self.field_stack, base)
    }

    /// Field = ( string | identifier ) "=" Expression.
    fn parse_field(&mut self) -> ast::ObjectField {
        let mut name = Span::point(self.pos());
        let mut quoted = false;
        if matches!(self.tok.kind, Token::String | Token::Ident) {
            name = self.tok.span;
            quoted = self.tok.kind == Token::String && self.tok.span.len() > 2;
            self.next();
        } else {
            self.add_error(format!(
                "expected field name (string or identifier), got {}",
                self.tok.kind
            ));
            self.advance(Token::Assign);
        }
        self.expect(Token::Assign);
        let value = self.parse_expr();
        ast::ObjectField {
            name,
            quoted,
            value,
        }
    }
}

/// Go's `strconv.Quote`: double-quoted with Go escapes; printable Unicode kept.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0C' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0B' => out.push_str("\\v"),
            c if crate::lexer::is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanned_comment_groups_are_the_parsers() {
        let sources = [
            "// a\n// b\n\n// c\nx = 1 // d\n// e\ny = 2",
            "\u{FEFF}// after a byte order mark\na = 1",
            "a = \"// not a comment \\\" /* nor this */\" // but this\nb = `raw // \"` /* and\nthis */",
            "a = 4 / 2 /* one */ /* group */\n\n\n/* not the same */\nb = [1, // x\n2]",
            "a = \"\\\\\" // after an escaped backslash\nb { /* c */ }\n/* unclosed at the end",
        ];
        for src in sources {
            let parsed = parse_file("", src);
            let scanned: Vec<_> = CommentGroups::new(src).collect();
            assert_eq!(scanned, parsed.file.comments, "{src:?}");
        }
    }
}
