//! Expression evaluation against a scope (LANGUAGE.md §4, §6, §9).
//!
//! [`eval_expr`] evaluates one expression; [`eval_expr_as`] also converts the result
//! to a typed [`Target`] (what `decode_as` and component arguments need). Errors are
//! [`EvalError`]s in upstream's wording, decorated with the source text of the
//! expression at fault ([`decorate`]). [`eval_body`] and [`eval_body_map`] evaluate
//! whole bodies when no schema is involved. [`ops`] holds the operators and
//! [`literal`] the values of literal tokens.
//!
//! Evaluation has no short-circuit (both operands of `&&` and `||` are evaluated) and
//! stops at the first error, left to right, like upstream.

pub mod decorate;
pub mod literal;
pub mod ops;

pub use decorate::{expr_text, EvalError};

use crate::ast::{self, Expr};
use crate::diag::Span;
use crate::parser::go_quote;
use crate::value::{decode, to_object_target, Capsule, Target, Value, ValueError};
use decorate::Decorator;
use std::collections::{BTreeMap, HashMap};

/// Nesting depth beyond which evaluation gives up instead of overflowing the stack.
/// Real configurations nest a few levels. At this depth a debug build still fits in a
/// 2 MiB thread stack (measured: arrays, objects and unary chains; the parser stops
/// earlier). Left-associative operator chains do not count: they are folded in a loop.
pub const MAX_DEPTH: u32 = 1000;

/// The variables an expression can see. Lookups fall through to the standard library
/// in the scope implementation, not here: the `stdlib` crate wraps a scope, and the
/// runtime's component graph is another scope.
pub trait Scope {
    fn lookup(&self, name: &str) -> Option<Value>;
}

/// A scope with no variables at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn lookup(&self, _name: &str) -> Option<Value> {
        None
    }
}

impl Scope for HashMap<String, Value> {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

impl Scope for BTreeMap<String, Value> {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

impl<S: Scope + ?Sized> Scope for &S {
    fn lookup(&self, name: &str) -> Option<Value> {
        (**self).lookup(name)
    }
}

/// Looks names up in `first`, then in `second` (scope variables shadow the stdlib).
pub struct Layered<A, B>(pub A, pub B);

impl<A: Scope, B: Scope> Scope for Layered<A, B> {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.0.lookup(name).or_else(|| self.1.lookup(name))
    }
}

/// Evaluates `expr`, whose spans point into `src`.
pub fn eval_expr(expr: &Expr, src: &str, scope: &dyn Scope) -> Result<Value, EvalError> {
    Evaluator {
        src,
        scope,
        depth: 0,
    }
    .expr(expr)
}

/// Evaluates `expr` and converts the result to `target` (LANGUAGE.md §4.5). A failed
/// conversion is reported as upstream does, at the expression with the path to the
/// bad part: `key_value.object.field1[2] should be number, got string`.
pub fn eval_expr_as(
    expr: &Expr,
    src: &str,
    scope: &dyn Scope,
    target: &Target,
) -> Result<Value, EvalError> {
    let value = eval_expr(expr, src, scope)?;
    convert_at(&value, target, expr, src)
}

/// Converts `value`, produced by `expr`, to `target`, decorating a failure.
pub fn convert_at(
    value: &Value,
    target: &Target,
    expr: &Expr,
    src: &str,
) -> Result<Value, EvalError> {
    decode(value, target).map_err(|e| Decorator::new(src).about(&e, value, expr))
}

/// Parses and evaluates one expression given as text: the convenience entry point
/// for `ferroalloy eval`-style callers. Parse errors come back as diagnostics.
pub fn eval_str(
    filename: &str,
    src: &str,
    scope: &dyn Scope,
) -> Result<Value, Vec<crate::Diagnostic>> {
    let (expr, diags) = crate::parse_expression(filename, src);
    if diags.iter().any(crate::Diagnostic::is_error) {
        return Err(diags);
    }
    eval_expr(&expr, src, scope).map_err(|e| vec![e.to_diagnostic(&filename.into())])
}

/// Parses and evaluates a whole file given as text into an object ([`eval_body`]):
/// the entry point for `ferroalloy eval` on a file. Parse errors come back as
/// diagnostics, all of them; evaluation stops at the first error.
pub fn eval_file_str(
    filename: &str,
    src: &str,
    scope: &dyn Scope,
) -> Result<Value, Vec<crate::Diagnostic>> {
    let parsed = crate::parse_file(filename, src);
    if parsed.has_errors() {
        return Err(parsed.diagnostics);
    }
    eval_body(&parsed.file.body, src, scope).map_err(|e| vec![e.to_diagnostic(&filename.into())])
}

/// Evaluates a body with no schema into an object: each attribute becomes a key
/// (a repeated attribute keeps its last value), and each block becomes a key named
/// after its dotted name whose value is the object of its body. A labelled block sits
/// one level deeper, under its label (`a.b "x" {}` gives `{"a.b" = {x = {}}}`), and
/// unlabelled blocks that repeat become an array of objects.
pub fn eval_body(body: &ast::Body, src: &str, scope: &dyn Scope) -> Result<Value, EvalError> {
    Evaluator {
        src,
        scope,
        depth: 0,
    }
    .body(body)
}

/// Evaluates a block with no schema: the object of its body, as [`eval_body`].
pub fn eval_block(block: &ast::Block, src: &str, scope: &dyn Scope) -> Result<Value, EvalError> {
    eval_body(&block.body, src, scope)
}

/// Evaluates a body into a free-form map the way upstream decodes into
/// `map[string]any`: only attributes are allowed (`nested blocks not supported
/// here`), and each value is converted to `any`.
pub fn eval_body_map(body: &ast::Body, src: &str, scope: &dyn Scope) -> Result<Value, EvalError> {
    let mut ev = Evaluator {
        src,
        scope,
        depth: 0,
    };
    let mut out = BTreeMap::new();
    for stmt in body {
        match stmt {
            ast::Stmt::Attribute(attr) => {
                let value = ev.expr(&attr.value)?;
                let value = convert_at(&value, &Target::Any, &attr.value, src)?;
                out.insert(attr.name.text(src).to_string(), value);
            }
            ast::Stmt::Block(block) => {
                return Err(EvalError::at(
                    "alloy::eval::nested_block",
                    block.span(),
                    "nested blocks not supported here",
                ))
            }
        }
    }
    Ok(Value::object(out))
}

/// [`eval_body_map`] for a block, which must be unlabelled
/// (`block "x" requires empty label`).
pub fn eval_block_map(
    block: &ast::Block,
    src: &str,
    scope: &dyn Scope,
) -> Result<Value, EvalError> {
    if block.label(src).is_some() {
        return Err(EvalError::at(
            "alloy::eval::block_label",
            Span::new(block.name_span().start, block.lcurly + 1),
            format!(
                "block {} requires empty label",
                go_quote(&block.name_text(src))
            ),
        ));
    }
    eval_body_map(&block.body, src, scope)
}

struct Evaluator<'s> {
    src: &'s str,
    scope: &'s dyn Scope,
    depth: u32,
}

impl<'s> Evaluator<'s> {
    fn body(&mut self, body: &ast::Body) -> Result<Value, EvalError> {
        let mut out: BTreeMap<String, Value> = BTreeMap::new();
        for stmt in body {
            match stmt {
                ast::Stmt::Attribute(attr) => {
                    let value = self.expr(&attr.value)?;
                    out.insert(attr.name.text(self.src).to_string(), value);
                }
                ast::Stmt::Block(block) => {
                    let name = block.name_text(self.src);
                    let value = self.body(&block.body)?;
                    match block.label(self.src) {
                        Some(label) => {
                            let mut labels = match out.get(&name) {
                                Some(Value::Object(o)) => (**o).clone(),
                                _ => BTreeMap::new(),
                            };
                            labels.insert(label.to_string(), value);
                            out.insert(name, Value::object(labels));
                        }
                        None => {
                            let merged = match out.remove(&name) {
                                None => value,
                                Some(Value::Array(items)) => {
                                    let mut items = (*items).clone();
                                    items.push(value);
                                    Value::array(items)
                                }
                                Some(previous) => Value::array(vec![previous, value]),
                            };
                            out.insert(name, merged);
                        }
                    }
                }
            }
        }
        Ok(Value::object(out))
    }

    fn expr(&mut self, expr: &Expr) -> Result<Value, EvalError> {
        if self.depth >= MAX_DEPTH {
            return Err(EvalError::at(
                "alloy::eval::too_deep",
                expr.span(),
                format!("expression nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        let result = self.expr_inner(expr);
        self.depth -= 1;
        result
    }

    fn about(&self, err: ValueError, value: &Value, expr: &Expr) -> EvalError {
        Decorator::new(self.src).about(&err, value, expr)
    }

    /// Dispatches on the node kind. Each kind has its own function so that this one,
    /// which is on every level of recursion, keeps a small stack frame.
    fn expr_inner(&mut self, expr: &Expr) -> Result<Value, EvalError> {
        match expr {
            Expr::Literal(lit) => self.literal(lit),
            Expr::Ident(ident) => self.ident(ident),
            Expr::Paren(p) => self.expr(&p.inner),
            Expr::Array(a) => self.array(a),
            Expr::Object(o) => self.object(o),
            Expr::Unary(u) => self.unary(u),
            Expr::Binary(b) => self.binary(b),
            Expr::Access(a) => self.access(a),
            Expr::Index(i) => self.index(i),
            Expr::Call(c) => self.call(c),
        }
    }

    #[inline(never)]
    fn literal(&mut self, lit: &ast::Literal) -> Result<Value, EvalError> {
        literal::literal_value(lit, self.src)
            .map_err(|msg| EvalError::at("alloy::eval::literal", lit.span, msg))
    }

    #[inline(never)]
    fn ident(&mut self, ident: &ast::Ident) -> Result<Value, EvalError> {
        let name = ident.text(self.src);
        self.scope.lookup(name).ok_or_else(|| {
            EvalError::at(
                "alloy::eval::unknown_identifier",
                ident.span,
                format!("identifier {} does not exist", go_quote(name)),
            )
        })
    }

    #[inline(never)]
    fn array(&mut self, a: &ast::ArrayExpr) -> Result<Value, EvalError> {
        let mut items = Vec::with_capacity(a.elements.len());
        for e in &a.elements {
            items.push(self.expr(e)?);
        }
        Ok(Value::array(items))
    }

    #[inline(never)]
    fn object(&mut self, o: &ast::ObjectExpr) -> Result<Value, EvalError> {
        let mut fields = BTreeMap::new();
        for f in &o.fields {
            let v = self.expr(&f.value)?;
            // Duplicate keys: the last one wins, as upstream's map assignment.
            fields.insert(f.key(self.src).to_string(), v);
        }
        Ok(Value::object(fields))
    }

    #[inline(never)]
    fn unary(&mut self, u: &ast::UnaryExpr) -> Result<Value, EvalError> {
        let v = self.expr(&u.value)?;
        ops::unary_op(u.op, &v).map_err(|e| self.about(e, &v, &u.value))
    }

    /// A binary expression. Left-associative chains (`"a" + "b" + ...`, as generated
    /// configs write them) are walked down their left spine and folded in a loop, so
    /// their length costs no stack; the order of evaluation is unchanged.
    #[inline(never)]
    fn binary(&mut self, b: &ast::BinaryExpr) -> Result<Value, EvalError> {
        if !matches!(b.left, Expr::Binary(_)) {
            let l = self.expr(&b.left)?;
            return self.apply(b, l);
        }
        let mut spine = vec![b];
        let mut leftmost = &b.left;
        while let Expr::Binary(inner) = leftmost {
            spine.push(inner);
            leftmost = &inner.left;
        }
        let mut acc = self.expr(leftmost)?;
        for node in spine.into_iter().rev() {
            acc = self.apply(node, acc)?;
        }
        Ok(acc)
    }

    /// Evaluates the right operand of `node` and applies its operator to `l`, the value
    /// of its left operand.
    fn apply(&mut self, node: &ast::BinaryExpr, l: Value) -> Result<Value, EvalError> {
        let r = self.expr(&node.right)?;
        ops::binary_op(&l, node.op, &r).map_err(|e| {
            let (value, at) = match e.operand {
                ops::Operand::Left => (&l, &node.left),
                ops::Operand::Right => (&r, &node.right),
            };
            let mut err = self.about(e.error, value, at);
            if err.message.ends_with(" divide by zero error") {
                err.code = "alloy::eval::divide_by_zero";
            }
            err
        })
    }

    #[inline(never)]
    fn access(&mut self, a: &ast::AccessExpr) -> Result<Value, EvalError> {
        let value = self.expr(&a.value)?;
        let name = a.name.text(self.src);
        let missing = || {
            EvalError::at(
                "alloy::eval::missing_field",
                a.name.span,
                format!("field {} does not exist", go_quote(name)),
            )
        };
        match &value {
            Value::Object(fields) => fields.get(name).cloned().ok_or_else(missing),
            Value::Capsule(Capsule::Host(h)) => match h.as_object() {
                Some(fields) => fields.get(name).cloned().ok_or_else(missing),
                None => Err(self.about(not_object_capsule(), &value, &a.value)),
            },
            Value::Capsule(_) => Err(self.about(not_object_capsule(), &value, &a.value)),
            other => {
                let mut err = self.about(
                    ValueError::message(format!(
                        "cannot access field {} on value of type {}",
                        go_quote(name),
                        other.value_type()
                    )),
                    &value,
                    &a.value,
                );
                // Upstream names no expression for a null value, but the error still
                // belongs to this access: point at it.
                err.span.get_or_insert(a.value.span().to(a.name.span));
                Err(err)
            }
        }
    }

    #[inline(never)]
    fn index(&mut self, i: &ast::IndexExpr) -> Result<Value, EvalError> {
        let value = self.expr(&i.value)?;
        let index = self.expr(&i.index)?;
        match &value {
            Value::Array(items) => {
                let Value::Number(n) = index else {
                    return Err(self.about(
                        ValueError::type_mismatch(&index, "number"),
                        &index,
                        &i.index,
                    ));
                };
                let at = n.as_i64();
                match usize::try_from(at).ok().and_then(|u| items.get(u)) {
                    Some(item) => Ok(item.clone()),
                    None => {
                        let mut err = self.about(
                            ValueError::message(format!(
                                "index {at} is out of range of array with length {}",
                                items.len()
                            )),
                            &index,
                            &i.index,
                        );
                        err.code = "alloy::eval::index_out_of_range";
                        Err(err)
                    }
                }
            }
            Value::Object(_) | Value::Capsule(Capsule::Host(_)) => {
                let fields = match to_object_target(&value) {
                    Ok(fields) => fields,
                    Err(_) => return Err(self.about(not_object_capsule(), &value, &i.value)),
                };
                match &index {
                    Value::String(key) => Ok(fields.get(&**key).cloned().unwrap_or(Value::Null)),
                    _ => Err(self.about(
                        ValueError::type_mismatch(&index, "string"),
                        &index,
                        &i.index,
                    )),
                }
            }
            Value::Capsule(_) => Err(self.about(not_object_capsule(), &value, &i.value)),
            other => Err(self.about(
                ValueError::message(format!(
                    "expected object or array, got {}",
                    other.value_type()
                )),
                &value,
                &i.value,
            )),
        }
    }

    #[inline(never)]
    fn call(&mut self, c: &ast::CallExpr) -> Result<Value, EvalError> {
        let callee = self.expr(&c.value)?;
        let Value::Function(func) = &callee else {
            return Err(self.about(
                ValueError::type_mismatch(&callee, "function"),
                &callee,
                &c.value,
            ));
        };
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args {
            args.push(self.expr(a)?);
        }
        (func.call)(&args)
            .map_err(|e| Decorator::new(self.src).call(&e, &c.value, &callee, &c.args, &args))
    }
}

fn not_object_capsule() -> ValueError {
    ValueError::message(
        "expected object or array or a capsule convertible to an object, got capsule",
    )
}
