//! The formatter: prints a parsed file in canonical form, byte-identical to upstream
//! (LANGUAGE.md §7).
//!
//! Three stages, as upstream has them: the `walker` walks the tree and drives the
//! token printer (`engine`), which interleaves comments and emits text with abstract
//! whitespace (soft tabs, newlines, formfeeds); the `tabwriter` aligns cells into
//! columns; the `trimmer` removes trailing blanks. Text streams through all three
//! token by token and cell by cell, so the only buffer the size of the file is the
//! output itself.
//!
//! Where we differ from upstream, only where upstream's output would not parse:
//! `f(\n)` prints as `f()`, not `f(,\n)` (LANGUAGE.md §7.3); and a token is never
//! printed after a line comment on the same line (upstream does that when a comment
//! precedes a `(` it writes without a position, as in `[ // c\n((0))]`).
//!
//! Kept from upstream, because byte-identical output is the contract: `(`, `)` of
//! parentheses and calls, `.`, access names and `,` are written without their source
//! positions, so a comment right next to one of them can move (a trailing comment
//! after a call's `)` on its own line drops to the next line, then gains a blank line
//! on the second run). Such input is not idempotent upstream either; in the property
//! tests it settles by the third run.

mod engine;
mod tabwriter;
mod trimmer;
mod walker;

use crate::ast;
use engine::{Comments, Printer};
use walker::Walker;

/// Options for [`format_file_with`].
#[derive(Debug, Clone, Default)]
pub struct PrintOptions {
    /// Print the literal values of secret attributes as `"(secret)"` (§7.6).
    pub redact_secrets: bool,
    /// Names of the attributes whose values hold secrets. Upstream marks values while
    /// decoding against a schema; here an attribute of one of these names, at any
    /// depth, counts as marked. Only literal values are replaced, as upstream.
    pub secret_attributes: Vec<String>,
}

impl PrintOptions {
    fn is_secret(&self, attribute: &str) -> bool {
        self.redact_secrets && self.secret_attributes.iter().any(|s| s == attribute)
    }
}

/// Formats `file` (parsed from `src`) as upstream's printer does, without a final
/// newline. `ferroalloy fmt` adds one.
pub fn format_file(file: &ast::File, src: &str) -> String {
    format_file_with(file, src, &PrintOptions::default())
}

/// [`format_file`] with options, such as secret redaction.
pub fn format_file_with(file: &ast::File, src: &str, opts: &PrintOptions) -> String {
    let mut printer = Printer::new(src, src.len() + src.len() / 8 + 64);
    printer.set_comments(Comments::File(&file.comments, 0));
    let mut w = Walker::new(printer, src, opts);
    w.walk_stmts(&file.body);
    into_string(w.p.finish())
}

/// Formats one expression (no comments), as upstream's `printer.Fprint` on an
/// expression node.
pub fn format_expr(expr: &ast::Expr, src: &str) -> String {
    let opts = PrintOptions::default();
    let printer = Printer::new(src, 64);
    let mut w = Walker::new(printer, src, &opts);
    w.walk_expr(expr);
    into_string(w.p.finish())
}

/// Formats a file whose top-level statements arrive one at a time (from
/// [`crate::parser::Statements`]), handing out the text as it becomes final, so that
/// neither the whole tree nor the whole output has to be held. The text is the same
/// as [`format_file_with`]'s for the same statements: the comments are scanned from
/// the source ([`crate::parser::CommentGroups`]) and the statements walked by the
/// same code.
pub struct StmtFormatter<'a> {
    w: Walker<'a, 'a>,
    /// Where the previous top-level statement ended, once there was one.
    prev_end: Option<i64>,
}

impl<'a> StmtFormatter<'a> {
    /// Output is handed out in pieces of about this size, if not asked for sooner.
    const INITIAL_CAPACITY: usize = 64 * 1024;

    pub fn new(src: &'a str, opts: &'a PrintOptions) -> StmtFormatter<'a> {
        let mut printer = Printer::new(src, Self::INITIAL_CAPACITY);
        printer.set_comments(Comments::Scan(crate::parser::CommentGroups::new(src)));
        StmtFormatter {
            w: Walker::new(printer, src, opts),
            prev_end: None,
        }
    }

    /// Formats the next top-level statement.
    pub fn push(&mut self, stmt: &ast::Stmt) {
        self.prev_end = Some(self.w.walk_stmt(stmt, self.prev_end));
    }

    /// Hands the text that is final so far to `write`, and forgets it.
    pub fn write_ready<E>(&mut self, write: impl FnOnce(&[u8]) -> Result<(), E>) -> Result<(), E> {
        self.w.p.write_ready(write)
    }

    /// The rest of the text (comments after the last statement included), without a
    /// final newline, as [`format_file`].
    pub fn finish(self) -> Vec<u8> {
        self.w.p.finish()
    }
}

/// The output is source text with escape bytes removed, so it is UTF-8; a lossy
/// conversion only guards against a bug, never against input.
fn into_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(src: &str) -> String {
        let (e, diags) = crate::parse_expression("", src);
        assert!(diags.is_empty(), "{diags:?}");
        format_expr(&e, src)
    }

    #[test]
    fn expressions_get_canonical_spacing() {
        assert_eq!(expr("30*2+5"), "30 * 2 + 5");
        assert_eq!(expr("-x [ 0 ] . y"), "-x[0].y");
        assert_eq!(expr("{ a = 1, b = [ 1,2 ] }"), "{a = 1, b = [1, 2]}");
        assert_eq!(expr("f(1,\n2)"), "f(1,\n\t2)");
    }

    #[test]
    fn multiline_object_aligns_keys() {
        assert_eq!(
            expr("{\na = 1,\nlong = 2,\n}"),
            "{\n\ta    = 1,\n\tlong = 2,\n}"
        );
    }

    #[test]
    fn empty_call_on_two_lines_stays_parseable() {
        assert_eq!(expr("f(\n)"), "f()");
    }

    #[test]
    fn redaction_replaces_only_marked_literals() {
        let src = "password = \"p\"\nother = \"q\"\nblock {\n\tpassword = env(\"X\")\n}";
        let parsed = crate::parse_file("", src);
        let opts = PrintOptions {
            redact_secrets: true,
            secret_attributes: vec!["password".to_string()],
        };
        assert_eq!(
            format_file_with(&parsed.file, src, &opts),
            "password = \"(secret)\"\nother    = \"q\"\n\nblock {\n\tpassword = env(\"X\")\n}"
        );
    }

    #[test]
    fn many_columns_do_not_exhaust_the_stack() {
        // Every tab in a raw string starts a tabwriter column.
        let src = format!("a = `{}`\nb = 1", "x\t".repeat(200_000));
        let parsed = crate::parse_file("", &src);
        assert!(!parsed.has_errors());
        let out = format_file(&parsed.file, &src);
        assert!(out.ends_with("`\nb = 1"), "{}", &out[out.len() - 20..]);
    }

    #[test]
    fn alignment_counts_code_points() {
        let src = "été = \"日本\"\nab = 1";
        let parsed = crate::parse_file("", src);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        assert_eq!(format_file(&parsed.file, src), "été = \"日本\"\nab  = 1");
    }

    fn file(src: &str) -> String {
        let parsed = crate::parse_file("", src);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        format_file(&parsed.file, src)
    }

    #[test]
    fn spec_examples() {
        // LANGUAGE.md §3.3 and §7.2: an empty label is dropped, empty bodies close on
        // the same line.
        assert_eq!(file("a \"\" {}"), "a { }");
        assert_eq!(file("block {\n\n}"), "block { }");
        // §7.3: quoted keys are re-quoted from their raw text.
        assert_eq!(file("x = {\"a\\tb\" = 1}"), "x = {\"a\\\\tb\" = 1}");
        // §7.3: a space keeps `1 .` and `/ *` from re-scanning differently.
        assert_eq!(file("x = [1, 2][0]"), "x = [1, 2][0]");
        // §7.4: comment on the `{` line stays there; one after the last statement is
        // indented inside the block.
        assert_eq!(
            file("b { // c\n  x = 1\n  // end\n}"),
            "b { // c\n\tx = 1\n\t// end\n}"
        );
        // §7.2: blocks get a blank line before them, at most one blank line is kept.
        assert_eq!(file("a = 1\nb {}\n\n\n\nc = 2"), "a = 1\n\nb { }\n\nc = 2");
    }

    #[test]
    fn nothing_is_printed_after_a_line_comment_on_its_line() {
        let once = file("a = [ // c\n((0))]");
        assert_eq!(once, "a = [\n\t( // c\n\t(0))]");
        assert!(!crate::parse_file("", &once).has_errors(), "{once}");
    }
}
