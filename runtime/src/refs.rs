//! Finding the references in expressions: *traversals*, an identifier followed by
//! `.name` accesses (`prometheus.remote_write.default.receiver`). Indexing and calls end
//! a traversal, as upstream: in `a.b[0].c` only `a.b` names something in scope.

use alloy_syntax::ast::{Expr, Ident, Stmt};
use alloy_syntax::Span;

/// One traversal: its identifiers in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traversal {
    pub parts: Vec<Ident>,
}

impl Traversal {
    /// From the first identifier to the last.
    pub fn span(&self) -> Span {
        match (self.parts.first(), self.parts.last()) {
            (Some(first), Some(last)) => first.span.to(last.span),
            _ => Span::default(),
        }
    }

    /// The first `n` parts joined with dots.
    pub fn prefix(&self, src: &str, n: usize) -> String {
        let mut out = String::new();
        for (i, part) in self.parts.iter().take(n).enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(part.text(src));
        }
        out
    }
}

/// Every traversal in a block body, nested blocks included, in source order.
pub fn body_traversals<'b>(body: impl IntoIterator<Item = &'b Stmt>, out: &mut Vec<Traversal>) {
    for stmt in body {
        match stmt {
            Stmt::Attribute(attr) => expr_traversals(&attr.value, out),
            Stmt::Block(block) => body_traversals(&block.body, out),
        }
    }
}

/// Every traversal in an expression, in source order.
pub fn expr_traversals(expr: &Expr, out: &mut Vec<Traversal>) {
    match expr {
        Expr::Ident(ident) => out.push(Traversal {
            parts: vec![*ident],
        }),
        Expr::Access(_) => {
            // Walk down to the root of the access chain; the chain is a traversal only
            // when that root is a bare identifier.
            let mut names = Vec::new();
            let mut cur = expr;
            while let Expr::Access(access) = cur {
                names.push(access.name);
                cur = &access.value;
            }
            match cur {
                Expr::Ident(root) => {
                    names.push(*root);
                    names.reverse();
                    out.push(Traversal { parts: names });
                }
                other => expr_traversals(other, out),
            }
        }
        Expr::Literal(_) => {}
        Expr::Array(array) => array.elements.iter().for_each(|e| expr_traversals(e, out)),
        Expr::Object(object) => object
            .fields
            .iter()
            .for_each(|f| expr_traversals(&f.value, out)),
        Expr::Index(index) => {
            expr_traversals(&index.value, out);
            expr_traversals(&index.index, out);
        }
        Expr::Call(call) => {
            expr_traversals(&call.value, out);
            call.args.iter().for_each(|a| expr_traversals(a, out));
        }
        Expr::Unary(unary) => expr_traversals(&unary.value, out),
        Expr::Binary(binary) => {
            expr_traversals(&binary.left, out);
            expr_traversals(&binary.right, out);
        }
        Expr::Paren(paren) => expr_traversals(&paren.inner, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traversals(src: &str) -> Vec<String> {
        let (expr, diags) = alloy_syntax::parse_expression("", src);
        assert!(diags.is_empty(), "{diags:?}");
        let mut out = Vec::new();
        expr_traversals(&expr, &mut out);
        out.iter().map(|t| t.prefix(src, t.parts.len())).collect()
    }

    #[test]
    fn indexing_and_calls_end_a_traversal() {
        assert_eq!(traversals("a.b[0].c"), ["a.b"]);
        assert_eq!(
            traversals("string.format(x.y, 1)"),
            ["string.format", "x.y"]
        );
        assert_eq!(traversals("f(1).g.h"), ["f"]);
        assert_eq!(
            traversals("[p.r.x.receiver, {k = -v.w}] + (z)"),
            ["p.r.x.receiver", "v.w", "z"]
        );
    }
}
