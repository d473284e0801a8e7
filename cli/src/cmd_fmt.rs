//! `ferroalloy fmt`: prints a configuration file in canonical form, rewrites it in place
//! (`-w`) or checks it (`-t`), with upstream `alloy fmt`'s messages and exit statuses
//! (CLI-AND-HTTP.md §2).

use crate::diagnostics::{stderr_wants_color, DiagnosticsFormat, Printer, Sources};
use anyhow::{anyhow, bail, Result};
use std::ffi::OsString;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Long help of `fmt`, in the words of upstream's.
pub const LONG_ABOUT: &str = "\
The fmt subcommand applies standard formatting rules to the specified configuration file.

If the file argument is not supplied or if the file argument is \"-\", then fmt will read \
from stdin.

The -w flag can be used to write the formatted file back to disk. -w can not be provided \
when fmt is reading from stdin. When -w is not provided, fmt will write the result to stdout.";

/// The name stdin gets in diagnostics and messages, as upstream names it.
const STDIN_NAME: &str = "<stdin>";

/// Flags and arguments of `fmt`.
#[derive(Debug, clap::Args)]
pub struct FmtArgs {
    /// The file to format; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    file: Option<OsString>,

    /// Write result to (source) file instead of stdout.
    #[arg(short = 'w', long = "write")]
    write: bool,

    /// Exit with non-zero when changes would be made. Cannot be used with -w/--write.
    #[arg(short = 't', long = "test")]
    test: bool,
}

/// Runs `fmt`. Parse errors are printed here in `format` (the plain layout with source
/// lines by default, where upstream prints one line each: pointing at the code is the
/// point); every other failure is returned for `main` to print.
pub fn run(args: &FmtArgs, format: Option<DiagnosticsFormat>) -> Result<()> {
    if args.write && args.test {
        bail!("cannot use -w/--write and -t/--test at the same time");
    }
    let printer = Printer::new(
        format.unwrap_or(DiagnosticsFormat::Plain),
        stderr_wants_color(),
    );
    match args.file.as_deref() {
        None => format_stdin(args, &printer),
        Some(f) if f == "-" => format_stdin(args, &printer),
        Some(f) => format_path(Path::new(f), args, &printer),
    }
}

fn format_stdin(args: &FmtArgs, printer: &Printer) -> Result<()> {
    if args.write {
        bail!("cannot use -w with standard input");
    }
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("read {}: {}", "/dev/stdin", go_error_text(&e)))?;
    format_bytes(STDIN_NAME, bytes, None, args, printer)
}

fn format_path(path: &Path, args: &FmtArgs, printer: &Printer) -> Result<()> {
    let shown = path.display().to_string();
    let meta = fs::metadata(path).map_err(|e| go_error("stat", &shown, &e))?;
    if meta.is_dir() {
        bail!("cannot format a directory");
    }
    let bytes = fs::read(path).map_err(|e| go_error("open", &shown, &e))?;
    format_bytes(&shown, bytes, Some((path, &meta)), args, printer)
}

/// Formats a file's contents and acts on the result: check it (`-t`), write it back
/// (`-w`) or print it.
///
/// Neither the whole syntax tree nor the whole output is ever held, so memory stays
/// near the size of the input: a first pass parses one top-level statement at a time
/// and drops it, only to find errors; once there are none, each later pass parses
/// and formats statement by statement, straight to where the text goes (the
/// formatter prints the same text as it does for the whole tree; a test checks this
/// over every fixture). Checking whether anything changes is such a pass too, ending
/// at the first difference.
fn format_bytes(
    name: &str,
    bytes: Vec<u8>,
    file: Option<(&Path, &fs::Metadata)>,
    args: &FmtArgs,
    printer: &Printer,
) -> Result<()> {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        // Invalid UTF-8 is an error the whole-file parser reports where it occurs.
        Err(err) => return format_whole(name, err.into_bytes(), file, args, printer),
    };
    let diagnostics = alloy_syntax::parser::Statements::new(name, &text).finish();
    if diagnostics.iter().any(alloy_syntax::Diagnostic::is_error) {
        return Err(report_errors(name, text, &diagnostics, printer));
    }
    let unchanged = || {
        let mut check = SameAs {
            expected: text.as_bytes(),
        };
        // Only a difference makes writing to `check` fail.
        format_stream(name, &text, &mut check).is_ok() && check.expected.is_empty()
    };
    if args.test {
        if !unchanged() {
            bail!("file {name} is not formatted correctly");
        }
        return Ok(());
    }
    match file {
        Some((path, meta)) if args.write => {
            // Leaving an unchanged file alone keeps its timestamp, so file watchers
            // and build tools see no change.
            if unchanged() {
                return Ok(());
            }
            write_atomically(path, meta, |out| format_stream(name, &text, out))
                .map_err(|e| go_error("open", name, &e))
        }
        _ => {
            let mut stdout = BufWriter::with_capacity(OUTPUT_BUFFER, io::stdout().lock());
            format_stream(name, &text, &mut stdout)
                .and_then(|()| stdout.flush())
                .map_err(|e| anyhow!("write /dev/stdout: {}", go_error_text(&e)))
        }
    }
}

/// Bytes of formatted text gathered before each write.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// Formats `text`, which parses without errors, one top-level statement at a time
/// into `out`, with the final newline `fmt` always ends with.
fn format_stream(name: &str, text: &str, out: &mut impl Write) -> io::Result<()> {
    let opts = alloy_syntax::printer::PrintOptions::default();
    let mut formatter = alloy_syntax::printer::StmtFormatter::new(text, &opts);
    for stmt in alloy_syntax::parser::Statements::new(name, text) {
        formatter.push(&stmt);
        formatter.write_ready(|ready| out.write_all(ready))?;
    }
    out.write_all(&formatter.finish())?;
    out.write_all(b"\n")
}

/// A writer that checks what is written against `expected`, consuming it, and fails
/// at the first byte that differs (so a changed file is known without formatting
/// all of it).
struct SameAs<'a> {
    expected: &'a [u8],
}

impl Write for SameAs<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.expected.strip_prefix(buf) {
            Some(rest) => {
                self.expected = rest;
                Ok(buf.len())
            }
            None => Err(io::Error::other("output differs from the input")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Prints the parse diagnostics of `text` to stderr and returns the error `fmt`
/// fails with.
fn report_errors(
    name: &str,
    text: String,
    diagnostics: &[alloy_syntax::Diagnostic],
    printer: &Printer,
) -> anyhow::Error {
    let sources: Sources = [(name.to_string(), Arc::<str>::from(text))].into();
    printer.eprint(diagnostics, &sources);
    anyhow!("encountered errors during formatting")
}

/// [`format_bytes`] for input that is not UTF-8 (which does not parse): the whole
/// tree is built, so the errors are reported exactly where the parser finds them.
fn format_whole(
    name: &str,
    bytes: Vec<u8>,
    file: Option<(&Path, &fs::Metadata)>,
    args: &FmtArgs,
    printer: &Printer,
) -> Result<()> {
    let (text, parsed) = alloy_syntax::parser::parse_owned(name, bytes);
    if parsed.has_errors() {
        return Err(report_errors(name, text, &parsed.diagnostics, printer));
    }
    let mut out = alloy_syntax::printer::format_file(&parsed.file, &text);
    // The printer leaves the final newline to its caller; `fmt` always ends with one.
    out.push('\n');
    // The tree is not needed any more; free it before the output is written.
    drop(parsed);
    finish(name, text.as_bytes(), &out, file, args)
}

/// Acts on the formatted text: check it (`-t`), write it back (`-w`) or print it.
fn finish(
    name: &str,
    original: &[u8],
    formatted: &str,
    file: Option<(&Path, &fs::Metadata)>,
    args: &FmtArgs,
) -> Result<()> {
    let unchanged = original == formatted.as_bytes();
    if args.test {
        if !unchanged {
            bail!("file {name} is not formatted correctly");
        }
        return Ok(());
    }
    match file {
        Some((path, meta)) if args.write => {
            // Leaving an unchanged file alone keeps its timestamp, so file watchers
            // and build tools see no change.
            if unchanged {
                return Ok(());
            }
            write_atomically(path, meta, |out| out.write_all(formatted.as_bytes()))
                .map_err(|e| go_error("open", name, &e))
        }
        _ => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(formatted.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| anyhow!("write /dev/stdout: {}", go_error_text(&e)))
        }
    }
}

/// Replaces the contents of `path` with what `write` writes, so that readers see
/// either the old or the new file, never a half-written one: write a temporary file
/// beside it with the same permissions (and, where allowed, owner), then rename it
/// over the original. A symlink is followed, so the link stays and its target gets
/// the new contents.
fn write_atomically(
    path: &Path,
    meta: &fs::Metadata,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    // Upstream opens the file for writing, so a file we may not write is refused even
    // when its directory would let us replace it. Opening without truncating checks
    // exactly that and changes nothing.
    drop(fs::OpenOptions::new().write(true).open(path)?);
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let tmp = temp_path(&target);
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        // Owner-only until the final permissions are set: configs often hold secrets,
        // and the temporary file must not be readable by others in between.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = BufWriter::with_capacity(OUTPUT_BUFFER, options.open(&tmp)?);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // Only root may give a file away; for everyone else the owner is already
            // right or cannot be kept, and the rewrite goes ahead either way.
            let _ = std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()));
        }
        file.set_permissions(meta.permissions())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        // Best effort: a leftover temporary file is only clutter, the original is intact.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `.<name>.ferroalloy-fmt-<pid>` beside `target`: hidden, in the same directory so the
/// rename cannot cross file systems, and unique per process.
fn temp_path(target: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(format!(".ferroalloy-fmt-{}", std::process::id()));
    target.with_file_name(name)
}

/// `op path: reason`, the shape of Go's `*PathError` messages upstream prints.
fn go_error(op: &str, path: &str, err: &io::Error) -> anyhow::Error {
    anyhow!("{op} {path}: {}", go_error_text(err))
}

/// An I/O error's reason as Go spells it: `no such file or directory` rather than Rust's
/// `No such file or directory (os error 2)`.
fn go_error_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match (err.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => &text[..at],
        _ => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_like_go() {
        let err = io::Error::from_raw_os_error(2);
        assert_eq!(go_error_text(&err), "no such file or directory");
        assert_eq!(
            go_error("stat", "x.alloy", &err).to_string(),
            "stat x.alloy: no such file or directory"
        );
    }

    #[test]
    fn temp_file_sits_beside_the_target() {
        let tmp = temp_path(Path::new("/etc/alloy/config.alloy"));
        assert_eq!(tmp.parent(), Some(Path::new("/etc/alloy")));
        assert!(tmp
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".config.alloy.ferroalloy-fmt-")));
    }
}
