//! Functions that wrap Go's standard library, against outputs Go itself produced (our
//! fixture `testdata/stdlib/go_stdlib.json`, from `testdata/stdlib/go_stdlib_gen.go`
//! with go1.19.8): `encoding/json` errors and float marshalling, base64 decoding
//! errors, `url.QueryUnescape`/`QueryEscape`, `filepath.Join`, `unicode.ToUpper` and
//! `ToLower` for every code point, and `unicode.IsSpace`.

use std::collections::{BTreeMap, HashSet};

use alloy_stdlib::lookup;
use alloy_syntax::value::Value;
use serde_json::Value as Json;

/// Calls `ns.name` (or the top-level function `ns` when `name` is empty).
fn call(ns: &str, name: &str, args: &[Value]) -> Result<Value, String> {
    let f = match lookup(ns) {
        Some(Value::Object(o)) => o.get(name).cloned(),
        other => other,
    };
    let Some(Value::Function(f)) = f else {
        panic!("{ns}.{name} is not a function");
    };
    (f.call)(args).map_err(|e| format!("{e:?}"))
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn fixture() -> Json {
    let path = alloy_testdata::fixtures()
        .join("stdlib")
        .join("go_stdlib.json");
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Collects mismatches of one section and fails once with all of them.
fn check(section: &str, cases: &Json, mut one: impl FnMut(&Json) -> Result<(), String>) {
    let cases = cases.as_array().expect("section is an array");
    let failures: Vec<String> = cases.iter().filter_map(|c| one(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{section}: {} of {} differ from Go:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn json_errors_match_go() {
    check("json", &fixture()["json"], |c| {
        let input = c["in"].as_str().unwrap_or_default();
        let got = call("encoding", "from_json", &[Value::string(input)]).err();
        let want = c["error"].as_str().map(str::to_string);
        (got == want)
            .then_some(())
            .ok_or(format!("{input:?}: got {got:?}, want {want:?}"))
    });
}

#[test]
fn json_floats_marshal_like_go() {
    check("marshal_float", &fixture()["marshal_float"], |c| {
        let bits = c["bits"].as_str().and_then(|b| b.parse().ok()).unwrap_or(0);
        let f = f64::from_bits(bits);
        let mut m = BTreeMap::new();
        m.insert("f".to_string(), Value::float(f));
        let got = call("encoding", "to_json", &[Value::object(m)]);
        let want = c["out"].as_str();
        match &got {
            Ok(v) if text(v) == want => Ok(()),
            _ => Err(format!("{f:e}: got {got:?}, want {want:?}")),
        }
    });
}

#[test]
fn base64_matches_go() {
    check("base64", &fixture()["base64"], |c| {
        let input = c["in"].as_str().unwrap_or_default();
        let f = if c["enc"] == "std" {
            "from_base64"
        } else {
            "from_URLbase64"
        };
        let got = call("encoding", f, &[Value::string(input)]);
        let ok = match (&got, c["error"].as_str()) {
            (Err(e), Some(w)) => e == w,
            (Ok(_), None) => true,
            _ => false,
        };
        ok.then_some(())
            .ok_or(format!("{f} {input:?}: got {got:?}, want {c}"))
    });
}

#[test]
fn url_escaping_matches_go() {
    check("url", &fixture()["url"], |c| {
        let input = c["in"].as_str().unwrap_or_default();
        let got = call("encoding", "url_decode", &[Value::string(input)]);
        let ok = match (&got, c["error"].as_str()) {
            (Err(e), Some(w)) => e == w,
            (Ok(v), None) => text(v) == c["out"].as_str(),
            _ => false,
        };
        let escaped = call("encoding", "url_encode", &[Value::string(input)]);
        let esc_ok = matches!(&escaped, Ok(v) if text(v) == c["escaped"].as_str());
        (ok && esc_ok)
            .then_some(())
            .ok_or(format!("{input:?}: got {got:?} / {escaped:?}, want {c}"))
    });
}

#[cfg(unix)]
#[test]
fn path_join_matches_go() {
    check("join", &fixture()["join"], |c| {
        let args: Vec<Value> = c["in"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| Value::string(s.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let got = call("file", "path_join", &args);
        match &got {
            Ok(v) if text(v) == c["out"].as_str() => Ok(()),
            _ => Err(format!("{}: got {got:?}, want {}", c["in"], c["out"])),
        }
    });
}

#[test]
fn case_mapping_matches_go() {
    check("case", &fixture()["case"], |c| {
        let rune = |i: usize| c[i].as_u64().and_then(|u| char::from_u32(u as u32));
        let (Some(r), Some(u), Some(l)) = (rune(0), rune(1), rune(2)) else {
            return Ok(()); // Surrogates cannot occur in our strings.
        };
        let arg = [Value::string(r.to_string())];
        let up = call("string", "to_upper", &arg).map(|v| text(&v).map(str::to_string));
        let low = call("string", "to_lower", &arg).map(|v| text(&v).map(str::to_string));
        if up == Ok(Some(u.to_string())) && low == Ok(Some(l.to_string())) {
            Ok(())
        } else {
            Err(format!(
                "U+{:04X}: upper {up:?} want {u:?}, lower {low:?} want {l:?}",
                r as u32
            ))
        }
    });
}

#[test]
fn trim_space_uses_go_white_space() {
    let spaces: HashSet<u32> = fixture()["space"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64())
                .map(|v| v as u32)
                .collect()
        })
        .unwrap_or_default();
    // Every White_Space character lies below U+3100; above it only U+FEFF is a
    // tempting candidate (it is not a space in Go).
    for c in (0..0x3100u32).chain([0xFEFF]).filter_map(char::from_u32) {
        let got = call("string", "trim_space", &[Value::string(format!("{c}x{c}"))]);
        let trimmed = matches!(&got, Ok(v) if text(v) == Some("x"));
        assert_eq!(trimmed, spaces.contains(&(c as u32)), "U+{:04X}", c as u32);
    }
}
