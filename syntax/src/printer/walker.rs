//! Walks the syntax tree and feeds tokens, positions and whitespace to the
//! [`Printer`], deciding line breaks and alignment sections from where nodes sat in
//! the source (LANGUAGE.md §7.2–7.3).

use super::engine::{Printer, Ws};
use super::PrintOptions;
use crate::ast::{ArrayExpr, Attribute, Block, CallExpr, Expr, ObjectExpr, Stmt};
use crate::parser::go_quote;
use crate::token::Token;

pub(crate) struct Walker<'a, 'p> {
    pub(crate) p: Printer<'a>,
    src: &'a str,
    opts: &'p PrintOptions,
    /// Reused for dotted block names and quoted keys and labels, so that printing
    /// allocates nothing per block.
    scratch: String,
}

impl<'a, 'p> Walker<'a, 'p> {
    pub(crate) fn new(p: Printer<'a>, src: &'a str, opts: &'p PrintOptions) -> Self {
        Walker {
            p,
            src,
            opts,
            scratch: String::with_capacity(64),
        }
    }

    /// Puts Go's `%q` of `s` in the scratch buffer, without allocating when nothing
    /// needs escaping (block labels are identifiers, so that is the usual case).
    fn quote_to_scratch(&mut self, s: &str) {
        self.scratch.clear();
        let plain = s
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
        if plain {
            self.scratch.push('"');
            self.scratch.push_str(s);
            self.scratch.push('"');
        } else {
            self.scratch.push_str(&go_quote(s));
        }
    }

    fn slice(&self, start: u32, end: u32) -> &'a str {
        self.src.get(start as usize..end as usize).unwrap_or("")
    }

    fn line(&self, offset: i64) -> i64 {
        self.p.line_of(offset)
    }

    /// Offset of a statement's first byte.
    fn stmt_start(s: &Stmt) -> i64 {
        match s {
            Stmt::Attribute(a) => a.name.span.start as i64,
            Stmt::Block(b) => b.name.first().map_or(0, |i| i.span.start) as i64,
        }
    }

    /// Offset of a statement's last byte, as upstream's `ast.EndPos` computes it.
    fn stmt_end(&self, s: &Stmt) -> i64 {
        match s {
            Stmt::Attribute(a) => self.expr_end(&a.value),
            Stmt::Block(b) => b.rcurly as i64,
        }
    }

    /// Offset of an expression's last byte. Literals count the scanner's text, which
    /// lacks the `\r`s of a raw string: upstream measures that.
    fn expr_end(&self, e: &Expr) -> i64 {
        match e {
            Expr::Ident(i) => i.span.end as i64 - 1,
            Expr::Literal(l) => l.span.start as i64 + self.literal_len(l) as i64 - 1,
            Expr::Array(a) => a.rbrack as i64,
            Expr::Object(o) => o.rcurly as i64,
            Expr::Access(a) => a.name.span.end as i64 - 1,
            Expr::Index(i) => i.rbrack as i64,
            Expr::Call(c) => c.rparen as i64,
            Expr::Unary(u) => self.expr_end(&u.value),
            Expr::Binary(b) => self.expr_end(&b.right),
            Expr::Paren(p) => p.rparen as i64,
        }
    }

    fn literal_len(&self, l: &crate::ast::Literal) -> usize {
        if l.kind == Token::Null && l.span.is_empty() {
            return 4;
        }
        let raw = self.slice(l.span.start, l.span.end);
        if raw.starts_with('`') {
            raw.len() - memchr::memchr_iter(b'\r', raw.as_bytes()).count()
        } else {
            raw.len()
        }
    }

    /// How many lines further down `b` is than `a` (negative when above): the line
    /// breaks between them. Nearby offsets, the usual case, are compared by looking
    /// at the bytes between them rather than up the line table.
    fn lines_between(&self, a: i64, b: i64) -> i64 {
        let (lo, hi, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
        if hi - lo <= NEAR {
            let bytes = self.src.as_bytes();
            let lo = lo.clamp(0, bytes.len() as i64) as usize;
            let hi = hi.clamp(0, bytes.len() as i64) as usize;
            // Summing flags (rather than filtering) lets the loop vectorize.
            let count: u32 = bytes[lo..hi].iter().map(|&c| u32::from(c == b'\n')).sum();
            let count = i64::from(count);
            return sign * count;
        }
        self.line(b) - self.line(a)
    }

    /// Whether two offsets sit on different source lines. Nearby, that is whether
    /// a newline lies between them, which needs no counting.
    fn different_lines(&self, a: i64, b: i64) -> bool {
        let (lo, hi) = (a.min(b), a.max(b));
        if hi - lo <= NEAR {
            let bytes = self.src.as_bytes();
            let lo = lo.clamp(0, bytes.len() as i64) as usize;
            let hi = hi.clamp(0, bytes.len() as i64) as usize;
            return memchr::memchr(b'\n', &bytes[lo..hi]).is_some();
        }
        self.line(b) != self.line(a)
    }

    /// Whether an expression sits on one source line.
    fn expr_on_one_line(&self, e: &Expr) -> bool {
        !self.different_lines(expr_start(e), self.expr_end(e))
    }

    pub(crate) fn walk_stmts(&mut self, stmts: &[Stmt]) {
        let mut prev_end = None;
        for s in stmts {
            prev_end = Some(self.walk_stmt(s, prev_end));
        }
    }

    /// Walks one statement of a body; `prev_end` is where the statement before it
    /// ended (`None` for the first). Returns where this one ends.
    pub(crate) fn walk_stmt(&mut self, s: &Stmt, prev_end: Option<i64>) -> i64 {
        let start = Self::stmt_start(s);
        let mut spaced = false;
        // Blocks are always set off by a blank line.
        if prev_end.is_some() && matches!(s, Stmt::Block(_)) {
            self.p.ws(Ws::Formfeed);
            spaced = true;
        }
        // One blank line in the source between statements is kept.
        if let Some(prev_end) = prev_end {
            if !spaced && self.lines_between(prev_end, start) > 1 {
                self.p.ws(Ws::Formfeed);
            }
        }
        match s {
            Stmt::Attribute(a) => self.walk_attribute(a),
            Stmt::Block(b) => self.walk_block(b),
        }
        // A statement over several lines ends the alignment section.
        let end = self.stmt_end(s);
        if self.different_lines(start, end) {
            self.p.ws(Ws::Formfeed);
        } else {
            self.p.ws(Ws::Newline);
        }
        end
    }

    fn walk_attribute(&mut self, a: &Attribute) {
        self.p
            .text_at(a.name.span.start, a.name.text(self.src), Token::Ident);
        self.p.ws(Ws::VTab);
        self.p.token(Token::Assign);
        self.p.ws(Ws::Blank);
        if let Expr::Literal(l) = &a.value {
            if self.opts.is_secret(a.name.text(self.src)) {
                self.p.text_at(l.span.start, "\"(secret)\"", l.kind);
                return;
            }
        }
        self.walk_expr(&a.value);
    }

    /// Whether a `//` comment sits between the block's name and its `{` (outside the
    /// label, which may contain `//` in its text).
    fn header_has_line_comment(&self, b: &Block, header_start: u32) -> bool {
        let bytes = self.src.as_bytes();
        let (label_start, label_end) = b.label.map_or((u32::MAX, u32::MAX), |l| (l.start, l.end));
        let mut i = header_start as usize;
        while i + 1 < (b.lcurly as usize).min(bytes.len()) {
            if i as u32 >= label_start && (i as u32) < label_end {
                i = label_end as usize;
                continue;
            }
            if bytes[i] == b'/' && bytes[i + 1] == b'/' {
                return true;
            }
            i += 1;
        }
        false
    }

    fn walk_block(&mut self, b: &Block) {
        // A line comment inside the header (`a.\n// c\nb {`) would be printed before
        // the label or `{` and end the line there, and the output would not parse.
        // Placing them at the header's start lets such comments follow the `{`
        // instead. Block comments keep their place, as upstream prints them.
        let header_start = b.name.first().map_or(b.lcurly, |f| f.span.start);
        let label_at = self
            .header_has_line_comment(b, header_start)
            .then_some(header_start);
        self.scratch.clear();
        for (i, frag) in b.name.iter().enumerate() {
            if i > 0 {
                self.scratch.push('.');
            }
            self.scratch
                .push_str(self.src.get(frag.span.range()).unwrap_or(""));
        }
        self.p.text_at(
            b.name.first().map_or(0, |frag| frag.span.start),
            &self.scratch,
            Token::Ident,
        );

        if let Some(label) = b.label {
            let inner = if label.len() >= 2 {
                self.slice(label.start + 1, label.end - 1)
            } else {
                ""
            };
            if !inner.is_empty() {
                self.p.ws(Ws::Blank);
                self.quote_to_scratch(inner);
                self.p.text_at(
                    label_at.unwrap_or(label.start),
                    &self.scratch,
                    Token::String,
                );
            }
        }

        self.p.ws(Ws::Blank);
        let lcurly_at = label_at.unwrap_or(b.lcurly);
        self.p.token_at(lcurly_at, Token::LCurly);
        self.p.ws(Ws::Indent);
        if b.body.is_empty() {
            self.p.ws(Ws::Blank);
        } else {
            self.p.ws(Ws::Formfeed);
            self.walk_stmts(&b.body);
        }
        self.p.ws(Ws::Unindent);
        self.p.token_at(b.rcurly, Token::RCurly);
    }

    pub(crate) fn walk_expr(&mut self, e: &Expr) {
        match e {
            Expr::Literal(l) => {
                let text = l.text(self.src);
                self.p.text_at(l.span.start, &text, l.kind);
            }
            Expr::Array(a) => self.walk_array(a),
            Expr::Object(o) => self.walk_object(o),
            Expr::Ident(i) => {
                self.p.text_at(i.span.start, i.text(self.src), Token::Ident);
            }
            Expr::Access(a) => {
                self.walk_expr(&a.value);
                self.p.token(Token::Dot);
                // Upstream writes the name without its position.
                self.p.text(a.name.text(self.src), Token::Ident);
            }
            Expr::Index(i) => {
                self.walk_expr(&i.value);
                self.p.token_at(i.lbrack, Token::LBrack);
                self.walk_expr(&i.index);
                self.p.token_at(i.rbrack, Token::RBrack);
            }
            Expr::Call(c) => self.walk_call(c),
            Expr::Unary(u) => {
                self.p.token_at(u.op_pos, u.op);
                self.walk_expr(&u.value);
            }
            Expr::Binary(b) => {
                self.walk_expr(&b.left);
                self.p.ws(Ws::Blank);
                self.p.token_at(b.op_pos, b.op);
                self.p.ws(Ws::Blank);
                self.walk_expr(&b.right);
            }
            Expr::Paren(p) => {
                // Upstream writes the parentheses without their positions.
                self.p.token(Token::LParen);
                self.walk_expr(&p.inner);
                self.p.token(Token::RParen);
            }
        }
    }

    fn walk_array(&mut self, a: &ArrayExpr) {
        self.p.token_at(a.lbrack, Token::LBrack);
        let mut prev = a.lbrack as i64;
        let n = a.elements.len();
        for (i, el) in a.elements.iter().enumerate() {
            let mut broke = false;
            if self.different_lines(prev, expr_start(el)) {
                // Indent before the break so that comments before the element are
                // indented too.
                self.p.ws(Ws::Indent);
                self.p.ws(Ws::Formfeed);
                broke = true;
            } else if i > 0 {
                self.p.ws(Ws::Blank);
            }
            prev = self.expr_end(el);
            self.walk_expr(el);
            if i + 1 < n {
                self.p.token(Token::Comma);
            }
            if broke {
                self.p.ws(Ws::Unindent);
            }
        }
        if n > 0 && self.different_lines(prev, a.rbrack as i64) {
            // The indent makes comments after the last element line up with it.
            self.p.token(Token::Comma);
            self.p.ws(Ws::Indent);
            self.p.ws(Ws::Formfeed);
            self.p.ws(Ws::Unindent);
        }
        self.p.token_at(a.rbrack, Token::RBrack);
    }

    fn walk_object(&mut self, o: &ObjectExpr) {
        self.p.token_at(o.lcurly, Token::LCurly);
        self.p.ws(Ws::Indent);
        let mut prev = o.lcurly as i64;
        let n = o.fields.len();
        for (i, field) in o.fields.iter().enumerate() {
            let start = field.name.start as i64;
            if self.different_lines(prev, start) {
                // Keep `=` aligned with the previous field unless its value spread
                // over several lines.
                if i > 0 && self.expr_on_one_line(&o.fields[i - 1].value) {
                    self.p.ws(Ws::Newline);
                } else {
                    self.p.ws(Ws::Formfeed);
                }
            } else if i > 0 {
                self.p.ws(Ws::Blank);
            }
            let raw = self.slice(field.name.start, field.name.end);
            let key = if field.quoted && raw.len() >= 2 {
                raw.get(1..raw.len() - 1).unwrap_or("")
            } else {
                raw
            };
            // Upstream measures the key without its quotes.
            prev = start + key.len() as i64 - 1;
            if field.quoted {
                self.quote_to_scratch(key);
                self.p
                    .text_at(field.name.start, &self.scratch, Token::String);
            } else {
                self.p.text_at(field.name.start, key, Token::Ident);
            }
            self.p.ws(Ws::VTab);
            self.p.token(Token::Assign);
            self.p.ws(Ws::Blank);
            self.walk_expr(&field.value);
            if i + 1 < n {
                self.p.token(Token::Comma);
            }
        }
        if n > 0 && self.different_lines(prev, o.rcurly as i64) {
            self.p.token(Token::Comma);
            self.p.ws(Ws::Formfeed);
        }
        self.p.ws(Ws::Unindent);
        self.p.token_at(o.rcurly, Token::RCurly);
    }

    fn walk_call(&mut self, c: &CallExpr) {
        self.walk_expr(&c.value);
        // Upstream writes the parentheses without their positions.
        self.p.token(Token::LParen);
        let mut prev = c.lparen as i64;
        let n = c.args.len();
        for (i, arg) in c.args.iter().enumerate() {
            let mut broke = false;
            if self.different_lines(prev, expr_start(arg)) {
                self.p.ws(Ws::Formfeed);
                self.p.ws(Ws::Indent);
                broke = true;
            }
            self.walk_expr(arg);
            prev = self.expr_end(arg);
            if i + 1 < n {
                self.p.token(Token::Comma);
                self.p.ws(Ws::Blank);
            }
            if broke {
                self.p.ws(Ws::Unindent);
            }
        }
        // Upstream also adds the comma for `f(\n)`, giving `f(,\n)`, which does not
        // parse; an empty argument list stays `f()` here (LANGUAGE.md §7.3).
        if n > 0 && self.different_lines(prev, c.rparen as i64) {
            self.p.token(Token::Comma);
            self.p.ws(Ws::Formfeed);
        }
        self.p.token(Token::RParen);
    }
}

/// Up to this distance in bytes, scanning the source for line breaks beats two
/// lookups in the line table.
const NEAR: i64 = 128;

/// Offset of an expression's first byte, without working out where it ends.
fn expr_start(e: &Expr) -> i64 {
    let mut e = e;
    loop {
        match e {
            Expr::Access(a) => e = &a.value,
            Expr::Index(i) => e = &i.value,
            Expr::Call(c) => e = &c.value,
            Expr::Binary(b) => e = &b.left,
            other => return other.span().start as i64,
        }
    }
}
