//! Error decoration (LANGUAGE.md §9.2) beyond what the conformance data pins: errors
//! from functions, conversion paths into values from the scope and from literals,
//! diagnostics, and schema-free body evaluation.

use alloy_syntax::eval::{
    eval_block_map, eval_body, eval_body_map, eval_expr, eval_expr_as, EvalError, Scope,
};
use alloy_syntax::value::{
    render, to_array_target, to_string_target, Function, Target, Value, ValueError,
};
use std::collections::BTreeMap;

/// A scope with a few functions shaped like the stdlib's.
struct TestScope {
    vars: BTreeMap<String, Value>,
}

impl Scope for TestScope {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.vars.get(name).cloned()
    }
}

fn scope() -> TestScope {
    let mut vars = BTreeMap::new();
    let mut encoding = BTreeMap::new();
    encoding.insert(
        "to_json".to_string(),
        Value::Function(Function::new("encoding.to_json", |args| {
            match args.first() {
                Some(Value::Object(_)) => Ok(Value::string("{}")),
                _ => Err(ValueError::message("jsonEncode only supports map")),
            }
        })),
    );
    vars.insert("encoding".to_string(), Value::object(encoding));
    // Converts every element of its one argument to a string, as `string.join` does.
    vars.insert(
        "join".to_string(),
        Value::Function(Function::new("join", |args| {
            if args.len() != 1 {
                return Err(ValueError::message(format!(
                    "expected 1 args, got {}",
                    args.len()
                )));
            }
            let items = to_array_target(&args[0]).map_err(|e| e.in_arg(0))?;
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                out.push_str(&to_string_target(item).map_err(|e| e.in_element(i).in_arg(0))?);
            }
            Ok(Value::string(out))
        })),
    );
    // A raw function that reports a bad element without saying which argument.
    vars.insert(
        "objects_only".to_string(),
        Value::Function(Function::new("objects_only", |args| {
            for item in args.first().and_then(Value::as_array).unwrap_or_default() {
                if !matches!(item, Value::Object(_)) {
                    return Err(ValueError::type_mismatch(item, "object"));
                }
            }
            Ok(Value::Null)
        })),
    );
    let mut inner = BTreeMap::new();
    inner.insert(
        "field1".to_string(),
        Value::array(vec![
            Value::int(15),
            Value::int(30),
            Value::string("Hello, world!"),
        ]),
    );
    let mut key_value = BTreeMap::new();
    key_value.insert("object".to_string(), Value::object(inner));
    vars.insert("key_value".to_string(), Value::object(key_value));
    TestScope { vars }
}

fn eval_err(src: &str) -> EvalError {
    let (expr, diags) = alloy_syntax::parse_expression("", src);
    assert!(diags.is_empty(), "{diags:?}");
    eval_expr(&expr, src, &scope()).expect_err("evaluation fails")
}

fn decode_err(src: &str, target: &str) -> EvalError {
    let (expr, diags) = alloy_syntax::parse_expression("", src);
    assert!(diags.is_empty(), "{diags:?}");
    let target = Target::parse(target).expect("known target");
    eval_expr_as(&expr, src, &scope(), &target).expect_err("conversion fails")
}

#[test]
fn function_errors_are_prefixed_with_the_callee() {
    let err = eval_err("encoding.to_json(12)");
    assert_eq!(
        err.one_line("", "encoding.to_json(12)"),
        "1:1: encoding.to_json jsonEncode only supports map"
    );
    assert_eq!(err.code, "alloy::eval::call");
    let err = eval_err("join()");
    assert_eq!(err.message, "join expected 1 args, got 0");
}

#[test]
fn argument_errors_point_at_the_literal_element() {
    let src = "join([1, true])";
    let err = eval_err(src);
    assert_eq!(err.message, "true should be string, got bool");
    assert_eq!(
        err.one_line("", src),
        "1:10: true should be string, got bool"
    );
    assert_eq!(err.value, None);
}

#[test]
fn argument_errors_from_the_scope_keep_the_path() {
    let src = "join(key_value.object.field1)";
    // Numbers convert to strings, so this one succeeds.
    let (expr, _) = alloy_syntax::parse_expression("", src);
    assert!(eval_expr(&expr, src, &scope()).is_ok());
    let err = eval_err("join([1, null])");
    assert_eq!(err.message, "[1, null][1] should be string, got null");
    assert_eq!(err.value, None);
}

#[test]
fn unattributed_function_errors_are_found_among_the_arguments() {
    let err = eval_err(r#"objects_only([{a = 1}, "not an object"])"#);
    assert_eq!(
        err.message,
        r#""not an object" should be object, got string"#
    );
    assert_eq!(err.span.map(|s| s.start), Some(23));
}

#[test]
fn conversion_paths_into_scope_values() {
    let err = decode_err("key_value", "map[string]map[string][]int");
    assert_eq!(
        err.message,
        "key_value.object.field1[2] should be number, got string"
    );
    assert_eq!(err.value.as_deref(), Some("\"Hello, world!\""));
    assert_eq!(err.span.map(|s| (s.start, s.end)), Some((0, 9)));
}

#[test]
fn conversion_errors_inside_literals_point_at_the_literal() {
    let src = "{ object = { field1 = [15, 30, \"Hello, world!\"] } }";
    let err = decode_err(src, "map[string]map[string][]int");
    assert_eq!(
        err.message,
        "\"Hello, world!\" should be number, got string"
    );
    assert_eq!(
        err.one_line("test", src),
        "test:1:32: \"Hello, world!\" should be number, got string"
    );
    let err = decode_err("[0, 1, 2]", "string");
    assert_eq!(err.message, "[0, 1, 2] should be string, got array");
}

#[test]
fn errors_become_diagnostics_with_codes() {
    let err = eval_err("1 / 0");
    assert_eq!(err.message, "0 divide by zero error");
    let d = err.to_diagnostic(&"main.alloy".into());
    assert_eq!(d.code, "alloy::eval::divide_by_zero");
    assert_eq!((d.span.start, d.span.end), (4, 5));
    let err = eval_err("{a = 1}.b");
    assert_eq!(err.code, "alloy::eval::missing_field");
    assert_eq!(
        err.one_line("", "{a = 1}.b"),
        "1:9: field \"b\" does not exist"
    );
    let err = eval_err("[1][5]");
    assert_eq!(err.code, "alloy::eval::index_out_of_range");
}

#[test]
fn null_operands_have_no_position() {
    let err = eval_err("!null");
    assert_eq!(err.message, " should be bool, got null");
    assert_eq!(err.span, None);
}

#[test]
fn bodies_evaluate_to_objects() {
    let src = r#"
a = 1
b = "x"
block.one "first" { x = 1 }
block.one "second" { x = 2 }
plain { y = true }
plain { y = false }
"#;
    let parsed = alloy_syntax::parse_file("", src);
    let v = eval_body(&parsed.file.body, src, &scope()).expect("evaluates");
    assert_eq!(
        render(&v),
        "{\n\ta           = 1,\n\tb           = \"x\",\n\t\"block.one\" = {\n\t\tfirst  = {\n\t\t\tx = 1,\n\t\t},\n\t\tsecond = {\n\t\t\tx = 2,\n\t\t},\n\t},\n\tplain       = [{\n\t\ty = true,\n\t}, {\n\t\ty = false,\n\t}],\n}"
    );
}

#[test]
fn map_bodies_reject_blocks_and_labels() {
    let src = "a = 1\nb { }\n";
    let parsed = alloy_syntax::parse_file("", src);
    let err = eval_body_map(&parsed.file.body, src, &scope()).expect_err("nested block");
    assert_eq!(
        err.one_line("", src),
        "2:1: nested blocks not supported here"
    );
    let src = "x \"l\" { a = 1 }";
    let parsed = alloy_syntax::parse_file("", src);
    let alloy_syntax::ast::Stmt::Block(block) = &parsed.file.body[0] else {
        panic!("a block")
    };
    let err = eval_block_map(block, src, &scope()).expect_err("labelled");
    assert_eq!(err.message, "block \"x\" requires empty label");
    let src = "x { a = 1 + 1 }";
    let parsed = alloy_syntax::parse_file("", src);
    let alloy_syntax::ast::Stmt::Block(block) = &parsed.file.body[0] else {
        panic!("a block")
    };
    let v = eval_block_map(block, src, &scope()).expect("evaluates");
    assert_eq!(render(&v), "{\n\ta = 2,\n}");
}

#[test]
fn text_entry_points_report_diagnostics() {
    let v = alloy_syntax::eval::eval_str("x.alloy", "1 + 2", &scope()).expect("evaluates");
    assert_eq!(render(&v), "3");
    let diags = alloy_syntax::eval::eval_str("x.alloy", "1 +", &scope()).expect_err("parse error");
    assert!(diags[0].code.starts_with("alloy::syntax"));
    let diags = alloy_syntax::eval::eval_str("x.alloy", "nope", &scope()).expect_err("unknown");
    assert_eq!(diags[0].code, "alloy::eval::unknown_identifier");
    assert_eq!(&*diags[0].file, "x.alloy");
    let v = alloy_syntax::eval::eval_file_str("x.alloy", "a = 1\nb { c = \"d\" }\n", &scope())
        .expect("evaluates");
    assert_eq!(
        alloy_syntax::value::to_json(&v).to_string(),
        r#"{"a":1,"b":{"c":"d"}}"#
    );
}
