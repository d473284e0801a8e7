//! Fuzzes parse + format: no input may panic, and a file that parses cleanly must format
//! to text that parses cleanly and formats to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (src, parsed) = alloy_syntax::parser::parse_bytes("fuzz.alloy", data);
    for d in &parsed.diagnostics {
        assert!(d.span.end as usize <= src.len(), "diagnostic span out of bounds");
    }
    if parsed.has_errors() {
        return;
    }
    let once = alloy_syntax::printer::format_file(&parsed.file, &src);
    let reparsed = alloy_syntax::parse_file("fuzz.alloy", &once);
    assert!(!reparsed.has_errors(), "formatted output does not parse:\n{once}\n{:?}", reparsed.diagnostics);
    let twice = alloy_syntax::printer::format_file(&reparsed.file, &once);
    assert_eq!(once, twice, "formatting is not idempotent");
});
