//! Fuzzes the scrape body parser: no input may panic or loop in either format, and
//! every entry must be readable (labels decoded, values canonical).
#![no_main]

use alloy_components::prometheus::exposition::{Entry, Format, Options, Parser, NORMAL_NAN_BITS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::PrometheusText, Format::OpenMetricsText] {
        for opts in [
            Options::default(),
            Options {
                skip_created_series: true,
                strict_type_lines: false,
            },
        ] {
            let mut entries = 0usize;
            for entry in Parser::with_options(data, format, opts) {
                entries += 1;
                // Each entry consumes at least one byte, so this bounds the run.
                assert!(entries <= data.len() + 1, "parser does not advance");
                match entry {
                    Ok(Entry::Sample(s)) => {
                        assert!(!s.value.is_nan() || s.value.to_bits() == NORMAL_NAN_BITS);
                        // Decoding validated labels must never fail or panic.
                        let n = s.labels.iter().count();
                        assert!(n <= s.labels.raw().len());
                        if let Some(e) = s.exemplar {
                            let _ = e.labels.iter().count();
                        }
                    }
                    Ok(_) => {}
                    Err(e) => assert!(e.line >= 1),
                }
            }
        }
    }
});
