//! Fuzzes parse + format: no input may panic; a file that parses cleanly must format to
//! text that parses cleanly, and formatting must settle. Upstream's documented quirks
//! bound what "settle" means: comments beside `(`, `)`, `.` or `,` may move on the
//! second run (so the second and third runs must agree), and quoted object keys are
//! re-quoted from their raw text, so a key whose text quoting would change (escapes,
//! control characters) grows on every run and is exempt.
#![no_main]

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

/// Whether re-quoting could change some quoted key: it contains a backslash or a
/// character Go's `%q` escapes.
fn has_requoting_key(src: &str) -> bool {
    src.chars().any(|c| {
        c == '\\' || (!alloy_syntax::lexer::is_go_printable(c) && !matches!(c, '\n' | '\t' | '\r'))
    })
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
    if has_requoting_key(&src) {
        return;
    }
    let thrice = format(&twice);
    assert_eq!(twice, thrice, "formatting does not settle");
});
