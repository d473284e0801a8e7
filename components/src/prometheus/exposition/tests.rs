//! Tests of the exposition parser: the fixture cases under `testdata/exposition/`,
//! content negotiation, number formatting, and round-trip property tests.

use super::*;
use proptest::prelude::*;
use std::fmt::Write as _;

/// One line per entry, for fixtures: names quoted only when not legacy, values in
/// Go's shortest form, label values Go-quoted so escapes are visible.
fn dump(format: Format, body: &[u8], opts: Options) -> String {
    let mut out = String::new();
    for entry in Parser::with_options(body, format, opts) {
        match entry {
            Ok(Entry::Sample(s)) => {
                out.push_str("sample ");
                push_series(&mut out, Some(&s.name), s.labels);
                write!(out, " {}", show_float(s.value)).unwrap();
                if let Some(ts) = s.timestamp_ms {
                    write!(out, " @{ts}").unwrap();
                }
                if s.kind != MetricKind::Unknown {
                    write!(out, " kind={}", s.kind.as_str()).unwrap();
                }
                if let Some(e) = s.exemplar {
                    out.push_str(" # ");
                    push_series(&mut out, None, e.labels);
                    write!(out, " {}", show_float(e.value)).unwrap();
                    if let Some(ts) = e.timestamp_ms {
                        write!(out, " @{ts}").unwrap();
                    }
                }
            }
            Ok(Entry::Type { metric, kind }) => {
                write!(out, "type {} {}", show_name(&metric), kind.as_str()).unwrap()
            }
            Ok(Entry::Help { metric, text }) => write!(
                out,
                "help {} {}",
                show_name(&metric),
                go_quote_bytes(text.as_bytes())
            )
            .unwrap(),
            Ok(Entry::Unit { metric, unit }) => write!(
                out,
                "unit {} {}",
                show_name(&metric),
                go_quote_bytes(unit.as_bytes())
            )
            .unwrap(),
            Ok(Entry::Comment(text)) => {
                write!(out, "comment {}", go_quote_bytes(text.as_bytes())).unwrap()
            }
            Ok(Entry::Eof) => out.push_str("eof"),
            Err(e) => write!(out, "error: {e}").unwrap(),
        }
        out.push('\n');
    }
    out
}

fn show_name(name: &str) -> String {
    if is_legacy_metric_name(name) {
        name.to_string()
    } else {
        go_quote_bytes(name.as_bytes())
    }
}

fn show_float(v: f64) -> String {
    if v.is_nan() {
        // Only the canonical NaN should ever come out of the parser.
        if v.to_bits() == NORMAL_NAN_BITS {
            "NaN".into()
        } else {
            format!("NaN(bits={:#x})", v.to_bits())
        }
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        go_format_g(v)
    }
}

fn push_series(out: &mut String, name: Option<&str>, labels: LabelsRef<'_>) {
    if let Some(name) = name {
        out.push_str(&show_name(name));
    }
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if is_legacy_label_name(&k) {
            out.push_str(&k);
        } else {
            out.push_str(&go_quote_bytes(k.as_bytes()));
        }
        out.push('=');
        out.push_str(&go_quote_bytes(v.as_bytes()));
    }
    out.push('}');
}

/// Decodes an `.escaped` input: literal newlines are dropped (so a case can be
/// wrapped), and `\n`, `\r`, `\t`, `\0`, `\\`, `\xHH` stand for their bytes.
fn decode_escaped(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => i += 1,
            b'\\' if i + 1 < b.len() => {
                let (byte, len) = match b[i + 1] {
                    b'n' => (b'\n', 2),
                    b'r' => (b'\r', 2),
                    b't' => (b'\t', 2),
                    b'0' => (0, 2),
                    b'\\' => (b'\\', 2),
                    b'x' => (
                        u8::from_str_radix(&text[i + 2..i + 4], 16).expect("\\xHH in fixture"),
                        4,
                    ),
                    other => panic!("unknown escape \\{} in fixture", other as char),
                };
                out.push(byte);
                i += len;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Every `testdata/exposition/*.txt` case: a txtar archive with one input file
/// named after its format (`prometheus` or `openmetrics`, `.escaped` when written
/// with escapes), an optional `options` file, and the `expect`ed dump.
#[test]
fn exposition_fixtures() {
    let dir = alloy_testdata::fixtures().join("exposition");
    let cases = alloy_testdata::files_with_suffix(&dir, ".txt");
    assert!(cases.len() > 20, "fixtures missing in {}", dir.display());
    let mut harness = alloy_testdata::Harness::new("exposition");
    for path in cases {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let archive = std::fs::read_to_string(&path).unwrap();
        let files = alloy_testdata::txtar_files(&archive);
        let mut input = None;
        let mut expect = None;
        let mut opts = Options::default();
        for (file, text) in &files {
            let (format_name, escaped) = match file.strip_suffix(".escaped") {
                Some(f) => (f, true),
                None => (file.as_str(), false),
            };
            let format = match format_name {
                "prometheus" => Some(Format::PrometheusText),
                "openmetrics" => Some(Format::OpenMetricsText),
                _ => None,
            };
            if let Some(format) = format {
                let body = if escaped {
                    decode_escaped(text)
                } else {
                    text.as_bytes().to_vec()
                };
                input = Some((format, body));
            } else if file == "expect" {
                expect = Some(text.clone());
            } else if file == "options" {
                for opt in text.split_whitespace() {
                    match opt {
                        "skip_created_series" => opts.skip_created_series = true,
                        "lenient_type_lines" => opts.strict_type_lines = false,
                        other => panic!("{name}: unknown option {other}"),
                    }
                }
            }
        }
        let (format, body) = input.unwrap_or_else(|| panic!("{name}: no input file"));
        let got = dump(format, &body, opts);
        if alloy_testdata::update_mode() {
            let head = archive.split("-- expect --\n").next().unwrap_or(&archive);
            std::fs::write(&path, format!("{head}-- expect --\n{got}")).unwrap();
            continue;
        }
        let want = expect.unwrap_or_default();
        harness.record(
            &name,
            if got == want {
                Ok(())
            } else {
                Err(format!("want:\n{want}got:\n{got}"))
            },
        );
    }
    harness.finish();
}

#[test]
fn default_accept_header_is_built_from_the_default_protocols() {
    assert_eq!(
        accept_header(&ScrapeProtocol::DEFAULT, "underscores"),
        DEFAULT_ACCEPT_HEADER
    );
    assert_eq!(
        accept_header(&[ScrapeProtocol::PrometheusProto], "underscores"),
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,*/*;q=0.5"
    );
    assert_eq!(
        ScrapeProtocol::from_name("PrometheusText0.0.4"),
        Some(ScrapeProtocol::PrometheusText0_0_4)
    );
}

#[test]
fn content_type_selects_the_parser_as_prometheus_does() {
    let text = Some(Format::PrometheusText);
    let pick = |ct: &str, fb| select_format(ct, fb).map(|s| (s.format, s.warning.is_some()));
    assert_eq!(
        pick(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            text
        ),
        Ok((Format::OpenMetricsText, false))
    );
    assert_eq!(
        pick("Text/Plain; version=0.0.4", None),
        Ok((Format::PrometheusText, false))
    );
    assert_eq!(
        pick("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", None),
        Ok((Format::PrometheusProto, false))
    );
    assert_eq!(pick("", text), Ok((Format::PrometheusText, true)));
    assert_eq!(
        pick("application/json", text),
        Ok((Format::PrometheusText, true))
    );
    assert_eq!(
        pick("text/plain; a=1; a=2", text),
        Ok((Format::PrometheusText, true))
    );
    assert_eq!(
        pick("text/plain;", None),
        Ok((Format::PrometheusText, false))
    );
    assert_eq!(pick("text/", text), Ok((Format::PrometheusText, true)));
    assert_eq!(
        select_format("", None).unwrap_err(),
        "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target"
    );
    assert_eq!(
        select_format("application/json", Some(Format::PrometheusText))
            .unwrap()
            .warning
            .unwrap(),
        "received unsupported Content-Type \"application/json\", using fallback_scrape_protocol \"text/plain\""
    );
    assert!(select_format("foo/bar", None).is_err());
}

#[test]
fn protobuf_bodies_fail_cleanly() {
    let mut p = Parser::new(b"\x08\x01", Format::PrometheusProto);
    assert!(matches!(p.next(), Some(Err(_))));
    assert!(p.next().is_none());
}

#[test]
fn go_float_syntax() {
    for (s, want) in [
        ("1", Some(1.0)),
        ("-1.5e3", Some(-1500.0)),
        (".5", Some(0.5)),
        ("5.", Some(5.0)),
        ("+Inf", Some(f64::INFINITY)),
        ("-inf", Some(f64::NEG_INFINITY)),
        ("Infinity", Some(f64::INFINITY)),
        ("1e-400", Some(0.0)),
        ("00012", Some(12.0)),
    ] {
        assert_eq!(go_parse_float(s, false).ok(), want, "{s}");
    }
    assert!(go_parse_float("NaN", false).unwrap().is_nan());
    assert!(go_parse_float("nan", false).unwrap().is_nan());
    for s in [
        "", ".", "e3", "1e", "1e+", "+nan", "infin", "1.2.3", "0x10", "1 ", "--1", "1f",
    ] {
        assert_eq!(go_parse_float(s, false), Err(FloatError::Syntax), "{s:?}");
    }
    assert_eq!(go_parse_float("1e400", false), Err(FloatError::Range));
    assert_eq!(go_parse_float("0x1p-2", true), Ok(0.25));
    assert_eq!(go_parse_float("0x1.8p1", true), Ok(3.0));
}

#[test]
fn openmetrics_floats_format_like_go() {
    for (v, want) in [
        (1.0, "1.0"),
        (0.5, "0.5"),
        (100000.0, "100000.0"),
        (1e6, "1e+06"),
        (2.5e-5, "2.5e-05"),
        (0.0001, "0.0001"),
        (-0.0, "-0.0"),
        (123.456, "123.456"),
        (f64::INFINITY, "+Inf"),
        (f64::NAN, "NaN"),
    ] {
        assert_eq!(format_openmetrics_float(v), want, "{v}");
    }
}

#[test]
fn label_values_borrow_unless_escaped() {
    let body = b"m{a=\"plain\",b=\"esc\\\"aped\"} 1\n";
    let Some(Ok(Entry::Sample(s))) = Parser::new(body, Format::PrometheusText).next() else {
        panic!("no sample");
    };
    let labels: Vec<_> = s.labels.iter().collect();
    assert!(matches!(labels[0].1, Cow::Borrowed("plain")));
    assert!(matches!(&labels[1].1, Cow::Owned(v) if v == "esc\"aped"));
    assert!(matches!(s.name, Cow::Borrowed("m")));
}

#[test]
fn errors_stop_the_iteration() {
    let mut p = Parser::new(b"a 1\nb x\nc 3\n", Format::PrometheusText);
    assert!(matches!(p.next(), Some(Ok(Entry::Sample(_)))));
    let err = p.next().unwrap().unwrap_err();
    assert_eq!(err.line, 2);
    assert!(p.next().is_none());
}

/// Generators for the round-trip property: valid series rendered in the text
/// format must parse back to the same name, labels, value and timestamp.
fn metric_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("reserved", |n| n != "__name__")
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(8).collect()),
        Just("a\\b\"c\nd".to_string()),
    ]
}

fn sample_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::NAN),
        -1e6..1e6f64,
    ]
}

/// Renders a label value with the text format's escapes.
fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        // `{:?}` prints the shortest round-tripping form, in a syntax Go accepts.
        format!("{v:?}")
    }
}

type Series = (String, Vec<(String, String)>, f64, Option<i64>);

fn series() -> impl Strategy<Value = Series> {
    (
        metric_name(),
        proptest::collection::btree_map(label_name(), label_value(), 0..5),
        sample_value(),
        proptest::option::of(any::<i64>().prop_map(|t| t.saturating_abs())),
    )
        .prop_map(|(n, l, v, t)| (n, l.into_iter().collect(), v, t))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rendered_text_parses_back(
        batch in proptest::collection::vec(series(), 1..8),
        spaces in proptest::collection::vec(prop_oneof![Just(" "), Just("\t"), Just("  \t")], 4),
        trailing_newline in any::<bool>(),
    ) {
        let mut body = String::new();
        for (name, labels, value, ts) in &batch {
            body.push_str(name);
            if !labels.is_empty() {
                body.push('{');
                for (k, v) in labels {
                    write!(body, "{k}{}={}\"{}\",", spaces[0], spaces[1], escape_value(v)).unwrap();
                }
                body.push('}');
            }
            write!(body, "{}{}", spaces[2], render_value(*value)).unwrap();
            if let Some(ts) = ts {
                write!(body, "{}{ts}", spaces[3]).unwrap();
            }
            body.push('\n');
        }
        if !trailing_newline {
            body.pop();
        }
        let parsed: Vec<_> = Parser::new(body.as_bytes(), Format::PrometheusText)
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
        prop_assert_eq!(parsed.len(), batch.len());
        for (entry, (name, labels, value, ts)) in parsed.iter().zip(&batch) {
            let Entry::Sample(s) = entry else {
                return Err(TestCaseError::fail("not a sample"));
            };
            prop_assert_eq!(&*s.name, name.as_str());
            let got: Vec<(String, String)> =
                s.labels.iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            prop_assert_eq!(&got, labels);
            if value.is_nan() {
                prop_assert_eq!(s.value.to_bits(), NORMAL_NAN_BITS);
            } else {
                prop_assert_eq!(s.value.to_bits(), value.to_bits());
            }
            prop_assert_eq!(s.timestamp_ms, *ts);
        }
    }

    /// No input may panic or loop, in either format; every run ends.
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        for format in [Format::PrometheusText, Format::OpenMetricsText] {
            let n = Parser::new(&body, format).take(10_000).count();
            prop_assert!(n <= body.len() + 2);
        }
    }
}
