//! Fuzzes parse + format: no input may panic; a file that parses cleanly must format to
//! text that parses cleanly, and formatting must settle. Upstream's documented quirks
//! bound what "settle" means: comments beside `(`, `)`, `.` or `,` may move on the
//! second run (so the second and third runs must agree), and quoted object keys are
//! re-quoted from their raw text, so a key whose text quoting would change (escapes,
//! control characters) grows on every run and is exempt.
#![no_main]

use alloy_syntax::ast;
use libfuzzer_sys::fuzz_target;

fn format(src: &str) -> String {
    let parsed = alloy_syntax::parse_file("fuzz.alloy", src);
    assert!(
        !parsed.has_errors(),
        "formatted output does not parse:\n{src}\n{:?}",
        parsed.diagnostics
    );
    alloy_syntax::printer::format_file(&parsed.file, src)
}

/// Whether re-quoting could change some quoted object key: one whose raw text holds a
/// backslash or a character Go's `%q` escapes.
fn has_requoting_key(file: &ast::File, src: &str) -> bool {
    fn body(b: &[ast::Stmt], src: &str) -> bool {
        b.iter().any(|s| match s {
            ast::Stmt::Attribute(a) => expr(&a.value, src),
            ast::Stmt::Block(blk) => body(&blk.body, src),
        })
    }
    fn expr(e: &ast::Expr, src: &str) -> bool {
        match e {
            ast::Expr::Object(o) => o.fields.iter().any(|f| {
                let raw = f.key(src);
                (f.quoted && alloy_syntax::parser::go_quote(raw) != format!("\"{raw}\""))
                    || expr(&f.value, src)
            }),
            ast::Expr::Array(a) => a.elements.iter().any(|x| expr(x, src)),
            ast::Expr::Access(a) => expr(&a.value, src),
            ast::Expr::Index(i) => expr(&i.value, src) || expr(&i.index, src),
            ast::Expr::Call(c) => expr(&c.value, src) || c.args.iter().any(|x| expr(x, src)),
            ast::Expr::Unary(u) => expr(&u.value, src),
            ast::Expr::Binary(b) => expr(&b.left, src) || expr(&b.right, src),
            ast::Expr::Paren(p) => expr(&p.inner, src),
            ast::Expr::Ident(_) | ast::Expr::Literal(_) => false,
        }
    }
    body(&file.body, src)
}

fuzz_target!(|data: &[u8]| {
    let (src, parsed) = alloy_syntax::parser::parse_bytes("fuzz.alloy", data);
    for d in &parsed.diagnostics {
        assert!(d.span.end as usize <= src.len(), "diagnostic span out of bounds");
    }
    // Formatting must not panic on trees recovered from errors either.
    let once = alloy_syntax::printer::format_file(&parsed.file, &src);
    if parsed.has_errors() {
        return;
    }
    let twice = format(&once);
    if has_requoting_key(&parsed.file, &src) {
        return;
    }
    let thrice = format(&twice);
    assert_eq!(twice, thrice, "formatting does not settle");
});
