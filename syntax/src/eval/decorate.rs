//! Turning value errors into messages the way upstream's `vm/error.go` does (§9.2):
//! `<source text of the nearest expression that produced the bad value><path>
//! <message>`, positioned at that expression.
//!
//! Upstream finds "the expression that produced a value" through a map from value
//! identity to AST node, filled while evaluating. We have no value identity, so we
//! follow the same chain with the AST instead: the value of an operand, argument or
//! attribute is the value of that expression, and an element or field of an array or
//! object *literal* is the value of the element's or field's expression. Values that
//! came from elsewhere (the scope, a function) have no node, which is exactly when
//! upstream finds none either and prints the path (`key_value.object.field1[2]`).

use crate::ast::{Expr, ObjectExpr};
use crate::diag::Span;
use crate::value::{render, Value, ValueError};
use std::sync::Arc;

/// A decorated evaluation error: the message in upstream's wording, the span of the
/// expression at fault, and the rendered bad value when it is not visible in the
/// source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// A stable code such as `alloy::eval::type_mismatch`.
    pub code: &'static str,
    pub message: String,
    /// The expression at fault; `None` when upstream has no position either (the bad
    /// value is `null`, which upstream never associates with an expression).
    pub span: Option<Span>,
    /// The rendered bad value, when its expression is not itself the culprit.
    pub value: Option<String>,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

impl EvalError {
    pub(crate) fn at(code: &'static str, span: Span, message: impl Into<String>) -> EvalError {
        EvalError {
            code,
            message: message.into(),
            span: Some(span),
            value: None,
        }
    }

    /// The diagnostic for this error in `file`. An error without a position points at
    /// the start of the file.
    pub fn to_diagnostic(&self, file: &Arc<str>) -> crate::Diagnostic {
        let mut d = crate::Diagnostic::error(
            self.code,
            file,
            self.span.unwrap_or_default(),
            self.message.clone(),
        );
        d.value = self.value.clone();
        d
    }

    /// Upstream's one-line error text, `file:line:col: message` (no file part for an
    /// unnamed source, no position at all when there is none).
    pub fn one_line(&self, file: &str, src: &str) -> String {
        match self.span {
            Some(span) => {
                let index = crate::diag::LineIndex::new(src);
                let (line, col) = index.line_col(span.start);
                if file.is_empty() {
                    format!("{line}:{col}: {}", self.message)
                } else {
                    format!("{file}:{line}:{col}: {}", self.message)
                }
            }
            None => self.message.clone(),
        }
    }
}

/// The innermost expression under parentheses.
fn strip_parens(expr: &Expr) -> &Expr {
    let mut e = expr;
    while let Expr::Paren(p) = e {
        e = &p.inner;
    }
    e
}

fn element_expr(expr: Option<&Expr>, index: usize) -> Option<&Expr> {
    match strip_parens(expr?) {
        Expr::Array(a) => a.elements.get(index),
        _ => None,
    }
}

fn field_expr<'e>(expr: Option<&'e Expr>, name: &str, src: &str) -> Option<&'e Expr> {
    match strip_parens(expr?) {
        // Duplicate keys: the last one is the value, as in evaluation.
        Expr::Object(o) => o
            .fields
            .iter()
            .rev()
            .find(|f| f.key(src) == name)
            .map(|f| &f.value),
        _ => None,
    }
}

/// Whether two values are the same value in upstream's sense (identity of shared
/// data; scalars by kind and value). Used to find which argument a function's error
/// is about when the function did not say.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Arc::ptr_eq(x, y),
        (Value::Array(x), Value::Array(y)) => Arc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Arc::ptr_eq(x, y),
        (Value::Number(x), Value::Number(y)) => x.kind() == y.kind() && x.equals(*y),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

/// The outermost expression among `exprs` (and the elements and fields of literals
/// inside them) whose value is `target`.
fn locate<'e>(exprs: &'e [Expr], values: &[Value], target: &Value, src: &str) -> Option<&'e Expr> {
    for (expr, value) in exprs.iter().zip(values) {
        if same_value(value, target) {
            return Some(expr);
        }
        let inner = strip_parens(expr);
        match (inner, value) {
            (Expr::Array(a), Value::Array(items)) => {
                if let Some(found) = locate(&a.elements, items, target, src) {
                    return Some(found);
                }
            }
            (Expr::Object(o), Value::Object(fields)) => {
                if let Some(found) = locate_in_object(o, fields, target, src) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

fn locate_in_object<'e>(
    o: &'e ObjectExpr,
    fields: &std::collections::BTreeMap<String, Value>,
    target: &Value,
    src: &str,
) -> Option<&'e Expr> {
    for f in o.fields.iter().rev() {
        if let Some(v) = fields.get(f.key(src)) {
            if let Some(found) = locate(
                std::slice::from_ref(&f.value),
                std::slice::from_ref(v),
                target,
                src,
            ) {
                return Some(found);
            }
        }
    }
    None
}

/// Follows an error chain as upstream's `makeDiagnostic` does.
pub(crate) struct Decorator<'e, 's> {
    src: &'s str,
    node: Option<&'e Expr>,
    literal: bool,
    path: String,
    cause: Value,
    code: &'static str,
}

impl<'e, 's> Decorator<'e, 's> {
    pub(crate) fn new(src: &'s str) -> Self {
        Decorator {
            src,
            node: None,
            literal: false,
            path: String::new(),
            cause: Value::Null,
            code: "alloy::eval::value",
        }
    }

    /// One link of the chain: `step` is appended to the path, `value` is the value the
    /// link is about and `found` the expression that produced it, if known.
    fn visit(&mut self, step: Option<String>, value: &Value, found: Option<&'e Expr>) {
        if let Some(step) = step {
            self.path.push_str(&step);
        }
        self.cause = value.clone();
        match found {
            Some(expr) if !value.is_null() => {
                // Two directly found links in a row: the path so far is visible in the
                // source, so it is not repeated.
                if self.literal {
                    self.path.clear();
                }
                self.node = Some(expr);
                self.literal = true;
            }
            _ => self.literal = false,
        }
    }

    /// Walks `err`, which is about `value`, produced by `expr` (if known).
    fn walk(&mut self, err: &ValueError, value: &Value, expr: Option<&'e Expr>) -> String {
        match err {
            ValueError::Type {
                value: bad,
                expected,
                actual,
            } => {
                self.code = "alloy::eval::type_mismatch";
                // The value of a type error is the value the chain has reached.
                self.visit(None, bad, expr);
                format!("should be {expected}, got {actual}")
            }
            ValueError::MissingKey { value: bad, key } => {
                self.code = "alloy::eval::missing_key";
                self.visit(None, bad, expr);
                format!("does not have field named {}", crate::parser::go_quote(key))
            }
            ValueError::Message(m) => {
                self.visit(None, value, expr);
                m.clone()
            }
            ValueError::Element { index, inner } => {
                self.visit(Some(format!("[{index}]")), value, expr);
                let child = match value {
                    Value::Array(items) => items.get(*index).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                let child_expr = element_expr(expr, *index);
                self.walk(inner, &child, child_expr)
            }
            ValueError::Field { name, inner } => {
                self.visit(Some(format!(".{name}")), value, expr);
                let child = match value {
                    Value::Object(fields) => fields.get(name).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                let child_expr = field_expr(expr, name, self.src);
                self.walk(inner, &child, child_expr)
            }
            ValueError::Arg { inner, .. } => {
                // Outside a call there are no argument expressions to point at.
                self.visit(None, &Value::Null, None);
                self.walk(inner, value, None)
            }
        }
    }

    /// The error for `err` about the value of `expr`.
    pub(crate) fn about(mut self, err: &ValueError, value: &Value, expr: &'e Expr) -> EvalError {
        let message = self.walk(err, value, Some(expr));
        self.finish(message)
    }

    /// The error for `err` returned by calling `func` (produced by `callee`) with
    /// `args` (produced by `arg_exprs`).
    pub(crate) fn call(
        mut self,
        err: &ValueError,
        callee: &'e Expr,
        func: &Value,
        arg_exprs: &'e [Expr],
        args: &[Value],
    ) -> EvalError {
        let message = match err {
            ValueError::Arg { index, inner } => {
                self.visit(None, &Value::Null, None);
                let arg = args.get(*index).cloned().unwrap_or(Value::Null);
                self.walk(inner, &arg, arg_exprs.get(*index))
            }
            ValueError::Type { value: bad, .. } | ValueError::MissingKey { value: bad, .. } => {
                // Upstream wraps a function's error in one about the function; the
                // inner value is found wherever the function took it from.
                self.code = "alloy::eval::call";
                self.visit(None, func, Some(callee));
                let found = locate(arg_exprs, args, bad, self.src);
                let bad = bad.clone();
                self.walk(err, &bad, found)
            }
            _ => {
                self.code = "alloy::eval::call";
                self.visit(None, func, Some(callee));
                self.walk(err, func, Some(callee))
            }
        };
        self.finish(message)
    }

    fn finish(self, message: String) -> EvalError {
        let (message, span) = match self.node {
            Some(node) => (
                format!("{}{} {message}", expr_text(node, self.src), self.path),
                Some(node.span()),
            ),
            None => (format!("{} {message}", self.path), None),
        };
        let value = (!self.literal && !self.cause.is_null()).then(|| render(&self.cause));
        EvalError {
            code: self.code,
            message,
            span,
            value,
        }
    }
}

/// An expression as upstream's printer shows it in messages: the formatter's
/// output for that node (`printer.Fprint` upstream).
pub fn expr_text(expr: &Expr, src: &str) -> String {
    crate::printer::format_expr(expr, src)
}
