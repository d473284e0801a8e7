//! The UI's data API under `/api/v0/web` (CLI-AND-HTTP.md §5): component lists per
//! module, one component's arguments, exports and debug info, and the streamed
//! throughput samples the graph page writes on its edges.
//!
//! Field names follow upstream's, so its UI and scripts can read ours. Secrets never
//! leave here in clear: secret-typed arguments are masked by schema (a literal
//! password is a plain string until the component decodes it), secret values
//! (`local.file` with `is_secret`) render as `(secret)`, and the source block is
//! shown with secret-typed attribute expressions replaced.

use super::Shared;
use crate::controller::{Controller, Node};
use crate::decode::BodyValue;
use crate::schema::{Schema, Ty};
use crate::throughput;
use alloy_syntax::ast::{Block, Stmt};
use alloy_syntax::value::{Capsule, Value};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value as Json};
use std::sync::Arc;
use std::time::Duration;

/// What the UI shows in place of a secret.
pub const SECRET_TEXT: &str = "(secret)";

/// The separator between streamed chunks, as upstream writes it.
const CHUNK_SEPARATOR: &str = "|;|";

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v0/web/components", get(list_root))
        .route("/api/v0/web/components/{*id}", get(detail))
        .route("/api/v0/web/modules/{*rest}", get(list_module))
        .route("/api/v0/web/cluster/targets", get(owned_targets))
        .route("/api/v0/web/graph", get(graph_root))
        .route("/api/v0/web/graph/{*module}", get(graph_module))
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("{what} not found\n")).into_response()
}

async fn list_root(State(shared): State<Arc<Shared>>) -> Response {
    list(&shared.controller, "")
}

/// `modules/{moduleID}/components`: the module ID may itself hold slashes
/// (`custom.a/custom.b`), so the route takes the rest and splits the suffix off.
async fn list_module(State(shared): State<Arc<Shared>>, Path(rest): Path<String>) -> Response {
    match rest.strip_suffix("/components") {
        Some(module) if !module.is_empty() => list(&shared.controller, module),
        _ => not_found("route"),
    }
}

fn list(controller: &Controller, module: &str) -> Response {
    let Some(nodes) = controller.module(module) else {
        return not_found("module");
    };
    let list: Vec<Json> = nodes
        .iter()
        .filter(|n| n.is_component())
        .map(|n| summary(controller, n, module))
        .collect();
    json_response(StatusCode::OK, &Json::Array(list))
}

async fn detail(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let controller = &shared.controller;
    let Some(node) = controller.node(&id).filter(|n| n.is_component()) else {
        return not_found("component");
    };
    let module = id.rsplit_once('/').map_or("", |(m, _)| m);
    let mut body = summary(controller, &node, module);
    let schema = node.schema();
    let arguments = node
        .arguments()
        .map_or_else(Vec::new, |b| body_json(&b, schema));
    let exports = exports_json(&node.exports());
    let (file, block) = node.block();
    let fields = body.as_object_mut().expect("summary is an object");
    fields.insert("arguments".into(), Json::Array(arguments));
    fields.insert("exports".into(), Json::Array(exports));
    let debug = node
        .debug_info()
        .map_or_else(Vec::new, |v| exports_json(&v));
    fields.insert("debugInfo".into(), Json::Array(debug));
    fields.insert(
        "source".into(),
        json!(redacted_source(&file.text, &block, schema)),
    );
    fields.insert("file".into(), json!(file.name.to_string()));
    json_response(StatusCode::OK, &body)
}

/// `{peer name: targets it owns}` over every component that lists targets with
/// owners in its debug info (scrapes), modules included. Not an upstream route: the
/// clustering page reads it for its owned-targets column.
async fn owned_targets(State(shared): State<Arc<Shared>>) -> Response {
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let mut pending = shared.controller.nodes();
    while let Some(node) = pending.pop() {
        pending.extend(node.module_nodes());
        let Some(info) = node.debug_info() else {
            continue;
        };
        let targets = info.as_object().and_then(|o| o.get("targets").cloned());
        for target in targets
            .as_ref()
            .and_then(Value::as_array)
            .unwrap_or_default()
        {
            let owner = target.as_object().and_then(|o| o.get("owner"));
            if let Some(owner) = owner.and_then(Value::as_str) {
                *counts.entry(owner.to_string()).or_default() += 1;
            }
        }
    }
    json_response(StatusCode::OK, &json!(counts))
}

/// One component as upstream's list shows it.
fn summary(controller: &Controller, node: &Node, module: &str) -> Json {
    let links = controller.links(&node.global_id);
    let (to, by, flows) = match &links {
        Some(l) => {
            let ids = |nodes: &[Arc<Node>]| -> Vec<String> {
                nodes
                    .iter()
                    .filter(|n| n.is_component())
                    .map(|n| n.id.clone())
                    .collect()
            };
            // Data flows towards a component that exports a receiver (a capsule) and
            // away from one that exports plain values (targets, say).
            let mut flows: Vec<String> = l
                .references
                .iter()
                .filter(|n| n.is_component() && exports_capsule(&n.exports()))
                .map(|n| n.id.clone())
                .collect();
            if !exports_capsule(&node.exports()) {
                flows.extend(
                    l.referenced_by
                        .iter()
                        .filter(|n| n.is_component())
                        .map(|n| n.id.clone()),
                );
            }
            (ids(&l.references), ids(&l.referenced_by), flows)
        }
        None => Default::default(),
    };
    let health = node.health();
    let created: Vec<String> = if node.has_module() {
        vec![node.global_id.clone()]
    } else {
        Vec::new()
    };
    let mut out = json!({
        "name": node.component_name(),
        "type": "block",
        "id": node.global_id,
        "localID": node.id,
        "moduleID": module,
        "label": node.label().unwrap_or_default(),
        "referencesTo": to,
        "referencedBy": by,
        "dataFlowEdgesTo": flows,
        "health": {
            "state": health.state.as_str(),
            "message": health.message,
            "updatedTime": crate::timestamp::rfc3339_millis(health.updated),
        },
        "original": "",
        "createdModuleIDs": created,
        "liveDebuggingEnabled": false,
    });
    if let Some(rate) = throughput::rate(&node.global_id, Duration::from_secs(1)) {
        out["samplesPerSecond"] = json!(rate);
        out["samplesTotal"] = json!(throughput::total(&node.global_id).unwrap_or(0));
    }
    out
}

fn exports_capsule(exports: &Value) -> bool {
    match exports {
        Value::Capsule(Capsule::Host(_)) => true,
        Value::Object(fields) => fields.values().any(exports_capsule),
        Value::Array(items) => items.iter().any(exports_capsule),
        _ => false,
    }
}

/// A body in upstream's Alloy-JSON form: `{name, type: "attr", value}` and
/// `{name, type: "block", label?, body}` entries in source order.
fn body_json(body: &BodyValue, schema: Option<&Schema>) -> Vec<Json> {
    let mut out = Vec::new();
    for attr in &body.attrs {
        let ty = schema.and_then(|s| s.attr(&attr.name)).map(|a| a.ty);
        let value = match ty {
            Some(ty) => value_json(&mask(&attr.value, ty)),
            None => value_json(&attr.value),
        };
        out.push(json!({"name": attr.name, "type": "attr", "value": value}));
    }
    for block in &body.blocks {
        let inner = schema.and_then(|s| s.block(&block.name)).map(|b| b.schema);
        let mut entry = json!({
            "name": block.name,
            "type": "block",
            "body": body_json(&block.body, inner),
        });
        if let Some(label) = &block.label {
            entry["label"] = json!(label);
        }
        out.push(entry);
    }
    out
}

/// Exports as a body: one attribute per field.
fn exports_json(exports: &Value) -> Vec<Json> {
    match exports {
        Value::Object(fields) => fields
            .iter()
            .map(|(name, v)| json!({"name": name, "type": "attr", "value": value_json(v)}))
            .collect(),
        Value::Null => Vec::new(),
        other => vec![json!({"name": "value", "type": "attr", "value": value_json(other)})],
    }
}

/// `value` with every part that `ty` declares secret replaced by a secret.
fn mask(value: &Value, ty: Ty) -> Value {
    match (ty, value) {
        (Ty::Secret, Value::Null) => Value::Null,
        (Ty::Secret, _) => Value::secret(SECRET_TEXT),
        (Ty::Array(elem), Value::Array(items)) => {
            Value::array(items.iter().map(|v| mask(v, *elem)).collect())
        }
        (Ty::Map(elem), Value::Object(fields)) => Value::object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), mask(v, *elem)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Whether `ty` has a secret anywhere inside.
fn holds_secret(ty: Ty) -> bool {
    match ty {
        Ty::Secret => true,
        Ty::Array(elem) | Ty::Map(elem) => holds_secret(*elem),
        _ => false,
    }
}

/// Upstream's JSON encoding of one value.
fn value_json(value: &Value) -> Json {
    match value {
        Value::Null => json!({"type": "null"}),
        Value::Bool(b) => json!({"type": "bool", "value": b}),
        Value::Number(n) => {
            let text = n.to_go_string();
            let number: Json = serde_json::from_str(&text).unwrap_or(Json::String(text));
            json!({"type": "number", "value": number})
        }
        Value::String(s) => json!({"type": "string", "value": s.as_ref()}),
        Value::Array(items) => {
            json!({"type": "array", "value": items.iter().map(value_json).collect::<Vec<_>>()})
        }
        Value::Object(fields) => {
            let entries: Vec<Json> = fields
                .iter()
                .map(|(k, v)| json!({"key": k, "value": value_json(v)}))
                .collect();
            json!({"type": "object", "value": entries})
        }
        Value::Function(_) => json!({"type": "function", "value": "function"}),
        Value::Capsule(Capsule::Secret(_)) => json!({"type": "capsule", "value": SECRET_TEXT}),
        Value::Capsule(Capsule::OptionalSecret { value, is_secret }) => {
            if *is_secret {
                json!({"type": "capsule", "value": SECRET_TEXT})
            } else {
                json!({"type": "string", "value": value.as_ref()})
            }
        }
        Value::Capsule(Capsule::Host(h)) => {
            json!({"type": "capsule", "value": format!("capsule({:?})", h.type_name())})
        }
    }
}

/// The block's source text with each secret-typed attribute's expression replaced by
/// `"(secret)"`, so literal passwords in the file stay out of the UI.
fn redacted_source(src: &str, block: &Block, schema: Option<&Schema>) -> String {
    let span = block.span();
    let (start, end) = (span.start as usize, span.end as usize);
    let mut cuts = Vec::new();
    secret_spans(src, &block.body, schema, &mut cuts);
    cuts.sort();
    let mut out = String::new();
    let mut at = start;
    for (from, to) in cuts {
        if from < at || to > end {
            continue;
        }
        out.push_str(&src[at..from]);
        out.push_str(&format!("\"{SECRET_TEXT}\""));
        at = to;
    }
    out.push_str(&src[at..end]);
    out
}

fn secret_spans(src: &str, body: &[Stmt], schema: Option<&Schema>, out: &mut Vec<(usize, usize)>) {
    let Some(schema) = schema else {
        return;
    };
    for stmt in body {
        match stmt {
            Stmt::Attribute(attr) => {
                let secret = schema
                    .attr(attr.name.text(src))
                    .is_some_and(|a| holds_secret(a.ty));
                if secret {
                    let span = attr.value.span();
                    out.push((span.start as usize, span.end as usize));
                }
            }
            Stmt::Block(inner) => {
                let spec = schema.block(&inner.name_text(src)).map(|b| b.schema);
                secret_spans(src, &inner.body, spec, out);
            }
        }
    }
}

async fn graph_root(State(shared): State<Arc<Shared>>, query: RawQuery) -> Response {
    graph(shared, String::new(), query)
}

async fn graph_module(
    State(shared): State<Arc<Shared>>,
    Path(module): Path<String>,
    query: RawQuery,
) -> Response {
    graph(shared, module, query)
}

/// Streams, every `window` seconds, the throughput of each forwarding component of
/// the module: `{componentID, targetComponentIDs, type, rate}` per component, chunks
/// separated by `|;|`. The stream ends when the client goes away.
fn graph(shared: Arc<Shared>, module: String, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    let param = raw
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "window")
        .map(|(_, v)| v);
    let window = match param {
        None => 5,
        Some(text) => match text.parse::<u64>() {
            Ok(n) if (1..=60).contains(&n) => n,
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    "window must be an integer between 1 and 60\n",
                )
                    .into_response()
            }
        },
    };
    if shared.controller.module(&module).is_none() {
        return not_found("module");
    }
    let window = Duration::from_secs(window);
    let stream = futures_util::stream::unfold(
        (shared, module, true),
        move |(shared, module, first)| async move {
            if !first {
                tokio::time::sleep(window).await;
            }
            let nodes = shared.controller.module(&module)?;
            let chunk = graph_chunk(&shared.controller, &nodes, &module, window);
            let text = format!("{chunk}{CHUNK_SEPARATOR}");
            Some((
                Ok::<_, std::convert::Infallible>(text),
                (shared, module, false),
            ))
        },
    );
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

fn graph_chunk(
    controller: &Controller,
    nodes: &[Arc<Node>],
    module: &str,
    window: Duration,
) -> Json {
    let mut out = Vec::new();
    for node in nodes.iter().filter(|n| n.is_component()) {
        let Some(rate) = throughput::rate(&node.global_id, window.min(Duration::from_secs(1)))
        else {
            continue;
        };
        let summary = summary(controller, node, module);
        let mut entry = Map::new();
        entry.insert("componentID".into(), json!(node.id));
        entry.insert(
            "targetComponentIDs".into(),
            summary["dataFlowEdgesTo"].clone(),
        );
        entry.insert("type".into(), json!("prometheus_metrics"));
        entry.insert("rate".into(), json!(rate));
        out.push(Json::Object(entry));
    }
    Json::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_types_mask_nested_values() {
        static SECRET: Ty = Ty::Secret;
        static ARRAY: Ty = Ty::Array(&SECRET);
        let headers = Value::object(
            [(
                "Authorization".to_string(),
                Value::array(vec![Value::string("Bearer x")]),
            )]
            .into(),
        );
        let masked = mask(&headers, Ty::Map(&ARRAY));
        let text = value_json(&masked).to_string();
        assert!(!text.contains("Bearer"), "{text}");
        assert!(text.contains(SECRET_TEXT), "{text}");
        assert_eq!(
            value_json(&mask(&Value::string("x"), Ty::String)),
            json!({"type": "string", "value": "x"})
        );
        assert_eq!(
            value_json(&Value::optional_secret("hidden", true)),
            json!({"type": "capsule", "value": SECRET_TEXT})
        );
    }

    #[test]
    fn source_redaction_replaces_secret_expressions() {
        static BLOCKS: [crate::schema::BlockSpec; 0] = [];
        let src = "x \"a\" {\n  url = \"u\"\n  password = \"hunter2\"\n}\n";
        let parsed = alloy_syntax::parse_file("", src);
        let Stmt::Block(block) = &parsed.file.body[0] else {
            panic!("block expected")
        };
        static ATTRS: [crate::schema::Attr; 2] = [
            crate::schema::Attr {
                name: "url",
                ty: Ty::String,
                required: false,
            },
            crate::schema::Attr {
                name: "password",
                ty: Ty::Secret,
                required: false,
            },
        ];
        static SCHEMA: Schema = Schema {
            label: crate::schema::LabelRule::Required,
            attrs: &ATTRS,
            blocks: &BLOCKS,
            free_form: false,
        };
        let out = redacted_source(src, block, Some(&SCHEMA));
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("password = \"(secret)\""), "{out}");
        assert!(out.contains("url = \"u\""), "{out}");
    }
}
