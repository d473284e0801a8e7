//! Parses (and optionally formats) one file N times: a fixed workload for profilers
//! such as `valgrind --tool=callgrind`, whose instruction counts stay repeatable on a
//! busy machine where wall-clock benchmarks do not.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), n) = (args.next(), args.next()) else {
        eprintln!("usage: parse_file FILE [N] [fmt]");
        std::process::exit(2);
    };
    let n: usize = n.and_then(|n| n.parse().ok()).unwrap_or(1);
    let fmt = args.next().as_deref() == Some("fmt");
    let src = match std::fs::read_to_string(&path) {
        Ok(src) => src,
        Err(err) => {
            eprintln!("{path}: {err}");
            std::process::exit(1);
        }
    };
    let start = Instant::now();
    let mut out = 0;
    for _ in 0..n {
        let parsed = alloy_syntax::parse_file(&path, &src);
        out += parsed.diagnostics.len();
        if fmt {
            out += alloy_syntax::printer::format_file(&parsed.file, &src).len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = (src.len() * n) as f64 / 1e6;
    println!("{:.1} MB/s ({out})", mb / secs);
}
