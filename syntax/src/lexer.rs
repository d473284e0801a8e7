//! The scanner: logos-driven tokens plus upstream's terminator insertion and errors.

/// Removes `\r` from comment text as upstream's scanner does.
pub fn strip_comment_cr(raw: &str) -> String {
    raw.replace('\r', "")
}
