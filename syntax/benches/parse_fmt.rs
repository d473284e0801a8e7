//! Parse and parse+format throughput on generated configs of about 100 KB, 1 MB and
//! 10 MB (the shared generator's output, which upstream formats to itself).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

// The `ferroalloy` binary runs on mimalloc; measure with the allocator it ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIZES: [(usize, &str); 3] = [(100_000, "100KB"), (1_000_000, "1MB"), (10_000_000, "10MB")];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("syntax");
    group.sample_size(10);
    for (size, label) in SIZES {
        let Some(src) = alloy_testdata::generated_config(size) else {
            eprintln!("skipping: could not generate a {label} config");
            return;
        };
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.bench_with_input(BenchmarkId::new("lex", label), &src, |b, src| {
            b.iter(|| alloy_syntax::lexer::Lexer::new(src).count())
        });
        group.bench_with_input(BenchmarkId::new("parse", label), &src, |b, src| {
            b.iter(|| black_box(alloy_syntax::parse_file("bench.alloy", src)))
        });
        group.bench_with_input(BenchmarkId::new("parse+fmt", label), &src, |b, src| {
            b.iter(|| {
                let parsed = alloy_syntax::parse_file("bench.alloy", src);
                black_box(alloy_syntax::printer::format_file(&parsed.file, src))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
