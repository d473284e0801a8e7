//! Fuzzes expression parsing and evaluation with the standard library in scope: no
//! input may panic or overflow the stack; every failure must be a diagnostic or an
//! evaluation error whose span lies inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    // Environment and host lookups are fine; the file system is not touched by the
    // stdlib. Huge outputs are bounded by the functions themselves.
    let (expr, diags) = alloy_syntax::parse_expression("fuzz", src);
    for d in &diags {
        assert!(d.span.end as usize <= src.len(), "diagnostic span out of bounds");
    }
    if diags.iter().any(|d| d.is_error()) {
        return;
    }
    if let Err(err) = alloy_syntax::eval::eval_expr(&expr, src, alloy_stdlib::stdlib()) {
        if let Some(span) = err.span {
            assert!(span.end as usize <= src.len(), "error span out of bounds");
        }
    }
});
