//! The `array` namespace: `concat`, and the experimental `combine_maps` and
//! `group_by` (LANGUAGE.md §5.1).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy_syntax::value::{self, Capsule, Number, Value, ValueError};

use crate::args::{self, Entry};

pub(crate) const ENTRIES: &[Entry] = &[
    ("concat", "array.concat", concat),
    ("combine_maps", "array.combine_maps", combine_maps),
    ("group_by", "array.group_by", group_by),
];

/// `array.concat(...arrays)`: every argument must already be an array.
pub(crate) fn concat(args: &[Value]) -> Result<Value, ValueError> {
    let mut total = 0;
    for (i, arg) in args.iter().enumerate() {
        match arg {
            Value::Array(items) => total += items.len(),
            other => return Err(ValueError::type_mismatch(other, "array").in_arg(i)),
        }
    }
    // One array is returned as it is, without copying.
    if let [single] = args {
        return Ok(single.clone());
    }
    let mut out = Vec::with_capacity(total);
    for arg in args {
        if let Value::Array(items) = arg {
            out.extend(items.iter().cloned());
        }
    }
    Ok(Value::array(out))
}

/// An element that must be an object: objects, and host capsules that present as one.
fn object_elem(v: &Value) -> Result<Arc<BTreeMap<String, Value>>, ValueError> {
    match v {
        Value::Object(o) => Ok(o.clone()),
        Value::Capsule(Capsule::Host(h)) => h
            .as_object()
            .map(Arc::new)
            .ok_or_else(|| ValueError::type_mismatch(v, "object")),
        other => Err(ValueError::type_mismatch(other, "object")),
    }
}

/// The objects of array argument `index`.
fn object_array(
    args: &[Value],
    index: usize,
) -> Result<Vec<Arc<BTreeMap<String, Value>>>, ValueError> {
    let Value::Array(items) = &args[index] else {
        return Err(ValueError::type_mismatch(&args[index], "array").in_arg(index));
    };
    items
        .iter()
        .enumerate()
        .map(|(j, item)| object_elem(item).map_err(|e| e.in_element(j).in_arg(index)))
        .collect()
}

/// Join keys compare strictly: same type and the same Go value, so `1` differs from
/// `"1"` and int 1 from float 1.0. Upstream panics on array and object join values;
/// we compare those deeply instead.
fn strict_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x, y) {
            (Number::Int(x), Number::Int(y)) => x == y,
            (Number::Uint(x), Number::Uint(y)) => x == y,
            (Number::Float(x), Number::Float(y)) => x == y,
            _ => false,
        },
        _ => value::values_equal(a, b),
    }
}

/// `array.combine_maps(left, right, keys [, keep_unmatched])`: for each left object
/// (outer) and right object (inner) whose `keys` all match, the merge with the right
/// winning. With `keep_unmatched`, a left object is emitted for every right object it
/// does not match, exactly as upstream does.
pub(crate) fn combine_maps(args: &[Value]) -> Result<Value, ValueError> {
    if !(3..=4).contains(&args.len()) {
        return Err(ValueError::message(format!(
            "combine_maps: expected 3 or 4 arguments, got {}",
            args.len()
        )));
    }
    let left = object_array(args, 0)?;
    let right = object_array(args, 1)?;
    let Value::Array(conds) = &args[2] else {
        return Err(ValueError::type_mismatch(&args[2], "array").in_arg(2));
    };
    if conds.is_empty() {
        return Err(
            ValueError::message("combine_maps: merge conditions must not be empty").in_arg(2),
        );
    }
    let keys: Vec<Arc<str>> = conds
        .iter()
        .enumerate()
        .map(|(j, c)| args::strict_string(c).map_err(|e| e.in_element(j).in_arg(2)))
        .collect::<Result<_, _>>()?;
    let keep_unmatched = match args.get(3) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(ValueError::type_mismatch(other, "bool").in_arg(3)),
    };

    // Upstream passes unmatched left elements through as they were (a capsule stays a
    // capsule), but merges their object forms.
    let originals: &[Value] = match &args[0] {
        Value::Array(items) => items,
        _ => &[],
    };
    let mut out = Vec::new();
    for (l, original) in left.iter().zip(originals) {
        for r in &right {
            let joins = keys.iter().all(|k| match (l.get(&**k), r.get(&**k)) {
                (Some(a), Some(b)) => strict_equal(a, b),
                _ => false,
            });
            if joins {
                let mut merged = (**l).clone();
                merged.extend(r.iter().map(|(k, v)| (k.clone(), v.clone())));
                out.push(Value::object(merged));
            } else if keep_unmatched {
                out.push(original.clone());
            }
        }
    }
    Ok(Value::array(out))
}

/// `array.group_by(items, key, drop_missing)`: `[{<key> = v, items = [...]}, ...]`.
/// Upstream's order is Go map order (unspecified); ours is first appearance.
pub(crate) fn group_by(args: &[Value]) -> Result<Value, ValueError> {
    if args.len() != 3 {
        return Err(ValueError::message(format!(
            "group_by: expected 3 arguments, got {}",
            args.len()
        )));
    }
    let Value::Array(items) = &args[0] else {
        return Err(ValueError::type_mismatch(&args[0], "array").in_arg(0));
    };
    let key = args::strict_string(&args[1]).map_err(|e| e.in_arg(1))?;
    let drop_missing = match &args[2] {
        Value::Bool(b) => *b,
        other => return Err(ValueError::type_mismatch(other, "bool").in_arg(2)),
    };

    let mut order: Vec<Arc<str>> = Vec::new();
    let mut groups: BTreeMap<Arc<str>, Vec<Value>> = BTreeMap::new();
    for (j, item) in items.iter().enumerate() {
        let obj = object_elem(item).map_err(|e| e.in_element(j).in_arg(0))?;
        let group: Arc<str> = match obj.get(&*key) {
            Some(v) => {
                args::strict_string(v).map_err(|e| e.in_field(&*key).in_element(j).in_arg(0))?
            }
            None if drop_missing => continue,
            None => Arc::from(""),
        };
        groups
            .entry(group.clone())
            .or_insert_with(|| {
                order.push(group);
                Vec::new()
            })
            .push(Value::Object(obj));
    }
    let out = order
        .into_iter()
        .map(|g| {
            let members = groups.remove(&g).unwrap_or_default();
            let mut obj = BTreeMap::new();
            obj.insert(key.to_string(), Value::String(g));
            obj.insert("items".to_string(), Value::array(members));
            Value::object(obj)
        })
        .collect();
    Ok(Value::array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn combine_maps_keeps_left_once_per_unmatched_right() {
        let left = Value::array(vec![obj(&[("a", Value::int(1))])]);
        let right = Value::array(vec![
            obj(&[("a", Value::int(2))]),
            obj(&[("a", Value::float(1.0))]),
            obj(&[("a", Value::int(1)), ("b", Value::int(9))]),
        ]);
        let keys = Value::array(vec![Value::string("a")]);
        let out = combine_maps(&[left, right, keys, Value::Bool(true)]).unwrap();
        let Value::Array(items) = out else { panic!() };
        // Two misses (int 2, float 1.0 is not int 1) keep the left twice, then the merge.
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[2], Value::Object(o) if o.len() == 2));
        let err = combine_maps(&[Value::array(vec![])]).unwrap_err();
        assert_eq!(
            format!("{err:?}"),
            "combine_maps: expected 3 or 4 arguments, got 1"
        );
    }

    #[test]
    fn group_by_keeps_first_appearance_order() {
        let items = Value::array(vec![
            obj(&[("k", Value::string("b"))]),
            obj(&[("x", Value::int(1))]),
            obj(&[("k", Value::string("a"))]),
            obj(&[("k", Value::string("b"))]),
        ]);
        let out = group_by(&[items.clone(), Value::string("k"), Value::Bool(false)]).unwrap();
        let Value::Array(groups) = out else { panic!() };
        let keys: Vec<String> = groups
            .iter()
            .map(|g| match g {
                Value::Object(o) => format!("{:?}", o["k"]),
                _ => panic!(),
            })
            .collect();
        assert_eq!(keys, ["\"b\"", "\"\"", "\"a\""]);
        let out = group_by(&[items, Value::string("k"), Value::Bool(true)]).unwrap();
        assert!(matches!(out, Value::Array(g) if g.len() == 2));
    }
}
