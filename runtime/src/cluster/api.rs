//! The cluster's HTTP answers that are more than a one-liner: the peers list of
//! `/api/v0/web/peers` (with config convergence) and `cluster explain`'s
//! `/api/v0/web/cluster/explain?labels=...`. The server in `http.rs` only routes here.

use super::peer::Peer;
use super::service::Cluster;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The route of [`explain`].
pub const EXPLAIN_PATH: &str = "/api/v0/web/cluster/explain";

/// One peer as upstream's UI API lists it, plus `configHash` and `configDiffers`
/// (its gossiped config hash differs from this node's; nodes that have not loaded a
/// configuration yet never differ).
pub fn peer_json(peer: &Peer, mine: &str) -> serde_json::Value {
    serde_json::json!({
        "name": peer.name,
        "addr": peer.addr,
        "isSelf": peer.is_self,
        "state": peer.state.as_str(),
        "configHash": peer.config_hash,
        "configDiffers": !peer.is_self
            && !mine.is_empty()
            && !peer.config_hash.is_empty()
            && peer.config_hash != mine,
    })
}

/// The non-viewer peers sorted by name, as upstream's UI API lists them.
pub fn peers_json(cluster: &Cluster) -> serde_json::Value {
    let peers = cluster.peers();
    let mine = peers
        .iter()
        .find(|p| p.is_self)
        .map(|p| p.config_hash.clone())
        .unwrap_or_default();
    serde_json::Value::Array(
        peers
            .iter()
            .filter(|p| p.state.in_read_ring())
            .map(|p| peer_json(p, &mine))
            .collect(),
    )
}

/// Answers `GET /api/v0/web/cluster/explain?labels=...`: which node owns the target
/// with these labels and why, as JSON. `400` with the parse error for bad labels.
pub fn explain(cluster: &Cluster, query: Option<&str>) -> Response {
    let labels = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "labels")
        .map(|(_, value)| percent_decode(value));
    let Some(labels) = labels else {
        return (
            StatusCode::BAD_REQUEST,
            "missing the labels query parameter, e.g. ?labels={job=\"x\",instance=\"y\"}\n",
        )
            .into_response();
    };
    match parse_labels(&labels) {
        Ok(labels) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&cluster.explain(&labels)).unwrap_or_default(),
        )
            .into_response(),
        Err(err) => (StatusCode::BAD_REQUEST, format!("{err}\n")).into_response(),
    }
}

/// Decodes `%XX` escapes and `+` (a form's space) in a query value.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match text.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                    Some(Ok(b)) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a target's labels written as a Prometheus selector-like set,
/// `{job="x", instance="y"}` (values quoted, `\"` and `\\` escapes), or as
/// `job=x,instance=y`. Names must be Prometheus label names.
pub fn parse_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    let (body, braced) = match text.strip_prefix('{') {
        Some(rest) => (
            rest.strip_suffix('}')
                .ok_or_else(|| format!("labels {text:?}: missing the closing }}"))?,
            true,
        ),
        None => (text, false),
    };
    let mut labels = Vec::new();
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("labels {text:?}: expected name=value at {rest:?}"))?;
        let name = rest[..eq].trim();
        let valid = !name.is_empty()
            && name
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if !valid {
            return Err(format!("labels {text:?}: invalid label name {name:?}"));
        }
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => out.push('\n'),
                        Some((_, e)) => out.push(e),
                        None => break,
                    },
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end
                .ok_or_else(|| format!("labels {text:?}: unterminated quoted value of {name:?}"))?;
            value = out;
            rest = quoted[end + 1..].trim_start();
        } else if braced {
            return Err(format!(
                "labels {text:?}: the value of {name:?} must be quoted inside {{}}"
            ));
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        if labels.iter().any(|(n, _): &(String, String)| n == name) {
            return Err(format!("labels {text:?}: duplicate label {name:?}"));
        }
        labels.push((name.to_string(), value));
        match rest.strip_prefix(',') {
            Some(after) => rest = after.trim_start(),
            None if rest.is_empty() => {}
            None => return Err(format!("labels {text:?}: expected , at {rest:?}")),
        }
    }
    if labels.is_empty() {
        return Err(format!("labels {text:?}: no labels given"));
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_label_notations_parse_to_the_same_set() {
        let want = vec![
            ("job".to_string(), "x".to_string()),
            ("instance".to_string(), "h:1".to_string()),
        ];
        assert_eq!(parse_labels(r#"{job="x", instance="h:1"}"#).unwrap(), want);
        assert_eq!(parse_labels("job=x,instance=h:1").unwrap(), want);
        assert_eq!(
            parse_labels(r#"{a="q\"uote,d"}"#).unwrap(),
            vec![("a".to_string(), "q\"uote,d".to_string())]
        );
    }

    #[test]
    fn bad_labels_say_what_is_wrong() {
        for (text, says) in [
            ("{job=x}", "must be quoted"),
            ("{job=\"x\"", "closing }"),
            ("9a=b", "invalid label name"),
            ("a=b,a=c", "duplicate label"),
            ("", "no labels"),
            ("{a=\"b}", "unterminated"),
        ] {
            let err = parse_labels(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("%7Bjob%3D%22x%22%7D+a"), "{job=\"x\"} a");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
