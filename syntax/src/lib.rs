//! The Alloy configuration language, from bytes to values, with no I/O and no async.
//!
//! Where to start reading: [`parser::parse_file`] turns source text into a [`Parsed`]
//! (an [`ast::File`] plus every [`diag::Diagnostic`] found; parsing never fails).
//! [`lexer`] produces the tokens of [`token::Token`] that the parser consumes, with
//! newline terminators inserted as upstream does. [`printer`] formats a file back to
//! canonical text (what `ferroalloy fmt` prints). [`value`] is the runtime value model
//! and [`eval`] evaluates expressions against a scope ([`eval::eval_expr`],
//! [`eval::eval_expr_as`], [`eval::eval_body`]). [`conformance`] runs upstream's
//! JSON evaluation cases, for this crate's tests and the stdlib's. [`diag`] holds diagnostics and
//! their upstream-compatible plain rendering.
//!
//! Spans are byte ranges into the source text; line and column are worked out only
//! when a diagnostic is printed.

pub mod ast;
pub mod conformance;
pub mod diag;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod printer;
pub mod token;
pub mod value;

pub use diag::{Diagnostic, Severity, Span};
pub use parser::{parse_expression, parse_file, Parsed};
