//! Parses a node_exporter-like scrape body of 1,000 series in both text formats and
//! reports bytes per second, the number that bounds scrape throughput per core.

use alloy_components::prometheus::exposition::{Entry, Format, Parser};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::fmt::Write as _;

/// A body shaped like node_exporter's: families with HELP and TYPE, CPU counters with
/// two labels, filesystem gauges with three, and one histogram. `om` switches to
/// OpenMetrics (`_total` counters and `# EOF`).
fn node_exporter_body(series: usize, om: bool) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut family = 0;
    while n < series {
        let name = format!("node_cpu_seconds_{family}");
        let total = if om { "_total" } else { "" };
        writeln!(out, "# HELP {name} Seconds the CPUs spent in each mode.").unwrap();
        writeln!(out, "# TYPE {name} counter").unwrap();
        for cpu in 0..8 {
            for mode in [
                "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
            ] {
                writeln!(
                    out,
                    "{name}{total}{{cpu=\"{cpu}\",mode=\"{mode}\"}} {}.{:02}",
                    1_234_567 + n * 37,
                    n % 100
                )
                .unwrap();
                n += 1;
            }
        }
        let name = format!("node_filesystem_avail_bytes_{family}");
        writeln!(
            out,
            "# HELP {name} Filesystem space available to non-root users in bytes."
        )
        .unwrap();
        writeln!(out, "# TYPE {name} gauge").unwrap();
        for dev in 0..16 {
            writeln!(
                out,
                "{name}{{device=\"/dev/nvme0n1p{dev}\",fstype=\"ext4\",mountpoint=\"/mnt/data{dev}\"}} {:e}",
                2.5e11 + n as f64 * 1024.0
            )
            .unwrap();
            n += 1;
        }
        let name = format!("http_request_duration_seconds_{family}");
        writeln!(out, "# HELP {name} Request latency.").unwrap();
        writeln!(out, "# TYPE {name} histogram").unwrap();
        for le in [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "+Inf",
        ] {
            writeln!(out, "{name}_bucket{{handler=\"/api\",le=\"{le}\"}} {n}").unwrap();
            n += 1;
        }
        writeln!(out, "{name}_sum{{handler=\"/api\"}} 12.5").unwrap();
        writeln!(out, "{name}_count{{handler=\"/api\"}} {n}").unwrap();
        n += 2;
        family += 1;
    }
    if om {
        out.push_str("# EOF\n");
    }
    out
}

fn parse_all(body: &[u8], format: Format) -> (usize, f64) {
    let mut samples = 0;
    let mut sum = 0.0;
    for entry in Parser::new(body, format) {
        if let Ok(Entry::Sample(s)) = entry {
            samples += 1;
            sum += s.value;
            // Consumers read every label; include that cost.
            for (_, v) in s.labels.iter() {
                sum += v.len() as f64;
            }
        }
    }
    (samples, sum)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("exposition");
    for (label, format, om) in [
        ("text_1000_series", Format::PrometheusText, false),
        ("openmetrics_1000_series", Format::OpenMetricsText, true),
    ] {
        let body = node_exporter_body(1000, om);
        assert!(Parser::new(body.as_bytes(), format).all(|e| e.is_ok()));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(label, |b| {
            b.iter(|| parse_all(std::hint::black_box(body.as_bytes()), format))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
