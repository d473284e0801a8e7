//! The parser: a recursive-descent port of upstream's LL(1) grammar and its error recovery.

use crate::ast;
use crate::diag::Diagnostic;

/// The result of parsing: always a tree, plus every diagnostic found. The tree is only
/// meaningful when no diagnostic is an error.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub file: ast::File,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a whole file named `filename` (used in diagnostics; may be empty).
pub fn parse_file(filename: &str, src: &str) -> Parsed {
    let _ = (filename, src);
    Parsed::default()
}

/// Parses one expression followed by end of input.
pub fn parse_expression(filename: &str, src: &str) -> (ast::Expr, Vec<Diagnostic>) {
    let _ = (filename, src);
    (ast::Expr::Literal(ast::Literal { kind: crate::token::Token::Null, span: Default::default() }), vec![])
}
