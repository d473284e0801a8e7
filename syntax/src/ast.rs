//! The syntax tree: files, bodies, statements and expressions.
//!
//! Nodes hold spans, never text: the text of an identifier or literal is the slice
//! of the source at its span ([`Source::text`]). This keeps the tree small (a 10 MB
//! file must parse and format in well under 3× its size in memory) and lifetime-free.
//! Node equality compares structure and spans.

use crate::diag::Span;
use crate::token::Token;
use std::borrow::Cow;

/// A parsed file: its top-level body and every comment group, in source order.
/// The formatter interleaves the comments back by position.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    pub body: Body,
    pub comments: Vec<CommentGroup>,
}

/// The statements of a file or block, in order.
pub type Body = Vec<Stmt>;

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Attribute(Attribute),
    Block(Box<Block>),
}

impl Stmt {
    /// From the first byte of the name to the end of the value or the closing `}`.
    pub fn span(&self) -> Span {
        match self {
            Stmt::Attribute(a) => a.span(),
            Stmt::Block(b) => b.span(),
        }
    }
}

/// `name = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: Ident,
    pub value: Expr,
}

impl Attribute {
    pub fn span(&self) -> Span {
        self.name.span.to(self.value.span())
    }
}

/// `a.b.c "label" { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The dotted name's fragments, each an identifier.
    pub name: Vec<Ident>,
    /// The label's STRING token, quotes included; `None` when absent. An empty
    /// label `""` is recorded here but means "no label" ([`Block::label`]).
    pub label: Option<Span>,
    /// Offset of `{`.
    pub lcurly: u32,
    pub body: Body,
    /// Offset of `}`.
    pub rcurly: u32,
}

impl Block {
    /// Span of the whole block, from the name to `}` inclusive.
    pub fn span(&self) -> Span {
        Span::new(self.name_span().start, self.rcurly + 1)
    }

    /// From the first name fragment to the end of the last one.
    pub fn name_span(&self) -> Span {
        let first = self.name.first().map(|i| i.span).unwrap_or_default();
        let last = self.name.last().map(|i| i.span).unwrap_or_default();
        first.to(last)
    }

    /// The dotted name, as written without whitespace (`prometheus.scrape`).
    pub fn name_text(&self, src: &str) -> String {
        let mut out = String::new();
        for (i, frag) in self.name.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(frag.text(src));
        }
        out
    }

    /// The label text between the quotes, or `None` when absent or empty.
    pub fn label<'s>(&self, src: &'s str) -> Option<&'s str> {
        let span = self.label?;
        // An unterminated label may end inside a character: no label then.
        let inner = src.get(span.start as usize + 1..(span.end as usize).saturating_sub(1))?;
        (!inner.is_empty()).then_some(inner)
    }
}

/// An identifier: a span of IDENT text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ident {
    pub span: Span,
}

impl Ident {
    pub fn text<'s>(&self, src: &'s str) -> &'s str {
        &src[self.span.range()]
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Ident(Ident),
    Literal(Literal),
    Array(Box<ArrayExpr>),
    Object(Box<ObjectExpr>),
    Access(Box<AccessExpr>),
    Index(Box<IndexExpr>),
    Call(Box<CallExpr>),
    Unary(Box<UnaryExpr>),
    Binary(Box<BinaryExpr>),
    Paren(Box<ParenExpr>),
}

impl Expr {
    /// From the first token to the end of the last (closing brackets included).
    pub fn span(&self) -> Span {
        match self {
            Expr::Ident(i) => i.span,
            Expr::Literal(l) => l.span,
            Expr::Array(a) => Span::new(a.lbrack, a.rbrack + 1),
            Expr::Object(o) => Span::new(o.lcurly, o.rcurly + 1),
            Expr::Access(a) => a.value.span().to(a.name.span),
            Expr::Index(i) => Span::new(i.value.span().start, i.rbrack + 1),
            Expr::Call(c) => Span::new(c.value.span().start, c.rparen + 1),
            Expr::Unary(u) => Span::new(u.op_pos, u.value.span().end),
            Expr::Binary(b) => b.left.span().to(b.right.span()),
            Expr::Paren(p) => Span::new(p.lparen, p.rparen + 1),
        }
    }
}

/// A literal token: STRING (quoted or raw), NUMBER, FLOAT, BOOL or NULL. Its text is
/// the source at `span`, except that a parser-substituted `null` (after an error) has
/// an empty span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Literal {
    pub kind: Token,
    pub span: Span,
}

impl Literal {
    /// The literal's text as the scanner reports it: raw strings lose their `\r`.
    pub fn text<'s>(&self, src: &'s str) -> Cow<'s, str> {
        if self.kind == Token::Null && self.span.is_empty() {
            return Cow::Borrowed("null");
        }
        let raw = &src[self.span.range()];
        if raw.starts_with('`') && raw.contains('\r') {
            Cow::Owned(raw.replace('\r', ""))
        } else {
            Cow::Borrowed(raw)
        }
    }
}

/// `[a, b, c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayExpr {
    pub lbrack: u32,
    pub elements: Vec<Expr>,
    pub rbrack: u32,
}

/// `{k = v, "k2" = v2}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectExpr {
    pub lcurly: u32,
    pub fields: Vec<ObjectField>,
    pub rcurly: u32,
}

/// One `key = value` of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectField {
    /// The key token: an IDENT, or a STRING with its quotes.
    pub name: Span,
    /// True when the key was a string of more than two characters: the key is then
    /// the raw text between the delimiters, with no escape processing. `""` keeps its
    /// quotes as its key (an upstream quirk).
    pub quoted: bool,
    pub value: Expr,
}

impl ObjectField {
    /// The key as upstream sees it (LANGUAGE.md §3.4).
    pub fn key<'s>(&self, src: &'s str) -> &'s str {
        let text = &src[self.name.range()];
        if self.quoted {
            text.get(1..text.len().saturating_sub(1)).unwrap_or("")
        } else {
            text
        }
    }
}

/// `value.name`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessExpr {
    pub value: Expr,
    pub name: Ident,
}

/// `value[index]`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexExpr {
    pub value: Expr,
    pub lbrack: u32,
    pub index: Expr,
    pub rbrack: u32,
}

/// `value(args)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallExpr {
    pub value: Expr,
    pub lparen: u32,
    pub args: Vec<Expr>,
    pub rparen: u32,
}

/// `!value` or `-value`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryExpr {
    pub op: Token,
    pub op_pos: u32,
    pub value: Expr,
}

/// `left op right`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    pub op: Token,
    pub op_pos: u32,
    pub left: Expr,
    pub right: Expr,
}

/// `(inner)`; kept so the formatter prints the parentheses as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ParenExpr {
    pub lparen: u32,
    pub inner: Expr,
    pub rparen: u32,
}

/// One comment: `// ...` (without the newline) or `/* ... */`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comment {
    pub span: Span,
}

impl Comment {
    /// The comment text as the scanner reports it: `\r` is removed from line comments
    /// before the newline and from block comments unless it sits between `*` and `/`.
    pub fn text<'s>(&self, src: &'s str) -> Cow<'s, str> {
        let raw = &src[self.span.range()];
        if !raw.contains('\r') {
            return Cow::Borrowed(raw);
        }
        Cow::Owned(crate::lexer::strip_comment_cr(raw))
    }
}

/// Adjacent comments: each starts on the line the previous one ended on, or the next.
pub type CommentGroup = Vec<Comment>;
