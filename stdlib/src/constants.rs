//! The `constants` namespace: host name, Go-style OS and architecture names, and the
//! build version (LANGUAGE.md §5.1).

use std::collections::BTreeMap;

use alloy_syntax::value::Value;

/// The `constants` object for a build whose version is `version`.
pub(crate) fn namespace(version: &str) -> Value {
    let mut fields = BTreeMap::new();
    fields.insert("hostname".to_string(), Value::string(hostname()));
    fields.insert("os".to_string(), Value::string(go_os()));
    fields.insert("arch".to_string(), Value::string(go_arch()));
    fields.insert(
        "version".to_string(),
        Value::string(normalize_version(version)),
    );
    Value::object(fields)
}

/// Go's `os.Hostname()`, or `""` when it cannot be read. Without libc calls we read
/// the kernel's value on Linux and fall back to the usual environment variables.
fn hostname() -> String {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        return name.trim_end().to_string();
    }
    ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
}

/// Go's `GOOS` for the OS we were built for.
fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// Go's `GOARCH` for the architecture we were built for.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Upstream's `normalizeVersion`: `v` plus the semver when the version parses
/// tolerantly as one, the text unchanged otherwise, and `v0.0.0` when empty.
pub(crate) fn normalize_version(version: &str) -> String {
    let version = version.trim();
    if version.is_empty() {
        return "v0.0.0".into();
    }
    match tolerant_semver(version) {
        Some(v) => format!("v{v}"),
        None => version.to_string(),
    }
}

/// blang/semver's `ParseTolerant`: an optional `v`, leading zeros dropped, and missing
/// minor or patch numbers filled with 0.
fn tolerant_semver(s: &str) -> Option<String> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts: Vec<String> = s.splitn(3, '.').map(str::to_string).collect();
    for p in parts.iter_mut() {
        if p.len() > 1 {
            let trimmed = p.trim_start_matches('0');
            *p = if trimmed.is_empty() || !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
                format!("0{trimmed}")
            } else {
                trimmed.to_string()
            };
        }
    }
    if parts.len() < 3 {
        if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
            return None;
        }
        parts.resize(3, "0".to_string());
    }
    // major.minor.patch[-pre][+build], each number plain decimal.
    let (core, build) = match parts[2].split_once('+') {
        Some((c, b)) => (c.to_string(), Some(b.to_string())),
        None => (parts[2].clone(), None),
    };
    let (patch, pre) = match core.split_once('-') {
        Some((p, pre)) => (p.to_string(), Some(pre.to_string())),
        None => (core, None),
    };
    let numeric = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    if !numeric(&parts[0]) || !numeric(&parts[1]) || !numeric(&patch) {
        return None;
    }
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if pre.as_deref().is_some_and(|p| !ident_ok(p))
        || build.as_deref().is_some_and(|b| !ident_ok(b))
    {
        return None;
    }
    let mut out = format!("{}.{}.{}", parts[0], parts[1], patch);
    if let Some(pre) = pre {
        out.push('-');
        out.push_str(&pre);
    }
    if let Some(build) = build {
        out.push('+');
        out.push_str(&build);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_normalize_like_upstream() {
        assert_eq!(normalize_version(""), "v0.0.0");
        assert_eq!(normalize_version("1.2.3"), "v1.2.3");
        assert_eq!(normalize_version("v1.2"), "v1.2.0");
        assert_eq!(normalize_version("v1.4.0-rc.1+abc"), "v1.4.0-rc.1+abc");
        assert_eq!(normalize_version("devel"), "devel");
    }
}
