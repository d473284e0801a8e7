//! YAML reading for `encoding.from_yaml`, shaped like Go's yaml.v3 decoding into
//! "any": ints that fit 64 bits stay integers and larger ones become floats, mappings
//! with string keys are objects (others a capsule), `<<` merge keys are applied, and a
//! key given twice is an error.
//!
//! serde_norway does the parsing; a visitor builds our values directly, so nothing
//! is lost in an intermediate tree (serde_norway's own value type rejects integers
//! beyond 64 bits).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use alloy_syntax::value::{self, Capsule, HostValue, Value};
use serde::de::{
    self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// Parses the first document of `text` (Go's `yaml.Unmarshal` ignores the rest).
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    let Some(doc) = serde_norway::Deserializer::from_str(text).next() else {
        return Ok(Value::Null);
    };
    Node::deserialize(doc).map(|n| n.0).map_err(go_error)
}

/// Go's yaml.v3 wording, `yaml: line N: problem`. Both libraries report libyaml's
/// problem texts; serde_norway appends positions, which move to the front.
fn go_error(err: serde_norway::Error) -> String {
    let msg = err.to_string();
    let problem = msg.split(" at line ").next().unwrap_or(&msg);
    match err.location() {
        Some(loc) => format!("yaml: line {}: {problem}", loc.line()),
        None => format!("yaml: {problem}"),
    }
}

/// A YAML mapping with keys that are not all strings. Go decodes it into
/// `map[interface{}]interface{}`, which Alloy can only carry as a capsule.
struct YamlMap(Vec<(String, Value)>);

impl HostValue for YamlMap {
    fn type_name(&self) -> &str {
        "map[interface {}]interface {}"
    }

    fn equals(&self, other: &dyn HostValue) -> bool {
        other.as_any().downcast_ref::<YamlMap>().is_some_and(|o| {
            o.0.len() == self.0.len()
                && o.0
                    .iter()
                    .zip(&self.0)
                    .all(|(a, b)| a.0 == b.0 && value::values_equal(&a.1, &b.1))
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

struct Node(Value);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(Node(Value::Bool(b)))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Node, E> {
        Ok(Node(Value::int(i)))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Node, E> {
        Ok(Node(match i64::try_from(u) {
            Ok(i) => Value::int(i),
            Err(_) => Value::uint(u),
        }))
    }

    // yaml.v3 reads integers that fit neither int64 nor uint64 as floats.
    fn visit_i128<E>(self, i: i128) -> Result<Node, E> {
        Ok(Node(Value::float(i as f64)))
    }

    fn visit_u128<E>(self, u: u128) -> Result<Node, E> {
        Ok(Node(Value::float(u as f64)))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Node, E> {
        Ok(Node(Value::float(f)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(Node(Value::string(s)))
    }

    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(Node(Value::string(s)))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(Node(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Node(Value::array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(Value, Value)> = Vec::new();
        let mut merged: Vec<Value> = Vec::new();
        while let Some((Node(k), Node(v))) = map.next_entry()? {
            if matches!(&k, Value::String(s) if &**s == "<<") {
                merged.push(v);
                continue;
            }
            if entries.iter().any(|(old, _)| value::values_equal(old, &k)) {
                return Err(de::Error::custom(format!(
                    "mapping key {} already defined",
                    value::render(&k)
                )));
            }
            entries.push((k, v));
        }
        // Explicit keys win over merged ones, and earlier merged maps over later ones.
        for source in merged {
            let maps: Vec<Value> = match source {
                Value::Array(items) => items.to_vec(),
                other => vec![other],
            };
            for m in maps {
                let Value::Object(fields) = m else {
                    return Err(de::Error::custom(
                        "map merge requires map or sequence of maps as the value",
                    ));
                };
                for (k, v) in fields.iter() {
                    let key = Value::string(k.as_str());
                    if !entries
                        .iter()
                        .any(|(old, _)| value::values_equal(old, &key))
                    {
                        entries.push((key, v.clone()));
                    }
                }
            }
        }
        if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
            let object: BTreeMap<String, Value> = entries
                .into_iter()
                .filter_map(|(k, v)| match k {
                    Value::String(s) => Some((s.to_string(), v)),
                    _ => None,
                })
                .collect();
            return Ok(Node(Value::object(object)));
        }
        let entries = entries
            .into_iter()
            .map(|(k, v)| (value::render(&k), v))
            .collect();
        Ok(Node(Value::Capsule(Capsule::Host(Arc::new(YamlMap(
            entries,
        ))))))
    }

    /// A value with a tag that is not one of YAML's core types: the tag is dropped.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Node, A::Error> {
        let (_tag, variant): (String, _) = data.variant()?;
        variant.newtype_variant::<Node>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> String {
        match parse(text) {
            Ok(v) => format!("{v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn values_follow_yaml_v3() {
        assert_eq!(
            show("[1, 2.5, ~, true, x]"),
            r#"[Int(1), Float(2.5), null, true, "x"]"#
        );
        assert_eq!(show("9223372036854775808"), "Uint(9223372036854775808)");
        assert_eq!(show("18446744073709551616"), "Float(1.8446744073709552e19)");
        assert_eq!(show("-9223372036854775809"), "Float(-9.223372036854776e18)");
        assert_eq!(show(""), "null");
        assert_eq!(show("a: 1\n---\nb: 2"), r#"{"a": Int(1)}"#);
        assert_eq!(show("!custom {a: 1}"), r#"{"a": Int(1)}"#);
        assert_eq!(show("1: a"), r#"capsule("map[interface {}]interface {}")"#);
    }

    #[test]
    fn merge_keys_and_duplicates() {
        let text = "base: &b {a: 1, b: 2}\nother: &o {c: 3, a: 9}\nd:\n  <<: [*b, *o]\n  b: 5\n";
        assert_eq!(
            show(text),
            r#"{"base": {"a": Int(1), "b": Int(2)}, "d": {"a": Int(1), "b": Int(5), "c": Int(3)}, "other": {"a": Int(9), "c": Int(3)}}"#
        );
        assert!(show("a: 1\na: 2").contains("mapping key \"a\" already defined"));
        assert_eq!(
            show("a: [1, 2"),
            "yaml: line 2: did not find expected ',' or ']'"
        );
    }
}
