//! Evaluating a block body into a [`BodyValue`] and building the scope a node's
//! expressions see: the exports of the nodes it references, nested by ID parts
//! (`prometheus.remote_write.default.receiver`), over the standard library.

use crate::decode::{AttrValue, BlockValue, BodyValue};
use alloy_syntax::ast::{Body, Stmt};
use alloy_syntax::eval::{eval_expr, EvalError, Scope};
use alloy_syntax::value::Value;
use std::collections::BTreeMap;

/// Evaluates every attribute of `body` (and of nested blocks) against `scope`.
/// Stops at the first error, as upstream does for one block.
pub fn eval_body_value(body: &Body, src: &str, scope: &dyn Scope) -> Result<BodyValue, EvalError> {
    let mut out = BodyValue::default();
    for stmt in body {
        match stmt {
            Stmt::Attribute(attr) => out.attrs.push(AttrValue {
                name: attr.name.text(src).to_string(),
                value: eval_expr(&attr.value, src, scope)?,
                span: attr.value.span(),
            }),
            Stmt::Block(block) => {
                let mut inner = eval_body_value(&block.body, src, scope)?;
                inner.span = block.span();
                out.blocks.push(BlockValue {
                    name: block.name_text(src),
                    label: block.label(src).map(str::to_string),
                    body: inner,
                });
            }
        }
    }
    Ok(out)
}

/// Component exports arranged for lookup: `prometheus` → `{remote_write = {default =
/// {receiver = ...}}}`.
#[derive(Debug, Default, Clone)]
pub struct ExportsScope {
    roots: BTreeMap<String, Value>,
}

impl ExportsScope {
    /// Places `exports` at the path given by the dotted `id`.
    pub fn insert(&mut self, id: &str, exports: Value) {
        let mut parts = id.split('.');
        let Some(first) = parts.next() else {
            return;
        };
        let rest: Vec<&str> = parts.collect();
        let slot = self.roots.entry(first.to_string()).or_insert(Value::Null);
        *slot = insert_path(slot, &rest, exports);
    }
}

fn insert_path(existing: &Value, path: &[&str], exports: Value) -> Value {
    let Some((head, tail)) = path.split_first() else {
        return exports;
    };
    let mut fields = existing.as_object().cloned().unwrap_or_default();
    let child = fields.get(*head).cloned().unwrap_or(Value::Null);
    fields.insert(head.to_string(), insert_path(&child, tail, exports));
    Value::object(fields)
}

impl Scope for ExportsScope {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.roots.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_syntax::eval::Layered;

    #[test]
    fn exports_nest_by_id_and_shadow_the_base_scope() {
        let mut scope = ExportsScope::default();
        scope.insert("a.b.x", Value::int(1));
        scope.insert("a.b.y", Value::int(2));
        scope.insert("a.c.z", Value::int(3));
        let base: BTreeMap<String, Value> = [("k".to_string(), Value::int(9))].into();
        let both = Layered(scope, base);
        let src = "a.b.x + a.b.y * a.c.z + k";
        let (expr, _) = alloy_syntax::parse_expression("", src);
        let v = eval_expr(&expr, src, &both).unwrap();
        assert_eq!(v.as_number().unwrap().as_i64(), 16);
    }

    #[test]
    fn bodies_evaluate_attributes_and_blocks_in_order() {
        let src = "x {\n a = 1 + 1\n inner \"l\" { b = \"s\" }\n}";
        let parsed = alloy_syntax::parse_file("", src);
        let Stmt::Block(block) = &parsed.file.body[0] else {
            panic!("block expected")
        };
        let body = eval_body_value(&block.body, src, &alloy_syntax::eval::EmptyScope).unwrap();
        assert_eq!(body.attrs[0].name, "a");
        assert_eq!(body.attrs[0].value.as_number().unwrap().as_i64(), 2);
        assert_eq!(body.blocks[0].label.as_deref(), Some("l"));
        assert_eq!(body.blocks[0].body.attrs[0].value.as_str(), Some("s"));
    }
}
